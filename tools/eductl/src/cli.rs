//! The command line of `eductl`, parsed with `lexopt` into an [`Invocation`] before anything is
//! opened, so that every mistake is reported the same way: `error: EINVAL (<why>)`, then
//! [`USAGE`], exit status 2.

use crate::{failnth, fuzz};
pub(crate) use edu_regs::args::{parse_u32, parse_u64, parse_usize, unhex, Data};
use std::ffi::OsString;

/// `eductl --help`: every command, each with an example.
pub(crate) const USAGE: &str = "\
usage: eductl DEV COMMAND [ARGS]
       eductl failnth N OP ARGS...
       eductl fuzz SEED CALLS|SECONDSs DEV SYSFS_DIR
       eductl -h | --help

DEV is a path such as /dev/edu0, or fd:N for a descriptor inherited from the shell
(exec 3<>/dev/edu0; eductl fd:3 ident). Numbers are decimal or 0x-prefixed hexadecimal.
A failing call prints 'error: ENAME (message)' with the errno the kernel returned and exits 1;
a command-line mistake prints 'error: EINVAL (why)' and this text, and exits 2.

commands on DEV (a /dev/eduN):
  ident                       print the identification register (hex)
                                eductl /dev/edu0 ident
  liveness X                  print what the liveness register returns for X (hex, ~X)
                                eductl /dev/edu0 liveness 0x12345678
  factorial N                 print N! computed by the device
                                eductl /dev/edu0 factorial 12
  raise V                     raise the interrupt with value V
                                eductl /dev/edu0 raise 0x1000
  ioctl NR                    issue raw ioctl number NR with a valid pointer
                                eductl /dev/edu0 ioctl 0xc0044563
  badptr ident|liveness|factorial|raise
                              issue that ioctl with an invalid user pointer
                                eductl /dev/edu0 badptr factorial
  pwrite OFF HEXBYTES|@FILE   DMA-write the bytes (or FILE's) at OFF, print the count written
                                eductl /dev/edu0 pwrite 0 cafef00d
  pread OFF LEN [@FILE]       DMA-read LEN bytes at OFF, print them as hex (or save them)
                                eductl /dev/edu0 pread 0 4096 @/tmp/back
  seek OFF set|cur|end [neg]  lseek (to -OFF with neg), print the new offset
                                eductl /dev/edu0 seek 1 set neg
  sigread MS [restart]        DMA-read the buffer with SIGALRM due in MS ms, its handler
                              without SA_RESTART (prints the count or the errno) or with it
                              (prints 'N after K signals')
                                eductl /dev/edu0 sigread 20 restart
  loop-read SECONDS           DMA-read the whole buffer until an error or the time is up;
                              prints reads=N
                                eductl /dev/edu0 loop-read 30
  uffd-pwrite OFF LEN         pwrite LEN bytes from a userfaultfd page nobody serves: blocks in
                              the driver's user copy until killed; prints 'blocking' first
                                eductl /dev/edu0 uffd-pwrite 0 64
  hold                        open DEV, print 'open' and sleep until killed
                                eductl /dev/edu0 hold
  hammer SECONDS [SYSFS_DIR]  ioctls (and sysfs reads) in a loop, reopening DEV after errors,
                              until the time is up or SIGTERM; checks every value, prints the
                              counts, fails if any value was wrong
                                eductl /dev/edu0 hammer 60 /sys/bus/pci/devices/0000:00:03.0
  storm SECONDS               raise interrupts back to back until the time is up or SIGTERM;
                              prints the count
                                eductl /dev/edu0 storm 10

commands on other files:
  FILE write VALUE            write VALUE to a (sysfs) file in one write(2)
                                eductl /sys/bus/pci/drivers/edu/unbind write 0000:00:03.0
  FILE read                   print a (sysfs) file
                                eductl /sys/bus/pci/devices/0000:00:03.0/irq_mode read
  BDF cycle COUNT             unbind and rebind BDF from the edu driver COUNT times, print the
                              median and max of each
                                eductl 0000:00:03.0 cycle 20

fault injection and fuzzing:
  failnth N OP ARGS...        make one system call with /proc/thread-self/fail-nth set to N;
                              print 'failnth n=N op=OP injected=yes|no ret=R errno=ENAME|0'.
                              OP ARGS: init PATH [PARAMS] | write FILE VALUE | open DEV |
                              ioctl DEV ident|liveness X|factorial N|raise V |
                              pread DEV OFF LEN | pwrite DEV OFF HEXBYTES | seek DEV OFF set|cur|end
                                eductl failnth 3 ioctl /dev/edu0 factorial 12
  fuzz SEED CALLS|SECONDSs DEV SYSFS_DIR
                              random hostile calls on DEV and its sysfs files, each judged
                              against the documented errnos; print the seed, the counts and
                              every unexpected result
                                eductl fuzz 42 60s /dev/edu0 /sys/bus/pci/devices/0000:00:03.0";

/// A command-line mistake: why the arguments were refused.
#[derive(Debug, PartialEq)]
pub(crate) struct Usage(pub(crate) String);

impl From<lexopt::Error> for Usage {
    fn from(e: lexopt::Error) -> Self {
        Usage(e.to_string())
    }
}

/// The message of a shared word's parse error (`edu_regs::args`).
impl From<String> for Usage {
    fn from(msg: String) -> Self {
        Usage(msg)
    }
}

fn usage(msg: impl Into<String>) -> Usage {
    Usage(msg.into())
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub(crate) enum Invocation {
    /// `-h`/`--help`: print [`USAGE`].
    Help,
    /// A command on DEV (or on a file, or a BDF).
    Dev {
        /// The path (or `fd:N`, or the BDF for `cycle`).
        dev: String,
        /// The command.
        cmd: Cmd,
    },
    /// `failnth N OP ARGS...`.
    FailNth {
        /// The fault site to fail (1-based).
        n: u32,
        /// The call.
        op: failnth::Op,
    },
    /// `fuzz SEED LIMIT DEV SYSFS_DIR`.
    Fuzz(fuzz::Params),
}

/// A command on DEV; see [`USAGE`].
#[derive(Debug, PartialEq)]
pub(crate) enum Cmd {
    Ident,
    Liveness(u32),
    Factorial(u32),
    Raise(u32),
    Ioctl(u32),
    /// The ioctl number to issue with a bad pointer.
    Badptr(u32),
    Pwrite {
        off: u64,
        data: Data,
    },
    Pread {
        off: u64,
        len: usize,
        save: Option<String>,
    },
    Seek {
        off: i64,
        whence: i32,
    },
    Hold,
    Sigread {
        ms: u64,
        restart: bool,
    },
    LoopRead(u64),
    UffdPwrite {
        off: u64,
        len: usize,
    },
    Hammer {
        secs: u64,
        sysfs: Option<String>,
    },
    Storm(u64),
    Write(String),
    Read,
    Cycle(usize),
}

/// A file offset (at most `i64::MAX`).
pub(crate) fn parse_off(s: &str) -> Result<i64, Usage> {
    i64::try_from(parse_u64(s)?).map_err(|_| usage(format!("offset out of range: {s}")))
}

/// `set`, `cur` or `end`.
pub(crate) fn parse_whence(s: &str) -> Result<i32, Usage> {
    match s {
        "set" => Ok(libc::SEEK_SET),
        "cur" => Ok(libc::SEEK_CUR),
        "end" => Ok(libc::SEEK_END),
        other => Err(usage(format!("whence is set, cur or end, not {other:?}"))),
    }
}

/// Checks a DEV argument: a path, or `fd:N` with N a descriptor number.
pub(crate) fn check_dev(dev: &str) -> Result<(), Usage> {
    match dev.strip_prefix("fd:") {
        Some(n) if n.parse::<i32>().is_ok_and(|n| n >= 0) => Ok(()),
        Some(_) => Err(usage(format!(
            "fd:N needs a descriptor number, not {dev:?}"
        ))),
        None if dev.is_empty() => Err(usage("empty DEV")),
        None => Ok(()),
    }
}

/// The `i`-th of `args`, named `what` in the error when it is missing.
pub(crate) fn nth<'a>(args: &'a [String], i: usize, what: &str) -> Result<&'a str, Usage> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| usage(format!("missing {what}")))
}

/// Refuses arguments past the first `max` of `cmd`'s.
pub(crate) fn at_most(cmd: &str, args: &[String], max: usize) -> Result<(), Usage> {
    match args.get(max) {
        Some(extra) => Err(usage(format!("{cmd}: unexpected argument {extra:?}"))),
        None => Ok(()),
    }
}

/// Parses `args` (without the program name).
pub(crate) fn parse<I>(args: I) -> Result<Invocation, Usage>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut words = Vec::new();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Invocation::Help),
            Value(v) => words.push(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    parse_words(&words)
}

fn parse_words(words: &[String]) -> Result<Invocation, Usage> {
    match words.first().map(String::as_str) {
        None => return Err(usage("no command given")),
        Some("failnth") => return failnth::parse(&words[1..]),
        Some("fuzz") => return fuzz::parse(&words[1..]),
        _ => {}
    }
    let [dev, cmd, rest @ ..] = words else {
        return Err(usage(format!("missing COMMAND after {:?}", words[0])));
    };
    let arg = |i: usize, what: &str| nth(rest, i, &format!("{cmd} {what}"));
    let max = |n: usize| at_most(cmd, rest, n);
    let cmd = match cmd.as_str() {
        "write" => {
            max(1)?;
            Cmd::Write(arg(0, "VALUE")?.to_string())
        }
        "read" => {
            max(0)?;
            Cmd::Read
        }
        "cycle" => {
            max(1)?;
            Cmd::Cycle(parse_usize(arg(0, "COUNT")?)?)
        }
        _ => {
            check_dev(dev)?;
            parse_dev_cmd(cmd, rest)?
        }
    };
    Ok(Invocation::Dev {
        dev: dev.clone(),
        cmd,
    })
}

/// A command that opens DEV.
fn parse_dev_cmd(cmd: &str, rest: &[String]) -> Result<Cmd, Usage> {
    let arg = |i: usize, what: &str| nth(rest, i, &format!("{cmd} {what}"));
    let max = |n: usize| at_most(cmd, rest, n);
    Ok(match cmd {
        "ident" => {
            max(0)?;
            Cmd::Ident
        }
        "liveness" => {
            max(1)?;
            Cmd::Liveness(parse_u32(arg(0, "X")?)?)
        }
        "factorial" => {
            max(1)?;
            Cmd::Factorial(parse_u32(arg(0, "N")?)?)
        }
        "raise" => {
            max(1)?;
            Cmd::Raise(parse_u32(arg(0, "V")?)?)
        }
        "ioctl" => {
            max(1)?;
            Cmd::Ioctl(parse_u32(arg(0, "NR")?)?)
        }
        "badptr" => {
            max(1)?;
            Cmd::Badptr(match arg(0, "ident|liveness|factorial|raise")? {
                "ident" => edu_regs::uapi::EDU_IOC_IDENT,
                "liveness" => edu_regs::uapi::EDU_IOC_LIVENESS,
                "factorial" => edu_regs::uapi::EDU_IOC_FACTORIAL,
                "raise" => edu_regs::uapi::EDU_IOC_RAISE,
                other => return Err(usage(format!("badptr: unknown ioctl {other:?}"))),
            })
        }
        "pwrite" => {
            max(2)?;
            let off = parse_u64(arg(0, "OFF")?)?;
            let data = Data::parse(arg(1, "HEXBYTES|@FILE")?)?;
            Cmd::Pwrite { off, data }
        }
        "pread" => {
            max(3)?;
            let save = match rest.get(2) {
                None => None,
                Some(s) => match s.strip_prefix('@') {
                    Some(path) => Some(path.to_string()),
                    None => return Err(usage(format!("pread: want @FILE, not {s:?}"))),
                },
            };
            Cmd::Pread {
                off: parse_u64(arg(0, "OFF")?)?,
                len: parse_usize(arg(1, "LEN")?)?,
                save,
            }
        }
        "seek" => {
            max(3)?;
            let off = parse_off(arg(0, "OFF")?)?;
            let whence = parse_whence(arg(1, "set|cur|end")?)?;
            let off = match rest.get(2).map(String::as_str) {
                None => off,
                Some("neg") => -off,
                Some(other) => return Err(usage(format!("seek: want neg, not {other:?}"))),
            };
            Cmd::Seek { off, whence }
        }
        "hold" => {
            max(0)?;
            Cmd::Hold
        }
        "sigread" => {
            max(2)?;
            let restart = match rest.get(1).map(String::as_str) {
                None => false,
                Some("restart") => true,
                Some(other) => return Err(usage(format!("sigread: want restart, not {other:?}"))),
            };
            Cmd::Sigread {
                ms: parse_u64(arg(0, "MS")?)?,
                restart,
            }
        }
        "loop-read" => {
            max(1)?;
            Cmd::LoopRead(parse_u64(arg(0, "SECONDS")?)?)
        }
        "uffd-pwrite" => {
            max(2)?;
            Cmd::UffdPwrite {
                off: parse_u64(arg(0, "OFF")?)?,
                len: parse_usize(arg(1, "LEN")?)?,
            }
        }
        "hammer" => {
            max(2)?;
            Cmd::Hammer {
                secs: parse_u64(arg(0, "SECONDS")?)?,
                sysfs: rest.get(1).cloned(),
            }
        }
        "storm" => {
            max(1)?;
            Cmd::Storm(parse_u64(arg(0, "SECONDS")?)?)
        }
        other => return Err(usage(format!("unknown command {other:?} (see --help)"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use edu_regs::uapi;

    fn p(line: &str) -> Result<Invocation, Usage> {
        parse(line.split_whitespace())
    }

    fn dev(line: &str) -> Cmd {
        match p(line) {
            Ok(Invocation::Dev { cmd, .. }) => cmd,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn err(line: &str) -> String {
        match p(line) {
            Err(Usage(why)) => why,
            Ok(i) => panic!("{line}: accepted as {i:?}"),
        }
    }

    /// Every form the guest scenarios (tests/scenarios/*.sh, tests/guest/*.sh) use, with their
    /// variables filled in.
    #[test]
    fn every_scenario_form_parses() {
        let d = "/dev/edu0";
        assert_eq!(dev(&format!("{d} ident")), Cmd::Ident);
        assert_eq!(dev("fd:3 ident"), Cmd::Ident);
        assert_eq!(
            dev(&format!("{d} liveness 0x12345678")),
            Cmd::Liveness(0x1234_5678)
        );
        assert_eq!(dev("fd:3 liveness 1"), Cmd::Liveness(1));
        assert_eq!(
            dev(&format!("{d} liveness 0xffffffff")),
            Cmd::Liveness(u32::MAX)
        );
        assert_eq!(dev(&format!("{d} factorial 12")), Cmd::Factorial(12));
        assert_eq!(dev(&format!("{d} factorial 13")), Cmd::Factorial(13));
        assert_eq!(
            dev(&format!("{d} factorial 0xffffffff")),
            Cmd::Factorial(u32::MAX)
        );
        for v in ["0x1000", "0x100", "0x1", "0x101", "0"] {
            assert_eq!(
                dev(&format!("{d} raise {v}")),
                Cmd::Raise(parse_u32(v).unwrap())
            );
        }
        assert_eq!(
            dev(&format!("{d} ioctl 0xc0044563")),
            Cmd::Ioctl(0xc004_4563)
        );
        assert_eq!(
            dev(&format!("{d} ioctl 0x80045801")),
            Cmd::Ioctl(0x8004_5801)
        );
        for (op, nr) in [
            ("ident", uapi::EDU_IOC_IDENT),
            ("liveness", uapi::EDU_IOC_LIVENESS),
            ("factorial", uapi::EDU_IOC_FACTORIAL),
            ("raise", uapi::EDU_IOC_RAISE),
        ] {
            assert_eq!(dev(&format!("{d} badptr {op}")), Cmd::Badptr(nr));
        }
        assert_eq!(
            dev(&format!("{d} pwrite 0 cafef00d")),
            Cmd::Pwrite {
                off: 0,
                data: Data::Bytes(vec![0xca, 0xfe, 0xf0, 0x0d])
            }
        );
        assert_eq!(
            dev("fd:3 pwrite 0 00"),
            Cmd::Pwrite {
                off: 0,
                data: Data::Bytes(vec![0])
            }
        );
        assert_eq!(
            dev(&format!("{d} pwrite 4090 00112233445566778899aabbccddeeff")),
            Cmd::Pwrite {
                off: 4090,
                data: Data::Bytes((0..16).map(|i| i * 0x11).collect())
            }
        );
        assert_eq!(
            dev(&format!("{d} pwrite 0 @/tmp/pattern7")),
            Cmd::Pwrite {
                off: 0,
                data: Data::File("/tmp/pattern7".into())
            }
        );
        for (off, len) in [
            (0, 4),
            (0, 16),
            (128, 4),
            (4096, 16),
            (5000, 16),
            (4090, 16),
        ] {
            assert_eq!(
                dev(&format!("{d} pread {off} {len}")),
                Cmd::Pread {
                    off,
                    len,
                    save: None
                }
            );
        }
        assert_eq!(
            dev(&format!("{d} pread 0 4096 @/tmp/kernel")),
            Cmd::Pread {
                off: 0,
                len: 4096,
                save: Some("/tmp/kernel".into())
            }
        );
        for (line, off, whence) in [
            ("seek 4097 set", 4097, libc::SEEK_SET),
            ("seek 0 set", 0, libc::SEEK_SET),
            ("seek 1 set neg", -1, libc::SEEK_SET),
            ("seek 1 end", 1, libc::SEEK_END),
            ("seek 0 end", 0, libc::SEEK_END),
            ("seek 5 cur", 5, libc::SEEK_CUR),
        ] {
            assert_eq!(dev(&format!("fd:3 {line}")), Cmd::Seek { off, whence });
        }
        assert_eq!(
            dev(&format!("{d} sigread 20")),
            Cmd::Sigread {
                ms: 20,
                restart: false
            }
        );
        assert_eq!(
            dev(&format!("{d} sigread 20 restart")),
            Cmd::Sigread {
                ms: 20,
                restart: true
            }
        );
        assert_eq!(dev("fd:3 loop-read 120"), Cmd::LoopRead(120));
        assert_eq!(dev("/tmp/edu0 loop-read 30"), Cmd::LoopRead(30));
        assert_eq!(
            dev(&format!("{d} uffd-pwrite 0 64")),
            Cmd::UffdPwrite { off: 0, len: 64 }
        );
        assert_eq!(
            dev(&format!("{d} hammer 3600")),
            Cmd::Hammer {
                secs: 3600,
                sysfs: None
            }
        );
        assert_eq!(
            dev(&format!(
                "{d} hammer 3600 /sys/bus/pci/devices/0000:00:03.0"
            )),
            Cmd::Hammer {
                secs: 3600,
                sysfs: Some("/sys/bus/pci/devices/0000:00:03.0".into())
            }
        );
        assert_eq!(dev(&format!("{d} storm 30")), Cmd::Storm(30));
        assert_eq!(dev(&format!("{d} hold")), Cmd::Hold);
        assert_eq!(
            dev("/sys/bus/pci/drivers/edu/unbind write 0000:00:03.0"),
            Cmd::Write("0000:00:03.0".into())
        );
        assert_eq!(
            dev("/sys/bus/pci/devices/0000:00:03.0/irq_mode read"),
            Cmd::Read
        );
        assert_eq!(dev("0000:00:03.0 cycle 20"), Cmd::Cycle(20));
    }

    #[test]
    fn failnth_and_fuzz_forms_parse() {
        use failnth::Op;
        let f = |line: &str| match p(line) {
            Ok(Invocation::FailNth { n, op }) => (n, op),
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(
            f("failnth 1 init /lib/modules/edu.ko"),
            (
                1,
                Op::Init {
                    path: "/lib/modules/edu.ko".into(),
                    params: String::new()
                }
            )
        );
        assert_eq!(
            f("failnth 26 init /lib/modules/edu.ko fail_probe=3").1,
            Op::Init {
                path: "/lib/modules/edu.ko".into(),
                params: "fail_probe=3".into()
            }
        );
        assert_eq!(
            f("failnth 2 write /sys/bus/pci/drivers/edu/bind 0000:00:03.0").1,
            Op::Write {
                file: "/sys/bus/pci/drivers/edu/bind".into(),
                value: "0000:00:03.0".into()
            }
        );
        assert_eq!(
            f("failnth 3 open /dev/edu0").1,
            Op::Open {
                dev: "/dev/edu0".into()
            }
        );
        for (line, nr, value) in [
            ("ident", uapi::EDU_IOC_IDENT, 0),
            ("liveness 0x12345678", uapi::EDU_IOC_LIVENESS, 0x1234_5678),
            ("factorial 12", uapi::EDU_IOC_FACTORIAL, 12),
            ("raise 0x1000", uapi::EDU_IOC_RAISE, 0x1000),
        ] {
            assert_eq!(
                f(&format!("failnth 4 ioctl /dev/edu0 {line}")).1,
                Op::Ioctl {
                    dev: "/dev/edu0".into(),
                    nr,
                    value
                }
            );
        }
        assert_eq!(
            f("failnth 5 pread /dev/edu0 0 64").1,
            Op::Pread {
                dev: "/dev/edu0".into(),
                off: 0,
                len: 64
            }
        );
        assert_eq!(
            f("failnth 6 pwrite /dev/edu0 0 0102030405060708").1,
            Op::Pwrite {
                dev: "/dev/edu0".into(),
                off: 0,
                data: (1..=8).collect()
            }
        );
        assert_eq!(
            f("failnth 7 seek /dev/edu0 100 set").1,
            Op::Seek {
                dev: "/dev/edu0".into(),
                off: 100,
                whence: libc::SEEK_SET
            }
        );
        assert_eq!(
            f("failnth 8 write /sys/bus/pci/devices/0000:00:03.0/factorial 7").1,
            Op::Write {
                file: "/sys/bus/pci/devices/0000:00:03.0/factorial".into(),
                value: "7".into()
            }
        );
        let fz = |line: &str| match p(line) {
            Ok(Invocation::Fuzz(params)) => params,
            other => panic!("{line}: {other:?}"),
        };
        let params = fz("fuzz 1000 20000 /dev/edu0 /sys/bus/pci/devices/0000:00:03.0");
        assert_eq!(
            params,
            fuzz::Params {
                seed: 1000,
                max_calls: 20000,
                seconds: None,
                dev: "/dev/edu0".into(),
                sysfs: "/sys/bus/pci/devices/0000:00:03.0".into()
            }
        );
        let params = fz("fuzz 7 600s /dev/edu1 /sys/x");
        assert_eq!((params.max_calls, params.seconds), (u64::MAX, Some(600)));
    }

    #[test]
    fn help_anywhere() {
        assert_eq!(p("--help"), Ok(Invocation::Help));
        assert_eq!(p("-h"), Ok(Invocation::Help));
        assert_eq!(p("/dev/edu0 factorial --help"), Ok(Invocation::Help));
    }

    #[test]
    fn mistakes_are_refused_with_a_reason() {
        assert!(err("--verbose /dev/edu0 ident").contains("--verbose"));
        assert!(err("/dev/edu0 ident -x").contains("-x"));
        assert!(err("").contains("no command"));
        assert!(err("/dev/edu0").contains("missing COMMAND"));
        assert!(err("/dev/edu0 frobnicate").contains("unknown command"));
        assert!(err("/dev/edu0 factorial").contains("missing factorial N"));
        assert!(err("/dev/edu0 factorial x").contains("not a number"));
        assert!(err("/dev/edu0 factorial 0x100000000").contains("32 bits"));
        assert!(err("/dev/edu0 factorial 5 6").contains("unexpected argument"));
        assert!(err("/dev/edu0 ident 1").contains("unexpected argument"));
        assert!(err("/dev/edu0 pwrite 0 abc").contains("hex"));
        assert!(err("/dev/edu0 pwrite 0 zz").contains("hex"));
        assert!(err("/dev/edu0 pread 0 4 /tmp/x").contains("@FILE"));
        assert!(err("/dev/edu0 seek 1 middle").contains("whence"));
        assert!(err("/dev/edu0 seek 1 set pos").contains("neg"));
        assert!(err("/dev/edu0 seek 0x8000000000000000 set").contains("range"));
        assert!(err("/dev/edu0 sigread 20 again").contains("restart"));
        assert!(err("/dev/edu0 badptr dma").contains("unknown ioctl"));
        assert!(err("fd:x ident").contains("descriptor"));
        assert!(err("x cycle many").contains("not a number"));
        assert!(err("failnth 0 open /dev/edu0").contains("at least 1"));
        assert!(err("failnth 1 mmap /dev/edu0").contains("unknown failnth operation"));
        assert!(err("failnth 1 ioctl /dev/edu0 dma").contains("unknown ioctl"));
        assert!(err("failnth 1 open").contains("missing"));
        assert!(err("failnth 1 open /dev/edu0 extra").contains("unexpected argument"));
        assert!(err("fuzz 1 10 /dev/edu0").contains("missing"));
        assert!(err("fuzz 1 tens /dev/edu0 /sys/x").contains("not a number"));
    }

    /// The examples of [`USAGE`]: its lines indented past the descriptions.
    fn examples() -> Vec<&'static str> {
        USAGE
            .lines()
            .filter(|l| l.starts_with(&" ".repeat(30)))
            .filter_map(|l| l.trim().strip_prefix("eductl "))
            .collect()
    }

    #[test]
    fn usage_shows_every_command_with_an_example_that_parses() {
        let mut shown = Vec::new();
        for args in examples() {
            assert!(p(args).is_ok(), "example {args:?}: {:?}", p(args));
            let words: Vec<&str> = args.split_whitespace().collect();
            shown.push(match words[0] {
                "failnth" | "fuzz" => words[0],
                _ => words[1],
            });
        }
        for cmd in [
            "ident",
            "liveness",
            "factorial",
            "raise",
            "ioctl",
            "badptr",
            "pwrite",
            "pread",
            "seek",
            "sigread",
            "loop-read",
            "uffd-pwrite",
            "hold",
            "hammer",
            "write",
            "read",
            "cycle",
            "failnth",
            "fuzz",
        ] {
            assert!(shown.contains(&cmd), "no example of {cmd} in the usage");
        }
    }
}
