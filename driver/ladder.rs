// SPDX-License-Identifier: GPL-2.0

//! Registration ladders with a fault-injection point at every step.
//!
//! Module init and probe each walk a [`Ladder`]: every step goes through [`Ladder::step`] (an
//! essential step: its failure fails the whole ladder) or [`Ladder::optional`] (the driver goes on
//! without it), which number it, fail it with `ENOMEM` when the matching module parameter
//! (`fail_init`, `fail_probe`) names it, and log which step failed and why. Before an injected
//! failure the ladder can pause (`fail_delay_ms`), so a test can use what the earlier steps
//! registered while the failure happens.
//!
//! Undoing is not the ladder's job: each step returns a guard whose `Drop` undoes exactly that
//! step, and Rust drops those guards in reverse order, both on an early return and when the
//! struct holding them is dropped.

use kernel::{
    device,
    prelude::*,
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
    next: u32,
}

impl<'a> Ladder<'a> {
    /// Starts a ladder whose messages go to the kernel log, or to `dev`'s log if given;
    /// `fail_at` is the 1-based step that must fail (0: none), after a pause of `fail_delay_ms`.
    pub(crate) fn new(
        name: &'static str,
        dev: Option<&'a device::Device>,
        fail_at: u32,
        fail_delay_ms: u32,
    ) -> Self {
        Self {
            name,
            dev,
            fail_at,
            fail_delay_ms,
            next: 1,
        }
    }

    /// Runs the next step, an optional one: on failure the ladder goes on without it, and says
    /// so once in the log.
    pub(crate) fn optional<T>(&mut self, what: &str, f: impl FnOnce() -> Result<T>) -> Option<T> {
        let r = self.step(what, f).ok();
        if r.is_none() {
            self.log(format_args!("continuing without {}\n", what));
        }
        r
    }

    fn log(&self, args: core::fmt::Arguments<'_>) {
        match self.dev {
            Some(dev) => dev_warn!(dev, "{}", args),
            None => pr_warn!("{}", args),
        }
    }

    /// Runs the next step, called `what`: `f` unless this is the injected failure.
    pub(crate) fn step<T>(&mut self, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let k = self.next;
        self.next += 1;
        let r = if k == self.fail_at {
            if self.fail_delay_ms > 0 {
                fsleep(Delta::from_millis(self.fail_delay_ms.into()));
            }
            Err(ENOMEM)
        } else {
            f()
        };
        if let Err(e) = &r {
            let why = if k == self.fail_at { " (injected)" } else { "" };
            match self.dev {
                Some(dev) => dev_err!(
                    dev,
                    "{} step {} ({}) failed{}: error {}\n",
                    self.name,
                    k,
                    what,
                    why,
                    e.to_errno()
                ),
                None => pr_err!(
                    "{} step {} ({}) failed{}: error {}\n",
                    self.name,
                    k,
                    what,
                    why,
                    e.to_errno()
                ),
            }
        }
        r
    }
}
