// SPDX-License-Identifier: GPL-2.0

//! The rig: probe, the operations, and remove, mirroring the kernel driver's `EduBinding`.
//!
//! [`Rig::probe`] walks the [`Ladder`] in dependency order:
//!
//! | step | guard | builds | undo (its `Drop`) |
//! |---|---|---|---|
//! | 1 | [`Container`] | `/dev/vfio/vfio` (TYPE1v2), group number, reserved IOVA regions | close |
//! | 2 | [`Device`] | group attached, device fd, request eventfd | disable request irq, close device, detach group |
//! | 3 | [`BusMaster`] | memory decoding + bus mastering in config space | restore the command register |
//! | 4 | [`Bar`] | BAR0 mmap, identification and liveness check | replace the mapping by a `PROT_NONE` canary |
//! | 5 | [`DmaMapping`] | a page mapped at an IOVA < 2^28 | unmap the IOVA, free the page |
//! | 6 | [`Irq`] | eventfd on MSI or INTx, service thread | stop and join the thread, disable the irq |
//! | 7 | `Published` | the callback-core slot activated with the rig as owner | revoke the owner, drain in-flight calls |
//!
//! Remove is dropping the [`Rig`]: its fields are declared in teardown order, so Rust undoes
//! step 7 first, then the hardware steps from 6 down to 1 (the fields of [`Hw`]).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callback_core::owners::AtomicOwner;
use callback_core::{Gate, Slot};
use vfio_bindings::bindings::vfio::{VFIO_PCI_BAR0_REGION_INDEX, VFIO_REGION_INFO_FLAG_MMAP};

use edu_regs::regs;

use crate::error::{Error, Result};
use crate::irq::{Events, Irq, IrqMode};
use crate::ladder::{Ladder, StepTrace};
use crate::sys::Mmio;
use crate::vfio::{BusMaster, Container, Device, DmaMapping};

/// How a command's completion is awaited.
#[derive(Clone, Copy)]
enum Completion {
    /// Polling the status register.
    Poll,
    /// The device's interrupt, through the service thread.
    Interrupt,
}

/// Calls that reached a device after its teardown had begun, process-wide: must stay 0.
static VIOLATIONS: AtomicU64 = AtomicU64::new(0);

/// Number of calls that reached a removed (or removing) rig: the dispatch protocol's failures.
pub fn violations() -> u64 {
    VIOLATIONS.load(Ordering::SeqCst)
}

/// Options of [`Rig::probe`].
#[derive(Debug, Clone, Copy)]
pub struct ProbeOptions {
    /// Interrupt mode.
    pub irq: IrqMode,
    /// Step to fail (1-based), for fault injection.
    pub fail_step: Option<u32>,
    /// How long an operation waits for the device.
    pub timeout: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            irq: IrqMode::Msi,
            fail_step: None,
            timeout: Duration::from_secs(2),
        }
    }
}

/// Step 4: BAR0 mapped (volatile 32-bit accesses), after checking that an edu answers.
pub struct Bar {
    pub(crate) mmio: Arc<Mmio>,
    _trace: StepTrace,
}

impl Bar {
    /// Maps BAR0 of `device` and checks identification and liveness.
    pub fn map(device: &Device, trace: StepTrace) -> Result<Self> {
        let vfio = &device.vfio;
        let idx = VFIO_PCI_BAR0_REGION_INDEX;
        let size = vfio.get_region_size(idx);
        if vfio.get_region_flags(idx) & VFIO_REGION_INFO_FLAG_MMAP == 0 {
            return Err(Error::NotVfio("BAR0 cannot be mmapped".into()));
        }
        if size < regs::BAR0_SIZE as u64 {
            return Err(Error::NotVfio(format!("BAR0 is only {size} bytes")));
        }
        use std::os::fd::AsRawFd;
        let mmio = Mmio::map(vfio.as_raw_fd(), vfio.get_region_offset(idx), size as usize)
            .map_err(|e| Error::io("map BAR0", e))?;
        let bar = Self {
            mmio: Arc::new(mmio),
            _trace: trace,
        };
        check_device(&bar.mmio)?;
        Ok(bar)
    }
}

/// Checks that the device answers like an edu: identification and liveness (as the driver's
/// `check_device`; an all-ones identification means the device is gone).
fn check_device(bar: &Mmio) -> Result<()> {
    let ident = bar.read32(regs::IDENT);
    if ident == regs::ALL_ONES {
        return Err(Error::Gone);
    }
    if ident & regs::IDENT_MAGIC_MASK != regs::IDENT_MAGIC {
        return Err(Error::NotEdu { ident });
    }
    for x in [0x5a5a_a5a5u32, 0] {
        bar.write32(regs::LIVENESS, x);
        let read = bar.read32(regs::LIVENESS);
        if read != !x {
            return Err(Error::Liveness { wrote: x, read });
        }
    }
    Ok(())
}

/// The hardware side of one probed device: the guards of steps 1-6 and the state the operations
/// use.
///
/// Fields are declared in teardown order, the reverse of [`Rig::probe`]: Rust drops them top to
/// bottom.
pub struct Hw {
    irq: Irq,
    dma: DmaMapping,
    bar: Bar,
    _config: BusMaster,
    _device: Device,
    container: Container,
    /// Serialises commands: at most one factorial, liveness check, raise or DMA at a time.
    cmd: Mutex<()>,
    events: Arc<Events>,
    /// True exactly while published: every operation checks it (the generation canary).
    live: Arc<AtomicBool>,
    timeout: Duration,
}

/// The direction of a DMA transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Device buffer to memory (a read).
    ToRam,
    /// Memory to device buffer (a write).
    ToDevice,
}

/// How many bytes a transfer of `len` bytes at `offset` moves, with the driver's semantics: a
/// read at or past the end moves 0 bytes, a write there is [`Error::NoSpace`], and a transfer
/// crossing the end is shortened.
pub fn dma_len(dir: Dir, offset: u64, len: usize) -> Result<usize> {
    match regs::dma_span(offset, len) {
        Some(n) => Ok(n),
        None if dir == Dir::ToRam => Ok(0),
        None => Err(Error::NoSpace),
    }
}

impl Hw {
    fn bar(&self) -> &Mmio {
        &self.bar.mmio
    }

    /// The generation canary: an operation on a rig that is not published is a protocol
    /// violation; it is counted and refused before touching the device.
    fn enter(&self) -> Result<()> {
        if self.live.load(Ordering::SeqCst) {
            Ok(())
        } else {
            VIOLATIONS.fetch_add(1, Ordering::SeqCst);
            Err(Error::Violation)
        }
    }

    /// Turns an all-ones read into [`Error::Gone`] (a live edu never reads all-ones at IDENT).
    fn check_value(&self, v: u32) -> Result<u32> {
        if v == regs::ALL_ONES && self.bar().read32(regs::IDENT) == regs::ALL_ONES {
            return Err(Error::Gone);
        }
        Ok(v)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.cmd.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Polls `reg` until `busy` clears, up to the timeout.
    fn wait_idle(&self, reg: usize, busy: u32, what: &'static str) -> Result<()> {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            let v = self.bar().read32(reg);
            if v == regs::ALL_ONES {
                return Err(Error::Gone);
            }
            if v & busy == 0 {
                return Ok(());
            }
            if start.elapsed() >= self.timeout {
                return Err(Error::Timeout(what));
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    /// The identification register.
    pub fn ident(&self) -> Result<u32> {
        self.enter()?;
        let v = self.bar().read32(regs::IDENT);
        self.check_value(v)
    }

    /// Writes `x` to the liveness register and returns what the device gives back.
    pub fn liveness(&self, x: u32) -> Result<u32> {
        self.enter()?;
        let _cmd = self.lock();
        self.bar().write32(regs::LIVENESS, x);
        let v = self.bar().read32(regs::LIVENESS);
        self.check_value(v)
    }

    /// Computes `n!` on the device by polling the status register.
    pub fn factorial_polled(&self, n: u32) -> Result<u32> {
        self.compute_factorial(n, Completion::Poll)
    }

    /// Computes `n!` on the device, completed by its interrupt.
    pub fn factorial(&self, n: u32) -> Result<u32> {
        self.compute_factorial(n, Completion::Interrupt)
    }

    fn compute_factorial(&self, n: u32, how: Completion) -> Result<u32> {
        self.enter()?;
        regs::factorial(n).ok_or(Error::Overflow)?;
        let _cmd = self.lock();
        // An abandoned earlier call may have left a computation running.
        self.wait_idle(regs::STATUS, regs::STATUS_COMPUTING, "a factorial")?;
        let status = match how {
            Completion::Poll => 0,
            Completion::Interrupt => {
                self.events.consume(regs::IRQ_FACTORIAL);
                regs::STATUS_IRQ_ENABLE
            }
        };
        self.bar().write32(regs::STATUS, status);
        self.bar().write32(regs::FACTORIAL, n);
        match how {
            Completion::Poll => {
                self.wait_idle(regs::STATUS, regs::STATUS_COMPUTING, "a factorial")?
            }
            Completion::Interrupt => {
                self.events
                    .wait(regs::IRQ_FACTORIAL, self.timeout, "a factorial interrupt")?
            }
        }
        let v = self.bar().read32(regs::FACTORIAL);
        self.check_value(v)
    }

    /// Raises the device interrupt with `value` and returns once the service thread has seen
    /// (and acknowledged) it.
    pub fn raise(&self, value: u32) -> Result<()> {
        self.enter()?;
        if value == 0 {
            return Err(Error::Invalid("raise takes a non-zero value"));
        }
        let _cmd = self.lock();
        self.events.consume(value);
        self.bar().write32(regs::IRQ_RAISE, value);
        self.events.wait(value, self.timeout, "a raised interrupt")
    }

    /// Moves up to `data.len()` bytes to the device buffer at `offset` by DMA; returns how many.
    pub fn dma_write(&self, offset: u64, data: &[u8]) -> Result<usize> {
        self.enter()?;
        let n = dma_len(Dir::ToDevice, offset, data.len())?;
        if n == 0 {
            return Ok(0);
        }
        let _cmd = self.lock();
        self.dma.page().copy_in(&data[..n]);
        self.dma_run(Dir::ToDevice, offset, n)?;
        Ok(n)
    }

    /// Reads up to `len` bytes of the device buffer at `offset` by DMA.
    pub fn dma_read(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        self.enter()?;
        let n = dma_len(Dir::ToRam, offset, len)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let _cmd = self.lock();
        self.dma_run(Dir::ToRam, offset, n)?;
        let mut out = vec![0; n];
        self.dma.page().copy_out(&mut out);
        Ok(out)
    }

    /// Runs one transfer of `n` bytes (already bounds-checked) and waits for its interrupt.
    fn dma_run(&self, dir: Dir, offset: u64, n: usize) -> Result<()> {
        let (src, dst, flags) = match dir {
            Dir::ToDevice => (self.dma.iova, regs::DMA_BUF_ADDR + offset, 0),
            Dir::ToRam => (
                regs::DMA_BUF_ADDR + offset,
                self.dma.iova,
                regs::DMA_CMD_TO_RAM,
            ),
        };
        // With the 28-bit DMA mask every address fits the 32-bit writes the engine takes.
        let src = u32::try_from(src).map_err(|_| Error::Invalid("DMA address"))?;
        let dst = u32::try_from(dst).map_err(|_| Error::Invalid("DMA address"))?;
        self.wait_idle(regs::DMA_CMD, regs::DMA_CMD_START, "a DMA")?;
        self.events.consume(regs::IRQ_DMA);
        let bar = self.bar();
        bar.write32(regs::DMA_SRC, src);
        bar.write32(regs::DMA_DST, dst);
        bar.write32(regs::DMA_COUNT, n as u32);
        bar.write32(
            regs::DMA_CMD,
            regs::DMA_CMD_START | regs::DMA_CMD_IRQ | flags,
        );
        if let Err(e) = self
            .events
            .wait(regs::IRQ_DMA, self.timeout, "a DMA interrupt")
        {
            // Never hand the page to the next caller while the engine may still write it.
            self.wait_idle(regs::DMA_CMD, regs::DMA_CMD_START, "a DMA")?;
            return Err(e);
        }
        Ok(())
    }
}

impl Drop for Hw {
    fn drop(&mut self) {
        // Before the DMA page goes (step 5's undo, right after the interrupt thread stops): a
        // running transfer must finish first. The BAR is still mapped here.
        let _cmd = self.cmd.lock();
        if self.dma_busy() {
            let _ = self.wait_idle(regs::DMA_CMD, regs::DMA_CMD_START, "a DMA");
        }
    }
}

impl Hw {
    fn dma_busy(&self) -> bool {
        let v = self.bar().read32(regs::DMA_CMD);
        v != regs::ALL_ONES && v & regs::DMA_CMD_START != 0
    }
}

/// The operations a client can invoke through the [`Port`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Op {
    Ident = 1,
    Liveness,
    Factorial,
    FactorialPolled,
    Raise,
    DmaWrite,
    DmaRead,
}

impl Op {
    fn from_u32(v: u32) -> Option<Op> {
        Some(match v {
            1 => Op::Ident,
            2 => Op::Liveness,
            3 => Op::Factorial,
            4 => Op::FactorialPolled,
            5 => Op::Raise,
            6 => Op::DmaWrite,
            7 => Op::DmaRead,
            _ => return None,
        })
    }
}

/// The arguments of a call in flight on this thread. The callback-core event is only a `u32`
/// (the operation); the rest travels here. Dispatch calls the callback synchronously on the
/// caller's thread, so a thread-local is exactly the call's scope.
#[derive(Default)]
struct CallArgs {
    arg: u32,
    offset: u64,
    data: Vec<u8>,
}

thread_local! {
    static CALL: RefCell<CallArgs> = RefCell::new(CallArgs::default());
}

type RigSlot = Slot<AtomicOwner, AtomicOwner, Port, Result<u32>>;

/// Where clients meet the rig: a callback-core [`Slot`] whose registration is the rig's
/// operation table, owned by the rig's own [`AtomicOwner`] (the userspace model of the kernel
/// module refcount). Probe step 7 activates it; remove revokes the owner (new calls are refused
/// at once), then unregisters, which waits for the calls in flight.
///
/// A port lives for the whole process ([`Port::new`] leaks one small allocation) and serves any
/// number of successive rigs (probe/remove cycles), one at a time.
pub struct Port {
    slot: RigSlot,
    owner: AtomicOwner,
    /// The published [`Hw`]; null when nothing is published.
    hw: AtomicPtr<Hw>,
}

impl Port {
    /// Creates a port that lives for the rest of the process.
    pub fn new() -> &'static Port {
        Box::leak(Box::new(Port {
            slot: Slot::new(AtomicOwner::new()),
            owner: AtomicOwner::new(),
            hw: AtomicPtr::new(std::ptr::null_mut()),
        }))
    }

    /// A client handle for calling the published rig.
    pub fn client(&'static self) -> Client {
        Client { port: self }
    }

    /// Whether a rig is published.
    pub fn is_published(&self) -> bool {
        self.slot.is_active()
    }
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

/// The callback registered in the slot: runs operation `op` on the published hardware.
fn serve_call(port: &'static Port, op: u32) -> Result<u32> {
    let p = port.hw.load(Ordering::Acquire);
    if p.is_null() {
        VIOLATIONS.fetch_add(1, Ordering::SeqCst);
        return Err(Error::Violation);
    }
    // SAFETY: `hw` is set to a live `Hw` (owned by an `Arc` in the `Rig`) before the slot is
    // activated and reset to null only after `unregister` has drained every call; the `Rig`
    // drops its `Published` guard (which does that) before its `Arc<Hw>`. We are inside
    // dispatch, between activation and the end of the drain, so the `Hw` is alive.
    let hw = unsafe { &*p };
    CALL.with(|c| {
        let mut c = c.borrow_mut();
        match Op::from_u32(op) {
            Some(Op::Ident) => hw.ident(),
            Some(Op::Liveness) => hw.liveness(c.arg),
            Some(Op::Factorial) => hw.factorial(c.arg),
            Some(Op::FactorialPolled) => hw.factorial_polled(c.arg),
            Some(Op::Raise) => hw.raise(c.arg).map(|()| 0),
            Some(Op::DmaWrite) => {
                let data = std::mem::take(&mut c.data);
                hw.dma_write(c.offset, &data).map(|n| n as u32)
            }
            Some(Op::DmaRead) => {
                let v = hw.dma_read(c.offset, c.arg as usize)?;
                let n = v.len() as u32;
                c.data = v;
                Ok(n)
            }
            None => Err(Error::Invalid("unknown operation")),
        }
    })
}

/// A client of a [`Port`]: every call goes through `Slot::dispatch`, guarded by the slot's gate
/// and the rig's owner. A call on a port with nothing published fails with
/// [`Error::NotRegistered`] without touching anything.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    port: &'static Port,
}

impl Client {
    fn call(&self, op: Op, arg: u32, offset: u64, data: Vec<u8>) -> (Result<u32>, Vec<u8>) {
        CALL.with(|c| {
            let mut c = c.borrow_mut();
            c.arg = arg;
            c.offset = offset;
            c.data = data;
        });
        let r = self
            .port
            .slot
            .dispatch(op as u32)
            .unwrap_or(Err(Error::NotRegistered));
        let data = CALL.with(|c| std::mem::take(&mut c.borrow_mut().data));
        (r, data)
    }

    /// The identification register.
    pub fn ident(&self) -> Result<u32> {
        self.call(Op::Ident, 0, 0, Vec::new()).0
    }

    /// Liveness: writes `x`, returns what the device reads back (`!x`).
    pub fn liveness(&self, x: u32) -> Result<u32> {
        self.call(Op::Liveness, x, 0, Vec::new()).0
    }

    /// `n!`, completed by the device interrupt.
    pub fn factorial(&self, n: u32) -> Result<u32> {
        self.call(Op::Factorial, n, 0, Vec::new()).0
    }

    /// `n!`, polled.
    pub fn factorial_polled(&self, n: u32) -> Result<u32> {
        self.call(Op::FactorialPolled, n, 0, Vec::new()).0
    }

    /// Raises the interrupt with `value` and waits until it was handled.
    pub fn raise(&self, value: u32) -> Result<()> {
        self.call(Op::Raise, value, 0, Vec::new()).0.map(|_| ())
    }

    /// DMA of `data` into the device buffer at `offset`; returns the bytes moved.
    pub fn dma_write(&self, offset: u64, data: &[u8]) -> Result<usize> {
        self.call(Op::DmaWrite, 0, offset, data.to_vec())
            .0
            .map(|n| n as usize)
    }

    /// DMA of up to `len` bytes of the device buffer at `offset`.
    pub fn dma_read(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let len = u32::try_from(len).map_err(|_| Error::Invalid("length"))?;
        let (r, data) = self.call(Op::DmaRead, len, offset, Vec::new());
        r.map(|_| data)
    }
}

/// Step 7: the rig's operations published in the port's slot.
struct Published {
    port: &'static Port,
    live: Arc<AtomicBool>,
    _trace: StepTrace,
}

impl Published {
    fn publish(port: &'static Port, hw: &Arc<Hw>, trace: StepTrace) -> Result<Self> {
        let reservation = port.slot.reserve().map_err(|_| Error::Busy)?;
        // The owner was revoked by the previous remove (if any): make it live again.
        port.owner.reinstate();
        port.hw.store(Arc::as_ptr(hw).cast_mut(), Ordering::Release);
        hw.live.store(true, Ordering::SeqCst);
        reservation.activate(serve_call, port, &port.owner);
        Ok(Self {
            port,
            live: hw.live.clone(),
            _trace: trace,
        })
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        // Remove has begun: the owner is going, so new calls are refused at once...
        self.port.owner.revoke();
        // ...then no call can enter the slot and the ones in flight are waited for.
        let _ = self.port.slot.unregister(std::thread::yield_now);
        // From here on any call reaching the hardware is a violation.
        self.live.store(false, Ordering::SeqCst);
        self.port.hw.store(std::ptr::null_mut(), Ordering::Release);
    }
}

/// One probed device: the guards of the probe ladder.
///
/// Fields are declared in teardown order, the reverse of [`Rig::probe`]: dropping a `Rig` is
/// remove. The publication goes first (no new call, in-flight calls drained), then the hardware.
pub struct Rig {
    _published: Published,
    hw: Arc<Hw>,
    port: &'static Port,
}

impl Rig {
    /// Probes the edu at `bdf` (bound to vfio-pci) and publishes its operations on `port`.
    ///
    /// On failure, the steps already built are undone in reverse before this returns.
    pub fn probe(bdf: &str, opts: &ProbeOptions, port: &'static Port) -> Result<Rig> {
        let mut ladder = Ladder::new(opts.fail_step);
        let container = ladder.step(|t| Container::open(bdf, t))?;
        let device = ladder.step(|t| Device::open(bdf, &container, t))?;
        let config = ladder.step(|t| BusMaster::enable(&device, t))?;
        let bar = ladder.step(|t| Bar::map(&device, t))?;
        let dma = ladder.step(|t| DmaMapping::map(&container, t))?;
        let events = Arc::new(Events::default());
        let irq = ladder.step(|t| Irq::start(opts.irq, &device, &bar.mmio, &events, t))?;
        let hw = Arc::new(Hw {
            irq,
            dma,
            bar,
            _config: config,
            _device: device,
            container,
            cmd: Mutex::new(()),
            events,
            live: Arc::new(AtomicBool::new(false)),
            timeout: opts.timeout,
        });
        // Last: clients can call the instant the slot is active, and they need all the above.
        let published = ladder.step(|t| Published::publish(port, &hw, t))?;
        Ok(Rig {
            _published: published,
            hw,
            port,
        })
    }

    /// Removes the rig (the same as dropping it).
    pub fn remove(self) {
        drop(self);
    }

    /// A client of this rig's port.
    pub fn client(&self) -> Client {
        self.port.client()
    }

    /// The interrupt mode in use.
    pub fn irq_mode(&self) -> IrqMode {
        self.hw.irq.mode()
    }

    /// Interrupts the service thread has handled.
    pub fn irq_count(&self) -> u64 {
        self.hw.events.count()
    }

    /// The IOMMU group.
    pub fn group(&self) -> u32 {
        self.hw.container.group
    }

    /// The IOVA of the DMA page.
    pub fn iova(&self) -> u64 {
        self.hw.dma.iova
    }

    /// Whether vfio-pci asked for the device back (request interrupt): the owner should remove
    /// the rig promptly.
    pub fn release_requested(&self) -> bool {
        self.hw.events.requested() || self.hw.events.gone()
    }

    /// Waits up to `timeout` for the request interrupt (or the device going away).
    pub fn wait_release_request(&self, timeout: Duration) -> bool {
        self.hw.events.wait_request(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dma_bounds_match_the_driver() {
        assert_eq!(dma_len(Dir::ToRam, 0, 4096).unwrap(), 4096);
        assert_eq!(dma_len(Dir::ToDevice, 0, 4096).unwrap(), 4096);
        assert_eq!(dma_len(Dir::ToRam, 4090, 16).unwrap(), 6);
        assert_eq!(dma_len(Dir::ToDevice, 4090, 16).unwrap(), 6);
        assert_eq!(dma_len(Dir::ToRam, 4096, 16).unwrap(), 0);
        assert_eq!(dma_len(Dir::ToRam, 5000, 16).unwrap(), 0);
        assert!(matches!(
            dma_len(Dir::ToDevice, 4096, 1),
            Err(Error::NoSpace)
        ));
        assert!(matches!(
            dma_len(Dir::ToDevice, u64::MAX, 1),
            Err(Error::NoSpace)
        ));
        assert_eq!(dma_len(Dir::ToDevice, 100, 0).unwrap(), 0);
    }

    #[test]
    fn calls_on_an_empty_port_are_refused_without_violation() {
        let port = Port::new();
        let c = port.client();
        assert!(matches!(c.ident(), Err(Error::NotRegistered)));
        assert!(matches!(c.dma_read(0, 4), Err(Error::NotRegistered)));
        assert!(!port.is_published());
        assert_eq!(violations(), 0);
    }

    #[test]
    fn probe_of_a_missing_device_fails_at_step_1() {
        let port = Port::new();
        let e = Rig::probe("0000:ff:1f.7", &ProbeOptions::default(), port)
            .err()
            .unwrap();
        assert!(matches!(e, Error::Step { step: 1, .. }), "{e}");
        let e = Rig::probe(
            "0000:ff:1f.7",
            &ProbeOptions {
                fail_step: Some(1),
                ..Default::default()
            },
            port,
        )
        .err()
        .unwrap();
        assert!(matches!(e, Error::Injected { step: 1, .. }), "{e}");
    }
}
