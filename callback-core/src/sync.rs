// SPDX-License-Identifier: GPL-2.0

//! The synchronization primitives of the userspace owners and the epoch domain: std's, or loom's
//! under `cfg(loom)`, so that the model checker runs the very code the library ships.
//!
//! `membarrier` cannot be expressed in the C++/Rust memory model, so under loom the asymmetric
//! pair is modelled as what it guarantees: a full fence on both sides (the light side's
//! compiler fence becomes `fence(SeqCst)`, the heavy side is `fence(SeqCst)`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{compiler_fence, fence, AtomicBool, AtomicU64, AtomicUsize};

pub(crate) use core::sync::atomic::Ordering;

/// Waits a little in a polling loop. Under loom, a yield to the model's scheduler (which needs
/// one in every spin loop).
#[inline]
pub(crate) fn relax() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

/// Under loom, the fence that a pair of SeqCst accesses implies for the store-buffering pattern;
/// nothing otherwise. loom orders SeqCst *fences* in a single total order but not SeqCst
/// *accesses* (it treats those as acquire/release), so without this it reports the in-model
/// SeqCst Dekker pattern (`ShardedOwner`) as broken. Placed between the SeqCst store (or RMW) and
/// the SeqCst load of each side, it makes loom check the rest of the protocol; the SeqCst
/// accesses themselves are then argued, not checked.
#[inline(always)]
pub(crate) fn loom_seq_cst_fence() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}
