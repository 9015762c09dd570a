// SPDX-License-Identifier: GPL-2.0

//! The merged read-side guard for [`DomainSlot`](crate::DomainSlot): an epoch domain in the style
//! of userspace RCU's membarrier flavour (liburcu `urcu-memb`), and a liveness flag for owners.
//!
//! # Readers
//!
//! Each thread has one word in the domain (by its [`thread_index`]), written only by that thread
//! with plain stores: `0` outside a critical section, the domain's epoch (at least 1) inside.
//! `read(f)`:
//!
//! 1. loads its word; non-zero means this is a nested section, which runs `f` and touches
//!    nothing;
//! 2. loads the epoch (Acquire) and stores it in its word (Release);
//! 3. the light side of the asymmetric fence ([`barrier`](crate::barrier): a compiler fence with
//!    `membarrier`, `fence(SeqCst)` without);
//! 4. runs `f`;
//! 5. stores `0` in its word (Release; also when `f` unwinds).
//!
//! No read-modify-write, no locked instruction, and no shared line written: the fast path's
//! cost is one TLS load, a few loads of read-mostly lines, two stores to the thread's own line.
//!
//! # Grace periods
//!
//! `synchronize()` advances the 64-bit epoch to `new` (an RMW with Release), runs the heavy side
//! of the fence (`fence(SeqCst)`, then `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` on every
//! CPU running a thread of the process), and waits until every word is `0` or at least `new`.
//!
//! Why this is a grace period ([`ReadDomain`] contract 2): take a section and a write W that
//! happened-before the call of `synchronize()`.
//!
//! * Store buffering: the section stores its word then, after the light fence, reads; the writer
//!   has W, then the heavy fence, then reads the word. With a full fence on both sides (the
//!   membarrier guarantee; in-model SeqCst fences in fallback mode) either the section's reads
//!   observe W, or the writer's load of the word returns the section's entry store or a later
//!   one.
//! * The writer reads an epoch below `new`: that section (or a later one of the same thread) is
//!   still open, and the writer waits for a word of `0` or at least `new`, which is a Release
//!   store after the section's end; its Acquire load then makes the whole section
//!   happen-before the return.
//! * The writer reads `new` or more: that entry store's thread loaded an epoch written by our RMW
//!   or a later one (in the RMW's release sequence) with Acquire, so W happens-before its
//!   section: it observes W. If the value is a later section's entry, that store is a Release
//!   after the earlier section, which therefore happens-before the writer's Acquire load.
//! * The writer reads `0`: the Release exit store of the section (or of a later one).
//!
//! A section that loaded an old epoch long ago and stores it late is waited for needlessly but
//! safely (hence `< new`, not `!= new`). New sections store `new` and are not waited for, so a
//! grace period ends even under continuous dispatch. Epochs are 64-bit and never wrap.
//!
//! Threads beyond [`MAX_THREADS`](crate::owners::MAX_THREADS) (live at once) have no word: they
//! count themselves in a shared counter with SeqCst RMWs and a full fence (the in-model
//! store-buffering pattern), and `synchronize` also waits for that counter to reach zero.
//!
//! # Liveness
//!
//! [`LiveFlag`] is an owner's flag on its own cache line. `retire` clears it and waits for a grace
//! period: no call of that owner is running afterwards, and none starts.

use core::sync::atomic::AtomicU8;

use crate::barrier::{self, MODE_FENCE, MODE_UNKNOWN};
use crate::owners::thread_index::{thread_index, thread_index_raw, MAX_THREADS};
use crate::owners::CachePadded;
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::{Liveness, ReadDomain, WouldDeadlock};

/// The read-mostly line of a domain.
#[derive(Debug)]
struct Hot {
    /// The current epoch, at least 1 (0 marks an idle word).
    epoch: AtomicU64,
    /// The domain's fence mode (`crate::barrier`), chosen once: `MODE_UNKNOWN` until the first
    /// reader or writer copies the process-wide mode, or `MODE_FENCE` from the start for a
    /// domain that must not use membarrier. Not part of the protocol's ordering (a
    /// configuration word, written once), so it is a plain std atomic even under loom.
    mode: AtomicU8,
}

/// A read-side domain with one epoch word per thread: see the module documentation.
///
/// One domain serves any number of slots; a callback that blocks delays the unregistrations of
/// every slot in its domain, so unrelated interfaces should use separate domains.
///
/// # Invariants
///
/// * `words[i]` is written only by the live thread holding index `i` (index hand-over is ordered
///   by the index bitmap): `0` outside a critical section, an epoch value inside.
/// * `hot.epoch` only grows, from 1.
/// * `overflow` counts the open critical sections of threads without an index.
#[derive(Debug)]
pub struct EpochDomain {
    hot: CachePadded<Hot>,
    words: [CachePadded<AtomicU64>; MAX_THREADS],
    overflow: CachePadded<AtomicUsize>,
}

#[cfg(not(loom))]
std::thread_local! {
    /// Open critical sections of this thread on the overflow counter (of any domain).
    static OVERFLOW_DEPTH: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

impl EpochDomain {
    /// A domain that uses `membarrier` if the kernel offers it, and full fences otherwise.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self::with_mode(MODE_UNKNOWN)
    }

    /// A domain whose readers always issue a full fence, as when `membarrier` is unavailable
    /// (for tests and measurements of that fallback).
    #[cfg(not(loom))]
    pub const fn with_fences() -> Self {
        Self::with_mode(MODE_FENCE)
    }

    #[cfg(not(loom))]
    const fn with_mode(mode: u8) -> Self {
        EpochDomain {
            hot: CachePadded(Hot {
                epoch: AtomicU64::new(1),
                mode: AtomicU8::new(mode),
            }),
            words: [const { CachePadded(AtomicU64::new(0)) }; MAX_THREADS],
            overflow: CachePadded(AtomicUsize::new(0)),
        }
    }

    /// A domain for a loom model (membarrier is modelled as a fence on both sides).
    #[cfg(loom)]
    pub fn new() -> Self {
        EpochDomain {
            hot: CachePadded(Hot {
                epoch: AtomicU64::new(1),
                mode: AtomicU8::new(MODE_FENCE),
            }),
            words: core::array::from_fn(|_| CachePadded(AtomicU64::new(0))),
            overflow: CachePadded(AtomicUsize::new(0)),
        }
    }

    /// Returns `true` if this domain's readers use only a compiler fence (membarrier mode).
    pub fn uses_membarrier(&self) -> bool {
        self.mode() == barrier::MODE_MEMBARRIER
    }

    #[inline(always)]
    fn mode(&self) -> u8 {
        let m = self.hot.0.mode.load(core::sync::atomic::Ordering::Relaxed);
        if m != MODE_UNKNOWN {
            return m;
        }
        self.init_mode()
    }

    #[cold]
    #[inline(never)]
    fn init_mode(&self) -> u8 {
        use core::sync::atomic::Ordering::Relaxed;
        let want = barrier::mode();
        match self
            .hot
            .0
            .mode
            .compare_exchange(MODE_UNKNOWN, want, Relaxed, Relaxed)
        {
            Ok(_) => want,
            Err(set) => set,
        }
    }

    /// Returns `true` if this thread is inside a critical section of this domain.
    pub fn in_read_section(&self) -> bool {
        match self.words.get(thread_index()) {
            Some(w) => w.0.load(Ordering::Relaxed) != 0,
            None => overflow_depth() > 0,
        }
    }

    /// One critical section on this thread's `word`, with `light` as the light side of the
    /// fence: the protocol of the module documentation, shared by the fast path (membarrier
    /// mode) and the slow path (every other case, and every case under loom).
    #[inline(always)]
    fn section<T>(&self, word: &AtomicU64, light: impl FnOnce(), f: impl FnOnce() -> T) -> T {
        // Only this thread writes its word: a non-zero value is our own open section.
        if word.load(Ordering::Relaxed) != 0 {
            return nested(f);
        }
        // Acquire: pairs with the writer's Release RMW; a section that stores the new epoch
        // observes everything before that grace period.
        let epoch = self.hot.0.epoch.load(Ordering::Acquire);
        // Release: orders an earlier section of this thread before this entry, for a writer
        // that reads this value (module docs).
        word.store(epoch, Ordering::Release);
        // The light side: the entry store is visible before the section's loads, as far as a
        // writer's heavy side can tell.
        light();
        let _exit = Exit(word);
        f()
    }

    /// Every case but the fast one: a thread without an index yet or without a word, a domain
    /// whose mode is not chosen yet or is the fallback (a full fence on the read side).
    #[cold]
    #[inline(never)]
    fn read_slow<T>(&self, f: impl FnOnce() -> T) -> T {
        let Some(word) = self.words.get(thread_index()) else {
            return self.read_overflow(f);
        };
        let mode = self.mode();
        self.section(&word.0, || barrier::light(mode), f)
    }

    /// A critical section for a thread without a word of its own.
    #[cold]
    #[inline(never)]
    fn read_overflow<T>(&self, f: impl FnOnce() -> T) -> T {
        self.overflow.0.fetch_add(1, Ordering::SeqCst);
        // Store buffering inside the memory model: this fence against the writer's.
        crate::sync::fence(Ordering::SeqCst);
        set_overflow_depth(overflow_depth() + 1);
        let _exit = OverflowExit(&self.overflow.0);
        f()
    }
}

impl Default for EpochDomain {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(not(loom))]
fn overflow_depth() -> usize {
    OVERFLOW_DEPTH.try_with(|d| d.get()).unwrap_or(0)
}

#[cfg(not(loom))]
fn set_overflow_depth(d: usize) {
    let _ = OVERFLOW_DEPTH.try_with(|c| c.set(d));
}

/// Loom models run fewer threads than there are words.
#[cfg(loom)]
fn overflow_depth() -> usize {
    0
}

#[cfg(loom)]
fn set_overflow_depth(_: usize) {
    unreachable!("loom models run fewer threads than there are words")
}

/// A nested section: runs `f` and touches nothing. Out of line, so that the common case falls
/// through.
#[cold]
#[inline(never)]
fn nested<T>(f: impl FnOnce() -> T) -> T {
    f()
}

/// Ends a critical section: stores 0 in the thread's word, also when the section unwinds.
struct Exit<'a>(&'a AtomicU64);

impl Drop for Exit<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // Release: the section's accesses happen-before a writer's Acquire load of 0.
        self.0.store(0, Ordering::Release);
    }
}

/// Ends an overflow critical section.
struct OverflowExit<'a>(&'a AtomicUsize);

impl Drop for OverflowExit<'_> {
    fn drop(&mut self) {
        set_overflow_depth(overflow_depth() - 1);
        // Release: as `Exit`.
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// Polls: spins a little, then yields (under loom, always yields to the model).
#[inline]
fn wait(spins: &mut u32) {
    #[cfg(not(loom))]
    if *spins < 64 {
        *spins += 1;
        core::hint::spin_loop();
        return;
    }
    let _ = spins;
    crate::sync::relax();
}

// SAFETY: (1) `read` runs `f` once, between the entry store (or the overflow increment) and the
// exit store (or decrement), which a drop guard performs also on unwinding. (2) is the argument
// of the module documentation: the epoch RMW (Release) and the heavy fence come after every
// write that happened-before the call, and the scan waits for every word below the new epoch.
// (3) `synchronize` checks the caller's own word (or overflow depth) first and returns
// `WouldDeadlock` before changing anything.
unsafe impl ReadDomain for EpochDomain {
    #[inline(always)]
    fn read<T>(&self, f: impl FnOnce() -> T) -> T {
        // The fast path: one TLS load and one compare find the word (an index not assigned yet
        // is beyond the words), one load of the hot line the mode; the light side is a compiler
        // fence. Everything else is out of line.
        #[cfg(not(loom))]
        if let Some(word) = self.words.get(thread_index_raw()) {
            if self.hot.0.mode.load(core::sync::atomic::Ordering::Relaxed)
                == barrier::MODE_MEMBARRIER
            {
                return self.section(&word.0, barrier::light_membarrier, f);
            }
        }
        #[cfg(loom)]
        let _ = thread_index_raw;
        self.read_slow(f)
    }

    fn synchronize(&self) -> Result<(), WouldDeadlock> {
        if self.in_read_section() {
            return Err(WouldDeadlock);
        }
        let mode = self.mode();
        // Release: readers that load the new epoch (Acquire) observe what came before.
        let new = self.hot.0.epoch.fetch_add(1, Ordering::Release) + 1;
        barrier::heavy(mode);
        for w in &self.words {
            let mut spins = 0;
            loop {
                // Acquire: pairs with the Release exit (or entry) store.
                let v = w.0.load(Ordering::Acquire);
                if v == 0 || v >= new {
                    break;
                }
                wait(&mut spins);
            }
        }
        let mut spins = 0;
        // Acquire: pairs with the overflow sections' Release decrements.
        while self.overflow.0.load(Ordering::Acquire) != 0 {
            wait(&mut spins);
        }
        Ok(())
    }
}

/// An owner's liveness as a flag on its own cache line: the [`Liveness`] of a
/// [`DomainSlot`](crate::DomainSlot) in userspace.
#[derive(Debug)]
pub struct LiveFlag {
    going: CachePadded<AtomicBool>,
}

impl LiveFlag {
    /// A live owner.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        LiveFlag {
            going: CachePadded(AtomicBool::new(false)),
        }
    }

    /// A live owner.
    #[cfg(loom)]
    pub fn new() -> Self {
        LiveFlag {
            going: CachePadded(AtomicBool::new(false)),
        }
    }

    /// Retires the owner: `is_live()` is false from now on, and when this returns `Ok` no call
    /// that saw it live is still running (a grace period of `domain`, the domain of every slot
    /// this owner is registered in). Fails with [`WouldDeadlock`], after marking the owner
    /// going, when called inside a critical section of `domain`.
    pub fn retire<D: ReadDomain>(&self, domain: &D) -> Result<(), WouldDeadlock> {
        // Relaxed: the grace period orders it (a write before `synchronize()`).
        self.going.0.store(true, Ordering::Relaxed);
        domain.synchronize()
    }

    /// Makes a retired owner live again (a module whose removal was aborted).
    pub fn revive(&self) {
        self.going.0.store(false, Ordering::Relaxed);
    }
}

impl Default for LiveFlag {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: `retire` marks the owner going and then waits for a grace period of the domain, so
// every section that saw it live has ended before `retire` returns, and every later one sees it
// going (domain contract 2); the owner's holder frees nothing before `retire` returns.
unsafe impl Liveness for LiveFlag {
    #[inline(always)]
    fn is_live(&self) -> bool {
        // Relaxed: the grace period provides the ordering.
        !self.going.0.load(Ordering::Relaxed)
    }
}
