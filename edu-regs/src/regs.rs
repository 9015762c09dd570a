// SPDX-License-Identifier: GPL-2.0

//! Register map of QEMU's `edu` device (`hw/misc/edu.c`, `docs/specs/edu.rst`).
//!
//! BAR0 is a 1 MiB MMIO region. Below [`WIDE_START`] only 32-bit accesses work; a wrong size reads
//! all-ones and drops the write. Every offset here is a byte offset into BAR0.

/// PCI vendor ID (QEMU).
pub const VENDOR_ID: u16 = 0x1234;
/// PCI device ID.
pub const DEVICE_ID: u16 = 0x11e8;

/// Size of BAR0.
pub const BAR0_SIZE: usize = 1 << 20;

/// Identification, read-only: `0xRRrr00ed` (major, minor, 0x00, 0xed).
pub const IDENT: usize = 0x00;
/// The identification value of the edu model this driver was written against (version 1.0).
pub const IDENT_VALUE: u32 = 0x0100_00ed;
/// Low byte every edu identification carries, whatever its version.
pub const IDENT_MAGIC: u32 = 0xed;
/// Mask of [`IDENT_MAGIC`] in [`IDENT`].
pub const IDENT_MAGIC_MASK: u32 = 0xffff;

/// Liveness check: reads back the bitwise inverse of the last value written.
pub const LIVENESS: usize = 0x04;

/// Factorial: writing n starts the computation; reading gives n! once [`STATUS_COMPUTING`] clears.
pub const FACTORIAL: usize = 0x08;
/// Largest n whose factorial fits the 32-bit register.
pub const FACTORIAL_MAX: u32 = 12;

/// Status register.
pub const STATUS: usize = 0x20;
/// [`STATUS`] bit: a factorial is being computed (read-only).
pub const STATUS_COMPUTING: u32 = 0x01;
/// [`STATUS`] bit: raise [`IRQ_FACTORIAL`] when the factorial is done.
pub const STATUS_IRQ_ENABLE: u32 = 0x80;

/// Interrupt status, read-only: the OR of all raised, unacknowledged values.
pub const IRQ_STATUS: usize = 0x24;
/// Raise: ORs the written value into [`IRQ_STATUS`] and asserts the interrupt.
pub const IRQ_RAISE: usize = 0x60;
/// Acknowledge: clears the written bits of [`IRQ_STATUS`]; needed under MSI too.
pub const IRQ_ACK: usize = 0x64;
/// Interrupt value raised when a factorial completes.
pub const IRQ_FACTORIAL: u32 = 0x001;
/// Interrupt value raised when a DMA transfer completes.
pub const IRQ_DMA: u32 = 0x100;

/// First offset at which 64-bit accesses are allowed.
pub const WIDE_START: usize = 0x80;
/// DMA source address (64-bit register).
pub const DMA_SRC: usize = 0x80;
/// DMA destination address (64-bit register).
pub const DMA_DST: usize = 0x88;
/// DMA transfer count in bytes (64-bit register).
pub const DMA_COUNT: usize = 0x90;
/// DMA command (64-bit register).
pub const DMA_CMD: usize = 0x98;
/// [`DMA_CMD`] bit: start the transfer; reads back set while it runs.
pub const DMA_CMD_START: u32 = 0x1;
/// [`DMA_CMD`] bit: direction device to RAM (clear: RAM to device).
pub const DMA_CMD_TO_RAM: u32 = 0x2;
/// [`DMA_CMD`] bit: raise [`IRQ_DMA`] when the transfer is done.
pub const DMA_CMD_IRQ: u32 = 0x4;

/// Device-side address of the on-device DMA buffer.
pub const DMA_BUF_ADDR: u64 = 0x40000;
/// Size of the on-device DMA buffer.
pub const DMA_BUF_SIZE: usize = 4096;
/// Number of address bits the device can generate (its default `dma_mask`).
pub const DMA_ADDR_BITS: u32 = 28;

/// Value a read returns when the device is gone (or the access size is wrong).
pub const ALL_ONES: u32 = u32::MAX;

/// `n!` as the device computes it, or `None` above [`FACTORIAL_MAX`].
pub const fn factorial(n: u32) -> Option<u32> {
    if n > FACTORIAL_MAX {
        return None;
    }
    let mut acc = 1u32;
    let mut i = 2;
    while i <= n {
        acc *= i;
        i += 1;
    }
    Some(acc)
}

/// Clamps a transfer of `len` bytes at `offset` in the device buffer to the buffer's end.
///
/// Returns `None` when `offset` is at or past the end (nothing can be transferred).
pub const fn dma_span(offset: u64, len: usize) -> Option<usize> {
    if offset >= DMA_BUF_SIZE as u64 {
        return None;
    }
    let room = DMA_BUF_SIZE - offset as usize;
    Some(if len < room { len } else { room })
}
