// SPDX-License-Identifier: GPL-2.0

//! One bound edu device, as open files, sysfs and the interrupt handler see it.
//!
//! An [`EduDevice`] is fully built by probe before anything can reach it: the BAR, the DMA
//! buffer (or its absence: probe goes on without one) and the interrupt mode are fields, never
//! "not yet". It is reference counted, so an open file can outlive the binding; what it reaches
//! of the hardware is revocable, and the binding's teardown revokes it in ladder order (see
//! `edu_main.rs`).
//!
//! # Commands and revocation
//!
//! Every command (liveness, factorial, raise, DMA) runs inside the *command slot*
//! ([`EduDevice::command`]): one at a time per device. The slot is the one revocation point for
//! process context. It opens when probe publishes the device and closes for good when
//! [`EduDevice::revoke`] runs, which also wakes every waiter and waits until the command in
//! flight has left. Waiting for the slot, for an interrupt or for the engine honours signals
//! (`ERESTARTSYS`) and revocation (`ENODEV`), so nobody can make teardown wait without bound. No
//! user memory is touched inside the slot.
//!
//! # Completions
//!
//! The interrupt handler records the bits it acknowledged in `pending` and wakes the waiters.
//! Those bits only say "look again": an interrupt of an abandoned command can arrive late, so a
//! command is complete only when the hardware says its unit is idle.
//!
//! # Locking
//!
//! `state` (IRQ-safe spinlock) holds the slot, the life cycle and the pending bits; `wake` is
//! signalled under it. It is never held across a sleep other than the condition variable's own.

use crate::{
    cshim::IrqContext,
    hw::{
        self,
        Bar,
        Dir, //
    },
    irq::Mode,
    regs, //
};
use kernel::{
    dma::Coherent,
    io::{
        poll::read_poll_timeout,
        Io, //
    },
    new_condvar,
    new_spinlock_irq,
    pci,
    prelude::*,
    revocable::Revocable,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        CondVar,
        CondVarTimeoutResult,
        SpinLockIrq, //
    },
    time::{
        msecs_to_jiffies,
        Delta,
        Instant,
        Monotonic, //
    }, //
};

/// The mapped BAR0, revoked by the driver core when the binding ends.
pub(crate) type DevresBar = pci::DevresBar<{ regs::BAR0_SIZE }>;

/// Where a device is in its life.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Built by probe, not yet reachable by callers.
    Dormant,
    /// Published: commands run.
    Live,
    /// Revoked (unbind, failed probe, or the device vanished): every call fails with `ENODEV`.
    Gone,
}

/// What `state` protects.
struct State {
    life: Life,
    /// A command holds the slot.
    busy: bool,
    /// Interrupt bits acknowledged by the handler and not consumed by a waiter.
    pending: u32,
}

/// One edu device.
///
/// # Invariants
///
/// - `life` only moves forward: `Dormant`, `Live`, `Gone`.
/// - While `busy` is set, exactly one [`Command`] exists, and only it programs the device.
#[pin_data]
pub(crate) struct EduDevice {
    pdev: ARef<pci::Device>,
    bar: DevresBar,
    /// The coherent buffer the DMA engine copies through; revoked (and freed) by the bus-master
    /// step's undo, after bus mastering is off. `None` if probe went on without it (the step is
    /// optional): then `pread`/`pwrite` fail with `EOPNOTSUPP` and everything else works.
    #[pin]
    dma: Revocable<Option<Coherent<[u8]>>>,
    mode: Mode,
    #[pin]
    state: SpinLockIrq<State>,
    #[pin]
    wake: CondVar,
    /// Interrupts this device's handler has handled.
    irq_count: Atomic<u64>,
    /// Result of the last factorial written through sysfs, `u64::MAX` if none.
    last_factorial: Atomic<u64>,
    /// How long a command may take.
    timeout: Delta,
}

/// The command slot, held: the one command running on the device. Dropping it frees the slot.
pub(crate) struct Command<'a> {
    dev: &'a EduDevice,
}

impl Drop for Command<'_> {
    fn drop(&mut self) {
        let mut st = self.dev.state.lock();
        st.busy = false;
        self.dev.wake.notify_all();
    }
}

/// Fails with `ERESTARTSYS` if the current task has a signal pending.
fn check_signal() -> Result {
    if kernel::current!().signal_pending() {
        Err(ERESTARTSYS)
    } else {
        Ok(())
    }
}

impl EduDevice {
    /// The state of a device whose hardware probe has set up: BAR, DMA buffer, interrupt mode.
    pub(crate) fn new(
        pdev: ARef<pci::Device>,
        bar: DevresBar,
        dma: Option<Coherent<[u8]>>,
        mode: Mode,
        timeout_ms: u32,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            pdev,
            bar,
            dma <- Revocable::new(dma),
            mode,
            state <- new_spinlock_irq!(State {
                life: Life::Dormant,
                busy: false,
                pending: 0,
            }),
            wake <- new_condvar!(),
            irq_count: Atomic::new(0),
            last_factorial: Atomic::new(u64::MAX),
            timeout: Delta::from_millis(timeout_ms.into()),
        }? Error)
    }

    /// The PCI device.
    pub(crate) fn pdev(&self) -> &pci::Device {
        &self.pdev
    }

    /// The interrupt mode in use.
    pub(crate) fn irq_mode(&self) -> Mode {
        self.mode
    }

    /// Runs `f` on the DMA buffer inside the RCU section that guards it: `ENODEV` once revoked,
    /// `EOPNOTSUPP` for a device probed without a buffer.
    fn with_dma_buffer<R>(&self, f: impl FnOnce(&Coherent<[u8]>) -> R) -> Result<R> {
        self.dma
            .try_access_with(|buf| buf.as_ref().map(f).ok_or(EOPNOTSUPP))
            .unwrap_or(Err(ENODEV))
    }

    /// Interrupts handled so far.
    pub(crate) fn irq_count(&self) -> u64 {
        self.irq_count.load(Relaxed)
    }

    /// Opens the command slot: from now on callers reach the device.
    pub(crate) fn publish(&self) {
        let mut st = self.state.lock();
        if st.life == Life::Dormant {
            // INVARIANT: `Dormant` to `Live` is forward.
            st.life = Life::Live;
        }
    }

    /// Closes the command slot for good: wakes every waiter (they return `ENODEV`) and waits
    /// until the command in flight, if any, has left. Afterwards no caller touches the device.
    pub(crate) fn revoke(&self) {
        let mut st = self.state.lock();
        // INVARIANT: `Gone` is the last state.
        st.life = Life::Gone;
        self.wake.notify_all();
        while st.busy {
            // Every wait in a command sees `Gone` and leaves; sleeps inside one are 1 ms polls.
            self.wake.wait(&mut st);
        }
    }

    /// Whether the device has a DMA buffer (probe goes on without one).
    pub(crate) fn has_dma(&self) -> bool {
        self.with_dma_buffer(|_| ()) != Err(EOPNOTSUPP)
    }

    /// Whether callers may use the device; `ENODEV` once revoked (or before publication).
    pub(crate) fn check_live(&self) -> Result {
        if self.state.lock().life == Life::Live {
            Ok(())
        } else {
            Err(ENODEV)
        }
    }

    /// Marks the device gone without waiting: for a device that vanished under a command.
    fn vanished(&self) {
        dev_err!(self.pdev, "device reads all-ones: treating it as removed\n");
        let mut st = self.state.lock();
        st.life = Life::Gone;
        self.wake.notify_all();
    }

    /// Takes the command slot, waiting for the command in flight. Fails with `ENODEV` once the
    /// device is revoked and `ERESTARTSYS` on a signal.
    pub(crate) fn command(&self) -> Result<Command<'_>> {
        let mut st = self.state.lock();
        loop {
            if st.life != Life::Live {
                return Err(ENODEV);
            }
            if !st.busy {
                // INVARIANT: The slot was free; this is now the only command.
                st.busy = true;
                return Ok(Command { dev: self });
            }
            if self.wake.wait_interruptible(&mut st) {
                return Err(ERESTARTSYS);
            }
        }
    }

    /// Runs `f` on BAR0 inside the RCU section that guards it: `f` must not sleep. `ENODEV` once
    /// the mapping is gone, or when `f` finds the device vanished.
    fn with_bar<R>(&self, f: impl FnOnce(&Bar<'_>) -> Result<R>) -> Result<R> {
        let r = match self.bar.try_access() {
            Some(bar) => f(&bar),
            None => Err(ENODEV),
        };
        if r.is_err()
            && self.bar.try_access().map(|b| hw::read(&*b, regs::IDENT)) == Some(Err(ENODEV))
        {
            self.vanished();
        }
        r
    }

    /// Runs `f` on BAR0 for the device's teardown, outside any RCU section: the binding is still
    /// alive, so the mapping is too. `f` may sleep.
    pub(crate) fn with_bound_bar<R>(
        &self,
        pdev: &pci::Device<kernel::device::Bound>,
        f: impl FnOnce(&Bar<'_>) -> R,
    ) -> Result<R> {
        Ok(f(self.bar.access(pdev.as_ref())?))
    }

    /// The identification register.
    pub(crate) fn ident(&self) -> Result<u32> {
        self.check_live()?;
        self.with_bar(|b| hw::read(b, regs::IDENT))
    }

    /// Writes `x` to the liveness register and returns what the device gives back.
    pub(crate) fn liveness(&self, x: u32) -> Result<u32> {
        let _cmd = self.command()?;
        // `!0` is a correct answer to 0, so all-ones alone does not mean the device vanished.
        self.with_bar(|b| {
            b.try_write32(x, regs::LIVENESS)?;
            let v = b.try_read32(regs::LIVENESS)?;
            if v == regs::ALL_ONES && x != 0 {
                hw::read(b, regs::IDENT)?;
            }
            Ok(v)
        })
    }

    /// Computes `n!` on the device, completed by its interrupt.
    pub(crate) fn factorial(&self, n: u32) -> Result<u32> {
        regs::factorial(n).ok_or(EOVERFLOW)?;
        let _cmd = self.command()?;
        let deadline = self.deadline();
        // A command abandoned by a signal or a timeout may have left the unit running.
        self.poll_idle(hw::factorial_busy, deadline)?;
        self.consume(regs::IRQ_FACTORIAL);
        self.with_bar(|b| hw::start_factorial(b, n, true))?;
        self.wait_done(regs::IRQ_FACTORIAL, hw::factorial_busy, deadline)?;
        self.with_bar(|b| hw::read(b, regs::FACTORIAL))
    }

    /// Computes `n!` and remembers it for the sysfs `factorial` file.
    pub(crate) fn store_factorial(&self, n: u32) -> Result {
        let v = self.factorial(n)?;
        self.last_factorial.store(v.into(), Relaxed);
        Ok(())
    }

    /// The factorial last computed through sysfs.
    pub(crate) fn last_factorial(&self) -> Option<u32> {
        u32::try_from(self.last_factorial.load(Relaxed)).ok()
    }

    /// Raises the device interrupt with `value` and returns once the handler has seen it.
    ///
    /// `EINVAL` for 0 and for values that overlap the completion bits of the factorial and the
    /// DMA engine: a raised completion would be mistaken for a real one.
    pub(crate) fn raise(&self, value: u32) -> Result {
        if value == 0 || value & (regs::IRQ_FACTORIAL | regs::IRQ_DMA) != 0 {
            return Err(EINVAL);
        }
        let _cmd = self.command()?;
        self.consume(value);
        self.with_bar(|b| b.try_write32(value, regs::IRQ_RAISE))?;
        if self.wait_irq(value, self.deadline())? {
            Ok(())
        } else {
            Err(ETIMEDOUT)
        }
    }

    /// Moves `data.len()` bytes (a span from [`regs::dma_span`]) between `data` and the device
    /// buffer at `offset` with the DMA engine. `data` is a kernel buffer: the caller copies from
    /// and to user memory outside the command slot. `EOPNOTSUPP` without a DMA buffer.
    pub(crate) fn dma(&self, dir: Dir, data: &mut [u8], offset: u64) -> Result {
        let n = u32::try_from(data.len()).map_err(|_| EINVAL)?;
        // A device without a buffer fails at once, without queueing for the slot.
        self.with_dma_buffer(|_| ())?;
        let _cmd = self.command()?;
        let deadline = self.deadline();
        // Never program an engine that is still running an abandoned transfer.
        self.poll_idle(hw::dma_busy, deadline)?;
        let addr = self.with_dma_buffer(|buf| {
            if dir == Dir::ToDevice {
                // SAFETY: The engine is idle (polled above, with the slot held, so nobody starts
                // it) and the buffer is not mapped anywhere else.
                let dst = unsafe { buf.as_mut() };
                dst[..data.len()].copy_from_slice(data);
            }
            buf.dma_address()
        })?;
        self.consume(regs::IRQ_DMA);
        self.with_bar(|b| hw::start_dma(b, dir, addr, offset, n))?;
        // On an error the engine may still run; the next command polls it idle first, and
        // teardown turns bus mastering off before the buffer is freed.
        self.wait_done(regs::IRQ_DMA, hw::dma_busy, deadline)?;
        if dir == Dir::ToRam {
            self.with_dma_buffer(|buf| {
                // SAFETY: The transfer has completed and the engine is idle; we hold the slot, so
                // nobody starts it again while we copy.
                let src = unsafe { buf.as_ref() };
                data.copy_from_slice(&src[..data.len()]);
            })?;
        }
        Ok(())
    }

    /// Turns the device's interrupt sources off, lets the units finish and acknowledges
    /// everything pending: after this the device raises no interrupt. For teardown; the command
    /// slot is closed by now.
    pub(crate) fn quiesce(&self, pdev: &pci::Device<kernel::device::Bound>) {
        let r = self.with_bound_bar(pdev, |b| {
            let _ = hw::interrupts_off(b);
            // A transfer takes 100 ms; give a slow device the whole timeout, then acknowledge
            // whatever it raised. A vanished device reads as idle (all-ones is `ENODEV`).
            let busy = || hw::factorial_busy(b) == Ok(true) || hw::dma_busy(b) == Ok(true);
            let idle = read_poll_timeout(
                || Ok(busy()),
                |busy| !busy,
                Delta::from_millis(1),
                self.timeout,
            );
            hw::ack(b);
            idle.is_err()
        });
        if r == Ok(true) {
            dev_warn!(self.pdev, "device still busy at teardown\n");
        }
    }

    /// The deadline of a command that starts now.
    fn deadline(&self) -> Instant<Monotonic> {
        Instant::<Monotonic>::now() + self.timeout
    }

    /// Polls until `busy` says the unit is idle, sleeping 1 ms between reads. `ETIMEDOUT` at
    /// `deadline`; `ENODEV` and `ERESTARTSYS` as for [`Self::command`], checked before every read.
    fn poll_idle(
        &self,
        busy: fn(&dyn hw::Regs) -> Result<bool>,
        deadline: Instant<Monotonic>,
    ) -> Result {
        read_poll_timeout(
            || {
                self.check_live()?;
                check_signal()?;
                self.with_bar(|b| busy(b))
            },
            |busy| !busy,
            Delta::from_millis(1),
            deadline - Instant::<Monotonic>::now(),
        )
        .map(|_| ())
    }

    /// Waits for the interrupt `bit`, then trusts only the hardware: a wake-up whose unit is
    /// still busy came from an earlier, abandoned command, and the wait goes on. A slow device
    /// is not given up: on `ETIMEDOUT` it stays usable, and the next command waits for it first.
    fn wait_done(
        &self,
        bit: u32,
        busy: fn(&dyn hw::Regs) -> Result<bool>,
        deadline: Instant<Monotonic>,
    ) -> Result {
        loop {
            let woken = self.wait_irq(bit, deadline)?;
            if !self.with_bar(|b| busy(b))? {
                return Ok(());
            }
            if !woken {
                return Err(ETIMEDOUT);
            }
        }
    }

    /// Forgets interrupt bits `bits` left over from an earlier, abandoned command.
    fn consume(&self, bits: u32) {
        self.state.lock().pending &= !bits;
    }

    /// Waits until the handler has seen all of `bits` (consuming them) or `deadline` passes.
    /// Returns whether the bits came. `ENODEV` when the device is revoked, `ERESTARTSYS` on a
    /// signal.
    fn wait_irq(&self, bits: u32, deadline: Instant<Monotonic>) -> Result<bool> {
        let mut st = self.state.lock();
        loop {
            if st.life != Life::Live {
                return Err(ENODEV);
            }
            if st.pending & bits == bits {
                st.pending &= !bits;
                return Ok(true);
            }
            let left = deadline - Instant::<Monotonic>::now();
            if left <= Delta::ZERO {
                return Ok(false);
            }
            let ms = u32::try_from(left.as_millis().max(1)).unwrap_or(u32::MAX);
            match self
                .wake
                .wait_interruptible_timeout(&mut st, msecs_to_jiffies(ms))
            {
                CondVarTimeoutResult::Signal { .. } => return Err(ERESTARTSYS),
                CondVarTimeoutResult::Woken { .. } | CondVarTimeoutResult::Timeout => {}
            }
        }
    }

    /// The interrupt handler: acknowledges what the device raised and wakes the waiters.
    /// Returns whether the interrupt was this device's.
    pub(crate) fn handle_irq(&self, irq: &IrqContext) -> bool {
        // Acknowledge after `revoke` too: a shared INTx line left asserted would storm. The
        // quiesce step runs before the handler is freed, so nothing is raised after that.
        let Some(status) = self.bar.try_access().map(|b| hw::ack(&*b)) else {
            return false;
        };
        // Zero: another device on a shared line. All-ones: the device is gone; process context
        // notices on its next access.
        if status == 0 || status == regs::ALL_ONES {
            return false;
        }
        self.irq_count.fetch_add(1, Relaxed);
        let mut st = self.state.lock();
        st.pending |= status;
        self.wake.notify_all();
        drop(st);
        crate::listener::dispatch(irq, status);
        true
    }
}

/// The right to free a device's DMA buffer: dropping it revokes the buffer, waiting for an RCU
/// grace period so that no copy into or out of it is still running, and frees it. Probe's
/// bus-mastering step holds it behind the guard that turns bus mastering off.
pub(crate) struct DmaBufferOwner(Arc<EduDevice>);

impl DmaBufferOwner {
    /// Takes over the freeing of `dev`'s DMA buffer.
    pub(crate) fn new(dev: &Arc<EduDevice>) -> Self {
        Self(dev.clone())
    }
}

impl Drop for DmaBufferOwner {
    fn drop(&mut self) {
        self.0.dma.revoke();
    }
}
