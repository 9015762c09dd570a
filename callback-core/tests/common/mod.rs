// SPDX-License-Identifier: GPL-2.0

//! Shared by the integration tests: the negative control.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use callback_core::{Gate, Owner};

/// The negative control: a gate whose [`Gate::drained`] lies (it reports "drained" at once), so
/// `Slot::unregister` returns while calls are still in flight. The tests must catch it.
///
/// Otherwise a plain counter with a closed flag (gets are refused after `revoke`).
#[derive(Default)]
pub struct LyingGate {
    count: AtomicUsize,
    closed: AtomicBool,
}

impl LyingGate {
    /// An open gate.
    pub const fn new() -> Self {
        LyingGate {
            count: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        }
    }
}

// SAFETY: a successful get is counted until its put, and refused while closed (SeqCst, the flag
// checked after the increment). This part of the contract holds.
unsafe impl Owner for LyingGate {
    fn try_get(&self) -> bool {
        self.count.fetch_add(1, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            self.count.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }
    fn put(&self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

// SAFETY: NOT upheld, on purpose: `drained` breaks rule 2 of the `Gate` contract. A slot guarded
// by this gate may clear its registration while a dispatcher that has just entered reads it (a
// data race on a pointer-sized, aligned cell); it is used only to show that the tests notice
// calls running after `unregister` returned.
unsafe impl Gate for LyingGate {
    fn revoke(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
    fn drained(&self) -> bool {
        true
    }
    fn reinstate(&self) {
        self.closed.store(false, Ordering::SeqCst);
    }
}
