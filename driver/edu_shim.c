// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for what the Rust kernel crate (7.3) does not bind: static inlines and macros of the
 * C headers that bindgen cannot turn into functions, each one line of C. Their Rust side, with
 * the safe wrappers, is cshim.rs.
 */
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/preempt.h>
#include <linux/smp.h>
#include "include/edu_shim.h"

/* in_interrupt(): hard or soft IRQ or NMI context (preempt_count() bits, a macro). */
bool edu_in_interrupt(void)
{
	return in_interrupt();
}

/* num_online_cpus(): a static inline over the cpumask. */
unsigned int edu_online_cpus(void)
{
	return num_online_cpus();
}

/*
 * on_each_cpu(): a static inline. Runs fn(info) on every online CPU, the others through an IPI,
 * this one with interrupts off, so every call runs in hard-IRQ context; waits for all of them.
 */
void edu_on_each_cpu(smp_call_func_t fn, void *info)
{
	cpus_read_lock();
	on_each_cpu(fn, info, 1);
	cpus_read_unlock();
}
