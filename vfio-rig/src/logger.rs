// SPDX-License-Identifier: GPL-2.0

//! The binaries' `log` backend: `env_logger`, records on stderr as `edu-rig: LEVEL target: message`.
//!
//! The rig itself returns its errors, but vfio-ioctls reports some failures only through `log`
//! (a group it could not detach at teardown, an invalid region index, a failed region access):
//! without a logger they would be lost. `RUST_LOG` chooses what is shown, as everywhere in the
//! Rust ecosystem (`RUST_LOG=debug`, `RUST_LOG=vfio_ioctls=trace`); without it, warnings and
//! errors, or everything down to `debug` when the caller asks for verbose output (`--trace`).

use std::io::Write;

/// The filter when `RUST_LOG` is not set.
fn default_filter(verbose: bool) -> &'static str {
    if verbose {
        "debug"
    } else {
        "warn"
    }
}

/// Installs the stderr logger (once per process: a later call keeps the first logger).
pub fn init(verbose: bool) {
    let env = env_logger::Env::default().default_filter_or(default_filter(verbose));
    // Fails only if a logger is already installed, which is then kept.
    let _ = env_logger::Builder::from_env(env)
        .format(|buf, record| {
            writeln!(
                buf,
                "edu-rig: {} {}: {}",
                record.level(),
                record.target(),
                record.args()
            )
        })
        .target(env_logger::Target::Stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_filters() {
        assert_eq!(super::default_filter(false), "warn");
        assert_eq!(super::default_filter(true), "debug");
    }
}
