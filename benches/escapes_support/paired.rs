//! A baseline and ours, measured interleaved.
//!
//! This machine has 2 cores shared with other jobs, so two benches run one
//! after the other can differ by more than the nanosecond the targets are
//! about. Here both criterion benches of a pair (`.../baseline` and
//! `.../ours`, under whatever names the caller gives) run *both* operations
//! in every sample, alternating blocks of calls (and which goes first), and
//! each reports its own half. Whatever slows the machine down during a
//! sample slows both halves. Each sample's two halves are also kept, and
//! [`PairedGroup::pair`] prints the median of the per-sample differences: the
//! figure BENCHMARKS.md (part 2) quotes beside criterion's own estimates.
//!
//! Time is this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, user and
//! system, so a system call's kernel work counts) unless [`Clock::Wall`] is
//! asked for: with more runnable jobs than cores, wall-clock time also
//! counts the slices other jobs run in while this thread waits, which
//! swamps differences of a few percent. Criterion's own figures for these
//! benches are in the same clock, since they are what `iter_custom` gets.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The most calls in one timed block: small enough that a sample holds
/// several alternations, large enough that reading the clock (about half
/// a microsecond for the thread CPU clock here: a system call) is noise.
const MAX_BLOCK: u64 = 65_536;

/// The fewest blocks per side in a sample that has the calls for them.
const MIN_BLOCKS: u64 = 8;

/// Samples in which either side took less than this (criterion's first
/// warm-up calls of a cheap operation, where reading the clock is most of
/// the time) are left out of the paired figures.
const MIN_SAMPLE_TIME: Duration = Duration::from_micros(100);

/// One sample: both halves of `iters` calls each.
#[derive(Clone, Copy)]
struct Sample {
    iters: u64,
    baseline: Duration,
    ours: Duration,
}

/// What a sample's time is measured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Wall-clock time (`Instant`).
    Wall,
    /// This thread's CPU time, user and system (`CLOCK_THREAD_CPUTIME_ID`).
    ThreadCpu,
}

impl Clock {
    fn name(self) -> &'static str {
        match self {
            Clock::Wall => "wall-clock time",
            Clock::ThreadCpu => "thread CPU time",
        }
    }
}

/// This thread's CPU time so far.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; the clock id is a constant
    // every Linux kernel since 2.6.12 supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `op` `n` times and returns how long that took. Not inlined, so
/// each operation's loop is compiled once, the same way for both sides.
#[inline(never)]
fn time_block<R>(clock: Clock, n: u64, op: &mut impl FnMut() -> R) -> Duration {
    match clock {
        Clock::Wall => {
            let start = Instant::now();
            for _ in 0..n {
                black_box(op());
            }
            start.elapsed()
        }
        Clock::ThreadCpu => {
            let start = thread_cpu_time();
            for _ in 0..n {
                black_box(op());
            }
            thread_cpu_time().saturating_sub(start)
        }
    }
}

/// `iters` calls of each operation in alternating blocks; returns the time
/// spent in each.
fn interleave<A, B>(
    clock: Clock,
    iters: u64,
    baseline: &mut impl FnMut() -> A,
    ours: &mut impl FnMut() -> B,
) -> Sample {
    let block = (iters / MIN_BLOCKS).clamp(1, MAX_BLOCK);
    let mut sample = Sample {
        iters,
        baseline: Duration::ZERO,
        ours: Duration::ZERO,
    };
    let mut left = iters;
    let mut ours_first = false;
    while left > 0 {
        let n = block.min(left);
        if ours_first {
            sample.ours += time_block(clock, n, ours);
            sample.baseline += time_block(clock, n, baseline);
        } else {
            sample.baseline += time_block(clock, n, baseline);
            sample.ours += time_block(clock, n, ours);
        }
        ours_first = !ours_first;
        left -= n;
    }
    sample
}

/// A criterion group whose benches come in interleaved pairs; prints the
/// paired figures of every pair again when finished, so they read as one
/// table.
pub struct PairedGroup<'a> {
    group: BenchmarkGroup<'a, WallTime>,
    name: String,
    clock: Clock,
    lines: Vec<String>,
}

impl<'a> PairedGroup<'a> {
    /// Starts group `name`, timed with `clock`.
    pub fn new(c: &'a mut Criterion, name: &str, clock: Clock) -> PairedGroup<'a> {
        PairedGroup {
            group: c.benchmark_group(name),
            name: name.to_string(),
            clock,
            lines: Vec::new(),
        }
    }

    /// The criterion group, to configure (sample size, throughput...).
    pub fn config(&mut self) -> &mut BenchmarkGroup<'a, WallTime> {
        &mut self.group
    }

    /// Benches `baseline` as `{name}/{labels[0]}` and `ours` as
    /// `{name}/{labels[1]}`, interleaved (see the module doc), and prints
    /// their paired figures. `bytes`: bytes per call, for throughput.
    pub fn pair<A, B>(
        &mut self,
        name: &str,
        labels: [&str; 2],
        bytes: Option<u64>,
        mut baseline: impl FnMut() -> A,
        mut ours: impl FnMut() -> B,
    ) -> Figures {
        let mut samples = Vec::new();
        let clock = self.clock;
        for (side, label) in labels.iter().enumerate() {
            self.group.bench_function(format!("{name}/{label}"), |b| {
                b.iter_custom(|iters| {
                    let sample = interleave(clock, iters, &mut baseline, &mut ours);
                    samples.push(sample);
                    if side == 0 {
                        sample.baseline
                    } else {
                        sample.ours
                    }
                })
            });
        }
        let figures = Figures::of(&samples);
        let name = format!("{}/{name}", self.name);
        if figures.samples == 0 {
            // Criterion skipped both benches (a name filter on the command
            // line) or ran each once (`--test`): nothing worth a figure.
            return figures;
        }
        let line = figures.line(&name, labels, bytes);
        println!("{line}");
        self.lines.push(line);
        figures
    }

    /// Ends the group and prints every pair's line.
    pub fn finish(self) {
        self.group.finish();
        if self.lines.is_empty() {
            return;
        }
        println!(
            "\n== paired figures of {} ({})",
            self.name,
            self.clock.name()
        );
        for line in &self.lines {
            println!("{line}");
        }
        println!();
    }
}

/// Quantile `q` (0..=1) of sorted `values` (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

/// The paired figures of one pair.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// Samples used.
    pub samples: usize,
    /// Median ns per call, baseline.
    pub baseline_ns: f64,
    /// Median ns per call, ours.
    pub ours_ns: f64,
    /// Median of the per-sample differences (ours - baseline), ns per call.
    pub diff_ns: f64,
    /// Quartiles of the per-sample differences.
    pub diff_q1: f64,
    /// Upper quartile.
    pub diff_q3: f64,
    /// Median of the per-sample ratios ours / baseline.
    pub ratio: f64,
}

impl Figures {
    /// The paired figures over the samples large enough to count.
    fn of(samples: &[Sample]) -> Figures {
        let used: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.baseline.min(s.ours) >= MIN_SAMPLE_TIME)
            .collect();
        let per_call = |d: Duration, n: u64| d.as_secs_f64() * 1e9 / n as f64;
        let base = sorted(used.iter().map(|s| per_call(s.baseline, s.iters)).collect());
        let ours = sorted(used.iter().map(|s| per_call(s.ours, s.iters)).collect());
        let diffs = sorted(
            used.iter()
                .map(|s| per_call(s.ours, s.iters) - per_call(s.baseline, s.iters))
                .collect(),
        );
        let ratios = sorted(
            used.iter()
                .map(|s| s.ours.as_secs_f64() / s.baseline.as_secs_f64().max(1e-12))
                .collect(),
        );
        Figures {
            samples: used.len(),
            baseline_ns: quantile(&base, 0.5),
            ours_ns: quantile(&ours, 0.5),
            diff_ns: quantile(&diffs, 0.5),
            diff_q1: quantile(&diffs, 0.25),
            diff_q3: quantile(&diffs, 0.75),
            ratio: quantile(&ratios, 0.5),
        }
    }

    /// One line, starting with `paired`: both medians (and throughput when
    /// `bytes` per call is given), the median difference with its quartiles,
    /// and the median ratio.
    fn line(&self, name: &str, labels: [&str; 2], bytes: Option<u64>) -> String {
        let [base_label, ours_label] = labels;
        let throughput = |ns: f64| match bytes {
            Some(bytes) => format!(
                " ({:.1} MiB/s)",
                bytes as f64 / (ns * 1e-9) / f64::from(1u32 << 20)
            ),
            None => String::new(),
        };
        format!(
            "paired {name}: {base_label} {}{}, {ours_label} {}{}; {ours_label} - {base_label} = \
             {:+.2} ns/call [IQR {:+.2} .. {:+.2}], ratio {:.4} (medians of {} interleaved samples)",
            fmt_ns(self.baseline_ns),
            throughput(self.baseline_ns),
            fmt_ns(self.ours_ns),
            throughput(self.ours_ns),
            self.diff_ns,
            self.diff_q1,
            self.diff_q3,
            self.ratio,
            self.samples,
        )
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} us", ns / 1e3)
    } else {
        format!("{ns:.2} ns")
    }
}
