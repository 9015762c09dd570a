/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C shims of the edu module (edu_shim.c) for its Rust code (cshim.rs): static inlines and macros
 * of the kernel's headers that bindgen does not turn into functions. Not exported.
 */
#ifndef _EDU_SHIM_H
#define _EDU_SHIM_H

#include <linux/smp.h>
#include <linux/types.h>

bool edu_in_interrupt(void);
unsigned int edu_online_cpus(void);
void edu_on_each_cpu(smp_call_func_t fn, void *info);

#endif /* _EDU_SHIM_H */
