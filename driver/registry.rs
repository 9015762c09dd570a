// SPDX-License-Identifier: GPL-2.0

//! The table of instance numbers (`/dev/eduN`), in two phases: probe reserves a number early and
//! activates it when it publishes the device; open and sysfs find only active devices.

use crate::device::EduDevice;
use kernel::{
    device,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Full, //
        },
        Arc, //
    }, //
};

/// One instance number.
enum Entry {
    Free,
    /// Reserved by a probe that has not published its device yet.
    Reserved,
    Active(Arc<EduDevice>),
}

kernel::sync::global_lock! {
    // SAFETY: `Table::init` is the only caller of `init`, and calls it at most once (`CLAIMED`),
    // before anything else here can run: every other function needs a `Minor` or runs from open
    // or sysfs, which exist only after module init created the table.
    unsafe(uninit) static DEVICES: Mutex<KVec<Entry>> = KVec::new();
}

/// Set by the first [`Table::init`].
static CLAIMED: Atomic<bool> = Atomic::new(false);

/// The table's lifetime: it is emptied and its memory freed when this is dropped.
pub(crate) struct Table(());

impl Table {
    /// Initialises the table, once per module load: `EBUSY` on a second call.
    pub(crate) fn init() -> Result<Self> {
        if CLAIMED.xchg(true, Full) {
            return Err(EBUSY);
        }
        // SAFETY: `CLAIMED` lets only the first call get here.
        unsafe { DEVICES.init() };
        Ok(Table(()))
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // The PCI driver is unregistered by now, so every entry is free; free the vector.
        drop(core::mem::take(&mut *DEVICES.lock()));
    }
}

/// A reserved instance number, held until dropped.
pub(crate) struct Minor(u32);

impl Minor {
    /// Reserves the lowest free number below `max`.
    pub(crate) fn reserve(max: u32) -> Result<Self> {
        let mut table = DEVICES.lock();
        let n = match table.iter().position(|e| matches!(e, Entry::Free)) {
            Some(n) => n,
            None => {
                table.push(Entry::Free, GFP_KERNEL)?;
                table.len() - 1
            }
        };
        if n >= max as usize {
            return Err(ENOSPC);
        }
        table[n] = Entry::Reserved;
        Ok(Self(n as u32))
    }

    /// The number.
    pub(crate) fn get(&self) -> u32 {
        self.0
    }
}

impl Drop for Minor {
    fn drop(&mut self) {
        if let Some(e) = DEVICES.lock().get_mut(self.0 as usize) {
            *e = Entry::Free;
        }
    }
}

/// Makes `dev` reachable under the reserved number `minor`.
pub(crate) fn activate(minor: &Minor, dev: Arc<EduDevice>) {
    if let Some(e) = DEVICES.lock().get_mut(minor.0 as usize) {
        *e = Entry::Active(dev);
    }
}

/// Makes the device under `minor` unreachable again; the number stays reserved.
pub(crate) fn deactivate(minor: u32) {
    if let Some(e) = DEVICES.lock().get_mut(minor as usize) {
        *e = Entry::Reserved;
    }
}

/// The active device with instance number `minor`.
pub(crate) fn by_minor(minor: u32) -> Option<Arc<EduDevice>> {
    match DEVICES.lock().get(minor as usize)? {
        Entry::Active(dev) => Some(dev.clone()),
        _ => None,
    }
}

/// The active device whose PCI device is `dev`.
pub(crate) fn by_device(dev: &device::Device) -> Option<Arc<EduDevice>> {
    DEVICES.lock().iter().find_map(|e| match e {
        Entry::Active(d) if core::ptr::eq(d.pdev().as_ref(), dev) => Some(d.clone()),
        _ => None,
    })
}
