//! `faultline report STORE_DIR`: re-render a stored run's report (and CI
//! outputs) from its history and results, without checking again.

use crate::checking::stored::{StoredPlan, read_plan};
use crate::exit::BadInput;
use crate::report::{self, ci};
use clap::Args;
use std::path::PathBuf;

/// `faultline report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run's store directory (e.g. store/latest).
    pub dir: PathBuf,
    /// Also write the verdicts as JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Also write a short Markdown summary here.
    #[arg(long)]
    pub summary: Option<PathBuf>,
}

/// Runs `faultline report`; the exit code is the stored verdict's.
///
/// # Errors
/// Not a store directory, a stored file unreadable, or the report unwritable.
pub fn run(args: &ReportArgs) -> anyhow::Result<u8> {
    if !args.dir.is_dir() {
        return Err(BadInput(format!(
            "{}: not a run's store directory (expected a directory with history.jsonl and results.json)",
            args.dir.display()
        ))
        .into());
    }
    let (history, results) = report::load_stored(&args.dir)?;
    let plan = read_plan(&args.dir)?;
    let path = report::write(&args.dir, plan.as_ref(), &history, &results)?;
    let outputs = ci::Outputs {
        junit: args.junit.clone(),
        summary: args.summary.clone(),
    };
    let suite = suite_name(&args.dir, plan.as_ref());
    ci::write_for(&outputs, &history, &results, &suite, Some(&path))?;
    println!("verdict={} report={}", results.valid.name(), path.display());
    Ok(results.valid.exit_code())
}

/// The run's test name from its plan, else the directory's name.
pub fn suite_name(dir: &std::path::Path, plan: Option<&StoredPlan>) -> String {
    plan.map_or_else(|| dir.display().to_string(), |plan| plan.test.clone())
}
