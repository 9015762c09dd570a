// SPDX-License-Identifier: GPL-2.0

//! Character device plumbing: a major with its minors, a device class and the per-device nodes.
//!
//! The kernel crate's `MiscDevice` has no `llseek` and no per-device data, so this module
//! registers a classic char device (`__register_chrdev`) with its own `file_operations`, whose
//! `owner` pins the module while any file is open. All unsafe code for it lives here.

use crate::{
    file,
    registry, //
};
use core::ptr::addr_of;
use kernel::{
    bindings,
    device,
    prelude::*,
    str::CStr, //
};

const MINORBITS: u32 = 20;
/// How many minors one major has.
pub(crate) const MAX_MINORS: u32 = 1 << MINORBITS;

fn mkdev(major: u32, minor: u32) -> bindings::dev_t {
    (major << MINORBITS) | minor
}

/// The registered char device region and its file operations.
///
/// # Invariants
///
/// `major` was returned by `__register_chrdev` for `count` minors named `name`, and is published
/// in the module-wide state ([`registry`]) until `self` is dropped.
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
        registry::set_major(major);
        // INVARIANT: `__register_chrdev` succeeded for these arguments.
        Ok(Self { major, count, name })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        registry::set_major(0);
        // SAFETY: By the type invariant, the region is registered with these arguments.
        unsafe {
            bindings::__unregister_chrdev(self.major, 0, self.count, self.name.as_char_ptr())
        };
    }
}

/// A class created by [`Class::create`], as the module-wide state holds it for probe.
///
/// # Invariants
///
/// `0` came from `class_create` and is destroyed only after every copy is gone: [`Class`]
/// withdraws it from the module-wide state before destroying it, and module init registers the
/// PCI driver (whose probes copy it into [`Node`]s) after the class and unregisters it before.
#[derive(Clone, Copy)]
pub(crate) struct ClassRef(*mut bindings::class);

// SAFETY: A class pointer may be used from any thread.
unsafe impl Send for ClassRef {}
// SAFETY: `ClassRef` offers nothing that mutates through `&self`.
unsafe impl Sync for ClassRef {}

/// The device class under which `/dev/eduN` nodes are created.
///
/// # Invariants
///
/// `0` came from `class_create` and is published in the module-wide state until `self` is
/// dropped.
pub(crate) struct Class(ClassRef);

impl Class {
    /// Creates the class `name`.
    pub(crate) fn create(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a valid, `'static` C string.
        let class = unsafe { bindings::class_create(name.as_char_ptr()) };
        let class = ClassRef(kernel::error::from_err_ptr(class)?);
        registry::set_class(Some(class));
        // INVARIANT: `class_create` succeeded, and the class is published.
        Ok(Self(class))
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        registry::set_class(None);
        // SAFETY: By the type invariant, `self.0` came from `class_create`.
        unsafe { bindings::class_destroy(self.0 .0) };
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
    /// Creates `/dev/edu<minor>` under `parent`, with the major and class of the module-wide
    /// state (`ENODEV` without them). From this instant the node can be opened.
    pub(crate) fn create(parent: &device::Device, minor: u32) -> Result<Self> {
        let (major, ClassRef(class)) = registry::chrdev().ok_or(ENODEV)?;
        let devt = mkdev(major, minor);
        // CAST: `device::Device` is a transparent wrapper of `struct device`.
        let parent = core::ptr::from_ref(parent)
            .cast_mut()
            .cast::<bindings::device>();
        // SAFETY: `class` is alive (`ClassRef`'s invariant), `parent` is a valid device, the
        // format string is a valid C string consuming one `unsigned int`.
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
