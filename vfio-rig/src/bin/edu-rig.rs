// SPDX-License-Identifier: GPL-2.0

//! `edu-rig`: drive an edu device bound to vfio-pci from userspace.
//!
//! Every command probes the device (the seven steps), runs through the callback-core port, and
//! removes it again. The command line is parsed with `lexopt` into [`Args`] before anything is
//! opened: an unknown flag, a missing or extra argument or a bad value prints
//! `error: EINVAL (<why>)` and the usage, and exits with status 2. A failing operation prints
//! `error: ENAME (message)` on stderr (as `eductl` does for the kernel driver), ENAME being the
//! errno the kernel gave where there is one (EBUSY for a group another process holds), and exits
//! with status 1. vfio-ioctls' own log messages go to stderr (warnings by default, everything
//! with `--trace`, or as `RUST_LOG` says).

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edu_regs::args::{hex, parse_u32, parse_u64, parse_usize, Data};
use edu_regs::regs;
use edu_rig::ladder::{parse_fail_step, set_trace};
use edu_rig::race::{self, RaceOptions};
use edu_rig::{Error, IrqMode, Port, ProbeOptions, Result, Rig};

const USAGE: &str = "\
usage: edu-rig [OPTIONS] BDF COMMAND [ARGS] [COMMAND OPTIONS]
       edu-rig -h | --help

BDF is a PCI address (0000:00:03.0) of an edu device bound to vfio-pci. Numbers are decimal or
0x-prefixed hexadecimal. A failing operation prints 'error: ENAME (message)' and exits 1; a
command-line mistake prints 'error: EINVAL (why)' and this text, and exits 2.

commands:
  info                       identification, liveness, interrupt mode, IOMMU group, IOVA
                               edu-rig 0000:00:03.0 info
  ident                      the identification register
                               edu-rig 0000:00:03.0 ident
  liveness X                 write X, print what the device reads back (~X)
                               edu-rig 0000:00:03.0 liveness 0x12345678
  factorial N                N! completed by the device interrupt
                               edu-rig --irq intx 0000:00:03.0 factorial 7
  factorial-polled N         N! by polling the status register
                               edu-rig 0000:00:03.0 factorial-polled 12
  raise V [COUNT]            raise the interrupt with value V and wait until it was handled
                             (COUNT times)
                               edu-rig 0000:00:03.0 raise 0x1000 20
  dma-write FILE [OFF]       DMA FILE's bytes into the device buffer at OFF; prints bytes moved
                               edu-rig 0000:00:03.0 dma-write /tmp/pattern
  dma-read [OFF [LEN]] [@FILE]
                             DMA LEN bytes (default: to the end) from OFF; hex or to FILE
                               edu-rig 0000:00:03.0 dma-read 0 4096 @/tmp/back
  pwrite OFF HEX|@FILE       eductl-compatible DMA write (prints bytes moved)
                               edu-rig 0000:00:03.0 pwrite 100 deadbeef
  pread OFF LEN [@FILE]      eductl-compatible DMA read (prints hex, or writes FILE)
                               edu-rig 0000:00:03.0 pread 100 4
  serve [--seconds S] [--clients N]
                             hold the device with N clients calling (default 1), until
                             vfio-pci asks for it back (unbind: exits 1 with ENODEV) or S
                             seconds pass (default 3600)
                               edu-rig 0000:00:03.0 serve --clients 2
  race [--clients N] [--cycles K] [--hold-ms M]
                             N clients (default 2) call while K probe/remove cycles (default
                             100) run, each holding the device M ms (default 2); prints
                             'race: first cycle done', then a summary line; fails on any
                             violation or wrong result
                               edu-rig --irq intx 0000:00:03.0 race --clients 2 --cycles 50

options (anywhere on the line):
  --irq msi|intx             interrupt mode (default msi)
  --fail-step K              make probe step K (1-7) fail; 8 fails nothing
  --timeout-ms T             how long an operation waits for the device (default 2000)
  --trace                    print every probe step and its undo on stderr, and vfio-ioctls'
                             debug messages (RUST_LOG=debug, ... chooses those otherwise)
  -h, --help                 this text";

/// A command-line mistake: why the arguments were refused.
#[derive(Debug, PartialEq)]
struct Usage(String);

impl From<lexopt::Error> for Usage {
    fn from(e: lexopt::Error) -> Self {
        Usage(e.to_string())
    }
}

impl From<Error> for Usage {
    fn from(e: Error) -> Self {
        // The library's own argument checks (--irq, --fail-step) are invalid-argument errors.
        Usage(
            e.to_string()
                .trim_start_matches("invalid argument: ")
                .to_string(),
        )
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

/// A command; see [`USAGE`].
#[derive(Debug, PartialEq)]
enum Command {
    Info,
    Ident,
    Liveness(u32),
    Factorial(u32),
    FactorialPolled(u32),
    Raise {
        value: u32,
        count: u64,
    },
    DmaWrite {
        path: String,
        off: u64,
    },
    /// `dma-read` (`len` None: to the end of the buffer) and `pread`.
    DmaRead {
        off: u64,
        len: Option<usize>,
        save: Option<String>,
    },
    Pwrite {
        off: u64,
        data: Data,
    },
    Serve {
        seconds: u64,
        clients: usize,
    },
    Race {
        clients: usize,
        cycles: usize,
        hold_ms: u64,
    },
}

/// The parsed command line.
#[derive(Debug)]
struct Args {
    opts: ProbeOptions,
    trace: bool,
    bdf: String,
    cmd: Command,
}

/// What `argv` asks for: `None` for `--help`.
fn parse_args<I>(argv: I) -> Result<Option<Args>, Usage>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;
    let mut opts = ProbeOptions::default();
    let mut trace = false;
    // The options of serve and race, checked against the command once it is known.
    let (mut seconds, mut clients, mut cycles, mut hold_ms) = (None, None, None, None);
    let mut words = Vec::new();
    let mut p = lexopt::Parser::from_args(argv);
    while let Some(arg) = p.next()? {
        match arg {
            Long("irq") => opts.irq = IrqMode::parse(&p.value()?.string()?)?,
            Long("fail-step") => opts.fail_step = Some(parse_fail_step(&p.value()?.string()?)?),
            Long("timeout-ms") => {
                opts.timeout = Duration::from_millis(parse_u64(&p.value()?.string()?)?)
            }
            Long("trace") => trace = true,
            Long("seconds") => seconds = Some(parse_u64(&p.value()?.string()?)?),
            Long("clients") => clients = Some(parse_usize(&p.value()?.string()?)?),
            Long("cycles") => cycles = Some(parse_usize(&p.value()?.string()?)?),
            Long("hold-ms") => hold_ms = Some(parse_u64(&p.value()?.string()?)?),
            Short('h') | Long("help") => return Ok(None),
            Value(v) => words.push(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let mut words = words.into_iter();
    let bdf = words.next().ok_or_else(|| usage("missing BDF"))?;
    let name = words.next().ok_or_else(|| usage("missing COMMAND"))?;
    let rest: Vec<String> = words.collect();
    let arg = |i: usize, what: &str| {
        rest.get(i)
            .map(String::as_str)
            .ok_or_else(|| usage(format!("missing {name} {what}")))
    };
    let max = |n: usize| match rest.get(n) {
        Some(extra) => Err(usage(format!("{name}: unexpected argument {extra:?}"))),
        None => Ok(()),
    };
    // Options that only one or two commands take.
    let only = |flag: &str, given: bool, cmds: &[&str]| {
        if given && !cmds.contains(&name.as_str()) {
            Err(usage(format!(
                "--{flag} is an option of {}",
                cmds.join(" and ")
            )))
        } else {
            Ok(())
        }
    };
    only("seconds", seconds.is_some(), &["serve"])?;
    only("clients", clients.is_some(), &["serve", "race"])?;
    only("cycles", cycles.is_some(), &["race"])?;
    only("hold-ms", hold_ms.is_some(), &["race"])?;
    let cmd = match name.as_str() {
        "info" => {
            max(0)?;
            Command::Info
        }
        "ident" => {
            max(0)?;
            Command::Ident
        }
        "liveness" => {
            max(1)?;
            Command::Liveness(parse_u32(arg(0, "X")?)?)
        }
        "factorial" => {
            max(1)?;
            Command::Factorial(parse_u32(arg(0, "N")?)?)
        }
        "factorial-polled" => {
            max(1)?;
            Command::FactorialPolled(parse_u32(arg(0, "N")?)?)
        }
        "raise" => {
            max(2)?;
            Command::Raise {
                value: parse_u32(arg(0, "V")?)?,
                count: rest.get(1).map(|s| parse_u64(s)).transpose()?.unwrap_or(1),
            }
        }
        "dma-write" => {
            max(2)?;
            Command::DmaWrite {
                path: arg(0, "FILE")?.to_string(),
                off: rest.get(1).map(|s| parse_u64(s)).transpose()?.unwrap_or(0),
            }
        }
        "dma-read" | "pread" => {
            let (files, nums): (Vec<&String>, Vec<&String>) =
                rest.iter().partition(|s| s.starts_with('@'));
            if let Some(extra) = files.get(1).or(nums.get(2)) {
                return Err(usage(format!("{name}: unexpected argument {extra:?}")));
            }
            if name == "pread" && nums.len() < 2 {
                return Err(usage("missing pread OFF LEN"));
            }
            Command::DmaRead {
                off: nums.first().map(|s| parse_u64(s)).transpose()?.unwrap_or(0),
                len: nums.get(1).map(|s| parse_usize(s)).transpose()?,
                save: files.first().map(|s| s[1..].to_string()),
            }
        }
        "pwrite" => {
            max(2)?;
            let off = parse_u64(arg(0, "OFF")?)?;
            let data = Data::parse(arg(1, "HEX|@FILE")?)?;
            Command::Pwrite { off, data }
        }
        "serve" => {
            max(0)?;
            Command::Serve {
                seconds: seconds.unwrap_or(3600),
                clients: clients.unwrap_or(1),
            }
        }
        "race" => {
            max(0)?;
            Command::Race {
                clients: clients.unwrap_or(2),
                cycles: cycles.unwrap_or(100),
                hold_ms: hold_ms.unwrap_or(2),
            }
        }
        other => return Err(usage(format!("unknown command {other:?} (see --help)"))),
    };
    Ok(Some(Args {
        opts,
        trace,
        bdf,
        cmd,
    }))
}

/// Runs a one-shot command on a freshly probed rig; the rig is removed on return.
fn one_shot(a: &Args, out: &mut impl Write) -> Result<()> {
    let port = Port::new();
    let rig = Rig::probe(&a.bdf, &a.opts, port)?;
    let c = rig.client();
    let w = |e: std::io::Error| Error::io("stdout", e);
    match &a.cmd {
        Command::Info => {
            let ident = c.ident()?;
            let x = 0x1234_5678;
            let live = c.liveness(x)?;
            writeln!(
                out,
                "bdf={} group={} irq={} iova={:#x}",
                a.bdf,
                rig.group(),
                rig.irq_mode().name(),
                rig.iova()
            )
            .map_err(w)?;
            writeln!(out, "ident={ident:#010x}").map_err(w)?;
            writeln!(out, "liveness={}", if live == !x { "ok" } else { "BAD" }).map_err(w)?;
            if live != !x {
                return Err(Error::Liveness {
                    wrote: x,
                    read: live,
                });
            }
        }
        Command::Ident => writeln!(out, "{:#010x}", c.ident()?).map_err(w)?,
        Command::Liveness(x) => writeln!(out, "{:#010x}", c.liveness(*x)?).map_err(w)?,
        Command::Factorial(n) => writeln!(out, "{}", c.factorial(*n)?).map_err(w)?,
        Command::FactorialPolled(n) => writeln!(out, "{}", c.factorial_polled(*n)?).map_err(w)?,
        Command::Raise { value, count } => {
            for _ in 0..*count {
                c.raise(*value)?;
            }
        }
        Command::DmaWrite { path, off } => {
            let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            writeln!(out, "{}", c.dma_write(*off, &data)?).map_err(w)?;
        }
        Command::Pwrite { off, data } => {
            let data = match data {
                Data::File(p) => std::fs::read(p).map_err(|e| Error::io(p, e))?,
                Data::Bytes(b) => b.clone(),
            };
            writeln!(out, "{}", c.dma_write(*off, &data)?).map_err(w)?;
        }
        Command::DmaRead { off, len, save } => {
            let data = c.dma_read(*off, len.unwrap_or(regs::DMA_BUF_SIZE))?;
            match save {
                Some(p) => std::fs::write(p, &data).map_err(|e| Error::io(p, e))?,
                None => writeln!(out, "{}", hex(&data)).map_err(w)?,
            }
        }
        Command::Serve { .. } | Command::Race { .. } => unreachable!("not a one-shot command"),
    }
    rig.remove();
    Ok(())
}

/// `serve`: holds the device with clients calling until vfio-pci asks for it back.
fn serve(a: &Args, seconds: u64, clients: usize) -> Result<()> {
    let port = Port::new();
    let rig = Rig::probe(&a.bdf, &a.opts, port)?;
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (stop, calls, c) = (stop.clone(), calls.clone(), rig.client());
            std::thread::spawn(move || {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    i = i.wrapping_add(1);
                    let r = match i % 3 {
                        0 => c.ident().map(|_| ()),
                        1 => c.liveness(i).map(|_| ()),
                        _ => c.factorial(i % 13).map(|_| ()),
                    };
                    match r {
                        Ok(()) => {
                            calls.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(1)),
                    }
                }
            })
        })
        .collect();
    println!("serving {} irq={}", a.bdf, rig.irq_mode().name());
    let _ = std::io::stdout().flush();
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut requested = false;
    while Instant::now() < end {
        if rig.wait_release_request(Duration::from_millis(200)) {
            requested = true;
            break;
        }
    }
    // Remove first, with the clients still calling: they are refused from here on.
    let t = Instant::now();
    rig.remove();
    let removed_in = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    println!(
        "removed in {} us after {} calls",
        removed_in.as_micros(),
        calls.load(Ordering::Relaxed)
    );
    if requested {
        Err(Error::Released)
    } else {
        Ok(())
    }
}

/// Prints `race: first cycle done` once the first cycle is over, so that a script can wait for
/// a race that really runs.
fn first_cycle_done(cycles: usize) {
    if cycles == 1 {
        println!("race: first cycle done");
        let _ = std::io::stdout().flush();
    }
}

/// `race`: the probe/remove churn benchmark.
fn race(a: &Args, clients: usize, cycles: usize, hold_ms: u64) -> Result<()> {
    let opts = RaceOptions {
        clients,
        cycles,
        hold: Duration::from_millis(hold_ms),
        progress: Some(first_cycle_done),
    };
    let report = race::run(&a.bdf, &a.opts, &opts);
    println!("{}", report.summary_line());
    if let Some(e) = &report.last_error {
        eprintln!("edu-rig: last client error: {e}");
    }
    if let Some(e) = report.stopped {
        return Err(e);
    }
    if report.violations > 0 {
        return Err(Error::Violation);
    }
    if report.wrong > 0 || report.errors > 0 {
        return Err(Error::Invalid("clients saw wrong results or errors"));
    }
    Ok(())
}

fn run(a: &Args) -> Result<()> {
    match a.cmd {
        Command::Serve { seconds, clients } => serve(a, seconds, clients),
        Command::Race {
            clients,
            cycles,
            hold_ms,
        } => race(a, clients, cycles, hold_ms),
        _ => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            one_shot(a, &mut out)
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(Usage(why)) => {
            eprintln!("error: EINVAL ({why})\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    set_trace(args.trace);
    edu_rig::logger::init(args.trace);
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {} ({e})", e.errno_name());
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BDF: &str = "0000:00:03.0";

    fn p(line: &str) -> Result<Option<Args>, Usage> {
        parse_args(line.split_whitespace())
    }

    fn ok(line: &str) -> Args {
        match p(line) {
            Ok(Some(a)) => a,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn cmd(line: &str) -> Command {
        let a = ok(line);
        assert_eq!(a.bdf, BDF, "{line}");
        a.cmd
    }

    fn err(line: &str) -> String {
        match p(line) {
            Err(Usage(why)) => why,
            Ok(a) => panic!("{line}: accepted as {a:?}"),
        }
    }

    /// Every form the guest scenarios (tests/scenarios/vfio_*.sh, hotplug_vfio.sh,
    /// tests/guest/vfio.sh) use, with their variables filled in.
    #[test]
    fn every_scenario_form_parses() {
        let b = BDF;
        assert_eq!(cmd(&format!("{b} ident")), Command::Ident);
        let a = ok(&format!("--trace {b} info"));
        assert!(a.trace);
        assert_eq!(a.cmd, Command::Info);
        for irq in ["msi", "intx"] {
            let a = ok(&format!("--irq {irq} {b} info"));
            assert_eq!(a.opts.irq, IrqMode::parse(irq).unwrap());
            assert!(!a.trace);
            for k in 1..=8 {
                let a = ok(&format!("--irq {irq} --trace --fail-step {k} {b} info"));
                assert_eq!((a.opts.fail_step, a.trace), (Some(k), true));
                assert_eq!(a.opts.irq, IrqMode::parse(irq).unwrap());
            }
            let r = format!("--irq {irq} {b}");
            assert_eq!(cmd(&format!("{r} ident")), Command::Ident);
            for (x, v) in [
                ("0", 0),
                ("1", 1),
                ("0x12345678", 0x1234_5678),
                ("0xffffffff", u32::MAX),
            ] {
                assert_eq!(cmd(&format!("{r} liveness {x}")), Command::Liveness(v));
            }
            for k in 0..=13 {
                assert_eq!(cmd(&format!("{r} factorial {k}")), Command::Factorial(k));
                assert_eq!(
                    cmd(&format!("{r} factorial-polled {k}")),
                    Command::FactorialPolled(k)
                );
            }
            assert_eq!(
                cmd(&format!("{r} raise 0x1000 20")),
                Command::Raise {
                    value: 0x1000,
                    count: 20
                }
            );
            for (v, value) in [("0x1", 1), ("0x100", 0x100), ("0", 0)] {
                assert_eq!(
                    cmd(&format!("{r} raise {v}")),
                    Command::Raise { value, count: 1 }
                );
            }
            assert_eq!(
                cmd(&format!("{r} dma-write /tmp/pattern")),
                Command::DmaWrite {
                    path: "/tmp/pattern".into(),
                    off: 0
                }
            );
            assert_eq!(
                cmd(&format!("{r} dma-read 0 4096 @/tmp/back")),
                Command::DmaRead {
                    off: 0,
                    len: Some(4096),
                    save: Some("/tmp/back".into())
                }
            );
            assert_eq!(
                cmd(&format!("{r} pwrite 100 deadbeef")),
                Command::Pwrite {
                    off: 100,
                    data: Data::Bytes(vec![0xde, 0xad, 0xbe, 0xef])
                }
            );
            assert_eq!(
                cmd(&format!("{r} pwrite 4090 00112233445566778899aabbccddeeff")),
                Command::Pwrite {
                    off: 4090,
                    data: Data::Bytes((0..16).map(|i| i * 0x11).collect())
                }
            );
            for (off, data) in [(4096, vec![0]), (8192, vec![0])] {
                assert_eq!(
                    cmd(&format!("{r} pwrite {off} 00")),
                    Command::Pwrite {
                        off,
                        data: Data::Bytes(data)
                    }
                );
            }
            for (off, len) in [(100, 4), (4096, 16), (5000, 16), (4090, 16)] {
                assert_eq!(
                    cmd(&format!("{r} pread {off} {len}")),
                    Command::DmaRead {
                        off,
                        len: Some(len),
                        save: None
                    }
                );
            }
            // vfio_race.sh: the options before the BDF, the race's after its name.
            assert_eq!(
                cmd(&format!("--irq {irq} {b} race --clients 2 --cycles 30")),
                Command::Race {
                    clients: 2,
                    cycles: 30,
                    hold_ms: 2
                }
            );
        }
        // vfio_diff.sh's `same`: eductl's forms.
        assert_eq!(
            cmd(&format!("{b} pwrite 0 @/tmp/pattern")),
            Command::Pwrite {
                off: 0,
                data: Data::File("/tmp/pattern".into())
            }
        );
        assert_eq!(
            cmd(&format!("{b} pread 0 4096 @/tmp/rig")),
            Command::DmaRead {
                off: 0,
                len: Some(4096),
                save: Some("/tmp/rig".into())
            }
        );
        assert_eq!(
            cmd(&format!("{b} pwrite 4 c0ffee00")),
            Command::Pwrite {
                off: 4,
                data: Data::Bytes(vec![0xc0, 0xff, 0xee, 0])
            }
        );
        // start_rig (vfio_unbind.sh, hotplug_vfio.sh).
        assert_eq!(
            cmd(&format!("{b} serve --clients 2")),
            Command::Serve {
                seconds: 3600,
                clients: 2
            }
        );
        assert_eq!(
            cmd(&format!("{b} serve --seconds 5")),
            Command::Serve {
                seconds: 5,
                clients: 1
            }
        );
        assert_eq!(
            cmd(&format!("{b} race --hold-ms 5")),
            Command::Race {
                clients: 2,
                cycles: 100,
                hold_ms: 5
            }
        );
        assert_eq!(
            cmd(&format!("{b} dma-read")),
            Command::DmaRead {
                off: 0,
                len: None,
                save: None
            }
        );
        assert_eq!(
            cmd(&format!("{b} dma-read 16 @/tmp/x")),
            Command::DmaRead {
                off: 16,
                len: None,
                save: Some("/tmp/x".into())
            }
        );
        let a = ok(&format!("--timeout-ms 500 {b} ident"));
        assert_eq!(a.opts.timeout, Duration::from_millis(500));
        // Options may also follow the command (lexopt takes them anywhere).
        assert_eq!(ok(&format!("{b} ident --irq intx")).opts.irq, IrqMode::Intx);
        assert_eq!(ok(&format!("--irq=intx {b} ident")).opts.irq, IrqMode::Intx);
        // The ENODEV check of vfio_ops.sh: a well-formed BDF the parser accepts.
        assert_eq!(ok("0000:00:00.0 ident").bdf, "0000:00:00.0");
    }

    #[test]
    fn help() {
        assert!(matches!(p("--help"), Ok(None)));
        assert!(matches!(p("-h"), Ok(None)));
        assert!(matches!(p(&format!("{BDF} race --help")), Ok(None)));
    }

    #[test]
    fn mistakes_are_refused_with_a_reason() {
        let b = BDF;
        // vfio_ops.sh and vfio_fault.sh check these are EINVAL.
        assert!(err(&format!("--irq msix {b} ident")).contains("msi or intx"));
        assert!(err(&format!("--fail-step 0 {b} info")).contains("out of range"));
        assert!(err(&format!("--fail-step 9 {b} info")).contains("out of range"));
        assert!(err(&format!("{b} factorial x")).contains("not a number"));
        assert!(err(&format!("--verbose {b} ident")).contains("--verbose"));
        assert!(err(&format!("{b} ident -x")).contains("-x"));
        assert!(err("--irq").contains("missing argument"));
        assert!(err("").contains("missing BDF"));
        assert!(err(b).contains("missing COMMAND"));
        assert!(err(&format!("{b} frobnicate")).contains("unknown command"));
        assert!(err(&format!("{b} ident 1")).contains("unexpected argument"));
        assert!(err(&format!("{b} factorial")).contains("missing factorial N"));
        assert!(err(&format!("{b} liveness 0x100000000")).contains("32 bits"));
        assert!(err(&format!("{b} pread 0")).contains("pread OFF LEN"));
        assert!(err(&format!("{b} pread 0 4 8")).contains("unexpected argument"));
        assert!(err(&format!("{b} dma-read @/a @/b")).contains("unexpected argument"));
        assert!(err(&format!("{b} pwrite 0 abc")).contains("hex"));
        assert!(err(&format!("{b} raise 1 2 3")).contains("unexpected argument"));
        assert!(err(&format!("{b} ident --cycles 3")).contains("--cycles is an option of race"));
        assert!(err(&format!("{b} race --seconds 3")).contains("of serve"));
        assert!(err(&format!("{b} serve --clients lots")).contains("not a number"));
        assert!(err(&format!("--timeout-ms soon {b} ident")).contains("not a number"));
    }

    #[test]
    fn usage_shows_every_command_with_an_example_that_parses() {
        let examples: Vec<&str> = USAGE
            .lines()
            .filter(|l| l.starts_with(&" ".repeat(31)))
            .filter_map(|l| l.trim().strip_prefix("edu-rig "))
            .collect();
        let mut shown = Vec::new();
        for ex in &examples {
            let a = ok(ex);
            shown.push(
                ex.split_whitespace()
                    .skip_while(|w| *w != a.bdf)
                    .nth(1)
                    .unwrap(),
            );
        }
        for c in [
            "info",
            "ident",
            "liveness",
            "factorial",
            "factorial-polled",
            "raise",
            "dma-write",
            "dma-read",
            "pwrite",
            "pread",
            "serve",
            "race",
        ] {
            assert!(shown.contains(&c), "no example of {c} in the usage");
        }
    }
}
