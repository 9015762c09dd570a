// SPDX-License-Identifier: GPL-2.0

//! The edu device's command sequences on BAR0, written once: probe's checks run them on the fresh
//! mapping by polling, and [`crate::device::EduDevice`] runs them for open files and sysfs.
//!
//! Nothing here sleeps or keeps state: each function is a handful of register accesses, safe to
//! call inside the RCU section that guards a revocable BAR. The accesses go through [`Regs`], so
//! KUnit can run the sequences on a fake register file (a vanished device, for one: QEMU cannot
//! make a present edu read all-ones).

use crate::regs;
use kernel::{
    io::Io,
    pci,
    prelude::*, //
};

/// BAR0 as the driver maps it: the full 1 MiB, bounds-checked at compile time.
pub(crate) type Bar<'a> = pci::Bar<'a, { regs::BAR0_SIZE }>;

/// Register access as the sequences below need it: 32-bit accesses, and whole 64-bit writes for
/// the DMA registers.
pub(crate) trait Regs {
    /// Reads the 32-bit register at `reg`.
    fn read32(&self, reg: usize) -> Result<u32>;
    /// Writes the 32-bit register at `reg`.
    fn write32(&self, value: u32, reg: usize) -> Result;
    /// Writes the 64-bit register at `reg` in one access.
    fn write64(&self, value: u64, reg: usize) -> Result;
}

// The mapping only promises 4-byte alignment at compile time, so the 64-bit accessor is the
// runtime-checked one (the edu's 64-bit registers are 8-byte aligned); the 32-bit ones are too,
// for offsets that are arguments here.
impl Regs for Bar<'_> {
    fn read32(&self, reg: usize) -> Result<u32> {
        self.try_read32(reg)
    }

    fn write32(&self, value: u32, reg: usize) -> Result {
        self.try_write32(value, reg)
    }

    fn write64(&self, value: u64, reg: usize) -> Result {
        self.try_write64(value, reg)
    }
}

/// The direction of a DMA transfer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dir {
    /// Device buffer to memory (a read).
    ToRam,
    /// Memory to device buffer (a write).
    ToDevice,
}

/// Register `reg`, with an all-ones read turned into `ENODEV`: a vanished device reads all-ones
/// everywhere, and no edu register that this driver polls is ever all-ones on a live device.
pub(crate) fn read(bar: &dyn Regs, reg: usize) -> Result<u32> {
    match bar.read32(reg)? {
        regs::ALL_ONES => Err(ENODEV),
        v => Ok(v),
    }
}

/// Whether the factorial unit is busy.
pub(crate) fn factorial_busy(bar: &dyn Regs) -> Result<bool> {
    Ok(read(bar, regs::STATUS)? & regs::STATUS_COMPUTING != 0)
}

/// Whether the DMA engine is busy.
pub(crate) fn dma_busy(bar: &dyn Regs) -> Result<bool> {
    Ok(read(bar, regs::DMA_CMD)? & regs::DMA_CMD_START != 0)
}

/// Starts computing `n!`, raising [`regs::IRQ_FACTORIAL`] at the end if `irq`. The unit must be
/// idle.
pub(crate) fn start_factorial(bar: &dyn Regs, n: u32, irq: bool) -> Result {
    let status = if irq { regs::STATUS_IRQ_ENABLE } else { 0 };
    bar.write32(status, regs::STATUS)?;
    bar.write32(n, regs::FACTORIAL)
}

/// Starts a transfer of `count` bytes between the device buffer at `offset` and memory at
/// `addr`, raising [`regs::IRQ_DMA`] at the end. The engine must be idle.
///
/// The address registers are 64 bits wide and written whole: edu-compatible hardware need not
/// zero-extend a 32-bit write.
pub(crate) fn start_dma(bar: &dyn Regs, dir: Dir, addr: u64, offset: u64, count: u32) -> Result {
    let dev_addr = regs::DMA_BUF_ADDR + offset;
    let (src, dst, flags) = match dir {
        Dir::ToDevice => (addr, dev_addr, 0),
        Dir::ToRam => (dev_addr, addr, regs::DMA_CMD_TO_RAM),
    };
    bar.write64(src, regs::DMA_SRC)?;
    bar.write64(dst, regs::DMA_DST)?;
    bar.write64(count.into(), regs::DMA_COUNT)?;
    bar.write64(
        (regs::DMA_CMD_START | regs::DMA_CMD_IRQ | flags).into(),
        regs::DMA_CMD,
    )
}

/// Turns the device's interrupt sources off: no factorial raises an interrupt from now on.
pub(crate) fn interrupts_off(bar: &dyn Regs) -> Result {
    bar.write32(0, regs::STATUS)
}

/// Acknowledges every pending interrupt and returns what was pending (0: none, or not this
/// device's on a shared line).
pub(crate) fn ack(bar: &dyn Regs) -> u32 {
    let status = bar.read32(regs::IRQ_STATUS).unwrap_or(regs::ALL_ONES);
    if status != 0 && status != regs::ALL_ONES {
        // A failed write leaves the bits set; the next interrupt acknowledges them again.
        let _ = bar.write32(status, regs::IRQ_ACK);
    }
    status
}
