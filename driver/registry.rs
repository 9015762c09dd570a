//! The module-wide state, in one place: what module init's first steps set up and what probe,
//! open and sysfs reach through it. Step 1 (device table) creates it and its undo frees it;
//! steps 2 and 3 publish the char device major and the class in it and withdraw them in their
//! undo. (The listener slots are the other module-wide state: a constant-initialised interface
//! for other modules, with nothing to set up, see `listener.rs`.)
//!
//! The table of instance numbers (`/dev/eduN`) works in two phases: probe reserves a number early
//! and activates it when it publishes the device; open and sysfs find only active devices.
//! Numbers come from the kernel's [`IdPool`] (a bitmap); the active devices sit in a vector
//! indexed by number. Both are sized for `max_devices` when module init creates the table, so
//! probe allocates nothing here and a full table is `ENOSPC`.

use crate::{
    chrdev::ClassRef,
    device::EduDevice, //
};
use kernel::{
    device,
    id_pool::IdPool,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Full, //
        },
        Arc, //
    }, //
};

/// The module-wide state.
///
/// # Invariants
///
/// `devices.len() <= ids.capacity()` (`devices.len()` is `max_devices`); `devices[n]` is `Some`
/// only while `n` is reserved in `ids`.
struct Shared {
    ids: IdPool,
    /// The published device of each number.
    devices: KVec<Option<Arc<EduDevice>>>,
    /// The char device major while step 2 holds it, else 0.
    major: u32,
    /// The class while step 3 holds it.
    class: Option<ClassRef>,
}

kernel::sync::global_lock! {
    // SAFETY: `Table::init` is the only caller of `init`, and calls it at most once (`CLAIMED`),
    // before anything else here can run: every other function needs a `Minor` or runs from open
    // or sysfs, which exist only after module init created the table.
    unsafe(uninit) static STATE: Mutex<Option<Shared>> = None;
}

/// Set by the first [`Table::init`].
static CLAIMED: Atomic<bool> = Atomic::new(false);

/// The table's lifetime: it is emptied and its memory freed when this is dropped.
pub(crate) struct Table(());

impl Table {
    /// Creates the table for `max` devices, once per module load: `EBUSY` on a second call.
    pub(crate) fn init(max: u32) -> Result<Self> {
        let max = max as usize;
        let ids = IdPool::with_capacity(max, GFP_KERNEL)?;
        let devices = KVec::from_elem(None, max, GFP_KERNEL)?;
        if CLAIMED.xchg(true, Full) {
            return Err(EBUSY);
        }
        // SAFETY: `CLAIMED` lets only the first call get here.
        unsafe { STATE.init() };
        // INVARIANT: `max` entries, and `with_capacity` gives at least `max` ids.
        *STATE.lock() = Some(Shared {
            ids,
            devices,
            major: 0,
            class: None,
        });
        Ok(Table(()))
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // The PCI driver is unregistered by now, so every number is free; free the table.
        drop(STATE.lock().take());
    }
}

/// Publishes the char device major (0: withdraws it).
pub(crate) fn set_major(major: u32) {
    if let Some(t) = STATE.lock().as_mut() {
        t.major = major;
    }
}

/// Publishes the device class (`None`: withdraws it).
pub(crate) fn set_class(class: Option<ClassRef>) {
    if let Some(t) = STATE.lock().as_mut() {
        t.class = class;
    }
}

/// The char device major and class, once both are published.
pub(crate) fn chrdev() -> Option<(u32, ClassRef)> {
    let guard = STATE.lock();
    let t = guard.as_ref()?;
    match (t.major, t.class) {
        (0, _) | (_, None) => None,
        (major, Some(class)) => Some((major, class)),
    }
}

/// A reserved instance number, held until dropped.
pub(crate) struct Minor(u32);

impl Minor {
    /// Reserves the lowest free number; `ENOSPC` when all `max_devices` are taken.
    pub(crate) fn reserve() -> Result<Self> {
        let mut guard = STATE.lock();
        let t = guard.as_mut().ok_or(ENODEV)?;
        let max = t.devices.len();
        match t.ids.find_unused_id(0) {
            Some(id) if id.as_usize() < max => Ok(Self(id.acquire() as u32)),
            _ => Err(ENOSPC),
        }
    }

    /// The number.
    pub(crate) fn get(&self) -> u32 {
        self.0
    }
}

impl Drop for Minor {
    fn drop(&mut self) {
        if let Some(t) = STATE.lock().as_mut() {
            if let Some(e) = t.devices.get_mut(self.0 as usize) {
                // INVARIANT: The entry is emptied before its number is released.
                *e = None;
            }
            t.ids.release_id(self.0 as usize);
        }
    }
}

/// Makes `dev` reachable under the reserved number `minor`.
pub(crate) fn activate(minor: &Minor, dev: Arc<EduDevice>) {
    if let Some(e) = STATE
        .lock()
        .as_mut()
        .and_then(|t| t.devices.get_mut(minor.0 as usize))
    {
        // INVARIANT: `minor` is reserved while the `Minor` lives.
        *e = Some(dev);
    }
}

/// Makes the device under `minor` unreachable again; the number stays reserved.
pub(crate) fn deactivate(minor: u32) {
    if let Some(e) = STATE
        .lock()
        .as_mut()
        .and_then(|t| t.devices.get_mut(minor as usize))
    {
        *e = None;
    }
}

/// The active device with instance number `minor`.
pub(crate) fn by_minor(minor: u32) -> Option<Arc<EduDevice>> {
    STATE.lock().as_ref()?.devices.get(minor as usize)?.clone()
}

/// The active device whose PCI device is `dev`.
pub(crate) fn by_device(dev: &device::Device) -> Option<Arc<EduDevice>> {
    STATE
        .lock()
        .as_ref()?
        .devices
        .iter()
        .flatten()
        .find_map(|d| {
            if core::ptr::eq(d.pdev().as_ref(), dev) {
                Some(d.clone())
            } else {
                None
            }
        })
}
