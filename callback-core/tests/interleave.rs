// SPDX-License-Identifier: GPL-2.0

//! Exhaustive interleaving check of the real `Slot` code on small scenarios.
//!
//! loom does not fit `dispatch.rs` cleanly (it would need loom's atomics and
//! `UnsafeCell` inside the file, which must stay `core`-only for the kernel),
//! so this is a hand-written deterministic scheduler instead: test threads
//! run one at a time and hand control back at *yield points*, placed before
//! every gate/owner operation, inside the callback and in `relax`. A
//! depth-first search replays every schedule. Between two yield points a
//! thread runs atomically, so the slot's own state accesses are interleaved
//! at gate/owner granularity, under sequential consistency (weak-memory
//! effects are argued in `dispatch.rs`, not checked here).
//!
//! A thread that yields from `relax` (spinning) is only scheduled again after
//! another thread has made progress (a step that is not a failed spin
//! iteration), which keeps the search finite.

// Under `--cfg loom` only `tests/loom.rs` runs (loom's atomics are not `const`).
#![cfg(not(loom))]

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use callback_core::owners::AtomicOwner;
use callback_core::{Gate, NotRegistered, Owner, Slot, SlotState};

mod common;
use common::LyingGate;

#[derive(Default)]
struct State {
    /// The thread allowed to run, if any.
    current: Option<usize>,
    parked: Vec<bool>,
    /// Parked in `relax` without any progress since.
    spinning: Vec<bool>,
    resumed_from_spin: Vec<bool>,
    done: Vec<bool>,
}

#[derive(Default)]
struct Sched {
    st: Mutex<State>,
    cv: Condvar,
}

thread_local! {
    static ME: RefCell<Option<(Arc<Sched>, usize)>> = const { RefCell::new(None) };
}

/// Hands control back to the scheduler (no-op outside scheduled threads).
fn yield_point(spin: bool) {
    let me = ME.with(|m| m.borrow().clone());
    let Some((s, me)) = me else { return };
    let mut st = s.st.lock().unwrap_or_else(|e| e.into_inner());
    st.parked[me] = true;
    // A thread that resumed from a spin and spins again made no progress;
    // any other step is progress and makes the spinners eligible again.
    if !(spin && st.resumed_from_spin[me]) {
        st.spinning.iter_mut().for_each(|s| *s = false);
    }
    st.spinning[me] = spin;
    st.current = None;
    s.cv.notify_all();
    while st.current != Some(me) {
        st = s.cv.wait(st).unwrap_or_else(|e| e.into_inner());
    }
    st.parked[me] = false;
    st.resumed_from_spin[me] = spin;
}

/// A gate/owner that yields before each operation.
struct TestGate(AtomicOwner);

// SAFETY: delegates to `AtomicOwner`; yielding does not change semantics.
unsafe impl Owner for TestGate {
    fn try_get(&self) -> bool {
        yield_point(false);
        self.0.try_get()
    }
    fn put(&self) {
        yield_point(false);
        self.0.put()
    }
}

// SAFETY: delegates to `AtomicOwner`.
unsafe impl Gate for TestGate {
    fn revoke(&self) {
        yield_point(false);
        self.0.revoke()
    }
    fn drained(&self) -> bool {
        // No yield: the drain loop yields in `relax`, so a poll that fails
        // is exactly one spin step.
        self.0.drained()
    }
    fn reinstate(&self) {
        yield_point(false);
        self.0.reinstate()
    }
}

/// The negative control, with the same yield points as [`TestGate`].
struct YieldingLyingGate(LyingGate);

// SAFETY: NOT upheld, on purpose (see `LyingGate`); the scheduler runs one thread at a time, so
// here the broken drain only lets calls run after `unregister` returned.
unsafe impl Owner for YieldingLyingGate {
    fn try_get(&self) -> bool {
        yield_point(false);
        self.0.try_get()
    }
    fn put(&self) {
        yield_point(false);
        self.0.put()
    }
}

// SAFETY: see above.
unsafe impl Gate for YieldingLyingGate {
    fn revoke(&self) {
        yield_point(false);
        self.0.revoke()
    }
    fn drained(&self) -> bool {
        self.0.drained()
    }
    fn reinstate(&self) {
        yield_point(false);
        self.0.reinstate()
    }
}

fn relax() {
    yield_point(true);
}

/// Runs `bodies` as scheduled threads following `schedule` (a prefix of
/// choices, extended with 0s); returns the choices made and the number of
/// options at each.
fn run_once(bodies: Vec<Box<dyn FnOnce() + Send + '_>>, schedule: &[usize]) -> Vec<(usize, usize)> {
    let n = bodies.len();
    let sched = Arc::new(Sched::default());
    {
        let mut st = sched.st.lock().unwrap();
        st.parked = vec![false; n];
        st.spinning = vec![false; n];
        st.resumed_from_spin = vec![false; n];
        st.done = vec![false; n];
    }
    let mut trace = Vec::new();
    thread::scope(|s| {
        for (i, body) in bodies.into_iter().enumerate() {
            let sched = Arc::clone(&sched);
            s.spawn(move || {
                /// Marks the thread done even if its body panics, so a
                /// failing check fails the test instead of hanging it.
                struct Done(Arc<Sched>, usize);
                impl Drop for Done {
                    fn drop(&mut self) {
                        ME.with(|m| *m.borrow_mut() = None);
                        let mut st = self.0.st.lock().unwrap_or_else(|e| e.into_inner());
                        st.done[self.1] = true;
                        st.spinning.iter_mut().for_each(|s| *s = false);
                        st.current = None;
                        self.0.cv.notify_all();
                    }
                }
                let _done = Done(Arc::clone(&sched), i);
                ME.with(|m| *m.borrow_mut() = Some((Arc::clone(&sched), i)));
                yield_point(false);
                body();
            });
        }
        let mut st = sched.st.lock().unwrap();
        loop {
            while st.current.is_some() || (0..n).any(|i| !st.done[i] && !st.parked[i]) {
                let (g, to) = sched
                    .cv
                    .wait_timeout(st, std::time::Duration::from_secs(10))
                    .unwrap_or_else(|e| e.into_inner());
                st = g;
                if to.timed_out() {
                    eprintln!(
                        "scheduler stuck: current {:?} parked {:?} spinning {:?} done {:?} trace {:?}",
                        st.current, st.parked, st.spinning, st.done, trace
                    );
                    std::process::abort();
                }
            }
            let runnable: Vec<usize> = (0..n).filter(|&i| !st.done[i]).collect();
            if runnable.is_empty() {
                break;
            }
            let fresh: Vec<usize> = runnable
                .iter()
                .copied()
                .filter(|&i| !st.spinning[i])
                .collect();
            if fresh.is_empty() {
                // Every live thread polled again without anyone moving.
                eprintln!("livelock: all threads spinning, trace {trace:?}");
                std::process::abort();
            }
            let options = fresh;
            let k = trace.len();
            if k >= 10_000 {
                // Parked threads cannot be unwound: fail loudly, not hang.
                eprintln!("livelock: schedule longer than 10000 steps");
                std::process::abort();
            }
            let c = schedule.get(k).copied().unwrap_or(0);
            trace.push((c, options.len()));
            let next = options[c];
            st.current = Some(next);
            sched.cv.notify_all();
        }
    });
    trace
}

/// Depth-first search over all schedules; `make` builds the threads of one
/// execution and returns a check run after it. Returns the number of
/// executions.
fn explore<'a>(
    mut make: impl FnMut() -> (Vec<Box<dyn FnOnce() + Send + 'a>>, Box<dyn FnOnce() + 'a>),
) -> usize {
    let mut schedule: Vec<usize> = Vec::new();
    let mut runs = 0;
    loop {
        let (bodies, check) = make();
        let trace = run_once(bodies, &schedule);
        check();
        runs += 1;
        if std::env::var_os("INTERLEAVE_PROGRESS").is_some() && runs % 100 == 0 {
            eprintln!("{runs} schedules, last trace length {}", schedule.len());
        }
        // Next schedule: bump the deepest choice that has an alternative.
        let mut t = trace;
        loop {
            match t.pop() {
                None => return runs,
                Some((c, n)) if c + 1 < n => {
                    schedule = t.iter().map(|&(c, _)| c).collect();
                    schedule.push(c + 1);
                    break;
                }
                Some(_) => {}
            }
        }
    }
}

struct Gen {
    id: u64,
    retired: AtomicBool,
    late: AtomicU64,
    calls: AtomicU64,
}

fn new_gen(id: u64) -> &'static Gen {
    Box::leak(Box::new(Gen {
        id,
        retired: AtomicBool::new(false),
        late: AtomicU64::new(0),
        calls: AtomicU64::new(0),
    }))
}

fn on_event(g: &'static Gen, _ev: u32) -> u64 {
    if g.retired.load(Ordering::SeqCst) {
        g.late.fetch_add(1, Ordering::SeqCst);
    }
    yield_point(false);
    if g.retired.load(Ordering::SeqCst) {
        g.late.fetch_add(1, Ordering::SeqCst);
    }
    g.calls.fetch_add(1, Ordering::SeqCst);
    g.id
}

type TestSlot = Slot<TestGate, TestGate, Gen, u64>;

fn leak_owner() -> &'static TestGate {
    Box::leak(Box::new(TestGate(AtomicOwner::new())))
}

fn check_drained<G>(slot: &Slot<G, TestGate, Gen, u64>, owner: &TestGate) {
    assert_eq!(slot.state(), SlotState::Empty);
    // Every get was put (the base reference is all that is left).
    assert_eq!(owner.0.count(), 1, "owner reference leaked");
}

/// One dispatch races one unregister, on a slot guarded by `gate()`. Returns the number of
/// schedules explored and how many of them let the call run after `unregister` returned.
fn dispatch_vs_unregister_on<G: Gate + Send + 'static>(gate: fn() -> G) -> (usize, usize) {
    let failing = &*Box::leak(Box::new(AtomicU64::new(0)));
    let runs = explore(|| {
        let slot: &'static Slot<G, TestGate, Gen, u64> = Box::leak(Box::new(Slot::new(gate())));
        let owner = leak_owner();
        let g1 = new_gen(1);
        slot.register(on_event, g1, owner).unwrap();
        let result: &'static Mutex<Option<Result<u64, NotRegistered>>> =
            Box::leak(Box::new(Mutex::new(None)));
        let bodies: Vec<Box<dyn FnOnce() + Send>> = vec![
            Box::new(move || *result.lock().unwrap() = Some(slot.dispatch(7))),
            Box::new(move || {
                assert_eq!(slot.unregister(relax), Ok(()));
                g1.retired.store(true, Ordering::SeqCst);
            }),
        ];
        let check = Box::new(move || {
            if g1.late.load(Ordering::SeqCst) > 0 {
                // A call after unregister returned: a failing schedule.
                failing.fetch_add(1, Ordering::SeqCst);
                return;
            }
            let called = g1.calls.load(Ordering::SeqCst);
            match result.lock().unwrap().unwrap() {
                Ok(1) => assert_eq!(called, 1),
                Err(NotRegistered) => assert_eq!(called, 0),
                other => panic!("unexpected {other:?}"),
            }
            check_drained(slot, owner);
        });
        (bodies, check)
    });
    (runs, failing.load(Ordering::SeqCst) as usize)
}

/// One dispatch races one unregister.
#[test]
fn dispatch_vs_unregister() {
    let (runs, failing) = dispatch_vs_unregister_on(|| TestGate(AtomicOwner::new()));
    assert_eq!(
        failing, 0,
        "call after unregister returned in {failing} schedules"
    );
    assert!(runs > 20, "only {runs} schedules");
    eprintln!("dispatch_vs_unregister: {runs} schedules");
}

/// The negative control: with a gate whose `drained()` lies, the search must find schedules
/// where the call runs after `unregister` returned.
#[test]
fn dispatch_vs_unregister_catches_a_lying_gate() {
    let (runs, failing) = dispatch_vs_unregister_on(|| YieldingLyingGate(LyingGate::new()));
    eprintln!("lying gate: {failing} of {runs} schedules fail");
    assert!(failing > 0, "no failing schedule among {runs}");
}

/// Two dispatches race an unregister followed by a re-registration.
#[test]
fn dispatches_vs_reregister() {
    let runs = explore(|| {
        let slot: &'static TestSlot = Box::leak(Box::new(Slot::new(TestGate(AtomicOwner::new()))));
        let owner = leak_owner();
        let (g1, g2) = (new_gen(1), new_gen(2));
        slot.register(on_event, g1, owner).unwrap();
        let results: &'static Mutex<Vec<Result<u64, NotRegistered>>> =
            Box::leak(Box::new(Mutex::new(Vec::new())));
        let bodies: Vec<Box<dyn FnOnce() + Send>> = vec![
            Box::new(move || {
                let a = slot.dispatch(1);
                let b = slot.dispatch(2);
                results.lock().unwrap().extend([a, b]);
            }),
            Box::new(move || {
                assert_eq!(slot.unregister(relax), Ok(()));
                g1.retired.store(true, Ordering::SeqCst);
                slot.register(on_event, g2, owner).unwrap();
            }),
        ];
        let check = Box::new(move || {
            assert_eq!(
                g1.late.load(Ordering::SeqCst),
                0,
                "g1 called after unregister returned"
            );
            let r = results.lock().unwrap().clone();
            let ok = r.iter().filter(|r| r.is_ok()).count() as u64;
            let calls = g1.calls.load(Ordering::SeqCst) + g2.calls.load(Ordering::SeqCst);
            assert_eq!(ok, calls);
            // Generations are seen in order: never g2 then g1.
            assert!(!(r[0] == Ok(2) && r[1] == Ok(1)), "{r:?}");
            assert_eq!(slot.unregister(relax), Ok(()));
            check_drained(slot, owner);
        });
        (bodies, check)
    });
    assert!(runs > 50, "only {runs} schedules");
    eprintln!("dispatches_vs_reregister: {runs} schedules");
}

/// A dispatch races two unregisters: exactly one succeeds, and both return
/// only once no call can run any more.
#[test]
fn dispatch_vs_double_unregister() {
    let runs = explore(|| {
        let slot: &'static TestSlot = Box::leak(Box::new(Slot::new(TestGate(AtomicOwner::new()))));
        let owner = leak_owner();
        let g1 = new_gen(1);
        slot.register(on_event, g1, owner).unwrap();
        let unregs = &*Box::leak(Box::new(AtomicU64::new(0)));
        let unregister = move || {
            if slot.unregister(relax).is_ok() {
                unregs.fetch_add(1, Ordering::SeqCst);
            }
            // Whoever won, g1 is gone once either call returns.
            g1.retired.store(true, Ordering::SeqCst);
        };
        let bodies: Vec<Box<dyn FnOnce() + Send>> = vec![
            Box::new(move || {
                let _ = slot.dispatch(1);
            }),
            Box::new(unregister),
            Box::new(unregister),
        ];
        let check = Box::new(move || {
            assert_eq!(
                g1.late.load(Ordering::SeqCst),
                0,
                "g1 called after unregister returned"
            );
            assert_eq!(
                unregs.load(Ordering::SeqCst),
                1,
                "exactly one unregister wins"
            );
            check_drained(slot, owner);
        });
        (bodies, check)
    });
    assert!(runs > 50, "only {runs} schedules");
    eprintln!("dispatch_vs_double_unregister: {runs} schedules");
}

/// The owner (module) starts going away while a dispatch is in progress:
/// once `revoke` returned, no new call takes the owner.
#[test]
fn dispatch_vs_owner_going() {
    let runs = explore(|| {
        let slot: &'static TestSlot = Box::leak(Box::new(Slot::new(TestGate(AtomicOwner::new()))));
        let owner = leak_owner();
        let g1 = new_gen(1);
        slot.register(on_event, g1, owner).unwrap();
        let going = &*Box::leak(Box::new(AtomicBool::new(false)));
        let entered_after_going = &*Box::leak(Box::new(AtomicU64::new(0)));
        fn call(slot: &TestSlot, going: &AtomicBool, bad: &AtomicU64) {
            let was_going = going.load(Ordering::SeqCst);
            if slot.dispatch(3).is_ok() && was_going {
                bad.fetch_add(1, Ordering::SeqCst);
            }
        }
        let bodies: Vec<Box<dyn FnOnce() + Send>> = vec![
            Box::new(move || call(slot, going, entered_after_going)),
            Box::new(move || {
                owner.revoke();
                going.store(true, Ordering::SeqCst);
                assert_eq!(slot.unregister(relax), Ok(()));
                g1.retired.store(true, Ordering::SeqCst);
                while !owner.drained() {
                    relax();
                }
                owner.reinstate();
            }),
        ];
        let check = Box::new(move || {
            assert_eq!(
                entered_after_going.load(Ordering::SeqCst),
                0,
                "owner taken after going"
            );
            assert_eq!(g1.late.load(Ordering::SeqCst), 0);
            check_drained(slot, owner);
        });
        (bodies, check)
    });
    assert!(runs > 10, "only {runs} schedules");
    eprintln!("dispatch_vs_owner_going: {runs} schedules");
}
