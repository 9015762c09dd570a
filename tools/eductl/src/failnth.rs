//! `eductl failnth N OP ARGS...`: one system call with the kernel's fault injection armed.
//!
//! The kernel fails the N-th fault-injection site (slab or page allocation, user copy, ...) that
//! the calling thread reaches once `/proc/thread-self/fail-nth` holds N
//! (`Documentation/fault-injection/fault-injection.rst`). Writing N from a shell and then running
//! a command would spend the count on the `exec` itself, so this command prepares everything the
//! call needs (files opened, buffers filled), writes N, makes exactly one system call, and reads
//! the counter back right after it: a counter back at 0 means the fault was injected into that
//! call, a non-zero one that the call reached fewer than N sites. It then prints one line:
//!
//! ```text
//! failnth n=N op=OP injected=yes|no ret=R errno=ENAME|0
//! ```
//!
//! OP is one of:
//!
//! ```text
//! init PATH [PARAMS]        finit_module(2) of the module PATH (module init, and the probes it runs)
//! write FILE VALUE          one write(2) of VALUE to FILE (sysfs: bind, unbind, factorial)
//! open DEV                  open(2) DEV read-write (and close it, outside the injection)
//! ioctl DEV ident|liveness X|factorial N|raise V
//! pread DEV OFF LEN         pread(2) LEN bytes at OFF
//! pwrite DEV OFF HEXBYTES   pwrite(2) the bytes at OFF
//! seek DEV OFF set|cur|end  lseek(2)
//! ```
//!
//! The exit status is 0 whenever the call was made, whatever it returned; 2 for a usage error and
//! 1 when the preparation failed (the line is then not printed).

use crate::cli::{
    at_most, check_dev, nth, parse_off, parse_u32, parse_usize, parse_whence, unhex, Invocation,
    Usage,
};
use crate::{open_dev, Failure};
use edu_regs::{errno_name, uapi};
use std::{ffi::CString, fs::File, io, os::fd::AsRawFd};

/// The errno name, or `E#<number>` for one the shared table does not name.
pub(crate) fn errno_label(errno: i32) -> String {
    match errno_name(errno) {
        "EOTHER" => format!("E#{errno}"),
        name => name.to_string(),
    }
}

/// The calling thread's `fail-nth` file.
struct FailNth(File);

impl FailNth {
    fn open() -> io::Result<Self> {
        Ok(Self(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/proc/thread-self/fail-nth")?,
        ))
    }

    /// Arms the counter: the `n`-th fault site this thread reaches from now on fails.
    fn arm(&self, n: u32) -> io::Result<()> {
        let s = n.to_string();
        // SAFETY: `s` is a valid buffer of `s.len()` bytes.
        let r = unsafe { libc::write(self.0.as_raw_fd(), s.as_ptr().cast(), s.len()) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Whether the armed fault was injected; disarms the counter.
    ///
    /// The read of the counter is itself a fault site (its copy to user memory): the value is
    /// formatted before that copy, so a counter left at 1 makes the read fail with `EFAULT` and
    /// means "not injected".
    fn injected_and_disarm(&self) -> bool {
        let mut buf = [0u8; 32];
        // SAFETY: `buf` is a valid, writable buffer of its length.
        let r = unsafe { libc::pread(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let injected = if r < 0 {
            false
        } else {
            let text = String::from_utf8_lossy(&buf[..r as usize]);
            text.trim() == "0"
        };
        // Disarm. Its copy from user memory may consume the rest of the count (and fail with
        // EFAULT); either way the counter is 0 afterwards.
        // SAFETY: A one-byte static buffer.
        unsafe { libc::write(self.0.as_raw_fd(), b"0".as_ptr().cast(), 1) };
        injected
    }
}

/// The system call to make, as the command line gives it.
#[derive(Debug, PartialEq)]
pub(crate) enum Op {
    /// `init PATH [PARAMS]`.
    Init { path: String, params: String },
    /// `write FILE VALUE`.
    Write { file: String, value: String },
    /// `open DEV`.
    Open { dev: String },
    /// `ioctl DEV ident|liveness X|factorial N|raise V`.
    Ioctl { dev: String, nr: u32, value: u32 },
    /// `pread DEV OFF LEN`.
    Pread { dev: String, off: i64, len: usize },
    /// `pwrite DEV OFF HEXBYTES`.
    Pwrite {
        dev: String,
        off: i64,
        data: Vec<u8>,
    },
    /// `seek DEV OFF set|cur|end`.
    Seek { dev: String, off: i64, whence: i32 },
}

impl Op {
    /// The operation's name, as printed in the result line.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Init { .. } => "init",
            Op::Write { .. } => "write",
            Op::Open { .. } => "open",
            Op::Ioctl { .. } => "ioctl",
            Op::Pread { .. } => "pread",
            Op::Pwrite { .. } => "pwrite",
            Op::Seek { .. } => "seek",
        }
    }
}

/// Parses `N OP ARGS...` (after `failnth`).
pub(crate) fn parse(args: &[String]) -> Result<Invocation, Usage> {
    let n = parse_u32(nth(args, 0, "failnth N")?)?;
    if n == 0 {
        return Err(Usage("failnth: N must be at least 1".into()));
    }
    let op = nth(args, 1, "failnth OP")?;
    let rest = &args[2..];
    let arg =
        |i: usize, what: &str| nth(rest, i, &format!("failnth {op} {what}")).map(String::from);
    let max = |n: usize| at_most(&format!("failnth {op}"), rest, n);
    let dev = || {
        let d = arg(0, "DEV")?;
        check_dev(&d)?;
        Ok::<_, Usage>(d)
    };
    let op = match op {
        "init" => {
            max(2)?;
            Op::Init {
                path: arg(0, "PATH")?,
                params: rest.get(1).cloned().unwrap_or_default(),
            }
        }
        "write" => {
            max(2)?;
            Op::Write {
                file: arg(0, "FILE")?,
                value: arg(1, "VALUE")?,
            }
        }
        "open" => {
            max(1)?;
            Op::Open { dev: dev()? }
        }
        "ioctl" => {
            let (nr, value) = match arg(1, "ident|liveness|factorial|raise")?.as_str() {
                "ident" => {
                    max(2)?;
                    (uapi::EDU_IOC_IDENT, 0)
                }
                name => {
                    let nr = match name {
                        "liveness" => uapi::EDU_IOC_LIVENESS,
                        "factorial" => uapi::EDU_IOC_FACTORIAL,
                        "raise" => uapi::EDU_IOC_RAISE,
                        other => {
                            return Err(Usage(format!("failnth ioctl: unknown ioctl {other:?}")))
                        }
                    };
                    max(3)?;
                    (nr, parse_u32(&arg(2, "VALUE")?)?)
                }
            };
            Op::Ioctl {
                dev: dev()?,
                nr,
                value,
            }
        }
        "pread" => {
            max(3)?;
            Op::Pread {
                dev: dev()?,
                off: parse_off(&arg(1, "OFF")?)?,
                len: parse_usize(&arg(2, "LEN")?)?,
            }
        }
        "pwrite" => {
            max(3)?;
            Op::Pwrite {
                dev: dev()?,
                off: parse_off(&arg(1, "OFF")?)?,
                data: unhex(&arg(2, "HEXBYTES")?)?,
            }
        }
        "seek" => {
            max(3)?;
            Op::Seek {
                dev: dev()?,
                off: parse_off(&arg(1, "OFF")?)?,
                whence: parse_whence(&arg(2, "set|cur|end")?)?,
            }
        }
        other => return Err(Usage(format!("unknown failnth operation {other:?}"))),
    };
    Ok(Invocation::FailNth { n, op })
}

/// The one system call under test, fully prepared.
enum Call {
    Init(File, CString),
    Write(File, Vec<u8>),
    Open(CString),
    Ioctl(File, u32, u32),
    Pread(File, Vec<u8>, i64),
    Pwrite(File, Vec<u8>, i64),
    Seek(File, i64, i32),
}

impl Call {
    /// Opens the files and fills the buffers `op` needs.
    fn prepare(op: &Op) -> Result<Self, Failure> {
        let cstring =
            |s: &str| CString::new(s).map_err(|_| Failure::Usage(Usage("NUL in argument".into())));
        Ok(match op {
            Op::Init { path, params } => Call::Init(File::open(path)?, cstring(params)?),
            Op::Write { file, value } => Call::Write(
                std::fs::OpenOptions::new().write(true).open(file)?,
                value.as_bytes().to_vec(),
            ),
            Op::Open { dev } => Call::Open(cstring(dev)?),
            Op::Ioctl { dev, nr, value } => Call::Ioctl(open_dev(dev)?, *nr, *value),
            Op::Pread { dev, off, len } => Call::Pread(open_dev(dev)?, vec![0; *len], *off),
            Op::Pwrite { dev, off, data } => Call::Pwrite(open_dev(dev)?, data.clone(), *off),
            Op::Seek { dev, off, whence } => Call::Seek(open_dev(dev)?, *off, *whence),
        })
    }

    /// Makes the call; returns its result, or -1 with errno left set. Nothing else may run
    /// between arming the counter and this call, so it allocates nothing and prints nothing.
    fn make(&mut self) -> i64 {
        // SAFETY: Plain system calls on descriptors and buffers owned by `self`, valid for the
        // lengths passed; the kernel validates everything else.
        unsafe {
            match self {
                Call::Init(f, params) => {
                    libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), params.as_ptr(), 0)
                }
                Call::Write(f, v) => libc::write(f.as_raw_fd(), v.as_ptr().cast(), v.len()) as i64,
                Call::Open(path) => libc::open(path.as_ptr(), libc::O_RDWR).into(),
                Call::Ioctl(f, nr, v) => libc::ioctl(f.as_raw_fd(), *nr as _, v as *mut u32).into(),
                Call::Pread(f, buf, off) => {
                    libc::pread(f.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), *off) as i64
                }
                Call::Pwrite(f, buf, off) => {
                    libc::pwrite(f.as_raw_fd(), buf.as_ptr().cast(), buf.len(), *off) as i64
                }
                Call::Seek(f, off, whence) => libc::lseek(f.as_raw_fd(), *off, *whence),
            }
        }
    }

    /// Undoes what a successful call left behind that the caller does not want (an open fd).
    fn cleanup(&self, ret: i64) {
        if let Call::Open(_) = self {
            if ret >= 0 {
                // SAFETY: `ret` is the descriptor the successful open returned, owned by us.
                unsafe { libc::close(ret as i32) };
            }
        }
    }
}

/// `eductl failnth N OP ARGS...` (see the module docs).
pub(crate) fn failnth(n: u32, op: &Op) -> Result<(), Failure> {
    let mut call = Call::prepare(op)?;
    let fail_nth = FailNth::open()?;
    fail_nth.arm(n)?;
    let ret = call.make();
    let errno = if ret < 0 {
        io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    };
    let injected = fail_nth.injected_and_disarm();
    call.cleanup(ret);
    println!(
        "failnth n={n} op={} injected={} ret={ret} errno={}",
        op.name(),
        if injected { "yes" } else { "no" },
        if errno == 0 {
            "0".to_string()
        } else {
            errno_label(errno)
        }
    );
    Ok(())
}
