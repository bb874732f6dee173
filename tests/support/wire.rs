//! A recording proxy between a client and the S3 server (tokio, on
//! 127.0.0.1): it forwards every byte untouched and keeps the head (request
//! line and headers) of each request. For options a store accepts but never
//! reports back (Garage ignores storage class, SSE, tags and ACLs), the
//! request heads are the evidence of what a tool asked for.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub struct Recorder {
    pub endpoint: String,
    heads: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Recorder {
    /// Proxy to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Recorder {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let record = heads.clone();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (record, upstream) = (record.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &upstream, &record).await;
                });
            }
        });
        Recorder {
            endpoint,
            heads,
            _runtime: runtime,
        }
    }

    /// Every request head so far, in the order they arrived; header names
    /// lower-cased, lines joined by "\n".
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

async fn serve(
    client: TcpStream,
    upstream: &str,
    record: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let (cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let requests = async {
        let mut cr = BufReader::new(cr);
        loop {
            // One request: its head line by line, then Content-Length bytes.
            let (mut raw, mut lines, mut length) = (Vec::new(), Vec::new(), 0u64);
            loop {
                let mut line = String::new();
                if cr.read_line(&mut line).await? == 0 {
                    return sw.shutdown().await;
                }
                raw.extend_from_slice(line.as_bytes());
                let line = line.trim_end().to_string();
                if line.is_empty() {
                    break;
                }
                let line = match line.split_once(':') {
                    Some((name, value)) => format!("{}:{value}", name.to_ascii_lowercase()),
                    None => line,
                };
                if let Some(v) = line.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                lines.push(line);
            }
            record.lock().unwrap().push(lines.join("\n"));
            sw.write_all(&raw).await?;
            tokio::io::copy(&mut (&mut cr).take(length), &mut sw).await?;
        }
    };
    let responses = tokio::io::copy(&mut sr, &mut cw);
    let (a, b) = tokio::join!(requests, responses);
    a.and(b.map(|_| ()))
}
