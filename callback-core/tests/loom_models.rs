// SPDX-License-Identifier: GPL-2.0

//! Runs the loom models (`tests/loom.rs`) as part of a plain `cargo test -p callback-core`.
//!
//! loom replaces the atomics the library is built on, which takes a compiler flag
//! (`--cfg loom`) rather than a feature; a flag would rebuild every crate of the workspace's
//! target directory. So this test builds the models in a target directory of their own
//! (`target/loom`) and runs them there, and fails if any model fails. Each model's line is
//! passed through, so the run shows what was checked.

#![cfg(not(loom))]

use std::path::PathBuf;
use std::process::Command;

#[test]
fn loom_models() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.parent().unwrap().join("target"))
        .join("loom");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&manifest)
        .args([
            "test",
            "--release",
            "--test",
            "loom",
            "--",
            "--test-threads=2",
        ])
        .env("RUSTFLAGS", "--cfg loom")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run cargo for the loom models");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines().filter(|l| l.starts_with("test ")) {
        println!("loom: {line}");
    }
    assert!(
        out.status.success(),
        "the loom models failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("test result: ok."),
        "no loom result in:\n{stdout}"
    );
}
