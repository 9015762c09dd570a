// SPDX-License-Identifier: GPL-2.0

//! A small, recycled per-thread index for per-thread counters.

/// Number of per-thread counters in the scalable owners. Threads beyond this
/// (live at the same time) share an overflow counter that uses locked RMWs.
#[cfg(not(loom))]
pub const MAX_THREADS: usize = 128;

/// Number of per-thread counters in the scalable owners: under loom, a few
/// (models run two or three threads).
#[cfg(loom)]
pub const MAX_THREADS: usize = 4;

/// Returned by [`thread_index`] for threads without a private index.
pub(crate) const OVERFLOW: usize = MAX_THREADS;

#[cfg(not(loom))]
pub(crate) use imp::{thread_index, thread_index_raw};

#[cfg(not(loom))]
mod imp {
    use core::cell::Cell;
    use core::sync::atomic::{AtomicU64, Ordering};

    use super::{MAX_THREADS, OVERFLOW};

    const WORDS: usize = MAX_THREADS / 64;
    const UNASSIGNED: usize = usize::MAX;

    /// Bitmap of indices held by live threads.
    static USED: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];

    std::thread_local! {
        /// This thread's index, or `UNASSIGNED` / `OVERFLOW`.
        static INDEX: Cell<usize> = const { Cell::new(UNASSIGNED) };
        /// Releases the index when the thread exits.
        static GUARD: IndexGuard = IndexGuard(claim());
    }

    /// Owns one bit of [`USED`].
    struct IndexGuard(usize);

    impl Drop for IndexGuard {
        fn drop(&mut self) {
            // Anything this thread still runs (other TLS destructors) uses the
            // shared overflow counter from now on.
            let _ = INDEX.try_with(|i| i.set(OVERFLOW));
            if self.0 < MAX_THREADS {
                // Release: our last counter accesses happen-before the next
                // claimer's first (it acquires the bit).
                USED[self.0 / 64].fetch_and(!(1u64 << (self.0 % 64)), Ordering::Release);
            }
        }
    }

    /// Claims a free index, or returns `OVERFLOW` if none is free.
    fn claim() -> usize {
        for (w, word) in USED.iter().enumerate() {
            let mut cur = word.load(Ordering::Relaxed);
            while cur != u64::MAX {
                let bit = (!cur).trailing_zeros() as usize;
                match word.compare_exchange_weak(
                    cur,
                    cur | (1u64 << bit),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return w * 64 + bit,
                    Err(now) => cur = now,
                }
            }
        }
        OVERFLOW
    }

    /// Returns this thread's index: `< MAX_THREADS` and unique among live
    /// threads, or `OVERFLOW`. Stable for the life of the thread (until its TLS
    /// destructors run).
    #[inline]
    pub(crate) fn thread_index() -> usize {
        let i = INDEX.with(Cell::get);
        if i != UNASSIGNED {
            return i;
        }
        slow_index()
    }

    /// Returns this thread's index if it has one (`< MAX_THREADS`), else a value
    /// `>= MAX_THREADS` (not assigned yet, or none free): the fast path's one TLS load, without
    /// the assignment.
    #[inline(always)]
    pub(crate) fn thread_index_raw() -> usize {
        INDEX.with(Cell::get)
    }

    #[cold]
    fn slow_index() -> usize {
        let i = GUARD.try_with(|g| g.0).unwrap_or(OVERFLOW);
        INDEX.with(|c| c.set(i));
        i
    }
}

/// Under loom: indices in the order the model's threads first ask, never recycled (models run
/// fewer threads than `MAX_THREADS`); the counter is reset with each execution.
#[cfg(loom)]
pub(crate) fn thread_index() -> usize {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    loom::lazy_static! {
        static ref NEXT: AtomicUsize = AtomicUsize::new(0);
    }
    loom::thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    INDEX.with(|i| *i)
}

/// Under loom: the same as [`thread_index`].
#[cfg(loom)]
pub(crate) fn thread_index_raw() -> usize {
    thread_index()
}
