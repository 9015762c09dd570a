// SPDX-License-Identifier: GPL-2.0

//! Userspace [`Owner`](crate::Owner) / [`Gate`](crate::Gate)
//! implementations (feature `std`).
//!
//! | type | try_get fast path | revoke | scales |
//! | --- | --- | --- | --- |
//! | [`AtomicOwner`] | CAS loop on one shared word | one RMW | no (one cache line) |
//! | [`ShardedOwner`] | `lock xadd` on a per-thread shard + load | SeqCst store | yes, but two locked RMWs per get/put pair |
//! | [`MembarrierOwner`] | plain load/store of a per-thread counter + compiler fence + load | store + `membarrier()` | yes, no locked instruction |
//!
//! All three satisfy the [`Gate`](crate::Gate) contract: once `revoke()` has
//! returned no `try_get()` succeeds, and `drained()` is true only after every
//! successful get has been put.
//!
//! The scalable owners require `put()` on the thread that did the matching
//! `try_get()`, which [`Slot`](crate::Slot) guarantees.

mod atomic;
mod membarrier;
mod sharded;
pub(crate) mod thread_index;

pub use crate::barrier::membarrier_available;
pub use atomic::AtomicOwner;
pub use membarrier::MembarrierOwner;
pub use sharded::ShardedOwner;
pub use thread_index::MAX_THREADS;

/// Aligns `T` to 128 bytes (two cache lines, defeating the adjacent-line
/// prefetcher) so that per-thread data is never falsely shared.
#[repr(align(128))]
#[derive(Debug, Default)]
pub struct CachePadded<T>(pub T);
