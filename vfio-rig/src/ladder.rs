// SPDX-License-Identifier: GPL-2.0

//! The probe ladder with a fault-injection point at every step, as in the driver's `ladder.rs`.
//!
//! Probe walks a [`Ladder`]: every step goes through [`Ladder::step`], which numbers it, fails it
//! with [`Error::Injected`] when `--fail-step` names it, and wraps a real failure in
//! [`Error::Step`]. Undoing is not the ladder's job: each step returns a guard whose `Drop` undoes
//! exactly that step, and Rust drops those guards in reverse order, both on an early return and
//! when the struct holding them is dropped. Every guard carries a [`StepTrace`] as its last field,
//! so that with tracing on (`--trace`) the order of builds and undos is visible and testable, each line
//! ending with the time since the previous one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::error::{Error, Result};

/// The names of the probe steps, in order; step k is `STEPS[k - 1]`.
pub const STEPS: [&str; 7] = [
    "container",
    "group and device",
    "config space",
    "BAR0 mapping",
    "DMA mapping",
    "interrupts",
    "publish",
];

/// Number of probe steps: `--fail-step` takes 1..=`STEP_COUNT` (and `STEP_COUNT + 1`, which
/// fails nothing).
pub const STEP_COUNT: u32 = STEPS.len() as u32;

static TRACE: AtomicBool = AtomicBool::new(false);

/// Turns the build/undo trace on stderr on or off (process-wide).
pub fn set_trace(on: bool) {
    TRACE.store(on, Ordering::Relaxed);
}

fn tracing() -> bool {
    TRACE.load(Ordering::Relaxed)
}

/// Prints one trace line with the time since the previous one (`+N us`): the cost of the step.
fn trace(line: std::fmt::Arguments<'_>) {
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let now = Instant::now();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let dt = last.map_or(0, |t| now.duration_since(t).as_micros());
    *last = Some(now);
    eprintln!("rig: {line} +{dt}us");
}

/// Parses a `--fail-step` argument: a step number in `1..=STEP_COUNT + 1` (the last value
/// injects nothing, proving that the ladder completes).
pub fn parse_fail_step(s: &str) -> Result<u32> {
    let k: u32 = s
        .trim()
        .parse()
        .map_err(|_| Error::Invalid("--fail-step takes a step number"))?;
    if k == 0 || k > STEP_COUNT + 1 {
        return Err(Error::Invalid("--fail-step is out of range (1..=8)"));
    }
    Ok(k)
}

/// Printed when a guard is dropped: the last field of every step's guard.
#[derive(Debug)]
pub struct StepTrace {
    step: u32,
}

impl StepTrace {
    /// The trace token of step `step` (1-based).
    pub fn new(step: u32) -> Self {
        Self { step }
    }
}

impl Drop for StepTrace {
    fn drop(&mut self) {
        if tracing() {
            trace(format_args!(
                "undo step {} ({})",
                self.step,
                step_name(self.step)
            ));
        }
    }
}

/// The name of step `k` (1-based).
pub fn step_name(k: u32) -> &'static str {
    STEPS
        .get(k.wrapping_sub(1) as usize)
        .copied()
        .unwrap_or("none")
}

/// A numbered sequence of probe steps.
#[derive(Debug)]
pub struct Ladder {
    fail_at: Option<u32>,
    next: u32,
}

impl Ladder {
    /// Starts a ladder; `fail_at` is the 1-based step that must fail (`None`: none).
    pub fn new(fail_at: Option<u32>) -> Self {
        Self { fail_at, next: 1 }
    }

    /// The number the next step will get.
    pub fn next_step(&self) -> u32 {
        self.next
    }

    /// Runs the next step: `f` (given the step's trace token) unless this is the injected
    /// failure. A failure is wrapped with the step's number and name.
    pub fn step<T>(&mut self, f: impl FnOnce(StepTrace) -> Result<T>) -> Result<T> {
        let k = self.next;
        self.next += 1;
        let name = step_name(k);
        if self.fail_at == Some(k) {
            if tracing() {
                trace(format_args!("step {k} ({name}) failed: injected"));
            }
            return Err(Error::Injected { step: k, name });
        }
        match f(StepTrace::new(k)) {
            Ok(v) => {
                if tracing() {
                    trace(format_args!("step {k} ({name}) done"));
                }
                Ok(v)
            }
            Err(e) => {
                if tracing() {
                    trace(format_args!("step {k} ({name}) failed: {e}"));
                }
                Err(Error::Step {
                    step: k,
                    name,
                    source: Box::new(e),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A fake step guard that records its undo in a shared log.
    struct Fake(u32, Rc<RefCell<Vec<String>>>);

    impl Drop for Fake {
        fn drop(&mut self) {
            self.1.borrow_mut().push(format!("undo {}", self.0));
        }
    }

    /// A fake binding with the guards declared in teardown order, like `Rig`.
    #[allow(dead_code)]
    struct FakeBinding(Fake, Fake, Fake);

    fn probe(fail_at: Option<u32>, log: &Rc<RefCell<Vec<String>>>) -> Result<FakeBinding> {
        let mut ladder = Ladder::new(fail_at);
        let build = |ladder: &mut Ladder| {
            ladder.step(|t| {
                log.borrow_mut().push(format!("build {}", t.step));
                Ok(Fake(t.step, log.clone()))
            })
        };
        let a = build(&mut ladder)?;
        let b = build(&mut ladder)?;
        let c = build(&mut ladder)?;
        Ok(FakeBinding(c, b, a))
    }

    #[test]
    fn every_injected_failure_unwinds_exactly_the_built_steps() {
        for k in 1..=4u32 {
            let log = Rc::new(RefCell::new(Vec::new()));
            let r = probe(Some(k), &log);
            if k <= 3 {
                match r {
                    Err(Error::Injected { step, .. }) => assert_eq!(step, k),
                    _ => panic!("step {k} should fail"),
                }
                let mut want: Vec<String> = (1..k).map(|i| format!("build {i}")).collect();
                want.extend((1..k).rev().map(|i| format!("undo {i}")));
                assert_eq!(*log.borrow(), want, "k = {k}");
            } else {
                let binding = r.expect("k = last + 1 succeeds");
                drop(binding);
                let want: Vec<String> = [
                    "build 1", "build 2", "build 3", "undo 3", "undo 2", "undo 1",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                assert_eq!(*log.borrow(), want);
            }
        }
    }

    #[test]
    fn a_real_failure_names_its_step() {
        let mut ladder = Ladder::new(None);
        ladder.step(|_| Ok(())).unwrap();
        let e = ladder
            .step(|_| -> Result<()> { Err(Error::Gone) })
            .unwrap_err();
        assert!(matches!(e, Error::Step { step: 2, .. }));
        assert!(matches!(e.root(), Error::Gone));
    }

    #[test]
    fn fail_step_parsing() {
        assert_eq!(parse_fail_step("1").unwrap(), 1);
        assert_eq!(parse_fail_step("8").unwrap(), 8);
        assert!(parse_fail_step("0").is_err());
        assert!(parse_fail_step("9").is_err());
        assert!(parse_fail_step("x").is_err());
        assert_eq!(step_name(1), "container");
        assert_eq!(step_name(7), "publish");
        assert_eq!(step_name(8), "none");
    }
}
