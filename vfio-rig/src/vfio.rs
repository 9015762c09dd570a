// SPDX-License-Identifier: GPL-2.0

//! The VFIO side of probe steps 1, 2, 3 and 5: container, group and device, config space (bus
//! mastering) and the DMA mapping, each a guard whose `Drop` undoes it.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use vfio_bindings::bindings::vfio::{VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_REQ_IRQ_INDEX};
use vfio_ioctls::{VfioContainer, VfioDevice, VfioOps};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use edu_regs::regs;

use crate::error::{Error, Result};
use crate::ladder::StepTrace;
use crate::sys::{self, DmaPage};

/// PCI command register offset in config space.
const PCI_COMMAND: u64 = 0x04;
/// Command register: memory space decoding.
const PCI_COMMAND_MEMORY: u16 = 0x2;
/// Command register: bus mastering (the device may issue DMA).
const PCI_COMMAND_MASTER: u16 = 0x4;

/// Where a device lives in sysfs.
pub fn sysfs_dir(bdf: &str) -> PathBuf {
    Path::new("/sys/bus/pci/devices").join(bdf)
}

/// Checks that `bdf` names a PCI device bound to vfio-pci and returns its IOMMU group number.
pub fn group_of(bdf: &str) -> Result<u32> {
    if bdf.is_empty() || bdf.contains('/') {
        return Err(Error::Invalid("a PCI address looks like 0000:00:03.0"));
    }
    let dir = sysfs_dir(bdf);
    if !dir.exists() {
        return Err(Error::NotVfio(format!("no PCI device {bdf}")));
    }
    let driver = std::fs::read_link(dir.join("driver")).ok();
    let driver = driver
        .as_deref()
        .and_then(Path::file_name)
        .map(|s| s.to_string_lossy().into_owned());
    if driver.as_deref() != Some("vfio-pci") {
        return Err(Error::NotVfio(format!(
            "{bdf} is bound to {}, not vfio-pci",
            driver.as_deref().unwrap_or("no driver")
        )));
    }
    let link = std::fs::read_link(dir.join("iommu_group"))
        .map_err(|e| Error::io(format!("{bdf}: no IOMMU group"), e))?;
    link.file_name()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::NotVfio(format!("{bdf}: odd IOMMU group link {}", link.display())))
}

/// Parses `/sys/kernel/iommu_groups/N/reserved_regions`: one `start end type` line per region,
/// addresses in hex, `end` inclusive. Returns (start, end-inclusive) pairs.
pub fn parse_reserved_regions(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let s = u64::from_str_radix(it.next()?.trim_start_matches("0x"), 16).ok()?;
            let e = u64::from_str_radix(it.next()?.trim_start_matches("0x"), 16).ok()?;
            Some((s, e))
        })
        .collect()
}

/// The lowest IOVA at or above `start` where `len` bytes fit below the device's
/// [`regs::DMA_ADDR_BITS`]-bit mask, page-aligned, clear of every reserved region and of the
/// device's own buffer window ([`regs::DMA_BUF_ADDR`], which edu decodes as "inside the device").
pub fn choose_iova(reserved: &[(u64, u64)], start: u64, len: u64) -> Option<u64> {
    const PAGE: u64 = 4096;
    let limit = 1u64 << regs::DMA_ADDR_BITS;
    let mut avoid: Vec<(u64, u64)> = reserved.to_vec();
    avoid.push((
        regs::DMA_BUF_ADDR,
        regs::DMA_BUF_ADDR + regs::DMA_BUF_SIZE as u64 - 1,
    ));
    let len = len.div_ceil(PAGE) * PAGE;
    let mut iova = start.div_ceil(PAGE) * PAGE;
    'outer: while iova + len <= limit {
        for &(s, e) in &avoid {
            if iova <= e && s < iova + len {
                iova = (e + 1).div_ceil(PAGE) * PAGE;
                continue 'outer;
            }
        }
        return Some(iova);
    }
    None
}

/// Step 1: the VFIO container, with what probe learned about the group.
pub struct Container {
    /// The container (vfio-ioctls wants it shared with every device).
    pub(crate) vfio: Arc<VfioContainer>,
    /// The IOMMU group number.
    pub(crate) group: u32,
    /// The group's reserved IOVA regions.
    pub(crate) reserved: Vec<(u64, u64)>,
    _trace: StepTrace,
}

impl Container {
    /// Opens `/dev/vfio/vfio` (TYPE1v2 IOMMU required) for the device `bdf`.
    pub fn open(bdf: &str, trace: StepTrace) -> Result<Self> {
        let group = group_of(bdf)?;
        let path = format!("/sys/kernel/iommu_groups/{group}/reserved_regions");
        let reserved = parse_reserved_regions(
            &std::fs::read_to_string(&path).map_err(|e| Error::io(path, e))?,
        );
        let vfio = VfioContainer::new(None).map_err(|e| Error::vfio("open the container", e))?;
        Ok(Self {
            vfio: Arc::new(vfio),
            group,
            reserved,
            _trace: trace,
        })
    }
}

/// A private stand-in for the device's sysfs directory, handed to [`VfioDevice::new`].
///
/// `VfioDevice`'s `Drop` reads `<sysfspath>/iommu_group` again and `unwrap`s the result: if the
/// device has vanished by then (hot removal: `echo 1 > .../remove` completes the moment our
/// device fd is closed, which is the first thing that `Drop` does) it panics. Catching the panic
/// would still print it and would leave the group attached; leaking the device with
/// `ManuallyDrop` would leak the container and group fds on every cycle. Instead the rig gives
/// vfio-ioctls a path that stays valid whatever happens to the device: a private directory named
/// after the device (vfio-ioctls uses the last component as the device name for
/// `VFIO_GROUP_GET_DEVICE_FD`) holding an `iommu_group` symlink whose target names the group
/// (only the link's last component is read). It is removed after the device is dropped.
struct ShadowSysfs {
    dir: PathBuf,
    path: PathBuf,
}

impl ShadowSysfs {
    fn create(bdf: &str, group: u32) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "edu-rig.{}.{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let path = dir.join(bdf);
        std::fs::create_dir_all(&path).map_err(|e| Error::io("create the sysfs stand-in", e))?;
        let shadow = Self { dir, path };
        std::os::unix::fs::symlink(
            format!("/sys/kernel/iommu_groups/{group}"),
            shadow.path.join("iommu_group"),
        )
        .map_err(|e| Error::io("create the sysfs stand-in", e))?;
        Ok(shadow)
    }
}

impl Drop for ShadowSysfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Step 2: the group attached to the container, and the device fd; plus the request interrupt
/// (vfio-pci asks for the device back through it), registered at once so that a request during
/// the rest of probe is latched in the eventfd.
pub struct Device {
    // Field order: the device is closed before its sysfs stand-in is removed.
    pub(crate) vfio: Arc<VfioDevice>,
    pub(crate) req: Arc<EventFd>,
    _shadow: ShadowSysfs,
    _trace: StepTrace,
}

impl Device {
    /// Attaches the group of `bdf` to `container` and opens the device.
    pub fn open(bdf: &str, container: &Container, trace: StepTrace) -> Result<Self> {
        let shadow = ShadowSysfs::create(bdf, container.group)?;
        let ops: Arc<dyn VfioOps> = container.vfio.clone();
        let vfio = VfioDevice::new(&shadow.path, ops, false)
            .map_err(|e| Error::vfio("open the group and the device", e))?;
        let vfio = Arc::new(vfio);
        let req = EventFd::new(EFD_NONBLOCK).map_err(|e| Error::io("eventfd", e))?;
        vfio.enable_irq(VFIO_PCI_REQ_IRQ_INDEX, vec![&req])
            .map_err(|e| Error::vfio("enable the request interrupt", e))?;
        Ok(Self {
            vfio,
            req: Arc::new(req),
            _shadow: shadow,
            _trace: trace,
        })
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // Best effort: closing the device fd disables every interrupt anyway.
        let _ = self.vfio.disable_irq(VFIO_PCI_REQ_IRQ_INDEX);
        if Arc::strong_count(&self.vfio) != 1 {
            // Cannot happen (the interrupt thread holding the other reference is joined in step
            // 6's undo); the device would stay open until the last reference goes.
            log::error!("device still referenced at teardown");
        }
    }
}

/// Step 3: memory decoding and bus mastering turned on in config space (VFIO region 7, with
/// checked `pread`/`pwrite` on the device fd); the original command register is restored.
pub struct BusMaster {
    vfio: Arc<VfioDevice>,
    offset: u64,
    saved: u16,
    _trace: StepTrace,
}

impl BusMaster {
    fn read_command(vfio: &VfioDevice, offset: u64) -> Result<u16> {
        let mut b = [0u8; 2];
        sys::pread_exact(vfio.as_raw_fd(), &mut b, offset + PCI_COMMAND)
            .map_err(|e| Error::io("read the command register", e))?;
        Ok(u16::from_le_bytes(b))
    }

    fn write_command(vfio: &VfioDevice, offset: u64, v: u16) -> Result<()> {
        sys::pwrite_all(vfio.as_raw_fd(), &v.to_le_bytes(), offset + PCI_COMMAND)
            .map_err(|e| Error::io("write the command register", e))
    }

    /// Sets memory decoding and bus mastering, checking that they stuck.
    pub fn enable(device: &Device, trace: StepTrace) -> Result<Self> {
        let vfio = device.vfio.clone();
        if vfio.get_region_size(VFIO_PCI_CONFIG_REGION_INDEX) < 0x40 {
            return Err(Error::NotVfio("no config space region".into()));
        }
        let offset = vfio.get_region_offset(VFIO_PCI_CONFIG_REGION_INDEX);
        let saved = Self::read_command(&vfio, offset)?;
        let want = saved | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
        Self::write_command(&vfio, offset, want)?;
        let guard = Self {
            vfio,
            offset,
            saved,
            _trace: trace,
        };
        let now = Self::read_command(&guard.vfio, offset)?;
        if now & want != want {
            return Err(Error::NotVfio(format!(
                "command register reads {now:#06x} after writing {want:#06x}"
            )));
        }
        Ok(guard)
    }
}

impl Drop for BusMaster {
    fn drop(&mut self) {
        // Clear bus mastering (and memory decoding if it was off); errors mean the device is
        // gone, which leaves nothing to undo.
        let _ = Self::write_command(&self.vfio, self.offset, self.saved & !PCI_COMMAND_MASTER);
    }
}

/// Step 5: a page of memory mapped for the device at an IOVA inside its DMA mask.
pub struct DmaMapping {
    container: Arc<VfioContainer>,
    // The page must outlive the mapping: this reference is dropped only after `Drop` has
    // unmapped the IOVA range, and leaked if that fails. Other references (the rig's operations)
    // only keep the memory valid; they never free it while it is mapped.
    page: Arc<DmaPage>,
    pub(crate) iova: u64,
    _trace: StepTrace,
}

impl DmaMapping {
    /// Allocates a page and maps it at the lowest free IOVA from 1 MiB up.
    pub fn map(container: &Container, trace: StepTrace) -> Result<Self> {
        let page =
            DmaPage::new(regs::DMA_BUF_SIZE).map_err(|e| Error::io("allocate the DMA page", e))?;
        let iova = choose_iova(&container.reserved, 1 << 20, page.len() as u64)
            .ok_or(Error::Invalid("no free IOVA inside the 28-bit DMA mask"))?;
        // SAFETY: `page` is a private anonymous mapping that this struct owns and never
        // references (only volatile accesses through raw pointers, see `DmaPage`); it stays
        // mapped until `Drop` has unmapped the IOVA range (or is leaked if that fails).
        unsafe { container.vfio.vfio_dma_map(iova, page.len(), page.as_ptr()) }
            .map_err(|e| Error::vfio("map the DMA page", e))?;
        Ok(Self {
            container: container.vfio.clone(),
            page: Arc::new(page),
            iova,
            _trace: trace,
        })
    }

    /// The mapped page.
    pub(crate) fn page(&self) -> &Arc<DmaPage> {
        &self.page
    }
}

impl Drop for DmaMapping {
    fn drop(&mut self) {
        if self
            .container
            .vfio_dma_unmap(self.iova, self.page.len())
            .is_err()
        {
            // The IOMMU may still point at the page: never give it back to the allocator.
            std::mem::forget(self.page.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_regions_parse() {
        let t = "0x00000000fee00000 0x00000000feefffff msi\n0x0000000000100000 0x0000000000100fff direct\n";
        assert_eq!(
            parse_reserved_regions(t),
            vec![(0xfee0_0000, 0xfeef_ffff), (0x10_0000, 0x10_0fff)]
        );
        assert!(parse_reserved_regions("").is_empty());
    }

    #[test]
    fn iova_avoids_reserved_and_stays_in_mask() {
        assert_eq!(choose_iova(&[], 1 << 20, 4096), Some(1 << 20));
        // A reserved page at 1 MiB pushes the choice up.
        assert_eq!(
            choose_iova(&[(0x10_0000, 0x10_0fff)], 1 << 20, 4096),
            Some(0x10_1000)
        );
        // edu's own buffer window is avoided.
        assert_eq!(choose_iova(&[], 0x40000, 4096), Some(0x41000));
        // Everything reserved below 2^28: nothing fits.
        assert_eq!(choose_iova(&[(0, (1 << 28) - 1)], 0, 4096), None);
        // Odd start is rounded to a page; the result stays below 2^28.
        let i = choose_iova(&[(0x10_0000, 0x0fff_efff)], 1 << 20, 4096).unwrap();
        assert_eq!(i, 0x0fff_f000);
        assert!(i + 4096 <= 1 << 28);
    }
}
