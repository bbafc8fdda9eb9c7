//! `faultline bench … --readme FILE`: runs the benchmark in a child process,
//! shows its output as it comes, and writes it into the file between the
//! benchmark's markers, headed by the command, the date and the machine, so
//! that a figure in the README is always one a bench command printed, and a
//! stale one shows its age.

use crate::exit::BadInput;
use std::ffi::OsString;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs this process's own command line again without `--readme`, then
/// replaces the block between `<!-- bench NAME -->` and `<!-- /bench NAME -->`
/// in `readme` with its output. Returns the benchmark's exit code.
///
/// # Errors
/// The file lacks the markers (bad input), or the child or the file fails.
pub fn run(name: &str, readme: &Path) -> anyhow::Result<u8> {
    let (start, end) = (
        format!("<!-- bench {name} -->"),
        format!("<!-- /bench {name} -->"),
    );
    let text = std::fs::read_to_string(readme)
        .map_err(|error| BadInput(format!("{}: {error}", readme.display())))?;
    let (Some(from), Some(to)) = (text.find(&start), text.find(&end)) else {
        return Err(BadInput(format!(
            "{}: expected the lines `{start}` and `{end}` around the place for this benchmark's figures",
            readme.display()
        ))
        .into());
    };
    if to < from {
        return Err(BadInput(format!(
            "{}: `{end}` comes before `{start}`",
            readme.display()
        ))
        .into());
    }
    let arguments = without_readme(std::env::args_os().skip(1));
    let shown: Vec<String> = arguments
        .iter()
        .map(|argument| argument.to_string_lossy().into_owned())
        .collect();
    let mut child = Command::new(std::env::current_exe()?)
        .args(&arguments)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut output = Vec::new();
    let mut stdout = child.stdout.take().expect("piped");
    let mut buffer = [0u8; 8192];
    loop {
        let read = stdout.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        output.extend_from_slice(&buffer[..read]);
        print!("{}", String::from_utf8_lossy(&buffer[..read]));
    }
    let status = child.wait()?;
    let code = status
        .code()
        .map_or(crate::exit::HARNESS_FAILED, |code| code as u8);
    // 0, 1 and 2 are verdicts the benchmark reports (an `unknown` may be the
    // point of a case); anything else is a failure.
    if code > crate::exit::UNKNOWN {
        anyhow::bail!(
            "the benchmark failed (exit {code}); {} left as it was",
            readme.display()
        );
    }
    let block = format!(
        "{start}\n`faultline {}`, {}, {}:\n\n```text\n{}```\n",
        shown.join(" "),
        chrono::Local::now().format("%Y-%m-%d"),
        machine(),
        String::from_utf8_lossy(&output)
    );
    let updated = format!("{}{block}{}", &text[..from], &text[to..]);
    crate::files::write_atomically(readme, updated.as_bytes())
        .map_err(|error| anyhow::anyhow!("{}: {error}", readme.display()))?;
    eprintln!("wrote the figures into {}", readme.display());
    Ok(code)
}

/// The arguments without `--readme FILE` (or `--readme=FILE`).
fn without_readme(arguments: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut kept = Vec::new();
    let mut skip_next = false;
    for argument in arguments {
        if skip_next {
            skip_next = false;
            continue;
        }
        let text = argument.to_string_lossy();
        if text == "--readme" {
            skip_next = true;
        } else if !text.starts_with("--readme=") {
            kept.push(argument);
        }
    }
    kept
}

/// `2 cores (model), 24 GiB, Linux 6.18`, from /proc.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let model = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| format!(" ({})", model.trim()))
        .unwrap_or_default();
    let memory_gib = read("/proc/meminfo")
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(String::new(), |kib| {
            format!(", {:.0} GiB", kib / 1_048_576.0)
        });
    let kernel = read("/proc/sys/kernel/osrelease");
    let kernel: String = kernel.trim().split('-').next().unwrap_or("").to_string();
    format!("{cores} cores{model}{memory_gib}, Linux {kernel}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_argument_is_dropped_in_both_spellings() {
        let arguments = [
            "bench",
            "scale",
            "--readme",
            "README.md",
            "--runs",
            "3",
            "--readme=x",
        ]
        .map(OsString::from);
        assert_eq!(
            without_readme(arguments.into_iter()),
            ["bench", "scale", "--runs", "3"].map(OsString::from)
        );
    }
}
