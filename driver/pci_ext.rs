// SPDX-License-Identifier: GPL-2.0

//! PCI calls that 7.3's kernel crate lacks or offers only as `unsafe`, behind safe APIs: a device
//! ID for a vendor without a `pci::Vendor` constant, the DMA mask at probe, disabling the device
//! again (upstream has `pci::DeviceEnableGuard` on the list, not merged), clearing bus mastering,
//! and a driver registration with the two `struct pci_driver` hooks 7.3's `pci::Adapter` leaves
//! empty: `shutdown` and `dev_groups` ([`Adapter`]).

use core::marker::PhantomData;
use kernel::{
    bindings,
    device::{
        Bound,
        Core,
        CoreInternal, //
    },
    devres,
    dma::{
        Device as _,
        DmaMask, //
    },
    driver::{
        DriverLayout,
        RegistrationOps, //
    },
    pci,
    prelude::*,
    sync::aref::ARef,
    types::Opaque, //
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

    /// Turns bus mastering off now, ahead of `drop` (shutdown). Turning it off twice is harmless.
    pub(crate) fn clear(&self) {
        // SAFETY: The device is bound for `'bound`; clearing the bit of a bound device is always
        // allowed, and `pci_clear_master` only writes the command register.
        unsafe { bindings::pci_clear_master(raw(self.pdev)) };
    }
}

impl Drop for BusMaster<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A PCI driver with the hooks 7.3's `pci::Driver` has no place for.
pub(crate) trait DriverExt: pci::Driver + 'static {
    /// Attribute groups of every bound device: the driver core creates them after probe has
    /// succeeded and removes them before remove runs (`struct device_driver::dev_groups`), so
    /// they exist exactly while the device's data does.
    const DEV_GROUPS: &'static AttributeGroups;

    /// Quiesces a bound device for reboot, power-off or kexec: no DMA, no interrupt after it.
    /// Nothing is freed; the system is going down.
    fn shutdown<'bound>(pdev: &'bound pci::Device<Core<'_>>, data: Pin<&Self::Data<'bound>>);
}

/// A NULL-terminated list of attribute groups, as `dev_groups` wants it.
///
/// # Invariants
///
/// Points to a NULL-terminated array of pointers to valid `struct attribute_group`s; the array
/// and the groups live forever and are never written.
pub(crate) struct AttributeGroups(*const *const bindings::attribute_group);

// SAFETY: The list and its groups are never written (type invariant); sysfs only reads them.
unsafe impl Sync for AttributeGroups {}

impl AttributeGroups {
    /// The list at `list`.
    ///
    /// # Safety
    ///
    /// `list` points to a NULL-terminated array of pointers to valid `struct attribute_group`s,
    /// and the array and the groups live forever and are never written.
    pub(crate) const unsafe fn new(list: *const *const bindings::attribute_group) -> Self {
        // INVARIANT: Per the safety requirements.
        Self(list)
    }
}

/// Registers a [`DriverExt`] driver: `pci::Adapter`'s registration plus `shutdown` and
/// `dev_groups`. Use as `driver::Registration<pci_ext::Adapter<T>>`.
pub(crate) struct Adapter<T>(PhantomData<T>);

// SAFETY: Same layout as `pci::Adapter<T>`: `struct pci_driver` is `repr(C)` and embeds its
// `struct device_driver` at the given offset; the private data is `T::Data`, which
// `pci::Adapter<T>`'s probe stores.
unsafe impl<T: DriverExt> DriverLayout for Adapter<T> {
    type DriverType = bindings::pci_driver;
    type DriverData<'bound> = T::Data<'bound>;
    const DEVICE_DRIVER_OFFSET: usize = core::mem::offset_of!(bindings::pci_driver, driver);
}

// SAFETY: `unregister` delegates to `pci::Adapter<T>`, whose `register` ran for the same `pdrv`.
unsafe impl<T: DriverExt> RegistrationOps for Adapter<T> {
    unsafe fn register(
        pdrv: &Opaque<bindings::pci_driver>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        // SAFETY: `pdrv` is not registered yet, so nothing else reads it; `DEV_GROUPS` is a
        // NULL-terminated list of static groups (its type invariant).
        unsafe {
            (*pdrv.get()).shutdown = Some(Self::shutdown_callback);
            (*pdrv.get()).dev_groups = T::DEV_GROUPS.0.cast_mut();
        }
        // SAFETY: Our caller's guarantees (pinned and valid until `unregister`) are the same.
        unsafe { <pci::Adapter<T> as RegistrationOps>::register(pdrv, name, module) }
    }

    unsafe fn unregister(pdrv: &Opaque<bindings::pci_driver>) {
        // SAFETY: `register` above registered `pdrv` through `pci::Adapter<T>`.
        unsafe { <pci::Adapter<T> as RegistrationOps>::unregister(pdrv) }
    }
}

impl<T: DriverExt> Adapter<T> {
    extern "C" fn shutdown_callback(pdev: *mut bindings::pci_dev) {
        // SAFETY: The PCI core calls `shutdown` with a valid `struct pci_dev` whose driver is
        // this one, holding the device lock (`device_shutdown`): a `Core` context, valid for the
        // call.
        let pdev = unsafe { &*pdev.cast::<pci::Device<CoreInternal<'_>>>() };
        // SAFETY: `pci_device_shutdown` calls us only while `pci_dev->driver` is set, which under
        // the device lock means that `pci::Adapter<T>`'s probe succeeded and stored a
        // `T::Data` (the PCI core sets the field before probe and clears it when probe fails
        // and in remove), and it is dropped only after remove, which the lock excludes.
        let data = unsafe { pdev.as_ref().drvdata_borrow::<T::Data<'_>>() };
        T::shutdown(pdev, data);
    }
}
