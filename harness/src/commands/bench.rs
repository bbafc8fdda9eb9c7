//! `faultline bench`: the checker's benchmarks, with medians of several runs and
//! ratios against a baseline measured in the same run.
//!
//! - `corpus`: every history of the Porcupine corpus, checked by faultline's search
//!   and by the Porcupine-style baseline (`--algorithm plain`), verdicts verified
//!   against `expected.tsv`.
//! - `scale`: generated histories (1,000,000 operations over 1,000 keys; 100,000
//!   operations on one key with 1 % crashed writes, each also with every
//!   model; 100,000 and 1,000,000 list-append transactions), read and checked
//!   by a child `faultline check`, with its wall time and peak memory.
//! - `weak`: the weak-model checkers; `report`: the HTML report of 100,000
//!   operations; `overhead` and `target`: the run against wrk, and the stores.

use super::generate::GenerateArgs;
use crate::exit;
use checkers::ModelKind;
use checkers::linearizable::{self, Algorithm, Options};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `faultline bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which benchmark.
    #[command(subcommand)]
    pub which: Which,
    /// Also write the output into this file (e.g. README.md) between the lines
    /// `<!-- bench NAME -->` and `<!-- /bench NAME -->`, with the command, the
    /// date and the machine.
    #[arg(long, global = true)]
    pub readme: Option<PathBuf>,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum Which {
    /// The Porcupine corpus: per-file medians and totals, faultline against the baseline.
    Corpus {
        /// The corpus folder (with expected.tsv).
        #[arg(long, default_value = "../shared/corpus/porcupine")]
        dir: PathBuf,
        /// Runs per file; medians are reported.
        #[arg(long, default_value_t = 7)]
        runs: usize,
        /// Print every file, not only the totals and the slowest.
        #[arg(long)]
        all: bool,
    },
    /// Generated large histories, checked by a child process.
    Scale {
        /// Runs per history; medians are reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// The weak-model checkers on generated histories: each causal and session
    /// model on 100,000 operations (20 sessions, 100 keys), every model on
    /// 100,000 operations of one key (1% crashed writes, about 420 sessions),
    /// sequential consistency on 64 sessions × 100 operations (run one at a
    /// time, and with up to 64 at once).
    Weak {
        /// Runs per model; medians are reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The HTML report of 100,000 operations: size, render time and (with
    /// chromium) time to DOMContentLoaded, against a 1,000-operation report.
    Report {
        /// Runs; medians are reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// `faultline run`'s request rate against wrk's on the same cluster (needs wrk).
    Overhead {
        /// Runs; the median ratio is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Connections (wrk) and workers (faultline).
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// A bundled store's throughput and latency: 3 nodes on loopback, 50% reads.
    Target {
        /// The store: chain-kv or twopc-kv.
        store: String,
        /// Runs; medians are reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Seconds per run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

/// Runs `faultline bench`; returns the exit code.
///
/// # Errors
/// A benchmark that could not run (its corpus unreadable, a cluster that
/// would not start, a tool missing).
pub fn run(args: &BenchArgs) -> anyhow::Result<u8> {
    if let Some(readme) = &args.readme {
        let name = match &args.which {
            Which::Corpus { .. } => "corpus".to_string(),
            Which::Scale { .. } => "scale".to_string(),
            Which::Weak { .. } => "weak".to_string(),
            Which::Report { .. } => "report".to_string(),
            Which::Overhead { .. } => "overhead".to_string(),
            Which::Target { store, .. } => format!("target {store}"),
        };
        return super::bench_readme::run(&name, readme);
    }
    match &args.which {
        Which::Corpus { dir, runs, all } => {
            corpus(dir, (*runs).max(1), *all).map_err(anyhow::Error::msg)
        }
        Which::Scale { runs } => scale((*runs).max(1)).map_err(anyhow::Error::msg),
        Which::Weak { runs } => weak_models((*runs).max(1)).map_err(anyhow::Error::msg),
        Which::Report { runs } => super::bench_report::run((*runs).max(1)),
        Which::Overhead {
            runs,
            clients,
            seconds,
        } => super::overhead::run((*runs).max(1), (*clients).max(1), (*seconds).max(1)),
        Which::Target {
            store,
            runs,
            clients,
            seconds,
        } => super::load::run(store, (*runs).max(1), (*clients).max(1), (*seconds).max(1)),
    }
}

pub(super) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// A named set of corpus files whose medians are summed.
type TotalGroup = (&'static str, fn(&str) -> bool);

struct FileResult {
    file: String,
    parse: Duration,
    /// The verdict.
    faultline: Duration,
    /// The verdict and a shrunk witness of an invalid key.
    witnessed: Duration,
    baseline: Duration,
}

fn corpus(dir: &Path, runs: usize, all: bool) -> Result<u8, String> {
    let expected_path = dir.join("expected.tsv");
    let table = std::fs::read_to_string(&expected_path)
        .map_err(|error| format!("{}: {error}", expected_path.display()))?;
    let mut results = Vec::new();
    let mut mismatches = Vec::new();
    for (number, line) in table.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((file, expected)) = line.split_once('\t') else {
            return Err(format!(
                "{}:{}: expected `file<TAB>valid|invalid`",
                expected_path.display(),
                number + 1
            ));
        };
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        let model = if file.starts_with("kv/") {
            ModelKind::Kv
        } else {
            ModelKind::CasRegister
        };
        let mut parse_times = Vec::new();
        let mut history = None;
        for _ in 0..runs {
            let started = Instant::now();
            let parsed = histories::parse(file, &text, None).map_err(|error| error.to_string())?;
            parse_times.push(started.elapsed());
            history = Some(parsed);
        }
        let history = history.expect("runs ≥ 1");
        // faultline's verdict alone (as today's baseline gives it), then
        // with the shrunk witness `check` prints; Porcupine's algorithm gives
        // no witness.
        let searches = [
            (Algorithm::Faultline, 0),
            (Algorithm::Faultline, 1),
            (Algorithm::Plain, 0),
        ];
        let mut times = [Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..runs {
            for (slot, (algorithm, witnesses_shrunk)) in searches.into_iter().enumerate() {
                let options = Options {
                    algorithm,
                    witnesses_shrunk,
                    ..Options::new(model)
                };
                let started = Instant::now();
                let report =
                    linearizable::check(&history, &options).map_err(|error| error.to_string())?;
                times[slot].push(started.elapsed());
                let verdict = report.valid.name();
                if verdict != expected {
                    mismatches.push(format!(
                        "{file}: expected {expected}, {algorithm:?} said {verdict}"
                    ));
                }
            }
        }
        let [faultline, witnessed, baseline] = times;
        results.push(FileResult {
            file: file.to_string(),
            parse: median(parse_times),
            faultline: median(faultline),
            witnessed: median(witnessed),
            baseline: median(baseline),
        });
    }
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "Porcupine corpus, {runs} runs per file, medians; baseline = Porcupine's algorithm (--algorithm plain) in this build\n"
    );
    let _ = writeln!(
        out,
        "{:<22} {:>10} {:>12} {:>12} {:>12} {:>8}",
        "file", "parse ms", "faultline ms", "+witness ms", "baseline ms", "ratio"
    );
    let mut shown: Vec<&FileResult> = results.iter().collect();
    if !all {
        shown.sort_by_key(|result| std::cmp::Reverse(result.faultline));
        shown.truncate(8);
    }
    for result in shown {
        let _ = writeln!(
            out,
            "{:<22} {:>10.3} {:>12.3} {:>12.3} {:>12.3} {:>7.1}×",
            result.file,
            ms(result.parse),
            ms(result.faultline),
            ms(result.witnessed),
            ms(result.baseline),
            ms(result.baseline) / ms(result.faultline).max(1e-6)
        );
    }
    let _ = writeln!(out);
    let groups: [TotalGroup; 3] = [
        ("etcd (102 files)", |file| file.starts_with("jepsen/")),
        ("kv/c50-ok.txt", |file| file == "kv/c50-ok.txt"),
        ("all (108 files)", |_| true),
    ];
    for (name, member) in groups {
        let chosen: Vec<&FileResult> = results
            .iter()
            .filter(|result| member(&result.file))
            .collect();
        let sum = |pick: fn(&FileResult) -> Duration| {
            chosen.iter().map(|result| pick(result)).sum::<Duration>()
        };
        let (parse, faultline, witnessed, baseline) = (
            sum(|r| r.parse),
            sum(|r| r.faultline),
            sum(|r| r.witnessed),
            sum(|r| r.baseline),
        );
        let _ = writeln!(
            out,
            "total {name:<18} parse {:>8.2} ms   check {:>8.2} ms   +witness {:>8.2} ms   parse+check {:>8.2} ms   baseline check {:>9.2} ms   ratio {:.1}×",
            ms(parse),
            ms(faultline),
            ms(witnessed),
            ms(parse + faultline),
            ms(baseline),
            ms(baseline) / ms(faultline).max(1e-6)
        );
    }
    if mismatches.is_empty() {
        let _ = writeln!(
            out,
            "\nverdicts: all {} files as expected, by both searches",
            results.len()
        );
    } else {
        let _ = writeln!(out, "\nverdict mismatches:\n  {}", mismatches.join("\n  "));
    }
    super::check::print_all(&out);
    Ok(if mismatches.is_empty() {
        exit::VALID
    } else {
        exit::INVALID
    })
}

/// A generated history and the weak models timed on it.
struct WeakCase {
    name: &'static str,
    ops: usize,
    clients: usize,
    keys: usize,
    /// Fraction of writes that crash (each retires its process: a new session).
    crashed: f64,
    serial: bool,
    models: &'static [&'static str],
}

/// Each weak model on its own, timed from the parsed history.
fn weak_models(runs: usize) -> Result<u8, String> {
    use checkers::Validity;
    use checkers::weak;
    let cases = [
        WeakCase {
            name: "100,000 ops, 20 sessions, 100 keys",
            ops: 100_000,
            clients: 20,
            keys: 100,
            crashed: 0.0,
            serial: false,
            models: &weak::MODELS[1..],
        },
        WeakCase {
            name: "100,000 ops, 1 key, 8 clients, 1% crashed writes (about 420 sessions)",
            ops: 100_000,
            clients: 8,
            keys: 1,
            crashed: 0.01,
            serial: false,
            models: &weak::MODELS,
        },
        WeakCase {
            name: "64 sessions × 100 ops, 200 keys, one operation at a time",
            ops: 6_400,
            clients: 64,
            keys: 200,
            crashed: 0.0,
            serial: true,
            models: &weak::MODELS[..1],
        },
        WeakCase {
            name: "64 sessions × 100 ops, 200 keys, up to 64 operations at once",
            ops: 6_400,
            clients: 64,
            keys: 200,
            crashed: 0.0,
            serial: false,
            models: &weak::MODELS[..1],
        },
    ];
    println!("weak models on generated valid histories, {runs} runs each, medians\n");
    let mut code = exit::VALID;
    for case in cases {
        let args = GenerateArgs {
            ops: case.ops,
            keys: case.keys,
            clients: case.clients,
            crashed_writes: case.crashed,
            stale_reads: 0.0,
            seed: 7,
            workload: "register".to_string(),
            serial: case.serial,
            out: PathBuf::new(),
        };
        let events = super::generate::events(&args)?;
        let lines = (1..=events.len()).collect();
        let history = histories::History::from_events("generated", events, lines)
            .map_err(|error| error.to_string())?;
        println!("{}:", case.name);
        for model in case.models {
            let mut times = Vec::new();
            let mut verdict = Validity::Valid;
            for _ in 0..runs {
                let started = Instant::now();
                // A minute at most: the sequential search may be exponential.
                let budget = checkers::Budget {
                    time_limit: Duration::from_secs(60),
                    ..checkers::Budget::default()
                };
                let verdicts = weak::check(&history, &[model], &budget);
                times.push(started.elapsed());
                verdict = verdicts[0].valid;
            }
            if verdict != Validity::Valid {
                code = code.max(verdict.exit_code());
            }
            println!(
                "  {model:<22} {:>8.1} ms  {}",
                ms(median(times)),
                verdict.name()
            );
        }
    }
    Ok(code)
}

/// A temporary folder removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A generated history `bench scale` checks.
struct Generated {
    file: &'static str,
    workload: &'static str,
    ops: usize,
    keys: usize,
    clients: usize,
    crashed: f64,
}

fn scale(runs: usize) -> Result<u8, String> {
    let dir = TempDir(std::env::temp_dir().join(format!("faultline-bench-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).map_err(|error| format!("{}: {error}", dir.0.display()))?;
    let many_keys = Generated {
        file: "many-keys.jsonl",
        workload: "register",
        ops: 1_000_000,
        keys: 1_000,
        clients: 10,
        crashed: 0.0,
    };
    let one_key = Generated {
        file: "one-key.jsonl",
        workload: "register",
        ops: 100_000,
        keys: 1,
        clients: 8,
        crashed: 0.01,
    };
    let list_append = |file, ops| Generated {
        file,
        workload: "list-append",
        ops,
        keys: 10,
        clients: 10,
        crashed: 0.01,
    };
    let register = &["--model", "cas-register"][..];
    let all_models = &["--model", "cas-register", "--models", "all"][..];
    let isolation = &["--isolation", "strict-serializable"][..];
    // (name, history, check args); a history is generated once, for its first case.
    let cases = [
        (
            "1,000,000 ops, 1,000 keys, 10 clients",
            &many_keys,
            register,
        ),
        ("the same, --models all", &many_keys, all_models),
        (
            "100,000 ops, 1 key, 8 clients, 1% crashed writes",
            &one_key,
            register,
        ),
        ("the same, --models all", &one_key, all_models),
        (
            "100,000 list-append txns (1-4 micro-ops), 10 keys in use, 10 clients, 1% crashed",
            &list_append("list-append.jsonl", 100_000),
            isolation,
        ),
        (
            "1,000,000 list-append txns, the same shape",
            &list_append("list-append-1m.jsonl", 1_000_000),
            isolation,
        ),
    ];
    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    println!("generated histories, {runs} runs each, medians (child `faultline check`)\n");
    let mut code = exit::VALID;
    for (name, generated, check_args) in cases {
        let out = dir.0.join(generated.file);
        if !out.exists() {
            let args = GenerateArgs {
                ops: generated.ops,
                keys: generated.keys,
                clients: generated.clients,
                crashed_writes: generated.crashed,
                stale_reads: 0.0,
                seed: 7,
                workload: generated.workload.to_string(),
                serial: false,
                out: out.clone(),
            };
            let events = super::generate::events(&args)?;
            super::generate::write(&events, &out).map_err(|error| error.to_string())?;
        }
        let size_mib = std::fs::metadata(&out).map_or(0, |meta| meta.len() >> 20);
        let mut walls = Vec::new();
        let mut peaks = Vec::new();
        let mut verdict = String::new();
        for _ in 0..runs {
            let started = Instant::now();
            let output = Command::new(&exe)
                .arg("check")
                .arg(&out)
                .args(check_args)
                .arg("--stats")
                .output()
                .map_err(|error| error.to_string())?;
            walls.push(started.elapsed());
            let stderr = String::from_utf8_lossy(&output.stderr);
            let peak = stderr
                .lines()
                .find_map(|line| line.strip_prefix("stats: peak_rss_mib="))
                .and_then(|value| value.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap_or(f64::NAN);
            peaks.push(peak);
            verdict = String::from_utf8_lossy(&output.stdout)
                .lines()
                .last()
                .unwrap_or_default()
                .to_string();
            if output.status.code() == Some(i32::from(exit::UNKNOWN)) {
                code = exit::UNKNOWN;
            }
        }
        peaks.sort_by(f64::total_cmp);
        println!(
            "{name} ({size_mib} MiB): wall {:.2} s (median of {runs}), peak RSS {:.0} MiB\n  {verdict}",
            median(walls).as_secs_f64(),
            peaks[peaks.len() / 2]
        );
    }
    Ok(code)
}
