//! `s3get`: an object to stdout through parallel ranged GETs, written in
//! order.
//!
//! Up to `concurrency` ranges are fetched at once; each is buffered whole
//! (so at most `part_size × (concurrency + 1)` bytes are held) and handed to
//! a writer thread in order. Every range carries `If-Match` with the ETag
//! HEAD returned, so an object replaced mid-way fails instead of mixing two
//! versions. A body that breaks or stalls (no byte for `idle_timeout`) is
//! re-requested from the last byte received; nothing reaches stdout twice
//! or not at all. A closed stdout stops the fetching at once.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::client::{S3Error, Store};
use super::url::S3Url;
use crate::progress::Progress;

#[derive(Debug, Clone)]
pub struct GetOptions {
    pub part_size: u64,
    pub concurrency: usize,
    pub version_id: Option<String>,
    /// Check the MD5 of single-part objects against their ETag.
    pub verify: bool,
    /// Resume a body that sent nothing for this long.
    pub idle_timeout: Duration,
    /// Resumes per range before giving up.
    pub retries: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GetReport {
    pub size: u64,
    pub etag: String,
    /// What was verified: "md5" or "none".
    pub verified: &'static str,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(
        "the object changed during the download (its ETag is no longer {0}); the bytes already written are from the old version and incomplete"
    )]
    Changed(String),
    #[error("integrity check failed: {0}; the bytes already written are suspect")]
    Integrity(String),
    #[error("range {start}-{end} failed after {attempts} attempts: {last}")]
    Range {
        start: u64,
        end: u64,
        attempts: u32,
        last: String,
    },
    #[error("writing output")]
    Output(#[source] io::Error),
}

pub async fn download<W: Write + Send + 'static>(
    store: &Store,
    url: &S3Url,
    out: W,
    opts: &GetOptions,
    progress: Arc<Progress>,
) -> Result<GetReport, DownloadError> {
    let started = Instant::now();
    let info = store
        .head(&url.bucket, &url.key, opts.version_id.as_deref(), false)
        .await?;
    let etag = info.etag.clone();
    let version = opts.version_id.clone().or(info.version_id.clone());
    // A plain 32-hex ETag is the MD5 of the body (single-part, no SSE-KMS).
    let md5_etag = {
        let e = etag.trim_matches('"');
        (opts.verify && e.len() == 32 && e.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| e.to_ascii_lowercase())
    };

    let (tx, rx) = sync_channel::<Bytes>(1);
    let hash = md5_etag.is_some();
    let writer = std::thread::Builder::new()
        .name("s3get-write".into())
        .spawn(move || -> io::Result<Option<String>> {
            use md5::Digest;
            let mut out = out;
            let mut md5 = hash.then(md5::Md5::new);
            for chunk in rx {
                out.write_all(&chunk)?;
                if let Some(h) = md5.as_mut() {
                    h.update(&chunk);
                }
            }
            out.flush()?;
            Ok(md5.map(|h| format!("{:x}", h.finalize())))
        })
        .map_err(DownloadError::Output)?;

    let part = opts.part_size.max(1);
    let ranges: Vec<(u64, u64)> = (0..info.size.div_ceil(part))
        .map(|i| (i * part, ((i + 1) * part).min(info.size)))
        .collect();
    let mut pending = ranges.into_iter();
    let mut in_flight: VecDeque<tokio::task::JoinHandle<Result<Bytes, DownloadError>>> =
        VecDeque::new();
    let mut failure = None;
    loop {
        while in_flight.len() < opts.concurrency.max(1) {
            let Some((start, end)) = pending.next() else {
                break;
            };
            let (store, url, etag, version, opts) = (
                store.clone(),
                url.clone(),
                etag.clone(),
                version.clone(),
                opts.clone(),
            );
            in_flight.push_back(tokio::spawn(async move {
                fetch(&store, &url, start, end, &etag, version.as_deref(), &opts).await
            }));
        }
        let Some(next) = in_flight.pop_front() else {
            break;
        };
        match next.await.expect("range task") {
            Ok(bytes) => {
                progress.add_bytes(bytes.len() as u64);
                if tokio::task::block_in_place(|| tx.send(bytes)).is_err() {
                    break; // the writer failed: its error says why
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    for task in &in_flight {
        task.abort();
    }
    drop(tx);
    let written = writer.join().expect("writer thread");
    if let Some(e) = failure {
        return Err(e);
    }
    let md5 = written.map_err(DownloadError::Output)?;
    if let (Some(want), Some(got)) = (&md5_etag, &md5)
        && want != got
    {
        return Err(DownloadError::Integrity(format!(
            "MD5 {got} does not match the ETag {want}"
        )));
    }
    Ok(GetReport {
        size: info.size,
        etag,
        verified: if md5.is_some() { "md5" } else { "none" },
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One range, whole, resuming from the last byte received.
async fn fetch(
    store: &Store,
    url: &S3Url,
    start: u64,
    end: u64,
    etag: &str,
    version: Option<&str>,
    opts: &GetOptions,
) -> Result<Bytes, DownloadError> {
    let mut buf = BytesMut::with_capacity((end - start) as usize);
    let mut attempts = 0u32;
    loop {
        let from = start + buf.len() as u64;
        if from == end {
            return Ok(buf.freeze());
        }
        let problem = match store
            .get_range(&url.bucket, &url.key, from, end, etag, version)
            .await
        {
            Err(S3Error::PreconditionFailed(_)) => {
                return Err(DownloadError::Changed(etag.to_string()));
            }
            Err(
                e @ (S3Error::NoSuchKey(_) | S3Error::NoSuchBucket(_) | S3Error::AccessDenied(_)),
            ) => {
                return Err(e.into());
            }
            Err(e) => e.to_string(),
            Ok(mut body) => loop {
                match tokio::time::timeout(opts.idle_timeout, body.chunk()).await {
                    Ok(Ok(Some(chunk))) => {
                        if buf.len() + chunk.len() > (end - start) as usize {
                            return Err(DownloadError::Integrity(format!(
                                "the server sent more than range {start}-{end}"
                            )));
                        }
                        buf.extend_from_slice(&chunk);
                    }
                    Ok(Ok(None)) if start + buf.len() as u64 == end => return Ok(buf.freeze()),
                    Ok(Ok(None)) => break "the body ended early".to_string(),
                    Ok(Err(e)) => break e.to_string(),
                    Err(_) => break format!("no data for {:?}", opts.idle_timeout),
                }
            },
        };
        attempts += 1;
        if attempts > opts.retries {
            return Err(DownloadError::Range {
                start,
                end,
                attempts,
                last: problem,
            });
        }
        // Exponential backoff with jitter, as the SDK does for whole calls.
        let base = 100u64 << attempts.min(6);
        let jitter = u64::from(std::process::id() ^ (start as u32)) % base;
        tokio::time::sleep(Duration::from_millis(base + jitter)).await;
    }
}
