// SPDX-License-Identifier: GPL-2.0

//! Model checking of the dispatch protocols with loom: every interleaving (up to a preemption
//! bound) and the weak-memory outcomes loom models, on the very code the library ships
//! (`dispatch.rs`, the owners and the epoch domain take their atomics from loom under
//! `cfg(loom)`; membarrier is modelled as a fence on both sides).
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p callback-core --release --test loom` (the
//! host tests do, in a target directory of their own: `tests/loom_models.rs`). `tests/loom-mutations.py` shows that each
//! fence and ordering of the core is needed: weakened one at a time, a test here fails.
//!
//! The oracle: a callback reads its context through a loom `UnsafeCell`, and whoever removed the
//! registration (or retired its owner) then writes that cell, as a module's exit would free its
//! data. A call that runs after `unregister` (or `retire`) returned, or whose reads are not
//! ordered before that return, is a data race that loom reports; so is a read of the slot's
//! registration cell that races with its clearing or with the next registration.

#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use callback_core::domain::{EpochDomain, LiveFlag};
use callback_core::owners::{AtomicOwner, MembarrierOwner, ShardedOwner};
use callback_core::{
    DomainSlot, Gate, NotRegistered, Owner, ReadDomain, Slot, UnregisterError, WouldDeadlock,
};

/// A callback's context: data its module frees at exit, and a call counter.
struct Ctx {
    data: UnsafeCell<u64>,
    calls: AtomicUsize,
}

// SAFETY: the cell's accesses are checked by loom: that is the test.
unsafe impl Sync for Ctx {}

const LIVE: u64 = 7;
const FREED: u64 = 0xdead;

impl Ctx {
    fn leak() -> &'static Ctx {
        Box::leak(Box::new(Ctx {
            data: UnsafeCell::new(LIVE),
            calls: AtomicUsize::new(0),
        }))
    }

    /// What a module's exit does to its data: races with any call still running.
    fn free(&self) {
        self.data.with_mut(|p| {
            // SAFETY: loom checks that no call's read races with this write.
            unsafe { *p = FREED }
        });
    }
}

fn callback(ctx: &'static Ctx, ev: u32) -> u64 {
    ctx.calls.fetch_add(1, Ordering::Relaxed);
    // SAFETY: loom checks that this read does not race with `free`.
    let v = ctx.data.with(|p| unsafe { *p });
    assert_eq!(v, LIVE, "a call ran on freed data");
    v + u64::from(ev)
}

/// The models: a preemption bound keeps them small; 3 covers every pattern below (two threads,
/// each with a handful of atomic steps).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

// ---------------------------------------------------------------------------------------------
// DomainSlot on the epoch domain (the merged guard).

/// A dispatcher (two dispatches, so that a writer can see a later section's entry) against an
/// unregister that then frees the context.
#[test]
fn domain_unregister_vs_dispatch() {
    model(|| {
        let domain = leak(EpochDomain::new());
        let owner = leak(LiveFlag::new());
        let slot = leak(DomainSlot::<_, _, Ctx, u64>::new(domain));
        let ctx = Ctx::leak();
        slot.register(callback, ctx, owner).unwrap();
        let t = thread::spawn(move || {
            let _ = slot.dispatch(1);
            let _ = slot.dispatch(2);
        });
        assert_eq!(slot.unregister(thread::yield_now), Ok(()));
        ctx.free();
        assert_eq!(slot.dispatch(3), Err(NotRegistered));
        t.join().unwrap();
    });
}

/// An owner retired (module exit begins) while a dispatcher runs: after `retire` no call of it
/// runs, though it is still registered.
#[test]
fn domain_retire_vs_dispatch() {
    model(|| {
        let domain = leak(EpochDomain::new());
        let owner = leak(LiveFlag::new());
        let slot = leak(DomainSlot::<_, _, Ctx, u64>::new(domain));
        let ctx = Ctx::leak();
        slot.register(callback, ctx, owner).unwrap();
        let t = thread::spawn(move || {
            let _ = slot.dispatch(1);
        });
        owner.retire(domain).unwrap();
        ctx.free();
        assert_eq!(slot.dispatch(3), Err(NotRegistered));
        t.join().unwrap();
    });
}

/// Unregister and register a new generation while a dispatcher runs: the registration cell is
/// handed from generation to generation without a race, and each call sees its own context.
#[test]
fn domain_reregister_vs_dispatch() {
    model(|| {
        let domain = leak(EpochDomain::new());
        let owner = leak(LiveFlag::new());
        let slot = leak(DomainSlot::<_, _, Ctx, u64>::new(domain));
        let (a, b) = (Ctx::leak(), Ctx::leak());
        slot.register(callback, a, owner).unwrap();
        let t = thread::spawn(move || {
            let _ = slot.dispatch(1);
        });
        assert_eq!(slot.unregister(thread::yield_now), Ok(()));
        a.free();
        slot.register(callback, b, owner).unwrap();
        t.join().unwrap();
    });
}

/// A second thread registers the next generation after the first unregistered: the hand-over
/// of the cell goes through the EMPTY store and the next CAS.
#[test]
fn domain_handover_between_threads() {
    model(|| {
        let domain = leak(EpochDomain::new());
        let owner = leak(LiveFlag::new());
        let slot = leak(DomainSlot::<_, _, Ctx, u64>::new(domain));
        let (a, b) = (Ctx::leak(), Ctx::leak());
        slot.register(callback, a, owner).unwrap();
        let t = thread::spawn(move || {
            while slot.register(callback, b, owner).is_err() {
                thread::yield_now();
            }
            assert_eq!(slot.dispatch(5), Ok(LIVE + 5));
        });
        let _ = slot.dispatch(1);
        assert_eq!(slot.unregister(thread::yield_now), Ok(()));
        t.join().unwrap();
    });
}

/// Unregistering from inside a callback returns `WouldDeadlock` and leaves the registration;
/// sections nest.
#[test]
fn domain_unregister_from_callback() {
    struct Me {
        slot: UnsafeCell<Option<&'static DomainSlot<'static, EpochDomain, LiveFlag, Me, u32>>>,
    }
    fn cb(me: &'static Me, _: u32) -> u32 {
        // SAFETY: written once before registration.
        let slot = me.slot.with(|p| unsafe { *p }).unwrap();
        assert_eq!(
            slot.unregister(thread::yield_now),
            Err(UnregisterError::WouldDeadlock)
        );
        1
    }
    // SAFETY: written once before it is shared.
    unsafe impl Sync for Me {}
    model(|| {
        let domain = leak(EpochDomain::new());
        let owner = leak(LiveFlag::new());
        let me = leak(Me {
            slot: UnsafeCell::new(None),
        });
        let slot = leak(DomainSlot::new(domain));
        // SAFETY: no other access yet.
        me.slot.with_mut(|p| unsafe { *p = Some(slot) });
        slot.register(cb, me, owner).unwrap();
        assert_eq!(slot.dispatch(0), Ok(1));
        assert!(slot.is_active());
        assert_eq!(
            domain.read(|| domain.read(|| domain.synchronize())),
            Err(WouldDeadlock)
        );
        assert_eq!(domain.synchronize(), Ok(()));
        assert_eq!(slot.unregister(thread::yield_now), Ok(()));
    });
}

// ---------------------------------------------------------------------------------------------
// Slot (gate + owner) with each userspace gate.

fn slot_unregister_vs_dispatch<G: Gate + 'static>(gate: impl Fn() -> G + Sync + Send + 'static) {
    model(move || {
        let owner = leak(AtomicOwner::new());
        let slot: &'static Slot<G, AtomicOwner, Ctx, u64> = leak(Slot::new(gate()));
        let ctx = Ctx::leak();
        slot.register(callback, ctx, owner).unwrap();
        let t = thread::spawn(move || {
            let _ = slot.dispatch(1);
        });
        assert_eq!(slot.unregister(thread::yield_now), Ok(()));
        ctx.free();
        assert_eq!(slot.dispatch(3), Err(NotRegistered));
        t.join().unwrap();
    });
}

#[test]
fn slot_atomic_unregister_vs_dispatch() {
    slot_unregister_vs_dispatch(AtomicOwner::new);
}

#[test]
fn slot_sharded_unregister_vs_dispatch() {
    slot_unregister_vs_dispatch(ShardedOwner::new);
}

#[test]
fn slot_membarrier_unregister_vs_dispatch() {
    slot_unregister_vs_dispatch(MembarrierOwner::new);
}

/// The owner (a module) starts going while a dispatcher runs: once it is revoked and drained no
/// call of it runs.
fn slot_owner_revoke_vs_dispatch<O: Gate + 'static>(owner: impl Fn() -> O + Sync + Send + 'static) {
    model(move || {
        let owner = leak(owner());
        let slot: &'static Slot<AtomicOwner, O, Ctx, u64> = leak(Slot::new(AtomicOwner::new()));
        let ctx = Ctx::leak();
        slot.register(callback, ctx, owner).unwrap();
        let t = thread::spawn(move || {
            let _ = slot.dispatch(1);
        });
        owner.revoke();
        while !owner.drained() {
            thread::yield_now();
        }
        ctx.free();
        assert_eq!(slot.dispatch(3), Err(NotRegistered));
        t.join().unwrap();
    });
}

#[test]
fn slot_owner_atomic_revoke_vs_dispatch() {
    slot_owner_revoke_vs_dispatch(AtomicOwner::new);
}

#[test]
fn slot_owner_sharded_revoke_vs_dispatch() {
    slot_owner_revoke_vs_dispatch(ShardedOwner::new);
}

#[test]
fn slot_owner_membarrier_revoke_vs_dispatch() {
    slot_owner_revoke_vs_dispatch(MembarrierOwner::new);
}

/// Gate contract (3): a get that succeeds after `reinstate` sees what the holder did before it.
/// The holder revokes, drains, rewrites the data its callers read (as a module whose removal was
/// aborted might re-initialise it), and reinstates; a caller that gets the owner reads the data.
/// Its read must not race with the rewrite: a get before the revocation is drained first, one
/// after the reinstatement synchronizes with it.
fn gate_reinstate_publishes<G: Gate + 'static>(gate: impl Fn() -> G + Sync + Send + 'static) {
    model(move || {
        let gate = leak(gate());
        let ctx = Ctx::leak();
        let t = thread::spawn(move || {
            if gate.try_get() {
                // SAFETY: loom checks that this read does not race with the holder's write.
                ctx.data.with(|p| unsafe { *p });
                gate.put();
            }
        });
        gate.revoke();
        while !gate.drained() {
            thread::yield_now();
        }
        ctx.data.with_mut(|p| {
            // SAFETY: loom checks that no caller's read races with this write.
            unsafe { *p = LIVE + 1 }
        });
        gate.reinstate();
        t.join().unwrap();
    });
}

#[test]
fn gate_atomic_reinstate_publishes() {
    gate_reinstate_publishes(AtomicOwner::new);
}

#[test]
fn gate_sharded_reinstate_publishes() {
    gate_reinstate_publishes(ShardedOwner::new);
}

#[test]
fn gate_membarrier_reinstate_publishes() {
    gate_reinstate_publishes(MembarrierOwner::new);
}

/// Unregister and re-register on another thread while a dispatcher runs (`reinstate`, the EMPTY
/// store and the next `reserve`).
#[test]
fn slot_handover_between_threads() {
    model(|| {
        let owner = leak(AtomicOwner::new());
        let slot: &'static Slot<AtomicOwner, AtomicOwner, Ctx, u64> =
            leak(Slot::new(AtomicOwner::new()));
        let (a, b) = (Ctx::leak(), Ctx::leak());
        slot.register(callback, a, owner).unwrap();
        let t = thread::spawn(move || {
            while slot.register(callback, b, owner).is_err() {
                thread::yield_now();
            }
            assert_eq!(slot.dispatch(5), Ok(LIVE + 5));
        });
        let _ = slot.dispatch(1);
        assert_eq!(slot.unregister(thread::yield_now), Ok(()));
        t.join().unwrap();
    });
}

/// The gate reopens after a removal: a dispatcher that enters after `reinstate` never reads the
/// cell of the removed generation (it is being cleared) and calls the next one.
#[test]
fn slot_reinstate_vs_dispatch() {
    model(|| {
        let owner = leak(AtomicOwner::new());
        let slot: &'static Slot<ShardedOwner, AtomicOwner, Ctx, u64> =
            leak(Slot::new(ShardedOwner::new()));
        let (a, b) = (Ctx::leak(), Ctx::leak());
        slot.register(callback, a, owner).unwrap();
        let t = thread::spawn(move || {
            let _ = slot.dispatch(1);
            let _ = slot.dispatch(2);
        });
        assert_eq!(slot.unregister(thread::yield_now), Ok(()));
        a.free();
        slot.register(callback, b, owner).unwrap();
        t.join().unwrap();
    });
}

/// The owner's reference count comes back to its base: every get was put.
#[test]
fn slot_owner_balanced() {
    model(|| {
        let owner = leak(AtomicOwner::new());
        let slot: &'static Slot<MembarrierOwner, AtomicOwner, Ctx, u64> =
            leak(Slot::new(MembarrierOwner::new()));
        let ctx = Ctx::leak();
        slot.register(callback, ctx, owner).unwrap();
        let t = thread::spawn(move || {
            let _ = slot.dispatch(1);
        });
        let _ = slot.dispatch(2);
        t.join().unwrap();
        assert_eq!(owner.count(), 1);
        assert!(owner.try_get());
        owner.put();
    });
}
