// SPDX-License-Identifier: GPL-2.0

//! The rig's error type: every operation and every probe step returns one of these instead of
//! logging. Each error has an errno-style name ([`Error::errno_name`]) so that the CLI can print
//! `error: ENAME (message)` exactly like `eductl` does for the kernel driver.

use std::fmt;
use std::io;

/// Everything that can go wrong in the rig.
#[derive(Debug)]
pub enum Error {
    /// A probe step failed because `--fail-step` named it (fault injection).
    Injected {
        /// The 1-based step number.
        step: u32,
        /// The step's name.
        name: &'static str,
    },
    /// A probe step failed for a real reason.
    Step {
        /// The 1-based step number.
        step: u32,
        /// The step's name.
        name: &'static str,
        /// What went wrong.
        source: Box<Error>,
    },
    /// A system call or file operation failed.
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: io::Error,
    },
    /// A vfio-ioctls call failed (its error only has a message).
    Vfio {
        /// What was being done.
        what: &'static str,
        /// The crate's message.
        message: String,
    },
    /// The device is not bound to vfio-pci, or has no IOMMU group.
    NotVfio(String),
    /// The device does not identify as an edu.
    NotEdu {
        /// The identification register.
        ident: u32,
    },
    /// The liveness check read back something other than the inverse.
    Liveness {
        /// Value written.
        wrote: u32,
        /// Value read back.
        read: u32,
    },
    /// The device reads all-ones: it is gone.
    Gone,
    /// The rig is not published (never probed, or remove has begun): the call was refused
    /// without touching the device.
    NotRegistered,
    /// vfio-pci asked for the device back (request interrupt, e.g. an unbind): the rig released it.
    Released,
    /// The factorial does not fit the 32-bit register (n > 12).
    Overflow,
    /// An invalid argument.
    Invalid(&'static str),
    /// A DMA write at or past the end of the device buffer.
    NoSpace,
    /// The device did not complete a command in time.
    Timeout(&'static str),
    /// A call reached the device after its teardown began: the dispatch protocol was broken.
    Violation,
    /// The slot already holds another rig.
    Busy,
}

impl Error {
    /// The errno name this error corresponds to, as `eductl` prints it for the kernel driver.
    pub fn errno_name(&self) -> &'static str {
        match self {
            Error::Injected { .. } => "ENOMEM",
            Error::Step { source, .. } => source.errno_name(),
            Error::Io { source, .. } => errno_name(source.raw_os_error().unwrap_or(0)),
            Error::Vfio { .. } => "EIO",
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
    pub fn vfio(what: &'static str, e: vfio_ioctls::VfioError) -> Self {
        Error::Vfio {
            what,
            message: e.to_string(),
        }
    }

    /// The innermost error (through [`Error::Step`]).
    pub fn root(&self) -> &Error {
        match self {
            Error::Step { source, .. } => source.root(),
            e => e,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Injected { step, name } => {
                write!(
                    f,
                    "probe step {step} ({name}) failed: injected by --fail-step"
                )
            }
            Error::Step { step, name, source } => {
                write!(f, "probe step {step} ({name}) failed: {source}")
            }
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::Vfio { what, message } => write!(f, "{what}: {message}"),
            Error::NotVfio(why) => write!(f, "not usable through VFIO: {why}"),
            Error::NotEdu { ident } => write!(f, "identification {ident:#010x} is not an edu's"),
            Error::Liveness { wrote, read } => {
                write!(f, "liveness check: wrote {wrote:#010x}, read {read:#010x}")
            }
            Error::Gone => write!(f, "the device reads all-ones: it is gone"),
            Error::NotRegistered => write!(f, "the rig is not published (removed or removing)"),
            Error::Released => write!(
                f,
                "vfio-pci asked for the device back (request interrupt): the rig released it"
            ),
            Error::Overflow => write!(f, "the factorial does not fit 32 bits (n > 12)"),
            Error::Invalid(why) => write!(f, "invalid argument: {why}"),
            Error::NoSpace => write!(f, "DMA write at or past the end of the device buffer"),
            Error::Timeout(what) => write!(f, "the device did not complete {what} in time"),
            Error::Violation => write!(f, "a call reached the device after its teardown began"),
            Error::Busy => write!(f, "the port already holds a published rig"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Step { source, .. } => Some(source.as_ref()),
            _ => None,
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
}
