// SPDX-License-Identifier: GPL-2.0

//! Driver for QEMU's `edu` PCI device (1234:11e8) and edu-compatible hardware.
//!
//! Module init and probe each register their facilities one step at a time, in dependency order,
//! and undo them in exact reverse order: on a failed step, on remove, and at module exit. The
//! ladders are [`EduModule::init`] and [`EduDriver::probe`]; every step can be made to fail with
//! the `fail_init`/`fail_probe` parameters (see [`ladder`]). Teardown has one mechanism: each
//! step returns a guard whose `Drop` undoes it, and the guards are the fields of [`EduModule`]
//! and [`EduBinding`], declared in reverse ladder order. There is no `unbind` special case:
//! revoking the device is the undo of the "publish" step.

use kernel::{
    device::{
        Bound,
        Core, //
    },
    dma::Coherent,
    driver,
    io::{
        poll::read_poll_timeout,
        Io, //
    },
    pci,
    prelude::*,
    str::CString,
    sync::Arc,
    time::Delta, //
};

mod calibrate;
mod chrdev;
mod cshim;
mod device;
mod file;
#[cfg(edu_guard_break)]
mod guard_break;
mod hw;
mod irq;
mod kunit;
mod ladder;
mod listener;
mod pci_ext;
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
use ladder::{
    Ladder,
    Undo, //
};

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
        fail_delay_ms: u32 {
            default: 0,
            description: "Pause this long before the injected failure (tests race it)",
        },
        trace_ladder: u32 {
            default: 0,
            description: "1: log every step of module init and probe, and every undo",
        },
        max_devices: u32 {
            default: 64,
            description: "Number of /dev/eduN minors to reserve",
        },
        timeout_ms: u32 {
            default: 2000,
            description: "How long to wait for the device to complete a command, in ms",
        },
        listener_guard: u32 {
            default: 1,
            description: "Listener guard: 0 = module (try_module_get), 1 = rcu (module_is_live)",
        },
        break_bug: u32 {
            default: 0,
            description: "Deliberate bug (controls' build only): 1 = KASAN, 2 = DMA after free",
        },
    },
}

/// The largest valid `break_bug`: 0, or 2 in the positive controls' build (`guard_break.rs`).
const MAX_BREAK_BUG: u32 = if cfg!(edu_guard_break) { 2 } else { 0 };

/// The module's facilities, in the order module init registers them.
///
/// Fields are declared in teardown order (Rust drops fields top to bottom): the reverse of
/// [`EduModule::init`].
struct EduModule {
    _driver: Undo<Pin<KBox<driver::Registration<pci_ext::Adapter<EduDriver>>>>>,
    _debugfs: Option<Undo<calibrate::Debugfs>>,
    _class: Undo<chrdev::Class>,
    _region: Undo<chrdev::Region>,
    _table: Undo<registry::Table>,
}

/// Checks the module parameters: a bad value fails the load with `EINVAL` and says why, rather
/// than making every probe fail later.
fn check_parameters() -> Result {
    let bad = |what: &str| {
        pr_err!("invalid parameter: {}\n", what);
        Err(EINVAL)
    };
    if module_parameters::irq_mode.value() > 2 {
        return bad("irq_mode must be 0, 1 or 2");
    }
    if module_parameters::trace_ladder.value() > 1 {
        return bad("trace_ladder must be 0 or 1");
    }
    if module_parameters::timeout_ms.value() == 0 {
        return bad("timeout_ms must be at least 1");
    }
    if module_parameters::listener_guard.value() > listener::MAX_GUARD {
        return bad("listener_guard must be 0 (module) or 1 (rcu)");
    }
    if module_parameters::break_bug.value() > MAX_BREAK_BUG {
        return bad("break_bug must be 0 (only the positive controls' build has the bugs)");
    }
    if module_parameters::max_devices.value() == 0 {
        return bad("max_devices must be at least 1");
    }
    if module_parameters::max_devices.value() > chrdev::MAX_MINORS {
        return bad("max_devices must be at most 1048576 (the minors of one major)");
    }
    Ok(())
}

impl kernel::Module for EduModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        check_parameters()?;
        #[cfg(edu_guard_break)]
        if guard_break::chosen(guard_break::Bug::OutOfBounds) {
            guard_break::out_of_bounds_read()?;
            pr_info!("break_bug=1: read past the end of a KVec\n");
        }
        let mut ladder = Ladder::new(
            "init",
            None,
            module_parameters::fail_init.value(),
            module_parameters::fail_delay_ms.value(),
            module_parameters::trace_ladder.value() == 1,
        );

        let table = ladder
            .step("device table")?
            .guard(|| registry::Table::init(module_parameters::max_devices.value()))?;
        let region = ladder
            .step("char device region")?
            .guard(|| chrdev::Region::register(module_parameters::max_devices.value(), c"edu"))?;
        let class = ladder
            .step("device class")?
            .guard(|| chrdev::Class::create(c"edu"))?;
        // Optional, as debugfs always is: a driver never fails for it.
        let debugfs = ladder.optional("debugfs", |s| s.guard(|| calibrate::Debugfs::new(module)));
        // Last: probe can run the instant the driver is registered, and it needs all the above.
        let driver = ladder
            .step("pci driver")?
            .guard(|| KBox::pin_init(driver::Registration::new(c"edu", module), GFP_KERNEL))?;

        Ok(Self {
            _driver: driver,
            _debugfs: debugfs,
            _class: class,
            _region: region,
            _table: table,
        })
    }
}

/// The PCI driver.
struct EduDriver;

/// Device ID of edu.
const EDU_ID: pci::DeviceId = pci_ext::device_id(regs::VENDOR_ID, regs::DEVICE_ID);

kernel::pci_device_table!(
    PCI_TABLE,
    <EduDriver as pci::Driver>::IdInfo,
    [(EDU_ID, ())]
);

/// One bound device: the guards of the probe ladder, the only record of what to undo.
///
/// Fields are declared in teardown order, the reverse of [`EduDriver::probe`]; Rust drops them
/// top to bottom when the device is unbound or when probe fails after the last of them. Step 1
/// (enable) is device-managed and released by the driver core right after this struct is
/// dropped. Three steps have no field because a later step took their guards over: the device
/// state holds the BAR (2) and the DMA buffer (4), the interrupt handler the vectors (5); step 3
/// is a check, with nothing to undo. With `trace_ladder=1` each field logs its undo.
///
/// The sysfs attributes are not a step: the driver core adds them after probe has returned and
/// removes them before this struct is dropped ([`pci_ext::DriverExt::DEV_GROUPS`]).
struct EduBinding<'bound> {
    _node: Undo<chrdev::Node>,
    published: Undo<Published>,
    quiet: Undo<Quiesce<'bound>>,
    _interrupt: Undo<irq::Interrupt<'bound>>,
    dma: Undo<BusMastering<'bound>>,
    minor: Undo<registry::Minor>,
    _dev: Undo<Arc<EduDevice>>,
}

/// The bus-mastering step. Its undo turns bus mastering off first, so the engine can no longer
/// reach memory, and only then frees the DMA buffer (field order).
struct BusMastering<'bound> {
    master: pci_ext::BusMaster<'bound>,
    _buffer: device::DmaBufferOwner,
}

/// The interrupt-sources step. Its undo quiesces the device (interrupt sources off, units idle,
/// everything acknowledged) while the handler is still there to see the last interrupts.
struct Quiesce<'bound> {
    pdev: &'bound pci::Device<Bound>,
    dev: Arc<EduDevice>,
}

impl Quiesce<'_> {
    /// Quiesces the device; doing it twice is harmless.
    fn quiesce(&self) {
        self.dev.quiesce(self.pdev);
    }
}

impl Drop for Quiesce<'_> {
    fn drop(&mut self) {
        // The bug of `break_bug=2`: the DMA buffer goes before the engine is stopped.
        #[cfg(edu_guard_break)]
        if guard_break::chosen(guard_break::Bug::DmaFreeFirst) {
            guard_break::free_dma_buffer(self.pdev, &self.dev);
        }
        self.quiesce();
    }
}

impl pci_ext::DriverExt for EduDriver {
    const DEV_GROUPS: &'static pci_ext::AttributeGroups = &sysfs::DEV_GROUPS;

    /// Runs the undo of the three steps that stop the device, in the order unbind runs them,
    /// and frees nothing: callers revoked (publish), interrupt sources off and the units idle
    /// (interrupt sources), bus mastering off. Unbind, should it still come, repeats them
    /// harmlessly.
    fn shutdown<'bound>(pdev: &'bound pci::Device<Core<'_>>, this: Pin<&EduBinding<'bound>>) {
        this.published.revoke();
        this.quiet.quiesce();
        this.dma.master.clear();
        dev_info!(
            pdev,
            "edu{}: shut down: callers revoked, interrupt sources off, bus mastering off\n",
            this.minor.get()
        );
    }
}

/// The publish step: the device is reachable by open, sysfs and its open files. Its undo makes
/// it unreachable and revokes it: blocked callers return `ENODEV`, and the command in flight has
/// left before anything else is undone. Unbind and a failed probe both go through it.
struct Published {
    minor: u32,
    dev: Arc<EduDevice>,
}

impl Published {
    fn new(minor: &registry::Minor, dev: &Arc<EduDevice>) -> Self {
        dev.publish();
        registry::activate(minor, dev.clone());
        Self {
            minor: minor.get(),
            dev: dev.clone(),
        }
    }

    /// Makes the device unreachable and revokes it; doing it twice is harmless.
    fn revoke(&self) {
        registry::deactivate(self.minor);
        self.dev.revoke();
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        self.revoke();
    }
}

/// Interrupt types to try, from the `irq_mode` parameter (checked at load).
fn irq_modes() -> &'static [irq::Mode] {
    match module_parameters::irq_mode.value() {
        1 => &[irq::Mode::Msi],
        2 => &[irq::Mode::Intx],
        _ => &[irq::Mode::Msi, irq::Mode::Intx],
    }
}

/// Checks that the device answers like an edu: identification, liveness, a polled factorial.
fn check_device(pdev: &pci::Device, bar: &hw::Bar<'_>) -> Result {
    let ident = hw::read(bar, regs::IDENT)?;
    if ident & regs::IDENT_MAGIC_MASK != regs::IDENT_MAGIC {
        dev_err!(pdev, "identification {:#010x} is not an edu's\n", ident);
        return Err(ENODEV);
    }
    for x in [0x5a5a_a5a5u32, 0] {
        bar.write32(x, regs::LIVENESS);
        let got = bar.read32(regs::LIVENESS);
        if got != !x {
            dev_err!(pdev, "liveness check: wrote {:#x}, read {:#x}\n", x, got);
            return Err(ENODEV);
        }
    }
    let n = 5;
    let timeout = Delta::from_millis(module_parameters::timeout_ms.value().into());
    let wait_idle = || {
        read_poll_timeout(
            || hw::factorial_busy(bar),
            |busy| !busy,
            Delta::from_millis(1),
            timeout,
        )
    };
    wait_idle()?;
    hw::start_factorial(bar, n, false)?;
    wait_idle()?;
    if Some(hw::read(bar, regs::FACTORIAL)?) != regs::factorial(n) {
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
            module_parameters::fail_delay_ms.value(),
            module_parameters::trace_ladder.value() == 1,
        );

        // Undone by devres after the binding is dropped.
        ladder
            .step("enable device")?
            .devres_traced(pdev.as_ref(), || pci_ext::enable(pdev))?;
        let bar = ladder
            .step("map BAR0")?
            .guard(|| pdev.iomap_region_sized::<{ regs::BAR0_SIZE }>(0, c"edu"))?;
        ladder
            .step("check device")?
            .run(|| check_device(pdev, &bar))?;
        // Optional: without a buffer, identification, liveness, factorial and raise still work,
        // and pread/pwrite fail with EOPNOTSUPP.
        let buf = ladder.optional("DMA buffer", |s| {
            s.guard(|| {
                pci_ext::set_dma_mask::<{ regs::DMA_ADDR_BITS }>(pdev)?;
                Coherent::<u8>::zeroed_slice(pdev.as_ref(), regs::DMA_BUF_SIZE, GFP_KERNEL)
            })
        });
        let vectors = ladder
            .step("interrupt vectors")?
            .guard(|| irq::Vectors::alloc(pdev, irq_modes()))?;
        // Takes over the BAR and the DMA buffer: undoing this step releases them.
        let mode = vectors.mode();
        let dev = ladder.step("device state")?.guard(|| {
            Arc::pin_init(
                EduDevice::new(
                    pdev.into(),
                    bar.into_inner().into_devres()?,
                    buf.map(Undo::into_inner),
                    mode,
                    module_parameters::timeout_ms.value(),
                ),
                GFP_KERNEL,
            )
        })?;
        let minor = ladder
            .step("instance number")?
            .guard(registry::Minor::reserve)?;
        let dma = ladder.step("bus mastering")?.guard(|| {
            Ok(BusMastering {
                master: pci_ext::BusMaster::set(pdev),
                _buffer: device::DmaBufferOwner::new(&dev),
            })
        })?;
        // The handler can run as soon as it is requested: `dev` is complete by now. Takes over
        // the vectors: undoing this step frees the handler, then them.
        let interrupt = ladder.step("interrupt handler")?.guard(|| {
            vectors.into_inner().request(
                (*dev).clone(),
                CString::try_from_fmt(fmt!("edu{}", minor.get()))?,
            )
        })?;
        let quiet = ladder.step("interrupt sources")?.guard(|| {
            // Forget what an earlier driver left pending; commands enable sources per command.
            dev.with_bound_bar(pdev, |b| hw::ack(b))?;
            Ok(Quiesce {
                pdev,
                dev: (*dev).clone(),
            })
        })?;
        // From here on callers can reach the device, so everything below is undone after it.
        let published = ladder
            .step("publish")?
            .guard(|| Ok(Published::new(&minor, &dev)))?;
        // `/dev/eduN` can be used the instant it appears; so can the sysfs files, which the
        // driver core adds once probe has returned.
        let node = ladder
            .step("char device")?
            .guard(|| chrdev::Node::create(pdev.as_ref(), minor.get()))?;

        dev_info!(
            pdev,
            "edu{}: {} interrupts{}\n",
            minor.get(),
            dev.irq_mode().name(),
            if dev.has_dma() {
                ""
            } else {
                ", no DMA buffer (pread/pwrite: EOPNOTSUPP)"
            }
        );
        Ok(EduBinding {
            _node: node,
            published,
            quiet,
            _interrupt: interrupt,
            dma,
            minor,
            _dev: dev,
        })
    }
}
