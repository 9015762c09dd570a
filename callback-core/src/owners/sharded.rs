// SPDX-License-Identifier: GPL-2.0

//! Sharded atomic counters in the spirit of `percpu_ref`.

use crate::sync::{loom_seq_cst_fence, AtomicBool, AtomicUsize, Ordering};

use super::thread_index::thread_index;
use super::CachePadded;
use crate::{Gate, Owner};

/// Number of shards of a [`ShardedOwner`].
#[cfg(not(loom))]
const SHARDS: usize = 16;
/// Number of shards of a [`ShardedOwner`]: under loom, one per model thread.
#[cfg(loom)]
const SHARDS: usize = 4;

/// An owner with one counter per shard (threads are mapped to shards by a
/// per-thread index) plus a shared, read-mostly `going` flag.
///
/// `try_get` is a SeqCst `fetch_add` on the thread's shard followed by a
/// SeqCst load of `going` (backing out if set); `revoke` is a SeqCst store of
/// `going`; `drained` checks that every shard is zero. This is the
/// store-buffering (Dekker) pattern: either the reader sees `going`, or the
/// revoker sees the reader's increment. No cache line is written by more than
/// one thread (with at most 16 threads, the shard count), but each get and put is a
/// locked RMW.
///
/// # Invariants
///
/// Each shard counts the outstanding gets (including transient ones being
/// backed out) of the threads mapped to it; a get and its put use the same
/// shard because they run on the same thread.
#[derive(Debug)]
pub struct ShardedOwner {
    going: CachePadded<AtomicBool>,
    shards: [CachePadded<AtomicUsize>; SHARDS],
}

impl ShardedOwner {
    /// Creates a live owner with no references.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        ShardedOwner {
            going: CachePadded(AtomicBool::new(false)),
            shards: [const { CachePadded(AtomicUsize::new(0)) }; SHARDS],
        }
    }

    /// Creates a live owner with no references.
    #[cfg(loom)]
    pub fn new() -> Self {
        ShardedOwner {
            going: CachePadded(AtomicBool::new(false)),
            shards: core::array::from_fn(|_| CachePadded(AtomicUsize::new(0))),
        }
    }

    #[inline]
    fn shard(&self) -> &AtomicUsize {
        &self.shards[thread_index() % SHARDS].0
    }
}

impl Default for ShardedOwner {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: a successful get leaves its increment in the thread's shard until
// the matching put on the same thread; put only decrements.
unsafe impl Owner for ShardedOwner {
    #[inline]
    fn try_get(&self) -> bool {
        let shard = self.shard();
        shard.fetch_add(1, Ordering::SeqCst);
        loom_seq_cst_fence();
        // SeqCst (hence Acquire): pairs with `revoke` in the single total
        // order, and synchronizes with `reinstate`.
        if self.going.0.load(Ordering::SeqCst) {
            shard.fetch_sub(1, Ordering::Release);
            return false;
        }
        true
    }

    #[inline]
    fn put(&self) {
        // Release: the caller's accesses happen-before `drained()`.
        self.shard().fetch_sub(1, Ordering::Release);
    }
}

// SAFETY: (1) All of `going`'s store in `revoke`, the readers' SeqCst RMWs
// and loads, and `drained`'s SeqCst loads are in the single total order S. A
// get whose load of `going` follows the revoke store in S sees `true` and
// fails; so after `revoke` returns, no get succeeds until `reinstate`.
// (2) A successful get loaded `going == false`, so its load precedes the
// revoke store in S, and its increment (sequenced before the load) precedes
// it too; `drained`'s loads follow the store in S, hence see that increment
// or a later value of the shard, which reaches zero only after the matching
// Release decrement, acquired by the SeqCst load. Each shard is a sum of
// non-negative per-thread contributions (get and put on the same thread), so
// a zero read means none of the shard's successful gets is outstanding at
// that point; failing gets only add transient increments, which can make
// `drained` return false for a moment but never a false true. (3) `reinstate` is a Release store that the readers' SeqCst load of
// `going` acquires. (4) `going` starts false and is reset to false.
unsafe impl Gate for ShardedOwner {
    fn revoke(&self) {
        self.going.0.store(true, Ordering::SeqCst);
        loom_seq_cst_fence();
    }

    fn drained(&self) -> bool {
        self.shards.iter().all(|s| s.0.load(Ordering::SeqCst) == 0)
    }

    fn reinstate(&self) {
        self.going.0.store(false, Ordering::Release);
    }
}
