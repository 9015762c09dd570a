// SPDX-License-Identifier: GPL-2.0

//! The state of one edu device and every operation on it.
//!
//! An [`EduDevice`] is reference counted: the binding, the interrupt handler, every open file and
//! the sysfs lookup each hold a reference, so it can outlive the binding. Everything it reaches
//! on the hardware is revocable: the BAR is a `Devres` (revoked when the binding ends), the DMA
//! buffer is taken out by the binding's teardown, and `gone` turns every later call into
//! `ENODEV`.
//!
//! # Locking
//!
//! - `cmd` (mutex) serialises commands: at most one factorial, liveness check, raise or DMA runs
//!   on a device at a time. It owns the DMA buffer.
//! - `events` (IRQ-safe spinlock) holds the interrupt bits seen by the handler and not yet
//!   consumed; `wake` is signalled under it. Lock order: `cmd`, then `events`.

use crate::{
    irq::Mode,
    regs, //
};
use core::sync::atomic::{
    AtomicBool,
    AtomicU32,
    AtomicU64,
    Ordering, //
};
use kernel::{
    dma::Coherent,
    io::Io,
    new_condvar,
    new_mutex,
    new_spinlock_irq,
    pci,
    prelude::*,
    sync::{
        aref::ARef,
        CondVar,
        CondVarTimeoutResult,
        Mutex,
        SetOnce,
        SpinLockIrq, //
    },
    time::{
        delay::fsleep,
        msecs_to_jiffies,
        Delta, //
    },
    uaccess::UserSlice, //
};

/// BAR0 as the driver maps it: the full 1 MiB, bounds-checked at compile time.
pub(crate) type Bar0 = pci::DevresBar<{ regs::BAR0_SIZE }>;

/// The direction of a DMA transfer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Device buffer to memory (a read).
    ToRam,
    /// Memory to device buffer (a write).
    ToDevice,
}

/// How a command's completion is awaited.
#[derive(Clone, Copy)]
enum Completion {
    /// Polling the status register (before the interrupt is set up).
    Poll,
    /// The device's interrupt.
    Interrupt,
}

/// What the command lock protects.
pub(crate) struct Cmd {
    /// The coherent buffer the DMA engine copies through; `None` before the DMA step of probe and
    /// after its teardown.
    dma: Option<Coherent<[u8]>>,
}

/// Interrupt bits raised by the device and not yet consumed by a waiter.
struct Events {
    pending: u32,
}

/// One edu device.
///
/// # Invariants
///
/// Once `gone` is set it is never cleared, and every operation fails with `ENODEV`.
#[pin_data]
pub(crate) struct EduDevice {
    pdev: ARef<pci::Device>,
    bar: SetOnce<Bar0>,
    #[pin]
    cmd: Mutex<Cmd>,
    #[pin]
    events: SpinLockIrq<Events>,
    #[pin]
    wake: CondVar,
    gone: AtomicBool,
    /// Interrupts this device's handler has handled.
    irq_count: AtomicU64,
    /// `irq::Mode` in use, as `Mode as u32 + 1`; 0 before the interrupt step.
    irq_mode: AtomicU32,
    /// Result of the last factorial written through sysfs, `u64::MAX` if none.
    last_factorial: AtomicU64,
    /// Completion timeout in milliseconds.
    timeout_ms: u32,
}

impl EduDevice {
    /// Creates the state for `pdev`, with nothing of the hardware attached yet.
    pub(crate) fn new(pdev: ARef<pci::Device>, timeout_ms: u32) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            pdev,
            bar: SetOnce::new(),
            cmd <- new_mutex!(Cmd { dma: None }),
            events <- new_spinlock_irq!(Events { pending: 0 }),
            wake <- new_condvar!(),
            gone: AtomicBool::new(false),
            irq_count: AtomicU64::new(0),
            irq_mode: AtomicU32::new(0),
            last_factorial: AtomicU64::new(u64::MAX),
            timeout_ms,
        }? Error)
    }

    /// The PCI device.
    pub(crate) fn pdev(&self) -> &pci::Device {
        &self.pdev
    }

    /// Attaches the mapped BAR0. It stays until the binding ends (`Devres` revokes it).
    pub(crate) fn attach_bar(&self, bar: Bar0) -> Result {
        if self.bar.populate(bar) {
            Ok(())
        } else {
            Err(EBUSY)
        }
    }

    /// Attaches the DMA buffer.
    pub(crate) fn attach_dma(&self, buf: Coherent<[u8]>) {
        self.cmd.lock().dma = Some(buf);
    }

    /// Detaches the DMA buffer, waiting for a running transfer first. A device that never stops
    /// gets its buffer leaked rather than freed under it.
    pub(crate) fn detach_dma(&self) {
        let mut cmd = self.cmd.lock();
        // Only a device that still answers and stays busy may still write the buffer.
        let busy = self.wait_dma_idle() == Err(ETIMEDOUT);
        if let Some(buf) = cmd.dma.take() {
            if busy {
                dev_err!(self.pdev, "DMA engine does not stop; leaking its buffer\n");
                core::mem::forget(buf);
            }
        }
    }

    /// Records the interrupt mode in use.
    pub(crate) fn set_irq_mode(&self, mode: Mode) {
        self.irq_mode.store(mode as u32 + 1, Ordering::Relaxed);
    }

    /// The interrupt mode in use.
    pub(crate) fn irq_mode(&self) -> Option<Mode> {
        match self.irq_mode.load(Ordering::Relaxed) {
            1 => Some(Mode::Msi),
            2 => Some(Mode::Intx),
            _ => None,
        }
    }

    /// Interrupts handled so far.
    pub(crate) fn irq_count(&self) -> u64 {
        self.irq_count.load(Ordering::Relaxed)
    }

    /// Marks the device gone and wakes every waiter: blocked calls return `ENODEV`.
    pub(crate) fn revoke(&self) {
        // INVARIANT: `gone` is only ever set.
        self.gone.store(true, Ordering::SeqCst);
        let _events = self.events.lock();
        self.wake.notify_all();
    }

    /// Whether the device was revoked.
    pub(crate) fn is_gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    /// Runs `f` on BAR0 inside an RCU read section, whether or not the device was revoked:
    /// `f` must not sleep. `None` once the mapping is gone.
    fn bar_access<R>(&self, f: impl FnOnce(&pci::Bar<'_, { regs::BAR0_SIZE }>) -> R) -> Option<R> {
        let guard = self.bar.as_ref()?.try_access()?;
        Some(f(&guard))
    }

    /// Runs `f` on BAR0 for a caller: `ENODEV` once the device was revoked.
    fn with_bar<R>(&self, f: impl FnOnce(&pci::Bar<'_, { regs::BAR0_SIZE }>) -> R) -> Result<R> {
        if self.is_gone() {
            return Err(ENODEV);
        }
        self.bar_access(f).ok_or(ENODEV)
    }

    /// Turns an all-ones read into removal: a vanished device reads all-ones everywhere, while a
    /// live one never returns all-ones from `IDENT`.
    fn check_value(&self, value: u32) -> Result<u32> {
        if value != regs::ALL_ONES {
            return Ok(value);
        }
        if self.with_bar(|b| b.read32(regs::IDENT))? == regs::ALL_ONES {
            dev_err!(self.pdev, "device reads all-ones: treating it as removed\n");
            self.revoke();
            return Err(ENODEV);
        }
        Ok(value)
    }

    /// The identification register.
    pub(crate) fn ident(&self) -> Result<u32> {
        let v = self.with_bar(|b| b.read32(regs::IDENT))?;
        self.check_value(v)
    }

    /// Writes `x` to the liveness register and returns what the device gives back.
    pub(crate) fn liveness(&self, x: u32) -> Result<u32> {
        let _cmd = self.cmd.lock();
        let v = self.with_bar(|b| {
            b.write32(x, regs::LIVENESS);
            b.read32(regs::LIVENESS)
        })?;
        self.check_value(v)
    }

    /// Computes `n!` on the device by polling, for probe-time checks (no interrupt yet).
    pub(crate) fn factorial_polled(&self, n: u32) -> Result<u32> {
        self.compute_factorial(n, Completion::Poll)
    }

    /// Computes `n!` on the device, completed by its interrupt.
    pub(crate) fn factorial(&self, n: u32) -> Result<u32> {
        self.compute_factorial(n, Completion::Interrupt)
    }

    fn compute_factorial(&self, n: u32, how: Completion) -> Result<u32> {
        regs::factorial(n).ok_or(EOVERFLOW)?;
        let _cmd = self.cmd.lock();
        // An interrupted earlier call may have left a computation running.
        self.wait_idle(regs::STATUS, regs::STATUS_COMPUTING)?;
        let status = match how {
            Completion::Poll => 0,
            Completion::Interrupt => {
                self.consume(regs::IRQ_FACTORIAL);
                regs::STATUS_IRQ_ENABLE
            }
        };
        self.with_bar(|b| {
            b.write32(status, regs::STATUS);
            b.write32(n, regs::FACTORIAL);
        })?;
        match how {
            Completion::Poll => self.wait_idle(regs::STATUS, regs::STATUS_COMPUTING)?,
            Completion::Interrupt => self.wait_irq(regs::IRQ_FACTORIAL)?,
        }
        let v = self.with_bar(|b| b.read32(regs::FACTORIAL))?;
        self.check_value(v)
    }

    /// Computes `n!` and remembers it for the sysfs `factorial` file.
    pub(crate) fn store_factorial(&self, n: u32) -> Result {
        let v = self.factorial(n)?;
        self.last_factorial.store(v.into(), Ordering::Relaxed);
        Ok(())
    }

    /// The factorial last computed through sysfs.
    pub(crate) fn last_factorial(&self) -> Option<u32> {
        u32::try_from(self.last_factorial.load(Ordering::Relaxed)).ok()
    }

    /// Raises the device interrupt with `value` and returns once the handler has seen it.
    pub(crate) fn raise(&self, value: u32) -> Result {
        if value == 0 {
            return Err(EINVAL);
        }
        let _cmd = self.cmd.lock();
        self.consume(value);
        self.with_bar(|b| b.write32(value, regs::IRQ_RAISE))?;
        self.wait_irq(value)
    }

    /// Moves up to `len` bytes between `user` and the device buffer at `offset` with the DMA
    /// engine. Returns the number of bytes moved, 0 at or past the end of the buffer.
    pub(crate) fn dma(&self, dir: Dir, user: UserSlice, len: usize, offset: u64) -> Result<usize> {
        let Some(n) = regs::dma_span(offset, len) else {
            return match dir {
                Dir::ToRam => Ok(0),
                Dir::ToDevice => Err(ENOSPC),
            };
        };
        if n == 0 {
            return Ok(0);
        }
        let cmd = self.cmd.lock();
        let buf = cmd.dma.as_ref().ok_or(ENODEV)?;
        let (mut from_user, mut to_user) = user.reader_writer();
        if dir == Dir::ToDevice {
            // SAFETY: The engine is idle (every command is waited for under `cmd`, which we
            // hold) and nobody else maps the buffer, so this is its only user until the command
            // below starts.
            from_user.read_slice(&mut unsafe { buf.as_mut() }[..n])?;
        }
        let (src, dst, flags) = match dir {
            Dir::ToDevice => (buf.dma_address(), regs::DMA_BUF_ADDR + offset, 0),
            Dir::ToRam => (
                regs::DMA_BUF_ADDR + offset,
                buf.dma_address(),
                regs::DMA_CMD_TO_RAM,
            ),
        };
        // The engine takes 32-bit writes to its 64-bit registers (zero-extended), and with the
        // 28-bit DMA mask every address fits.
        let src = u32::try_from(src).map_err(|_| EINVAL)?;
        let dst = u32::try_from(dst).map_err(|_| EINVAL)?;
        self.consume(regs::IRQ_DMA);
        self.with_bar(|b| {
            b.write32(src, regs::DMA_SRC);
            b.write32(dst, regs::DMA_DST);
            b.write32(n as u32, regs::DMA_COUNT);
            b.write32(
                regs::DMA_CMD_START | regs::DMA_CMD_IRQ | flags,
                regs::DMA_CMD,
            );
        })?;
        if let Err(e) = self.wait_irq(regs::IRQ_DMA) {
            // Never hand the buffer to the next caller while the engine may still write it.
            if self.wait_dma_idle().is_err() {
                dev_err!(self.pdev, "DMA engine stuck: giving the device up\n");
                self.revoke();
            }
            return Err(e);
        }
        if dir == Dir::ToRam {
            // SAFETY: The transfer has completed and the engine is idle; we hold `cmd`.
            to_user.write_slice(&unsafe { buf.as_ref() }[..n])?;
        }
        Ok(n)
    }

    /// Polls the DMA command register until the engine is idle.
    fn wait_dma_idle(&self) -> Result {
        self.wait_idle(regs::DMA_CMD, regs::DMA_CMD_START)
    }

    /// Polls register `reg` until `busy` clears, sleeping between reads, up to the timeout.
    ///
    /// Works after [`Self::revoke`] too, for teardown; `ENODEV` if the BAR is gone or the device
    /// reads all-ones.
    fn wait_idle(&self, reg: usize, busy: u32) -> Result {
        let mut waited = 0;
        loop {
            let v = self.bar_access(|b| b.try_read32(reg)).ok_or(ENODEV)??;
            if v == regs::ALL_ONES {
                return Err(ENODEV);
            }
            if v & busy == 0 {
                return Ok(());
            }
            if waited >= self.timeout_ms {
                return Err(ETIMEDOUT);
            }
            fsleep(Delta::from_millis(1));
            waited += 1;
        }
    }

    /// Forgets interrupt bits `bits` left over from an earlier, abandoned command.
    fn consume(&self, bits: u32) {
        self.events.lock().pending &= !bits;
    }

    /// Waits until the handler has seen all of `bits`, consuming them.
    ///
    /// Fails with `ENODEV` if the device goes away, `ETIMEDOUT` after the timeout and `EINTR` on
    /// a signal.
    fn wait_irq(&self, bits: u32) -> Result {
        let mut left = msecs_to_jiffies(self.timeout_ms);
        let mut events = self.events.lock();
        loop {
            if self.is_gone() {
                return Err(ENODEV);
            }
            if events.pending & bits == bits {
                events.pending &= !bits;
                return Ok(());
            }
            match self.wake.wait_interruptible_timeout(&mut events, left) {
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                CondVarTimeoutResult::Signal { .. } => return Err(EINTR),
                CondVarTimeoutResult::Timeout => {
                    return if events.pending & bits == bits {
                        events.pending &= !bits;
                        Ok(())
                    } else {
                        Err(ETIMEDOUT)
                    };
                }
            }
        }
    }

    /// The interrupt handler: acknowledges what the device raised and wakes the waiters.
    /// Returns whether the interrupt was this device's.
    pub(crate) fn handle_irq(&self) -> bool {
        // Acknowledge even after `revoke`: a shared INTx line left asserted would storm.
        let Some(status) = self.bar_access(|b| {
            let status = b.read32(regs::IRQ_STATUS);
            if status != 0 && status != regs::ALL_ONES {
                b.write32(status, regs::IRQ_ACK);
            }
            status
        }) else {
            return false;
        };
        // Zero: another device on a shared line. All-ones: the device is gone; process context
        // notices on its next access.
        if status == 0 || status == regs::ALL_ONES {
            return false;
        }
        self.irq_count.fetch_add(1, Ordering::Relaxed);
        let mut events = self.events.lock();
        events.pending |= status;
        self.wake.notify_all();
        drop(events);
        crate::listener::dispatch(status);
        true
    }
}
