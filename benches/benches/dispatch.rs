// SPDX-License-Identifier: GPL-2.0

//! Dispatch cost: a plain function-pointer call (the floor) against
//! `Slot::dispatch` with each owner variant, at 1..N threads dispatching
//! concurrently (`EDU_BENCH_THREADS`, a comma list, default `1,2`); dispatch
//! while a removal is in progress; and the time an `unregister` takes to
//! drain while other threads dispatch.
//!
//! Multi-thread numbers are per dispatch in each thread: every thread times
//! its own loop of `iters` dispatches after a barrier, and the mean of the
//! per-thread times is reported.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use callback_core::owners::{membarrier_available, AtomicOwner, MembarrierOwner, ShardedOwner};
use callback_core::{Gate, Owner, Slot};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// The callback's context: read-only, so the callback itself never writes a
/// shared cache line and only the dispatch mechanism can cause contention.
struct Ctx {
    salt: u64,
}

static CTX: Ctx = Ctx { salt: 0x9e37 };

#[inline(never)]
fn callback(ctx: &'static Ctx, ev: u32) -> u64 {
    ctx.salt ^ u64::from(ev)
}

fn thread_counts() -> Vec<usize> {
    std::env::var("EDU_BENCH_THREADS")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|t| t.trim().parse().ok())
                .filter(|&t| t > 0)
                .collect::<Vec<usize>>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec![1, 2])
}

/// Runs `body(iters)` on `threads` threads started together; returns the
/// mean of the per-thread durations.
fn per_thread(threads: usize, iters: u64, body: &(dyn Fn(u64) + Sync)) -> Duration {
    if threads == 1 {
        let t0 = Instant::now();
        body(iters);
        return t0.elapsed();
    }
    let barrier = Barrier::new(threads);
    let total: Duration = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let t0 = Instant::now();
                    body(iters);
                    t0.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total / threads as u32
}

fn floor_loop(iters: u64) {
    let f: fn(&'static Ctx, u32) -> u64 = black_box(callback);
    let ctx = black_box(&CTX);
    for i in 0..iters {
        black_box(f(ctx, black_box(i as u32)));
    }
}

fn dispatch_loop<G: Gate, O: Owner>(slot: &Slot<G, O, Ctx, u64>, iters: u64) {
    for i in 0..iters {
        black_box(slot.dispatch(black_box(i as u32)).ok());
    }
}

/// A registered slot with gate `G` and a leaked owner `O`.
fn registered<G: Gate, O: Owner + 'static>(gate: G, owner: O) -> Slot<G, O, Ctx, u64> {
    let slot = Slot::new(gate);
    let owner: &'static O = Box::leak(Box::new(owner));
    slot.register(callback, &CTX, owner).unwrap();
    slot
}

fn bench_dispatch(c: &mut Criterion) {
    eprintln!(
        "MembarrierOwner mode: {}",
        if membarrier_available() {
            "membarrier (readers use a compiler fence)"
        } else {
            "fallback (readers use fence(SeqCst))"
        }
    );
    let atomic = registered(AtomicOwner::new(), AtomicOwner::new());
    let sharded = registered(ShardedOwner::new(), ShardedOwner::new());
    let membarrier = registered(MembarrierOwner::new(), MembarrierOwner::new());
    // Kernel-like: a scalable slot gate, but the module refcount as owner.
    let mb_gate_atomic_owner = registered(MembarrierOwner::new(), AtomicOwner::new());

    let mut g = c.benchmark_group("dispatch");
    for threads in thread_counts() {
        g.bench_function(BenchmarkId::new("fnptr", threads), |b| {
            b.iter_custom(|iters| per_thread(threads, iters, &floor_loop))
        });
        g.bench_function(BenchmarkId::new("atomic", threads), |b| {
            b.iter_custom(|iters| per_thread(threads, iters, &|n| dispatch_loop(&atomic, n)))
        });
        g.bench_function(BenchmarkId::new("sharded", threads), |b| {
            b.iter_custom(|iters| per_thread(threads, iters, &|n| dispatch_loop(&sharded, n)))
        });
        g.bench_function(BenchmarkId::new("membarrier", threads), |b| {
            b.iter_custom(|iters| per_thread(threads, iters, &|n| dispatch_loop(&membarrier, n)))
        });
        g.bench_function(BenchmarkId::new("mb-gate+atomic-owner", threads), |b| {
            b.iter_custom(|iters| {
                per_thread(threads, iters, &|n| dispatch_loop(&mb_gate_atomic_owner, n))
            })
        });
    }
    g.finish();
}

/// Context for the removal benchmarks: call number 0 blocks until released.
struct BlockCtx {
    entered: AtomicBool,
    release: AtomicBool,
    calls: AtomicU64,
}

fn blocking_callback(ctx: &'static BlockCtx, ev: u32) -> u64 {
    ctx.calls.fetch_add(1, Ordering::Relaxed);
    if ev == u32::MAX {
        ctx.entered.store(true, Ordering::SeqCst);
        // Sleep rather than spin: the machine may have fewer real CPUs than
        // threads, and a spinner would steal time from the measured thread.
        while !ctx.release.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_micros(200));
        }
    }
    u64::from(ev)
}

/// Dispatch on a slot whose removal is in progress: one call is in flight
/// (blocked), an `unregister` is waiting for it, and the measured thread's
/// dispatches must fail fast at the revoked gate.
fn removing<G: Gate + Send + Sync, O: Owner + 'static>(
    c: &mut Criterion,
    name: &str,
    gate: G,
    owner: O,
) {
    let ctx: &'static BlockCtx = Box::leak(Box::new(BlockCtx {
        entered: AtomicBool::new(false),
        release: AtomicBool::new(false),
        calls: AtomicU64::new(0),
    }));
    let owner: &'static O = Box::leak(Box::new(owner));
    let slot: Slot<G, O, BlockCtx, u64> = Slot::new(gate);
    slot.register(blocking_callback, ctx, owner).unwrap();
    thread::scope(|s| {
        s.spawn(|| slot.dispatch(u32::MAX));
        while !ctx.entered.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        let unregisterer = s.spawn(|| slot.unregister(|| thread::sleep(Duration::from_micros(50))));
        while slot.dispatch(0).is_ok() {
            thread::yield_now();
        }
        let mut g = c.benchmark_group("removing");
        g.bench_function(BenchmarkId::new(name, 1), |b| {
            b.iter(|| {
                let r = slot.dispatch(black_box(1));
                debug_assert!(r.is_err());
                black_box(r.ok())
            })
        });
        g.finish();
        ctx.release.store(true, Ordering::SeqCst);
        unregisterer.join().unwrap().unwrap();
    });
}

fn bench_removing(c: &mut Criterion) {
    removing(c, "atomic", AtomicOwner::new(), AtomicOwner::new());
    removing(c, "sharded", ShardedOwner::new(), ShardedOwner::new());
    removing(
        c,
        "membarrier",
        MembarrierOwner::new(),
        MembarrierOwner::new(),
    );
}

/// Time for `unregister` to revoke and drain while `threads - 1` other
/// threads dispatch continuously (each sample re-registers first, untimed).
fn unregister_under_load<G: Gate + Send + Sync, O: Owner + 'static>(
    c: &mut Criterion,
    name: &str,
    threads: usize,
    gate: G,
    owner: O,
) {
    let owner: &'static O = Box::leak(Box::new(owner));
    let slot: Slot<G, O, Ctx, u64> = Slot::new(gate);
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    for i in 0..64 {
                        black_box(slot.dispatch(i).ok());
                    }
                }
            });
        }
        let mut g = c.benchmark_group("unregister");
        g.bench_function(BenchmarkId::new(name, threads), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    slot.register(callback, &CTX, owner).unwrap();
                    // Let the loaders see it registered.
                    for _ in 0..100 {
                        std::hint::spin_loop();
                    }
                    let t0 = Instant::now();
                    slot.unregister(std::hint::spin_loop).unwrap();
                    total += t0.elapsed();
                }
                total
            })
        });
        g.finish();
        stop.store(true, Ordering::Relaxed);
    });
}

fn bench_unregister(c: &mut Criterion) {
    for threads in thread_counts() {
        unregister_under_load(c, "atomic", threads, AtomicOwner::new(), AtomicOwner::new());
        unregister_under_load(
            c,
            "sharded",
            threads,
            ShardedOwner::new(),
            ShardedOwner::new(),
        );
        unregister_under_load(
            c,
            "membarrier",
            threads,
            MembarrierOwner::new(),
            MembarrierOwner::new(),
        );
    }
}

criterion_group!(benches, bench_dispatch, bench_removing, bench_unregister);
criterion_main!(benches);
