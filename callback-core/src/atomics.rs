// SPDX-License-Identifier: GPL-2.0

//! The atomic operations `dispatch.rs` uses, for userspace: std's atomics.
//!
//! `dispatch.rs` is one file for userspace and for the Linux driver, which includes it textually;
//! it takes its atomics from a sibling module named `atomics`. This is the userspace one. The
//! driver's (`driver/listener.rs`) has the same shape on the kernel's atomics
//! (`kernel::sync::atomic`, the Linux kernel memory model). The set is kept to what the protocol
//! needs, each operation named by its ordering, so that both mappings can be checked line by
//! line.

use core::sync::atomic::Ordering;

/// A `usize` with the three operations of the slot state machine.
#[derive(Debug)]
pub(crate) struct AtomicUsize(core::sync::atomic::AtomicUsize);

impl AtomicUsize {
    /// A new atomic holding `v`.
    pub(crate) const fn new(v: usize) -> Self {
        Self(core::sync::atomic::AtomicUsize::new(v))
    }

    /// Load-acquire.
    pub(crate) fn load_acquire(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// Store-release.
    pub(crate) fn store_release(&self, v: usize) {
        self.0.store(v, Ordering::Release)
    }

    /// Compare-and-exchange `old` for `new`, acquire on success. On failure the value it returns
    /// was read with acquire too (the kernel's failed cmpxchg is unordered, so its mapping
    /// re-reads; here one acquire read does both).
    pub(crate) fn cmpxchg_acquire(&self, old: usize, new: usize) -> Result<usize, usize> {
        self.0
            .compare_exchange(old, new, Ordering::Acquire, Ordering::Acquire)
    }
}
