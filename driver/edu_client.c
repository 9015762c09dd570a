// SPDX-License-Identifier: GPL-2.0
/*
 * edu_client: a minimal user of the edu listener interface. It counts edu interrupt events and
 * counts any call that arrives after it unregistered or after its exit began (there must be none).
 *
 *   /sys/module/edu_client/parameters/events   events seen
 *   /sys/module/edu_client/parameters/late     calls after unregister returned or exit began
 *   /sys/module/edu_client/parameters/detach   write 1: unregister now, while loaded; write 2:
 *                                               the same, once a call is running (waits up to
 *                                               1 s for one), so that the unregister races with
 *                                               it
 *   /sys/module/edu_client/parameters/raced    detaches (2) that found a call running
 *   /sys/module/edu_client/parameters/attach   write 1: register again after a detach
 *   /sys/module/edu_client/parameters/stale    after an attach: what unregistering the handle
 *                                               of the previous registration returned (-EINVAL:
 *                                               a stale handle cannot remove the new one)
 *   broken_detach=1 (load time)                 a positive control: "detach" skips the
 *                                               unregister, so "late" must count
 *   delay_us=N (load time)                      each call busy-waits N us (udelay) after its
 *                                               "late" check, then touches its registration's
 *                                               context: widens every window of the listener
 *                                               protocol
 *   exit_delay_us=N (load time)                 exit waits N us between its start (the module is
 *                                               going) and the unregister: a guard that calls a
 *                                               going module is caught in that window
 *
 * A call is late if it starts after unregister returned or after the module stopped being live
 * (rmmod's exit began). A call cannot see when it started, only when it runs: one that passed
 * the guard an instant before the module went may still be running when exit begins, which is
 * allowed (unregister waits for it). So exit first waits out every call that could have started
 * while the module was live (one RCU grace period: the calls run in interrupt handlers, with
 * interrupts off), and then raises the flag: a call that sees it started after the module went.
 * Each registration has its own context, allocated at register and freed
 * right after unregister returns: a call still running then (a missing grace period) touches
 * freed memory, which KASAN reports.
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include "include/edu_listener.h"

static atomic_long_t events = ATOMIC_LONG_INIT(0);
static atomic_long_t late = ATOMIC_LONG_INIT(0);
/* Calls running now, and detaches that unregistered while one was. */
static atomic_t in_call = ATOMIC_INIT(0);
static atomic_long_t raced = ATOMIC_LONG_INIT(0);
static bool exiting;
static bool detached;
static int handle = -1;
/* The context of the current registration, owned by it (handle_lock). */
struct edu_client_ctx {
	atomic_long_t events;
};
static struct edu_client_ctx *ctx;
/* The handle of the previous registration, kept to try it again after a new one. */
static int old_handle = -1;
static int stale;
static DEFINE_MUTEX(handle_lock);
module_param(stale, int, 0444);
MODULE_PARM_DESC(stale, "Result of unregistering the previous, stale handle after an attach");

static bool broken_detach;
module_param(broken_detach, bool, 0444);
MODULE_PARM_DESC(broken_detach, "Positive control: detach without unregistering");

static unsigned int delay_us;
module_param(delay_us, uint, 0444);
MODULE_PARM_DESC(delay_us, "Busy-wait this long in each call (widens race windows)");

static unsigned int exit_delay_us;
module_param(exit_delay_us, uint, 0444);
MODULE_PARM_DESC(exit_delay_us, "Wait this long in exit before unregistering");

static void edu_client_event(void *data, u32 status)
{
	struct edu_client_ctx *c = data;

	atomic_inc(&in_call);
	atomic_long_inc(&events);
	if (READ_ONCE(exiting) || READ_ONCE(detached))
		atomic_long_inc(&late);
	if (delay_us)
		udelay(delay_us);
	/* After the delay: a use after free if unregister did not wait for this call. */
	atomic_long_inc(&c->events);
	atomic_dec(&in_call);
}

/* Registers a listener with a new context. Called with handle_lock held. */
static int edu_client_register(void)
{
	struct edu_client_ctx *c = kzalloc(sizeof(*c), GFP_KERNEL);
	int ret;

	if (!c)
		return -ENOMEM;
	ret = edu_listener_register(edu_client_event, c, THIS_MODULE);
	if (ret < 0) {
		kfree(c);
		return ret;
	}
	handle = ret;
	ctx = c;
	return 0;
}

/*
 * Unregisters the listener if it is registered; from here on no call may arrive, so its context
 * is freed. With for_real false (the broken_detach control) it only claims to have done so.
 */
static void edu_client_unregister(bool for_real)
{
	mutex_lock(&handle_lock);
	if (handle >= 0 && for_real) {
		edu_listener_unregister(handle);
		kfree(ctx);
		ctx = NULL;
		old_handle = handle;
		handle = -1;
	}
	mutex_unlock(&handle_lock);
	WRITE_ONCE(detached, true);
}

static int detach_set(const char *val, const struct kernel_param *kp)
{
	unsigned int how, i;
	int ret = kstrtouint(val, 0, &how);

	if (ret)
		return ret;
	if (how > 2)
		return -EINVAL;
	if (how == 2) {
		/* Busy-polls: a call of delay_us is caught within microseconds of its start. */
		for (i = 0; i < 100000 && !atomic_read(&in_call); i++)
			udelay(10);
		if (atomic_read(&in_call))
			atomic_long_inc(&raced);
	}
	if (how)
		edu_client_unregister(!broken_detach);
	return 0;
}

static const struct kernel_param_ops detach_ops = { .set = detach_set };
module_param_cb(detach, &detach_ops, NULL, 0200);
MODULE_PARM_DESC(detach, "Write 1 to unregister the listener now");

static int attach_set(const char *val, const struct kernel_param *kp)
{
	bool now;
	int ret = kstrtobool(val, &now);

	if (ret || !now)
		return ret;
	mutex_lock(&handle_lock);
	if (handle >= 0) {
		ret = -EBUSY;
	} else {
		ret = edu_client_register();
		if (ret >= 0) {
			WRITE_ONCE(detached, false);
			/* The previous handle is stale now; it must not remove this registration. */
			stale = old_handle >= 0 ? edu_listener_unregister(old_handle) : 0;
			ret = 0;
		}
	}
	mutex_unlock(&handle_lock);
	return ret;
}

static const struct kernel_param_ops attach_ops = { .set = attach_set };
module_param_cb(attach, &attach_ops, NULL, 0200);
MODULE_PARM_DESC(attach, "Write 1 to register the listener again after a detach");

static int counter_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(kp->arg));
}

static const struct kernel_param_ops counter_ops = { .get = counter_get };
module_param_cb(events, &counter_ops, &events, 0444);
MODULE_PARM_DESC(events, "edu interrupt events seen");
module_param_cb(late, &counter_ops, &late, 0444);
MODULE_PARM_DESC(late, "calls received after exit began (must stay 0)");
module_param_cb(raced, &counter_ops, &raced, 0444);
MODULE_PARM_DESC(raced, "detaches (2) that unregistered while a call was running");

static int __init edu_client_init(void)
{
	int ret;

	mutex_lock(&handle_lock);
	ret = edu_client_register();
	mutex_unlock(&handle_lock);
	if (ret < 0)
		pr_err("edu_client: cannot register a listener: %d\n", ret);
	return ret;
}

static void __exit edu_client_exit(void)
{
	/* The module is going: calls that passed the guard before may still run (see the top). */
	synchronize_rcu();
	WRITE_ONCE(exiting, true);
	if (exit_delay_us)
		fsleep(exit_delay_us);
	edu_client_unregister(true);
	pr_info("edu_client: %ld events, %ld after exit began\n",
		atomic_long_read(&events), atomic_long_read(&late));
}

module_init(edu_client_init);
module_exit(edu_client_exit);
MODULE_DESCRIPTION("Counts edu interrupt events through the edu listener interface");
MODULE_LICENSE("GPL");
