// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the driver's pure logic. They run when the module loads (the test kernel has
//! `CONFIG_KUNIT`); results are in the kernel log (KTAP) and `/sys/kernel/debug/kunit/edu/`.

use kernel::prelude::*;

#[kunit_tests(edu)]
mod tests {
    use crate::{
        file::nr,
        ladder::Ladder,
        regs,
        uapi, //
    };
    use kernel::prelude::*;

    #[test]
    fn factorial_table() {
        let want = [
            1u32, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800, 39916800, 479001600,
        ];
        for (n, w) in want.iter().enumerate() {
            assert_eq!(regs::factorial(n as u32), Some(*w));
        }
        assert_eq!(regs::factorial(regs::FACTORIAL_MAX + 1), None);
        assert_eq!(regs::factorial(u32::MAX), None);
    }

    #[test]
    fn dma_span() {
        assert_eq!(regs::dma_span(0, 4096), Some(4096));
        assert_eq!(regs::dma_span(0, 0), Some(0));
        assert_eq!(regs::dma_span(4090, 16), Some(6));
        assert_eq!(regs::dma_span(4095, usize::MAX), Some(1));
        assert_eq!(regs::dma_span(4096, 1), None);
        assert_eq!(regs::dma_span(u64::MAX, 1), None);
    }

    #[test]
    fn ioctl_numbers_match_the_uapi() {
        // The uAPI crate encodes the asm-generic layout by hand for userspace; the driver uses
        // the kernel's macros. They must agree on every architecture the module builds for.
        assert_eq!(nr::IDENT, uapi::EDU_IOC_IDENT);
        assert_eq!(nr::LIVENESS, uapi::EDU_IOC_LIVENESS);
        assert_eq!(nr::FACTORIAL, uapi::EDU_IOC_FACTORIAL);
        assert_eq!(nr::RAISE, uapi::EDU_IOC_RAISE);
    }

    #[test]
    fn ladder_fails_the_named_step_only() {
        let mut ladder = Ladder::new("kunit", None, 2, 0);
        assert_eq!(ladder.step("one", || Ok(1)), Ok(1));
        assert_eq!(ladder.step("two", || Ok(2)), Err(ENOMEM));
        assert_eq!(ladder.step("three", || Ok(3)), Ok(3));
        assert_eq!(ladder.step("four", || Err::<u32, _>(EIO)), Err(EIO));
    }

    #[test]
    fn ladder_goes_on_without_an_optional_step() {
        let mut ladder = Ladder::new("kunit", None, 1, 0);
        assert_eq!(ladder.optional("one", || Ok(1)), None);
        assert_eq!(ladder.optional("two", || Ok(2)), Some(2));
    }
}
