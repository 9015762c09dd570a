// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the driver's pure logic. They run when the module loads (the test kernel has
//! `CONFIG_KUNIT`); results are in the kernel log (KTAP) and `/sys/kernel/debug/kunit/edu/`.

use kernel::prelude::*;

#[kunit_tests(edu)]
mod tests {
    use crate::{
        file::nr,
        hw::{
            self,
            Dir,
            Regs, //
        },
        ladder::Ladder,
        regs,
        uapi, //
    };
    use core::cell::Cell;
    use kernel::prelude::*;

    /// A fake register file: `value` for every read; counts writes, keeps the last one and what
    /// was written to the DMA address registers.
    struct Fake {
        value: u32,
        writes: Cell<u32>,
        last: Cell<(usize, u64)>,
        src: Cell<u64>,
        dst: Cell<u64>,
    }

    impl Fake {
        fn new(value: u32) -> Self {
            Self {
                value,
                writes: Cell::new(0),
                last: Cell::new((0, 0)),
                src: Cell::new(0),
                dst: Cell::new(0),
            }
        }
    }

    impl Regs for Fake {
        fn read32(&self, _reg: usize) -> Result<u32> {
            Ok(self.value)
        }

        fn write32(&self, value: u32, reg: usize) -> Result {
            self.write64(value.into(), reg)
        }

        fn write64(&self, value: u64, reg: usize) -> Result {
            self.writes.set(self.writes.get() + 1);
            self.last.set((reg, value));
            match reg {
                regs::DMA_SRC => self.src.set(value),
                regs::DMA_DST => self.dst.set(value),
                _ => {}
            }
            Ok(())
        }
    }

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
    fn a_vanished_device_reads_as_enodev() {
        // A removed device answers all-ones everywhere: never data, never "busy forever".
        let gone = Fake::new(regs::ALL_ONES);
        assert_eq!(hw::read(&gone, regs::IDENT), Err(ENODEV));
        assert_eq!(hw::factorial_busy(&gone), Err(ENODEV));
        assert_eq!(hw::dma_busy(&gone), Err(ENODEV));
        // Nothing is acknowledged on a vanished device, and the handler says "not mine".
        assert_eq!(hw::ack(&gone), regs::ALL_ONES);
        assert_eq!(gone.writes.get(), 0);
    }

    #[test]
    fn ack_writes_back_exactly_what_was_pending() {
        let idle = Fake::new(0);
        assert_eq!(hw::ack(&idle), 0);
        assert_eq!(idle.writes.get(), 0);
        let pending = Fake::new(regs::IRQ_DMA | 0x1000);
        assert_eq!(hw::ack(&pending), regs::IRQ_DMA | 0x1000);
        assert_eq!(
            pending.last.get(),
            (regs::IRQ_ACK, u64::from(regs::IRQ_DMA | 0x1000))
        );
    }

    #[test]
    fn dma_registers_are_written_whole_and_command_last() {
        let f = Fake::new(0);
        let high = 0x1_0000_0000u64;
        assert_eq!(hw::start_dma(&f, Dir::ToRam, high, 16, 4), Ok(()));
        assert_eq!(f.writes.get(), 4);
        let cmd = regs::DMA_CMD_START | regs::DMA_CMD_IRQ | regs::DMA_CMD_TO_RAM;
        assert_eq!(f.last.get(), (regs::DMA_CMD, u64::from(cmd)));
        // The destination of a read is memory: the full 64-bit address, not its low half.
        assert_eq!(f.src.get(), regs::DMA_BUF_ADDR + 16);
        assert_eq!(f.dst.get(), high);
        let f = Fake::new(0);
        assert_eq!(hw::start_dma(&f, Dir::ToDevice, high, 0, 4), Ok(()));
        assert_eq!(f.src.get(), high);
        assert_eq!(f.dst.get(), regs::DMA_BUF_ADDR);
    }

    #[test]
    fn ladder_fails_the_named_step_only() {
        let mut ladder = Ladder::new("kunit", None, 2, 0, false);
        assert_eq!(ladder.step("one").and_then(|s| s.run(|| Ok(1))), Ok(1));
        // The injected failure comes before the step runs: its closure never exists.
        assert_eq!(ladder.step("two").err(), Some(ENOMEM));
        assert_eq!(ladder.step("three").and_then(|s| s.run(|| Ok(3))), Ok(3));
        assert_eq!(
            ladder
                .step("four")
                .and_then(|s| s.run(|| Err::<u32, _>(EIO))),
            Err(EIO)
        );
    }

    #[test]
    fn ladder_goes_on_without_an_optional_step() {
        let mut ladder = Ladder::new("kunit", None, 1, 0, false);
        assert_eq!(ladder.optional("one", |s| s.run(|| Ok(1))), None);
        assert_eq!(ladder.optional("two", |s| s.run(|| Ok(2))), Some(2));
        assert_eq!(
            ladder.optional("three", |s| s.run(|| Err::<u32, _>(EIO))),
            None
        );
    }

    #[test]
    fn ladder_guard_gives_its_value_and_hands_it_over() {
        let mut ladder = Ladder::new("kunit", None, 0, 0, true);
        let g = ladder.step("one").and_then(|s| s.guard(|| Ok(7u32)));
        assert_eq!(g.as_deref().copied(), Ok(7));
        assert_eq!(g.map(|g| g.into_inner()), Ok(7));
    }
}
