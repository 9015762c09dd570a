//! Register map and user API of QEMU's `edu` PCI device (1234:11e8).
//!
//! The two modules are plain `core`-only files so that the out-of-tree kernel driver can include
//! them verbatim (`#[path = ...] mod regs;`); this crate is how userspace (the VFIO rig, the guest
//! tools, the tests) uses the very same definitions, and the command-line words its tools share
//! ([`args`]).
#![no_std]

extern crate alloc;

#[path = "regs.rs"]
pub mod regs;
#[path = "uapi.rs"]
pub mod uapi;

pub mod args;
mod errno;
pub mod latency;
pub use errno::errno_name;
