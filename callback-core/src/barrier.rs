// SPDX-License-Identifier: GPL-2.0

//! The asymmetric fence: [`light`] on the frequent side (readers), [`heavy`] on the rare side
//! (writers), as userspace RCU's membarrier flavour and folly's `asymmetricLightBarrier` /
//! `asymmetricHeavyBarrier` do.
//!
//! With `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` registered, the light side is a compiler
//! fence and the heavy side a full fence plus the system call, which runs a full memory barrier
//! on every CPU currently running a thread of this process (a context switch implies one too).
//! Each light fence is then, as seen from a heavy one, a full fence: the store-buffering pattern
//! "light side stores X then loads Y, heavy side stores Y then loads X" cannot have both loads
//! read the old values. Without expedited membarrier both sides are `fence(SeqCst)`, the pattern
//! inside the memory model. Under loom both sides are `fence(SeqCst)` (`crate::sync`).
//!
//! The choice is made once per process, by whichever side gets there first, and never changes,
//! so both sides always agree.

use crate::sync::{fence, Ordering};

/// Not chosen yet.
pub(crate) const MODE_UNKNOWN: u8 = 0;
/// `membarrier` registered: the light side is a compiler fence.
pub(crate) const MODE_MEMBARRIER: u8 = 1;
/// No expedited membarrier: both sides are `fence(SeqCst)`.
pub(crate) const MODE_FENCE: u8 = 2;

#[cfg(not(loom))]
mod imp {
    use core::sync::atomic::{AtomicU8, Ordering};

    use super::{MODE_FENCE, MODE_MEMBARRIER, MODE_UNKNOWN};

    /// The process-wide choice.
    static MODE: AtomicU8 = AtomicU8::new(MODE_UNKNOWN);

    #[cfg(target_os = "linux")]
    mod sys {
        const MEMBARRIER_CMD_QUERY: libc::c_long = 0;
        const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
        const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

        fn membarrier(cmd: libc::c_long) -> libc::c_long {
            // SAFETY: membarrier(cmd, flags = 0, cpu_id = 0) takes no pointers.
            unsafe {
                libc::syscall(
                    libc::SYS_membarrier,
                    cmd,
                    0 as libc::c_long,
                    0 as libc::c_long,
                )
            }
        }

        /// Registers this process for private expedited membarriers.
        pub(super) fn register() -> bool {
            let mask = membarrier(MEMBARRIER_CMD_QUERY);
            mask > 0
                && mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED != 0
                && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0
        }

        /// Runs a full memory barrier on every CPU running a thread of this process.
        pub(super) fn barrier() -> bool {
            membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0
        }
    }

    #[cfg(not(target_os = "linux"))]
    mod sys {
        pub(super) fn register() -> bool {
            false
        }

        pub(super) fn barrier() -> bool {
            false
        }
    }

    #[inline]
    pub(crate) fn mode() -> u8 {
        let m = MODE.load(Ordering::Relaxed);
        if m != MODE_UNKNOWN {
            return m;
        }
        init_mode()
    }

    #[cold]
    fn init_mode() -> u8 {
        let want = if sys::register() {
            MODE_MEMBARRIER
        } else {
            MODE_FENCE
        };
        match MODE.compare_exchange(MODE_UNKNOWN, want, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => want,
            Err(set) => set,
        }
    }

    pub(crate) fn barrier() -> bool {
        sys::barrier()
    }
}

#[cfg(loom)]
mod imp {
    /// Under loom, membarrier is modelled as a fence on both sides.
    pub(crate) fn mode() -> u8 {
        super::MODE_FENCE
    }

    pub(crate) fn barrier() -> bool {
        unreachable!("no membarrier under loom")
    }
}

/// The process-wide mode, chosen (and membarrier registered) on first use.
#[inline]
pub(crate) fn mode() -> u8 {
    imp::mode()
}

/// Registers `membarrier` now, at start-up, instead of at the first dispatch or unregistration,
/// and returns whether it is available (readers then need only a compiler fence).
pub fn membarrier_available() -> bool {
    mode() == MODE_MEMBARRIER
}

/// The light side, for a reader that chose `mode`.
#[inline(always)]
pub(crate) fn light(mode: u8) {
    #[cfg(not(loom))]
    if mode == MODE_MEMBARRIER {
        crate::sync::compiler_fence(Ordering::SeqCst);
        return;
    }
    let _ = mode;
    fence(Ordering::SeqCst);
}

/// The light side in membarrier mode: a compiler fence.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn light_membarrier() {
    crate::sync::compiler_fence(Ordering::SeqCst);
}

/// The heavy side, for a writer that chose `mode`.
pub(crate) fn heavy(mode: u8) {
    fence(Ordering::SeqCst);
    if mode == MODE_MEMBARRIER && !imp::barrier() {
        // Readers are running with compiler fences only and no barrier can be issued: the
        // guarantee cannot be kept.
        std::process::abort();
    }
}
