//! `s3put`: a stream of unknown length into S3 with bounded memory.
//!
//! A reader thread fills part buffers from stdin and feeds each part to the
//! stream check ([`crate::codec::verify`]); the async side uploads up to
//! `concurrency` parts at once. At most `concurrency + 2` parts exist: the
//! ones uploading, one waiting in the queue, and the one being filled (the
//! reader only peeks one read ahead to learn whether a full part is the
//! last). A stream that fits in one part is sent with one PutObject.
//!
//! Fail closed: the upload is completed only after the whole input was read
//! and the stream check passed. Any error, SIGINT, SIGTERM or SIGHUP aborts
//! the multipart upload (the SDK retries the abort like every call) and
//! nothing is stored.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::client::{Checksum, ObjectSettings, PartDone, PutBody, S3Error, Store};
use super::parts::{GROWTH_KEY, MAX_PART, MAX_PARTS, grown_part_size};
use super::url::S3Url;
use crate::codec::verify::{StreamCheck, Verify};
use crate::progress::Progress;

#[derive(Debug, Clone)]
pub struct PutOptions {
    pub part_size: u64,
    pub concurrency: usize,
    pub checksum: Checksum,
    pub verify: Verify,
    /// Size hint: chooses a part size that fits in 10,000 parts.
    pub expected_size: Option<u64>,
    /// The exact size the stream must have.
    pub expect_size: Option<u64>,
    /// Never grow the part size (stores that need equal parts).
    pub fixed_part_size: bool,
    /// Otherwise the part size doubles every this many parts.
    pub grow_every: u32,
    pub allow_empty: bool,
    pub sha256: bool,
    pub settings: ObjectSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PutReport {
    pub size: u64,
    pub etag: String,
    pub parts: u32,
    pub sha256: Option<String>,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The input is not fit to become an object (empty, truncated, …).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error("reading input: {0}")]
    Input(io::Error),
    #[error("interrupted by {name}")]
    Signal { name: &'static str, exit_code: u8 },
}

impl PutOptions {
    /// Whether the part size grows (neither fixed nor sized up front).
    pub fn grows(&self) -> bool {
        !self.fixed_part_size && self.expected_size.is_none()
    }

    /// The size of part `n` (1-based). With `--expected-size` the part size
    /// is raised up front to fit in 10,000 parts; otherwise it doubles every
    /// `grow_every` parts (8 MiB parts every 1,000 reach 5 TiB), unless fixed.
    pub fn part_size_for(&self, n: u32) -> u64 {
        match self.expected_size {
            _ if self.grows() => grown_part_size(self.part_size, n, self.grow_every),
            Some(total) => self
                .part_size
                .max(total.div_ceil(MAX_PARTS as u64).next_multiple_of(1 << 20))
                .min(MAX_PART),
            None => self.part_size.min(MAX_PART),
        }
    }

    /// The object settings for CreateMultipartUpload: the user's, plus the
    /// growth record when the part size grows.
    fn multipart_settings(&self) -> ObjectSettings {
        let mut settings = self.settings.clone();
        if self.grows() {
            settings
                .metadata
                .push((GROWTH_KEY.into(), self.grow_every.to_string()));
        }
        settings
    }
}

enum Msg {
    Part {
        number: u32,
        body: PutBody,
        last: bool,
    },
    /// End of input: the stream check's verdict, total size, SHA-256.
    End {
        check: Result<(), String>,
        size: u64,
        sha256: Option<String>,
    },
    Failed(UploadError),
}

/// Upload `input` to `url`. Returns when the object exists, or after the
/// upload was aborted.
pub async fn upload<R: Read + Send + 'static>(
    store: &Store,
    url: &S3Url,
    input: R,
    opts: &PutOptions,
    progress: Arc<Progress>,
) -> Result<PutReport, UploadError> {
    let started = Instant::now();
    let upload_id: Arc<Mutex<Option<String>>> = Arc::default();
    let result = tokio::select! {
        r = run(store, url, input, opts, progress, upload_id.clone()) => r,
        (name, exit_code) = crate::signals::interrupted() => Err(UploadError::Signal { name, exit_code }),
    };
    match result {
        Ok(mut report) => {
            report.seconds = started.elapsed().as_secs_f64();
            Ok(report)
        }
        Err(e) => {
            let id = upload_id.lock().expect("upload id lock").take();
            if let Some(id) = id {
                store
                    .abort(&url.bucket, &url.key, &id)
                    .await
                    .map_err(|abort| {
                        UploadError::Refused(format!(
                            "{e}; and aborting upload {id} failed too: {abort}"
                        ))
                    })?;
            }
            Err(e)
        }
    }
}

async fn run<R: Read + Send + 'static>(
    store: &Store,
    url: &S3Url,
    input: R,
    opts: &PutOptions,
    progress: Arc<Progress>,
    upload_id: Arc<Mutex<Option<String>>>,
) -> Result<PutReport, UploadError> {
    // Not every store honours If-None-Match (Garage 2.5 ignores it), so
    // look first; the header still closes the race where it is honoured.
    if opts.settings.if_none_match {
        match store.head(&url.bucket, &url.key, None, false).await {
            Ok(_) => {
                return Err(UploadError::Refused(format!(
                    "{url} already exists (--if-none-match)"
                )));
            }
            Err(S3Error::NoSuchKey(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let (tx, mut rx) = mpsc::channel::<Msg>(1);
    let (reader_opts, reader_progress) = (opts.clone(), progress.clone());
    std::thread::Builder::new()
        .name("s3put-read".into())
        .spawn(move || read_parts(input, &reader_opts, &reader_progress, &tx))
        .map_err(UploadError::Input)?;

    let permits = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut tasks: JoinSet<Result<PartDone, S3Error>> = JoinSet::new();
    let mut parts: Vec<PartDone> = Vec::new();
    let mut single: Option<PutBody> = None;
    let mut id: Option<String> = None;
    let (size, sha256) = loop {
        // A permit first, then a part: the queue never holds more than one.
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore open");
        // Surface a failed part early; keep every finished one.
        while let Some(done) = tasks.try_join_next() {
            parts.push(done.expect("part task")?);
        }
        progress.parts_in_flight(tasks.len());
        match rx.recv().await {
            Some(Msg::Part {
                number: 1,
                body,
                last: true,
            }) => single = Some(body),
            Some(Msg::Part { number, body, .. }) => {
                if number > MAX_PARTS {
                    return Err(UploadError::Refused(format!(
                        "input is larger than {MAX_PARTS} parts of {} (use --expected-size, a larger --part-size, or drop --fixed-part-size)",
                        opts.part_size
                    )));
                }
                if id.is_none() {
                    let new = store
                        .create_multipart(
                            &url.bucket,
                            &url.key,
                            &opts.multipart_settings(),
                            opts.checksum,
                        )
                        .await?;
                    *upload_id.lock().expect("upload id lock") = Some(new.clone());
                    id = Some(new);
                }
                let (store, url, id, checksum) = (
                    store.clone(),
                    url.clone(),
                    id.clone().expect("upload id"),
                    opts.checksum,
                );
                tasks.spawn(async move {
                    let _permit = permit;
                    store
                        .upload_part(&url.bucket, &url.key, &id, number as i32, body, checksum)
                        .await
                });
                progress.parts_in_flight(tasks.len());
            }
            Some(Msg::End {
                check,
                size,
                sha256,
            }) => {
                check.map_err(UploadError::Refused)?;
                break (size, sha256);
            }
            Some(Msg::Failed(e)) => return Err(e),
            None => {
                return Err(UploadError::Refused(
                    "input reader stopped unexpectedly".into(),
                ));
            }
        }
    };
    if let Some(expected) = opts.expect_size
        && size != expected
    {
        return Err(UploadError::Refused(format!(
            "input ended early: got {size} bytes, --expect-size said {expected}"
        )));
    }
    let Some(id) = id else {
        let body = single.unwrap_or(PutBody {
            data: Bytes::new(),
            crc32c: None,
        });
        if body.data.is_empty() && !opts.allow_empty {
            return Err(UploadError::Refused(
                "no input: refusing to store an empty object (use --allow-empty)".into(),
            ));
        }
        let etag = store
            .put_object(&url.bucket, &url.key, body, &opts.settings, opts.checksum)
            .await?;
        return Ok(PutReport {
            size,
            etag,
            parts: 1,
            sha256,
            seconds: 0.0,
        });
    };
    while let Some(done) = tasks.join_next().await {
        parts.push(done.expect("part task")?);
    }
    parts.sort_by_key(|p| p.number);
    let etag = complete(store, url, &id, &parts, size, opts.settings.if_none_match).await?;
    upload_id.lock().expect("upload id lock").take();
    Ok(PutReport {
        size,
        etag,
        parts: parts.len() as u32,
        sha256,
        seconds: 0.0,
    })
}

/// CompleteMultipartUpload. If its reply was lost and the retry found the
/// upload gone, the object may well exist: HEAD decides, so a completed
/// upload never turns into a failure (nor into a second object).
async fn complete(
    store: &Store,
    url: &S3Url,
    id: &str,
    parts: &[PartDone],
    size: u64,
    if_none_match: bool,
) -> Result<String, UploadError> {
    match store
        .complete(&url.bucket, &url.key, id, parts, if_none_match)
        .await
    {
        Ok(etag) => Ok(etag),
        Err(err @ (S3Error::NoSuchUpload(_) | S3Error::Unreachable { .. } | S3Error::Other(_))) => {
            match store.head(&url.bucket, &url.key, None, false).await {
                Ok(info)
                    if info.size == size
                        && info
                            .etag
                            .trim_matches('"')
                            .ends_with(&format!("-{}", parts.len())) =>
                {
                    Ok(info.etag)
                }
                _ => Err(err.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Reader thread: fill parts, check the stream, report the end.
fn read_parts<R: Read>(
    mut input: R,
    opts: &PutOptions,
    progress: &Progress,
    tx: &mpsc::Sender<Msg>,
) {
    use sha2::Digest;
    let mut check = StreamCheck::new(opts.verify);
    let mut hasher = opts.sha256.then(sha2::Sha256::new);
    // Uploaded parts' buffers come back here to be refilled.
    let (pool_tx, pool) = std::sync::mpsc::channel::<Vec<u8>>();
    let crc = opts.checksum == Checksum::Crc32c;
    let mut total = 0u64;
    let mut number = 1u32;
    let mut current = PartBuf::new(Vec::new(), crc);
    let mut eof = false;
    let send = |msg: Msg| tx.blocking_send(msg).is_ok();
    loop {
        // Fill the current part (it may already hold the peeked bytes).
        let want = opts.part_size_for(number) as usize;
        if !eof {
            match current.fill(&mut input, want) {
                Ok(hit_eof) => eof = hit_eof,
                Err(e) => {
                    send(Msg::Failed(UploadError::Input(e)));
                    return;
                }
            }
        }
        // Peek one read ahead: is there anything after this part? (Into a
        // recycled buffer when an uploaded part gave one back.)
        let buf = pool
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(opts.part_size_for(number + 1) as usize));
        let mut next = PartBuf::new(buf, crc);
        if !eof {
            match next.fill(&mut input, 1) {
                Ok(hit_eof) => eof = hit_eof,
                Err(e) => {
                    send(Msg::Failed(UploadError::Input(e)));
                    return;
                }
            }
        }
        let last = eof && next.filled == 0;
        let body = std::mem::replace(&mut current, next).into_body(&pool_tx);
        let data = &body.data;
        total += data.len() as u64;
        progress.add_bytes(data.len() as u64);
        if let Some(h) = hasher.as_mut() {
            h.update(data);
        }
        if !data.is_empty()
            && let Err(e) = check.feed(data.clone())
        {
            send(Msg::Failed(UploadError::Refused(e)));
            return;
        }
        if !send(Msg::Part { number, body, last }) {
            return;
        }
        if last {
            let sha256 = hasher.map(|h| format!("{:x}", h.finalize()));
            send(Msg::End {
                check: check.finish(),
                size: total,
                sha256,
            });
            return;
        }
        number += 1;
    }
}

/// Most bytes one read asks for: the CRC32C of each read is computed right
/// after it, while the bytes are still in the CPU's cache.
const READ_SIZE: usize = 1 << 20;

/// A part being filled: its buffer (initialised up to `buf.len()`, so a
/// recycled buffer is never zeroed again: zero-filling each part cost ~15%
/// of s3put's CPU), how much of it holds input, and that input's CRC32C.
struct PartBuf {
    buf: Vec<u8>,
    filled: usize,
    crc: Option<u32>,
}

impl PartBuf {
    /// `buf` keeps its length: a recycled buffer's bytes are initialised.
    fn new(buf: Vec<u8>, crc: bool) -> Self {
        PartBuf {
            buf,
            filled: 0,
            crc: crc.then_some(0),
        }
    }

    /// Read until `want` bytes are in or the input ends; returns whether it
    /// ended. The CRC32C is computed read by read, while the bytes are hot:
    /// the SDK's own pass over a whole part afterwards cost twice as much.
    fn fill(&mut self, input: &mut impl Read, want: usize) -> io::Result<bool> {
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.filled < want {
            let end = want.min(self.filled + READ_SIZE);
            match input.read(&mut self.buf[self.filled..end]) {
                Ok(0) => return Ok(true),
                Ok(n) => {
                    let got = &self.buf[self.filled..self.filled + n];
                    self.crc = self.crc.map(|crc| crc32c::crc32c_append(crc, got));
                    self.filled += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// The filled bytes as a body whose buffer returns to `pool` when the
    /// last holder (the upload or the stream check) drops it.
    fn into_body(mut self, pool: &std::sync::mpsc::Sender<Vec<u8>>) -> PutBody {
        self.buf.truncate(self.filled);
        PutBody {
            data: Bytes::from_owner(Pooled {
                buf: self.buf,
                pool: pool.clone(),
            }),
            crc32c: self.crc,
        }
    }
}

/// A part's buffer on loan to the upload and the stream check.
struct Pooled {
    buf: Vec<u8>,
    pool: std::sync::mpsc::Sender<Vec<u8>>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // The reader may have finished: then the buffer is simply freed.
        let _ = self.pool.send(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> PutOptions {
        PutOptions {
            part_size: 8 << 20,
            concurrency: 4,
            checksum: Checksum::Crc32c,
            verify: Verify::Auto,
            expected_size: None,
            expect_size: None,
            fixed_part_size: false,
            grow_every: 1000,
            allow_empty: false,
            sha256: false,
            settings: ObjectSettings::default(),
        }
    }

    #[test]
    fn part_sizes_grow_so_5_tib_fits_in_10000_parts() {
        let o = opts();
        assert_eq!(o.part_size_for(1), 8 << 20);
        assert_eq!(o.part_size_for(1000), 8 << 20);
        assert_eq!(o.part_size_for(1001), 16 << 20);
        let total: u64 = (1..=MAX_PARTS).map(|n| o.part_size_for(n)).sum();
        assert!(total >= 5 << 40, "{total}");
        let fixed = PutOptions {
            fixed_part_size: true,
            ..opts()
        };
        assert_eq!(fixed.part_size_for(9000), 8 << 20);
        let sized = PutOptions {
            expected_size: Some(1 << 40),
            ..opts()
        };
        assert_eq!(sized.part_size_for(1), 105 << 20);
        assert!(sized.part_size_for(1) * MAX_PARTS as u64 >= 1 << 40);
        // Only a growing layout is recorded with the object.
        let record = (GROWTH_KEY.to_string(), "1000".to_string());
        assert!(o.multipart_settings().metadata.contains(&record));
        assert!(fixed.multipart_settings().metadata.is_empty());
        assert!(sized.multipart_settings().metadata.is_empty());
        let fast = PutOptions {
            grow_every: 2,
            ..opts()
        };
        let sizes: Vec<u64> = (1..=5).map(|n| fast.part_size_for(n) >> 20).collect();
        assert_eq!(sizes, [8, 8, 16, 16, 32]);
    }

    #[test]
    fn fill_reads_until_full_or_eof_and_recycles_buffers() {
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut r = &data[..];
        let (pool_tx, pool) = std::sync::mpsc::channel();
        let mut b = PartBuf::new(Vec::new(), true);
        assert!(!b.fill(&mut r, 600).unwrap());
        let first = b.into_body(&pool_tx);
        assert_eq!(first.data, data[..600]);
        assert_eq!(first.crc32c, Some(crc32c::crc32c(&data[..600])));
        // The buffer comes back only once every holder has dropped it.
        let held = first.data.clone();
        drop(first);
        assert!(pool.try_recv().is_err());
        drop(held);
        let recycled = pool.try_recv().expect("buffer returned");
        let mut c = PartBuf::new(recycled, false);
        assert!(c.fill(&mut r, 600).unwrap());
        let second = c.into_body(&pool_tx);
        assert_eq!(second.data, data[600..]);
        assert_eq!(second.crc32c, None);
    }
}
