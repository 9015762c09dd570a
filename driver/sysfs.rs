// SPDX-License-Identifier: GPL-2.0

//! The sysfs attributes in the PCI device's directory: `ident`, `irq_mode`, `irq_count`,
//! `factorial` (documented in `Documentation/ABI/testing/sysfs-driver-edu`).
//!
//! The kernel crate has no sysfs abstraction, so this module keeps the few unsafe lines: a static
//! attribute group and its show/store trampolines. The group is the driver's `dev_groups`
//! ([`DEV_GROUPS`]): the driver core creates the files after probe has succeeded and removes them
//! before remove runs, waiting for running show/store calls, so the files exist exactly while the
//! device is bound and published. The callbacks find their device through the registry.

use crate::{
    device::EduDevice,
    pci_ext::AttributeGroups,
    registry, //
};
use core::{
    fmt::Write,
    ptr::addr_of, //
};
use kernel::{
    bindings,
    device,
    prelude::*,
    sync::Arc, //
};

type Show = fn(&EduDevice, &mut PageWriter<'_>) -> Result;
type Store = fn(&EduDevice, &str) -> Result;

/// Formats into the page sysfs hands to `show`.
pub(crate) struct PageWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Write for PageWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.pos.checked_add(s.len()).ok_or(core::fmt::Error)?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.pos = end;
        Ok(())
    }
}

fn show_ident(dev: &EduDevice, w: &mut PageWriter<'_>) -> Result {
    writeln!(w, "{:#010x}", dev.ident()?).map_err(|_| EINVAL)
}

fn show_irq_mode(dev: &EduDevice, w: &mut PageWriter<'_>) -> Result {
    writeln!(w, "{}", dev.irq_mode().name()).map_err(|_| EINVAL)
}

fn show_irq_count(dev: &EduDevice, w: &mut PageWriter<'_>) -> Result {
    writeln!(w, "{}", dev.irq_count()).map_err(|_| EINVAL)
}

fn show_factorial(dev: &EduDevice, w: &mut PageWriter<'_>) -> Result {
    let v = dev.last_factorial().ok_or(ENODATA)?;
    writeln!(w, "{v}").map_err(|_| EINVAL)
}

fn store_factorial(dev: &EduDevice, input: &str) -> Result {
    let n: u32 = input.trim().parse().map_err(|_| EINVAL)?;
    dev.store_factorial(n)
}

/// One attribute: its C descriptor and the Rust callbacks behind it.
#[repr(C)]
struct Attr {
    // Must stay first: the trampolines cast the `device_attribute` pointer back to `Attr`.
    dattr: bindings::device_attribute,
    show: Show,
    store: Option<Store>,
}

const fn attr(name: &'static CStr, show: Show, store: Option<Store>) -> Attr {
    let mut dattr: bindings::device_attribute = pin_init::zeroed();
    dattr.attr.name = name.to_bytes_with_nul().as_ptr();
    dattr.attr.mode = if store.is_some() { 0o644 } else { 0o444 };
    dattr.__bindgen_anon_1.show = Some(show_trampoline);
    if store.is_some() {
        dattr.__bindgen_anon_2.store = Some(store_trampoline);
    }
    Attr { dattr, show, store }
}

struct Attrs([Attr; 4]);
struct AttrPtrs([*mut bindings::attribute; 5]);
struct GroupDesc(bindings::attribute_group);

// SAFETY: The descriptors are never written after initialisation; sysfs only reads them.
unsafe impl Sync for Attrs {}
// SAFETY: As above.
unsafe impl Sync for AttrPtrs {}
// SAFETY: As above.
unsafe impl Sync for GroupDesc {}

static ATTRS: Attrs = Attrs([
    attr(c"ident", show_ident, None),
    attr(c"irq_mode", show_irq_mode, None),
    attr(c"irq_count", show_irq_count, None),
    attr(c"factorial", show_factorial, Some(store_factorial)),
]);

static ATTR_PTRS: AttrPtrs = AttrPtrs([
    addr_of!(ATTRS.0[0].dattr.attr).cast_mut(),
    addr_of!(ATTRS.0[1].dattr.attr).cast_mut(),
    addr_of!(ATTRS.0[2].dattr.attr).cast_mut(),
    addr_of!(ATTRS.0[3].dattr.attr).cast_mut(),
    core::ptr::null_mut(),
]);

static GROUP: GroupDesc = {
    let mut group: bindings::attribute_group = pin_init::zeroed();
    group.__bindgen_anon_2.attrs = addr_of!(ATTR_PTRS.0).cast_mut().cast();
    GroupDesc(group)
};

/// Finds the device and the attribute behind a callback.
///
/// # Safety
///
/// `dev` is a valid device and `attr` one of [`ATTRS`].
unsafe fn resolve<'a>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
) -> Result<(Arc<EduDevice>, &'a Attr)> {
    // SAFETY: `dev` is valid per the safety requirements.
    let dev = unsafe { device::Device::from_raw(dev) };
    // SAFETY: `attr` points to the first field of a `#[repr(C)] Attr` in `ATTRS`.
    let attr = unsafe { &*attr.cast::<Attr>() };
    Ok((registry::by_device(dev).ok_or(ENODEV)?, attr))
}

/// # Safety
///
/// Called by sysfs for one of [`ATTRS`] with a `PAGE_SIZE` buffer.
unsafe extern "C" fn show_trampoline(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: Per the function's safety requirements.
    let r = unsafe { resolve(dev, attr) }.and_then(|(dev, attr)| {
        // SAFETY: sysfs passes a writable buffer of `PAGE_SIZE` bytes.
        let buf =
            unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), kernel::page::PAGE_SIZE) };
        let mut w = PageWriter { buf, pos: 0 };
        (attr.show)(&dev, &mut w)?;
        Ok(w.pos as isize)
    });
    r.unwrap_or_else(|e| e.to_errno() as isize)
}

/// # Safety
///
/// Called by sysfs for one of [`ATTRS`] with `count` readable bytes at `buf`.
unsafe extern "C" fn store_trampoline(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: Per the function's safety requirements.
    let r = unsafe { resolve(dev, attr) }.and_then(|(dev, attr)| {
        // SAFETY: sysfs passes `count` readable bytes.
        let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
        let input = core::str::from_utf8(input).map_err(|_| EINVAL)?;
        (attr.store.ok_or(EACCES)?)(&dev, input)?;
        Ok(count as isize)
    });
    r.unwrap_or_else(|e| e.to_errno() as isize)
}

struct GroupList([*const bindings::attribute_group; 2]);

// SAFETY: As for `Attrs`.
unsafe impl Sync for GroupList {}

static GROUP_LIST: GroupList = GroupList([addr_of!(GROUP.0), core::ptr::null()]);

/// The driver's `dev_groups`: the attributes of every bound device.
// SAFETY: `GROUP_LIST` is a static, NULL-terminated list of static groups, never written.
pub(crate) static DEV_GROUPS: AttributeGroups =
    unsafe { AttributeGroups::new(addr_of!(GROUP_LIST.0).cast()) };
