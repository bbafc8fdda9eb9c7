//! `faultline bench overhead`: how close `faultline run` comes to the request
//! rate `wrk` reaches against the same kind of cluster with the same number of
//! connections, measured side by side. wrk runs one instance per node, its
//! connections split among them, with a Lua script sending 50 % reads and 50 %
//! writes over 100 keys; faultline runs its `kv` workload (the same mix) as fast
//! as it can, and its rate is read from the history it recorded.

use crate::exit;
use crate::target::cluster::LocalCluster;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const WRK_SCRIPT: &str = r#"
counter = 0
request = function()
  counter = counter + 1
  local key = "k" .. math.random(0, 99)
  if counter % 2 == 0 then
    return wrk.format("GET", "/kv/" .. key)
  end
  return wrk.format("PUT", "/kv/" .. key, {["Content-Type"] = "application/json"}, '{"value":' .. counter .. '}')
end
"#;

/// wrk's requests per second against a fresh cluster.
fn wrk_rate(exe: &Path, dir: &Path, clients: usize, seconds: u64) -> anyhow::Result<f64> {
    std::fs::create_dir_all(dir).map_err(|error| anyhow::anyhow!("{}: {error}", dir.display()))?;
    let cluster = LocalCluster::start(exe, "chain-kv", 3, dir, None)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(
        cluster.wait_until_ready(&crate::client::http_client(Duration::from_secs(1), 1)),
    )?;
    let script = dir.join("mix.lua");
    std::fs::write(&script, WRK_SCRIPT)?;
    let addresses = cluster.addresses();
    // The same connections per node as faultline's workers (worker i → node i mod n).
    let per_node = |node: usize| {
        (0..clients)
            .filter(|worker| worker % addresses.len() == node)
            .count()
    };
    // All instances run at once, against their own nodes, like faultline's workers.
    let mut children = Vec::new();
    for (node, address) in addresses.iter().enumerate() {
        if per_node(node) == 0 {
            continue;
        }
        let child = Command::new("wrk")
            .args([
                "-t1",
                &format!("-c{}", per_node(node)),
                &format!("-d{seconds}s"),
                "-s",
            ])
            .arg(&script)
            .arg(format!("http://{address}/"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|error| anyhow::anyhow!("running wrk (apt-get install wrk): {error}"))?;
        children.push(child);
    }
    let mut rate = 0.0;
    for child in children {
        let output = child.wait_with_output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        if text.contains("Non-2xx") {
            anyhow::bail!("wrk saw failed requests, so its rate is not comparable: {text}");
        }
        rate += text
            .lines()
            .find_map(|line| line.strip_prefix("Requests/sec:"))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .ok_or_else(|| anyhow::anyhow!("no Requests/sec in wrk's output: {text}"))?;
    }
    drop(cluster);
    Ok(rate)
}

/// The rate `faultline run` recorded: completions over the span of the history.
fn faultline_rate(exe: &Path, store: &Path, clients: usize, seconds: u64) -> anyhow::Result<f64> {
    let status = Command::new(exe)
        .args([
            "run",
            "--workload",
            "kv",
            "--mix",
            "1,1,0",
            "--key-count",
            "100",
            "--ops-per-key",
            "0",
            "--nemesis",
            "none",
        ])
        .args([
            "--rate",
            "1000000",
            "--concurrency",
            &clients.to_string(),
            "--time-limit",
            &seconds.to_string(),
        ])
        .arg("--store")
        .arg(store)
        .stdout(std::process::Stdio::null())
        .status()?;
    if !matches!(status.code(), Some(0..=2)) {
        anyhow::bail!("faultline run failed: {status}");
    }
    let history = histories::parse(
        "history.jsonl",
        &std::fs::read_to_string(store.join("latest/history.jsonl"))?,
        None,
    )?;
    let first = history.events.first().map_or(0, |event| event.time_ns);
    let last = history.events.last().map_or(0, |event| event.time_ns);
    Ok(history.operations.len() as f64 / ((last - first) as f64 / 1e9).max(1e-9))
}

/// Runs the comparison; returns the exit code.
pub fn run(runs: usize, clients: usize, seconds: u64) -> anyhow::Result<u8> {
    let exe = std::env::current_exe()?;
    let mut ratios = Vec::new();
    for round in 0..runs {
        let dir =
            std::env::temp_dir().join(format!("faultline-overhead-{}-{round}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        // Which goes first alternates, so that a drift in the machine's load
        // does not favour either side.
        let wrk = || wrk_rate(&exe, &dir.join("wrk"), clients, seconds);
        let faultline = || faultline_rate(&exe, &dir.join("store"), clients, seconds);
        let measured = if round % 2 == 0 {
            wrk().and_then(|wrk| Ok((wrk, faultline()?)))
        } else {
            faultline().and_then(|faultline| Ok((wrk()?, faultline)))
        };
        let _ = std::fs::remove_dir_all(&dir);
        let (wrk, faultline) = measured?;
        println!(
            "run {}: wrk {wrk:.0} req/s, faultline {faultline:.0} ops/s, ratio {:.2}",
            round + 1,
            faultline / wrk
        );
        ratios.push(faultline / wrk);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "faultline run / wrk, chain-kv, 3 nodes, {clients} connections, 50% reads: median ratio {:.2} over {runs} runs",
        ratios[ratios.len() / 2]
    );
    Ok(exit::VALID)
}
