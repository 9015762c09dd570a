// SPDX-License-Identifier: GPL-2.0

//! A benchmark, not driver code: `/sys/kernel/debug/edu/calibrate` measures the listener's
//! guarded dispatch inside the kernel on each read. Optional like all of debugfs.
//!
//! Each variant runs on every online CPU at once, in hard-IRQ context (an IPI through
//! `on_each_cpu`, interrupts off: where a listener's dispatch runs), after a start barrier; a
//! 1-CPU guest gives the uncontended figure, a 2-CPU guest the figure with interrupts
//! dispatching on both CPUs at once. The table says which kind of kernel it ran on: the test
//! kernel is a debug kernel (lockdep, KASAN, ...), whose figures say nothing about real costs;
//! `make bench-kernel` reads it on the bench kernel.

use crate::{
    cshim::{
        self,
        IrqContext, //
    },
    listener::{
        CpuGate,
        DomainSlot,
        Liveness,
        ModuleOwner,
        Owner,
        Rcu,
        ReadDomain,
        Slot, //
    },
};
use core::fmt;
use kernel::{
    bindings,
    debugfs,
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
    time::{
        delay::fsleep,
        Delta,
        Instant,
        Monotonic, //
    }, //
};

/// This module, for the calibration's owner.
///
/// # Invariants
///
/// Points to the module this code belongs to, which outlives every read of the file.
struct ModulePtr(*mut kernel::bindings::module);

// SAFETY: A module pointer may be used from any thread.
unsafe impl Send for ModulePtr {}
// SAFETY: As above; it is never written.
unsafe impl Sync for ModulePtr {}

/// The debugfs directory and its file, removed (file first) when dropped.
pub(crate) struct Debugfs {
    _file: Pin<KBox<debugfs::File<ModulePtr>>>,
    _dir: debugfs::Dir,
}

impl Debugfs {
    /// Creates `/sys/kernel/debug/edu/calibrate`.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let dir = debugfs::Dir::new(c"edu");
        // INVARIANT: `module` is this module.
        let file = KBox::pin_init(
            dir.read_callback_file(c"calibrate", ModulePtr(module.as_ptr()), &show),
            GFP_KERNEL,
        )?;
        Ok(Self {
            _file: file,
            _dir: dir,
        })
    }
}

fn show(module: &ModulePtr, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    calibrate(module.0, f)
}

/// Iterations of each calibration loop, per CPU. A debug kernel (whose figures mean nothing)
/// runs a tenth, to keep its interrupts-off loops short.
pub(crate) const CALIBRATION_CALLS: u64 = if DEBUG_KERNEL { 100_000 } else { 1_000_000 };
/// Each variant is measured this many times (interleaved with the others); the best counts.
const ROUNDS: usize = if DEBUG_KERNEL { 1 } else { 3 };
/// CPUs with a result slot of their own (more are measured but not reported).
const MAX_CPUS: usize = 16;

/// One CPU's store target, on its own cache line.
#[repr(align(64))]
struct Sink(Atomic<u32>);

/// The callback's context: a sink per CPU, so that the stores of two CPUs never share a line.
struct Sinks([Sink; MAX_CPUS]);

static SINKS: Sinks = Sinks([const { Sink(Atomic::new(0)) }; MAX_CPUS]);

/// The measured callback: one plain store (`WRITE_ONCE`, a `mov`: no locked instruction) to the
/// sink of the CPU it runs on, whose index is the event.
#[inline(never)]
fn calibration_callback(sinks: &'static Sinks, cpu: u32) {
    sinks.0[cpu as usize % MAX_CPUS].0.store(cpu, Relaxed);
}

/// The six measured variants, in table order.
#[derive(Clone, Copy)]
enum Variant {
    Plain,
    ModuleRef,
    RcuLive,
    IrqLive,
    Gate,
    Slot,
    DomainSlot,
}

const VARIANTS: [(Variant, &str); 7] = [
    (Variant::Plain, "plain call"),
    (Variant::ModuleRef, "try_module_get/module_put"),
    (Variant::RcuLive, "rcu_read_lock + module_is_live"),
    (Variant::IrqLive, "IRQ's RCU section + module_is_live"),
    (Variant::Gate, "per-CPU gate"),
    (Variant::Slot, "slot (gate + module owner)"),
    (
        Variant::DomainSlot,
        "domain slot (IRQ's RCU section + live)",
    ),
];

static OWNER: ModuleOwner = ModuleOwner::new();
static GATE: CpuGate = CpuGate::new();
static SLOT: Slot<CpuGate, ModuleOwner, Sinks> = Slot::new(CpuGate::new());
static DOMAIN_SLOT: DomainSlot<'static, Rcu, ModuleOwner, Sinks> = DomainSlot::new(&Rcu);

/// The start barrier and the per-CPU results of one parallel run.
struct Run {
    variant: Variant,
    cpus: u32,
    arrived: Atomic<u32>,
    /// Tenths of a nanosecond per call, per CPU; 0: no result (more CPUs than slots, or the
    /// barrier timed out).
    result: [Atomic<u64>; MAX_CPUS],
}

impl Run {
    /// Runs on each CPU, in hard-IRQ context.
    fn on_cpu(&self, irq: &IrqContext) {
        // SAFETY: Always safe to call; the value only chooses the sink and the result slot.
        let cpu = unsafe { bindings::raw_smp_processor_id() };
        // Start together: every CPU is in its IPI before any starts its loop. Bounded, in case
        // a CPU never arrives (then this CPU reports nothing).
        self.arrived.add(1, Relaxed);
        let mut spins = 0u64;
        while self.arrived.load(Relaxed) < self.cpus {
            spins += 1;
            if spins > 100_000_000 {
                return;
            }
            core::hint::spin_loop();
        }
        let t = measure(irq, self.variant, cpu);
        if let Some(r) = self.result.get(cpu as usize) {
            r.store(t, Relaxed);
        }
    }
}

/// Times `CALIBRATION_CALLS` calls of `variant` on this CPU; tenths of a nanosecond per call.
fn measure(_irq: &IrqContext, variant: Variant, cpu: u32) -> u64 {
    let cb = core::hint::black_box(calibration_callback as fn(&'static Sinks, u32));
    match variant {
        Variant::Plain => time_per_call(|| cb(&SINKS, cpu)),
        Variant::ModuleRef => time_per_call(|| {
            if OWNER.try_get() {
                cb(&SINKS, cpu);
                OWNER.put();
            }
        }),
        Variant::RcuLive => time_per_call(|| {
            Rcu.read(|| {
                if OWNER.is_live() {
                    cb(&SINKS, cpu);
                }
            })
        }),
        // What the listener's RCU guard does: the interrupt's own section, no lock of its own.
        Variant::IrqLive => time_per_call(|| {
            if OWNER.is_live() {
                cb(&SINKS, cpu);
            }
        }),
        Variant::Gate => time_per_call(|| {
            if GATE.try_get() {
                cb(&SINKS, cpu);
                GATE.put();
            }
        }),
        Variant::Slot => time_per_call(|| {
            let _ = SLOT.dispatch(cpu);
        }),
        Variant::DomainSlot => time_per_call(|| {
            // SAFETY: `_irq` proves this CPU is in an RCU read-side critical section while
            // this runs.
            let _ = unsafe { DOMAIN_SLOT.dispatch_in_section(cpu) };
        }),
    }
}

/// Times `CALIBRATION_CALLS` runs of `f` and returns tenths of a nanosecond per call.
fn time_per_call(mut f: impl FnMut()) -> u64 {
    let start = Instant::<Monotonic>::now();
    for _ in 0..CALIBRATION_CALLS {
        f();
    }
    let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(0);
    ns * 10 / CALIBRATION_CALLS
}

/// Runs `variant` on every online CPU at once; returns the mean over the CPUs of tenths of a ns
/// per call, or 0 when a CPU reported nothing.
fn run_parallel(variant: Variant) -> u64 {
    let run = Run {
        variant,
        cpus: cshim::online_cpus(),
        arrived: Atomic::new(0),
        result: [const { Atomic::new(0) }; MAX_CPUS],
    };
    cshim::on_each_cpu(&|irq: &IrqContext| run.on_cpu(irq));
    let n = (run.cpus as usize).min(MAX_CPUS);
    let results = || run.result.iter().take(n).map(|r| r.load(Relaxed));
    if n == 0 || results().any(|t| t == 0) {
        return 0;
    }
    results().sum::<u64>() / n as u64
}

/// Whether this kernel has the debug options that make timings meaningless.
const DEBUG_KERNEL: bool = cfg!(any(
    CONFIG_KASAN,
    CONFIG_PROVE_LOCKING,
    CONFIG_DEBUG_KMEMLEAK,
    CONFIG_DEBUG_ATOMIC_SLEEP,
    CONFIG_UBSAN
));

/// Measures the guarded dispatch in the kernel and writes a table: ns per call of each variant
/// (best of [`ROUNDS`], each the mean over the online CPUs) and its ratio to the plain call.
pub(crate) fn calibrate(module: *mut bindings::module, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    OWNER.set(module);
    if SLOT.register(calibration_callback, &SINKS, &OWNER).is_err() {
        return writeln!(f, "calibration slot busy");
    }
    if DOMAIN_SLOT
        .register(calibration_callback, &SINKS, &OWNER)
        .is_err()
    {
        let _ = SLOT.unregister(|| fsleep(Delta::from_micros(100)));
        return writeln!(f, "calibration slot busy");
    }
    let mut best = [u64::MAX; VARIANTS.len()];
    for _ in 0..ROUNDS {
        for (b, (variant, _)) in best.iter_mut().zip(VARIANTS) {
            let t = run_parallel(variant);
            if t > 0 {
                *b = (*b).min(t);
            }
        }
    }
    let _ = SLOT.unregister(|| fsleep(Delta::from_micros(100)));
    let _ = DOMAIN_SLOT.unregister(|| fsleep(Delta::from_micros(100)));

    if DEBUG_KERNEL {
        writeln!(
            f,
            "kernel: debug (KASAN/lockdep/kmemleak): not for performance figures"
        )?;
    } else {
        writeln!(f, "kernel: no debug options")?;
    }
    writeln!(
        f,
        "cpus: {} (each variant on every online CPU at once, in hard-IRQ context)",
        cshim::online_cpus()
    )?;
    writeln!(
        f,
        "calls per variant and CPU: {CALIBRATION_CALLS}, best of {ROUNDS}"
    )?;
    writeln!(f, "variant                          ns/call  ratio")?;
    let plain = best[0];
    for (t, (_, name)) in best.iter().zip(VARIANTS) {
        if *t == u64::MAX || plain == u64::MAX {
            writeln!(f, "{name:<32} no result (a CPU missed the start barrier)")?;
            continue;
        }
        let ratio = t * 100 / plain.max(1);
        writeln!(
            f,
            "{:<32} {:>4}.{}  {}.{:02}x",
            name,
            t / 10,
            t % 10,
            ratio / 100,
            ratio % 100
        )?;
    }
    Ok(())
}
