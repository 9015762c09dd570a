// SPDX-License-Identifier: GPL-2.0

//! Every `unsafe` of the rig except the DMA map call, behind safe APIs: the BAR0 mapping with
//! volatile 32-bit accesses and its teardown canary, the DMA page, positioned reads and writes on
//! a raw fd, and `poll`.

use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::sync::Mutex;

use memmap2::{MmapOptions, MmapRaw};

/// How many torn-down BAR mappings stay reserved as `PROT_NONE` canaries (1 MiB of address space
/// each, no memory): a late access to any of the last `CANARY_KEEP` mappings faults.
const CANARY_KEEP: usize = 4096;

/// Torn-down mappings kept as `PROT_NONE` reservations, oldest first: (address, length).
static QUARANTINE: Mutex<VecDeque<(usize, usize)>> = Mutex::new(VecDeque::new());

/// A mapping of an MMIO region (BAR0 of a VFIO device), accessed only with volatile 32-bit loads
/// and stores.
///
/// When dropped, the mapping is replaced in place by an inaccessible (`PROT_NONE`) anonymous
/// mapping, which stays reserved (up to 4096 of them): any access through a stale
/// pointer after teardown faults (SIGSEGV) instead of reaching the device or some other mapping.
/// The replacement also drops the mapping's reference on the VFIO device file, so that closing
/// the device really releases it.
///
/// # Invariants
///
/// `map` is a live shared mapping of `len` bytes for the whole life of the value, and `len` is a
/// multiple of 4.
#[derive(Debug)]
pub struct Mmio {
    map: Option<MmapRaw>,
    len: usize,
}

impl Mmio {
    /// Maps `len` bytes at `offset` of `fd` (a VFIO device fd; the offset is the region offset).
    pub fn map(fd: RawFd, offset: u64, len: usize) -> io::Result<Self> {
        if len == 0 || len % 4 != 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let map = MmapOptions::new().offset(offset).len(len).map_raw(fd)?;
        Ok(Self {
            map: Some(map),
            len,
        })
    }

    /// The mapping's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a mapping is never empty (see [`Mmio::map`]).
    pub fn is_empty(&self) -> bool {
        false
    }

    fn ptr(&self, off: usize) -> *mut u32 {
        assert!(
            off % 4 == 0 && off + 4 <= self.len,
            "MMIO offset {off:#x} out of range"
        );
        let map = self.map.as_ref().expect("mapping present until drop");
        // The offset is in bounds (checked above), so this stays inside the mapping.
        map.as_mut_ptr().wrapping_add(off).cast::<u32>()
    }

    /// Reads the 32-bit register at byte offset `off` (aligned, in range, or this panics).
    #[inline]
    pub fn read32(&self, off: usize) -> u32 {
        let p = self.ptr(off);
        // SAFETY: `p` is 4-byte aligned and inside the live mapping (type invariant and `ptr`'s
        // bounds check); MMIO must be read with a volatile access of exactly 32 bits.
        unsafe { p.read_volatile() }
    }

    /// Writes the 32-bit register at byte offset `off` (aligned, in range, or this panics).
    #[inline]
    pub fn write32(&self, off: usize, value: u32) {
        let p = self.ptr(off);
        // SAFETY: as in `read32`; the mapping is shared and writable (VFIO BAR mapping).
        unsafe { p.write_volatile(value) }
    }
}

impl Drop for Mmio {
    fn drop(&mut self) {
        let Some(map) = self.map.take() else { return };
        let addr = map.as_mut_ptr();
        // SAFETY: `addr..addr + len` is exactly our mapping, which nobody else owns; MAP_FIXED
        // replaces it atomically by an anonymous PROT_NONE mapping, which we then own (it is
        // recorded in QUARANTINE and unmapped only from there). No Rust reference into the
        // mapping exists: it was only ever accessed through raw volatile pointers.
        let r = unsafe {
            libc::mmap(
                addr.cast(),
                self.len,
                libc::PROT_NONE,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if r == libc::MAP_FAILED {
            // No canary: let memmap2 unmap it normally.
            drop(map);
            return;
        }
        // The PROT_NONE mapping now owns the range: memmap2 must not unmap it.
        std::mem::forget(map);
        let mut q = QUARANTINE.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back((addr as usize, self.len));
        while q.len() > CANARY_KEEP {
            if let Some((a, l)) = q.pop_front() {
                // SAFETY: (a, l) is a PROT_NONE reservation created above and owned only by the
                // quarantine; nothing points into it legitimately.
                unsafe { libc::munmap(a as *mut libc::c_void, l) };
            }
        }
    }
}

/// One page of anonymous memory that a device reads and writes by DMA.
///
/// Only ever accessed through raw pointers with volatile byte accesses (no Rust reference to it
/// ever exists), as `vfio_dma_map`'s contract requires.
///
/// # Invariants
///
/// `map` is a live private anonymous mapping of `len` bytes, page-aligned.
#[derive(Debug)]
pub struct DmaPage {
    map: MmapRaw,
    len: usize,
}

impl DmaPage {
    /// Allocates `len` bytes (rounded up by the kernel to whole pages), zeroed and page-aligned.
    pub fn new(len: usize) -> io::Result<Self> {
        let map = MmapOptions::new().len(len).map_anon()?;
        Ok(Self {
            map: MmapRaw::from(map),
            len,
        })
    }

    /// The address to hand to `vfio_dma_map`.
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false` for a successfully allocated page.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `data` to the start of the page (at most `len` bytes).
    pub fn copy_in(&self, data: &[u8]) {
        let n = data.len().min(self.len);
        let p = self.map.as_mut_ptr();
        for (i, b) in data[..n].iter().enumerate() {
            // SAFETY: i < n <= len, inside the live mapping; volatile because the device may
            // access the page by DMA (the caller only does this while the engine is idle).
            unsafe { p.add(i).write_volatile(*b) };
        }
    }

    /// Copies the start of the page to `out` (at most `len` bytes).
    pub fn copy_out(&self, out: &mut [u8]) {
        let n = out.len().min(self.len);
        let p = self.map.as_mut_ptr();
        for (i, b) in out[..n].iter_mut().enumerate() {
            // SAFETY: as in `copy_in`.
            *b = unsafe { p.add(i).read_volatile() };
        }
    }
}

/// Reads exactly `buf.len()` bytes at `offset` of `fd`.
pub fn pread_exact(fd: RawFd, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let off =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes; a bad fd only makes pread fail.
    let r = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off) };
    match r {
        r if r < 0 => Err(io::Error::last_os_error()),
        r if r as usize != buf.len() => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
        _ => Ok(()),
    }
}

/// Writes all of `buf` at `offset` of `fd`.
pub fn pwrite_all(fd: RawFd, buf: &[u8], offset: u64) -> io::Result<()> {
    let off =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `buf` is valid for `buf.len()` bytes of reads; a bad fd only makes pwrite fail.
    let r = unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), off) };
    match r {
        r if r < 0 => Err(io::Error::last_os_error()),
        r if r as usize != buf.len() => Err(io::Error::from(io::ErrorKind::WriteZero)),
        _ => Ok(()),
    }
}

/// Waits until one of `fds` is readable; returns which ones are. Retries on EINTR.
pub fn poll_readable(fds: &[RawFd], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structures.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        return Ok(pfds.iter().map(|p| p.revents != 0).collect());
    }
}

/// `ioctl(fd, request, &mut u32)`: the calling convention of every `/dev/eduN` ioctl.
pub fn ioctl_u32(fd: RawFd, request: u32, value: &mut u32) -> io::Result<()> {
    // SAFETY: the edu ioctls read and/or write one u32 through the pointer, which is valid for
    // both; an unknown request or fd only makes the call fail.
    let r = unsafe { libc::ioctl(fd, request as _, value as *mut u32) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dma_page_round_trip() {
        let p = DmaPage::new(4096).unwrap();
        assert_eq!(p.as_ptr() as usize % 4096, 0);
        p.copy_in(&[1, 2, 3]);
        let mut out = [0u8; 4];
        p.copy_out(&mut out);
        assert_eq!(out, [1, 2, 3, 0]);
    }

    #[test]
    fn mmio_over_a_plain_file_and_its_canary() {
        use std::os::fd::AsRawFd;
        let path = std::env::temp_dir().join(format!("edu-rig-mmio-{}", std::process::id()));
        std::fs::write(&path, vec![0u8; 4096]).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let m = Mmio::map(f.as_raw_fd(), 0, 4096).unwrap();
        m.write32(8, 0xdead_beef);
        assert_eq!(m.read32(8), 0xdead_beef);
        drop(m);
        std::fs::remove_file(&path).unwrap();
        assert!(!QUARANTINE.lock().unwrap().is_empty());
    }
}
