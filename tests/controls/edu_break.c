// SPDX-License-Identifier: GPL-2.0
/*
 * edu_break: deliberate bugs, one per value of the "bug" parameter, for the harness's positive
 * controls (tests/scenarios/controls.sh). Each must be reported by the kernel's own checker, and
 * the harness must fail the guest for that report:
 *
 *   leak       allocations that are never freed                       kmemleak
 *   uaf        a read of freed memory                                 KASAN
 *   oob        a read past the end of an allocation                   KASAN
 *   index      an array index past the end of an array in a struct   UBSAN
 *   warn       WARN_ON(1)                                             the splat grep
 *   atomic     might_sleep() under a spinlock                         DEBUG_ATOMIC_SLEEP
 *   lockorder  two mutexes taken in both orders                       lockdep
 *   hang       12 s in uninterruptible sleep                         the hung-task detector
 *
 * Loading it does the damage and then fails with -EAGAIN, so nothing of it stays loaded. Never
 * load it outside a test guest.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

static char *bug = "";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "Which bug to commit: leak, uaf, oob, index, warn, atomic, lockorder, hang");

/* Kept in a global so the compiler cannot see through the bugs below and drop them. */
static void *volatile sink;
static volatile int index_past_end = 4;

struct with_array {
	int a[4];
	int after;
};

/* Overwrites the stack below the caller's frame, where callees left copies of pointers. */
static noinline void scrub_stack(void)
{
	volatile char buf[1536];

	memset((char *)buf, 0, sizeof(buf));
	barrier_data((char *)buf);
}

static DEFINE_SPINLOCK(edu_break_spin);
static DEFINE_MUTEX(edu_break_a);
static DEFINE_MUTEX(edu_break_b);

static int __init edu_break_init(void)
{
	char *p;

	pr_info("edu_break: committing bug '%s'\n", bug);
	if (!strcmp(bug, "leak")) {
		int i;

		/*
		 * Thirty-two objects, each pointer overwritten by the next. Copies of the last ones may
		 * stay behind in this task's (kmemleak-scanned) stack, so the stack below this frame is
		 * scrubbed too. The objects are zeroed, so none points at another. SLUB's per-CPU sheaf
		 * keeps a pointer to each object it hands out, in the array kmemleak scans, until that
		 * slot is written again: with KASAN, kmalloc-128's sheaves hold 28, so these objects
		 * come from two sheaves or more. kmemleak_check (tests/guest/lib.sh) frees all but the
		 * main one, which it empties; the objects the others handed out are then reported.
		 * (busybox's insmod retries a failed finit_module with init_module: the leak is
		 * committed twice.)
		 */
		for (i = 0; i < 32; i++) {
			p = kzalloc(128, GFP_KERNEL);
			if (!p)
				return -ENOMEM;
			sink = p;
		}
		sink = NULL;
		scrub_stack();
	} else if (!strcmp(bug, "uaf")) {
		p = kmalloc(64, GFP_KERNEL);
		if (!p)
			return -ENOMEM;
		kfree(p);
		sink = (void *)(unsigned long)READ_ONCE(p[8]);
	} else if (!strcmp(bug, "oob")) {
		/*
		 * One byte past a 60-byte object, inside its own slot of kmalloc-64: KASAN keeps the
		 * tail poisoned, so the report is out-of-bounds whatever the neighbouring object is.
		 */
		p = kmalloc(60, GFP_KERNEL);
		if (!p)
			return -ENOMEM;
		sink = (void *)(unsigned long)READ_ONCE(p[60]);
		kfree(p);
	} else if (!strcmp(bug, "index")) {
		struct with_array *s = kzalloc(sizeof(*s), GFP_KERNEL);

		if (!s)
			return -ENOMEM;
		/* Inside the allocation, so only the bounds sanitizer can see it. */
		s->a[index_past_end] = 1;
		sink = (void *)(unsigned long)s->after;
		kfree(s);
	} else if (!strcmp(bug, "warn")) {
		WARN_ON(1);
	} else if (!strcmp(bug, "atomic")) {
		spin_lock(&edu_break_spin);
		might_sleep();
		spin_unlock(&edu_break_spin);
	} else if (!strcmp(bug, "lockorder")) {
		mutex_lock(&edu_break_a);
		mutex_lock(&edu_break_b);
		mutex_unlock(&edu_break_b);
		mutex_unlock(&edu_break_a);
		mutex_lock(&edu_break_b);
		mutex_lock(&edu_break_a);
		mutex_unlock(&edu_break_a);
		mutex_unlock(&edu_break_b);
	} else if (!strcmp(bug, "hang")) {
		msleep(12000);
	} else {
		pr_err("edu_break: unknown bug '%s'\n", bug);
		return -EINVAL;
	}
	return -EAGAIN;
}

module_init(edu_break_init);
MODULE_DESCRIPTION("Deliberate bugs for the edu test harness's positive controls");
MODULE_LICENSE("GPL");
