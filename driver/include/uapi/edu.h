/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * User API of the edu driver: /dev/eduN.
 *
 * ioctls (argument: pointer to a __u32):
 *   EDU_IOC_IDENT      out: the identification register (0x010000ed on QEMU).
 *   EDU_IOC_LIVENESS   in: x, out: what the liveness register gives back (~x).
 *   EDU_IOC_FACTORIAL  in: n, out: n!, computed by the device, completed by its interrupt.
 *                      n > 12: EOVERFLOW; no completion in time: ETIMEDOUT; signal: EINTR.
 *   EDU_IOC_RAISE      in: v != 0, raises the device interrupt with v and returns once the
 *                      handler has seen it. v == 0: EINVAL.
 * Unknown ioctl: ENOTTY. Bad pointer: EFAULT. Device unbound: ENODEV.
 *
 * pread/pwrite/lseek address the device's 4096-byte buffer through its DMA engine: a read at or
 * past 4096 returns 0, a write there fails with ENOSPC, a transfer crossing the end is shortened,
 * lseek outside [0, 4096] fails with EINVAL.
 *
 * Rust users: the crate edu-regs (module uapi) carries the same numbers.
 */
#ifndef _UAPI_LINUX_EDU_H
#define _UAPI_LINUX_EDU_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define EDU_IOC_MAGIC		'E'
#define EDU_IOC_IDENT		_IOR(EDU_IOC_MAGIC, 1, __u32)
#define EDU_IOC_LIVENESS	_IOWR(EDU_IOC_MAGIC, 2, __u32)
#define EDU_IOC_FACTORIAL	_IOWR(EDU_IOC_MAGIC, 3, __u32)
#define EDU_IOC_RAISE		_IOW(EDU_IOC_MAGIC, 4, __u32)

#define EDU_BUF_SIZE		4096

#endif /* _UAPI_LINUX_EDU_H */
