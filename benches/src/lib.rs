// SPDX-License-Identifier: GPL-2.0

//! Benchmarks for `callback-core`: see `benches/dispatch.rs` and `run.sh`; `asm.sh` prints the
//! machine code of the measured dispatch loops.
