// SPDX-License-Identifier: GPL-2.0

//! Per-thread counters with an asymmetric fence (`membarrier`).

use super::thread_index::{thread_index, MAX_THREADS, OVERFLOW};
use super::CachePadded;
use crate::barrier;
use crate::sync::{AtomicBool, AtomicUsize, Ordering};
use crate::{Gate, Owner};

/// An owner with one plain (non-RMW) counter per thread and a read-mostly
/// `going` flag, made correct by an asymmetric fence.
///
/// `try_get` increments the thread's own counter with a plain load/store
/// (only this thread writes it), issues a *compiler* fence, and loads
/// `going`, backing out if set. `revoke` stores `going` and then calls
/// `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which executes a full
/// memory barrier on every CPU currently running a thread of this process
/// (and context switches imply one), so each reader is, from the revoker's
/// point of view, either entirely before that barrier (its increment is then
/// visible to `drained`) or entirely after it (it then sees `going` and backs
/// out). This is the asymmetric Dekker pattern of userspace RCU, folly's
/// `asymmetricHeavyBarrier` and the `sys_membarrier` man page; it steps
/// outside the C++/Rust memory model, which cannot express `membarrier`.
///
/// If expedited membarrier is unavailable, readers issue `fence(SeqCst)`
/// instead of the compiler fence, and the revoker a `fence(SeqCst)`, which is
/// the in-model Dekker pattern.
///
/// Threads beyond [`MAX_THREADS`] live at once share an overflow counter
/// updated with SeqCst RMWs.
///
/// # Invariants
///
/// `slots[i]` is written only by the live thread holding index `i` (index
/// hand-over is ordered by the index bitmap); it counts that thread's
/// outstanding gets, including a transient one being backed out.
#[derive(Debug)]
pub struct MembarrierOwner {
    going: CachePadded<AtomicBool>,
    slots: [CachePadded<AtomicUsize>; MAX_THREADS],
    overflow: CachePadded<AtomicUsize>,
}

impl MembarrierOwner {
    /// Creates a live owner with no references.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        MembarrierOwner {
            going: CachePadded(AtomicBool::new(false)),
            slots: [const { CachePadded(AtomicUsize::new(0)) }; MAX_THREADS],
            overflow: CachePadded(AtomicUsize::new(0)),
        }
    }

    /// Creates a live owner with no references.
    #[cfg(loom)]
    pub fn new() -> Self {
        MembarrierOwner {
            going: CachePadded(AtomicBool::new(false)),
            slots: core::array::from_fn(|_| CachePadded(AtomicUsize::new(0))),
            overflow: CachePadded(AtomicUsize::new(0)),
        }
    }

    #[cold]
    fn try_get_overflow(&self) -> bool {
        self.overflow.0.fetch_add(1, Ordering::SeqCst);
        if self.going.0.load(Ordering::SeqCst) {
            self.overflow.0.fetch_sub(1, Ordering::Release);
            return false;
        }
        true
    }
}

impl Default for MembarrierOwner {
    fn default() -> Self {
        Self::new()
    }
}

/// Adds `delta` to a counter only this thread writes, without a locked RMW.
#[inline]
fn bump(c: &AtomicUsize, delta: usize, order: Ordering) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(delta), order);
}

// SAFETY: a successful get leaves its increment in the thread's own counter
// until the matching put on the same thread; put only decrements it.
unsafe impl Owner for MembarrierOwner {
    #[inline]
    fn try_get(&self) -> bool {
        let mode = barrier::mode();
        let i = thread_index();
        let Some(slot) = self.slots.get(i) else {
            return self.try_get_overflow();
        };
        bump(&slot.0, 1, Ordering::Relaxed);
        barrier::light(mode);
        // Acquire: synchronizes with `reinstate`.
        if self.going.0.load(Ordering::Acquire) {
            bump(&slot.0, usize::MAX, Ordering::Release);
            return false;
        }
        true
    }

    #[inline]
    fn put(&self) {
        let i = thread_index();
        // Release: the caller's accesses happen-before `drained()`.
        match self.slots.get(i) {
            Some(slot) => bump(&slot.0, usize::MAX, Ordering::Release),
            None => {
                debug_assert_eq!(i, OVERFLOW);
                self.overflow.0.fetch_sub(1, Ordering::Release);
            }
        }
    }
}

// SAFETY: (1) `revoke` stores `going` and then runs a barrier on every CPU
// running one of our threads (membarrier mode; the caller side of membarrier
// is itself a full barrier, so the store is globally visible first), or a
// SeqCst fence (fence mode, pairing with the readers' SeqCst fences). A reader
// whose load of `going` executes after that barrier sees `true` and fails;
// so once `revoke` returns no get succeeds until `reinstate`. (2) A reader
// whose load executed before the barrier had its increment (program-ordered
// before the load, and not reordered by the compiler fence) made visible by
// the barrier, so `drained` (which loads every counter afterwards with
// Acquire) sees it until the matching Release decrement; each counter is
// non-negative (get and put on the same thread), so all-zero means no
// successful get is outstanding. The overflow counter follows the in-model
// SeqCst Dekker argument (revoke issues a SeqCst fence after the store in
// both modes). Failing gets add only transient increments. (3) `reinstate`
// is a Release store that readers acquire. (4) `going` starts false and is
// reset to false.
unsafe impl Gate for MembarrierOwner {
    fn revoke(&self) {
        self.going.0.store(true, Ordering::SeqCst);
        // A full fence, then (membarrier mode) the barrier on every CPU.
        barrier::heavy(barrier::mode());
    }

    fn drained(&self) -> bool {
        self.slots.iter().all(|s| s.0.load(Ordering::Acquire) == 0)
            && self.overflow.0.load(Ordering::SeqCst) == 0
    }

    fn reinstate(&self) {
        self.going.0.store(false, Ordering::Release);
    }
}
