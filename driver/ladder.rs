// SPDX-License-Identifier: GPL-2.0

//! Registration ladders with a fault-injection point at every step.
//!
//! Module init and probe each walk a [`Ladder`]: every step goes through [`Ladder::step`], which
//! numbers it, fails it with `ENOMEM` when the matching module parameter (`fail_init`,
//! `fail_probe`) names it, and logs which step failed and why. Undoing is not the ladder's job:
//! each step returns a guard whose `Drop` undoes exactly that step, and Rust drops those guards in
//! reverse order, both on an early return and when the struct holding them is dropped.

use kernel::{
    device,
    prelude::*, //
};

/// A numbered sequence of registration steps.
pub(crate) struct Ladder<'a> {
    name: &'static str,
    dev: Option<&'a device::Device>,
    fail_at: u32,
    next: u32,
}

impl<'a> Ladder<'a> {
    /// Starts a ladder whose messages go to the kernel log, or to `dev`'s log if given;
    /// `fail_at` is the 1-based step that must fail (0: none).
    pub(crate) fn new(name: &'static str, dev: Option<&'a device::Device>, fail_at: u32) -> Self {
        Self {
            name,
            dev,
            fail_at,
            next: 1,
        }
    }

    /// Runs the next step, called `what`: `f` unless this is the injected failure.
    pub(crate) fn step<T>(&mut self, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let k = self.next;
        self.next += 1;
        let r = if k == self.fail_at { Err(ENOMEM) } else { f() };
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
