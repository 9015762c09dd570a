// SPDX-License-Identifier: GPL-2.0

//! `edu-rig-bench`: criterion benchmarks of the rig in the guest, side by side with the same
//! operations through the kernel driver's `/dev/eduN` ioctls.
//!
//! The command line is [`USAGE`], parsed with `lexopt`: an unknown flag, a missing `--bdf` or a
//! missing value prints `error: EINVAL (<why>)` and the usage and exits with status 2. Criterion
//! prints its usual report; at the end a markdown table between `=== edu-rig-bench table` and
//! `=== end` lists the median of every operation (median of criterion's per-sample means). A
//! failing device stops the run with `error: ENAME (what: message)`, exit status 1.

use std::cell::RefCell;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::Criterion;

use edu_regs::{regs, uapi};
use edu_rig::sys::ioctl_u32;
use edu_rig::{IrqMode, Port, ProbeOptions, Rig};

const USAGE: &str = "\
usage: edu-rig-bench --bdf BDF [--dev /dev/eduN] [--kernel-bdf BDF2] [--quick]
       edu-rig-bench -h | --help

Criterion benchmarks of the VFIO rig on BDF (an edu bound to vfio-pci), beside the same
operations through the kernel driver's /dev/eduN when --dev names one.

options:
  --bdf BDF                  the edu bound to vfio-pci (required)
  --dev /dev/eduN            an edu bound to the kernel driver: its ioctls are measured too
  --kernel-bdf BDF2          that device's PCI address: its unbind/bind cycle is measured
  --quick                    shorter warm-up and measurement (for CI)
  -h, --help                 this text

example:
  edu-rig-bench --bdf 0000:00:04.0 --dev /dev/edu0 --kernel-bdf 0000:00:03.0 --quick";

/// The parsed command line.
#[derive(Debug, PartialEq)]
struct Args {
    bdf: String,
    dev: Option<String>,
    kernel_bdf: Option<String>,
    quick: bool,
}

/// What `argv` asks for (`None`: `--help`), or why it is refused.
fn parse_args<I>(argv: I) -> Result<Option<Args>, String>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;
    let (mut bdf, mut dev, mut kernel_bdf, mut quick) = (None, None, None, false);
    let mut p = lexopt::Parser::from_args(argv);
    let e = |e: lexopt::Error| e.to_string();
    while let Some(arg) = p.next().map_err(e)? {
        match arg {
            Long("bdf") => bdf = Some(p.value().map_err(e)?.string().map_err(e)?),
            Long("dev") => dev = Some(p.value().map_err(e)?.string().map_err(e)?),
            Long("kernel-bdf") => kernel_bdf = Some(p.value().map_err(e)?.string().map_err(e)?),
            Long("quick") => quick = true,
            Short('h') | Long("help") => return Ok(None),
            _ => return Err(arg.unexpected().to_string()),
        }
    }
    Ok(Some(Args {
        bdf: bdf.ok_or("missing --bdf BDF")?,
        dev,
        kernel_bdf,
        quick,
    }))
}

/// Measurement settings.
#[derive(Clone, Copy)]
struct Settings {
    warm_up: Duration,
    measure: Duration,
    samples: usize,
}

fn criterion(s: Settings) -> Criterion {
    Criterion::default()
        .warm_up_time(s.warm_up)
        .measurement_time(s.measure)
        .sample_size(s.samples)
        .nresamples(2000)
        .without_plots()
}

/// Benchmarks `f` under `name` and returns the median of the per-sample mean times (ns).
fn measure(s: Settings, name: &str, mut f: impl FnMut()) -> f64 {
    let samples = Rc::new(RefCell::new(Vec::<f64>::new()));
    let rec = samples.clone();
    let mut c = criterion(s);
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            let d = t.elapsed();
            rec.borrow_mut()
                .push(d.as_nanos() as f64 / iters.max(1) as f64);
            d
        })
    });
    // Warm-up calls come first: the measurement is the last `samples` of them.
    let all = samples.borrow();
    let mut last: Vec<f64> = all[all.len().saturating_sub(s.samples)..].to_vec();
    last.sort_by(|a, b| a.total_cmp(b));
    if last.is_empty() {
        return f64::NAN;
    }
    last[last.len() / 2]
}

/// Exits with the error: a benchmark cannot continue on a failing device.
fn die(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("error: EIO ({what}: {e})");
    std::process::exit(1)
}

/// Exits with a rig error, named by its errno.
fn die_rig(what: &str, e: edu_rig::Error) -> ! {
    eprintln!("error: {} ({what}: {e})", e.errno_name());
    std::process::exit(1)
}

/// Exits with an OS error, named by its errno.
fn die_os(what: &str, e: std::io::Error) -> ! {
    let name = edu_rig::error::errno_name(e.raw_os_error().unwrap_or(libc::EIO));
    eprintln!("error: {name} ({what}: {e})");
    std::process::exit(1)
}

/// One row of the final table.
struct Row {
    op: &'static str,
    rig: Option<f64>,
    kernel: Option<f64>,
}

fn fmt(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.0}"),
        _ => "-".into(),
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("error: EINVAL ({why})\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    edu_rig::logger::init(false);
    let (bdf, quick) = (args.bdf.as_str(), args.quick);
    let fast = if quick {
        Settings {
            warm_up: Duration::from_millis(200),
            measure: Duration::from_millis(600),
            samples: 10,
        }
    } else {
        Settings {
            warm_up: Duration::from_millis(500),
            measure: Duration::from_secs(2),
            samples: 20,
        }
    };
    // Probe/remove and unbind/bind take milliseconds: fewer, longer samples.
    let slow = Settings {
        warm_up: Duration::from_millis(100),
        measure: if quick {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(3)
        },
        samples: 10,
    };
    let mut rows = Vec::new();
    let port = Port::new();
    let client = port.client();

    let kernel = args.dev.as_deref().map(|d| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(d)
            .unwrap_or_else(|e| die_os(d, e))
    });
    let kioctl = |req: u32, v: u32| {
        let f = kernel.as_ref().expect("kernel device");
        let mut x = v;
        if let Err(e) = ioctl_u32(f.as_raw_fd(), req, &mut x) {
            die_os("ioctl", e);
        }
        x
    };
    let kbench = |s: Settings, name: &str, req: u32, v: u32| -> Option<f64> {
        kernel.as_ref()?;
        Some(measure(s, name, || {
            std::hint::black_box(kioctl(req, v));
        }))
    };

    // The refused path: a dispatch on a port with nothing published.
    let refused = measure(fast, "rig/dispatch refused (no rig)", || {
        std::hint::black_box(client.ident().is_err());
    });
    rows.push(Row {
        op: "dispatch refused (nothing published)",
        rig: Some(refused),
        kernel: None,
    });

    // MSI rig.
    let msi = ProbeOptions {
        irq: IrqMode::Msi,
        ..Default::default()
    };
    let rig = Rig::probe(bdf, &msi, port).unwrap_or_else(|e| die_rig("probe (msi)", e));
    let ok = |r: edu_rig::Result<u32>, want: u32| match r {
        Ok(v) if v == want => {}
        Ok(v) => die("wrong result", v),
        Err(e) => die_rig("operation", e),
    };
    rows.push(Row {
        op: "BAR read: IDENT",
        rig: Some(measure(fast, "rig/ident (BAR read)", || {
            ok(client.ident(), regs::IDENT_VALUE)
        })),
        kernel: kbench(fast, "kernel/IDENT ioctl", uapi::EDU_IOC_IDENT, 0),
    });
    rows.push(Row {
        op: "liveness (write + read)",
        rig: Some(measure(fast, "rig/liveness", || {
            ok(client.liveness(0x1234), !0x1234)
        })),
        kernel: kbench(
            fast,
            "kernel/LIVENESS ioctl",
            uapi::EDU_IOC_LIVENESS,
            0x1234,
        ),
    });
    rows.push(Row {
        op: "factorial 5, polled",
        rig: Some(measure(fast, "rig/factorial polled", || {
            ok(client.factorial_polled(5), 120)
        })),
        kernel: None,
    });
    rows.push(Row {
        op: "factorial 5, interrupt (MSI)",
        rig: Some(measure(fast, "rig/factorial irq msi", || {
            ok(client.factorial(5), 120)
        })),
        kernel: kbench(fast, "kernel/FACTORIAL ioctl", uapi::EDU_IOC_FACTORIAL, 5),
    });
    rows.push(Row {
        op: "MSI round trip (raise, eventfd, ack)",
        rig: Some(measure(fast, "rig/raise msi", || {
            ok(client.raise(0x1000).map(|()| 0), 0)
        })),
        kernel: kbench(fast, "kernel/RAISE ioctl", uapi::EDU_IOC_RAISE, 0x1000),
    });
    rig.remove();

    // INTx rig.
    let intx = ProbeOptions {
        irq: IrqMode::Intx,
        ..Default::default()
    };
    let rig = Rig::probe(bdf, &intx, port).unwrap_or_else(|e| die_rig("probe (intx)", e));
    rows.push(Row {
        op: "INTx round trip (raise, eventfd, ack, unmask)",
        rig: Some(measure(fast, "rig/raise intx", || {
            ok(client.raise(0x1000).map(|()| 0), 0)
        })),
        kernel: None,
    });
    rows.push(Row {
        op: "factorial 5, interrupt (INTx)",
        rig: Some(measure(fast, "rig/factorial irq intx", || {
            ok(client.factorial(5), 120)
        })),
        kernel: None,
    });
    rig.remove();

    // Probe/remove cycles against unbind/bind of the kernel driver.
    let cycle = measure(slow, "rig/probe+remove cycle", || {
        Rig::probe(bdf, &msi, port)
            .unwrap_or_else(|e| die_rig("probe", e))
            .remove();
    });
    drop(kernel);
    let kcycle = args.kernel_bdf.as_deref().map(|kbdf| {
        let w = |path: &str| {
            std::fs::write(path, kbdf).unwrap_or_else(|e| die_os(path, e));
        };
        measure(slow, "kernel/unbind+bind cycle", || {
            w("/sys/bus/pci/drivers/edu/unbind");
            w("/sys/bus/pci/drivers/edu/bind");
        })
    });
    rows.push(Row {
        op: "probe/remove cycle",
        rig: Some(cycle),
        kernel: kcycle,
    });

    println!("=== edu-rig-bench table");
    println!("| operation | rig median ns | kernel median ns | ratio rig/kernel |");
    println!("|---|---:|---:|---:|");
    for r in &rows {
        let ratio = match (r.rig, r.kernel) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "-".into(),
        };
        println!(
            "| {} | {} | {} | {} |",
            r.op,
            fmt(r.rig),
            fmt(r.kernel),
            ratio
        );
    }
    println!("=== end");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Option<Args>, String> {
        parse_args(line.split_whitespace())
    }

    #[test]
    fn the_scenario_form_and_the_example_parse() {
        // tests/scenarios/bench_guest.sh, with and without bench_quick.
        let a = p("--bdf 0000:00:04.0 --dev /dev/edu0 --kernel-bdf 0000:00:03.0 --quick")
            .unwrap()
            .unwrap();
        assert_eq!(
            a,
            Args {
                bdf: "0000:00:04.0".into(),
                dev: Some("/dev/edu0".into()),
                kernel_bdf: Some("0000:00:03.0".into()),
                quick: true
            }
        );
        let a = p("--bdf 0000:00:04.0 --dev /dev/edu0 --kernel-bdf 0000:00:03.0")
            .unwrap()
            .unwrap();
        assert!(!a.quick);
        let a = p("--bdf=0000:00:04.0").unwrap().unwrap();
        assert_eq!((a.dev, a.kernel_bdf), (None, None));
        let example = USAGE.lines().last().unwrap().trim();
        assert!(p(example.strip_prefix("edu-rig-bench ").unwrap())
            .unwrap()
            .is_some());
        assert_eq!(p("--help"), Ok(None));
        assert_eq!(p("-h"), Ok(None));
    }

    #[test]
    fn mistakes_are_refused() {
        assert!(p("").unwrap_err().contains("--bdf"));
        assert!(p("--dev /dev/edu0").unwrap_err().contains("--bdf"));
        assert!(p("--bdf").unwrap_err().contains("missing argument"));
        assert!(p("--bdf x --fast").unwrap_err().contains("--fast"));
        assert!(p("--bdf x extra").unwrap_err().contains("extra"));
    }
}
