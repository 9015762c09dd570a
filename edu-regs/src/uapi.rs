// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

//! User API of `/dev/eduN`: the ioctl numbers of `driver/include/uapi/edu.h`, for Rust.
//!
//! The encoding is the generic Linux one (`include/uapi/asm-generic/ioctl.h`), computed here
//! so that no C header is needed.

/// The ioctl magic ('E').
pub const EDU_IOC_MAGIC: u8 = b'E';

const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = 8;
const IOC_SIZESHIFT: u32 = 16;
const IOC_DIRSHIFT: u32 = 30;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << IOC_DIRSHIFT)
        | ((EDU_IOC_MAGIC as u32) << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
}

const U32: usize = core::mem::size_of::<u32>();

/// `_IOR('E', 1, __u32)`: reads the identification register.
pub const EDU_IOC_IDENT: u32 = ioc(IOC_READ, 1, U32);
/// `_IOWR('E', 2, __u32)`: writes x to the liveness register, returns what the device gives back.
pub const EDU_IOC_LIVENESS: u32 = ioc(IOC_READ | IOC_WRITE, 2, U32);
/// `_IOWR('E', 3, __u32)`: in n, out n!, completed by the device interrupt.
pub const EDU_IOC_FACTORIAL: u32 = ioc(IOC_READ | IOC_WRITE, 3, U32);
/// `_IOW('E', 4, __u32)`: raises the interrupt with a non-zero value, returns once handled.
pub const EDU_IOC_RAISE: u32 = ioc(IOC_WRITE, 4, U32);
