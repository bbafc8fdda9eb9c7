//! A TCP proxy for one directed link between two nodes: the rootless way to cut
//! a link. Node A reaches node B only through A→B's proxy (the harness writes
//! the proxy's address into A's peer list), so a cut on that proxy stops exactly
//! the traffic A's connections to B carry, both ways.
//!
//! Modes: `Pass` forwards bytes both ways. `Cut` stalls them: nothing is read
//! or forwarded, so senders fill their buffers and time out, and whatever was
//! queued flows once the link heals, as after a healed packet-filter partition
//! (the handshake with the proxy itself still succeeds, a known limit of
//! proxies). `Degraded` delays each chunk and, with some probability, holds it
//! for a retransmission timeout more: what a lossy, slow network does to TCP.
//! Only loopback is used.

use crate::rng::Rng;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long TCP waits before resending a lost segment, at least (RFC 6298's
/// floor as Linux applies it).
pub const RETRANSMISSION_TIMEOUT: Duration = Duration::from_millis(200);

/// What the link does with traffic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Forward nothing until the mode changes.
    Cut,
    /// Forward each chunk after `delay`, and one chunk in `1 / loss` after a
    /// retransmission timeout more.
    Degraded {
        /// Added to every chunk.
        delay: Duration,
        /// The probability that a chunk is "lost" once.
        loss: f64,
    },
}

/// A running proxy; dropping it stops it and closes its connections.
pub struct LinkProxy {
    address: SocketAddr,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl LinkProxy {
    /// Listens on a fresh loopback port and forwards to `target`, on `runtime`.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub fn start(
        runtime: &tokio::runtime::Handle,
        target: SocketAddr,
    ) -> std::io::Result<LinkProxy> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let (mode, watcher) = watch::channel(Mode::Pass);
        let task = runtime.spawn(async move {
            if let Ok(listener) = TcpListener::from_std(listener) {
                accept(listener, target, watcher).await;
            }
        });
        Ok(LinkProxy {
            address,
            mode,
            task,
        })
    }

    /// Where the link's source connects.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Changes what the link does, for open connections too.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        // The accept loop owns every connection; aborting it closes them all.
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, mode: watch::Receiver<Mode>) {
    let mut connections = tokio::task::JoinSet::new();
    let mut seed = u64::from(target.port());
    while let Ok((inbound, _)) = listener.accept().await {
        let mode = mode.clone();
        seed += 1;
        connections.spawn(async move {
            // A partitioned link does not even reach the target.
            let mut waiting = mode.clone();
            if waiting.wait_for(|mode| *mode != Mode::Cut).await.is_err() {
                return;
            }
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let (inbound_read, inbound_write) = inbound.into_split();
            let (outbound_read, outbound_write) = outbound.into_split();
            // Either direction ending ends both.
            tokio::select! {
                _ = pipe(inbound_read, outbound_write, mode.clone(), Rng::new(seed)) => {}
                _ = pipe(outbound_read, inbound_write, mode, Rng::new(!seed)) => {}
            }
        });
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
}

/// Copies one direction until end of stream or an error, obeying the mode.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    mut rng: Rng,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        // While cut, read nothing: the sender's data waits in its buffers.
        if mode.wait_for(|mode| *mode != Mode::Cut).await.is_err() {
            return;
        }
        let count = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(count) => count,
        };
        loop {
            let current = *mode.borrow_and_update();
            match current {
                Mode::Pass => break,
                Mode::Degraded { delay, loss } => {
                    let lost = rng.chance(loss);
                    tokio::time::sleep(
                        delay
                            + if lost {
                                RETRANSMISSION_TIMEOUT
                            } else {
                                Duration::ZERO
                            },
                    )
                    .await;
                    break;
                }
                // Cut after the read: hold the chunk until the link heals.
                Mode::Cut => {
                    if mode.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
        if to.write_all(&buffer[..count]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on loopback.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    while let Ok(count) = stream.read(&mut buffer).await {
                        if count == 0 || stream.write_all(&buffer[..count]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        address
    }

    /// Sends `message` and waits up to `wait` for the echo.
    async fn round_trip(stream: &mut TcpStream, message: &[u8], wait: Duration) -> Option<Vec<u8>> {
        stream.write_all(message).await.ok()?;
        let mut buffer = vec![0u8; message.len()];
        match tokio::time::timeout(wait, stream.read_exact(&mut buffer)).await {
            Ok(Ok(_)) => Some(buffer),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_link_passes_is_cut_and_heals() {
        let proxy = LinkProxy::start(&tokio::runtime::Handle::current(), echo().await).unwrap();
        let mut open = TcpStream::connect(proxy.address()).await.unwrap();
        let wait = Duration::from_secs(2);
        assert_eq!(
            round_trip(&mut open, b"hello", wait).await.as_deref(),
            Some(&b"hello"[..])
        );

        proxy.set(Mode::Cut);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            round_trip(&mut open, b"lost", Duration::from_millis(300)).await,
            None,
            "an open connection is cut"
        );
        let mut fresh = TcpStream::connect(proxy.address()).await.unwrap();
        assert_eq!(
            round_trip(&mut fresh, b"held", Duration::from_millis(300)).await,
            None,
            "a new one stalls too"
        );

        proxy.set(Mode::Pass);
        let mut late = vec![0u8; 4];
        tokio::time::timeout(wait, open.read_exact(&mut late))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&late, b"lost", "what was held flows once the link heals");
        tokio::time::timeout(wait, fresh.read_exact(&mut late))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&late, b"held");
        let mut healed = TcpStream::connect(proxy.address()).await.unwrap();
        assert_eq!(
            round_trip(&mut healed, b"back", wait).await.as_deref(),
            Some(&b"back"[..])
        );
    }

    #[tokio::test]
    async fn a_delayed_link_is_slower_but_delivers() {
        let proxy = LinkProxy::start(&tokio::runtime::Handle::current(), echo().await).unwrap();
        proxy.set(Mode::Degraded {
            delay: Duration::from_millis(100),
            loss: 0.0,
        });
        let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
        let started = std::time::Instant::now();
        assert_eq!(
            round_trip(&mut stream, b"slow", Duration::from_secs(2))
                .await
                .as_deref(),
            Some(&b"slow"[..])
        );
        // Delayed both ways: at least 200 ms (a lower bound, never an upper one).
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
    }
}
