//! A distant store on loopback: a proxy that holds every byte for half the
//! round trip in each direction (pipelined: a chunk leaves `rtt / 2` after
//! it arrived, not after the one before it), opens each upstream
//! connection one round trip late (TCP's handshake), and caps each
//! connection's rate — and, if asked, all connections' together — per
//! direction. `tc netem` is not available on these machines; this is the
//! same model in user space. The bench runs it as `examples/distant_store`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use s3pipe::s3::rate::RateLimit;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The link: its round trip, and bytes/s per connection and in all (each
/// per direction).
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub rtt: Duration,
    pub per_connection: Option<u64>,
    pub aggregate: Option<u64>,
}

pub struct DistantProxy {
    pub endpoint: String,
    connections: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl DistantProxy {
    /// Proxy to `upstream` (`http://127.0.0.1:PORT`) over `link`.
    pub fn start(upstream: &str, link: Link) -> DistantProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let aggregate = [(); 2].map(|()| link.aggregate.map(RateLimit::new));
        let connections = Arc::new(AtomicU64::new(0));
        let count = connections.clone();
        let (runtime, endpoint) = super::wire::listen(move |client| {
            let (upstream, aggregate) = (upstream.clone(), aggregate.clone());
            count.fetch_add(1, Ordering::Relaxed);
            async move {
                let _ = serve(client, &upstream, link, aggregate).await;
            }
        });
        DistantProxy {
            endpoint,
            connections,
            _runtime: runtime,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

async fn serve(
    client: TcpStream,
    upstream: &str,
    link: Link,
    [up, down]: [Option<RateLimit>; 2],
) -> std::io::Result<()> {
    tokio::time::sleep(link.rtt).await;
    let server = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let own = || link.per_connection.map(RateLimit::new);
    let half = link.rtt / 2;
    let rates = |shared: Option<RateLimit>| own().into_iter().chain(shared).collect();
    tokio::try_join!(
        carry(cr, sw, half, rates(up)),
        carry(sr, cw, half, rates(down))
    )?;
    Ok(())
}

/// One direction: read as fast as the rates allow, deliver each chunk
/// `delay` after it was read.
async fn carry(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Duration,
    rates: Vec<RateLimit>,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(4096);
    let reading = async move {
        loop {
            let mut buf = vec![0u8; 64 << 10];
            let n = from.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            for rate in &rates {
                rate.take(n).await;
            }
            buf.truncate(n);
            if tx.send((Instant::now() + delay, buf)).await.is_err() {
                return Ok(());
            }
        }
    };
    let writing = async move {
        while let Some((due, buf)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            to.write_all(&buf).await?;
        }
        to.shutdown().await
    };
    tokio::try_join!(reading, writing)?;
    Ok(())
}
