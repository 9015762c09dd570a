// SPDX-License-Identifier: GPL-2.0

//! File operations of `/dev/eduN`: ioctls, `pread`/`pwrite` through the DMA engine, `lseek`.
//!
//! An open file holds a reference to its [`EduDevice`], which survives unbinding; after unbind
//! every call returns `ENODEV` and `close` just drops the reference.

use crate::{
    chrdev,
    device::EduDevice,
    hw::Dir,
    registry,
    regs, //
};
use kernel::{
    bindings,
    ioctl::{
        _IOR,
        _IOW,
        _IOWR, //
    },
    prelude::*,
    sync::Arc,
    uaccess::{
        UserPtr,
        UserSlice, //
    }, //
};

/// The ioctl numbers of `include/uapi/edu.h`, encoded by the kernel's own `_IOC` macros for the
/// architecture this is built for (KUnit checks them against the shared uAPI crate).
pub(crate) mod nr {
    use super::*;

    /// The ioctl type of the edu driver.
    pub(crate) const MAGIC: u32 = b'E' as u32;
    /// `EDU_IOC_IDENT`: read the identification register.
    pub(crate) const IDENT: u32 = _IOR::<u32>(MAGIC, 1);
    /// `EDU_IOC_LIVENESS`: write a value, read back its inverse.
    pub(crate) const LIVENESS: u32 = _IOWR::<u32>(MAGIC, 2);
    /// `EDU_IOC_FACTORIAL`: write n, read n!.
    pub(crate) const FACTORIAL: u32 = _IOWR::<u32>(MAGIC, 3);
    /// `EDU_IOC_RAISE`: raise the interrupt with a value.
    pub(crate) const RAISE: u32 = _IOW::<u32>(MAGIC, 4);
}

/// `file_operations` with `owner` set, so that an open file pins the module.
pub(crate) struct Fops(pub(crate) bindings::file_operations);

// SAFETY: The table is immutable and only holds function pointers and the module pointer.
unsafe impl Sync for Fops {}

/// The file operations of every `/dev/eduN`.
pub(crate) static FOPS: Fops = Fops(bindings::file_operations {
    owner: kernel::module::this_module::<crate::EduModule>().as_ptr(),
    open: Some(open),
    release: Some(release),
    llseek: Some(llseek),
    read: Some(read),
    write: Some(write),
    unlocked_ioctl: Some(ioctl),
    // Every ioctl takes a pointer to a `__u32`: the generic helper converts it with
    // `compat_ptr()` for 32-bit callers.
    #[cfg(CONFIG_COMPAT)]
    compat_ioctl: Some(bindings::compat_ptr_ioctl),
    ..pin_init::zeroed()
});

/// Returns the device of an open file.
///
/// # Safety
///
/// `file` must be a file opened by [`open`] and not yet released.
unsafe fn device<'a>(file: *mut bindings::file) -> &'a EduDevice {
    // SAFETY: `open` stored an `Arc` pointer in `private_data`; `release` drops it only after
    // the last call on the file.
    unsafe { &*(*file).private_data.cast::<EduDevice>() }
}

fn to_ssize(r: Result<usize>) -> isize {
    match r {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// Called by the VFS with a valid inode and file.
unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: The VFS passes a valid inode.
    let minor = unsafe { chrdev::iminor(inode) };
    let Some(dev) = registry::by_minor(minor) else {
        return ENODEV.to_errno();
    };
    if let Err(e) = dev.check_live() {
        return e.to_errno();
    }
    // SAFETY: `file` is valid; the reference is released in `release`.
    unsafe { (*file).private_data = Arc::into_raw(dev).cast_mut().cast() };
    0
}

/// # Safety
///
/// Called by the VFS once per file opened by [`open`].
unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `open` stored an `Arc` pointer here and nothing uses it after release.
    drop(unsafe { Arc::from_raw((*file).private_data.cast::<EduDevice>()) });
    0
}

/// # Safety
///
/// Called by the VFS with a file opened by [`open`].
unsafe extern "C" fn llseek(file: *mut bindings::file, offset: i64, whence: c_int) -> i64 {
    // SAFETY: Per the function's safety requirements.
    if let Err(e) = unsafe { device(file) }.check_live() {
        return e.to_errno().into();
    }
    // `fixed_size_llseek` fails with `EINVAL` outside [0, size].
    // SAFETY: `file` is valid.
    unsafe { bindings::fixed_size_llseek(file, offset, whence, regs::DMA_BUF_SIZE as i64) }
}

/// # Safety
///
/// Called by the VFS with a file opened by [`open`] and a valid position pointer.
unsafe extern "C" fn read(
    file: *mut bindings::file,
    buf: *mut c_char,
    len: usize,
    pos: *mut i64,
) -> isize {
    // SAFETY: Per the function's safety requirements.
    unsafe { transfer(file, Dir::ToRam, buf.cast(), len, pos) }
}

/// # Safety
///
/// Called by the VFS with a file opened by [`open`] and a valid position pointer.
unsafe extern "C" fn write(
    file: *mut bindings::file,
    buf: *const c_char,
    len: usize,
    pos: *mut i64,
) -> isize {
    // SAFETY: Per the function's safety requirements.
    unsafe { transfer(file, Dir::ToDevice, buf.cast_mut().cast(), len, pos) }
}

/// # Safety
///
/// `file` was opened by [`open`]; `pos` is valid.
unsafe fn transfer(
    file: *mut bindings::file,
    dir: Dir,
    buf: *mut c_void,
    len: usize,
    pos: *mut i64,
) -> isize {
    // SAFETY: Per the function's safety requirements.
    let (dev, offset) = unsafe { (device(file), *pos) };
    let r = u64::try_from(offset)
        .map_err(|_| EINVAL)
        .and_then(|offset| dma_user(dev, dir, UserPtr::from_ptr(buf), len, offset));
    if let Ok(n) = r {
        // SAFETY: `pos` is valid.
        unsafe { *pos += n as i64 };
    }
    to_ssize(r)
}

/// `pread`/`pwrite` of `user` at `offset` through the DMA engine: up to the end of the device
/// buffer, 0 at or past it for a read, `ENOSPC` there for a non-empty write. User memory is
/// copied into and out of a kernel bounce buffer outside the device's command slot, so a user
/// buffer that faults slowly delays only its own caller, never unbind.
fn dma_user(dev: &EduDevice, dir: Dir, user: UserPtr, len: usize, offset: u64) -> Result<usize> {
    if len == 0 {
        return Ok(0);
    }
    let Some(n) = regs::dma_span(offset, len) else {
        return match dir {
            Dir::ToRam => Ok(0),
            Dir::ToDevice => Err(ENOSPC),
        };
    };
    let mut bounce = KVec::from_elem(0u8, n, GFP_KERNEL)?;
    let (mut from_user, mut to_user) = UserSlice::new(user, n).reader_writer();
    if dir == Dir::ToDevice {
        from_user.read_slice(&mut bounce)?;
    }
    dev.dma(dir, &mut bounce, offset)?;
    if dir == Dir::ToRam {
        to_user.write_slice(&bounce)?;
    }
    Ok(n)
}

/// # Safety
///
/// Called by the VFS with a file opened by [`open`].
unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: Per the function's safety requirements.
    let dev = unsafe { device(file) };
    let arg = UserPtr::from_addr(arg);
    let size = core::mem::size_of::<u32>();
    let r = match cmd {
        nr::IDENT => dev
            .ident()
            .and_then(|v| UserSlice::new(arg, size).writer().write(&v)),
        nr::LIVENESS | nr::FACTORIAL => {
            let (mut r, mut w) = UserSlice::new(arg, size).reader_writer();
            r.read::<u32>().and_then(|x| {
                let v = if cmd == nr::LIVENESS {
                    dev.liveness(x)?
                } else {
                    dev.factorial(x)?
                };
                w.write(&v)
            })
        }
        nr::RAISE => UserSlice::new(arg, size)
            .reader()
            .read::<u32>()
            .and_then(|v| dev.raise(v)),
        _ => Err(ENOTTY),
    };
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno() as c_long,
    }
}
