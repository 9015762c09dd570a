// SPDX-License-Identifier: GPL-2.0

//! PCI calls that 7.3's kernel crate lacks, behind safe guards: disabling the device again
//! (upstream has `pci::DeviceEnableGuard` on the list, not merged) and clearing bus mastering.

use kernel::{
    bindings,
    device::{
        Bound,
        Core, //
    },
    devres,
    pci,
    prelude::*,
    sync::aref::ARef, //
};

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
