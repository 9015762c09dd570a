// SPDX-License-Identifier: GPL-2.0

//! The race benchmark: client threads call the rig continuously while a controller runs
//! probe/remove cycles under them.
//!
//! Every call goes through the [`Port`]; a call either completes with a checked result, or is
//! refused ([`Error::NotRegistered`]) because the rig is not published. A call still running
//! when remove tears its device down is a violation (counted by [`Port::violations`], or a fault
//! on the `PROT_NONE` canary that kills the process). [`churn`] runs on any [`Ops`]: the tests
//! below run it with a fake device, with the real remove and with one that does not drain.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edu_regs::regs;

use crate::error::Error;
use crate::rig::{Binding, Ops, Port, ProbeOptions, Rig};
use crate::stats::{median, ns, percentile, quantiles, us};

/// Parameters of a race run.
#[derive(Debug, Clone, Copy)]
pub struct RaceOptions {
    /// Client threads.
    pub clients: usize,
    /// Probe/remove cycles.
    pub cycles: usize,
    /// How long each probed rig stays published before remove.
    pub hold: Duration,
    /// Called after every completed cycle with the number of cycles done so far.
    pub progress: Option<fn(usize)>,
}

impl Default for RaceOptions {
    fn default() -> Self {
        Self {
            clients: 2,
            cycles: 100,
            hold: Duration::from_millis(2),
            progress: None,
        }
    }
}

/// What one client thread saw.
#[derive(Debug, Default)]
struct ClientTally {
    ok: u64,
    refused: u64,
    wrong: u64,
    errors: u64,
    last_error: Option<String>,
    latency_ns: Vec<u64>,
}

/// The outcome of a race run.
#[derive(Debug, Default)]
pub struct RaceReport {
    /// Client threads.
    pub clients: usize,
    /// Interrupt mode.
    pub irq: &'static str,
    /// Probe durations, one per completed cycle (us).
    pub probe_us: Vec<u64>,
    /// Remove durations including the drain (us).
    pub remove_us: Vec<u64>,
    /// From the start of a remove to the end of the next probe: calls are refused (us).
    pub refused_window_us: Vec<u64>,
    /// Latencies of completed calls (ns), sorted.
    pub call_ns: Vec<u64>,
    /// Completed calls with a correct result.
    pub calls_ok: u64,
    /// Refused calls (nothing published).
    pub calls_refused: u64,
    /// Completed calls with a wrong result.
    pub wrong: u64,
    /// Calls that failed otherwise (timeouts...).
    pub errors: u64,
    /// The last such error.
    pub last_error: Option<String>,
    /// Removes that found calls in flight and had to wait for them.
    pub removes_with_calls_in_flight: u64,
    /// Calls still running when their device was torn down (or reaching no device).
    pub violations: u64,
    /// Why the run stopped early, if it did.
    pub stopped: Option<Error>,
}

impl RaceReport {
    /// Cycles completed.
    pub fn cycles(&self) -> usize {
        self.remove_us.len()
    }

    /// Whether the run is a pass: every cycle done, no violation, no wrong result, no error.
    pub fn passed(&self, cycles: usize) -> bool {
        self.stopped.is_none()
            && self.cycles() == cycles
            && self.violations == 0
            && self.wrong == 0
            && self.errors == 0
    }

    /// The machine-readable summary line.
    pub fn summary_line(&self) -> String {
        let mut probe = self.probe_us.clone();
        let mut remove = self.remove_us.clone();
        let mut window = self.refused_window_us.clone();
        let p = |v: u64| format!("{:.1}", v as f64 / 1000.0);
        format!(
            "race cycles={} clients={} irq={} probe_median_us={} probe_max_us={} \
             remove_median_us={} remove_max_us={} refused_window_median_us={} \
             calls_ok={} calls_refused={} call_p50_us={} call_p90_us={} call_p99_us={} \
             call_max_us={} wrong={} errors={} removes_with_calls_in_flight={} violations={} \
             call_quantiles_us={}",
            self.cycles(),
            self.clients,
            self.irq,
            median(&mut probe),
            probe.last().copied().unwrap_or(0),
            median(&mut remove),
            remove.last().copied().unwrap_or(0),
            median(&mut window),
            self.calls_ok,
            self.calls_refused,
            p(percentile(&self.call_ns, 50.0)),
            p(percentile(&self.call_ns, 90.0)),
            p(percentile(&self.call_ns, 99.0)),
            p(self.call_ns.last().copied().unwrap_or(0)),
            self.wrong,
            self.errors,
            self.removes_with_calls_in_flight,
            self.violations,
            quantiles(&self.call_ns, 1000),
        )
    }
}

/// One client: calls a mix of operations until told to stop, checking every result.
fn client_loop<H: Ops>(port: &'static Port<H>, stop: &AtomicBool) -> ClientTally {
    let client = port.client();
    let mut t = ClientTally::default();
    let mut i: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        i = i.wrapping_add(1);
        let n = i % (regs::FACTORIAL_MAX + 1);
        let x = i.wrapping_mul(0x9e37_79b9);
        let start = Instant::now();
        let r = match i % 4 {
            0 => client.ident().map(|v| v == regs::IDENT_VALUE),
            1 => client.liveness(x).map(|v| v == !x),
            2 => client
                .factorial_polled(n)
                .map(|v| Some(v) == regs::factorial(n)),
            _ => client.factorial(n).map(|v| Some(v) == regs::factorial(n)),
        };
        let dt = start.elapsed();
        match r {
            Ok(true) => {
                t.ok += 1;
                t.latency_ns.push(ns(dt));
            }
            Ok(false) => t.wrong += 1,
            Err(Error::NotRegistered) => {
                t.refused += 1;
                // Back off: spinning clients would starve the controller's probe.
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => {
                t.errors += 1;
                t.last_error = Some(e.to_string());
            }
        }
    }
    t
}

/// Runs the race on the edu at `bdf`.
pub fn run(bdf: &str, probe: &ProbeOptions, opts: &RaceOptions) -> RaceReport {
    churn(Port::new(), probe.irq.name(), opts, |port| {
        Rig::probe(bdf, probe, port)
    })
}

/// Runs the race on `port`: `opts.clients` client threads call while `opts.cycles` times
/// `probe` publishes a device and the controller removes it again. `irq` only labels the report.
pub fn churn<H: Ops>(
    port: &'static Port<H>,
    irq: &'static str,
    opts: &RaceOptions,
    mut probe: impl FnMut(&'static Port<H>) -> crate::Result<Binding<H>>,
) -> RaceReport {
    let stop = Arc::new(AtomicBool::new(false));
    let (violations, in_flight) = (port.violations(), port.removes_with_calls_in_flight());
    let mut report = RaceReport {
        clients: opts.clients,
        irq,
        ..Default::default()
    };
    let threads: Vec<_> = (0..opts.clients)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || client_loop(port, &stop))
        })
        .collect();
    let mut last_remove: Option<Instant> = None;
    for _ in 0..opts.cycles {
        let t0 = Instant::now();
        let rig = match probe(port) {
            Ok(rig) => rig,
            Err(e) => {
                report.stopped = Some(e);
                break;
            }
        };
        let t1 = Instant::now();
        report.probe_us.push(us(t1 - t0));
        if let Some(s) = last_remove {
            report.refused_window_us.push(us(t1 - s));
        }
        if !opts.hold.is_zero() {
            rig.wait_release_request(opts.hold);
        }
        let released = rig.release_requested();
        let t2 = Instant::now();
        drop(rig);
        report.remove_us.push(us(t2.elapsed()));
        last_remove = Some(t2);
        if let Some(progress) = opts.progress {
            progress(report.cycles());
        }
        if released {
            report.stopped = Some(Error::Released);
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        match t.join() {
            Ok(t) => {
                report.calls_ok += t.ok;
                report.calls_refused += t.refused;
                report.wrong += t.wrong;
                report.errors += t.errors;
                if t.last_error.is_some() {
                    report.last_error = t.last_error;
                }
                report.call_ns.extend(t.latency_ns);
            }
            Err(_) => {
                report.errors += 1;
                report.last_error = Some("a client thread panicked".into());
            }
        }
    }
    report.call_ns.sort_unstable();
    report.violations = port.violations() - violations;
    report.removes_with_calls_in_flight = port.removes_with_calls_in_flight() - in_flight;
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Result;
    use std::sync::atomic::AtomicU64;

    /// A fake edu for the host: right answers, some device time per call, and its own record of
    /// accesses after its teardown (independent of the port's oracle).
    struct FakeEdu {
        torn_down: AtomicBool,
        late: &'static AtomicU64,
    }

    impl FakeEdu {
        /// One register access: counts it if the device was already torn down.
        fn touch(&self) {
            if self.torn_down.load(Ordering::SeqCst) {
                self.late.fetch_add(1, Ordering::SeqCst);
            }
        }

        /// A register access, device time, another access: a call that remove can overlap.
        fn work(&self) {
            self.touch();
            std::thread::sleep(Duration::from_micros(50));
            self.touch();
        }
    }

    impl Ops for FakeEdu {
        fn ident(&self) -> Result<u32> {
            self.work();
            Ok(regs::IDENT_VALUE)
        }
        fn liveness(&self, x: u32) -> Result<u32> {
            self.work();
            Ok(!x)
        }
        fn factorial(&self, n: u32) -> Result<u32> {
            let v = regs::factorial(n).ok_or(Error::Overflow)?;
            self.work();
            Ok(v)
        }
        fn factorial_polled(&self, n: u32) -> Result<u32> {
            self.factorial(n)
        }
        fn raise(&self, _value: u32) -> Result<()> {
            self.work();
            Ok(())
        }
        fn dma_write(&self, _offset: u64, data: &[u8]) -> Result<usize> {
            self.work();
            Ok(data.len())
        }
        fn dma_read(&self, _offset: u64, len: usize) -> Result<Vec<u8>> {
            self.work();
            Ok(vec![0; len])
        }
        fn teardown(&self) {
            self.torn_down.store(true, Ordering::SeqCst);
        }
    }

    /// The race on fake devices; returns the report and the accesses after teardown.
    fn fake_race(port: &'static Port<FakeEdu>, cycles: usize) -> (RaceReport, u64) {
        let late: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
        let opts = RaceOptions {
            clients: 2,
            cycles,
            hold: Duration::from_millis(1),
            progress: None,
        };
        let r = churn(port, "fake", &opts, |port| {
            Binding::publish(
                port,
                FakeEdu {
                    torn_down: AtomicBool::new(false),
                    late,
                },
            )
        });
        eprintln!("{}", r.summary_line());
        (r, late.load(Ordering::SeqCst))
    }

    #[test]
    fn race_on_a_fake_device_drains_calls_in_flight() {
        let port = Port::new();
        let (r, late) = fake_race(port, 200);
        assert!(r.passed(200), "{}", r.summary_line());
        assert_eq!(r.violations, 0);
        assert_eq!(late, 0, "the fake device was used after its teardown");
        assert!(r.calls_ok > 0 && r.calls_refused > 0);
        // The drain was really exercised: some removes had to wait.
        assert!(r.removes_with_calls_in_flight > 0, "{}", r.summary_line());
        assert_eq!(port.removes(), 200);
    }

    /// The positive control: a remove that tears the device down before draining. The oracle
    /// must see it (and the fake device confirms it was used after its teardown).
    #[test]
    fn race_oracle_catches_a_remove_that_does_not_drain() {
        let port = Port::with_broken_teardown();
        let (r, late) = fake_race(port, 200);
        assert!(r.removes_with_calls_in_flight > 0, "{}", r.summary_line());
        assert!(
            r.violations > 0,
            "the oracle missed it: {}",
            r.summary_line()
        );
        assert!(late > 0, "no late access happened: {}", r.summary_line());
        assert!(!r.passed(200));
    }

    #[test]
    fn summary_line_format() {
        let r = RaceReport {
            clients: 2,
            irq: "msi",
            probe_us: vec![10, 30, 20],
            remove_us: vec![5, 5, 6],
            refused_window_us: vec![40, 50],
            call_ns: vec![1000, 2000, 3000],
            calls_ok: 3,
            ..Default::default()
        };
        let l = r.summary_line();
        assert!(l.starts_with("race cycles=3 clients=2 irq=msi probe_median_us=20 probe_max_us=30"));
        assert!(l.contains("call_p50_us=2.0"));
        assert!(l.contains(" removes_with_calls_in_flight=0 violations=0 "));
        assert!(l.contains(" call_quantiles_us=1.0,1.0,"));
        assert!(l.ends_with(",3.0,3.0"));
        assert!(r.passed(3));
        assert!(!r.passed(4));
    }
}
