// SPDX-License-Identifier: GPL-2.0

//! Owner-refcounted callback registration, after Rusty Russell's rule for
//! module interfaces: every registration carries an *owner*; every caller
//! takes the owner (`try_get`) before calling through the pointer and drops
//! it (`put`) after; a failed get means "not registered"; registration is
//! split into reserve and activate; unregistration waits until no call is in
//! flight, after which no new call can enter.
//!
//! The whole protocol lives in one file, `src/dispatch.rs`, which uses only
//! `core` so that a Linux kernel module can include it textually with
//! `#[path = ".../dispatch.rs"] mod dispatch;`. Its module documentation
//! ([`dispatch`]) states the protocol and the memory-ordering argument. In
//! short: dispatch enters the slot's [`Gate`], loads the state with Acquire,
//! reads the registration, takes the [`Owner`], calls, and puts both;
//! unregister marks the slot, revokes the gate, polls (with a caller-supplied
//! `relax`) until the gate has drained, clears the registration, reinstates
//! the gate and marks the slot empty. The gate's contract (no get succeeds
//! after revoke; drained only after every successful get was put, with
//! release/acquire) is what closes the window between reading the pointer
//! and taking the owner.
//!
//! With the `std` feature, [`owners`] provides userspace owners/gates:
//! [`owners::AtomicOwner`] (a model of the kernel module refcount),
//! [`owners::ShardedOwner`] (sharded atomic counters) and
//! [`owners::MembarrierOwner`] (per-thread counters with an asymmetric
//! `membarrier` fence); [`domain`] provides the merged guard for
//! [`DomainSlot`]: [`domain::EpochDomain`] (one epoch word per thread,
//! userspace RCU's membarrier flavour) and [`domain::LiveFlag`].
//!
//! Under `--cfg loom` the same code runs on loom's atomics (`tests/loom.rs`).
//!
//! ```
//! use callback_core::{Gate, NotRegistered, Owner, Slot};
//! use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
//!
//! /// A toy gate for the example: one counter plus a closed flag.
//! struct ToyGate(AtomicUsize, AtomicBool);
//! // SAFETY: SeqCst everywhere; the flag is checked after the increment and
//! // `revoke` sets it before `drained` reads the counter (Dekker).
//! unsafe impl Owner for ToyGate {
//!     fn try_get(&self) -> bool {
//!         self.0.fetch_add(1, Ordering::SeqCst);
//!         if self.1.load(Ordering::SeqCst) {
//!             self.0.fetch_sub(1, Ordering::SeqCst);
//!             return false;
//!         }
//!         true
//!     }
//!     fn put(&self) {
//!         self.0.fetch_sub(1, Ordering::SeqCst);
//!     }
//! }
//! // SAFETY: see above.
//! unsafe impl Gate for ToyGate {
//!     fn revoke(&self) {
//!         self.1.store(true, Ordering::SeqCst);
//!     }
//!     fn drained(&self) -> bool {
//!         self.0.load(Ordering::SeqCst) == 0
//!     }
//!     fn reinstate(&self) {
//!         self.1.store(false, Ordering::SeqCst);
//!     }
//! }
//!
//! static SLOT: Slot<ToyGate, ToyGate, AtomicUsize, usize> =
//!     Slot::new(ToyGate(AtomicUsize::new(0), AtomicBool::new(false)));
//! static OWNER: ToyGate = ToyGate(AtomicUsize::new(0), AtomicBool::new(false));
//! static CALLS: AtomicUsize = AtomicUsize::new(0);
//!
//! fn on_event(calls: &'static AtomicUsize, event: u32) -> usize {
//!     calls.fetch_add(event as usize, Ordering::Relaxed)
//! }
//!
//! assert_eq!(SLOT.dispatch(1), Err(NotRegistered));
//! let r = SLOT.reserve().unwrap();
//! assert!(SLOT.reserve().is_err());
//! assert_eq!(SLOT.dispatch(1), Err(NotRegistered)); // reserved, not active
//! r.activate(on_event, &CALLS, &OWNER);
//! assert_eq!(SLOT.dispatch(5), Ok(0));
//! SLOT.unregister(core::hint::spin_loop).unwrap();
//! assert_eq!(SLOT.dispatch(1), Err(NotRegistered));
//! assert_eq!(CALLS.load(Ordering::Relaxed), 5);
//! ```

#![no_std]

#[cfg(feature = "std")]
extern crate std;

mod atomics;
pub mod dispatch;

#[cfg(feature = "std")]
pub mod barrier;
#[cfg(feature = "std")]
pub mod domain;
#[cfg(feature = "std")]
pub mod owners;
#[cfg(feature = "std")]
mod sync;

pub use dispatch::{
    Busy, Callback, DomainSlot, Gate, Liveness, NotRegistered, Owner, ReadDomain, Reservation,
    Slot, SlotState, UnregisterError, WouldDeadlock,
};
