// SPDX-License-Identifier: GPL-2.0

//! Model-based test: random single-threaded sequences of reserve / activate /
//! cancel / dispatch / unregister / owner-going operations, checked step by
//! step against a trivial reference model, for every owner variant.

// Under `--cfg loom` only `tests/loom.rs` runs (loom's atomics are not `const`).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicU64, Ordering};

use callback_core::owners::{AtomicOwner, MembarrierOwner, ShardedOwner};
use callback_core::{Busy, Gate, NotRegistered, Reservation, Slot, SlotState};

struct Ctx {
    id: u64,
    calls: AtomicU64,
}

fn cb_a(ctx: &'static Ctx, ev: u32) -> u64 {
    ctx.calls.fetch_add(1, Ordering::Relaxed);
    ctx.id * 1000 + u64::from(ev)
}

fn cb_b(ctx: &'static Ctx, ev: u32) -> u64 {
    ctx.calls.fetch_add(1, Ordering::Relaxed);
    ctx.id * 7 + u64::from(ev) * 3
}

/// What `CALLBACKS[cb]` returns, computed independently.
fn expected(cb: usize, id: u64, ev: u32) -> u64 {
    if cb == 0 {
        id * 1000 + u64::from(ev)
    } else {
        id * 7 + u64::from(ev) * 3
    }
}

const CALLBACKS: [fn(&'static Ctx, u32) -> u64; 2] = [cb_a, cb_b];

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Model {
    Empty,
    Reserved,
    Active { cb: usize, ctx: usize },
}

/// Counts of what the run exercised, so the test can assert coverage.
#[derive(Default, Debug)]
struct Coverage {
    calls: u64,
    refused_by_owner: u64,
    busy: u64,
    unregistered: u64,
    cancelled: u64,
}

fn run_model<T: Gate + 'static>(make: impl Fn() -> T, seed: u64, steps: usize, cov: &mut Coverage) {
    let slot: Slot<T, T, Ctx, u64> = Slot::new(make());
    let other: Slot<T, T, Ctx, u64> = Slot::new(make());
    let owner: &'static T = Box::leak(Box::new(make()));
    let ctxs: Vec<&'static Ctx> = (0..3)
        .map(|id| {
            &*Box::leak(Box::new(Ctx {
                id,
                calls: AtomicU64::new(0),
            }))
        })
        .collect();
    let mut expected_calls = [0u64; 3];
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut model = Model::Empty;
    let mut held: Option<Reservation<'_, T, T, Ctx, u64>> = None;
    let mut owner_going = false;

    for step in 0..steps {
        match rng.below(9) {
            0 => match slot.reserve() {
                Ok(r) => {
                    assert_eq!(
                        model,
                        Model::Empty,
                        "seed {seed} step {step}: reserve succeeded"
                    );
                    model = Model::Reserved;
                    held = Some(r);
                }
                Err(Busy) => {
                    assert_ne!(
                        model,
                        Model::Empty,
                        "seed {seed} step {step}: reserve failed"
                    );
                    cov.busy += 1;
                }
            },
            1 | 2 => {
                if let Some(r) = held.take() {
                    let cb = rng.below(2) as usize;
                    let ctx = rng.below(3) as usize;
                    if rng.below(2) == 0 {
                        r.activate(CALLBACKS[cb], ctxs[ctx], owner);
                    } else {
                        // Activating through the wrong slot hands it back.
                        let r = other
                            .activate(r, CALLBACKS[cb], ctxs[ctx], owner)
                            .expect_err("wrong slot accepted the reservation");
                        assert_eq!(other.state(), SlotState::Empty);
                        assert!(slot.activate(r, CALLBACKS[cb], ctxs[ctx], owner).is_ok());
                    }
                    model = Model::Active { cb, ctx };
                }
            }
            3 => {
                if let Some(r) = held.take() {
                    match rng.below(3) {
                        0 => r.cancel(),
                        1 => drop(r),
                        _ => assert!(slot.cancel(r).is_ok()),
                    }
                    model = Model::Empty;
                    cov.cancelled += 1;
                }
            }
            4..=6 => {
                let ev = rng.below(1000) as u32;
                let got = slot.dispatch(ev);
                match model {
                    Model::Active { cb, ctx } if !owner_going => {
                        let want = expected(cb, ctxs[ctx].id, ev);
                        assert_eq!(got, Ok(want), "seed {seed} step {step}");
                        expected_calls[ctx] += 1;
                        cov.calls += 1;
                    }
                    Model::Active { .. } => {
                        assert_eq!(
                            got,
                            Err(NotRegistered),
                            "seed {seed} step {step}: owner going"
                        );
                        cov.refused_by_owner += 1;
                    }
                    _ => assert_eq!(got, Err(NotRegistered), "seed {seed} step {step}"),
                }
            }
            7 => {
                let got = slot.unregister(std::thread::yield_now);
                if matches!(model, Model::Active { .. }) {
                    assert_eq!(got, Ok(()), "seed {seed} step {step}");
                    model = Model::Empty;
                    cov.unregistered += 1;
                } else {
                    assert_eq!(got, Err(NotRegistered), "seed {seed} step {step}");
                }
            }
            _ => {
                // The owner (module) starts or aborts going away.
                if owner_going {
                    assert!(
                        owner.drained(),
                        "seed {seed} step {step}: owner leaked a reference"
                    );
                    owner.reinstate();
                } else {
                    owner.revoke();
                }
                owner_going = !owner_going;
            }
        }
        let want_state = match model {
            Model::Empty => SlotState::Empty,
            Model::Reserved => SlotState::Reserved,
            Model::Active { .. } => SlotState::Active,
        };
        assert_eq!(slot.state(), want_state, "seed {seed} step {step}");
        for (c, want) in ctxs.iter().zip(expected_calls) {
            assert_eq!(
                c.calls.load(Ordering::Relaxed),
                want,
                "seed {seed} step {step}"
            );
        }
    }
    drop(held);
    // Every reference the dispatcher took on the owner was put again.
    if !owner_going {
        owner.revoke();
    }
    assert!(owner.drained(), "seed {seed}: owner not drained at the end");
    owner.reinstate();
    assert!(owner.try_get(), "seed {seed}: owner not reinstated");
    owner.put();
}

fn run_all<T: Gate + 'static>(make: impl Fn() -> T + Copy) {
    let mut cov = Coverage::default();
    for seed in 0..150 {
        run_model(make, seed, 400, &mut cov);
    }
    assert!(cov.calls > 1000, "{cov:?}");
    assert!(cov.refused_by_owner > 100, "{cov:?}");
    assert!(cov.busy > 100, "{cov:?}");
    assert!(cov.unregistered > 100, "{cov:?}");
    assert!(cov.cancelled > 100, "{cov:?}");
}

#[test]
fn model_atomic_owner() {
    run_all(AtomicOwner::new);
}

#[test]
fn model_sharded_owner() {
    run_all(ShardedOwner::new);
}

#[test]
fn model_membarrier_owner() {
    run_all(MembarrierOwner::new);
}

#[test]
fn reserve_is_exclusive_and_not_called() {
    static SLOT: Slot<AtomicOwner, AtomicOwner, Ctx, u64> = Slot::new(AtomicOwner::new());
    static OWNER: AtomicOwner = AtomicOwner::new();
    static CTX: Ctx = Ctx {
        id: 9,
        calls: AtomicU64::new(0),
    };
    let r = SLOT.reserve().expect("empty slot");
    assert_eq!(SLOT.reserve().map(drop), Err(Busy));
    assert_eq!(SLOT.dispatch(1), Err(NotRegistered));
    assert_eq!(SLOT.unregister(std::thread::yield_now), Err(NotRegistered));
    assert_eq!(SLOT.state(), SlotState::Reserved);
    r.activate(cb_a, &CTX, &OWNER);
    assert_eq!(SLOT.reserve().map(drop), Err(Busy));
    assert_eq!(SLOT.dispatch(2), Ok(9002));
    assert_eq!(SLOT.register(cb_b, &CTX, &OWNER), Err(Busy));
    assert_eq!(SLOT.unregister(std::thread::yield_now), Ok(()));
    assert_eq!(SLOT.dispatch(2), Err(NotRegistered));
    assert_eq!(CTX.calls.load(Ordering::Relaxed), 1);
    assert_eq!(OWNER.count(), 1, "only the base reference is left");
    assert_eq!(SLOT.register(cb_b, &CTX, &OWNER), Ok(()));
    assert_eq!(SLOT.dispatch(1), Ok(66));
}
