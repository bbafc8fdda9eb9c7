//! `faultline bench target`: throughput and latency of a bundled store, three
//! nodes on loopback, driven by concurrent clients (50 % reads, 50 % writes of
//! unique values over 100 keys), each sending to a random node.

use crate::client::http_client;
use crate::exit;
use crate::target::cluster::LocalCluster;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One run's figures.
pub struct LoadResult {
    /// Successful operations per second.
    pub ops_per_second: f64,
    /// Median latency of successful operations.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Operations that did not succeed.
    pub errors: u64,
}

/// Drives `addresses` (a cluster that is ready) with `clients` concurrent
/// clients for `duration`.
pub async fn drive(addresses: &[String], clients: usize, duration: Duration) -> LoadResult {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(clients)
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds");
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|worker| {
            let client = client.clone();
            let addresses = addresses.to_vec();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut rng = crate::rng::Rng::new(worker as u64 + 1);
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                let mut written = 0u64;
                // Bounded in count as well as in time.
                while !stop.load(Ordering::Relaxed) && latencies.len() < 10_000_000 {
                    let address = &addresses[rng.below(addresses.len() as u64) as usize];
                    let key = rng.below(100);
                    let sent = Instant::now();
                    let response = if rng.below(2) == 0 {
                        client
                            .get(format!("http://{address}/kv/k{key}"))
                            .send()
                            .await
                    } else {
                        written += 1;
                        let value = (worker as u64) << 40 | written;
                        client
                            .put(format!("http://{address}/kv/k{key}"))
                            .body(format!("{{\"value\":{value}}}"))
                            .send()
                            .await
                    };
                    match response {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            latencies.push(sent.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        if let Ok((worker_latencies, worker_errors)) = worker.await {
            latencies.extend(worker_latencies);
            errors += worker_errors;
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    LoadResult {
        ops_per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(0.5),
        p99: percentile(0.99),
        errors,
    }
}

/// Runs the benchmark for a bundled store; returns the exit code.
pub fn run(store: &str, runs: usize, clients: usize, seconds: u64) -> anyhow::Result<u8> {
    let exe = std::env::current_exe()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let mut results = Vec::new();
    for run in 0..runs {
        let dir = std::env::temp_dir().join(format!("faultline-load-{}-{run}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let measured = LocalCluster::start(&exe, store, 3, &dir, None).and_then(|cluster| {
            runtime.block_on(async {
                let addresses = cluster.addresses();
                cluster
                    .wait_until_ready(&http_client(Duration::from_secs(1), 1))
                    .await?;
                Ok(drive(&addresses, clients, Duration::from_secs(seconds)).await)
            })
        });
        // The cluster is gone (dropped above) on every path; so is its directory.
        let _ = std::fs::remove_dir_all(&dir);
        let result = measured?;
        println!(
            "run {}: {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            run + 1,
            result.ops_per_second,
            result.p50.as_secs_f64() * 1e3,
            result.p99.as_secs_f64() * 1e3,
            result.errors
        );
        results.push(result);
    }
    let mut throughput: Vec<f64> = results.iter().map(|result| result.ops_per_second).collect();
    throughput.sort_by(f64::total_cmp);
    let mut p50: Vec<Duration> = results.iter().map(|result| result.p50).collect();
    p50.sort();
    let mut p99: Vec<Duration> = results.iter().map(|result| result.p99).collect();
    p99.sort();
    println!(
        "{store}, 3 nodes, {clients} clients, 50% reads, fsync on: median {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms",
        throughput[throughput.len() / 2],
        p50[p50.len() / 2].as_secs_f64() * 1e3,
        p99[p99.len() / 2].as_secs_f64() * 1e3
    );
    Ok(exit::VALID)
}
