//! A proxy between a client and the S3 server (tokio, on 127.0.0.1) that
//! sees the HTTP traffic. It keeps the head (request line and headers) of
//! each request: for options a store accepts but never reports back (Garage
//! ignores storage class, SSE, tags and ACLs) they are the evidence of what
//! a tool asked for. (A proxy that changes what passes is
//! [`super::liar::Liar`].)

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub struct Recorder {
    pub endpoint: String,
    heads: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Recorder {
    /// Forward to `upstream` (`http://127.0.0.1:PORT`) untouched.
    pub fn start(upstream: &str) -> Recorder {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let record = heads.clone();
        let (runtime, endpoint) = listen(move |client| {
            let (record, upstream) = (record.clone(), upstream.clone());
            async move {
                let _ = serve(client, &upstream, &record).await;
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
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let (cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let requests = async {
        let mut cr = BufReader::new(cr);
        while let Some((raw, lines, length)) = read_head(&mut cr).await? {
            record.lock().unwrap().push(lines.join("\n"));
            sw.write_all(&raw).await?;
            tokio::io::copy(&mut (&mut cr).take(length), &mut sw).await?;
        }
        sw.shutdown().await
    };
    let responses = async {
        tokio::io::copy(&mut sr, &mut cw).await?;
        cw.shutdown().await
    };
    let (a, b) = tokio::join!(requests, responses);
    a.and(b)
}
