// SPDX-License-Identifier: GPL-2.0
/*
 * edu_client: a minimal user of the edu listener interface. It counts edu interrupt events and
 * counts any call that arrives after its exit began (there must be none).
 *
 *   /sys/module/edu_client/parameters/events   events seen
 *   /sys/module/edu_client/parameters/late     calls after exit began (always 0)
 */
#include <linux/atomic.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include "include/edu_listener.h"

static atomic_long_t events = ATOMIC_LONG_INIT(0);
static atomic_long_t late = ATOMIC_LONG_INIT(0);
static bool exiting;
static int handle = -1;

static void edu_client_event(void *ctx, u32 status)
{
	atomic_long_inc(&events);
	if (READ_ONCE(exiting))
		atomic_long_inc(&late);
}

static int counter_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(kp->arg));
}

static const struct kernel_param_ops counter_ops = { .get = counter_get };
module_param_cb(events, &counter_ops, &events, 0444);
MODULE_PARM_DESC(events, "edu interrupt events seen");
module_param_cb(late, &counter_ops, &late, 0444);
MODULE_PARM_DESC(late, "calls received after exit began (must stay 0)");

static int __init edu_client_init(void)
{
	handle = edu_listener_register(edu_client_event, NULL, THIS_MODULE);
	if (handle < 0) {
		pr_err("edu_client: cannot register a listener: %d\n", handle);
		return handle;
	}
	return 0;
}

static void __exit edu_client_exit(void)
{
	WRITE_ONCE(exiting, true);
	edu_listener_unregister(handle);
	pr_info("edu_client: %ld events, %ld after exit began\n",
		atomic_long_read(&events), atomic_long_read(&late));
}

module_init(edu_client_init);
module_exit(edu_client_exit);
MODULE_DESCRIPTION("Counts edu interrupt events through the edu listener interface");
MODULE_LICENSE("GPL");
