// SPDX-License-Identifier: GPL-2.0

//! PCI calls that 7.3's kernel crate lacks or offers only as `unsafe`, behind safe APIs: a device
//! ID for a vendor without a `pci::Vendor` constant, the DMA mask at probe, disabling the device
//! again (upstream has `pci::DeviceEnableGuard` on the list, not merged) and clearing bus
//! mastering.

use kernel::{
    bindings,
    device::{
        Bound,
        Core, //
    },
    devres,
    dma::{
        Device as _,
        DmaMask, //
    },
    pci,
    prelude::*,
    sync::aref::ARef, //
};

/// `PCI_DEVICE(vendor, device)`. `pci::Vendor` has no constant for QEMU's 0x1234 and no public
/// constructor (`Vendor::from_raw` is `pub(super)`), so the ID is built from the C struct.
pub(crate) const fn device_id(vendor: u16, device: u16) -> pci::DeviceId {
    let id = bindings::pci_device_id {
        vendor: vendor as u32,
        device: device as u32,
        subvendor: !0,
        subdevice: !0,
        class: 0,
        class_mask: 0,
        driver_data: 0,
        override_only: 0,
    };
    // SAFETY: `pci::DeviceId` is a `#[repr(transparent)]` wrapper of `struct pci_device_id` with
    // no further invariant (see `pci::Adapter::probe_callback`).
    unsafe { core::mem::transmute::<bindings::pci_device_id, pci::DeviceId>(id) }
}

/// Sets the streaming and coherent DMA masks to `BITS` bits. Probe (a `Core` context) is the
/// only place this runs, so no DMA allocation or mapping of the device runs concurrently.
pub(crate) fn set_dma_mask<const BITS: u32>(pdev: &pci::Device<Core<'_>>) -> Result {
    // SAFETY: See above: we are in probe, which no DMA allocation of this driver can race.
    unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<BITS>()) }
}

fn raw(pdev: &pci::Device<impl kernel::device::DeviceContext>) -> *mut bindings::pci_dev {
    // CAST: `pci::Device` is a transparent wrapper of `struct pci_dev`.
    core::ptr::from_ref(pdev).cast_mut().cast()
}

/// Undoes [`enable`]: disables the device when the driver core releases its devres.
///
/// # Invariants
///
/// The device was enabled by [`enable`] and is disabled only by `drop`.
struct EnableGuard(ARef<pci::Device>);

impl Drop for EnableGuard {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the device is enabled, and devres runs this while it is
        // still bound.
        unsafe { bindings::pci_disable_device(raw(&self.0)) };
    }
}

/// Enables the device's memory space. It is disabled again by devres when the binding ends,
/// after the BAR mapping (registered later) is released.
pub(crate) fn enable(pdev: &pci::Device<Core<'_>>) -> Result {
    pdev.enable_device_mem()?;
    // INVARIANT: The device was just enabled.
    devres::register(pdev.as_ref(), EnableGuard(pdev.into()), GFP_KERNEL)
}

/// Bus mastering, on while this lives.
///
/// # Invariants
///
/// Bus mastering of `pdev` was turned on by [`BusMaster::set`] and is turned off only by
/// `drop`.
pub(crate) struct BusMaster<'bound> {
    pdev: &'bound pci::Device<Bound>,
}

impl<'bound> BusMaster<'bound> {
    /// Lets the device master the bus (DMA).
    pub(crate) fn set(pdev: &'bound pci::Device<Core<'_>>) -> Self {
        pdev.set_master();
        // INVARIANT: Bus mastering was just turned on.
        Self { pdev }
    }
}

impl Drop for BusMaster<'_> {
    fn drop(&mut self) {
        // SAFETY: The device is bound for `'bound`; by the type invariant bus mastering is on.
        unsafe { bindings::pci_clear_master(raw(self.pdev)) };
    }
}
