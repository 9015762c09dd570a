// SPDX-License-Identifier: GPL-2.0

//! Registration ladders with a fault-injection point at every step, and an undo trace.
//!
//! Module init and probe each walk a [`Ladder`]. A step begins with [`Ladder::step`] (an
//! essential step: its failure fails the whole ladder) or [`Ladder::optional`] (the driver goes on
//! without it), which number it and fail it with `ENOMEM` when the matching module parameter
//! (`fail_init`, `fail_probe`) names it; then [`Step::run`] runs it, and logs why it failed if it
//! did. The injected failure happens when the step begins, before the step's closure exists, so
//! it has taken nothing over from earlier steps: their guards are undone where they lie. Before
//! an injected failure the ladder can pause (`fail_delay_ms`), so a test can use what the
//! earlier steps registered while the failure happens.
//!
//! Undoing is not the ladder's job: each step returns a guard whose `Drop` undoes exactly that
//! step, and Rust drops those guards in reverse order, both on an early return and when the
//! struct holding them is dropped. The ladder only makes that visible: with `trace_ladder` set,
//! every step that completes logs `<ladder> step k (what)`, and every guard made by
//! [`Step::guard`] logs `<ladder> undo step k (what)` just before it undoes the step. A step
//! whose undo devres runs gets its trace line from devres too ([`Step::devres_traced`]), so the
//! line comes in the order devres releases. A guard a later step takes over
//! ([`Undo::into_inner`]) is undone by that step's guard, and has no line of its own.

use core::ops::Deref;
use kernel::{
    device::{
        self,
        Bound, //
    },
    devres,
    prelude::*,
    sync::aref::ARef,
    time::{
        delay::fsleep,
        Delta, //
    }, //
};

/// A numbered sequence of registration steps.
pub(crate) struct Ladder<'a> {
    name: &'static str,
    dev: Option<&'a device::Device>,
    fail_at: u32,
    fail_delay_ms: u32,
    trace: bool,
    next: u32,
}

impl<'a> Ladder<'a> {
    /// Starts a ladder whose messages go to the kernel log, or to `dev`'s log if given;
    /// `fail_at` is the 1-based step that must fail (0: none), after a pause of `fail_delay_ms`;
    /// `trace` logs every completed step and every undo.
    pub(crate) fn new(
        name: &'static str,
        dev: Option<&'a device::Device>,
        fail_at: u32,
        fail_delay_ms: u32,
        trace: bool,
    ) -> Self {
        Self {
            name,
            dev,
            fail_at,
            fail_delay_ms,
            trace,
            next: 1,
        }
    }

    fn log(&self, args: core::fmt::Arguments<'_>) {
        match self.dev {
            Some(dev) => dev_warn!(dev, "{}", args),
            None => pr_warn!("{}", args),
        }
    }

    fn log_err(&self, args: core::fmt::Arguments<'_>) {
        match self.dev {
            Some(dev) => dev_err!(dev, "{}", args),
            None => pr_err!("{}", args),
        }
    }

    /// Begins the next step, called `what`, which must succeed. Fails here if this is the
    /// injected failure.
    pub(crate) fn step(&mut self, what: &'static str) -> Result<Step<'_, 'a>> {
        let k = self.next;
        self.next += 1;
        let step = Step {
            ladder: self,
            k,
            what,
        };
        if k == step.ladder.fail_at {
            if step.ladder.fail_delay_ms > 0 {
                fsleep(Delta::from_millis(step.ladder.fail_delay_ms.into()));
            }
            return Err(step.failed(ENOMEM, " (injected)"));
        }
        Ok(step)
    }

    /// Runs the next step, called `what`, an optional one: `f` runs it, and on failure the
    /// ladder goes on without it, and says so once in the log.
    pub(crate) fn optional<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(Step<'_, 'a>) -> Result<T>,
    ) -> Option<T> {
        let r = self.step(what).and_then(f).ok();
        if r.is_none() {
            self.log(format_args!("continuing without {}\n", what));
        }
        r
    }
}

/// A step that has begun: [`Step::run`] or one of its variants completes it.
pub(crate) struct Step<'l, 'a> {
    ladder: &'l Ladder<'a>,
    k: u32,
    what: &'static str,
}

impl Step<'_, '_> {
    /// Logs that the step failed with `e`, and returns `e`.
    fn failed(&self, e: Error, why: &str) -> Error {
        let l = self.ladder;
        l.log_err(format_args!(
            "{} step {} ({}) failed{}: error {}\n",
            l.name,
            self.k,
            self.what,
            why,
            e.to_errno()
        ));
        e
    }

    /// Runs the step: `f` registers what it registers, and a step with nothing to undo (a check)
    /// or whose result a later step takes over is complete.
    pub(crate) fn run<T>(self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let r = f().map_err(|e| self.failed(e, ""));
        if r.is_ok() && self.ladder.trace {
            self.ladder.log(format_args!(
                "{} step {} ({})\n",
                self.ladder.name, self.k, self.what
            ));
        }
        r
    }

    /// Runs the step, whose undo is `f`'s result: dropping the returned guard undoes the step.
    pub(crate) fn guard<T>(self, f: impl FnOnce() -> Result<T>) -> Result<Undo<T>> {
        let mark = self.mark();
        let guard = self.run(f)?;
        Ok(Undo { mark, guard })
    }

    /// Runs the step, whose undo `f` has given to devres (`dev`'s managed resources, released
    /// in reverse after the driver's own data); the trace line of the undo is a devres resource
    /// too, registered just after, so it is released just before that undo.
    pub(crate) fn devres_traced(
        self,
        dev: &device::Device<Bound>,
        f: impl FnOnce() -> Result,
    ) -> Result {
        let mark = self.mark();
        let trace = self.ladder.trace;
        self.run(f)?;
        if trace {
            // Best effort: a lost trace line must not fail a step that worked.
            if let Err(e) = devres::register(dev, mark, GFP_KERNEL) {
                dev_warn!(dev, "no undo trace for this step: error {}\n", e.to_errno());
            }
        }
        Ok(())
    }

    fn mark(&self) -> Mark {
        let l = self.ladder;
        Mark {
            trace: l.trace.then(|| Trace {
                ladder: l.name,
                k: self.k,
                what: self.what,
                dev: l.dev.map(ARef::from),
            }),
        }
    }
}

/// The guard of a completed step, and its line in the undo trace.
///
/// Dropping it undoes the step: the trace line first, then the guard (field order).
pub(crate) struct Undo<T> {
    mark: Mark,
    guard: T,
}

impl<T> Undo<T> {
    /// Hands the guard to a later step, whose own guard then undoes it.
    pub(crate) fn into_inner(self) -> T {
        let Undo { mut mark, guard } = self;
        // The taker's trace line stands for this one now.
        mark.trace = None;
        guard
    }
}

impl<T> Deref for Undo<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

/// The undo trace line of one step, if the ladder traces.
struct Mark {
    trace: Option<Trace>,
}

struct Trace {
    ladder: &'static str,
    k: u32,
    what: &'static str,
    dev: Option<ARef<device::Device>>,
}

impl Drop for Mark {
    fn drop(&mut self) {
        let Some(t) = &self.trace else { return };
        match &t.dev {
            Some(dev) => dev_info!(dev, "{} undo step {} ({})\n", t.ladder, t.k, t.what),
            None => pr_info!("{} undo step {} ({})\n", t.ladder, t.k, t.what),
        }
    }
}
