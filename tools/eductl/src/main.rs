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
//! eductl DEV pread OFF LEN              read LEN bytes at OFF, print them as hex
//! eductl DEV seek OFF set|cur|end       lseek, print the new offset
//! eductl DEV hold                       open, print "open", then block until killed
//! eductl DEV hammer SECONDS             loop ident/liveness/factorial/raise, print counts
//! ```

use edu_regs::uapi;
use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    os::{fd::AsRawFd, unix::fs::FileExt},
    process::ExitCode,
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

/// Name of an errno value, as tests spell it.
fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::ERANGE => "ERANGE",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ENODATA => "ENODATA",
        _ => "EOTHER",
    }
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

fn run(args: &[String]) -> Result<(), Failure> {
    let [dev, cmd, rest @ ..] = args else {
        return Err(usage("usage: eductl DEV COMMAND [ARGS] (see the source's docs)"));
    };
    let file = OpenOptions::new().read(true).write(true).open(dev)?;
    let arg = |i: usize| rest.get(i).map(String::as_str).ok_or_else(|| usage("missing argument"));
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
            writeln!(out, "{}", hex(&buf[..n]))?;
        }
        "seek" => {
            let off = parse_u64(arg(0)?)? as i64;
            let whence = match arg(1)? {
                "set" => libc::SEEK_SET,
                "cur" => libc::SEEK_CUR,
                "end" => libc::SEEK_END,
                other => return Err(usage(&format!("unknown whence {other}"))),
            };
            let off = if rest.get(2).map(String::as_str) == Some("neg") { -off } else { off };
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
        "hammer" => {
            let secs = parse_u64(arg(0)?)?;
            let end = Instant::now() + Duration::from_secs(secs);
            let (mut ok, mut failed) = (0u64, 0u64);
            let mut i = 0u32;
            while Instant::now() < end {
                let mut v = i % 13;
                let nr = [
                    uapi::EDU_IOC_IDENT,
                    uapi::EDU_IOC_LIVENESS,
                    uapi::EDU_IOC_FACTORIAL,
                    uapi::EDU_IOC_RAISE,
                ][(i % 4) as usize];
                if nr == uapi::EDU_IOC_RAISE {
                    v = 0x1000;
                }
                match ioctl_u32(&file, nr, &mut v) {
                    Ok(()) => ok += 1,
                    Err(_) => failed += 1,
                }
                i = i.wrapping_add(1);
            }
            writeln!(out, "hammer ok={ok} failed={failed}")?;
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
