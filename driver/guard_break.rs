// SPDX-License-Identifier: GPL-2.0

//! The deliberate bugs of the positive controls' build (`EDU_GUARD_BREAK=y`, never shipped),
//! chosen by the `break_bug` parameter; the shipped module refuses every value but 0
//! ([`crate::MAX_BREAK_BUG`]). Each must make a guest oracle fire: the `rustkasan` and `dmafree`
//! variants of `tests/scenarios/controls.sh`. The listener's broken guards (`listener_guard=2`
//! and `3`) are in `listener.rs`.

use crate::{
    device::{
        DmaBufferOwner,
        EduDevice, //
    },
    hw, //
};
use kernel::{
    device::Bound,
    pci,
    prelude::*,
    sync::Arc, //
};

/// A deliberate bug, the value of `break_bug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bug {
    /// Module init reads one element past the end of a `KVec`: KASAN slab-out-of-bounds.
    OutOfBounds = 1,
    /// Unbind frees the DMA buffer before it stops the device's DMA engine: a transfer that
    /// completes afterwards writes through an unmapped address (an IOMMU fault).
    DmaFreeFirst = 2,
}

/// Whether `bug` was chosen at load time.
pub(crate) fn chosen(bug: Bug) -> bool {
    crate::module_parameters::break_bug.value() == bug as u32
}

/// Reads one element past the end of a 5-element `KVec<u32>` (20 bytes, in a 32-byte slab
/// object: the read lands in KASAN's redzone), and drops what it read. Not inlined, so the
/// report names this function.
#[inline(never)]
pub(crate) fn out_of_bounds_read() -> Result {
    let v = KVec::from_elem(0u32, 5, GFP_KERNEL)?;
    // SAFETY: None: this read is deliberately unsound, the test-only bug of `break_bug=1` that
    // KASAN must report. `v.as_ptr().add(v.len())` is the one-past-the-end pointer of the
    // allocation, valid to form but not to read through. Volatile, so it is not optimised away.
    unsafe { core::ptr::read_volatile(v.as_ptr().add(v.len())) };
    Ok(())
}

/// Revokes and frees the DMA buffer of `dev` now, whatever its engine is doing: called by unbind
/// before it stops the engine, so a transfer still running ends at an address that is no longer
/// mapped. Logs whether the engine was still busy once the buffer was gone: if it was, a transfer
/// outlives the buffer and the IOMMU must report it (with `iommu.strict=1`; lazy invalidation
/// lets a transfer that ends within its 10 ms through the stale translation).
pub(crate) fn free_dma_buffer(pdev: &pci::Device<Bound>, dev: &Arc<EduDevice>) {
    // A buffer owner of its own, dropped at once; the binding's owner (the bus-mastering step)
    // finds the buffer revoked already.
    drop(DmaBufferOwner::new(dev));
    let busy = dev.with_bound_bar(pdev, |b| hw::dma_busy(b) == Ok(true)) == Ok(true);
    dev_info!(
        pdev,
        "break_bug=2: DMA buffer freed before the engine was stopped (engine busy: {})\n",
        busy
    );
}
