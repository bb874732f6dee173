//! A fault-injection proxy between a client and the S3 server (tokio, on
//! 127.0.0.1). On a seeded schedule it:
//! - answers a new connection's first request with 500 InternalError,
//!   503 SlowDown or 503 ServiceUnavailable (the first connection always);
//! - resets a connection mid-body, in either direction;
//! - stalls a response mid-body (longer than the client's idle timeout)
//!   and then drops it.
//!
//! `rate` is the chance per connection of a status fault and, per MiB
//! forwarded, of a reset or stall: 0.1 is "10% of requests", 1.0 "always".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct FaultProxy {
    pub endpoint: String,
    injected: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

struct Plan {
    rate: f64,
    stall: Duration,
    rng: Mutex<u64>,
    injected: Arc<AtomicU64>,
    connections: AtomicU64,
}

impl Plan {
    fn roll(&self, p: f64) -> bool {
        let mut x = self.rng.lock().unwrap();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        ((*x >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick(&self, n: u64) -> u64 {
        let mut x = self.rng.lock().unwrap();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x % n
    }

    fn hit(&self) {
        self.injected.fetch_add(1, Ordering::Relaxed);
    }
}

impl FaultProxy {
    /// Proxy to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, rate: f64, seed: u64, stall: Duration) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let injected = Arc::new(AtomicU64::new(0));
        let plan = Arc::new(Plan {
            rate,
            stall,
            rng: Mutex::new(seed | 1),
            injected: injected.clone(),
            connections: AtomicU64::new(0),
        });
        let (runtime, endpoint) = super::wire::listen(move |client| {
            let (plan, upstream) = (plan.clone(), upstream.clone());
            async move {
                let _ = serve(client, &upstream, &plan).await;
            }
        });
        FaultProxy {
            endpoint,
            injected,
            _runtime: runtime,
        }
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }
}

async fn serve(mut client: TcpStream, upstream: &str, plan: &Plan) -> std::io::Result<()> {
    let first = plan.connections.fetch_add(1, Ordering::Relaxed) == 0;
    if first || plan.roll(plan.rate) {
        plan.hit();
        return answer_error(&mut client, plan.pick(3)).await;
    }
    let server = TcpStream::connect(upstream).await?;
    // A zero linger makes a drop send RST at once (the reset we want); it
    // never blocks, which is what tokio's deprecation warns about.
    #[allow(deprecated)]
    {
        let _ = client.set_linger(Some(Duration::ZERO));
        let _ = server.set_linger(Some(Duration::ZERO));
    }
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    // Either direction failing drops all four halves: a reset.
    tokio::select! {
        r = pump(cr, sw, plan, false) => r,
        r = pump(sr, cw, plan, true) => r,
    }
}

/// Forward bytes, rolling for a fault once per 64 KiB.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    plan: &Plan,
    response: bool,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let per_chunk = plan.rate / 16.0;
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            to.shutdown().await?;
            // Keep the other direction going until it ends.
            return std::future::pending().await;
        }
        if plan.roll(per_chunk) {
            plan.hit();
            if response && plan.roll(0.5) {
                to.write_all(&buf[..n / 2]).await?;
                tokio::time::sleep(plan.stall).await;
            }
            return Err(std::io::Error::other("injected reset"));
        }
        to.write_all(&buf[..n]).await?;
    }
}

/// Read the request head, answer with an S3 error, close.
async fn answer_error(client: &mut TcpStream, which: u64) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        if client.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let (status, code) = [
        ("500 Internal Server Error", "InternalError"),
        ("503 Slow Down", "SlowDown"),
        ("503 Service Unavailable", "ServiceUnavailable"),
    ][which as usize];
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected fault</Message></Error>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(response.as_bytes()).await?;
    client.shutdown().await
}
