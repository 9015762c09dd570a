// SPDX-License-Identifier: GPL-2.0

//! The table of bound devices: instance numbers (`/dev/eduN`) and lookups for open and sysfs.

use crate::device::EduDevice;
use kernel::{
    device,
    prelude::*,
    sync::Arc, //
};

kernel::sync::global_lock! {
    // SAFETY: `init` is called once, in module init, before the PCI driver is registered.
    unsafe(uninit) static DEVICES: Mutex<KVec<Option<Arc<EduDevice>>>> = KVec::new();
}

/// The table's lifetime: it is emptied and its memory freed when this is dropped.
pub(crate) struct Table(());

/// Initialises the table. Must be called exactly once, before any other function here.
pub(crate) fn init() -> Table {
    // SAFETY: Called once from module init, before anything can use the table.
    unsafe { DEVICES.init() };
    Table(())
}

impl Drop for Table {
    fn drop(&mut self) {
        // The PCI driver is unregistered by now, so every slot is empty; free the vector.
        drop(core::mem::take(&mut *DEVICES.lock()));
    }
}

/// A reserved instance number, bound to one device until dropped.
pub(crate) struct Minor(u32);

impl Minor {
    /// Reserves the lowest free number below `max` for `dev`.
    pub(crate) fn reserve(dev: &Arc<EduDevice>, max: u32) -> Result<Self> {
        let mut table = DEVICES.lock();
        let free = table.iter().position(Option::is_none);
        let n = match free {
            Some(n) => n,
            None => {
                table.push(None, GFP_KERNEL)?;
                table.len() - 1
            }
        };
        if n >= max as usize {
            return Err(ENOSPC);
        }
        table[n] = Some(dev.clone());
        Ok(Self(n as u32))
    }

    /// The number.
    pub(crate) fn get(&self) -> u32 {
        self.0
    }
}

impl Drop for Minor {
    fn drop(&mut self) {
        let mut table = DEVICES.lock();
        if let Some(slot) = table.get_mut(self.0 as usize) {
            *slot = None;
        }
    }
}

/// The device bound to instance number `minor`.
pub(crate) fn by_minor(minor: u32) -> Option<Arc<EduDevice>> {
    DEVICES.lock().get(minor as usize)?.clone()
}

/// The device whose PCI device is `dev`.
pub(crate) fn by_device(dev: &device::Device) -> Option<Arc<EduDevice>> {
    DEVICES
        .lock()
        .iter()
        .flatten()
        .find(|d| core::ptr::eq(d.pdev().as_ref(), dev))
        .cloned()
}
