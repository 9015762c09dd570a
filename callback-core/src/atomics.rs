// SPDX-License-Identifier: GPL-2.0

//! The atomic operations and the shared cell `dispatch.rs` uses: std's atomics, or loom's under
//! `cfg(loom)`.
//!
//! `dispatch.rs` is one file for userspace, for the loom model checker and for the Linux driver,
//! which includes it textually; it takes its atomics from a sibling module named `atomics`. This
//! is the userspace one, and under `--cfg loom` the model checker's. The driver's
//! (`driver/listener.rs`) has the same shape on the kernel's atomics (`kernel::sync::atomic`, the
//! Linux kernel memory model). The set is kept to what the protocol needs, each operation named
//! by its ordering, so that the three mappings can be checked line by line.
//!
//! loom's atomics cannot be built in a `const fn`; that is the only difference `dispatch.rs`
//! sees (its `const` constructors are `cfg(not(loom))`).

#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize as Inner, Ordering};

#[cfg(not(loom))]
use core::sync::atomic::{AtomicUsize as Inner, Ordering};

/// A `usize` with the three operations of the slot state machine.
#[derive(Debug)]
pub(crate) struct AtomicUsize(Inner);

impl AtomicUsize {
    /// A new atomic holding `v`.
    #[inline]
    #[cfg(not(loom))]
    pub(crate) const fn new(v: usize) -> Self {
        Self(Inner::new(v))
    }

    /// A new atomic holding `v`.
    #[inline]
    #[cfg(loom)]
    pub(crate) fn new(v: usize) -> Self {
        Self(Inner::new(v))
    }

    /// Load-acquire.
    #[inline]
    pub(crate) fn load_acquire(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// Store-release.
    #[inline]
    pub(crate) fn store_release(&self, v: usize) {
        self.0.store(v, Ordering::Release)
    }

    /// Compare-and-exchange `old` for `new`, acquire on success. On failure the value it returns
    /// was read with acquire too (the kernel's failed cmpxchg is unordered, so its mapping
    /// re-reads; here one acquire read does both).
    #[inline]
    pub(crate) fn cmpxchg_acquire(&self, old: usize, new: usize) -> Result<usize, usize> {
        self.0
            .compare_exchange(old, new, Ordering::Acquire, Ordering::Acquire)
    }
}

/// A cell for data that the slot protocol hands from thread to thread (the registration): plain,
/// non-atomic accesses whose freedom from data races the protocol proves. Under loom every access
/// is checked against that proof: a read or write that is not ordered after the conflicting one
/// fails the model.
#[derive(Debug)]
pub(crate) struct RaceCell<T>(Cell<T>);

#[cfg(not(loom))]
type Cell<T> = core::cell::UnsafeCell<T>;

#[cfg(loom)]
type Cell<T> = loom::cell::UnsafeCell<T>;

impl<T: Copy> RaceCell<T> {
    /// A new cell holding `v`.
    #[inline]
    #[cfg(not(loom))]
    pub(crate) const fn new(v: T) -> Self {
        Self(Cell::new(v))
    }

    /// A new cell holding `v`.
    #[inline]
    #[cfg(loom)]
    pub(crate) fn new(v: T) -> Self {
        Self(Cell::new(v))
    }

    /// Reads the value.
    ///
    /// # Safety
    ///
    /// No write to the cell may race with this read (every write happens-before it, or it
    /// happens-before the write).
    #[inline]
    #[cfg(not(loom))]
    pub(crate) unsafe fn read(&self) -> T {
        // SAFETY: No racing write, by the function's safety requirements.
        unsafe { *self.0.get() }
    }

    /// Reads the value.
    ///
    /// # Safety
    ///
    /// No write to the cell may race with this read.
    #[inline]
    #[cfg(loom)]
    pub(crate) unsafe fn read(&self) -> T {
        // SAFETY: No racing write, by the function's safety requirements (and loom checks it).
        self.0.with(|p| unsafe { *p })
    }

    /// Writes `v`.
    ///
    /// # Safety
    ///
    /// No other access to the cell may race with this write.
    #[inline]
    #[cfg(not(loom))]
    pub(crate) unsafe fn write(&self, v: T) {
        // SAFETY: No racing access, by the function's safety requirements.
        unsafe { *self.0.get() = v }
    }

    /// Writes `v`.
    ///
    /// # Safety
    ///
    /// No other access to the cell may race with this write.
    #[inline]
    #[cfg(loom)]
    pub(crate) unsafe fn write(&self, v: T) {
        // SAFETY: No racing access, by the function's safety requirements (and loom checks it).
        self.0.with_mut(|p| unsafe { *p = v })
    }
}
