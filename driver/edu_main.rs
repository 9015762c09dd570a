// SPDX-License-Identifier: GPL-2.0

//! Driver for QEMU's `edu` PCI device (1234:11e8) and edu-compatible hardware.
//!
//! Module init and probe each register their facilities one step at a time, in dependency order,
//! and undo them in exact reverse order: on a failed step, on remove, and at module exit. The
//! ladders are [`EduModule::init`] and [`EduDriver::probe`]; every step can be made to fail with
//! the `fail_init`/`fail_probe` parameters (see [`ladder`]).

use kernel::{
    debugfs,
    device::Core,
    dma::{
        Coherent,
        Device as _,
        DmaMask, //
    },
    driver,
    pci,
    prelude::*,
    sync::{
        aref::ARef,
        Arc, //
    }, //
};

mod chrdev;
mod device;
mod file;
mod irq;
mod ladder;
mod listener;
mod registry;
// The register map and the uAPI are shared with userspace (crate `edu-regs`), where every item is
// public API; the driver uses a subset.
#[allow(unreachable_pub, dead_code)]
#[path = "../edu-regs/src/regs.rs"]
mod regs;
mod sysfs;
#[allow(unreachable_pub, dead_code)]
#[path = "../edu-regs/src/uapi.rs"]
mod uapi;

use device::EduDevice;
use ladder::Ladder;

module! {
    type: EduModule,
    name: "edu",
    authors: ["edu-rust developers"],
    description: "Driver for QEMU's edu PCI device",
    license: "GPL",
    params: {
        irq_mode: u32 {
            default: 0,
            description: "Interrupts: 0 = MSI with INTx fallback, 1 = MSI only, 2 = INTx only",
        },
        fail_init: u32 {
            default: 0,
            description: "Fail step k of module init with -ENOMEM (0: none)",
        },
        fail_probe: u32 {
            default: 0,
            description: "Fail step k of every probe with -ENOMEM (0: none)",
        },
        max_devices: u32 {
            default: 64,
            description: "Number of /dev/eduN minors to reserve",
        },
        timeout_ms: u32 {
            default: 2000,
            description: "How long to wait for the device to complete a command, in ms",
        },
    },
}

/// The module: device table, char device region, class, debugfs and PCI driver.
struct EduModule {
    // Declared in teardown order (Rust drops fields top to bottom): the reverse of `init`.
    _driver: Pin<KBox<driver::Registration<pci::Adapter<EduDriver>>>>,
    _calibrate: Pin<KBox<debugfs::File<ModulePtr>>>,
    _debugfs: debugfs::Dir,
    _class: chrdev::Class,
    _region: chrdev::Region,
    _table: registry::Table,
}

impl kernel::Module for EduModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let mut ladder = Ladder::new("init", None, module_parameters::fail_init.value());

        let table = ladder.step("device table", || Ok(registry::init()))?;
        let region = ladder.step("char device region", || {
            chrdev::Region::register(module_parameters::max_devices.value(), c"edu")
        })?;
        let class = ladder.step("device class", || chrdev::Class::create(c"edu"))?;
        let (debugfs, calibrate) = ladder.step("debugfs", || {
            let dir = debugfs::Dir::new(c"edu");
            let file = KBox::pin_init(
                dir.read_callback_file(c"calibrate", ModulePtr(module.as_ptr()), &calibrate_show),
                GFP_KERNEL,
            )?;
            Ok((dir, file))
        })?;
        // Last: probe can run the instant the driver is registered, and it needs all the above.
        let driver = ladder.step("pci driver", || {
            KBox::pin_init(driver::Registration::new(c"edu", module), GFP_KERNEL)
        })?;

        Ok(Self {
            _driver: driver,
            _calibrate: calibrate,
            _debugfs: debugfs,
            _class: class,
            _region: region,
            _table: table,
        })
    }
}

/// This module, for the calibration's `try_module_get`.
struct ModulePtr(*mut kernel::bindings::module);

// SAFETY: A module pointer may be used from any thread.
unsafe impl Send for ModulePtr {}
// SAFETY: As above; it is never written.
unsafe impl Sync for ModulePtr {}

/// `/sys/kernel/debug/edu/calibrate`: each read measures guarded dispatch in the kernel.
fn calibrate_show(module: &ModulePtr, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    listener::calibrate(module.0, f)
}

/// The PCI driver.
struct EduDriver;

/// Device ID of edu. `pci::Vendor` has no constant for QEMU's 0x1234 and no public constructor.
const EDU_ID: pci::DeviceId = {
    let id = kernel::bindings::pci_device_id {
        vendor: regs::VENDOR_ID as u32,
        device: regs::DEVICE_ID as u32,
        subvendor: !0,
        subdevice: !0,
        class: 0,
        class_mask: 0,
        driver_data: 0,
        override_only: 0,
    };
    // SAFETY: `pci::DeviceId` is a `#[repr(transparent)]` wrapper of `struct pci_device_id` with
    // no further invariant (see `pci::Adapter::probe_callback`); this is `PCI_DEVICE(0x1234,
    // 0x11e8)`.
    unsafe { core::mem::transmute::<kernel::bindings::pci_device_id, pci::DeviceId>(id) }
};

kernel::pci_device_table!(
    PCI_TABLE,
    <EduDriver as pci::Driver>::IdInfo,
    [(EDU_ID, ())]
);

/// One bound device: the guards of the probe ladder.
///
/// Fields are declared in teardown order, the reverse of [`EduDriver::probe`]; Rust drops them
/// top to bottom when the device is unbound. Steps 2 and 3 (enable, BAR) are device-managed and
/// released by the driver core right after this struct is dropped, still in reverse order.
struct EduBinding<'bound> {
    _sysfs: sysfs::Group<'bound>,
    _node: chrdev::Node,
    _minor: registry::Minor,
    _handler: irq::Handler<'bound>,
    _vectors: irq::Vectors<'bound>,
    _dma: DmaBuffer<'bound>,
    dev: Arc<EduDevice>,
}

/// Undoes the enable step: disables the device (device-managed, after the BAR is released).
struct Disable(ARef<pci::Device>);

impl Drop for Disable {
    fn drop(&mut self) {
        // CAST: `pci::Device` is a transparent wrapper of `struct pci_dev`.
        let raw = core::ptr::from_ref::<pci::Device>(&self.0)
            .cast_mut()
            .cast();
        // SAFETY: The device was enabled in probe and is still bound (devres runs at unbind).
        unsafe { kernel::bindings::pci_disable_device(raw) };
    }
}

/// The DMA step: bus mastering and the coherent buffer, undone in reverse.
struct DmaBuffer<'bound> {
    pdev: &'bound pci::Device<kernel::device::Bound>,
    dev: Arc<EduDevice>,
}

impl<'bound> DmaBuffer<'bound> {
    fn setup(pdev: &'bound pci::Device<Core<'_>>, dev: &Arc<EduDevice>) -> Result<Self> {
        // SAFETY: No DMA allocation or mapping of this device runs concurrently with probe.
        unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<{ regs::DMA_ADDR_BITS }>())? };
        let buf = Coherent::<u8>::zeroed_slice(pdev.as_ref(), regs::DMA_BUF_SIZE, GFP_KERNEL)?;
        pdev.set_master();
        dev.attach_dma(buf);
        Ok(Self {
            pdev,
            dev: dev.clone(),
        })
    }
}

impl Drop for DmaBuffer<'_> {
    fn drop(&mut self) {
        self.dev.detach_dma();
        // CAST: `pci::Device` is a transparent wrapper of `struct pci_dev`.
        let raw = core::ptr::from_ref::<pci::Device<_>>(self.pdev)
            .cast_mut()
            .cast();
        // SAFETY: The device is bound; bus mastering was enabled by `setup`.
        unsafe { kernel::bindings::pci_clear_master(raw) };
    }
}

/// Interrupt types to try, from the `irq_mode` parameter.
fn irq_modes() -> Result<&'static [irq::Mode]> {
    match module_parameters::irq_mode.value() {
        0 => Ok(&[irq::Mode::Msi, irq::Mode::Intx]),
        1 => Ok(&[irq::Mode::Msi]),
        2 => Ok(&[irq::Mode::Intx]),
        _ => Err(EINVAL),
    }
}

/// Checks that the device answers like an edu: identification, liveness, a polled factorial.
fn check_device(pdev: &pci::Device, dev: &EduDevice) -> Result {
    let ident = dev.ident()?;
    if ident & regs::IDENT_MAGIC_MASK != regs::IDENT_MAGIC {
        dev_err!(pdev, "identification {:#010x} is not an edu's\n", ident);
        return Err(ENODEV);
    }
    for x in [0x5a5a_a5a5u32, 0] {
        let got = dev.liveness(x)?;
        if got != !x {
            dev_err!(pdev, "liveness check: wrote {:#x}, read {:#x}\n", x, got);
            return Err(ENODEV);
        }
    }
    let n = 5;
    if Some(dev.factorial_polled(n)?) != regs::factorial(n) {
        dev_err!(pdev, "polled factorial of {} is wrong\n", n);
        return Err(ENODEV);
    }
    Ok(())
}

impl pci::Driver for EduDriver {
    type IdInfo = ();
    type Data<'bound> = EduBinding<'bound>;
    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    /// The probe ladder. Each step registers one facility, once everything it can reach is ready;
    /// a failing step returns, and Rust drops the guards of the earlier steps in reverse.
    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        let mut ladder = Ladder::new(
            "probe",
            Some(pdev.as_ref()),
            module_parameters::fail_probe.value(),
        );
        let modes = irq_modes()?;

        let dev = ladder.step("device state", || {
            Arc::pin_init(
                EduDevice::new(pdev.into(), module_parameters::timeout_ms.value()),
                GFP_KERNEL,
            )
        })?;
        // Undone by devres after the binding is dropped, like the BAR below.
        ladder.step("enable device", || {
            pdev.enable_device_mem()?;
            kernel::devres::register(pdev.as_ref(), Disable(pdev.into()), GFP_KERNEL)
        })?;
        ladder.step("map BAR0", || {
            let bar = pdev.iomap_region_sized::<{ regs::BAR0_SIZE }>(0, c"edu")?;
            dev.attach_bar(bar.into_devres()?)
        })?;
        ladder.step("check device", || check_device(pdev, &dev))?;
        let dma = ladder.step("DMA buffer", || DmaBuffer::setup(pdev, &dev))?;
        let vectors = ladder.step("interrupt vectors", || {
            let vectors = irq::Vectors::alloc(pdev, modes)?;
            dev.set_irq_mode(vectors.mode());
            Ok(vectors)
        })?;
        // The handler can run as soon as it is requested: `dev` is complete by now.
        let handler = ladder.step("interrupt handler", || {
            irq::Handler::request(&vectors, dev.clone(), c"edu")
        })?;
        let minor = ladder.step("instance number", || {
            registry::Minor::reserve(&dev, module_parameters::max_devices.value())
        })?;
        // `/dev/eduN` and the sysfs files can be used the instant they appear: last.
        let node = ladder.step("char device", || {
            chrdev::Node::create(pdev.as_ref(), minor.get())
        })?;
        let sysfs = ladder.step("sysfs attributes", || sysfs::Group::add(pdev.as_ref()))?;

        dev_info!(
            pdev,
            "edu{}: ident {:#010x}, {} interrupts\n",
            minor.get(),
            dev.ident()?,
            vectors.mode().name()
        );
        Ok(EduBinding {
            _sysfs: sysfs,
            _node: node,
            _minor: minor,
            _handler: handler,
            _vectors: vectors,
            _dma: dma,
            dev,
        })
    }

    /// Runs before the binding is dropped: blocked callers return `ENODEV`, new ones too.
    fn unbind<'bound>(_pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        this.dev.revoke();
    }
}
