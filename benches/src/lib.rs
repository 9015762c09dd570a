// SPDX-License-Identifier: GPL-2.0

//! Benchmarks for `callback-core`: see `benches/dispatch.rs` and `run.sh`.
//!
//! [`asm`] holds dispatch loops compiled out of line, so that the machine code of each fast path
//! can be read on its own (`benches/asm.sh`).

pub mod asm {
    //! One out-of-line loop per dispatch variant, for reading the generated code.

    use callback_core::domain::{EpochDomain, LiveFlag};
    use callback_core::DomainSlot;

    /// The callback's context.
    #[derive(Debug)]
    pub struct Ctx {
        /// Mixed into the result, so the call cannot be folded away.
        pub salt: u64,
    }

    /// The callback: out of line, as a registered function pointer is.
    #[inline(never)]
    pub fn callback(ctx: &'static Ctx, ev: u32) -> u64 {
        ctx.salt ^ u64::from(ev)
    }

    /// `iters` dispatches through the merged guard.
    #[inline(never)]
    pub fn domain_loop(slot: &DomainSlot<'static, EpochDomain, LiveFlag, Ctx, u64>, iters: u64) {
        for i in 0..iters {
            std::hint::black_box(slot.dispatch(std::hint::black_box(i as u32)).ok());
        }
    }
}
