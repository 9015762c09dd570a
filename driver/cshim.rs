// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over `edu_shim.c`: the C static inlines and macros the listener and the
//! calibration need and the kernel crate does not bind.

use kernel::prelude::*;

extern "C" {
    fn edu_in_interrupt() -> bool;
    fn edu_online_cpus() -> c_uint;
    fn edu_on_each_cpu(func: unsafe extern "C" fn(*mut c_void), info: *mut c_void);
}

/// Whether this runs in hard or soft IRQ or NMI context (`in_interrupt()`).
pub(crate) fn in_interrupt() -> bool {
    // SAFETY: Reads this CPU's preempt count; callable from any context.
    unsafe { edu_in_interrupt() }
}

/// The number of online CPUs (`num_online_cpus()`).
pub(crate) fn online_cpus() -> u32 {
    // SAFETY: Reads the online mask; callable from any context.
    unsafe { edu_online_cpus() }
}

/// Runs `f` on every online CPU at once (`on_each_cpu(.., wait = 1)`), in hard-IRQ context with
/// interrupts off, and returns when every call has returned. Process context only. `f` must
/// not sleep (it runs in atomic context; `might_sleep()` in it reports the bug).
pub(crate) fn on_each_cpu<F: Fn() + Sync>(f: &F) {
    unsafe extern "C" fn trampoline<F: Fn() + Sync>(info: *mut c_void) {
        // SAFETY: `info` is the `&F` passed below, alive until `edu_on_each_cpu` returns, which
        // waits for every call; `F: Sync` makes the concurrent shared calls sound.
        let f = unsafe { &*info.cast::<F>() };
        f();
    }
    // SAFETY: `trampoline::<F>` matches `smp_call_func_t` and reads `info` only as the `&F`
    // above; `edu_on_each_cpu` waits for every call before returning, so `f` outlives them.
    unsafe { edu_on_each_cpu(trampoline::<F>, core::ptr::from_ref(f).cast_mut().cast()) };
}
