//! A proxy between a client and the S3 server (tokio, on 127.0.0.1) that
//! sees the HTTP traffic. It keeps the head (request line and headers) of
//! each request: for options a store accepts but never reports back (Garage
//! ignores storage class, SSE, tags and ACLs) they are the evidence of what
//! a tool asked for. In corrupting mode it also flips one bit in the middle
//! of every GET response body, as a bad disk or NIC would: the download's
//! integrity check must catch it.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub struct Recorder {
    pub endpoint: String,
    heads: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Recorder {
    /// Forward to `upstream` (`http://127.0.0.1:PORT`) untouched.
    pub fn start(upstream: &str) -> Recorder {
        Recorder::new(upstream, false)
    }

    /// Forward to `upstream`, flipping a bit in every GET response body.
    pub fn corrupting(upstream: &str) -> Recorder {
        Recorder::new(upstream, true)
    }

    fn new(upstream: &str, corrupt: bool) -> Recorder {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let record = heads.clone();
        let (runtime, endpoint) = listen(move |client| {
            let (record, upstream) = (record.clone(), upstream.clone());
            async move {
                let _ = serve(client, &upstream, &record, corrupt).await;
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

/// The frame of every test proxy: a tokio runtime accepting connections on
/// a free 127.0.0.1 port, each handed to `serve` on a task of its own.
/// Returns the runtime (the proxy lives as long as it) and the endpoint.
pub fn listen<F, Fut>(serve: F) -> (tokio::runtime::Runtime, String)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(serve(client));
        }
    });
    (runtime, endpoint)
}

/// A message head: its raw bytes, its lines (header names lower-cased),
/// and its Content-Length. None at the end of the stream.
pub async fn read_head(
    r: &mut (impl AsyncBufRead + Unpin),
) -> std::io::Result<Option<(Vec<u8>, Vec<String>, u64)>> {
    let (mut raw, mut lines, mut length) = (Vec::new(), Vec::new(), 0u64);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        raw.extend_from_slice(line.as_bytes());
        let line = line.trim_end().to_string();
        if line.is_empty() {
            return Ok(Some((raw, lines, length)));
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
}

async fn serve(
    client: TcpStream,
    upstream: &str,
    record: &Mutex<Vec<String>>,
    corrupt: bool,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let (cr, mut cw) = client.into_split();
    let (sr, mut sw) = server.into_split();
    // Each request's method, for the response side to know what follows.
    let (methods_tx, mut methods) = mpsc::unbounded_channel::<String>();
    let requests = async {
        let mut cr = BufReader::new(cr);
        while let Some((raw, lines, length)) = read_head(&mut cr).await? {
            let method = lines[0].split(' ').next().unwrap_or_default().to_string();
            let _ = methods_tx.send(method);
            record.lock().unwrap().push(lines.join("\n"));
            sw.write_all(&raw).await?;
            tokio::io::copy(&mut (&mut cr).take(length), &mut sw).await?;
        }
        drop(methods_tx);
        sw.shutdown().await
    };
    let responses = async {
        let mut sr = BufReader::new(sr);
        if !corrupt {
            tokio::io::copy(&mut sr, &mut cw).await?;
            return cw.shutdown().await;
        }
        while let Some(method) = methods.recv().await {
            // Interim 1xx heads come before the final one.
            loop {
                let Some((raw, lines, length)) = read_head(&mut sr).await? else {
                    return cw.shutdown().await;
                };
                cw.write_all(&raw).await?;
                let status: u16 = lines[0]
                    .split(' ')
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0);
                if (100..200).contains(&status) {
                    continue;
                }
                let length = if method == "HEAD" || status == 204 || status == 304 {
                    0
                } else {
                    length
                };
                let mut body = vec![0u8; length as usize];
                sr.read_exact(&mut body).await?;
                if method == "GET" && status < 300 && length > 0 {
                    body[length as usize / 2] ^= 0x01;
                }
                cw.write_all(&body).await?;
                break;
            }
        }
        cw.shutdown().await
    };
    let (a, b) = tokio::join!(requests, responses);
    a.and(b)
}
