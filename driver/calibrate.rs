// SPDX-License-Identifier: GPL-2.0

//! A benchmark, not driver code: `/sys/kernel/debug/edu/calibrate` measures the listener's
//! owner-guarded dispatch inside the kernel on each read. Optional like all of debugfs; the
//! figures come from whatever kernel the module runs on (the test kernel is a debug kernel, so
//! its figures say nothing about production costs).

use crate::listener;
use kernel::{
    debugfs,
    prelude::*, //
};

/// This module, for the calibration's `try_module_get`.
///
/// # Invariants
///
/// Points to the module this code belongs to, which outlives every read of the file.
struct ModulePtr(*mut kernel::bindings::module);

// SAFETY: A module pointer may be used from any thread.
unsafe impl Send for ModulePtr {}
// SAFETY: As above; it is never written.
unsafe impl Sync for ModulePtr {}

/// The debugfs directory and its file, removed (file first) when dropped.
pub(crate) struct Debugfs {
    _file: Pin<KBox<debugfs::File<ModulePtr>>>,
    _dir: debugfs::Dir,
}

impl Debugfs {
    /// Creates `/sys/kernel/debug/edu/calibrate`.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let dir = debugfs::Dir::new(c"edu");
        // INVARIANT: `module` is this module.
        let file = KBox::pin_init(
            dir.read_callback_file(c"calibrate", ModulePtr(module.as_ptr()), &show),
            GFP_KERNEL,
        )?;
        Ok(Self {
            _file: file,
            _dir: dir,
        })
    }
}

fn show(module: &ModulePtr, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    listener::calibrate(module.0, f)
}
