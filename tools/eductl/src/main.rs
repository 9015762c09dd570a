//! `eductl`: drives `/dev/eduN` from the command line.
//!
//! Every failure prints `error: <ERRNO NAME> (<message>)` and exits with status 1, so that shell
//! tests can match the exact errno the driver returned.
//!
//! ```text
//! eductl DEV ident                      print the identification register (hex)
//! eductl DEV liveness X                 print what the liveness register returns for X (hex)
//! eductl DEV factorial N                print N! computed by the device
//! eductl DEV raise V                    raise the interrupt with V
//! eductl DEV ioctl NR                   issue raw ioctl number NR (decimal or 0x hex) with a valid pointer
//! eductl DEV badptr ident|factorial|raise  issue the ioctl with an invalid user pointer
//! eductl DEV pwrite OFF HEXBYTES|@FILE  write bytes at OFF, print the count written
//! eductl DEV pread OFF LEN [@FILE]     read LEN bytes at OFF, print them as hex (or save them)
//! eductl DEV seek OFF set|cur|end [neg] lseek (to -OFF with neg), print the new offset
//! eductl DEV sigread MS [restart]       DMA-read the buffer with a signal due in MS milliseconds,
//!                                       its handler without SA_RESTART (prints the byte count or
//!                                       the errno) or with it ("N after K signals")
//! eductl DEV loop-read SECONDS          DMA-read the whole buffer until an error or the time is up
//! eductl DEV uffd-pwrite OFF LEN        pwrite LEN bytes from a userfaultfd page that is never
//!                                       served: blocks in the driver's user copy until killed;
//!                                       prints "blocking" first
//! eductl DEV hammer SECONDS [SYSFS_DIR] ioctls (and sysfs reads) in a loop, reopening DEV after
//!                                       errors, until the time is up or SIGTERM; checks every
//!                                       value, prints the counts, fails if any value was wrong
//! eductl DEV storm SECONDS              raise interrupts back to back until the time is up or
//!                                       SIGTERM; prints the count
//! eductl FILE write VALUE               write VALUE to a (sysfs) file in one write(2)
//! eductl FILE read                      print a (sysfs) file
//! eductl BDF cycle COUNT                unbind and rebind BDF from the edu driver COUNT times,
//!                                       print the median and max of each
//! eductl failnth N OP ARGS...           make one system call (OP: init, write, open, ioctl,
//!                                       pread, pwrite, seek) with /proc/thread-self/fail-nth
//!                                       set to N; print whether the fault was injected and the
//!                                       call's result (module `failnth`)
//! eductl fuzz SEED CALLS|SECONDSs DEV SYSFS_DIR
//!                                       random hostile calls on DEV and its sysfs files, each
//!                                       judged against the documented errnos; print the seed,
//!                                       the counts and every unexpected result (module `fuzz`)
//! ```
//!
//! DEV is a path such as `/dev/edu0`, or `fd:N` for a descriptor inherited from the shell
//! (`exec 3<>/dev/edu0; eductl fd:3 ident`).

mod failnth;
mod fuzz;

use edu_regs::{errno_name, uapi};
use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    os::{
        fd::{AsRawFd, FromRawFd},
        unix::fs::FileExt,
    },
    process::ExitCode,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// An error with the errno the kernel returned, when there is one.
struct Failure(io::Error);

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Self(e)
    }
}

fn usage(msg: &str) -> Failure {
    Failure(io::Error::new(io::ErrorKind::InvalidInput, msg.to_string()))
}

fn parse_u64(s: &str) -> Result<u64, Failure> {
    let r = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| usage(&format!("not a number: {s}")))
}

fn parse_u32(s: &str) -> Result<u32, Failure> {
    u32::try_from(parse_u64(s)?).map_err(|_| usage(&format!("out of range: {s}")))
}

/// Issues ioctl `nr` on `f` with `arg` as its in/out value.
fn ioctl_u32(f: &File, nr: u32, arg: &mut u32) -> io::Result<()> {
    // SAFETY: `arg` is a valid, writable u32 for the duration of the call; every edu ioctl takes
    // a pointer to a u32.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), nr as _, arg as *mut u32) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Issues ioctl `nr` with a pointer that is not mapped.
fn ioctl_badptr(f: &File, nr: u32) -> io::Result<()> {
    // SAFETY: The kernel validates the pointer; an unmapped address only yields EFAULT.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), nr as _, 8usize as *mut u32) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, Failure> {
    if s.len() % 2 != 0 {
        return Err(usage("odd number of hex digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| usage("bad hex")))
        .collect()
}

/// Opens DEV: a path, or `fd:N` for an inherited descriptor.
fn open_dev(dev: &str) -> io::Result<File> {
    match dev.strip_prefix("fd:") {
        Some(n) => {
            let fd: i32 = n
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad fd"))?;
            // SAFETY: `fd` is inherited from the parent for this process's use; fcntl checks it.
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: The descriptor is open (checked above) and owned by this process from now.
            Ok(unsafe { File::from_raw_fd(fd) })
        }
        None => OpenOptions::new().read(true).write(true).open(dev),
    }
}

/// Writes `value` to a sysfs file.
fn sysfs_write(path: &str, value: &str) -> io::Result<()> {
    std::fs::write(path, value)
}

/// Median and maximum of `v`, in milliseconds.
fn median_max(v: &mut [Duration]) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(v[v.len() / 2]), ms(v[v.len() - 1]))
}

/// Unbinds and rebinds `bdf` `count` times, timing each half.
fn cycle(bdf: &str, count: usize) -> Result<(), Failure> {
    let drv = "/sys/bus/pci/drivers/edu";
    let (mut unbind, mut bind) = (Vec::new(), Vec::new());
    for _ in 0..count.max(1) {
        let t = Instant::now();
        sysfs_write(&format!("{drv}/unbind"), bdf)?;
        unbind.push(t.elapsed());
        let t = Instant::now();
        sysfs_write(&format!("{drv}/bind"), bdf)?;
        bind.push(t.elapsed());
    }
    let total: Vec<Duration> = unbind.iter().zip(&bind).map(|(a, b)| *a + *b).collect();
    let (um, ux) = median_max(&mut unbind);
    let (bm, bx) = median_max(&mut bind);
    let (tm, tx) = median_max(&mut total.clone());
    println!(
        "cycles={count} cycle_median_ms={tm:.2} cycle_max_ms={tx:.2} unbind_median_ms={um:.2} \
         unbind_max_ms={ux:.2} bind_median_ms={bm:.2} bind_max_ms={bx:.2}"
    );
    Ok(())
}

/// Set by SIGTERM/SIGINT: long-running commands stop and report.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_sig: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Makes SIGTERM and SIGINT set [`STOP`] instead of killing the process.
fn catch_stop() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: `on_stop` is async-signal-safe (one atomic store).
        unsafe { libc::signal(sig, on_stop as *const () as libc::sighandler_t) };
    }
}

/// SIGALRMs handled so far.
static ALARMS: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_alarm(_sig: libc::c_int) {
    ALARMS.fetch_add(1, Ordering::Relaxed);
}

/// Arranges for SIGALRM to interrupt this process's next blocking call after `after`. Without
/// `restart` the handler is installed without `SA_RESTART`, so the call fails with `EINTR`; with
/// it the kernel restarts a call that was interrupted before it did anything.
fn interrupt_after(after: Duration, restart: bool) -> io::Result<()> {
    // SAFETY: A zeroed `sigaction` is a valid "no flags, empty mask" value.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = on_alarm as *const () as libc::sighandler_t;
    if restart {
        act.sa_flags = libc::SA_RESTART;
    }
    // SAFETY: `act` is a valid action; the handler does nothing.
    if unsafe { libc::sigaction(libc::SIGALRM, &act, std::ptr::null_mut()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let timer = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: after.as_secs() as libc::time_t,
            tv_usec: after.subsec_micros() as libc::suseconds_t,
        },
    };
    // SAFETY: `timer` is a valid one-shot timer value.
    if unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether a `sysfs` attribute of an edu reads as it must: `ident` the identification value,
/// `irq_mode` a mode name, `irq_count` a number, `factorial` some k! with k <= 12.
fn sysfs_value_ok(attr: &str, text: &str) -> bool {
    let t = text.trim_end_matches('\n');
    match attr {
        "ident" => t == format!("{:#010x}", edu_regs::regs::IDENT_VALUE),
        "irq_mode" => t == "msi" || t == "intx",
        "irq_count" => t.parse::<u64>().is_ok(),
        "factorial" => t.parse::<u32>().is_ok_and(|v| {
            (0..=edu_regs::regs::FACTORIAL_MAX).any(|k| edu_regs::regs::factorial(k) == Some(v))
        }),
        _ => false,
    }
}

/// Raises interrupts on `dev` back to back for `secs` seconds (or until SIGTERM): an interrupt
/// storm for the listener tests. Prints how many were raised.
fn storm(dev: &str, secs: u64) -> Result<(), Failure> {
    let end = Instant::now() + Duration::from_secs(secs);
    catch_stop();
    let file = open_dev(dev)?;
    let mut raised = 0u64;
    while Instant::now() < end && !STOP.load(Ordering::Relaxed) {
        let mut v = 0x1000;
        ioctl_u32(&file, uapi::EDU_IOC_RAISE, &mut v)?;
        raised += 1;
    }
    println!("storm raised={raised}");
    Ok(())
}

/// Issues ioctls (and reads `sysfs` files) on `dev` for `secs` seconds, reopening it whenever a
/// call fails, which is what a user sees while the device is unbound and rebound. Every value
/// returned is checked (identification, liveness inverse, factorials, sysfs contents): calls
/// that fail are counted as `failed`, calls that succeed with a wrong value as `wrong`, which
/// fails the run.
fn hammer(dev: &str, secs: u64, sysfs: Option<&str>) -> Result<(), Failure> {
    let end = Instant::now() + Duration::from_secs(secs);
    let (mut ioctl_ok, mut sysfs_ok, mut failed, mut wrong, mut reopened) = (0u64, 0, 0, 0, 0);
    let mut first_wrong = None;
    // The time of each successful ioctl: the callers' view of the churn.
    let mut ioctl_ns: Vec<u64> = Vec::new();
    catch_stop();
    let mut file = open_dev(dev).ok();
    let mut i = 0u32;
    while Instant::now() < end && !STOP.load(Ordering::Relaxed) {
        i = i.wrapping_add(1);
        if let Some(dir) = sysfs {
            let attr = ["ident", "irq_mode", "irq_count", "factorial"][(i % 4) as usize];
            match std::fs::read_to_string(format!("{dir}/{attr}")) {
                Ok(t) if sysfs_value_ok(attr, &t) => sysfs_ok += 1,
                Ok(t) => {
                    wrong += 1;
                    first_wrong.get_or_insert_with(|| format!("sysfs {attr} read {t:?}"));
                }
                Err(_) => failed += 1,
            }
        }
        let Some(f) = &file else {
            std::thread::sleep(Duration::from_millis(1));
            file = open_dev(dev).ok();
            reopened += 1;
            continue;
        };
        let n = i % 13;
        let (name, nr, arg, want) = [
            (
                "ident",
                uapi::EDU_IOC_IDENT,
                0,
                Some(edu_regs::regs::IDENT_VALUE),
            ),
            ("liveness", uapi::EDU_IOC_LIVENESS, i, Some(!i)),
            (
                "factorial",
                uapi::EDU_IOC_FACTORIAL,
                n,
                edu_regs::regs::factorial(n),
            ),
            // RAISE returns nothing: success is its only result.
            ("raise", uapi::EDU_IOC_RAISE, 0x1000, None),
        ][(i % 4) as usize];
        let mut v = arg;
        let t0 = Instant::now();
        let r = ioctl_u32(f, nr, &mut v);
        let dt = t0.elapsed();
        match r {
            Ok(()) if want.is_none_or(|w| w == v) => {
                ioctl_ok += 1;
                ioctl_ns.push(u64::try_from(dt.as_nanos()).unwrap_or(u64::MAX));
            }
            Ok(()) => {
                wrong += 1;
                first_wrong.get_or_insert_with(|| format!("{name}({arg:#x}) returned {v:#x}"));
            }
            Err(_) => {
                failed += 1;
                file = None;
            }
        }
    }
    ioctl_ns.sort_unstable();
    println!(
        "hammer ok={} ioctl_ok={ioctl_ok} sysfs_ok={sysfs_ok} failed={failed} wrong={wrong} \
         reopened={reopened} ioctl_quantiles_us={}",
        ioctl_ok + sysfs_ok,
        edu_regs::latency::quantiles(&ioctl_ns, 1000)
    );
    match first_wrong {
        Some(w) => Err(Failure(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{wrong} wrong values, the first: {w}"),
        ))),
        None => Ok(()),
    }
}

/// One page of anonymous memory registered with userfaultfd for missing-page faults, whose
/// faults nobody ever serves: any access blocks until the task is killed. `libc` has no
/// userfaultfd definitions, so the two structures and ioctl numbers of
/// `include/uapi/linux/userfaultfd.h` are spelled out here.
struct UnservedPage {
    uffd: File,
    addr: *mut libc::c_void,
}

/// `struct uffdio_api`.
#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

/// `struct uffdio_register` (its `struct uffdio_range` inlined).
#[repr(C)]
struct UffdioRegister {
    start: u64,
    len: u64,
    mode: u64,
    ioctls: u64,
}

const UFFD_API: u64 = 0xaa;
/// `_IOWR(0xaa, 0x3f, struct uffdio_api)`.
const UFFDIO_API: libc::c_ulong = 0xc018_aa3f;
/// `_IOWR(0xaa, 0x00, struct uffdio_register)`.
const UFFDIO_REGISTER: libc::c_ulong = 0xc020_aa00;
const UFFDIO_REGISTER_MODE_MISSING: u64 = 1;
const PAGE: usize = 4096;

impl UnservedPage {
    fn new() -> io::Result<Self> {
        // SAFETY: Plain syscall; the result is checked.
        let fd = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        let uffd = unsafe { File::from_raw_fd(fd as i32) };
        let mut api = UffdioApi {
            api: UFFD_API,
            features: 0,
            ioctls: 0,
        };
        // SAFETY: `UFFDIO_API` takes a `struct uffdio_api`, which `api` is.
        if unsafe { libc::ioctl(uffd.as_raw_fd(), UFFDIO_API, &mut api) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: A new private anonymous mapping; the result is checked.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let page = Self { uffd, addr };
        let mut reg = UffdioRegister {
            start: addr as u64,
            len: PAGE as u64,
            mode: UFFDIO_REGISTER_MODE_MISSING,
            ioctls: 0,
        };
        // SAFETY: `UFFDIO_REGISTER` takes a `struct uffdio_register`, which `reg` is.
        if unsafe { libc::ioctl(page.uffd.as_raw_fd(), UFFDIO_REGISTER, &mut reg) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(page)
    }

    /// The page. Touching it from userspace would block this process too; only the kernel's
    /// user copy reads it.
    fn bytes(&self) -> &[u8] {
        // SAFETY: The mapping is `PAGE` bytes long and lives as long as `self`; reading it
        // blocks, which is the point, but is not undefined behaviour.
        unsafe { std::slice::from_raw_parts(self.addr.cast::<u8>(), PAGE) }
    }
}

impl Drop for UnservedPage {
    fn drop(&mut self) {
        // SAFETY: `addr` is the mapping made in `new`.
        unsafe { libc::munmap(self.addr, PAGE) };
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    match args.first().map(String::as_str) {
        Some("failnth") => return failnth::failnth(&args[1..]),
        Some("fuzz") => return fuzz::fuzz(&args[1..]),
        _ => {}
    }
    let [dev, cmd, rest @ ..] = args else {
        return Err(usage(
            "usage: eductl DEV COMMAND [ARGS] (see the source's docs)",
        ));
    };
    let arg = |i: usize| {
        rest.get(i)
            .map(String::as_str)
            .ok_or_else(|| usage("missing argument"))
    };
    match cmd.as_str() {
        "cycle" => return cycle(dev, parse_u64(arg(0)?)? as usize),
        "write" => return Ok(sysfs_write(dev, arg(0)?)?),
        "read" => {
            print!("{}", std::fs::read_to_string(dev)?);
            return Ok(());
        }
        "hammer" => return hammer(dev, parse_u64(arg(0)?)?, rest.get(1).map(String::as_str)),
        "storm" => return storm(dev, parse_u64(arg(0)?)?),
        _ => {}
    }
    let file = open_dev(dev)?;
    let out = io::stdout();
    let mut out = out.lock();
    match cmd.as_str() {
        "ident" => {
            let mut v = 0;
            ioctl_u32(&file, uapi::EDU_IOC_IDENT, &mut v)?;
            writeln!(out, "{v:#010x}")?;
        }
        "liveness" => {
            let mut v = parse_u32(arg(0)?)?;
            ioctl_u32(&file, uapi::EDU_IOC_LIVENESS, &mut v)?;
            writeln!(out, "{v:#010x}")?;
        }
        "factorial" => {
            let mut v = parse_u32(arg(0)?)?;
            ioctl_u32(&file, uapi::EDU_IOC_FACTORIAL, &mut v)?;
            writeln!(out, "{v}")?;
        }
        "raise" => {
            let mut v = parse_u32(arg(0)?)?;
            ioctl_u32(&file, uapi::EDU_IOC_RAISE, &mut v)?;
        }
        "ioctl" => {
            let mut v = 1;
            ioctl_u32(&file, parse_u32(arg(0)?)?, &mut v)?;
        }
        "badptr" => {
            let nr = match arg(0)? {
                "ident" => uapi::EDU_IOC_IDENT,
                "factorial" => uapi::EDU_IOC_FACTORIAL,
                "raise" => uapi::EDU_IOC_RAISE,
                "liveness" => uapi::EDU_IOC_LIVENESS,
                other => return Err(usage(&format!("unknown ioctl {other}"))),
            };
            ioctl_badptr(&file, nr)?;
        }
        "pwrite" => {
            let off = parse_u64(arg(0)?)?;
            let data = match arg(1)?.strip_prefix('@') {
                Some(path) => std::fs::read(path)?,
                None => unhex(arg(1)?)?,
            };
            let n = file.write_at(&data, off)?;
            writeln!(out, "{n}")?;
        }
        "pread" => {
            let off = parse_u64(arg(0)?)?;
            let mut buf = vec![0; parse_u64(arg(1)?)? as usize];
            let n = file.read_at(&mut buf, off)?;
            match rest.get(2).and_then(|a| a.strip_prefix('@')) {
                Some(path) => std::fs::write(path, &buf[..n])?,
                None => writeln!(out, "{}", hex(&buf[..n]))?,
            }
        }
        "seek" => {
            let off = parse_u64(arg(0)?)? as i64;
            let whence = match arg(1)? {
                "set" => libc::SEEK_SET,
                "cur" => libc::SEEK_CUR,
                "end" => libc::SEEK_END,
                other => return Err(usage(&format!("unknown whence {other}"))),
            };
            let off = if rest.get(2).map(String::as_str) == Some("neg") {
                -off
            } else {
                off
            };
            // SAFETY: Plain syscall on an fd we own.
            let r = unsafe { libc::lseek(file.as_raw_fd(), off, whence) };
            if r < 0 {
                return Err(io::Error::last_os_error().into());
            }
            writeln!(out, "{r}")?;
        }
        "hold" => {
            writeln!(out, "open")?;
            out.flush()?;
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        "sigread" => {
            let restart = match rest.get(1).map(String::as_str) {
                None => false,
                Some("restart") => true,
                Some(other) => return Err(usage(&format!("sigread: unknown flag {other}"))),
            };
            interrupt_after(Duration::from_millis(parse_u64(arg(0)?)?), restart)?;
            let mut buf = vec![0; edu_regs::regs::DMA_BUF_SIZE];
            let n = file.read_at(&mut buf, 0)?;
            if restart {
                let k = ALARMS.load(Ordering::Relaxed);
                writeln!(out, "{n} after {k} signals")?;
            } else {
                writeln!(out, "{n}")?;
            }
        }
        "uffd-pwrite" => {
            let off = parse_u64(arg(0)?)?;
            let len = parse_u64(arg(1)?)? as usize;
            let page = UnservedPage::new()?;
            writeln!(out, "blocking")?;
            out.flush()?;
            let n = file.write_at(&page.bytes()[..len.min(4096)], off)?;
            writeln!(out, "{n}")?;
        }
        "loop-read" => {
            let end = Instant::now() + Duration::from_secs(parse_u64(arg(0)?)?);
            let mut buf = vec![0; edu_regs::regs::DMA_BUF_SIZE];
            let mut reads = 0u64;
            while Instant::now() < end {
                if let Err(e) = file.read_at(&mut buf, 0) {
                    writeln!(out, "reads={reads}")?;
                    return Err(e.into());
                }
                reads += 1;
            }
            writeln!(out, "reads={reads}")?;
        }
        other => return Err(usage(&format!("unknown command {other}"))),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(e)) => {
            let name = e.raw_os_error().map_or("EUSAGE", errno_name);
            eprintln!("error: {name} ({e})");
            ExitCode::FAILURE
        }
    }
}
