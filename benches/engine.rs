//! Engine benchmark on generated `cairn_data` stacks of N resources, each referencing two
//! earlier ones (fan-in 2, so the DAG is wide, as large estates are).
//!
//! Every step is the real command line in a process of its own, so its wall time and
//! peak RSS are what a user sees: `validate`, `plan` on an empty state, `apply`, `plan
//! --refresh=false` with the full state (which must show no changes) and `destroy`.
//! Output goes to /dev/null. Each row also shows the disk's fsync latency measured just
//! before the step (apply and destroy are bound by it: see BENCHMARKS.md).
//!
//! Then the cost of checkpointing the apply, measured in-process through the library:
//! the same plan applied with the journal counted (records, writes, i.e. fsyncs, and
//! snapshots), per resource, which must stay flat from 1,000 to 100,000.
//!
//! A second shape, `for_each`, is one root and one block whose `for_each` over a map
//! variable makes the other N - 1 resources, each referencing the root.
//!
//! Run with `cargo bench --no-default-features --bench engine`. Environment:
//! - `CAIRN_BENCH_SIZES`: comma-separated N of the fan-in shape (default
//!   `1000,10000,100000`);
//! - `CAIRN_BENCH_FOR_EACH`: comma-separated N of the `for_each` shape (default `10000`);
//! - `CAIRN_BENCH_PARALLELISM`: `--parallelism` of apply and destroy (default cairn's, 10).

#![allow(
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark binary: it prints its figures and stops loudly if a step fails"
)]

#[path = "../tests/support/engine.rs"]
#[allow(
    dead_code,
    reason = "shared with the engine tests; a benchmark uses part of it"
)]
mod engine;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn::apply::ApplyOptions;
use cairn::plan::PlanOptions;
use cairn::providers::Registry;
use cairn::state::WriteStats;
use engine::Run;

/// Set in the environment of a step's process: run cairn's command line, then report the
/// process's peak RSS on stderr.
const STEP_ENV: &str = "CAIRN_BENCH_STEP";
const PEAK_MARKER: &str = "cairn-bench-peak-rss-kib=";
const RESOURCES_PER_FILE: usize = 1_000;

/// The generated stacks.
#[derive(Clone, Copy)]
enum Shape {
    /// Resource `i` references two earlier ones.
    FanIn,
    /// One root and one `for_each` block of N - 1 instances.
    ForEach,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::FanIn => "fan-in",
            Shape::ForEach => "for_each",
        }
    }
}

/// The sizes `var` asks for, `default` if unset.
fn sizes(var: &str, default: &str) -> Vec<usize> {
    let spec = std::env::var(var).unwrap_or_else(|_| default.into());
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| match s.trim().replace('_', "").parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("{var}: `{s}` is not a positive number"),
        })
        .collect()
}

/// The two earlier resources resource `i` references.
fn parents(i: usize) -> [usize; 2] {
    [(i - 1) / 2, (i - 1) / 3]
}

/// Writes the stack of `shape` with `n` resources.
fn write_stack(dir: &Path, shape: Shape, n: usize) {
    match shape {
        Shape::FanIn => write_fan_in(dir, n),
        Shape::ForEach => write_for_each(dir, n),
    }
}

/// One root and `cairn_data.each`, a `for_each` over a map variable of `n - 1` keys.
fn write_for_each(dir: &Path, n: usize) {
    let items: Vec<String> = (1..n).map(|i| format!("k{i} = {i}")).collect();
    let toml = format!(
        "[stack]\nname = \"bench\"\n\n[variables.items]\ntype = \"map\"\ndefault = {{ {} }}\n\n[resources.cairn_data.r0]\ninput = {{ n = 0 }}\n\n[resources.cairn_data.each]\nfor_each = \"${{var.items}}\"\ninput = {{ n = \"${{each.value}}\", key = \"${{each.key}}\", parent = \"${{cairn_data.r0.id}}\" }}\n",
        items.join(", ")
    );
    if let Err(e) = std::fs::write(dir.join("stack.toml"), toml) {
        panic!("write stack: {e}");
    }
}

/// Writes the stack as files of [`RESOURCES_PER_FILE`] resources, as a large estate
/// spreads its resources over many files.
fn write_fan_in(dir: &Path, n: usize) {
    let mut toml =
        String::from("[stack]\nname = \"bench\"\n\n[resources.cairn_data.r0]\ninput = { n = 0 }\n");
    let mut file = 0;
    for i in 1..=n {
        if i % RESOURCES_PER_FILE == 0 || i == n {
            if let Err(e) = std::fs::write(dir.join(format!("r{file:04}.toml")), &toml) {
                panic!("write stack: {e}");
            }
            toml.clear();
            file += 1;
        }
        if i == n {
            break;
        }
        let [a, b] = parents(i);
        let _ = write!(
            toml,
            "\n[resources.cairn_data.r{i}]\ninput = {{ n = {i}, a = \"${{cairn_data.r{a}.id}}\", b = \"${{cairn_data.r{b}.id}}\" }}\n"
        );
    }
}

/// The disk's fsync latency now, where the state lives: the median of 40 appends of a
/// 2 KB line, each followed by `sync_data`, as a journal write does. Printed with each
/// step, because on a shared disk it moves from one step to the next.
fn fsync_latency(dir: &Path) -> Duration {
    let path = dir.join("fsync-probe");
    let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        panic!("fsync probe")
    };
    let line = [b'x'; 2048];
    let mut samples: Vec<Duration> = (0..40)
        .map(|_| {
            let started = Instant::now();
            if std::io::Write::write_all(&mut file, &line).is_err() || file.sync_data().is_err() {
                panic!("fsync probe write");
            }
            started.elapsed()
        })
        .collect();
    let _ = std::fs::remove_file(&path);
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One step's process: the command line as `cairn` runs it.
fn step_main() -> std::process::ExitCode {
    let code = cairn::cli::main();
    if let Some(kib) = peak_rss_kib() {
        eprintln!("{PEAK_MARKER}{kib}");
    }
    code
}

struct Measured {
    wall: Duration,
    peak_kib: u64,
    code: Option<i32>,
}

/// Runs `cairn ARGS` in a process of its own.
fn step(args: &[&str]) -> Measured {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => panic!("own executable: {e}"),
    };
    let started = Instant::now();
    let output = Command::new(exe)
        .args(args)
        .env(STEP_ENV, "1")
        .env_remove("CAIRN_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let wall = started.elapsed();
    let output = match output {
        Ok(output) => output,
        Err(e) => panic!("run step {args:?}: {e}"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak_kib = stderr
        .lines()
        .find_map(|l| l.strip_prefix(PEAK_MARKER))
        .and_then(|kib| kib.trim().parse().ok())
        .unwrap_or(0);
    let measured = Measured {
        wall,
        peak_kib,
        code: output.status.code(),
    };
    if !matches!(measured.code, Some(0 | 2)) {
        panic!("step {args:?} failed ({:?}):\n{stderr}", measured.code);
    }
    measured
}

/// Applies the stack in `dir` in-process onto an empty state; returns the apply's time
/// (the walk only, not load or plan) and what the store wrote, closing included.
fn checkpointed_apply(dir: &Path, parallelism: usize) -> (Duration, WriteStats, u64) {
    let runtime = engine::runtime();
    let registry = Registry::builtin();
    let state = dir.join("checkpointed.json");
    let mut run = Run::open_with_state(dir, &state, &registry);
    let plan = runtime.block_on(run.plan(&PlanOptions::default()));
    let started = Instant::now();
    let outcome = runtime.block_on(run.apply(&plan, ApplyOptions { parallelism }));
    let elapsed = started.elapsed();
    assert!(outcome.is_success(), "apply failed: {:?}", outcome.failures);
    let stats = run.store.stats();
    run.close();
    let size = std::fs::metadata(&state).map_or(0, |m| m.len());
    (elapsed, stats, size)
}

fn main() {
    if std::env::var_os(STEP_ENV).is_some() {
        std::process::exit(match step_main() {
            code if code == std::process::ExitCode::SUCCESS => 0,
            // Only `plan --detailed-exitcode` exits 2 on success; anything else failed.
            _ => 1,
        });
    }
    let parallelism = std::env::var("CAIRN_BENCH_PARALLELISM").ok();
    let mut checkpoints = Vec::new();
    println!(
        "{:<9} {:<23} {:>7} {:>10} {:>9} {:>9} {:>9}",
        "shape", "step", "N", "wall ms", "us/res", "peak MiB", "fsync ms"
    );
    let cases = sizes("CAIRN_BENCH_SIZES", "1000,10000,100000")
        .into_iter()
        .map(|n| (Shape::FanIn, n))
        .chain(
            sizes("CAIRN_BENCH_FOR_EACH", "10000")
                .into_iter()
                .map(|n| (Shape::ForEach, n)),
        );
    for (shape, n) in cases {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("temp dir")
        };
        let stack = dir.path().join("stack");
        if let Err(e) = std::fs::create_dir(&stack) {
            panic!("stack dir: {e}");
        }
        write_stack(&stack, shape, n);
        let stack = stack.display().to_string();
        let state = dir.path().join("state.json").display().to_string();
        let mut walk_args = vec![stack.as_str(), "--state", state.as_str(), "--auto-approve"];
        if let Some(p) = &parallelism {
            walk_args.extend(["--parallelism", p.as_str()]);
        }
        let steps: [(&str, Vec<&str>); 5] = [
            ("validate", vec!["validate", stack.as_str()]),
            (
                "plan (empty state)",
                vec!["plan", stack.as_str(), "--state", state.as_str()],
            ),
            ("apply", [&["apply"][..], &walk_args].concat()),
            (
                "plan (full, no refresh)",
                vec![
                    "plan",
                    stack.as_str(),
                    "--state",
                    state.as_str(),
                    "--refresh=false",
                    "--detailed-exitcode",
                ],
            ),
            ("destroy", [&["destroy"][..], &walk_args].concat()),
        ];
        for (name, args) in steps {
            let fsync = fsync_latency(dir.path());
            let m = step(&args);
            if name.starts_with("plan (full") {
                assert_eq!(m.code, Some(0), "a plan after apply must show no changes");
            }
            println!(
                "{:<9} {:<23} {:>7} {:>10.1} {:>9.1} {:>9.1} {:>9.2}",
                shape.name(),
                name,
                n,
                m.wall.as_secs_f64() * 1e3,
                m.wall.as_secs_f64() * 1e6 / n as f64,
                m.peak_kib as f64 / 1024.0,
                fsync.as_secs_f64() * 1e3
            );
        }
        let p = parallelism
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(ApplyOptions::default().parallelism);
        let fsync = fsync_latency(dir.path());
        let (elapsed, stats, size) = checkpointed_apply(Path::new(&stack), p);
        checkpoints.push((shape, n, elapsed, stats, size, fsync));
    }
    println!(
        "\n{:<10} {:>8} {:>8} {:>9} {:>9} {:>10} {:>11} {:>11} {:>9}",
        "shape",
        "N",
        "records",
        "writes",
        "snapshots",
        "walk us/res",
        "bytes/res",
        "state bytes",
        "fsync ms"
    );
    for (shape, n, elapsed, stats, size, fsync) in checkpoints {
        println!(
            "{:<10} {:>8} {:>8} {:>9} {:>9} {:>10.1} {:>11} {:>11} {:>9.2}",
            shape.name(),
            n,
            stats.journal_records,
            stats.journal_writes,
            stats.snapshots,
            elapsed.as_secs_f64() * 1e6 / n as f64,
            stats.bytes_written / n as u64,
            size,
            fsync.as_secs_f64() * 1e3
        );
    }
}
