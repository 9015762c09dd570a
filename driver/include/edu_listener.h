/* SPDX-License-Identifier: GPL-2.0 */
/*
 * In-kernel listener interface of the edu driver: run a callback on every edu interrupt event.
 *
 * A module that is going away is skipped as if it had never registered: by default
 * (listener_guard=1) each call runs inside rcu_read_lock() and only while module_is_live(owner),
 * and unregister waits for an expedited RCU grace period; with listener_guard=0 the owner is
 * pinned with try_module_get() around every call instead. The callback runs in hard-IRQ context
 * with the interrupt status bits the device raised, and must not sleep. Unregister before your
 * module's exit returns; unregistration waits until no call is in flight, so the callback's
 * context may be freed once it returns.
 */
#ifndef _EDU_LISTENER_H
#define _EDU_LISTENER_H

#include <linux/module.h>
#include <linux/types.h>

typedef void (*edu_listener_fn)(void *ctx, u32 status);

/* Returns a handle >= 0, -EINVAL for a NULL fn or owner, -EBUSY when all slots are taken. */
int edu_listener_register(edu_listener_fn fn, void *ctx, struct module *owner);
/*
 * Returns 0, or -EINVAL for a handle that is not registered, or -EDEADLK from interrupt context
 * (a callback). Sleeps.
 */
int edu_listener_unregister(int handle);

#endif /* _EDU_LISTENER_H */
