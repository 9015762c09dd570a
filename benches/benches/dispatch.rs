// SPDX-License-Identifier: GPL-2.0

//! Dispatch cost: a plain function-pointer call (the floor) against `Slot::dispatch` with each
//! owner variant and `DomainSlot::dispatch` (the merged guard) in both of its modes, at 1..N
//! threads dispatching concurrently (`EDU_BENCH_THREADS`, a comma list, default `1,2`);
//! dispatch while a removal is in progress; and the latency of `unregister` while other
//! threads dispatch (median and max, written to `target/bench/removal.tsv`).
//!
//! Honest thread counts: the threads of one sample start together at a barrier and each times
//! its own loop twice, by the wall clock and by its own CPU clock
//! (`CLOCK_THREAD_CPUTIME_ID`). The reported time per dispatch is the mean over the threads of
//! their CPU time, so time a thread spent descheduled (the machine may be shared) does not
//! count as dispatch cost; whether the threads really ran at the same time is recorded per
//! benchmark in `target/bench/overlap.tsv`: the fraction of the sample during which all
//! threads' loops were running (wall clock), and the smallest ratio of CPU time to wall time
//! among them (1.0: never descheduled). Every variant's hot words are on cache lines of their
//! own (`Padded`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use callback_core::domain::{EpochDomain, LiveFlag};
use callback_core::owners::{
    membarrier_available, AtomicOwner, CachePadded, MembarrierOwner, ShardedOwner,
};
use callback_core::{DomainSlot, Gate, Owner, Slot};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// The callback's context: read-only, so the callback itself never writes a shared cache line
/// and only the dispatch mechanism can cause contention.
struct Ctx {
    salt: u64,
}

static CTX: Ctx = Ctx { salt: 0x9e37 };

#[inline(never)]
fn callback(ctx: &'static Ctx, ev: u32) -> u64 {
    ctx.salt ^ u64::from(ev)
}

/// A gate or owner on cache lines of its own (`CachePadded` aligns to 128 bytes), so that the
/// slot's state word and neighbouring data never share its line.
struct Padded<T>(CachePadded<T>);

impl<T> Padded<T> {
    fn new(t: T) -> Self {
        Padded(CachePadded(t))
    }
}

// SAFETY: delegates every operation to the wrapped owner.
unsafe impl<T: Owner> Owner for Padded<T> {
    #[inline]
    fn try_get(&self) -> bool {
        self.0 .0.try_get()
    }
    #[inline]
    fn put(&self) {
        self.0 .0.put()
    }
}

// SAFETY: delegates every operation to the wrapped gate.
unsafe impl<T: Gate> Gate for Padded<T> {
    fn revoke(&self) {
        self.0 .0.revoke()
    }
    fn drained(&self) -> bool {
        self.0 .0.drained()
    }
    fn reinstate(&self) {
        self.0 .0.reinstate()
    }
}

/// The domains of the merged-guard variants: membarrier when available, and the fallback.
static DOMAIN: EpochDomain = EpochDomain::new();
static DOMAIN_FENCES: EpochDomain = EpochDomain::with_fences();

/// What the benchmarks need of a slot, for both slot types.
trait Bench: Sync {
    fn dispatch(&self, ev: u32) -> Option<u64>;
    /// `iters` dispatches in a loop compiled for this very type: one virtual call per sample,
    /// none per dispatch.
    fn run(&self, iters: u64);
    fn register(&self);
    fn unregister(&self);
}

/// A `Slot` with its owner.
struct SlotBench<G: 'static, O: 'static> {
    slot: Slot<Padded<G>, Padded<O>, Ctx, u64>,
    owner: &'static Padded<O>,
}

impl<G: Gate, O: Owner> Bench for SlotBench<G, O> {
    #[inline]
    fn dispatch(&self, ev: u32) -> Option<u64> {
        self.slot.dispatch(ev).ok()
    }
    fn run(&self, iters: u64) {
        dispatch_loop(self, iters)
    }
    fn register(&self) {
        self.slot.register(callback, &CTX, self.owner).unwrap();
    }
    fn unregister(&self) {
        self.slot.unregister(std::hint::spin_loop).unwrap();
    }
}

fn slot<G: Gate, O: Owner>(gate: G, owner: O) -> SlotBench<G, O> {
    let b = SlotBench {
        slot: Slot::new(Padded::new(gate)),
        owner: Box::leak(Box::new(Padded::new(owner))),
    };
    b.register();
    b
}

/// A `DomainSlot` with its owner.
struct DomainBench {
    slot: DomainSlot<'static, EpochDomain, LiveFlag, Ctx, u64>,
    owner: &'static LiveFlag,
}

impl Bench for DomainBench {
    #[inline]
    fn dispatch(&self, ev: u32) -> Option<u64> {
        self.slot.dispatch(ev).ok()
    }
    fn run(&self, iters: u64) {
        dispatch_loop(self, iters)
    }
    fn register(&self) {
        self.slot.register(callback, &CTX, self.owner).unwrap();
    }
    fn unregister(&self) {
        self.slot.unregister(std::hint::spin_loop).unwrap();
    }
}

fn domain(d: &'static EpochDomain) -> DomainBench {
    let b = DomainBench {
        slot: DomainSlot::new(d),
        owner: Box::leak(Box::new(LiveFlag::new())),
    };
    b.register();
    b
}

/// Every variant, by name, in table order.
fn variants() -> Vec<(&'static str, Box<dyn Bench>)> {
    vec![
        (
            "atomic",
            Box::new(slot(AtomicOwner::new(), AtomicOwner::new())),
        ),
        (
            "sharded",
            Box::new(slot(ShardedOwner::new(), ShardedOwner::new())),
        ),
        (
            "membarrier",
            Box::new(slot(MembarrierOwner::new(), MembarrierOwner::new())),
        ),
        (
            "mb-gate+atomic-owner",
            Box::new(slot(MembarrierOwner::new(), AtomicOwner::new())),
        ),
        ("domain", Box::new(domain(&DOMAIN))),
        ("domain-fences", Box::new(domain(&DOMAIN_FENCES))),
    ]
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

/// This thread's CPU time.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// One thread's timed loop: wall-clock start and end, CPU time.
struct Run {
    start: Instant,
    end: Instant,
    cpu: Duration,
}

fn timed(iters: u64, body: &(dyn Fn(u64) + Sync)) -> Run {
    let c0 = thread_cpu_time();
    let start = Instant::now();
    body(iters);
    let end = Instant::now();
    Run {
        start,
        end,
        cpu: thread_cpu_time() - c0,
    }
}

/// Overlap bookkeeping per benchmark: (sum of overlap fractions, min CPU/wall, samples).
static OVERLAP: Mutex<BTreeMap<String, (f64, f64, u64)>> = Mutex::new(BTreeMap::new());

/// Runs `body(iters)` on `threads` threads started together at a barrier; returns the mean of
/// the per-thread CPU times and records how much the threads overlapped.
fn per_thread(name: &str, threads: usize, iters: u64, body: &(dyn Fn(u64) + Sync)) -> Duration {
    let runs: Vec<Run> = if threads == 1 {
        vec![timed(iters, body)]
    } else {
        let barrier = Barrier::new(threads);
        thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        timed(iters, body)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let first_end = runs.iter().map(|r| r.end).min().unwrap();
    let last_start = runs.iter().map(|r| r.start).max().unwrap();
    let span =
        runs.iter().map(|r| r.end).max().unwrap() - runs.iter().map(|r| r.start).min().unwrap();
    let all = first_end.saturating_duration_since(last_start);
    let overlap = all.as_secs_f64() / span.as_secs_f64().max(1e-12);
    let cpu_ratio = runs
        .iter()
        .map(|r| r.cpu.as_secs_f64() / (r.end - r.start).as_secs_f64().max(1e-12))
        .fold(f64::MAX, f64::min);
    let mut o = OVERLAP.lock().unwrap();
    let e = o
        .entry(format!("{name}\t{threads}"))
        .or_insert((0.0, f64::MAX, 0));
    e.0 += overlap;
    e.1 = e.1.min(cpu_ratio);
    e.2 += 1;
    runs.iter().map(|r| r.cpu).sum::<Duration>() / threads as u32
}

/// The floor. Out of line, like `dispatch_loop`, so that `asm.sh` finds the measured code.
#[inline(never)]
fn floor_loop(iters: u64) {
    let f: fn(&'static Ctx, u32) -> u64 = black_box(callback);
    let ctx = black_box(&CTX);
    for i in 0..iters {
        black_box(f(ctx, black_box(i as u32)));
    }
}

/// One variant's measured loop (out of line: one call per sample, and `asm.sh` finds it).
#[inline(never)]
fn dispatch_loop<B: Bench>(b: &B, iters: u64) {
    for i in 0..iters {
        black_box(b.dispatch(black_box(i as u32)));
    }
}

fn bench_dispatch(c: &mut Criterion) {
    eprintln!(
        "membarrier: {}",
        if membarrier_available() {
            "available (readers of MembarrierOwner and of `domain` use a compiler fence)"
        } else {
            "unavailable (readers use fence(SeqCst))"
        }
    );
    let variants = variants();
    let mut g = c.benchmark_group("dispatch");
    for threads in thread_counts() {
        g.bench_function(BenchmarkId::new("fnptr", threads), |b| {
            b.iter_custom(|iters| per_thread("fnptr", threads, iters, &floor_loop))
        });
        for (name, v) in &variants {
            let v: &dyn Bench = &**v;
            g.bench_function(BenchmarkId::new(*name, threads), |b| {
                b.iter_custom(|iters| per_thread(name, threads, iters, &|n| v.run(n)))
            });
        }
    }
    g.finish();
    write_overlap();
}

fn write_overlap() {
    let dir = out_dir();
    let mut f = std::fs::File::create(dir.join("overlap.tsv")).unwrap();
    writeln!(f, "variant\tthreads\tmean overlap\tmin cpu/wall").unwrap();
    for (k, (sum, min, n)) in OVERLAP.lock().unwrap().iter() {
        writeln!(f, "{k}\t{:.3}\t{:.3}", sum / *n as f64, min).unwrap();
    }
}

fn out_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap()
                .join("target")
        });
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
        // Sleep rather than spin: the machine may have fewer real CPUs than threads, and a
        // spinner would steal time from the measured thread.
        while !ctx.release.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_micros(200));
        }
    }
    u64::from(ev)
}

/// What the removal-in-progress benchmark needs of a slot.
trait Removing: Sync {
    fn register(&self, ctx: &'static BlockCtx);
    fn dispatch(&self, ev: u32) -> bool;
    fn unregister(&self);
}

impl<G: Gate, O: Owner> Removing
    for (
        Slot<Padded<G>, Padded<O>, BlockCtx, u64>,
        &'static Padded<O>,
    )
{
    fn register(&self, ctx: &'static BlockCtx) {
        self.0.register(blocking_callback, ctx, self.1).unwrap();
    }
    fn dispatch(&self, ev: u32) -> bool {
        self.0.dispatch(ev).is_ok()
    }
    fn unregister(&self) {
        self.0
            .unregister(|| thread::sleep(Duration::from_micros(50)))
            .unwrap();
    }
}

impl Removing
    for (
        DomainSlot<'static, EpochDomain, LiveFlag, BlockCtx, u64>,
        &'static LiveFlag,
    )
{
    fn register(&self, ctx: &'static BlockCtx) {
        self.0.register(blocking_callback, ctx, self.1).unwrap();
    }
    fn dispatch(&self, ev: u32) -> bool {
        self.0.dispatch(ev).is_ok()
    }
    fn unregister(&self) {
        self.0
            .unregister(|| thread::sleep(Duration::from_micros(50)))
            .unwrap();
    }
}

fn removing_slot<G: Gate + 'static, O: Owner + 'static>(gate: G, owner: O) -> Box<dyn Removing> {
    Box::new((
        Slot::new(Padded::new(gate)),
        &*Box::leak(Box::new(Padded::new(owner))),
    ))
}

fn removing_domain(d: &'static EpochDomain) -> Box<dyn Removing> {
    Box::new((DomainSlot::new(d), &*Box::leak(Box::new(LiveFlag::new()))))
}

/// Dispatch on a slot whose removal is in progress: one call is in flight (blocked), an
/// `unregister` is waiting for it, and the measured thread's dispatches must fail fast.
fn removing(c: &mut Criterion, name: &str, slot: Box<dyn Removing>) {
    let ctx: &'static BlockCtx = Box::leak(Box::new(BlockCtx {
        entered: AtomicBool::new(false),
        release: AtomicBool::new(false),
        calls: AtomicU64::new(0),
    }));
    let slot: &dyn Removing = &*slot;
    slot.register(ctx);
    thread::scope(|s| {
        s.spawn(|| slot.dispatch(u32::MAX));
        while !ctx.entered.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        let unregisterer = s.spawn(|| slot.unregister());
        while slot.dispatch(0) {
            thread::yield_now();
        }
        let mut g = c.benchmark_group("removing");
        g.bench_function(BenchmarkId::new(name, 1), |b| {
            b.iter(|| black_box(slot.dispatch(black_box(1))))
        });
        g.finish();
        ctx.release.store(true, Ordering::SeqCst);
        unregisterer.join().unwrap();
    });
}

fn bench_removing(c: &mut Criterion) {
    removing(
        c,
        "atomic",
        removing_slot(AtomicOwner::new(), AtomicOwner::new()),
    );
    removing(
        c,
        "sharded",
        removing_slot(ShardedOwner::new(), ShardedOwner::new()),
    );
    removing(
        c,
        "membarrier",
        removing_slot(MembarrierOwner::new(), MembarrierOwner::new()),
    );
    removing(
        c,
        "mb-gate+atomic-owner",
        removing_slot(MembarrierOwner::new(), AtomicOwner::new()),
    );
    removing(c, "domain", removing_domain(&DOMAIN));
    removing(c, "domain-fences", removing_domain(&DOMAIN_FENCES));
}

/// Unregister latency under load: with `threads - 1` other threads dispatching continuously,
/// `UNREGISTER_ROUNDS` times register (untimed, then a short pause so the dispatchers see it)
/// and time one `unregister`. Median and max per variant go to `target/bench/removal.tsv`.
/// Not a criterion benchmark: the distribution's tail is the point, not its mean.
const UNREGISTER_ROUNDS: usize = 2000;

fn bench_unregister(_: &mut Criterion) {
    let quick = std::env::var_os("EDU_BENCH_QUICK").is_some();
    let rounds = if quick { 300 } else { UNREGISTER_ROUNDS };
    let mut lines = vec!["variant\tthreads\trounds\tmedian ns\tmax ns".to_string()];
    for threads in thread_counts() {
        for (name, v) in variants() {
            let v: &dyn Bench = &*v;
            let stop = AtomicBool::new(false);
            let mut lat: Vec<u64> = Vec::with_capacity(rounds);
            thread::scope(|s| {
                for _ in 1..threads {
                    s.spawn(|| {
                        while !stop.load(Ordering::Relaxed) {
                            for i in 0..64 {
                                black_box(v.dispatch(i));
                            }
                        }
                    });
                }
                // `variants()` registered it.
                v.unregister();
                for _ in 0..rounds {
                    v.register();
                    for _ in 0..1000 {
                        std::hint::spin_loop();
                    }
                    let t0 = Instant::now();
                    v.unregister();
                    lat.push(t0.elapsed().as_nanos() as u64);
                }
                stop.store(true, Ordering::Relaxed);
            });
            lat.sort_unstable();
            let line = format!(
                "{name}\t{threads}\t{rounds}\t{}\t{}",
                lat[lat.len() / 2],
                lat[lat.len() - 1]
            );
            eprintln!("unregister under load: {line}");
            lines.push(line);
        }
    }
    std::fs::write(out_dir().join("removal.tsv"), lines.join("\n") + "\n").unwrap();
}

criterion_group!(benches, bench_dispatch, bench_removing, bench_unregister);
criterion_main!(benches);
