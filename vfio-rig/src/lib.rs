// SPDX-License-Identifier: GPL-2.0

//! The userspace twin of the edu driver: QEMU's `edu` device driven through VFIO.
//!
//! [`Rig::probe`] builds the device up in the driver's dependency order, one guard per step
//! (see [`rig`] for the table); dropping the [`Rig`] is remove, undoing the steps in reverse.
//! Clients never call the hardware directly: they go through a [`Port`], a callback-core
//! [`Slot`](callback_core::Slot) owned by the rig, so that once remove has begun new calls fail
//! with [`Error::NotRegistered`], remove waits for the calls in flight, and no call reaches a
//! removed device. Two canaries check it: the port's generations, checked at the start and at
//! the end of every operation and counted by [`Port::violations`], and a `PROT_NONE` mapping left
//! where BAR0 was, on which a late access faults. The race ([`race`]) runs on any [`Ops`], so
//! that a host test shows, with a fake device and a remove that does not drain, that the first
//! canary does fire.
//!
//! Interrupts arrive on eventfds (MSI or INTx) and are handled by a service thread, which also
//! listens to vfio-pci's request interrupt: when someone unbinds the device, the rig's owner sees
//! [`Rig::release_requested`] and removes it, so the unbind completes promptly.
//!
//! `unsafe` lives in [`sys`] (mappings, raw syscalls) and in one call of [`vfio`]
//! (`vfio_dma_map`) and [`rig`] (the published pointer), each with its safety argument.

pub mod error;
pub mod irq;
pub mod ladder;
pub mod logger;
pub mod race;
pub mod rig;
pub mod stats;
pub mod sys;
pub mod vfio;

pub use error::{Error, Result};
pub use irq::IrqMode;
pub use rig::{Binding, Client, Hw, Ops, Port, ProbeOptions, Rig};
