// SPDX-License-Identifier: GPL-2.0

//! A benchmark, not driver code: `/sys/kernel/debug/edu/calibrate` measures the listener's
//! owner-guarded dispatch inside the kernel on each read. Optional like all of debugfs; the
//! figures come from whatever kernel the module runs on (the test kernel is a debug kernel, so
//! its figures say nothing about production costs).

use crate::listener::{
    CpuGate,
    ModuleOwner,
    Owner,
    Slot, //
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

/// This module, for the calibration's `try_module_get`.
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

/// Iterations of each calibration loop.
pub(crate) const CALIBRATION_CALLS: u64 = 1_000_000;

static CALIBRATION_SINK: Atomic<u64> = Atomic::new(0);

#[inline(never)]
fn calibration_callback(_ctx: &'static (), event: u32) {
    CALIBRATION_SINK.add(u64::from(event), Relaxed);
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

/// Measures the guarded dispatch in the kernel and writes a table: a plain call through a
/// function pointer, `try_module_get`/`module_put` around it, the per-CPU gate around it, and
/// the full slot dispatch (gate and module owner), in ns per call.
pub(crate) fn calibrate(module: *mut bindings::module, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    static OWNER: ModuleOwner = ModuleOwner::new();
    static GATE: CpuGate = CpuGate::new();
    static SLOT: Slot<CpuGate, ModuleOwner, ()> = Slot::new(CpuGate::new());
    OWNER.set(module);
    let cb = core::hint::black_box(calibration_callback as fn(&'static (), u32));

    let plain = time_per_call(|| cb(&(), 1));
    let module_ref = time_per_call(|| {
        if OWNER.try_get() {
            cb(&(), 1);
            OWNER.put();
        }
    });
    let gate = time_per_call(|| {
        if GATE.try_get() {
            cb(&(), 1);
            GATE.put();
        }
    });
    if SLOT.register(calibration_callback, &(), &OWNER).is_err() {
        return writeln!(f, "calibration slot busy");
    }
    let slot = time_per_call(|| {
        let _ = SLOT.dispatch(1);
    });
    let _ = SLOT.unregister(|| fsleep(Delta::from_micros(100)));

    writeln!(f, "calls per variant: {CALIBRATION_CALLS}")?;
    writeln!(f, "variant                          ns/call  ratio")?;
    for (name, t) in [
        ("plain call", plain),
        ("try_module_get/module_put", module_ref),
        ("per-CPU gate", gate),
        ("slot dispatch (gate + module)", slot),
    ] {
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
