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
//! | 7 | [`Binding`] | the callback-core slot activated with the rig as owner | revoke the owner, drain in-flight calls, retire the generation |
//!
//! Remove is dropping the [`Rig`] (a [`Binding`] of an [`Hw`]): it undoes step 7, then tears the
//! hardware down ([`Ops::teardown`]: steps 6 down to 1, the guards of [`Hw`], in reverse).
//!
//! # The race oracle
//!
//! Every probe publishes a new *generation* of its [`Port`]; remove *retires* it once the drain
//! is over and before the hardware goes. Every call checks, at its start and again at its
//! **end**, that its generation was not retired: a call still running when remove tears the
//! hardware down is counted in [`Port::violations`]. Retired [`Hw`]s stay in the port's
//! quarantine, so such a late call reads valid memory (and its BAR accesses fault on the
//! `PROT_NONE` canary) instead of freed memory. [`Port::removes_with_calls_in_flight`] counts the
//! removes that really had to wait for a call in flight, which shows that the race exercised the
//! drain at all.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callback_core::owners::AtomicOwner;
use callback_core::{Gate, Slot};
use vfio_bindings::bindings::vfio::{VFIO_PCI_BAR0_REGION_INDEX, VFIO_REGION_INFO_FLAG_MMAP};

use edu_regs::regs;

use crate::error::{Error, Result};
use crate::irq::{Events, Irq, IrqMode};
use crate::ladder::{Ladder, StepTrace, STEP_COUNT};
use crate::sys::{DmaPage, Mmio};
use crate::vfio::{BusMaster, Container, Device, DmaMapping};

/// How a command's completion is awaited.
#[derive(Clone, Copy)]
enum Completion {
    /// Polling the status register.
    Poll,
    /// The device's interrupt, through the service thread.
    Interrupt,
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

/// Step 4: BAR0 mapped (volatile 32-bit accesses), after checking that an edu answers. Its undo
/// replaces the mapping by the `PROT_NONE` canary ([`Mmio::revoke`]); the [`Mmio`] itself may
/// live on (in a quarantined [`Hw`]), so a late access faults.
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

impl Drop for Bar {
    fn drop(&mut self) {
        self.mmio.revoke();
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

/// The guards of probe steps 1-6, declared in teardown order (Rust drops them top to bottom).
struct Guards {
    _irq: Irq,
    _dma: DmaMapping,
    _bar: Bar,
    _config: BusMaster,
    _device: Device,
    _container: Container,
}

/// The hardware side of one probed device: the guards of steps 1-6 and the state the operations
/// use.
///
/// [`Ops::teardown`] undoes steps 6 to 1; the `Hw` itself may outlive it (in its port's
/// quarantine): its BAR is then the `PROT_NONE` canary, and its DMA page is still valid memory
/// but no longer mapped for the device.
pub struct Hw {
    /// Steps 1-6, until [`Ops::teardown`] takes them.
    guards: Mutex<Option<Guards>>,
    bar: Arc<Mmio>,
    page: Arc<DmaPage>,
    iova: u64,
    irq_mode: IrqMode,
    group: u32,
    /// Serialises commands: at most one factorial, liveness check, raise or DMA at a time.
    cmd: Mutex<()>,
    events: Arc<Events>,
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

/// What a [`Port`] serves: the operations of one probed device, and the undo of its hardware
/// steps. [`Hw`] is the real one; the race ([`crate::race::churn`]) runs on any implementation,
/// so that its oracle can be tested on the host with a fake device.
pub trait Ops: Send + Sync + 'static {
    /// The identification register.
    fn ident(&self) -> Result<u32>;
    /// Writes `x` to the liveness register and returns what the device gives back.
    fn liveness(&self, x: u32) -> Result<u32>;
    /// `n!` computed by the device, completed by its interrupt.
    fn factorial(&self, n: u32) -> Result<u32>;
    /// `n!` computed by the device, polled.
    fn factorial_polled(&self, n: u32) -> Result<u32>;
    /// Raises the device interrupt with `value` and returns once it was handled.
    fn raise(&self, value: u32) -> Result<()>;
    /// Moves up to `data.len()` bytes to the device buffer at `offset`; returns how many.
    fn dma_write(&self, offset: u64, data: &[u8]) -> Result<usize>;
    /// Reads up to `len` bytes of the device buffer at `offset`.
    fn dma_read(&self, offset: u64, len: usize) -> Result<Vec<u8>>;
    /// Undoes the hardware steps (the second half of remove, after the drain). Idempotent.
    fn teardown(&self);
    /// Whether the device was asked back (or vanished): the owner should remove it promptly.
    fn release_requested(&self) -> bool {
        false
    }
    /// Waits up to `timeout` for [`Ops::release_requested`].
    fn wait_release_request(&self, timeout: Duration) -> bool {
        std::thread::sleep(timeout);
        self.release_requested()
    }
}

impl Hw {
    fn bar(&self) -> &Mmio {
        &self.bar
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

    fn compute_factorial(&self, n: u32, how: Completion) -> Result<u32> {
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

    /// Runs one transfer of `n` bytes (already bounds-checked) and waits for its interrupt.
    fn dma_run(&self, dir: Dir, offset: u64, n: usize) -> Result<()> {
        let (src, dst, flags) = match dir {
            Dir::ToDevice => (self.iova, regs::DMA_BUF_ADDR + offset, 0),
            Dir::ToRam => (regs::DMA_BUF_ADDR + offset, self.iova, regs::DMA_CMD_TO_RAM),
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

    fn dma_busy(&self) -> bool {
        let v = self.bar().read32(regs::DMA_CMD);
        v != regs::ALL_ONES && v & regs::DMA_CMD_START != 0
    }

    /// The interrupt mode in use.
    pub fn irq_mode(&self) -> IrqMode {
        self.irq_mode
    }

    /// Interrupts the service thread has handled.
    pub fn irq_count(&self) -> u64 {
        self.events.count()
    }

    /// The IOMMU group.
    pub fn group(&self) -> u32 {
        self.group
    }

    /// The IOVA of the DMA page.
    pub fn iova(&self) -> u64 {
        self.iova
    }
}

impl Ops for Hw {
    fn ident(&self) -> Result<u32> {
        let v = self.bar().read32(regs::IDENT);
        self.check_value(v)
    }

    fn liveness(&self, x: u32) -> Result<u32> {
        let _cmd = self.lock();
        self.bar().write32(regs::LIVENESS, x);
        let v = self.bar().read32(regs::LIVENESS);
        self.check_value(v)
    }

    fn factorial(&self, n: u32) -> Result<u32> {
        self.compute_factorial(n, Completion::Interrupt)
    }

    fn factorial_polled(&self, n: u32) -> Result<u32> {
        self.compute_factorial(n, Completion::Poll)
    }

    fn raise(&self, value: u32) -> Result<()> {
        if value == 0 {
            return Err(Error::Invalid("raise takes a non-zero value"));
        }
        let _cmd = self.lock();
        self.events.consume(value);
        self.bar().write32(regs::IRQ_RAISE, value);
        self.events.wait(value, self.timeout, "a raised interrupt")
    }

    fn dma_write(&self, offset: u64, data: &[u8]) -> Result<usize> {
        let n = dma_len(Dir::ToDevice, offset, data.len())?;
        if n == 0 {
            return Ok(0);
        }
        let _cmd = self.lock();
        self.page.copy_in(&data[..n]);
        self.dma_run(Dir::ToDevice, offset, n)?;
        Ok(n)
    }

    fn dma_read(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let n = dma_len(Dir::ToRam, offset, len)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let _cmd = self.lock();
        self.dma_run(Dir::ToRam, offset, n)?;
        let mut out = vec![0; n];
        self.page.copy_out(&mut out);
        Ok(out)
    }

    fn teardown(&self) {
        let _cmd = self.lock();
        let Some(guards) = self.guards.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        // Before the DMA page is unmapped (step 5's undo, right after the interrupt thread
        // stops): a running transfer must finish first. The BAR is still mapped here.
        if self.dma_busy() {
            let _ = self.wait_idle(regs::DMA_CMD, regs::DMA_CMD_START, "a DMA");
        }
        drop(guards);
    }

    fn release_requested(&self) -> bool {
        self.events.requested() || self.events.gone()
    }

    fn wait_release_request(&self, timeout: Duration) -> bool {
        self.events.wait_request(timeout)
    }
}

impl Drop for Hw {
    fn drop(&mut self) {
        // Normally done by remove; here when probe failed after building the hardware.
        self.teardown();
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

type RigSlot<H> = Slot<AtomicOwner, AtomicOwner, Port<H>, Result<u32>>;

/// How many removed generations a port keeps alive (see [`Port`]).
const QUARANTINE_KEEP: usize = 16;

/// How remove treats the calls in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Teardown {
    /// Drain them, then retire the generation and tear the hardware down (the real remove).
    Drain,
    /// The seeded bug of the positive control (tests only): retire and tear down first, drain
    /// afterwards.
    #[cfg(test)]
    SkipDrain,
}

/// One published generation: the device and its number.
struct Entry<H> {
    generation: u64,
    hw: H,
}

/// Where clients meet the rig: a callback-core [`Slot`] whose registration is the rig's
/// operation table, owned by the rig's own [`AtomicOwner`] (the userspace model of the kernel
/// module refcount). Probe step 7 activates it; remove revokes the owner (new calls are refused
/// at once), then unregisters, which waits for the calls in flight.
///
/// A port lives for the whole process ([`Port::new`] leaks one small allocation) and serves any
/// number of successive rigs (probe/remove cycles), one at a time. It keeps the race oracle's
/// state (see the [module docs](self)): the generation counters, the violation and remove
/// counters, and the quarantine of the last 16 removed devices.
pub struct Port<H: Ops = Hw> {
    slot: RigSlot<H>,
    owner: AtomicOwner,
    /// The published generation; null when nothing is published.
    current: AtomicPtr<Entry<H>>,
    /// The last generation handed out.
    generations: AtomicU64,
    /// The newest generation whose remove has finished waiting (or should have): no call of it
    /// may still run.
    retired: AtomicU64,
    violations: AtomicU64,
    removes: AtomicU64,
    removes_with_calls_in_flight: AtomicU64,
    /// Removed generations, oldest first, kept alive so that a late call (a broken drain) reads
    /// valid memory.
    quarantine: Mutex<VecDeque<Arc<Entry<H>>>>,
    teardown: Teardown,
}

impl<H: Ops> Port<H> {
    /// Creates a port that lives for the rest of the process.
    pub fn new() -> &'static Self {
        Self::with_teardown(Teardown::Drain)
    }

    /// A port whose remove tears the hardware down *before* waiting for the calls in flight:
    /// the positive control of the race oracle.
    #[cfg(test)]
    pub(crate) fn with_broken_teardown() -> &'static Self {
        Self::with_teardown(Teardown::SkipDrain)
    }

    fn with_teardown(teardown: Teardown) -> &'static Self {
        Box::leak(Box::new(Port {
            slot: Slot::new(AtomicOwner::new()),
            owner: AtomicOwner::new(),
            current: AtomicPtr::new(std::ptr::null_mut()),
            generations: AtomicU64::new(0),
            retired: AtomicU64::new(0),
            violations: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            removes_with_calls_in_flight: AtomicU64::new(0),
            quarantine: Mutex::new(VecDeque::new()),
            teardown,
        }))
    }

    /// A client handle for calling the published rig.
    pub fn client(&'static self) -> Client<H> {
        Client { port: self }
    }

    /// Whether a rig is published.
    pub fn is_published(&self) -> bool {
        self.slot.is_active()
    }

    /// Calls that ran (at their start or at their end) while their generation was retired or
    /// nothing was published: a remove did not wait for them. Must stay 0.
    pub fn violations(&self) -> u64 {
        self.violations.load(Ordering::SeqCst)
    }

    /// Removes done on this port.
    pub fn removes(&self) -> u64 {
        self.removes.load(Ordering::SeqCst)
    }

    /// Removes that found calls in flight when they revoked the owner, and so had to wait.
    pub fn removes_with_calls_in_flight(&self) -> u64 {
        self.removes_with_calls_in_flight.load(Ordering::SeqCst)
    }

    fn violation(&self) -> Error {
        self.violations.fetch_add(1, Ordering::SeqCst);
        Error::Violation
    }

    fn is_retired(&self, generation: u64) -> bool {
        self.retired.load(Ordering::SeqCst) >= generation
    }

    fn quarantine(&self, entry: Arc<Entry<H>>) {
        let mut q = self.quarantine.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back(entry);
        // With the broken teardown a late call may still use any old entry: keep them all.
        while self.teardown == Teardown::Drain && q.len() > QUARANTINE_KEEP {
            q.pop_front();
        }
    }
}

impl<H: Ops> std::fmt::Debug for Port<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port")
            .field("slot", &self.slot)
            .field("violations", &self.violations())
            .finish_non_exhaustive()
    }
}

/// The callback registered in the slot: runs operation `op` on the published hardware, checking
/// its generation at the start and at the end.
fn serve_call<H: Ops>(port: &'static Port<H>, op: u32) -> Result<u32> {
    let p = port.current.load(Ordering::Acquire);
    if p.is_null() {
        return Err(port.violation());
    }
    // SAFETY: `current` points into an `Arc<Entry>` that the publishing `Binding` owns. Remove
    // resets `current` to null only after `unregister` has drained every call, and then moves
    // that `Arc` into the port's quarantine, which keeps it for `QUARANTINE_KEEP` more removes
    // (for ever with the test-only broken teardown, whose late calls the drain does not cover).
    // We are inside dispatch, so the entry is alive.
    let entry = unsafe { &*p };
    if port.is_retired(entry.generation) {
        return Err(port.violation());
    }
    let hw = &entry.hw;
    let r = CALL.with(|c| {
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
    });
    // At the end: a remove that did not wait for this call has retired its generation (and
    // gone on to tear the hardware down) while it ran.
    if port.is_retired(entry.generation) {
        return Err(port.violation());
    }
    r
}

/// A client of a [`Port`]: every call goes through `Slot::dispatch`, guarded by the slot's gate
/// and the rig's owner. A call on a port with nothing published fails with
/// [`Error::NotRegistered`] without touching anything.
///
/// The callback-core event is only a `u32` (the operation); the arguments and the data travel in
/// a thread-local, which is exactly the call's scope because dispatch calls the callback
/// synchronously on the caller's thread.
pub struct Client<H: Ops = Hw> {
    port: &'static Port<H>,
}

impl<H: Ops> Clone for Client<H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<H: Ops> Copy for Client<H> {}

impl<H: Ops> std::fmt::Debug for Client<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("port", self.port).finish()
    }
}

impl<H: Ops> Client<H> {
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

/// Step 7 and everything before it: a device published in a port's slot. It owns the device
/// (an `Arc`, so the published pointer is valid by ownership, not by field order). Dropping it
/// is remove: revoke the owner, wait for the calls in flight, retire the generation, then tear
/// the hardware down ([`Ops::teardown`]) and put the device in the port's quarantine.
pub struct Binding<H: Ops = Hw> {
    port: &'static Port<H>,
    /// `None` only inside `Drop`.
    entry: Option<Arc<Entry<H>>>,
    /// Step 7's trace: dropped after the drain, before the hardware steps' undo.
    trace: Option<StepTrace>,
}

/// One probed edu: the VFIO hardware ([`Hw`]) published in a [`Port`].
pub type Rig = Binding<Hw>;

impl<H: Ops> Binding<H> {
    /// Publishes `hw` (a device already probed) as the next generation of `port`: clients can
    /// call it from (possibly slightly before) the moment this returns. Fails with
    /// [`Error::Busy`] if `port` already has a device.
    pub fn publish(port: &'static Port<H>, hw: H) -> Result<Self> {
        Self::publish_traced(port, hw, StepTrace::new(STEP_COUNT))
    }

    fn publish_traced(port: &'static Port<H>, hw: H, trace: StepTrace) -> Result<Self> {
        let reservation = port.slot.reserve().map_err(|_| Error::Busy)?;
        // The owner was revoked by the previous remove (if any): make it live again.
        port.owner.reinstate();
        let generation = port.generations.fetch_add(1, Ordering::SeqCst) + 1;
        let entry = Arc::new(Entry { generation, hw });
        port.current
            .store(Arc::as_ptr(&entry).cast_mut(), Ordering::Release);
        reservation.activate(serve_call::<H>, port, &port.owner);
        Ok(Self {
            port,
            entry: Some(entry),
            trace: Some(trace),
        })
    }

    /// The published device.
    pub fn hw(&self) -> &H {
        // `entry` is `Some` until `Drop`.
        &self.entry.as_ref().expect("published until dropped").hw
    }

    /// Removes the device (the same as dropping it).
    pub fn remove(self) {
        drop(self);
    }

    /// A client of this binding's port.
    pub fn client(&self) -> Client<H> {
        self.port.client()
    }

    /// Whether the device was asked back (vfio-pci's request interrupt) or vanished: the owner
    /// should remove it promptly.
    pub fn release_requested(&self) -> bool {
        self.hw().release_requested()
    }

    /// Waits up to `timeout` for the request interrupt (or the device going away).
    pub fn wait_release_request(&self, timeout: Duration) -> bool {
        self.hw().wait_release_request(timeout)
    }
}

impl<H: Ops> Drop for Binding<H> {
    fn drop(&mut self) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        let port = self.port;
        // Remove has begun: the owner is going, so new calls are refused at once...
        port.owner.revoke();
        // ...and the calls holding it now are in flight: this remove has to wait for them.
        port.removes.fetch_add(1, Ordering::SeqCst);
        if port.owner.count() > 0 {
            port.removes_with_calls_in_flight
                .fetch_add(1, Ordering::SeqCst);
        }
        match port.teardown {
            Teardown::Drain => {
                // No call can enter the slot any more, and the ones in flight are waited for.
                let _ = port.slot.unregister(std::thread::yield_now);
                port.current.store(std::ptr::null_mut(), Ordering::Release);
                // From here on any call of this generation is a violation.
                port.retired.store(entry.generation, Ordering::SeqCst);
                drop(self.trace.take());
                entry.hw.teardown();
            }
            #[cfg(test)]
            Teardown::SkipDrain => {
                port.retired.store(entry.generation, Ordering::SeqCst);
                drop(self.trace.take());
                entry.hw.teardown();
                let _ = port.slot.unregister(std::thread::yield_now);
                port.current.store(std::ptr::null_mut(), Ordering::Release);
            }
        }
        port.quarantine(entry);
    }
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
        let hw = Hw {
            bar: bar.mmio.clone(),
            page: dma.page().clone(),
            iova: dma.iova,
            irq_mode: irq.mode(),
            group: container.group,
            cmd: Mutex::new(()),
            events,
            timeout: opts.timeout,
            guards: Mutex::new(Some(Guards {
                _irq: irq,
                _dma: dma,
                _bar: bar,
                _config: config,
                _device: device,
                _container: container,
            })),
        };
        // Last: clients can call the instant the slot is active, and they need all the above.
        ladder.step(|t| Binding::publish_traced(port, hw, t))
    }

    /// The interrupt mode in use.
    pub fn irq_mode(&self) -> IrqMode {
        self.hw().irq_mode()
    }

    /// Interrupts the service thread has handled.
    pub fn irq_count(&self) -> u64 {
        self.hw().irq_count()
    }

    /// The IOMMU group.
    pub fn group(&self) -> u32 {
        self.hw().group()
    }

    /// The IOVA of the DMA page.
    pub fn iova(&self) -> u64 {
        self.hw().iova()
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
        let port: &Port = Port::new();
        let c = port.client();
        assert!(matches!(c.ident(), Err(Error::NotRegistered)));
        assert!(matches!(c.dma_read(0, 4), Err(Error::NotRegistered)));
        assert!(!port.is_published());
        assert_eq!(port.violations(), 0);
    }

    #[test]
    fn probe_of_a_missing_device_fails_at_step_1() {
        let port: &Port = Port::new();
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
