// SPDX-License-Identifier: GPL-2.0

//! Per-thread counters with an asymmetric fence (`membarrier`).

use core::sync::atomic::{compiler_fence, fence, AtomicBool, AtomicU8, AtomicUsize, Ordering};

use super::thread_index::{thread_index, MAX_THREADS, OVERFLOW};
use super::CachePadded;
use crate::{Gate, Owner};

const MODE_UNKNOWN: u8 = 0;
/// `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` is registered: readers need
/// only a compiler fence.
const MODE_MEMBARRIER: u8 = 1;
/// No expedited membarrier: readers issue a SeqCst fence.
const MODE_FENCE: u8 = 2;

/// Process-wide choice, made once (by whichever of a reader or a revoker
/// gets there first) and never changed, so readers and revokers always agree.
static MODE: AtomicU8 = AtomicU8::new(MODE_UNKNOWN);

#[cfg(target_os = "linux")]
mod sys {
    const MEMBARRIER_CMD_QUERY: libc::c_long = 0;
    const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn membarrier(cmd: libc::c_long) -> libc::c_long {
        // SAFETY: membarrier(cmd, flags = 0, cpu_id = 0) takes no pointers.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_long,
                0 as libc::c_long,
            )
        }
    }

    /// Registers this process for private expedited membarriers.
    pub(super) fn register() -> bool {
        let mask = membarrier(MEMBARRIER_CMD_QUERY);
        mask > 0
            && mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED != 0
            && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0
    }

    /// Runs a full memory barrier on every CPU running a thread of this
    /// process.
    pub(super) fn barrier() -> bool {
        membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0 || membarrier(MEMBARRIER_CMD_GLOBAL) == 0
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn barrier() -> bool {
        false
    }
}

#[inline]
fn mode() -> u8 {
    let m = MODE.load(Ordering::Relaxed);
    if m != MODE_UNKNOWN {
        return m;
    }
    init_mode()
}

#[cold]
fn init_mode() -> u8 {
    let want = if sys::register() {
        MODE_MEMBARRIER
    } else {
        MODE_FENCE
    };
    match MODE.compare_exchange(MODE_UNKNOWN, want, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => want,
        Err(set) => set,
    }
}

/// Returns `true` if [`MembarrierOwner`] runs in membarrier mode (readers
/// need only a compiler fence), `false` if it fell back to SeqCst fences.
pub fn membarrier_available() -> bool {
    mode() == MODE_MEMBARRIER
}

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
    pub const fn new() -> Self {
        MembarrierOwner {
            going: CachePadded(AtomicBool::new(false)),
            slots: [const { CachePadded(AtomicUsize::new(0)) }; MAX_THREADS],
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
        let fast = mode() == MODE_MEMBARRIER;
        let i = thread_index();
        let Some(slot) = self.slots.get(i) else {
            return self.try_get_overflow();
        };
        bump(&slot.0, 1, Ordering::Relaxed);
        if fast {
            compiler_fence(Ordering::SeqCst);
        } else {
            fence(Ordering::SeqCst);
        }
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
        fence(Ordering::SeqCst);
        if mode() == MODE_MEMBARRIER && !sys::barrier() {
            // Readers are running with compiler fences only and no barrier
            // can be issued: the guarantee cannot be kept.
            std::process::abort();
        }
    }

    fn drained(&self) -> bool {
        self.slots.iter().all(|s| s.0.load(Ordering::Acquire) == 0)
            && self.overflow.0.load(Ordering::SeqCst) == 0
    }

    fn reinstate(&self) {
        self.going.0.store(false, Ordering::Release);
    }
}
