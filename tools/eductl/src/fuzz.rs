//! `eductl fuzz SEED LIMIT DEV SYSFS_DIR`: a hostile client of one edu device, reproducible from
//! its seed.
//!
//! It issues random system calls on `DEV` and the sysfs files in `SYSFS_DIR` until LIMIT (a call
//! count, or seconds with an `s` suffix) or SIGTERM: ioctls with random numbers and the valid
//! numbers with random argument pointers (valid, NULL, never mapped, `PROT_NONE`, read-only,
//! kernel, non-canonical, misaligned, straddling a page boundary), `pread`/`pwrite` at random
//! offsets with random lengths and buffers, `lseek` with every `whence`, `mmap` attempts, and
//! random reads and writes of the sysfs files. A file that reports `ENODEV` (its device was
//! unbound) is reopened.
//!
//! Every call is judged against the documented contract of the driver (README, "The driver"): the
//! errno must be one documented for that call with those arguments, and a success must return
//! what the documentation promises (the byte count of a transfer, `~x` for liveness, `n!`). The
//! table is [`Expect`]: `ENODEV` (device unbound) and `ETIMEDOUT` are allowed for every call that
//! reaches the device. It prints `fuzz seed=S calls=N unexpected=K`, then one line per operation
//! with the count of each result, and every unexpected result (the first 20); the exit status is
//! 1 if any result was unexpected.

use crate::cli::{at_most, check_dev, nth, parse_u64, Invocation, Usage};
use crate::{failnth::errno_label, open_dev, Failure, STOP};
use edu_regs::{regs, uapi};
use std::{
    collections::BTreeMap,
    fs::File,
    io,
    os::fd::AsRawFd,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

const PAGE: usize = 4096;
/// The device buffer's size, as an offset.
const BUF_SIZE: i64 = regs::DMA_BUF_SIZE as i64;

/// The fuzzer's generator: fastrand's wyrand, seeded, so that a run replays from the seed it
/// printed.
struct Rng(fastrand::Rng);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(fastrand::Rng::with_seed(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.u64(..)
    }

    /// A value in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.0.u64(0..n)
    }

    /// Picks one of `items`.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.0.usize(..items.len())]
    }
}

/// Four pages of user memory with known protections, for argument pointers: pages 0 and 1 are
/// read-write, page 2 read-only, page 3 `PROT_NONE`.
struct Arena {
    base: *mut u8,
}

/// What the kernel may do with a user range: read it (`copy_from_user`) and write it.
#[derive(Clone, Copy)]
struct Access {
    read: bool,
    write: bool,
}

impl Arena {
    fn new(rng: &mut Rng) -> io::Result<Self> {
        // SAFETY: A new private anonymous mapping; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4 * PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = p.cast::<u8>();
        // Random contents for the read-only page: what the kernel reads from there.
        for i in 0..PAGE {
            // SAFETY: Page 2 is inside the mapping and still writable.
            unsafe { *base.add(2 * PAGE + i) = rng.next() as u8 };
        }
        // SAFETY: Pages 2 and 3 are inside the mapping.
        let r = unsafe {
            libc::mprotect(base.add(2 * PAGE).cast(), PAGE, libc::PROT_READ)
                | libc::mprotect(base.add(3 * PAGE).cast(), PAGE, libc::PROT_NONE)
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { base })
    }

    /// What the kernel may do with `[addr, addr + len)`.
    fn access(&self, addr: usize, len: usize) -> Access {
        let base = self.base as usize;
        if len == 0 {
            return Access {
                read: true,
                write: true,
            };
        }
        let Some(end) = addr.checked_add(len) else {
            return Access {
                read: false,
                write: false,
            };
        };
        if addr < base || end > base + 4 * PAGE {
            // Outside the arena the fuzzer only uses addresses that are never mapped.
            return Access {
                read: false,
                write: false,
            };
        }
        let last_page = (end - 1 - base) / PAGE;
        Access {
            read: last_page <= 2,
            write: last_page <= 1,
        }
    }

    /// A random argument pointer for an access of `len` bytes.
    fn pointer(&self, rng: &mut Rng, len: usize) -> usize {
        let base = self.base as usize;
        match rng.below(12) {
            0..=3 => base + rng.below((2 * PAGE).saturating_sub(len).max(1) as u64) as usize,
            4 => 0,
            // Never mapped: below `mmap_min_addr`.
            5 => 8 + rng.below(0x8000) as usize,
            6 => base + 3 * PAGE + rng.below(PAGE as u64) as usize,
            7 => base + 2 * PAGE + rng.below(PAGE as u64) as usize,
            8 => rng.pick(&[
                0xffff_8880_0000_0000usize,
                0xffff_ffff_8100_0000,
                usize::MAX - 3,
            ]),
            9 => 0x8000_0000_0000_0000 | rng.next() as usize,
            // Straddling read-write into read-only, and read-only into PROT_NONE.
            10 => base + 2 * PAGE - 1 - rng.below(len.max(1) as u64) as usize,
            _ => base + 3 * PAGE - 1 - rng.below(len.max(1) as u64) as usize,
        }
    }

    /// Reads the u32 at `addr`, which must be readable.
    fn read_u32(&self, addr: usize) -> u32 {
        // SAFETY: The caller checked that `addr..addr + 4` is readable arena memory.
        unsafe { (addr as *const u32).read_unaligned() }
    }

    /// Writes `v` at `addr` if that is writable arena memory.
    fn write_u32(&self, addr: usize, v: u32) {
        if self.access(addr, 4).write {
            // SAFETY: Checked just above: writable arena memory.
            unsafe { (addr as *mut u32).write_unaligned(v) };
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: The mapping made in `new`.
        unsafe { libc::munmap(self.base.cast(), 4 * PAGE) };
    }
}

/// What the contract allows for one call: a success returning `ok` (`None`: success is not
/// allowed; `Some(None)`: any value), or a failure with one of `errnos`.
struct Expect {
    ok: Option<Option<i64>>,
    errnos: Vec<i32>,
}

impl Expect {
    fn fails(errnos: &[i32]) -> Self {
        Self {
            ok: None,
            errnos: errnos.to_vec(),
        }
    }

    fn succeeds(value: Option<i64>, errnos: &[i32]) -> Self {
        Self {
            ok: Some(value),
            errnos: errnos.to_vec(),
        }
    }

    fn allows(&self, ret: i64, errno: i32) -> bool {
        if ret >= 0 {
            matches!(self.ok, Some(v) if v.is_none_or(|v| v == ret))
        } else {
            self.errnos.contains(&errno)
        }
    }
}

/// Errnos of any call that reaches the device: unbound meanwhile, or the device did not answer.
const DEVICE: [i32; 2] = [libc::ENODEV, libc::ETIMEDOUT];

/// The result of a raw system call: its return value and errno.
fn sys(ret: i64) -> (i64, i32) {
    if ret < 0 {
        (ret, io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        (ret, 0)
    }
}

/// Type bytes of the ioctls the VFS handles itself before a driver sees the call (`FIOCLEX`,
/// `FIFREEZE`, `FS_IOC_*`, `FICLONE`, `FIBMAP`, ...): random numbers avoid them, the driver's
/// contract does not cover them.
const VFS_IOCTL_TYPES: [u32; 6] = [0x00, 0x15, 0x54, 0x58, 0x66, 0x94];

struct Fuzzer<'a> {
    rng: Rng,
    arena: Arena,
    dev: &'a str,
    sysfs: &'a str,
    file: Option<File>,
    /// Our idea of the file position (only lseek moves it).
    pos: i64,
    counts: BTreeMap<(&'static str, String), u64>,
    calls: u64,
    unexpected: Vec<String>,
}

impl Fuzzer<'_> {
    /// Records one call's result against what was expected.
    fn record(&mut self, op: &'static str, what: &str, ret: i64, errno: i32, exp: &Expect) {
        self.calls += 1;
        let label = if ret >= 0 {
            "ok".to_string()
        } else {
            errno_label(errno)
        };
        *self.counts.entry((op, label.clone())).or_default() += 1;
        if !exp.allows(ret, errno) {
            let want = exp
                .errnos
                .iter()
                .map(|&e| errno_label(e))
                .chain(exp.ok.map(|v| v.map_or("ok".into(), |v| format!("ok={v}"))))
                .collect::<Vec<_>>()
                .join("|");
            let got = if ret >= 0 { format!("ok={ret}") } else { label };
            self.unexpected
                .push(format!("op={op} {what}: got {got}, want {want}"));
        }
        if ret < 0 && errno == libc::ENODEV && !op.starts_with("sysfs") {
            // The device was unbound: this file stays dead, open a new one.
            self.file = None;
        }
    }

    /// Opens the device if no file is open. Returns its descriptor.
    fn fd(&mut self) -> Option<i32> {
        if self.file.is_none() {
            let r = open_dev(self.dev);
            let (ret, errno) = match &r {
                Ok(_) => (0, 0),
                Err(e) => (-1, e.raw_os_error().unwrap_or(0)),
            };
            // Unbound: the node is gone (ENOENT) or not yet published (ENODEV).
            self.record(
                "open",
                self.dev,
                ret,
                errno,
                &Expect::succeeds(None, &[libc::ENOENT, libc::ENODEV]),
            );
            self.file = r.ok();
            self.pos = 0;
        }
        self.file.as_ref().map(|f| f.as_raw_fd())
    }

    fn ioctl_random(&mut self) {
        let Some(fd) = self.fd() else { return };
        let mut nr = self.rng.next() as u32;
        if self.rng.below(2) == 0 {
            // The driver's type with a random number, direction and size.
            nr = (nr & !0xff00) | (u32::from(uapi::EDU_IOC_MAGIC) << 8);
        }
        if VFS_IOCTL_TYPES.contains(&((nr >> 8) & 0xff)) {
            nr ^= 0x0100;
        }
        let valid = [
            uapi::EDU_IOC_IDENT,
            uapi::EDU_IOC_LIVENESS,
            uapi::EDU_IOC_FACTORIAL,
            uapi::EDU_IOC_RAISE,
        ];
        if valid.contains(&nr) {
            return self.ioctl_valid(nr);
        }
        let ptr = self.arena.pointer(&mut self.rng, 4);
        // SAFETY: The kernel validates the argument; an unknown number must not touch it.
        let (ret, errno) = sys(unsafe { libc::ioctl(fd, nr as _, ptr) }.into());
        self.record(
            "ioctl-unknown",
            &format!("nr={nr:#x} arg={ptr:#x}"),
            ret,
            errno,
            &Expect::fails(&[libc::ENOTTY]),
        );
    }

    fn ioctl_valid(&mut self, nr: u32) {
        let Some(fd) = self.fd() else { return };
        let ptr = self.arena.pointer(&mut self.rng, 4);
        let acc = self.arena.access(ptr, 4);
        let x = match self.rng.below(4) {
            0 => self.rng.below(16) as u32,
            1 => self.rng.pick(&[0, 0x1000, 0x1, 0x100, 0x101, 0x8000_0000]),
            _ => self.rng.next() as u32,
        };
        self.arena.write_u32(ptr, x);
        let input = if acc.read {
            self.arena.read_u32(ptr)
        } else {
            0
        };
        let efault = [libc::EFAULT, libc::ENODEV];
        let (op, exp) = match nr {
            uapi::EDU_IOC_IDENT if !acc.write => ("ioctl-ident", Expect::fails(&efault)),
            uapi::EDU_IOC_IDENT => ("ioctl-ident", Expect::succeeds(Some(0), &DEVICE)),
            uapi::EDU_IOC_RAISE if !acc.read => ("ioctl-raise", Expect::fails(&efault)),
            uapi::EDU_IOC_RAISE
                if input == 0 || input & (regs::IRQ_FACTORIAL | regs::IRQ_DMA) != 0 =>
            {
                ("ioctl-raise", Expect::fails(&[libc::EINVAL]))
            }
            uapi::EDU_IOC_RAISE => ("ioctl-raise", Expect::succeeds(Some(0), &DEVICE)),
            uapi::EDU_IOC_LIVENESS if !acc.read || !acc.write => {
                ("ioctl-liveness", Expect::fails(&efault))
            }
            uapi::EDU_IOC_LIVENESS => ("ioctl-liveness", Expect::succeeds(Some(0), &DEVICE)),
            _ if !acc.read => ("ioctl-factorial", Expect::fails(&efault)),
            _ if input > regs::FACTORIAL_MAX => {
                ("ioctl-factorial", Expect::fails(&[libc::EOVERFLOW]))
            }
            _ if !acc.write => ("ioctl-factorial", Expect::fails(&efault)),
            _ => ("ioctl-factorial", Expect::succeeds(Some(0), &DEVICE)),
        };
        // SAFETY: The kernel validates the argument pointer.
        let (ret, errno) = sys(unsafe { libc::ioctl(fd, nr as _, ptr) }.into());
        let what = format!("arg={ptr:#x} in={input:#x}");
        if ret == 0 {
            // Check what a successful call returned.
            let out = self.arena.read_u32(ptr);
            let good = match op {
                "ioctl-ident" => out & regs::IDENT_MAGIC_MASK == regs::IDENT_MAGIC,
                "ioctl-liveness" => out == !input,
                "ioctl-factorial" => Some(out) == regs::factorial(input),
                _ => true,
            };
            if !good {
                // Recorded as a failure no errno explains.
                self.unexpected.push(format!(
                    "op={op} {what}: succeeded with a wrong value {out:#x}"
                ));
                self.calls += 1;
                return;
            }
        }
        self.record(op, &what, ret, errno, &exp);
    }

    /// A random file offset: mostly inside or near the buffer, sometimes far out.
    fn offset(&mut self) -> i64 {
        match self.rng.below(8) {
            0..=2 => self.rng.below(BUF_SIZE as u64 + 1) as i64,
            3 => BUF_SIZE - 8 + self.rng.below(16) as i64,
            4 => -(self.rng.below(8192) as i64) - 1,
            5 => i64::MAX - self.rng.below(8192) as i64,
            6 => self.rng.next() as i64,
            _ => BUF_SIZE + self.rng.below(1 << 20) as i64,
        }
    }

    fn transfer(&mut self, write: bool) {
        let Some(fd) = self.fd() else { return };
        let mut off = self.offset();
        // Transfers take ~100 ms of device time each: keep in-range ones rare.
        if (0..BUF_SIZE).contains(&off) && self.rng.below(3) != 0 {
            off += BUF_SIZE;
        }
        let len = match self.rng.below(6) {
            0 => 0,
            1 => 1 + self.rng.below(16) as usize,
            2 => 1 + self.rng.below(2 * PAGE as u64) as usize,
            3 => PAGE,
            4 => usize::MAX - self.rng.below(4096) as usize,
            _ => 1 << (self.rng.below(40)),
        };
        let ptr = self.arena.pointer(&mut self.rng, len.min(2 * PAGE));
        let overflow = off < 0 || off.checked_add(len.min(i64::MAX as usize) as i64).is_none();
        let span = u64::try_from(off)
            .ok()
            .and_then(|o| regs::dma_span(o, len.min(0x7fff_f000)));
        // A range that ends beyond user space may be refused by the VFS (`access_ok`) before the
        // driver sees it, or not: where user space ends is the architecture's business (x86
        // with LAM, as under `-cpu max`, moves it to 2^63), and the driver only copies what it
        // transfers. So such a range may fail with EFAULT or behave as its transferred part.
        let beyond = ptr.checked_add(len).is_none_or(|e| e > 0x7fff_ffff_f000);
        let maybe: &[i32] = if beyond { &[libc::EFAULT] } else { &[] };
        let acc = span.map_or(
            Access {
                read: true,
                write: true,
            },
            |n| self.arena.access(ptr, n),
        );
        let mut errnos = vec![];
        if !(if write { acc.read } else { acc.write }) {
            errnos.push(libc::EFAULT);
        }
        if overflow {
            errnos.push(libc::EINVAL);
        }
        let exp = if len == 0 && !overflow {
            Expect::succeeds(Some(0), &[&errnos[..], maybe].concat())
        } else if !errnos.is_empty() {
            if span.is_some() {
                errnos.extend(DEVICE);
            }
            errnos.extend(maybe);
            Expect::fails(&errnos)
        } else {
            match span {
                Some(n) => Expect::succeeds(Some(n as i64), &[&DEVICE[..], maybe].concat()),
                None if write => Expect::fails(&[&[libc::ENOSPC][..], maybe].concat()),
                None => Expect::succeeds(Some(0), maybe),
            }
        };
        let (op, ret) = if write {
            // SAFETY: The kernel validates the buffer.
            ("pwrite", unsafe {
                libc::pwrite(fd, ptr as *const _, len, off)
            })
        } else {
            // SAFETY: The kernel validates the buffer; writable arena pages are ours to clobber.
            ("pread", unsafe { libc::pread(fd, ptr as *mut _, len, off) })
        };
        let (ret, errno) = sys(ret as i64);
        self.record(
            op,
            &format!("off={off} len={len} buf={ptr:#x}"),
            ret,
            errno,
            &exp,
        );
    }

    fn seek(&mut self) {
        let Some(fd) = self.fd() else { return };
        let whence = self.rng.below(6) as i32;
        let off = match self.rng.below(4) {
            0 => self.rng.below(BUF_SIZE as u64 + 1) as i64,
            1 => self.rng.below(2 * BUF_SIZE as u64) as i64 - BUF_SIZE,
            2 => self.rng.next() as i64,
            _ => BUF_SIZE + 1,
        };
        // The contract: the position stays in [0, 4096], EINVAL outside; `fixed_size_llseek`
        // refuses every other whence (SEEK_DATA, SEEK_HOLE, unknown) with EINVAL.
        let base = match whence {
            libc::SEEK_SET => Some(0),
            libc::SEEK_CUR => Some(self.pos),
            libc::SEEK_END => Some(BUF_SIZE),
            _ => None,
        };
        let exp = match base.map(|b| b.checked_add(off)) {
            // SEEK_CUR with 0 reports the position without checking it.
            Some(Some(p)) if (0..=BUF_SIZE).contains(&p) => {
                Expect::succeeds(Some(p), &[libc::ENODEV])
            }
            _ => Expect::fails(&[libc::EINVAL, libc::ENODEV]),
        };
        // SAFETY: Plain syscall on our descriptor.
        let (ret, errno) = sys(unsafe { libc::lseek(fd, off, whence) });
        if ret >= 0 {
            self.pos = ret;
        }
        self.record(
            "lseek",
            &format!("off={off} whence={whence}"),
            ret,
            errno,
            &exp,
        );
    }

    fn mmap(&mut self) {
        let Some(fd) = self.fd() else { return };
        let len = self.rng.pick(&[0usize, 1, PAGE, PAGE + 1, 1 << 20]);
        let prot = self.rng.pick(&[
            libc::PROT_READ,
            libc::PROT_WRITE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::PROT_NONE,
        ]);
        let flags = self.rng.pick(&[libc::MAP_SHARED, libc::MAP_PRIVATE]);
        let off = match self.rng.below(3) {
            0 => 0,
            1 => (self.rng.below(1 << 20) as i64) * PAGE as i64,
            _ => self.rng.below(1 << 30) as i64,
        };
        // edu has no mmap: ENODEV, or EINVAL for arguments the VFS refuses first.
        let mut errnos = vec![libc::ENODEV];
        if len == 0 || off % PAGE as i64 != 0 {
            errnos = vec![libc::EINVAL];
        }
        // SAFETY: A new mapping at an address the kernel chooses; unmapped if it succeeds.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, off) };
        let (ret, errno) = if p == libc::MAP_FAILED {
            sys(-1)
        } else {
            // SAFETY: The mapping just made.
            unsafe { libc::munmap(p, len) };
            (p as i64 & i64::MAX, 0)
        };
        self.record(
            "mmap",
            &format!("len={len} prot={prot} flags={flags} off={off}"),
            ret,
            errno,
            &Expect::fails(&errnos),
        );
    }

    fn sysfs_read(&mut self) {
        let attr = self
            .rng
            .pick(&["ident", "irq_mode", "irq_count", "factorial"]);
        let path = format!("{}/{attr}", self.sysfs);
        let (ret, errno, exp) = match std::fs::read_to_string(&path) {
            Ok(s) => {
                let good = match attr {
                    "ident" => s
                        .trim()
                        .strip_prefix("0x")
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .is_some_and(|v| v & regs::IDENT_MAGIC_MASK == regs::IDENT_MAGIC),
                    "irq_mode" => s == "msi\n" || s == "intx\n",
                    _ => s.trim().parse::<u64>().is_ok(),
                };
                (if good { 0 } else { -1 }, 0, Expect::succeeds(None, &[]))
            }
            Err(e) => (-1, e.raw_os_error().unwrap_or(0), {
                let mut errnos = vec![libc::ENOENT, libc::ENODEV];
                if attr == "factorial" {
                    errnos.push(libc::ENODATA);
                }
                Expect::fails(&errnos)
            }),
        };
        self.record("sysfs-read", attr, ret, errno, &exp);
    }

    fn sysfs_write(&mut self) {
        let attr = self
            .rng
            .pick(&["factorial", "factorial", "factorial", "ident", "irq_count"]);
        let path = format!("{}/{attr}", self.sysfs);
        let data: Vec<u8> = match self.rng.below(6) {
            0 => format!("{}\n", self.rng.below(13)).into_bytes(),
            1 => format!("{}", self.rng.below(13)).into_bytes(),
            2 => format!("{}", self.rng.next() as u32).into_bytes(),
            3 => format!("{}", self.rng.next() as i64).into_bytes(),
            4 => vec![],
            _ => (0..1 + self.rng.below(24))
                .map(|_| self.rng.next() as u8)
                .collect(),
        };
        let bad_buffer = self.rng.below(8) == 0;
        let file = match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(f) => f,
            Err(e) => {
                // Gone (ENOENT), going (ENODEV), or a read-only file (EACCES).
                let errnos: &[i32] = if attr == "factorial" {
                    &[libc::ENOENT, libc::ENODEV]
                } else {
                    &[libc::ENOENT, libc::ENODEV, libc::EACCES]
                };
                self.record(
                    "sysfs-open",
                    attr,
                    -1,
                    e.raw_os_error().unwrap_or(0),
                    &Expect::fails(errnos),
                );
                return;
            }
        };
        if attr != "factorial" {
            // A read-only attribute must not open for writing.
            self.record("sysfs-open", attr, 0, 0, &Expect::fails(&[libc::EACCES]));
            return;
        }
        self.record("sysfs-open", attr, 0, 0, &Expect::succeeds(None, &[]));
        let parsed = std::str::from_utf8(&data)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        let exp = if data.is_empty() {
            Expect::succeeds(Some(0), &[libc::ENODEV])
        } else if bad_buffer {
            Expect::fails(&[libc::EFAULT, libc::ENODEV])
        } else {
            match parsed {
                Some(n) if n <= regs::FACTORIAL_MAX => {
                    Expect::succeeds(Some(data.len() as i64), &DEVICE)
                }
                Some(_) => Expect::fails(&[libc::EOVERFLOW, libc::ENODEV]),
                None => Expect::fails(&[libc::EINVAL, libc::ENODEV]),
            }
        };
        let ptr = if bad_buffer {
            self.arena.base as usize + 3 * PAGE
        } else {
            data.as_ptr() as usize
        };
        // SAFETY: The kernel validates the buffer.
        let (ret, errno) =
            sys(unsafe { libc::write(file.as_raw_fd(), ptr as *const _, data.len()) } as i64);
        let shown = String::from_utf8_lossy(&data).escape_debug().to_string();
        self.record(
            "sysfs-write",
            &format!("{attr} {shown:?}"),
            ret,
            errno,
            &exp,
        );
    }

    fn step(&mut self) {
        match self.rng.below(1000) {
            0..=249 => self.ioctl_random(),
            250..=599 => {
                let nr = self.rng.pick(&[
                    uapi::EDU_IOC_IDENT,
                    uapi::EDU_IOC_LIVENESS,
                    uapi::EDU_IOC_FACTORIAL,
                    uapi::EDU_IOC_RAISE,
                ]);
                self.ioctl_valid(nr)
            }
            600..=639 => self.transfer(false),
            640..=679 => self.transfer(true),
            680..=779 => self.seek(),
            780..=829 => self.mmap(),
            830..=909 => self.sysfs_read(),
            910..=989 => self.sysfs_write(),
            _ => self.file = None,
        }
    }
}

/// The arguments of `eductl fuzz SEED LIMIT DEV SYSFS_DIR`.
#[derive(Debug, PartialEq)]
pub(crate) struct Params {
    /// The generator's seed.
    pub(crate) seed: u64,
    /// LIMIT as a call count (`u64::MAX` when it is a time).
    pub(crate) max_calls: u64,
    /// LIMIT as seconds (`Ns`).
    pub(crate) seconds: Option<u64>,
    /// The device.
    pub(crate) dev: String,
    /// Its sysfs directory.
    pub(crate) sysfs: String,
}

/// Parses `SEED LIMIT DEV SYSFS_DIR` (after `fuzz`).
pub(crate) fn parse(args: &[String]) -> Result<Invocation, Usage> {
    at_most("fuzz", args, 4)?;
    let seed = parse_u64(nth(args, 0, "fuzz SEED")?)?;
    let limit = nth(args, 1, "fuzz CALLS|SECONDSs")?;
    let (max_calls, seconds) = match limit.strip_suffix('s') {
        Some(secs) => (u64::MAX, Some(parse_u64(secs)?)),
        None => (parse_u64(limit)?, None),
    };
    let dev = nth(args, 2, "fuzz DEV")?;
    check_dev(dev)?;
    Ok(Invocation::Fuzz(Params {
        seed,
        max_calls,
        seconds,
        dev: dev.to_string(),
        sysfs: nth(args, 3, "fuzz SYSFS_DIR")?.to_string(),
    }))
}

/// `eductl fuzz SEED LIMIT DEV SYSFS_DIR` (see the module docs).
pub(crate) fn fuzz(params: &Params) -> Result<(), Failure> {
    let seed = params.seed;
    let max_calls = params.max_calls;
    let deadline = params
        .seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    let (dev, sysfs) = (params.dev.as_str(), params.sysfs.as_str());
    crate::catch_stop();
    let mut rng = Rng::new(seed);
    let arena = Arena::new(&mut rng)?;
    let mut f = Fuzzer {
        rng,
        arena,
        dev,
        sysfs,
        file: None,
        pos: 0,
        counts: BTreeMap::new(),
        calls: 0,
        unexpected: vec![],
    };
    let start = Instant::now();
    while f.calls < max_calls
        && deadline.is_none_or(|d| Instant::now() < d)
        && !STOP.load(Ordering::Relaxed)
    {
        f.step();
    }
    println!(
        "fuzz seed={seed} calls={} unexpected={} seconds={:.1}",
        f.calls,
        f.unexpected.len(),
        start.elapsed().as_secs_f64()
    );
    let mut ops: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((op, result), n) in &f.counts {
        ops.entry(op).or_default().push(format!("{result}={n}"));
    }
    for (op, results) in ops {
        println!("fuzz seed={seed} op={op} {}", results.join(" "));
    }
    for u in f.unexpected.iter().take(20) {
        println!("fuzz seed={seed} UNEXPECTED {u}");
    }
    if f.unexpected.is_empty() {
        Ok(())
    } else {
        Err(Failure::Os(io::Error::other(format!(
            "{} unexpected results",
            f.unexpected.len()
        ))))
    }
}
