//! Names of the errno values the edu user API returns, as the tools and tests spell them.
//!
//! `eductl` (the kernel driver's client) and `edu-rig` (the VFIO rig) both print failures as
//! `error: ENAME`, and the differential test compares the two outputs, so both use this one table.
//! The values are Linux's generic ones (`include/uapi/asm-generic/errno-base.h`, `errno.h`).

/// The symbolic name of `errno`, or `EOTHER` for one the edu API never returns.
pub const fn errno_name(errno: i32) -> &'static str {
    match errno {
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        22 => "EINVAL",
        25 => "ENOTTY",
        28 => "ENOSPC",
        29 => "ESPIPE",
        34 => "ERANGE",
        61 => "ENODATA",
        75 => "EOVERFLOW",
        95 => "EOPNOTSUPP",
        110 => "ETIMEDOUT",
        _ => "EOTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::errno_name;

    #[test]
    fn names_the_api_errnos() {
        assert_eq!(errno_name(19), "ENODEV");
        assert_eq!(errno_name(75), "EOVERFLOW");
        assert_eq!(errno_name(110), "ETIMEDOUT");
        assert_eq!(errno_name(0), "EOTHER");
    }
}
