//! `eductl`: drives `/dev/eduN` from the command line.
//!
//! The commands, with an example each, are [`USAGE`] (`eductl --help`). Arguments are parsed with
//! `lexopt` into an [`Invocation`] before anything is opened: an unknown flag, a missing or extra
//! argument or a bad value prints `error: EINVAL (<why>)` and the usage on stderr and exits with
//! status 2. A failing operation prints `error: <ERRNO NAME> (<message>)` and exits with status
//! 1, so that shell tests can match the exact errno the driver returned.
//!
//! DEV is a path such as `/dev/edu0`, or `fd:N` for a descriptor inherited from the shell
//! (`exec 3<>/dev/edu0; eductl fd:3 ident`).

mod cli;
mod failnth;
mod fuzz;

use cli::{Cmd, Data, Invocation, Usage};

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

/// Why a run failed.
enum Failure {
    /// A call failed: the error, with the errno the kernel returned when there is one.
    Os(io::Error),
    /// The command line was refused.
    Usage(Usage),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Self::Os(e)
    }
}

impl From<Usage> for Failure {
    fn from(u: Usage) -> Self {
        Self::Usage(u)
    }
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

use edu_regs::args::hex;

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
        Some(w) => Err(Failure::Os(io::Error::new(
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

fn run(invocation: Invocation) -> Result<(), Failure> {
    let (dev, cmd) = match invocation {
        Invocation::Help => {
            println!("{}", cli::USAGE);
            return Ok(());
        }
        Invocation::FailNth { n, op } => return failnth::failnth(n, &op),
        Invocation::Fuzz(params) => return fuzz::fuzz(&params),
        Invocation::Dev { dev, cmd } => (dev, cmd),
    };
    match cmd {
        Cmd::Cycle(count) => return cycle(&dev, count),
        Cmd::Write(value) => return Ok(sysfs_write(&dev, &value)?),
        Cmd::Read => {
            print!("{}", std::fs::read_to_string(&dev)?);
            return Ok(());
        }
        Cmd::Hammer { secs, sysfs } => return hammer(&dev, secs, sysfs.as_deref()),
        Cmd::Storm(secs) => return storm(&dev, secs),
        _ => {}
    }
    let file = open_dev(&dev)?;
    let out = io::stdout();
    let mut out = out.lock();
    match cmd {
        Cmd::Ident => {
            let mut v = 0;
            ioctl_u32(&file, uapi::EDU_IOC_IDENT, &mut v)?;
            writeln!(out, "{v:#010x}")?;
        }
        Cmd::Liveness(x) => {
            let mut v = x;
            ioctl_u32(&file, uapi::EDU_IOC_LIVENESS, &mut v)?;
            writeln!(out, "{v:#010x}")?;
        }
        Cmd::Factorial(n) => {
            let mut v = n;
            ioctl_u32(&file, uapi::EDU_IOC_FACTORIAL, &mut v)?;
            writeln!(out, "{v}")?;
        }
        Cmd::Raise(value) => {
            let mut v = value;
            ioctl_u32(&file, uapi::EDU_IOC_RAISE, &mut v)?;
        }
        Cmd::Ioctl(nr) => {
            let mut v = 1;
            ioctl_u32(&file, nr, &mut v)?;
        }
        Cmd::Badptr(nr) => ioctl_badptr(&file, nr)?,
        Cmd::Pwrite { off, data } => {
            let data = match data {
                Data::File(path) => std::fs::read(path)?,
                Data::Bytes(bytes) => bytes,
            };
            let n = file.write_at(&data, off)?;
            writeln!(out, "{n}")?;
        }
        Cmd::Pread { off, len, save } => {
            let mut buf = vec![0; len];
            let n = file.read_at(&mut buf, off)?;
            match save {
                Some(path) => std::fs::write(path, &buf[..n])?,
                None => writeln!(out, "{}", hex(&buf[..n]))?,
            }
        }
        Cmd::Seek { off, whence } => {
            // SAFETY: Plain syscall on an fd we own.
            let r = unsafe { libc::lseek(file.as_raw_fd(), off, whence) };
            if r < 0 {
                return Err(io::Error::last_os_error().into());
            }
            writeln!(out, "{r}")?;
        }
        Cmd::Hold => {
            writeln!(out, "open")?;
            out.flush()?;
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        Cmd::Sigread { ms, restart } => {
            interrupt_after(Duration::from_millis(ms), restart)?;
            let mut buf = vec![0; edu_regs::regs::DMA_BUF_SIZE];
            let n = file.read_at(&mut buf, 0)?;
            if restart {
                let k = ALARMS.load(Ordering::Relaxed);
                writeln!(out, "{n} after {k} signals")?;
            } else {
                writeln!(out, "{n}")?;
            }
        }
        Cmd::UffdPwrite { off, len } => {
            let page = UnservedPage::new()?;
            writeln!(out, "blocking")?;
            out.flush()?;
            let n = file.write_at(&page.bytes()[..len.min(4096)], off)?;
            writeln!(out, "{n}")?;
        }
        Cmd::LoopRead(secs) => {
            let end = Instant::now() + Duration::from_secs(secs);
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
        Cmd::Cycle(_) | Cmd::Write(_) | Cmd::Read | Cmd::Hammer { .. } | Cmd::Storm(_) => {
            unreachable!("handled before the device is opened")
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let result = cli::parse(std::env::args_os().skip(1))
        .map_err(Failure::Usage)
        .and_then(run);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(Usage(why))) => {
            eprintln!("error: EINVAL ({why})\n\n{}", cli::USAGE);
            ExitCode::from(2)
        }
        Err(Failure::Os(e)) => {
            // An error that carries no errno (a wrong value read back, unexpected fuzz results)
            // is EIO: the device did not do what it must.
            let name = e.raw_os_error().map_or("EIO", errno_name);
            eprintln!("error: {name} ({e})");
            ExitCode::FAILURE
        }
    }
}
