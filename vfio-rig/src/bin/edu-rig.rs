// SPDX-License-Identifier: GPL-2.0

//! `edu-rig`: drive an edu device bound to vfio-pci from userspace.
//!
//! Every command probes the device (the seven steps), runs through the callback-core port, and
//! removes it again. Errors print `error: ENAME (message)` on stderr (as `eductl` does for the
//! kernel driver) and exit with status 1.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edu_regs::regs;
use edu_rig::ladder::{parse_fail_step, set_trace};
use edu_rig::race::{self, RaceOptions};
use edu_rig::{Error, IrqMode, Port, ProbeOptions, Result, Rig};

const USAGE: &str = "\
usage: edu-rig [OPTIONS] BDF COMMAND [ARGS]

BDF is a PCI address (0000:00:03.0) of an edu device bound to vfio-pci.

commands:
  info                       identification, liveness, interrupt mode, IOMMU group, IOVA
  ident                      the identification register
  liveness X                 write X, print what the device reads back (~X)
  factorial N                N! completed by the device interrupt
  factorial-polled N         N! by polling the status register
  raise V [COUNT]            raise the interrupt with value V and wait until it was handled
                             (COUNT times)
  dma-write FILE [OFF]       DMA FILE's bytes into the device buffer at OFF; prints bytes moved
  dma-read [OFF [LEN]] [@FILE]  DMA LEN bytes (default: to the end) from OFF; hex or to FILE
  pwrite OFF HEX|@FILE       eductl-compatible DMA write (prints bytes moved)
  pread OFF LEN [@FILE]      eductl-compatible DMA read (prints hex, or writes FILE)
  serve [--seconds S] [--clients N]
                             hold the device with N clients calling, until vfio-pci asks
                             for it back (unbind: exits 1 with ENODEV) or S seconds pass
  race [--clients N] [--cycles K] [--hold-ms M]
                             N clients call while K probe/remove cycles run, each holding
                             the device M ms (default 2); prints 'race: first cycle done',
                             then a summary line; fails on any violation or wrong result

options:
  --irq msi|intx             interrupt mode (default msi)
  --fail-step K              make probe step K (1-7) fail; 8 fails nothing
  --timeout-ms T             how long an operation waits for the device (default 2000)
  --trace                    print every probe step and its undo on stderr";

/// Parses a decimal or 0x-prefixed hexadecimal number.
fn parse_num(s: &str) -> Result<u64> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| Error::Invalid("not a number"))
}

fn parse_u32(s: &str) -> Result<u32> {
    u32::try_from(parse_num(s)?).map_err(|_| Error::Invalid("does not fit 32 bits"))
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if s.len() % 2 != 0 {
        return Err(Error::Invalid("odd number of hex digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| Error::Invalid("not hex")))
        .collect()
}

/// The parsed command line.
struct Args {
    opts: ProbeOptions,
    bdf: String,
    cmd: String,
    rest: Vec<String>,
}

fn parse_args(argv: &[String]) -> Result<Args> {
    let mut opts = ProbeOptions::default();
    let mut positional = Vec::new();
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &'static str| it.next().cloned().ok_or(Error::Invalid(name));
        match a.as_str() {
            "--irq" => opts.irq = IrqMode::parse(&value("--irq needs a value")?)?,
            "--fail-step" => {
                opts.fail_step = Some(parse_fail_step(&value("--fail-step needs a value")?)?)
            }
            "--timeout-ms" => {
                opts.timeout =
                    Duration::from_millis(parse_num(&value("--timeout-ms needs a value")?)?)
            }
            "--trace" => {
                set_trace(true);
                edu_rig::logger::init(true);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => positional.push(a.clone()),
        }
    }
    if positional.len() < 2 {
        return Err(Error::Invalid("missing BDF or command (see --help)"));
    }
    let bdf = positional.remove(0);
    let cmd = positional.remove(0);
    Ok(Args {
        opts,
        bdf,
        cmd,
        rest: positional,
    })
}

/// `--name VALUE` among the command's arguments.
fn flag(rest: &[String], name: &str, default: u64) -> Result<u64> {
    match rest.iter().position(|a| a == name) {
        Some(i) => parse_num(
            rest.get(i + 1)
                .ok_or(Error::Invalid("flag needs a value"))?,
        ),
        None => Ok(default),
    }
}

fn arg(rest: &[String], i: usize) -> Result<&str> {
    rest.get(i)
        .map(String::as_str)
        .ok_or(Error::Invalid("missing argument"))
}

/// Runs a one-shot command on a freshly probed rig; the rig is removed on return.
fn one_shot(a: &Args, out: &mut impl Write) -> Result<()> {
    let port = Port::new();
    let rig = Rig::probe(&a.bdf, &a.opts, port)?;
    let c = rig.client();
    let w = |e: std::io::Error| Error::io("stdout", e);
    match a.cmd.as_str() {
        "info" => {
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
        "ident" => writeln!(out, "{:#010x}", c.ident()?).map_err(w)?,
        "liveness" => {
            writeln!(out, "{:#010x}", c.liveness(parse_u32(arg(&a.rest, 0)?)?)?).map_err(w)?
        }
        "factorial" => {
            writeln!(out, "{}", c.factorial(parse_u32(arg(&a.rest, 0)?)?)?).map_err(w)?
        }
        "factorial-polled" => {
            writeln!(out, "{}", c.factorial_polled(parse_u32(arg(&a.rest, 0)?)?)?).map_err(w)?
        }
        "raise" => {
            let v = parse_u32(arg(&a.rest, 0)?)?;
            let count = a
                .rest
                .get(1)
                .map(|s| parse_num(s))
                .transpose()?
                .unwrap_or(1);
            for _ in 0..count {
                c.raise(v)?;
            }
        }
        "dma-write" => {
            let path = arg(&a.rest, 0)?;
            let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let off = a
                .rest
                .get(1)
                .map(|s| parse_num(s))
                .transpose()?
                .unwrap_or(0);
            writeln!(out, "{}", c.dma_write(off, &data)?).map_err(w)?;
        }
        "pwrite" => {
            let off = parse_num(arg(&a.rest, 0)?)?;
            let src = arg(&a.rest, 1)?;
            let data = match src.strip_prefix('@') {
                Some(p) => std::fs::read(p).map_err(|e| Error::io(p, e))?,
                None => unhex(src)?,
            };
            writeln!(out, "{}", c.dma_write(off, &data)?).map_err(w)?;
        }
        "dma-read" | "pread" => {
            let mut nums = a.rest.iter().filter(|s| !s.starts_with('@'));
            let off = nums.next().map(|s| parse_num(s)).transpose()?.unwrap_or(0);
            let len = match nums.next() {
                Some(s) => parse_num(s)? as usize,
                None if a.cmd == "pread" => return Err(Error::Invalid("pread OFF LEN")),
                None => regs::DMA_BUF_SIZE,
            };
            let data = c.dma_read(off, len)?;
            match a.rest.iter().find_map(|s| s.strip_prefix('@')) {
                Some(p) => std::fs::write(p, &data).map_err(|e| Error::io(p, e))?,
                None => writeln!(out, "{}", hex(&data)).map_err(w)?,
            }
        }
        _ => return Err(Error::Invalid("unknown command (see --help)")),
    }
    rig.remove();
    Ok(())
}

/// `serve`: holds the device with clients calling until vfio-pci asks for it back.
fn serve(a: &Args) -> Result<()> {
    let seconds = flag(&a.rest, "--seconds", 3600)?;
    let clients = flag(&a.rest, "--clients", 1)? as usize;
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
fn race(a: &Args) -> Result<()> {
    let opts = RaceOptions {
        clients: flag(&a.rest, "--clients", 2)? as usize,
        cycles: flag(&a.rest, "--cycles", 100)? as usize,
        hold: Duration::from_millis(flag(&a.rest, "--hold-ms", 2)?),
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

fn run(argv: &[String]) -> Result<()> {
    let a = parse_args(argv)?;
    match a.cmd.as_str() {
        "serve" => serve(&a),
        "race" => race(&a),
        _ => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            one_shot(&a, &mut out)
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    edu_rig::logger::init(false);
    match run(&argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {} ({e})", e.errno_name());
            ExitCode::FAILURE
        }
    }
}
