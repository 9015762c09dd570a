// SPDX-License-Identifier: GPL-2.0

//! Concurrency tests: dispatchers run while other threads unregister and
//! re-register; every call is counted and no call may run after the
//! unregistration of its generation returned. Run for every owner variant.

// Under `--cfg loom` only `tests/loom.rs` runs (loom's atomics are not `const`).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use callback_core::owners::{AtomicOwner, MembarrierOwner, ShardedOwner, MAX_THREADS};
use callback_core::{Gate, NotRegistered, Owner, Slot, SlotState};

mod common;
use common::LyingGate;

/// One registration generation.
struct Gen {
    id: u64,
    /// Set right after the `unregister` that removed this generation
    /// returned.
    retired: AtomicBool,
    /// Calls that observed `retired` (must stay 0).
    late: AtomicU64,
    calls: AtomicU64,
}

fn on_event(g: &'static Gen, ev: u32) -> u64 {
    if g.retired.load(Ordering::SeqCst) {
        g.late.fetch_add(1, Ordering::SeqCst);
    }
    // Widen the window in which an unregistration can race with the call.
    for _ in 0..(ev % 64) {
        std::hint::spin_loop();
    }
    if ev % 16 == 0 {
        thread::yield_now();
    }
    if g.retired.load(Ordering::SeqCst) {
        g.late.fetch_add(1, Ordering::SeqCst);
    }
    g.calls.fetch_add(1, Ordering::Relaxed);
    g.id
}

const RUN_FOR: Duration = Duration::from_millis(400);

/// What one stress run saw.
struct Outcome {
    gens: usize,
    /// Calls that saw their generation retired (at their start or end).
    late: u64,
    /// Dispatches that found their registration cleared under them (see `counting_torn`).
    torn: u64,
    calls: u64,
    ok: u64,
    refused: u64,
    wrong_gen: u64,
}

/// The stress run with every check: no late call, and enough of everything happened.
fn stress<G: Gate, O: Gate + 'static>(gate: G, owner: &'static O, revoke_owner: bool) {
    let o = run_stress(gate, owner, revoke_owner);
    assert_eq!(o.late, 0, "calls ran after their unregistration returned");
    assert_eq!(o.torn, 0, "registrations cleared under a dispatch");
    assert_eq!(
        o.calls, o.ok,
        "every successful dispatch called exactly once"
    );
    assert_eq!(o.wrong_gen, 0, "call of an unpublished generation");
    assert!(o.gens >= 20, "too few generations");
    assert!(o.ok > 100, "too few calls: {}", o.ok);
    assert!(o.refused > 0, "dispatch never refused");
    // The owner's references were all put back.
    owner.revoke();
    assert!(owner.drained(), "owner leaked a reference");
    owner.reinstate();
}

/// Dispatchers call continuously; the registerer registers a new generation,
/// lets it run briefly, and unregisters it; a helper thread races extra
/// unregisters; with `revoke_owner`, every third generation the owner
/// (module) starts going before the unregister.
fn run_stress<G: Gate, O: Gate + 'static>(
    gate: G,
    owner: &'static O,
    revoke_owner: bool,
) -> Outcome {
    const DISPATCHERS: usize = 2;
    let slot: Slot<G, O, Gen, u64> = Slot::new(gate);
    let current: AtomicPtr<Gen> = AtomicPtr::new(std::ptr::null_mut());
    let stop = AtomicBool::new(false);
    let ok = AtomicU64::new(0);
    let refused = AtomicU64::new(0);
    let wrong_gen = AtomicU64::new(0);
    let torn = AtomicU64::new(0);
    let helper_unregs = AtomicU64::new(0);
    let mut gens: Vec<&'static Gen> = Vec::new();

    thread::scope(|s| {
        for t in 0..DISPATCHERS {
            let (slot, stop, ok, refused, current, wrong_gen, torn) =
                (&slot, &stop, &ok, &refused, &current, &wrong_gen, &torn);
            s.spawn(move || {
                let mut ev = t as u32;
                while !stop.load(Ordering::Relaxed) {
                    ev = ev.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    match common::counting_torn(torn, || slot.dispatch(ev >> 8)) {
                        None => {}
                        Some(Ok(id)) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            // The generation that answered must have been
                            // published before (ids only grow).
                            let cur = current.load(Ordering::SeqCst);
                            // SAFETY: generations are leaked, never freed.
                            if cur.is_null() || unsafe { (*cur).id } < id {
                                wrong_gen.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Some(Err(NotRegistered)) => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        // Helper: races unregisters with the registerer's.
        let (slot, stop, current, helper_unregs) = (&slot, &stop, &current, &helper_unregs);
        s.spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n = n.wrapping_add(1);
                if n % 7 == 0 {
                    if slot.unregister(thread::yield_now).is_ok() {
                        let g = current.load(Ordering::SeqCst);
                        // SAFETY: generations are leaked, never freed; the
                        // one we removed is `current` (set before register,
                        // changed only after the slot is empty again).
                        unsafe { (*g).retired.store(true, Ordering::SeqCst) };
                        helper_unregs.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    thread::sleep(Duration::from_micros(50));
                }
            }
        });

        // Registerer (this thread).
        let start = Instant::now();
        let mut id = 0u64;
        while start.elapsed() < RUN_FOR || id < 20 {
            id += 1;
            let g: &'static Gen = Box::leak(Box::new(Gen {
                id,
                retired: AtomicBool::new(false),
                late: AtomicU64::new(0),
                calls: AtomicU64::new(0),
            }));
            gens.push(g);
            current.store(g as *const Gen as *mut Gen, Ordering::SeqCst);
            slot.register(on_event, g, owner)
                .expect("only this thread registers, and the slot is empty");
            // Let it be called a few times (bounded wait).
            let t0 = Instant::now();
            while g.calls.load(Ordering::Relaxed) < 1 + id % 8
                && t0.elapsed() < Duration::from_micros(300)
            {
                thread::yield_now();
            }
            let going = revoke_owner && id % 3 == 0;
            if going {
                owner.revoke();
            }
            // On Err(NotRegistered) the helper won; it has finished
            // (unregister waited for it) and retires the generation itself.
            if slot.unregister(thread::yield_now).is_ok() {
                g.retired.store(true, Ordering::SeqCst);
            }
            assert_eq!(slot.state(), SlotState::Empty);
            if going {
                while !owner.drained() {
                    thread::yield_now();
                }
                owner.reinstate();
            }
        }
        stop.store(true, Ordering::Relaxed);
    });

    let late: u64 = gens.iter().map(|g| g.late.load(Ordering::SeqCst)).sum();
    let calls: u64 = gens.iter().map(|g| g.calls.load(Ordering::SeqCst)).sum();
    let o = Outcome {
        gens: gens.len(),
        late,
        torn: torn.load(Ordering::SeqCst),
        calls,
        ok: ok.load(Ordering::SeqCst),
        refused: refused.load(Ordering::SeqCst),
        wrong_gen: wrong_gen.load(Ordering::SeqCst),
    };
    eprintln!(
        "{} gens, {} calls, {} refused, {} helper unregisters, {late} late, {} torn",
        o.gens,
        o.ok,
        o.refused,
        helper_unregs.load(Ordering::SeqCst),
        o.torn
    );
    o
}

/// The negative control: with a gate whose `drained()` lies, `unregister` returns while calls
/// are in flight, and the same harness must report late calls.
#[test]
fn stress_catches_a_lying_gate() {
    static OWNER: AtomicOwner = AtomicOwner::new();
    common::catches_late_calls(10, || {
        let o = run_stress(LyingGate::new(), &OWNER, false);
        (o.late + o.torn, o.ok)
    });
}

#[test]
fn stress_atomic_owner() {
    static OWNER: AtomicOwner = AtomicOwner::new();
    stress(AtomicOwner::new(), &OWNER, false);
    assert_eq!(OWNER.count(), 1);
}

#[test]
fn stress_sharded_owner() {
    static OWNER: ShardedOwner = ShardedOwner::new();
    stress(ShardedOwner::new(), &OWNER, false);
}

#[test]
fn stress_membarrier_owner() {
    static OWNER: MembarrierOwner = MembarrierOwner::new();
    stress(MembarrierOwner::new(), &OWNER, false);
}

#[test]
fn stress_module_going_atomic() {
    static OWNER: AtomicOwner = AtomicOwner::new();
    stress(MembarrierOwner::new(), &OWNER, true);
}

#[test]
fn stress_module_going_sharded() {
    static OWNER: ShardedOwner = ShardedOwner::new();
    stress(ShardedOwner::new(), &OWNER, true);
}

#[test]
fn stress_module_going_membarrier() {
    static OWNER: MembarrierOwner = MembarrierOwner::new();
    stress(AtomicOwner::new(), &OWNER, true);
}

/// A call in flight keeps `unregister` waiting; meanwhile dispatch fails
/// fast; once the call returns, `unregister` returns and nothing more runs.
fn unregister_waits<G: Gate + Send + Sync>(gate: G) {
    static OWNER: AtomicOwner = AtomicOwner::new();
    struct Ctx {
        entered: AtomicBool,
        release: AtomicBool,
        calls: AtomicUsize,
    }
    fn block(c: &'static Ctx, ev: u32) -> u32 {
        c.calls.fetch_add(1, Ordering::SeqCst);
        if ev == 1 {
            c.entered.store(true, Ordering::SeqCst);
            while !c.release.load(Ordering::SeqCst) {
                thread::yield_now();
            }
        }
        ev
    }
    let ctx: &'static Ctx = Box::leak(Box::new(Ctx {
        entered: AtomicBool::new(false),
        release: AtomicBool::new(false),
        calls: AtomicUsize::new(0),
    }));
    let slot: Slot<G, AtomicOwner, Ctx, u32> = Slot::new(gate);
    slot.register(block, ctx, &OWNER).unwrap();
    /// Releases the blocked call even if an assertion fails, so a failing
    /// test fails instead of hanging.
    struct Release(&'static Ctx);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0.release.store(true, Ordering::SeqCst);
        }
    }
    thread::scope(|s| {
        let _release = Release(ctx);
        let caller = s.spawn(|| slot.dispatch(1));
        while !ctx.entered.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        let unregisterer = s.spawn(|| slot.unregister(thread::yield_now));
        while slot.dispatch(0).is_ok() {
            thread::yield_now();
        }
        assert_eq!(slot.state(), SlotState::Unregistering);
        thread::sleep(Duration::from_millis(30));
        assert!(!unregisterer.is_finished(), "unregister did not wait");
        assert_eq!(slot.dispatch(2), Err(NotRegistered));
        let before = ctx.calls.load(Ordering::SeqCst);
        ctx.release.store(true, Ordering::SeqCst);
        assert_eq!(unregisterer.join().unwrap(), Ok(()));
        assert_eq!(caller.join().unwrap(), Ok(1));
        assert_eq!(slot.dispatch(3), Err(NotRegistered));
        assert_eq!(ctx.calls.load(Ordering::SeqCst), before);
    });
}

#[test]
fn unregister_waits_atomic() {
    unregister_waits(AtomicOwner::new());
}

#[test]
fn unregister_waits_sharded() {
    unregister_waits(ShardedOwner::new());
}

#[test]
fn unregister_waits_membarrier() {
    unregister_waits(MembarrierOwner::new());
}

/// More live threads than per-thread counters: the overflow path still
/// counts correctly, and indices are recycled when threads exit.
#[test]
fn membarrier_owner_overflow_and_recycling() {
    static OWNER: MembarrierOwner = MembarrierOwner::new();
    let n = MAX_THREADS + 16;
    let held = Barrier::new(n + 1);
    let done = Barrier::new(n + 1);
    thread::scope(|s| {
        for _ in 0..n {
            s.spawn(|| {
                assert!(OWNER.try_get());
                held.wait();
                done.wait();
                OWNER.put();
            });
        }
        held.wait();
        OWNER.revoke();
        assert!(!OWNER.drained(), "drained with {n} references held");
        assert!(!OWNER.try_get(), "get succeeded after revoke");
        done.wait();
    });
    assert!(OWNER.drained());
    OWNER.reinstate();
    // Sequential short-lived threads reuse indices.
    for _ in 0..(2 * MAX_THREADS) {
        thread::spawn(|| {
            assert!(OWNER.try_get());
            OWNER.put();
        })
        .join()
        .unwrap();
    }
    OWNER.revoke();
    assert!(OWNER.drained());
    OWNER.reinstate();
}
