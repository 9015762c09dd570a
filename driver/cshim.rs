// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over `edu_shim.c`: the C static inlines and macros the listener and the
//! calibration need and the kernel crate does not bind.

use core::marker::PhantomData;
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

/// Proof that this CPU runs an interrupt handler inside an RCU read-side critical section: a
/// hard-IRQ handler or a function `on_each_cpu` runs, with interrupts off, a region that RCU
/// treats as a read-side critical section of its own since its flavours were consolidated (4.20,
/// `Documentation/RCU/whatisRCU.rst`: a grace period waits for it to end); or, on PREEMPT_RT,
/// where handlers run in threads with interrupts on, a handler inside `rcu_read_lock()`.
///
/// # Invariants
///
/// This CPU is inside an RCU read-side critical section while an `&IrqContext` exists: it is
/// only lent, for the time of a call, by [`IrqContext::with`], and it cannot move to another
/// CPU (not `Send`).
pub(crate) struct IrqContext(PhantomData<*mut ()>);

impl IrqContext {
    /// Lends a proof of interrupt context to `f`.
    ///
    /// # Safety
    ///
    /// This CPU is inside an RCU read-side critical section (for example, interrupts are off)
    /// until `f` returns.
    pub(crate) unsafe fn with<R>(f: impl FnOnce(&IrqContext) -> R) -> R {
        // INVARIANT: The caller's guarantee; `f` cannot keep the reference past its return.
        f(&IrqContext(PhantomData))
    }
}

/// Runs `f` on every online CPU at once (`on_each_cpu(.., wait = 1)`), in hard-IRQ context with
/// interrupts off, and returns when every call has returned. Process context only. `f` must
/// not sleep (it runs in atomic context; `might_sleep()` in it reports the bug).
pub(crate) fn on_each_cpu<F: Fn(&IrqContext) + Sync>(f: &F) {
    unsafe extern "C" fn trampoline<F: Fn(&IrqContext) + Sync>(info: *mut c_void) {
        // SAFETY: `info` is the `&F` passed below, alive until `edu_on_each_cpu` returns, which
        // waits for every call; `F: Sync` makes the concurrent shared calls sound.
        let f = unsafe { &*info.cast::<F>() };
        // SAFETY: `on_each_cpu` calls this with interrupts off: from the IPI handler on the
        // other CPUs, and between `local_irq_save()` and `local_irq_restore()` on this one.
        unsafe { IrqContext::with(f) };
    }
    // SAFETY: `trampoline::<F>` matches `smp_call_func_t` and reads `info` only as the `&F`
    // above; `edu_on_each_cpu` waits for every call before returning, so `f` outlives them.
    unsafe { edu_on_each_cpu(trampoline::<F>, core::ptr::from_ref(f).cast_mut().cast()) };
}
