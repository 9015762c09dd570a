// SPDX-License-Identifier: GPL-2.0

//! The merged guard on real threads: `DomainSlot` on the epoch domain, in membarrier mode (when
//! the kernel offers it) and in the fallback mode with full fences on the read side. Dispatchers
//! run while generations are registered and unregistered and owners retire; no call may run
//! after the unregistration (or retirement) that removed it returned. A domain whose grace
//! period lies is the negative control.

// Under `--cfg loom` only `tests/loom.rs` runs (loom's atomics are not `const`).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use callback_core::domain::{EpochDomain, LiveFlag};
use callback_core::owners::{membarrier_available, MAX_THREADS};
use callback_core::{DomainSlot, NotRegistered, ReadDomain, UnregisterError, WouldDeadlock};

mod common;

/// One registration generation.
struct Gen {
    /// Set right after the `unregister` (or `retire`) that removed it returned.
    retired: AtomicBool,
    /// Calls that saw `retired` (must stay 0).
    late: AtomicU64,
    calls: AtomicU64,
}

fn on_event(g: &'static Gen, ev: u32) -> u64 {
    if g.retired.load(Ordering::SeqCst) {
        g.late.fetch_add(1, Ordering::SeqCst);
    }
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
    1
}

struct Outcome {
    gens: usize,
    late: u64,
    /// Dispatches that found their registration cleared under them (see `counting_torn`).
    torn: u64,
    ok: u64,
    refused: u64,
}

/// Two dispatchers; this thread registers a generation, lets it be called, then removes it:
/// by `unregister`, or (every third) by retiring its owner first and unregistering after.
fn run_stress<D: ReadDomain>(domain: &D, run_for: Duration) -> Outcome {
    let slot: DomainSlot<'_, D, LiveFlag, Gen, u64> = DomainSlot::new(domain);
    let stop = AtomicBool::new(false);
    let ok = AtomicU64::new(0);
    let refused = AtomicU64::new(0);
    let torn = AtomicU64::new(0);
    let mut gens: Vec<&'static Gen> = Vec::new();
    thread::scope(|s| {
        for t in 0..2u32 {
            let (slot, stop, ok, refused, torn) = (&slot, &stop, &ok, &refused, &torn);
            s.spawn(move || {
                let mut ev = t;
                while !stop.load(Ordering::Relaxed) {
                    ev = ev.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    match common::counting_torn(torn, || slot.dispatch(ev >> 8)) {
                        Some(Ok(_)) => ok.fetch_add(1, Ordering::Relaxed),
                        Some(Err(NotRegistered)) => refused.fetch_add(1, Ordering::Relaxed),
                        None => 0,
                    };
                }
            });
        }
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < run_for || n < 20 {
            n += 1;
            let g: &'static Gen = Box::leak(Box::new(Gen {
                retired: AtomicBool::new(false),
                late: AtomicU64::new(0),
                calls: AtomicU64::new(0),
            }));
            let owner: &'static LiveFlag = Box::leak(Box::new(LiveFlag::new()));
            gens.push(g);
            slot.register(on_event, g, owner).unwrap();
            let t0 = Instant::now();
            while g.calls.load(Ordering::Relaxed) < 1 + n % 8
                && t0.elapsed() < Duration::from_micros(300)
            {
                thread::yield_now();
            }
            if n % 3 == 0 {
                owner.retire(domain).unwrap();
                g.retired.store(true, Ordering::SeqCst);
            }
            slot.unregister(thread::yield_now).unwrap();
            g.retired.store(true, Ordering::SeqCst);
        }
        stop.store(true, Ordering::Relaxed);
    });
    Outcome {
        gens: gens.len(),
        late: gens.iter().map(|g| g.late.load(Ordering::SeqCst)).sum(),
        torn: torn.load(Ordering::SeqCst),
        ok: ok.load(Ordering::SeqCst),
        refused: refused.load(Ordering::SeqCst),
    }
}

fn stress<D: ReadDomain>(domain: &D) {
    let o = run_stress(domain, Duration::from_millis(400));
    eprintln!(
        "{} gens, {} calls, {} refused, {} late, {} torn",
        o.gens, o.ok, o.refused, o.late, o.torn
    );
    assert_eq!(o.late, 0, "calls ran after their removal returned");
    assert_eq!(o.torn, 0, "registrations cleared under a dispatch");
    assert!(o.gens >= 20 && o.ok > 100 && o.refused > 0);
}

#[test]
fn stress_epoch_domain() {
    static DOMAIN: EpochDomain = EpochDomain::new();
    assert_eq!(DOMAIN.uses_membarrier(), membarrier_available());
    stress(&DOMAIN);
}

/// The fallback: full fences on the read side, no membarrier.
#[test]
fn stress_epoch_domain_fences() {
    static DOMAIN: EpochDomain = EpochDomain::with_fences();
    assert!(!DOMAIN.uses_membarrier());
    stress(&DOMAIN);
}

/// The negative control: a domain whose grace period does not wait.
struct LyingDomain(EpochDomain);

// SAFETY: NOT upheld, on purpose: `synchronize` does not wait (contract 2), so a call may run
// after `unregister` returned; only used to show that the stress test notices.
unsafe impl ReadDomain for LyingDomain {
    fn read<T>(&self, f: impl FnOnce() -> T) -> T {
        self.0.read(f)
    }
    fn synchronize(&self) -> Result<(), WouldDeadlock> {
        Ok(())
    }
}

#[test]
fn stress_catches_a_lying_domain() {
    let domain = LyingDomain(EpochDomain::new());
    common::catches_late_calls(10, || {
        let o = run_stress(&domain, Duration::from_millis(400));
        (o.late + o.torn, o.ok)
    });
}

/// A blocked call keeps `unregister` waiting, in both modes; meanwhile dispatch is refused.
fn unregister_waits(domain: &EpochDomain) {
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
    static OWNER: LiveFlag = LiveFlag::new();
    let ctx: &'static Ctx = Box::leak(Box::new(Ctx {
        entered: AtomicBool::new(false),
        release: AtomicBool::new(false),
        calls: AtomicUsize::new(0),
    }));
    let slot = DomainSlot::new(domain);
    slot.register(block, ctx, &OWNER).unwrap();
    thread::scope(|s| {
        let caller = s.spawn(|| slot.dispatch(1));
        while !ctx.entered.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        let unregisterer = s.spawn(|| slot.unregister(thread::yield_now));
        while slot.dispatch(0).is_ok() {
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(30));
        assert!(!unregisterer.is_finished(), "unregister did not wait");
        let before = ctx.calls.load(Ordering::SeqCst);
        ctx.release.store(true, Ordering::SeqCst);
        assert_eq!(unregisterer.join().unwrap(), Ok(()));
        assert_eq!(caller.join().unwrap(), Ok(1));
        assert_eq!(slot.dispatch(3), Err(NotRegistered));
        assert_eq!(ctx.calls.load(Ordering::SeqCst), before);
    });
}

#[test]
fn unregister_waits_epoch() {
    unregister_waits(&EpochDomain::new());
}

#[test]
fn unregister_waits_epoch_fences() {
    unregister_waits(&EpochDomain::with_fences());
}

/// Unregistering from inside the callback returns `WouldDeadlock` at once and leaves the
/// registration in place; so does retiring the owner from there.
fn unregister_from_callback(domain: &'static EpochDomain) {
    type Me = DomainSlot<'static, EpochDomain, LiveFlag, Ctx, u32>;
    struct Ctx {
        slot: std::sync::OnceLock<&'static Me>,
        owner: &'static LiveFlag,
        domain: &'static EpochDomain,
    }
    fn cb(c: &'static Ctx, _: u32) -> u32 {
        let slot = c.slot.get().unwrap();
        assert_eq!(
            slot.unregister(thread::yield_now),
            Err(UnregisterError::WouldDeadlock)
        );
        assert!(c.domain.in_read_section());
        assert_eq!(c.owner.retire(c.domain), Err(WouldDeadlock));
        c.owner.revive();
        // A nested dispatch is a nested section.
        assert_eq!(slot.dispatch(9), Ok(9));
        7
    }
    let owner: &'static LiveFlag = Box::leak(Box::new(LiveFlag::new()));
    let ctx: &'static Ctx = Box::leak(Box::new(Ctx {
        slot: std::sync::OnceLock::new(),
        owner,
        domain,
    }));
    let slot: &'static Me = Box::leak(Box::new(DomainSlot::new(domain)));
    ctx.slot.set(slot).ok().unwrap();
    // The callback recurses once through the nested dispatch: use a depth guard.
    fn outer(c: &'static Ctx, ev: u32) -> u32 {
        if ev == 9 {
            return 9;
        }
        cb(c, ev)
    }
    slot.register(outer, ctx, owner).unwrap();
    assert_eq!(slot.dispatch(1), Ok(7));
    assert!(slot.is_active());
    assert!(!domain.in_read_section());
    assert_eq!(slot.unregister(thread::yield_now), Ok(()));
}

#[test]
fn unregister_from_callback_epoch() {
    static DOMAIN: EpochDomain = EpochDomain::new();
    unregister_from_callback(&DOMAIN);
}

#[test]
fn unregister_from_callback_epoch_fences() {
    static DOMAIN: EpochDomain = EpochDomain::with_fences();
    unregister_from_callback(&DOMAIN);
}

/// More threads inside critical sections than there are per-thread words: the overflow
/// counter keeps `synchronize` waiting for all of them.
#[test]
fn overflow_threads_are_waited_for() {
    static DOMAIN: EpochDomain = EpochDomain::new();
    let n = MAX_THREADS + 8;
    let inside = Barrier::new(n + 1);
    let release = AtomicBool::new(false);
    let done = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..n {
            s.spawn(|| {
                DOMAIN.read(|| {
                    inside.wait();
                    while !release.load(Ordering::SeqCst) {
                        thread::sleep(Duration::from_millis(1));
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                });
            });
        }
        inside.wait();
        let sync = s.spawn(|| {
            DOMAIN.synchronize().unwrap();
            done.load(Ordering::SeqCst)
        });
        thread::sleep(Duration::from_millis(30));
        assert!(!sync.is_finished(), "synchronize did not wait");
        release.store(true, Ordering::SeqCst);
        assert_eq!(sync.join().unwrap(), n, "synchronize returned early");
    });
    // Short-lived threads reuse the words.
    for _ in 0..(2 * MAX_THREADS) {
        thread::spawn(|| DOMAIN.read(|| ())).join().unwrap();
    }
    DOMAIN.synchronize().unwrap();
}
