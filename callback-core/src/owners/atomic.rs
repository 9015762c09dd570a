// SPDX-License-Identifier: GPL-2.0

//! A faithful userspace model of the Linux module reference count.

use crate::sync::{AtomicUsize, Ordering};

use crate::{Gate, Owner};

/// Set in [`AtomicOwner`]'s word once removal has started (the module
/// `GOING` state, folded into the refcount word).
const GOING: usize = 1 << (usize::BITS - 1);
/// The base reference held by the "module" while it is live
/// (`MODULE_REF_BASE`).
const BASE: usize = 1;

/// A model of the kernel module reference count: one atomic word.
///
/// The low bits are the count, starting at a base reference of 1; the top bit
/// is the `GOING` state. `try_get` is `atomic_inc_not_zero` that also fails
/// once going (`try_module_get`); `put` is a decrement (`module_put`);
/// `revoke` is the `delete_module` sequence (mark going and drop the base
/// reference, in one RMW); `drained` is "count reached zero". Unlike
/// `delete_module`, `revoke` does not fail with `EBUSY` when references are
/// held: the holder polls `drained()` instead.
///
/// Every get/put is a locked RMW on one shared cache line, so it does not
/// scale across CPUs: that is what the benchmarks show.
///
/// # Invariants
///
/// The count (word without `GOING`) is `BASE` plus the number of outstanding
/// successful gets while live, and the number of outstanding gets once
/// going.
#[derive(Debug)]
pub struct AtomicOwner {
    refcnt: AtomicUsize,
}

impl AtomicOwner {
    /// Creates a live owner holding only its base reference.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        AtomicOwner {
            refcnt: AtomicUsize::new(BASE),
        }
    }

    /// Creates a live owner holding only its base reference.
    #[cfg(loom)]
    pub fn new() -> Self {
        AtomicOwner {
            refcnt: AtomicUsize::new(BASE),
        }
    }

    /// Returns the number of outstanding references, including the base
    /// reference while live (diagnostics).
    pub fn count(&self) -> usize {
        self.refcnt.load(Ordering::Relaxed) & !GOING
    }

    /// Returns `true` once [`Gate::revoke`] has been called and not yet
    /// reinstated (the module is `GOING`).
    pub fn is_going(&self) -> bool {
        self.refcnt.load(Ordering::Relaxed) & GOING != 0
    }
}

impl Default for AtomicOwner {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: a successful `try_get` increments the single word, which can then
// not reach zero (nor be drained) until the matching `put`; `put` is a plain
// decrement, so nothing more is owed after it.
unsafe impl Owner for AtomicOwner {
    #[inline]
    fn try_get(&self) -> bool {
        let mut v = self.refcnt.load(Ordering::Relaxed);
        loop {
            // Not zero, not going, and no overflow into the GOING bit.
            if v == 0 || v >= GOING - 1 {
                return false;
            }
            // Acquire: synchronizes with `reinstate` (Release) through the
            // release sequence on this word.
            match self
                .refcnt
                .compare_exchange_weak(v, v + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(cur) => v = cur,
            }
        }
    }

    #[inline]
    fn put(&self) {
        // Release: the caller's accesses happen-before `drained()`.
        self.refcnt.fetch_sub(1, Ordering::Release);
    }
}

// SAFETY: everything happens on one word, so all operations are totally
// ordered by its modification order. `revoke` sets GOING in one RMW, after
// which every `try_get` CAS sees GOING and fails (1). `drained` reads the word
// equal to GOING (count zero) with Acquire; every successful get incremented
// the word before the revoke RMW, so the count can only be zero after all of
// their decrements, which are Release RMWs in the same release sequence (2).
// `reinstate` is a Release CAS that successful gets acquire (3). The word
// starts at BASE and is reset to BASE (4).
unsafe impl Gate for AtomicOwner {
    fn revoke(&self) {
        // Mark going and drop the base reference (`delete_module`).
        let _ = self
            .refcnt
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
                if v & GOING != 0 {
                    None
                } else {
                    Some(v.wrapping_sub(BASE) | GOING)
                }
            });
    }

    fn drained(&self) -> bool {
        self.refcnt.load(Ordering::Acquire) == GOING
    }

    fn reinstate(&self) {
        let _ = self
            .refcnt
            .compare_exchange(GOING, BASE, Ordering::Release, Ordering::Relaxed);
    }
}
