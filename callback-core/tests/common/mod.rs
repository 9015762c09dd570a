// SPDX-License-Identifier: GPL-2.0

//! Shared by the integration tests: the negative control, and how a stress test runs one.

// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

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

/// Runs a negative control's stress run until it sees a violation (a late or torn call), up to `runs` times, and
/// panics if none did. A late call needs a dispatcher inside the window between an unregister
/// and the end of the registration's use: a 400 ms run usually has hundreds, but one whose
/// dispatchers were descheduled for that long has none, so such a run is repeated. `run` returns
/// (violations seen, successful dispatches); the runs must have made more than 100 calls in all.
pub fn catches_late_calls(runs: usize, mut run: impl FnMut() -> (u64, u64)) {
    let mut calls = 0;
    for _ in 0..runs {
        let (seen, ok) = run();
        calls += ok;
        if seen > 0 {
            assert!(calls > 100, "too few calls: {calls}");
            return;
        }
    }
    panic!("the stress test missed calls after their removal in {runs} runs");
}

/// Runs one dispatch and counts in `torn` a panic of the dispatch's own debug check (an `ACTIVE`
/// slot with an empty registration cell), returning `None` for it. A broken gate or domain lets
/// `unregister` clear the cell under a dispatcher that already saw `ACTIVE`: that is as much a
/// caught violation as a late call, and a negative control must count it, not die of it.
pub fn counting_torn<R>(torn: &AtomicU64, dispatch: impl FnOnce() -> R) -> Option<R> {
    match panic::catch_unwind(AssertUnwindSafe(dispatch)) {
        Ok(r) => Some(r),
        Err(_) => {
            torn.fetch_add(1, Ordering::SeqCst);
            None
        }
    }
}
