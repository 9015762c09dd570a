// SPDX-License-Identifier: GPL-2.0

//! Character device plumbing: a major with its minors, a device class and the per-device nodes.
//!
//! The kernel crate's `MiscDevice` has no `llseek` and no per-device data, so this module
//! registers a classic char device (`__register_chrdev`) with its own `file_operations`, whose
//! `owner` pins the module while any file is open. All unsafe code for it lives here.

use crate::file;
use core::ptr::addr_of;
use kernel::{
    bindings,
    device,
    prelude::*,
    str::CStr,
    sync::atomic::{
        Acquire,
        Atomic,
        Release, //
    }, //
};

/// Major number of the registered region (0: none).
static MAJOR: Atomic<u32> = Atomic::new(0);
/// The `edu` class (null: none).
static CLASS: Atomic<*mut bindings::class> = Atomic::new(core::ptr::null_mut());

const MINORBITS: u32 = 20;

fn mkdev(major: u32, minor: u32) -> bindings::dev_t {
    (major << MINORBITS) | minor
}

/// The registered char device region and its file operations.
///
/// # Invariants
///
/// `major` was returned by `__register_chrdev` for `count` minors named `name`, and is stored in
/// [`MAJOR`] until `self` is dropped.
pub(crate) struct Region {
    major: u32,
    count: u32,
    name: &'static CStr,
}

impl Region {
    /// Registers `count` minors under a dynamic major, served by [`file::FOPS`].
    pub(crate) fn register(count: u32, name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` and `FOPS` are `'static`; `FOPS.owner` is this module, so open files pin
        // it and the fops outlive every file.
        let ret =
            unsafe { bindings::__register_chrdev(0, 0, count, name.as_char_ptr(), &file::FOPS.0) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        let major = ret as u32;
        MAJOR.store(major, Release);
        // INVARIANT: `__register_chrdev` succeeded for these arguments.
        Ok(Self { major, count, name })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        MAJOR.store(0, Release);
        // SAFETY: By the type invariant, the region is registered with these arguments.
        unsafe {
            bindings::__unregister_chrdev(self.major, 0, self.count, self.name.as_char_ptr())
        };
    }
}

/// The device class under which `/dev/eduN` nodes are created.
///
/// # Invariants
///
/// `0` is a class returned by `class_create`, stored in [`CLASS`] until `self` is dropped.
pub(crate) struct Class(*mut bindings::class);

// SAFETY: A class pointer may be used and destroyed from any thread.
unsafe impl Send for Class {}
// SAFETY: `Class` offers no method through `&self`.
unsafe impl Sync for Class {}

impl Class {
    /// Creates the class `name`.
    pub(crate) fn create(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a valid, `'static` C string.
        let class = unsafe { bindings::class_create(name.as_char_ptr()) };
        let class = kernel::error::from_err_ptr(class)?;
        CLASS.store(class, Release);
        // INVARIANT: `class_create` succeeded.
        Ok(Self(class))
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        CLASS.store(core::ptr::null_mut(), Release);
        // SAFETY: By the type invariant, `self.0` came from `class_create`.
        unsafe { bindings::class_destroy(self.0) };
    }
}

/// A `/dev/eduN` node: the class device for one minor, child of the PCI device.
///
/// # Invariants
///
/// A class device with `devt` exists in `class` until `self` is dropped.
pub(crate) struct Node {
    class: *mut bindings::class,
    devt: bindings::dev_t,
}

// SAFETY: Device nodes may be destroyed from any thread.
unsafe impl Send for Node {}
// SAFETY: `Node` offers no method through `&self`.
unsafe impl Sync for Node {}

impl Node {
    /// Creates `/dev/edu<minor>` under `parent`. From this instant the node can be opened.
    ///
    /// Must only be called while a [`Region`] and a [`Class`] are alive, which module init
    /// guarantees by registering the PCI driver after them and unregistering it first.
    pub(crate) fn create(parent: &device::Device, minor: u32) -> Result<Self> {
        let major = MAJOR.load(Acquire);
        let class = CLASS.load(Acquire);
        if major == 0 || class.is_null() {
            return Err(ENODEV);
        }
        let devt = mkdev(major, minor);
        // CAST: `device::Device` is a transparent wrapper of `struct device`.
        let parent = core::ptr::from_ref(parent)
            .cast_mut()
            .cast::<bindings::device>();
        // SAFETY: `class` is alive (see above), `parent` is a valid device, the format string is
        // a valid C string consuming one `unsigned int`.
        let dev = unsafe {
            bindings::device_create(
                class,
                parent,
                devt,
                core::ptr::null_mut(),
                c"edu%u".as_char_ptr(),
                minor,
            )
        };
        kernel::error::from_err_ptr(dev)?;
        // INVARIANT: `device_create` succeeded.
        Ok(Self { class, devt })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, the class device exists.
        unsafe { bindings::device_destroy(self.class, self.devt) };
    }
}

/// Returns the minor number of an inode.
///
/// # Safety
///
/// `inode` must be valid.
pub(crate) unsafe fn iminor(inode: *const bindings::inode) -> u32 {
    // SAFETY: The caller guarantees `inode` is valid.
    let rdev = unsafe { *addr_of!((*inode).i_rdev) };
    rdev & ((1 << MINORBITS) - 1)
}
