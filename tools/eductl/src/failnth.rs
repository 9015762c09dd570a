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
//! The exit status is 0 whenever the call was made, whatever it returned; 1 for a usage error or
//! when the preparation failed (the line is then not printed).

use crate::{open_dev, parse_u32, parse_u64, unhex, usage, Failure};
use edu_regs::{errno_name, uapi};
use std::{
    ffi::CString,
    fs::File,
    io,
    os::{fd::AsRawFd, unix::ffi::OsStrExt},
};

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
    fn prepare(op: &str, args: &[String]) -> Result<Self, Failure> {
        let arg = |i: usize| {
            args.get(i)
                .map(String::as_str)
                .ok_or_else(|| usage("missing argument"))
        };
        let cstring = |s: &str| CString::new(s).map_err(|_| usage("NUL in argument"));
        Ok(match op {
            "init" => Call::Init(
                File::open(arg(0)?)?,
                cstring(args.get(1).map_or("", String::as_str))?,
            ),
            "write" => Call::Write(
                std::fs::OpenOptions::new().write(true).open(arg(0)?)?,
                arg(1)?.as_bytes().to_vec(),
            ),
            "open" => Call::Open(
                CString::new(std::path::Path::new(arg(0)?).as_os_str().as_bytes())
                    .map_err(|_| usage("NUL in path"))?,
            ),
            "ioctl" => {
                let file = open_dev(arg(0)?)?;
                let (nr, v) = match arg(1)? {
                    "ident" => (uapi::EDU_IOC_IDENT, 0),
                    "liveness" => (uapi::EDU_IOC_LIVENESS, parse_u32(arg(2)?)?),
                    "factorial" => (uapi::EDU_IOC_FACTORIAL, parse_u32(arg(2)?)?),
                    "raise" => (uapi::EDU_IOC_RAISE, parse_u32(arg(2)?)?),
                    other => return Err(usage(&format!("unknown ioctl {other}"))),
                };
                Call::Ioctl(file, nr, v)
            }
            "pread" => Call::Pread(
                open_dev(arg(0)?)?,
                vec![0; parse_u64(arg(2)?)? as usize],
                parse_u64(arg(1)?)? as i64,
            ),
            "pwrite" => Call::Pwrite(
                open_dev(arg(0)?)?,
                unhex(arg(2)?)?,
                parse_u64(arg(1)?)? as i64,
            ),
            "seek" => Call::Seek(
                open_dev(arg(0)?)?,
                parse_u64(arg(1)?)? as i64,
                match arg(2)? {
                    "set" => libc::SEEK_SET,
                    "cur" => libc::SEEK_CUR,
                    "end" => libc::SEEK_END,
                    other => return Err(usage(&format!("unknown whence {other}"))),
                },
            ),
            other => return Err(usage(&format!("unknown failnth operation {other}"))),
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
pub(crate) fn failnth(args: &[String]) -> Result<(), Failure> {
    let [n, op, rest @ ..] = args else {
        return Err(usage("usage: eductl failnth N OP ARGS..."));
    };
    let n = parse_u32(n)?;
    if n == 0 {
        return Err(usage("N must be at least 1"));
    }
    let mut call = Call::prepare(op, rest)?;
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
        "failnth n={n} op={op} injected={} ret={ret} errno={}",
        if injected { "yes" } else { "no" },
        if errno == 0 {
            "0".to_string()
        } else {
            errno_label(errno)
        }
    );
    Ok(())
}
