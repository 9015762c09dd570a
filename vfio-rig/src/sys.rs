// SPDX-License-Identifier: GPL-2.0

//! Every `unsafe` of the rig except the DMA map call, behind safe APIs: the BAR0 mapping with
//! volatile 32-bit accesses and its teardown canary, the DMA page, positioned reads and writes on
//! a raw fd, and `poll`.

use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;
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
/// [`Mmio::revoke`] (called by step 4's undo, and by `Drop`) replaces the mapping in place by an
/// inaccessible (`PROT_NONE`) anonymous mapping of the same range. The `Mmio` keeps its address,
/// so any access through it after the revocation really reaches the canary and faults (SIGSEGV)
/// instead of reaching the device, a panic, or some other mapping. The replacement also drops the
/// mapping's reference on the VFIO device file, so that closing the device really releases it.
/// The range stays reserved for as long as the `Mmio` lives, and after that in a process-wide
/// quarantine of the last 4096 ranges.
///
/// # Invariants
///
/// `addr..addr + len` is, for the whole life of the value, either the live shared mapping held
/// in `map`, or (once `map` is `None`) a `PROT_NONE` reservation owned by this value; `addr` is
/// page-aligned and `len` is a non-zero multiple of 4.
#[derive(Debug)]
pub struct Mmio {
    addr: NonNull<u8>,
    len: usize,
    /// The device mapping while it is live; `None` once revoked.
    map: Mutex<Option<MmapRaw>>,
}

// SAFETY: `addr` is only used for volatile accesses to device registers (or the canary), which
// any thread may do; the mapping itself is behind the mutex.
unsafe impl Send for Mmio {}
// SAFETY: as for `Send`: `&Mmio` gives only volatile register accesses and `revoke`, which
// serialises on the mutex.
unsafe impl Sync for Mmio {}

impl Mmio {
    /// Maps `len` bytes at `offset` of `fd` (a VFIO device fd; the offset is the region offset).
    pub fn map(fd: RawFd, offset: u64, len: usize) -> io::Result<Self> {
        if len == 0 || len % 4 != 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let map = MmapOptions::new().offset(offset).len(len).map_raw(fd)?;
        let addr = NonNull::new(map.as_mut_ptr()).ok_or(io::ErrorKind::InvalidData)?;
        Ok(Self {
            addr,
            len,
            map: Mutex::new(Some(map)),
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

    /// Whether [`Mmio::revoke`] has run: accesses now fault.
    pub fn is_revoked(&self) -> bool {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }

    fn ptr(&self, off: usize) -> *mut u32 {
        assert!(
            off % 4 == 0 && off + 4 <= self.len,
            "MMIO offset {off:#x} out of range"
        );
        // The offset is in bounds (checked above), so this stays inside the range.
        self.addr.as_ptr().wrapping_add(off).cast::<u32>()
    }

    /// Reads the 32-bit register at byte offset `off` (aligned, in range, or this panics).
    ///
    /// After [`Mmio::revoke`] this faults (SIGSEGV): that is the canary.
    #[inline]
    pub fn read32(&self, off: usize) -> u32 {
        let p = self.ptr(off);
        // SAFETY: `p` is 4-byte aligned and inside `addr..addr + len` (`ptr`'s bounds check),
        // which by the type invariant is the live device mapping or our own PROT_NONE
        // reservation, never memory of anyone else: the access reaches the register, or faults.
        // MMIO must be read with a volatile access of exactly 32 bits.
        unsafe { p.read_volatile() }
    }

    /// Writes the 32-bit register at byte offset `off` (aligned, in range, or this panics).
    ///
    /// After [`Mmio::revoke`] this faults (SIGSEGV): that is the canary.
    #[inline]
    pub fn write32(&self, off: usize, value: u32) {
        let p = self.ptr(off);
        // SAFETY: as in `read32`; the device mapping is shared and writable (VFIO BAR mapping).
        unsafe { p.write_volatile(value) }
    }

    /// Replaces the device mapping by a `PROT_NONE` canary of the same range (idempotent).
    pub fn revoke(&self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let Some(m) = map.take() else { return };
        let addr = self.addr.as_ptr();
        // SAFETY: `addr..addr + len` is exactly our mapping, which nobody else owns; MAP_FIXED
        // replaces it atomically by an anonymous PROT_NONE mapping, which we then own (type
        // invariant). No Rust reference into the mapping exists: it was only ever accessed
        // through raw volatile pointers.
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
            // Keep the range ours in any case: make the device mapping itself inaccessible (it
            // then keeps its reference on the device file, a leak, but never a stray access).
            // SAFETY: the range is our live mapping, as above.
            unsafe { libc::mprotect(addr.cast(), self.len, libc::PROT_NONE) };
        }
        // The PROT_NONE range is ours now: memmap2 must never unmap it.
        std::mem::forget(m);
    }
}

impl Drop for Mmio {
    fn drop(&mut self) {
        self.revoke();
        let mut q = QUARANTINE.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back((self.addr.as_ptr() as usize, self.len));
        while q.len() > CANARY_KEEP {
            if let Some((a, l)) = q.pop_front() {
                // SAFETY: (a, l) is a PROT_NONE reservation made by `revoke` whose `Mmio` is gone;
                // it is owned only by the quarantine and nothing points into it legitimately.
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

    /// The `/proc/self/maps` permissions of the mapping that starts at `addr`.
    fn perms_at(addr: usize) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().find_map(|l| {
            let (range, rest) = l.split_once(' ')?;
            let start = usize::from_str_radix(range.split_once('-')?.0, 16).ok()?;
            (start == addr).then(|| rest.split(' ').next().unwrap_or("").to_string())
        })
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
        std::fs::remove_file(&path).unwrap();
        let addr = m.addr.as_ptr() as usize;
        m.write32(8, 0xdead_beef);
        assert_eq!(m.read32(8), 0xdead_beef);
        assert_eq!(perms_at(addr).as_deref(), Some("rw-s"));
        assert!(!m.is_revoked());
        m.revoke();
        assert!(m.is_revoked());
        // The same range is now an inaccessible private mapping...
        assert_eq!(perms_at(addr).as_deref(), Some("---p"));
        // ...and a late access through the revoked `Mmio` faults. Tried in a child process:
        // SAFETY: the child only does the access and `_exit`, both async-signal-safe.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            let v = m.read32(8);
            // SAFETY: `_exit` is always safe to call; reaching it means no fault.
            unsafe { libc::_exit(if v == 0xdead_beef { 3 } else { 4 }) };
        }
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is a valid out pointer.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
            "a late access did not fault (wait status {status:#x})"
        );
        // Dropped, the range stays reserved in the quarantine.
        drop(m);
        assert_eq!(perms_at(addr).as_deref(), Some("---p"));
        assert!(QUARANTINE
            .lock()
            .unwrap()
            .iter()
            .any(|&(a, l)| a == addr && l == 4096));
    }
}
