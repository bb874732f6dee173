//! Fetching: every range of one version of one object, as many at once as
//! the controller allows, each resumed from its last byte, handed to the
//! writer in order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use super::check::{Check, RangeSum, Sums};
use super::{DownloadError, GetOptions};
use crate::progress::Progress;
use crate::s3::buffers::BufferPool;
use crate::s3::client::Store;
use crate::s3::concurrency::Concurrency;
use crate::s3::error::S3Error;
use crate::s3::url::S3Url;

pub(super) type Fetched = Result<(Vec<u8>, RangeSum), DownloadError>;

/// A range task: what it fetched, its generation and its seconds (for the
/// controller).
pub(super) type Timed = (Fetched, u64, f64);

/// Where the ranges come from: one version of one object, of `size`
/// bytes (every answer's Content-Range must say so too).
pub(super) struct Source {
    pub(super) store: Store,
    pub(super) url: S3Url,
    pub(super) etag: String,
    pub(super) version: Option<String>,
    pub(super) size: u64,
}

/// Fetch every range, as many at once as `concurrency` allows, handing
/// each to the writer in order; stops at the first failure (or when the
/// writer stopped, whose own error then says why).
pub(super) async fn fetch_in_order(
    source: &Arc<Source>,
    check: &Check,
    opts: &GetOptions,
    progress: &Progress,
    (tx, buffers): (SyncSender<Vec<u8>>, &BufferPool),
    concurrency: &mut Concurrency,
) -> Result<Sums, DownloadError> {
    let mut sums: Sums = Vec::new();
    let mut pending = check.ranges(source.size, opts.part_size).into_iter();
    let mut in_flight: VecDeque<(usize, tokio::task::JoinHandle<Timed>)> = VecDeque::new();
    let result = loop {
        while in_flight.len() < concurrency.limit() {
            let Some((start, end, part)) = pending.next() else {
                break;
            };
            let range = Range { start, end };
            let mut buf = buffers.take((end - start) as usize);
            buf.clear();
            let task = spawn_fetch(source, (range, buf), opts, check, concurrency.generation());
            in_flight.push_back((part, task));
        }
        progress.parts_in_flight(in_flight.len());
        let Some((part, next)) = in_flight.pop_front() else {
            break Ok(());
        };
        if !next.is_finished() {
            // The writer waits for the network: more in flight may help.
            concurrency.waited();
        }
        match next.await {
            Ok((Ok((chunks, sum)), generation, seconds)) => {
                let len = chunks.len() as u64;
                concurrency.finished(generation, len, seconds, Instant::now());
                sums.push((sum, len, part));
                progress.add_bytes(len);
                if tokio::task::block_in_place(|| tx.send(chunks)).is_err() {
                    break Ok(()); // the writer failed: its error says why
                }
            }
            Ok((Err(e), ..)) => break Err(e),
            Err(e) => break Err(DownloadError::Task(e.to_string())),
        }
    };
    for (_, task) in &in_flight {
        task.abort();
    }
    result.map(|()| sums)
}

pub(super) fn spawn_fetch(
    source: &Arc<Source>,
    (range, buf): (Range, Vec<u8>),
    opts: &GetOptions,
    check: &Check,
    generation: u64,
) -> tokio::task::JoinHandle<Timed> {
    let (source, opts, sum) = (source.clone(), opts.clone(), check.range_sum());
    tokio::spawn(async move {
        let started = Instant::now();
        let fetched = fetch(&source, (range, buf), &opts, sum).await;
        (fetched, generation, started.elapsed().as_secs_f64())
    })
}

impl Source {
    /// Is `answered` (a response's Content-Range) the range asked for,
    /// of an object of the size HEAD reported? A middlebox or a store that
    /// answers another range, or whose HEAD lied about the size, must not
    /// make its bytes ours. No Content-Range is a whole-object answer
    /// (a store that ignores Range), good only when the whole was asked.
    fn answers(&self, from: u64, end: u64, answered: Option<&str>) -> Result<(), DownloadError> {
        let asked = format!("bytes {from}-{}/{}", end - 1, self.size);
        match answered {
            Some(range) if range == asked => Ok(()),
            None if from == 0 && end == self.size => Ok(()),
            _ => Err(DownloadError::Integrity(format!(
                "asked for {asked}, the server answered {}",
                answered.unwrap_or("the whole object (no Content-Range)")
            ))),
        }
    }
}

/// ETags compare without their quotes or a weak `W/` mark, which stores
/// and proxies add or drop.
fn same_etag(a: &str, b: &str) -> bool {
    let bare = |e: &str| e.trim_start_matches("W/").trim_matches('"').to_string();
    bare(a) == bare(b)
}

/// Bytes `start..end` of the object.
#[derive(Clone, Copy)]
pub(super) struct Range {
    start: u64,
    end: u64,
}

/// One range, whole, into `buf` (from a [`BufferPool`]), resuming from the last
/// byte received; `sum` is updated with each chunk as it arrives.
pub(super) async fn fetch(
    source: &Source,
    (Range { start, end }, mut buf): (Range, Vec<u8>),
    opts: &GetOptions,
    mut sum: RangeSum,
) -> Result<(Vec<u8>, RangeSum), DownloadError> {
    let Source {
        store, url, etag, ..
    } = source;
    let mut received = 0u64;
    let mut attempts = 0u32;
    loop {
        let from = start + received;
        if from == end {
            return Ok((buf, sum));
        }
        let request = store.get_range(
            &url.bucket,
            &url.key,
            from,
            end,
            etag,
            source.version.as_deref(),
        );
        // A store that accepts the request and never answers is a stall
        // too: the SDK's per-attempt timeout (300 s) is no idle timeout.
        let answer = tokio::time::timeout(opts.idle_timeout, request).await;
        let problem = match answer.unwrap_or_else(|_| {
            Err(S3Error::Other(format!(
                "no response for {:?}",
                opts.idle_timeout
            )))
        }) {
            Err(S3Error::PreconditionFailed(_)) => {
                return Err(DownloadError::Changed(etag.to_string()));
            }
            Err(
                e @ (S3Error::NoSuchKey(_) | S3Error::NoSuchBucket(_) | S3Error::AccessDenied(_)),
            ) => {
                return Err(e.into());
            }
            Err(e) => e.to_string(),
            Ok((mut body, answered)) => {
                source.answers(from, end, answered.range.as_deref())?;
                if answered
                    .etag
                    .as_deref()
                    .is_some_and(|e| !same_etag(e, etag))
                {
                    return Err(DownloadError::Changed(etag.to_string()));
                }
                loop {
                    match tokio::time::timeout(opts.idle_timeout, body.chunk()).await {
                        Ok(Ok(Some(chunk))) => {
                            received += chunk.len() as u64;
                            if received > end - start {
                                return Err(DownloadError::Integrity(format!(
                                    "the server sent more than range {start}-{end}"
                                )));
                            }
                            sum.update(&chunk);
                            if let Some(rate) = &opts.limit_rate {
                                rate.take(chunk.len()).await;
                            }
                            buf.extend_from_slice(&chunk);
                        }
                        Ok(Ok(None)) if start + received == end => return Ok((buf, sum)),
                        Ok(Ok(None)) => break "the body ended early".to_string(),
                        Ok(Err(e)) => break e.to_string(),
                        Err(_) => break format!("no data for {:?}", opts.idle_timeout),
                    }
                }
            }
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

#[cfg(test)]
mod tests {
    #[test]
    fn etags_compare_without_quotes_or_weak_marks() {
        assert!(super::same_etag("\"abc-2\"", "abc-2"));
        assert!(super::same_etag("W/\"abc\"", "\"abc\""));
        assert!(!super::same_etag("\"abc-2\"", "\"abd-2\""));
    }
}
