// SPDX-License-Identifier: GPL-2.0

//! Probe step 6: the interrupt eventfd on the chosen VFIO index (MSI or INTx) and the service
//! thread that handles it, the rig's interrupt handler.
//!
//! The thread waits on three eventfds: the device interrupt, the request interrupt (vfio-pci
//! asking for the device back) and a stop eventfd. On a device interrupt it reads the interrupt
//! status, acknowledges exactly those bits at [`regs::IRQ_ACK`], unmasks INTx (VFIO masks it
//! automatically when it fires; the line is low again once acked) and posts the bits to
//! [`Events`], where the operation waiting for them picks them up.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vfio_bindings::bindings::vfio::{VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX};
use vfio_ioctls::VfioDevice;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use edu_regs::regs;

use crate::error::{Error, Result};
use crate::ladder::StepTrace;
use crate::sys::{self, Mmio};
use crate::vfio::Device;

/// How the device interrupts the rig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqMode {
    /// Message-signalled, one vector; no unmask needed.
    Msi,
    /// The legacy pin, auto-masked by VFIO: acknowledge then unmask.
    Intx,
}

impl IrqMode {
    /// `msi` or `intx`.
    pub fn name(self) -> &'static str {
        match self {
            IrqMode::Msi => "msi",
            IrqMode::Intx => "intx",
        }
    }

    /// Parses `msi` or `intx`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "msi" => Ok(IrqMode::Msi),
            "intx" => Ok(IrqMode::Intx),
            _ => Err(Error::Invalid("--irq takes msi or intx")),
        }
    }

    fn index(self) -> u32 {
        match self {
            IrqMode::Msi => VFIO_PCI_MSI_IRQ_INDEX,
            IrqMode::Intx => VFIO_PCI_INTX_IRQ_INDEX,
        }
    }
}

/// Interrupt bits seen by the service thread and not yet consumed, and the request flag.
#[derive(Debug, Default)]
pub struct Events {
    pending: AtomicU32,
    count: AtomicU64,
    requested: AtomicBool,
    gone: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Events {
    fn notify(&self) {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.cv.notify_all();
    }

    fn post(&self, bits: u32) {
        self.pending.fetch_or(bits, Ordering::SeqCst);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.notify();
    }

    fn set_gone(&self) {
        self.gone.store(true, Ordering::SeqCst);
        self.notify();
    }

    fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.notify();
    }

    /// Interrupts handled so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether vfio-pci asked for the device back.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Whether the device was found gone (all-ones).
    pub fn gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    /// Forgets `bits` left over from an earlier, abandoned command.
    pub fn consume(&self, bits: u32) {
        self.pending.fetch_and(!bits, Ordering::SeqCst);
    }

    fn take(&self, bits: u32) -> bool {
        if self.pending.load(Ordering::SeqCst) & bits == bits {
            self.pending.fetch_and(!bits, Ordering::SeqCst);
            true
        } else {
            false
        }
    }

    /// Waits until all of `bits` were posted, consuming them.
    pub fn wait(&self, bits: u32, timeout: Duration, what: &'static str) -> Result<()> {
        // Spin first, for up to SPIN: the service thread usually answers within tens of
        // microseconds, and a futex sleep/wake pair costs more than that under TCG.
        const SPIN: Duration = Duration::from_micros(100);
        let start = Instant::now();
        let mut i = 0u32;
        loop {
            if self.take(bits) {
                return Ok(());
            }
            i = i.wrapping_add(1);
            if i % 64 == 0 && start.elapsed() >= SPIN {
                break;
            }
            std::hint::spin_loop();
        }
        let deadline = start + timeout;
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.take(bits) {
                return Ok(());
            }
            if self.gone() {
                return Err(Error::Gone);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout(what));
            }
            g = self
                .cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits up to `timeout` for the request interrupt; returns whether it came.
    pub fn wait_request(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.requested() || self.gone() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            g = self
                .cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Step 6: the interrupt eventfd enabled on the chosen index and its service thread.
pub struct Irq {
    mode: IrqMode,
    vfio: Arc<VfioDevice>,
    stop: Arc<EventFd>,
    thread: Option<JoinHandle<()>>,
    _trace: StepTrace,
}

impl Irq {
    /// Enables `mode` on the device with a fresh eventfd and starts the service thread.
    pub fn start(
        mode: IrqMode,
        device: &Device,
        bar: &Arc<Mmio>,
        events: &Arc<Events>,
        trace: StepTrace,
    ) -> Result<Self> {
        let vfio = device.vfio.clone();
        match vfio.get_irq_info(mode.index()) {
            Some(info) if info.count >= 1 => {}
            _ => return Err(Error::Invalid("the device has no such interrupt")),
        }
        let efd = EventFd::new(EFD_NONBLOCK).map_err(|e| Error::io("eventfd", e))?;
        let stop = Arc::new(EventFd::new(EFD_NONBLOCK).map_err(|e| Error::io("eventfd", e))?);
        if mode == IrqMode::Msi {
            // VFIO refuses MSI while INTx is enabled: disable INTx first. Right after open no
            // interrupt is enabled and this fails with EINVAL, which is fine.
            let _ = vfio.disable_irq(VFIO_PCI_INTX_IRQ_INDEX);
        }
        vfio.enable_irq(mode.index(), vec![&efd])
            .map_err(|e| Error::vfio("enable the device interrupt", e))?;
        // From here on, Drop disables the interrupt.
        let mut irq = Self {
            mode,
            vfio: vfio.clone(),
            stop: stop.clone(),
            thread: None,
            _trace: trace,
        };
        let (bar, events, req) = (bar.clone(), events.clone(), device.req.clone());
        let thread = std::thread::Builder::new()
            .name("edu-rig-irq".into())
            .spawn(move || service(mode, &vfio, &bar, &efd, &req, &stop, &events))
            .map_err(|e| Error::io("start the interrupt thread", e))?;
        irq.thread = Some(thread);
        Ok(irq)
    }

    /// The interrupt mode in use.
    pub fn mode(&self) -> IrqMode {
        self.mode
    }
}

impl Drop for Irq {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            // If the write fails the thread is stuck in poll forever: better to hang here
            // visibly than to free what it uses.
            let _ = self.stop.write(1);
            let _ = t.join();
        }
        let _ = self.vfio.disable_irq(self.mode.index());
    }
}

/// The service thread: the rig's interrupt handler.
fn service(
    mode: IrqMode,
    vfio: &VfioDevice,
    bar: &Mmio,
    efd: &EventFd,
    req: &EventFd,
    stop: &EventFd,
    events: &Events,
) {
    use std::os::fd::AsRawFd;
    let fds = [efd.as_raw_fd(), req.as_raw_fd(), stop.as_raw_fd()];
    loop {
        let ready = match sys::poll_readable(&fds, -1) {
            Ok(ready) => ready,
            Err(e) => {
                log::error!("interrupt thread: poll failed, taking the device as gone: {e}");
                events.set_gone();
                return;
            }
        };
        if ready[2] {
            return;
        }
        if ready[0] {
            let _ = efd.read();
            let status = bar.read32(regs::IRQ_STATUS);
            if status == regs::ALL_ONES && bar.read32(regs::IDENT) == regs::ALL_ONES {
                events.set_gone();
            } else if status != 0 {
                bar.write32(regs::IRQ_ACK, status);
                events.post(status);
            }
            if mode == IrqMode::Intx {
                if let Err(e) = vfio.unmask_irq(VFIO_PCI_INTX_IRQ_INDEX) {
                    // The line stays masked: waiters will time out. Say why.
                    log::error!("interrupt thread: INTx unmask failed: {e}");
                }
            }
        }
        if ready[1] {
            let _ = req.read();
            events.request();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_wait_and_consume() {
        let e = Arc::new(Events::default());
        e.post(0x1);
        assert!(e.wait(0x1, Duration::from_millis(10), "x").is_ok());
        assert!(matches!(
            e.wait(0x1, Duration::from_millis(10), "x"),
            Err(Error::Timeout("x"))
        ));
        let e2 = e.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            e2.post(0x100 | 0x1);
        });
        assert!(e.wait(0x100, Duration::from_secs(5), "x").is_ok());
        t.join().unwrap();
        e.consume(0x1);
        assert!(e.wait(0x1, Duration::from_millis(5), "x").is_err());
        assert!(!e.wait_request(Duration::from_millis(1)));
        e.request();
        assert!(e.wait_request(Duration::from_millis(1)));
        assert_eq!(IrqMode::parse("intx").unwrap(), IrqMode::Intx);
        assert!(IrqMode::parse("msix").is_err());
    }
}
