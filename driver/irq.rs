// SPDX-License-Identifier: GPL-2.0

//! Interrupt vectors and the interrupt handler registration.
//!
//! The kernel crate's `IrqVectorRegistration` lends its vectors only to borrowers of itself, so
//! it cannot sit beside the handler it feeds in one driver struct. These two small types keep the
//! same guarantees with owned values: [`Vectors::request`] consumes the vectors into the
//! [`Interrupt`] registration, which frees the handler before them, and the registration holds a
//! strong reference to the device state its handler runs on.

use crate::{
    cshim::IrqContext,
    device::EduDevice, //
};
use core::ptr::from_ref;
use kernel::{
    bindings,
    device::Bound,
    pci,
    prelude::*,
    str::CString,
    sync::Arc, //
};

/// How the device interrupts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// One MSI vector.
    Msi,
    /// Legacy INTx, possibly shared with other devices.
    Intx,
}

impl Mode {
    /// Name used in sysfs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Msi => "msi",
            Mode::Intx => "intx",
        }
    }
}

fn raw_pdev(pdev: &pci::Device<Bound>) -> *mut bindings::pci_dev {
    // CAST: `pci::Device` is a transparent wrapper of `struct pci_dev`.
    from_ref(pdev).cast_mut().cast()
}

/// One allocated interrupt vector of a PCI device.
///
/// # Invariants
///
/// `pdev` has an allocation of interrupt vectors from `pci_alloc_irq_vectors`, of type `mode`,
/// whose vector 0 is `irq`, until `self` is dropped.
pub(crate) struct Vectors<'bound> {
    pdev: &'bound pci::Device<Bound>,
    irq: u32,
    mode: Mode,
}

impl<'bound> Vectors<'bound> {
    /// Allocates one vector, trying the modes in `modes` in order.
    pub(crate) fn alloc(pdev: &'bound pci::Device<Bound>, modes: &[Mode]) -> Result<Self> {
        let mut err = EINVAL;
        for &mode in modes {
            let flags = match mode {
                Mode::Msi => bindings::PCI_IRQ_MSI,
                Mode::Intx => bindings::PCI_IRQ_INTX,
            };
            // SAFETY: `pdev` is a bound PCI device.
            let ret = unsafe { bindings::pci_alloc_irq_vectors(raw_pdev(pdev), 1, 1, flags) };
            if ret < 0 {
                err = Error::from_errno(ret);
                continue;
            }
            // SAFETY: Vector 0 was just allocated.
            let irq = unsafe { bindings::pci_irq_vector(raw_pdev(pdev), 0) };
            if irq < 0 {
                // SAFETY: The vectors were just allocated.
                unsafe { bindings::pci_free_irq_vectors(raw_pdev(pdev)) };
                return Err(Error::from_errno(irq));
            }
            // INVARIANT: The vectors were allocated with `flags`, vector 0 is `irq`.
            return Ok(Self {
                pdev,
                irq: irq as u32,
                mode,
            });
        }
        Err(err)
    }

    /// The interrupt type that was allocated.
    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }
}

impl Drop for Vectors<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, `pdev` has allocated vectors.
        unsafe { bindings::pci_free_irq_vectors(raw_pdev(self.pdev)) };
    }
}

impl<'bound> Vectors<'bound> {
    /// Requests vector 0 for `dev`, named `name` in `/proc/interrupts`, and gives the vectors to
    /// the registration, which frees the handler before them: the compiler keeps that order. On
    /// failure the vectors are freed too. The handler may run before this returns (a shared INTx
    /// line, or `CONFIG_DEBUG_SHIRQ`), so `dev` must be complete already.
    pub(crate) fn request(self, dev: Arc<EduDevice>, name: CString) -> Result<Interrupt<'bound>> {
        // CAST: `IRQF_*` are small `u32` flags; `request_irq` takes them as `unsigned long`.
        let flags = match self.mode {
            Mode::Intx => bindings::IRQF_SHARED as c_ulong,
            Mode::Msi => 0,
        };
        let cookie = Arc::into_raw(dev);
        // SAFETY: `handle` matches `irq_handler_t`; `cookie` and `name` (a heap string that does
        // not move with `Interrupt`) stay valid until `free_irq` in `drop` has returned, after
        // which no handler runs and the IRQ core has forgotten the name.
        let ret = unsafe {
            bindings::request_irq(
                self.irq,
                Some(handle),
                flags,
                name.as_char_ptr(),
                cookie.cast_mut().cast(),
            )
        };
        if ret != 0 {
            // SAFETY: `cookie` came from `Arc::into_raw` above and was not registered.
            drop(unsafe { Arc::from_raw(cookie) });
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: The handler is registered on vector 0 of `vectors` with `cookie`.
        Ok(Interrupt {
            cookie,
            _name: name,
            vectors: self,
        })
    }
}

/// A requested interrupt line whose handler is [`EduDevice::handle_irq`], with the vectors it
/// runs on.
///
/// # Invariants
///
/// `cookie` comes from `Arc::into_raw` and is the `dev_id` of a handler registered on
/// `vectors.irq` under the name `_name`; the handler is freed in `drop`, before `vectors` (a
/// field, dropped after `drop` returns) frees the vectors.
pub(crate) struct Interrupt<'bound> {
    cookie: *const EduDevice,
    /// The name in `/proc/interrupts`; the IRQ core keeps a pointer to it.
    _name: CString,
    vectors: Vectors<'bound>,
}

// SAFETY: The registration can be released from any thread; the cookie is an `Arc`.
unsafe impl Send for Interrupt<'_> {}
// SAFETY: `Interrupt` offers no method through `&self`.
unsafe impl Sync for Interrupt<'_> {}

impl Drop for Interrupt<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the handler is registered with this cookie. `free_irq`
        // waits for running handlers, so none runs once it returns.
        unsafe { bindings::free_irq(self.vectors.irq, self.cookie.cast_mut().cast()) };
        // SAFETY: By the type invariant `cookie` came from `Arc::into_raw`, and no handler can
        // use it any more.
        drop(unsafe { Arc::from_raw(self.cookie) });
    }
}

/// # Safety
///
/// Only called by the IRQ core with the `dev_id` registered in [`Vectors::request`].
unsafe extern "C" fn handle(_irq: c_int, cookie: *mut c_void) -> bindings::irqreturn_t {
    // SAFETY: `cookie` is the `Arc` pointer of a live registration (type invariant of
    // `Interrupt`).
    let dev = unsafe { &*cookie.cast::<EduDevice>() };
    // On PREEMPT_RT handlers run in threads with interrupts on: enter the section explicitly.
    #[cfg(CONFIG_PREEMPT_RT)]
    let _rcu = kernel::sync::rcu::read_lock();
    // SAFETY: This CPU is in an RCU read-side critical section until the handler returns: the
    // kernel runs hard-IRQ handlers with interrupts off (IRQF_DISABLED is gone since 4.1), and
    // handlers it forces into threads (`threadirqs`) too, except on PREEMPT_RT (above).
    if unsafe { IrqContext::with(|irq| dev.handle_irq(irq)) } {
        bindings::irqreturn::IRQ_HANDLED
    } else {
        bindings::irqreturn::IRQ_NONE
    }
}
