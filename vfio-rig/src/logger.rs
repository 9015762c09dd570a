// SPDX-License-Identifier: GPL-2.0

//! A minimal `log` backend: records go to stderr as `edu-rig: LEVEL target: message`.
//!
//! The rig itself returns its errors, but vfio-ioctls reports some failures only through `log`
//! (a group it could not detach at teardown, an invalid region index): without a logger they
//! would be lost.

use log::{LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "edu-rig: {} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: Stderr = Stderr;

/// Installs the stderr logger (once per process; later calls only change the level): warnings
/// and errors, or everything down to `Debug` with `verbose`.
pub fn init(verbose: bool) {
    // Fails only if a logger is already installed, which is then kept.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(if verbose {
        LevelFilter::Debug
    } else {
        LevelFilter::Warn
    });
}
