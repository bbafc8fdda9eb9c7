//! `faultline check`: read a history, check it, print the verdict.

use crate::checking::{
    CheckResults, StoredJudging, check_history, load, parse_initial, parse_models, peak_rss_mib,
    render::render_human, stored::read_plan, write_results,
};
use crate::exit::BadInput;
use checkers::linearizable::{Algorithm, Options};
use checkers::txn::{Isolation, TxnOptions};
use checkers::{Budget, ModelKind, ModelOptions};
use clap::Args;
use histories::Format;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `faultline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The history: a .jsonl, .edn or Porcupine .log file, or a run's store directory.
    pub file: PathBuf,
    /// The model: register, cas-register, kv or mutex. Inferred from the operations when absent.
    #[arg(long)]
    pub model: Option<String>,
    /// The register's initial value as JSON (default: absent); kv's initial string.
    #[arg(long)]
    pub initial: Option<String>,
    /// For transaction histories: the isolation model the verdict is about
    /// (read-uncommitted, read-committed, snapshot-isolation, serializable,
    /// strong-session-serializable, strict-serializable).
    #[arg(long, default_value = "strict-serializable")]
    pub isolation: String,
    /// The consistency profile: `all`, or some of linearizable, sequential,
    /// causal-ccv, causal-cm, causal-cc, read-your-writes, monotonic-reads,
    /// monotonic-writes, writes-follow-reads (default: linearizable; for a
    /// run's store directory, what the run checked).
    #[arg(long)]
    pub models: Option<String>,
    /// The file format: jsonl, edn, porcupine-etcd or porcupine-kv. Detected when absent.
    #[arg(long)]
    pub format: Option<String>,
    /// Print the result as JSON (see the README for its fields).
    #[arg(long)]
    pub json: bool,
    /// Seconds the check may take before it answers unknown.
    #[arg(long, default_value_t = 300.0)]
    pub time_limit: f64,
    /// MiB the search's caches may use before it answers unknown.
    #[arg(long, default_value_t = 2048)]
    pub memory_limit: usize,
    /// Threads for checking keys in parallel (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Check every key of a history split by key to the end, and shrink up to
    /// three witnesses; by default the first invalid key (largest keys first)
    /// decides and the keys after it are not checked.
    #[arg(long)]
    pub all_keys: bool,
    /// The search: faultline, or plain (Porcupine's algorithm, the benchmark baseline).
    #[arg(long, default_value = "faultline")]
    pub algorithm: String,
    /// Print timings and peak memory to stderr.
    #[arg(long)]
    pub stats: bool,
    /// Also write the verdicts as JUnit XML here (a test case per checker or model).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Also write a short Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long)]
    pub summary: Option<PathBuf>,
}

/// Runs `faultline check`; returns the exit code of the verdict.
///
/// # Errors
/// A bad argument, a history that cannot be read or checked (bad input), or
/// results that cannot be written.
pub fn run(args: &CheckArgs) -> anyhow::Result<u8> {
    let arguments = Arguments::parse(args).map_err(BadInput)?;
    let reading = Instant::now();
    let (history, format) = load(&args.file, arguments.format)?;
    let read_elapsed = reading.elapsed();
    let model = arguments
        .model
        .unwrap_or_else(|| ModelKind::infer(&history));
    let budget = Budget {
        time_limit: Duration::from_secs_f64(args.time_limit),
        memory_limit_bytes: args.memory_limit << 20,
    };
    let options = Options {
        model,
        model_options: ModelOptions {
            initial: args.initial.as_deref().map(parse_initial),
        },
        budget,
        threads: args.threads,
        witnesses_shrunk: if args.all_keys { 3 } else { 1 },
        all_keys: args.all_keys,
        algorithm: arguments.algorithm,
    };
    let txn_options = TxnOptions {
        model: arguments.isolation,
        budget,
        ..TxnOptions::default()
    };
    // A run's store directory: its plan says how it was judged, and names the suite.
    let plan = if args.file.is_dir() {
        read_plan(&args.file)?
    } else {
        None
    };
    let judging = StoredJudging::of(plan.as_ref());
    let models = arguments.models.unwrap_or(judging.models);
    let started = Instant::now();
    let checkers = check_history(&history, &options, &txn_options, &models, judging.checkers)?;
    let elapsed = started.elapsed();
    let results = CheckResults::new(&history, format, checkers);
    let json = results.to_json();
    let mut report = None;
    if args.file.is_dir() {
        write_results(&args.file, &json)?;
        report = Some(crate::report::write(
            &args.file,
            plan.as_ref(),
            &history,
            &results,
        )?);
    }
    let outputs = crate::report::ci::Outputs {
        junit: args.junit.clone(),
        summary: args.summary.clone(),
    };
    let suite = if args.file.is_dir() {
        super::report::suite_name(&args.file, plan.as_ref())
    } else {
        args.file.display().to_string()
    };
    crate::report::ci::write_for(&outputs, &history, &results, &suite, report.as_deref())?;
    let output = if args.json {
        json
    } else {
        render_human(&history, &results, elapsed)
    };
    print_all(&output);
    if args.stats {
        eprintln!(
            "stats: peak_rss_mib={:.1} read_ms={:.1} check_ms={:.1}",
            peak_rss_mib().unwrap_or(f64::NAN),
            read_elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e3
        );
    }
    Ok(results.valid.exit_code())
}

/// The arguments clap cannot check by itself, checked.
struct Arguments {
    format: Option<Format>,
    model: Option<ModelKind>,
    algorithm: Algorithm,
    isolation: Isolation,
    models: Option<Vec<&'static str>>,
}

impl Arguments {
    fn parse(args: &CheckArgs) -> Result<Arguments, String> {
        let format = args
            .format
            .as_deref()
            .map(|name| named("format", name, Format::from_name, Format::NAMES))
            .transpose()?;
        let model = args
            .model
            .as_deref()
            .map(|name| named("model", name, ModelKind::from_name, ModelKind::NAMES))
            .transpose()?;
        if !(args.time_limit > 0.0 && args.time_limit.is_finite()) {
            return Err(format!(
                "--time-limit must be a positive number of seconds, not {}",
                args.time_limit
            ));
        }
        if args.memory_limit == 0 {
            return Err("--memory-limit must be a positive number of MiB".to_string());
        }
        let algorithm = match args.algorithm.as_str() {
            "faultline" => Algorithm::Faultline,
            "plain" => Algorithm::Plain,
            other => {
                return Err(format!(
                    "unknown algorithm {other:?}; expected faultline or plain"
                ));
            }
        };
        Ok(Arguments {
            format,
            model,
            algorithm,
            isolation: Isolation::named(&args.isolation)?,
            models: args.models.as_deref().map(parse_models).transpose()?,
        })
    }
}

/// The `what` called `name`, or a message listing the names there are.
fn named<T>(
    what: &str,
    name: &str,
    lookup: fn(&str) -> Option<T>,
    names: &[&str],
) -> Result<T, String> {
    lookup(name).ok_or_else(|| {
        format!(
            "unknown {what} {name:?}; expected one of {}",
            names.join(", ")
        )
    })
}

/// Writes to stdout in one go; a closed pipe (`| head`) is not an error worth a panic.
pub fn print_all(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
