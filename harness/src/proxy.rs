//! A TCP proxy for one directed link between two nodes: the rootless way to cut
//! a link. Node A reaches node B only through A→B's proxy, so cutting the proxy
//! cuts exactly that direction of traffic, whichever side opened the connection.
//!
//! Modes: `Pass` forwards bytes both ways; `Cut` closes every connection through
//! the link and closes new ones at once (the handshake with the proxy itself
//! still succeeds, a known limit of proxies next to packet filters); `Delay`
//! holds each chunk for a while before forwarding it. Only loopback is used.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the link does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Drop every connection.
    Cut,
    /// Forward each chunk after this delay.
    Delay(Duration),
}

/// A running proxy; dropping it stops it and closes its connections.
pub struct LinkProxy {
    address: SocketAddr,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl LinkProxy {
    /// Listens on a fresh loopback port and forwards to `target`.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn start(target: SocketAddr) -> std::io::Result<LinkProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (mode, watcher) = watch::channel(Mode::Pass);
        let task = tokio::spawn(accept(listener, target, watcher));
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
        // Ends the accept loop; connections end when they see the mode drop.
        self.mode.send_replace(Mode::Cut);
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, mode: watch::Receiver<Mode>) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((inbound, _)) = listener.accept().await {
        if *mode.borrow() == Mode::Cut {
            drop(inbound);
            continue;
        }
        let mode = mode.clone();
        connections.spawn(async move {
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let (inbound_read, inbound_write) = inbound.into_split();
            let (outbound_read, outbound_write) = outbound.into_split();
            // Either direction ending (or the link being cut) ends both.
            tokio::select! {
                _ = pipe(inbound_read, outbound_write, mode.clone()) => {}
                _ = pipe(outbound_read, inbound_write, mode) => {}
            }
        });
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
}

/// Copies one direction until end of stream, an error, or a cut.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            changed = mode.wait_for(|mode| *mode == Mode::Cut) => {
                let _ = changed;
                return;
            }
        };
        let count = match read {
            Ok(0) | Err(_) => return,
            Ok(count) => count,
        };
        let current = *mode.borrow();
        match current {
            Mode::Cut => return,
            Mode::Delay(delay) => tokio::time::sleep(delay).await,
            Mode::Pass => {}
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
        let proxy = LinkProxy::start(echo().await).await.unwrap();
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
            round_trip(&mut fresh, b"lost", Duration::from_millis(300)).await,
            None,
            "a new one is closed"
        );

        proxy.set(Mode::Pass);
        let mut healed = TcpStream::connect(proxy.address()).await.unwrap();
        assert_eq!(
            round_trip(&mut healed, b"back", wait).await.as_deref(),
            Some(&b"back"[..])
        );
    }

    #[tokio::test]
    async fn a_delayed_link_is_slower_but_delivers() {
        let proxy = LinkProxy::start(echo().await).await.unwrap();
        proxy.set(Mode::Delay(Duration::from_millis(100)));
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
