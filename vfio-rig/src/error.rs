// SPDX-License-Identifier: GPL-2.0

//! The rig's error type: every operation and every probe step returns one of these instead of
//! logging. Each error has an errno-style name ([`Error::errno_name`]) so that the CLI can print
//! `error: ENAME (message)` exactly like `eductl` does for the kernel driver.

use std::io;

/// Everything that can go wrong in the rig. The causes are kept ([`std::error::Error::source`]),
/// so [`Error::errno_name`] reports the errno the kernel gave (EBUSY for a busy group, ...).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A probe step failed because `--fail-step` named it (fault injection).
    #[error("probe step {step} ({name}) failed: injected by --fail-step")]
    Injected {
        /// The 1-based step number.
        step: u32,
        /// The step's name.
        name: &'static str,
    },
    /// A probe step failed for a real reason.
    #[error("probe step {step} ({name}) failed: {source}")]
    Step {
        /// The 1-based step number.
        step: u32,
        /// The step's name.
        name: &'static str,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// A system call or file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A vfio-ioctls call failed.
    #[error("{what}: {source}")]
    Vfio {
        /// What was being done.
        what: &'static str,
        /// The crate's error (with the OS error inside, when it has one).
        #[source]
        source: vfio_ioctls::VfioError,
    },
    /// The device is not bound to vfio-pci, or has no IOMMU group.
    #[error("not usable through VFIO: {0}")]
    NotVfio(String),
    /// The device does not identify as an edu.
    #[error("identification {ident:#010x} is not an edu's")]
    NotEdu {
        /// The identification register.
        ident: u32,
    },
    /// The liveness check read back something other than the inverse.
    #[error("liveness check: wrote {wrote:#010x}, read {read:#010x}")]
    Liveness {
        /// Value written.
        wrote: u32,
        /// Value read back.
        read: u32,
    },
    /// The device reads all-ones: it is gone.
    #[error("the device reads all-ones: it is gone")]
    Gone,
    /// The rig is not published (never probed, or remove has begun): the call was refused
    /// without touching the device.
    #[error("the rig is not published (removed or removing)")]
    NotRegistered,
    /// vfio-pci asked for the device back (request interrupt, e.g. an unbind): the rig released it.
    #[error("vfio-pci asked for the device back (request interrupt): the rig released it")]
    Released,
    /// The factorial does not fit the 32-bit register (n > 12).
    #[error("the factorial does not fit 32 bits (n > 12)")]
    Overflow,
    /// An invalid argument.
    #[error("invalid argument: {0}")]
    Invalid(&'static str),
    /// A DMA write at or past the end of the device buffer.
    #[error("DMA write at or past the end of the device buffer")]
    NoSpace,
    /// The device did not complete a command in time.
    #[error("the device did not complete {0} in time")]
    Timeout(&'static str),
    /// A call was still running when its device was torn down (or reached no device): the
    /// dispatch protocol was broken.
    #[error("a call reached the device after its teardown began")]
    Violation,
    /// The slot already holds another rig.
    #[error("the port already holds a published rig")]
    Busy,
}

/// The errno of the first OS error in `e`'s source chain (`io::Error` or vmm-sys-util's).
fn chain_errno(e: &(dyn std::error::Error + 'static)) -> Option<i32> {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if let Some(n) = e
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return Some(n);
        }
        if let Some(se) = e.downcast_ref::<vmm_sys_util::errno::Error>() {
            return Some(se.errno());
        }
        cur = e.source();
    }
    None
}

impl Error {
    /// The errno name this error corresponds to, as `eductl` prints it for the kernel driver.
    pub fn errno_name(&self) -> &'static str {
        match self {
            Error::Injected { .. } => "ENOMEM",
            Error::Step { source, .. } => source.errno_name(),
            Error::Io { source, .. } => errno_name(source.raw_os_error().unwrap_or(0)),
            // vfio-ioctls' interrupt calls keep no errno: those are EIO.
            Error::Vfio { source, .. } => errno_name(chain_errno(source).unwrap_or(libc::EIO)),
            Error::NotVfio(_) => "ENODEV",
            Error::NotEdu { .. } | Error::Liveness { .. } => "ENODEV",
            Error::Gone | Error::NotRegistered | Error::Released => "ENODEV",
            Error::Overflow => "EOVERFLOW",
            Error::Invalid(_) => "EINVAL",
            Error::NoSpace => "ENOSPC",
            Error::Timeout(_) => "ETIMEDOUT",
            Error::Violation => "EFAULT",
            Error::Busy => "EBUSY",
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// Wraps a vfio-ioctls error with what was being done.
    pub fn vfio(what: &'static str, source: vfio_ioctls::VfioError) -> Self {
        Error::Vfio { what, source }
    }

    /// The innermost error (through [`Error::Step`]).
    pub fn root(&self) -> &Error {
        match self {
            Error::Step { source, .. } => source.root(),
            e => e,
        }
    }
}

/// The rig's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use edu_regs::errno_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_driver() {
        assert_eq!(Error::Overflow.errno_name(), "EOVERFLOW");
        assert_eq!(Error::NoSpace.errno_name(), "ENOSPC");
        assert_eq!(Error::Invalid("x").errno_name(), "EINVAL");
        assert_eq!(Error::NotRegistered.errno_name(), "ENODEV");
        let e = Error::Step {
            step: 2,
            name: "device",
            source: Box::new(Error::io("open", io::Error::from_raw_os_error(libc::EBUSY))),
        };
        assert_eq!(e.errno_name(), "EBUSY");
        assert!(e
            .to_string()
            .starts_with("probe step 2 (device) failed: open:"));
    }

    #[test]
    fn vfio_errors_keep_their_errno_and_source() {
        use std::error::Error as _;
        let e = Error::Step {
            step: 2,
            name: "group and device",
            source: Box::new(Error::vfio(
                "open the group",
                vfio_ioctls::VfioError::OpenGroup(
                    io::Error::from_raw_os_error(libc::EBUSY),
                    "7".into(),
                ),
            )),
        };
        assert_eq!(e.errno_name(), "EBUSY");
        // The chain goes down to the OS error.
        let mut depth = 0;
        let mut cur: Option<&dyn std::error::Error> = Some(&e);
        while let Some(c) = cur {
            depth += 1;
            cur = c.source();
        }
        assert_eq!(depth, 4, "Step -> Vfio -> VfioError -> io::Error");
        let sys = Error::vfio(
            "map the DMA page",
            vfio_ioctls::VfioError::IommuDmaMap(vmm_sys_util::errno::Error::new(libc::ENOMEM)),
        );
        assert_eq!(sys.errno_name(), "ENOMEM");
        assert!(e.source().is_some());
        let no_errno = Error::vfio("enable", vfio_ioctls::VfioError::VfioDeviceEnableIrq);
        assert_eq!(no_errno.errno_name(), "EIO");
    }
}
