//! `s3put`: a stream of unknown length into S3 with bounded memory.
//!
//! A reader thread fills part buffers from stdin and feeds each part to the
//! stream check ([`crate::codec::verify`]); the async side uploads as many
//! parts at once as [`Concurrency`] allows. At most `in flight + 2` parts
//! exist: the ones uploading, one waiting in the queue, and the one being
//! filled (the reader only peeks one read ahead to learn whether a full
//! part is the last); `--max-memory` bounds them all. A stream that fits in
//! one part is sent with one PutObject.
//!
//! Fail closed: the upload is completed only after the whole input was read
//! and the stream check passed. Any error, SIGINT, SIGTERM or SIGHUP aborts
//! the multipart upload (the SDK retries the abort like every call) and
//! nothing is stored.

mod multipart;
mod reader;

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::client::{Checksum, ObjectSettings, PutBody, Store};
use super::concurrency::{Budget, Concurrency};
use super::error::S3Error;
use super::list::human;
use super::parts::{GROWTH_KEY, MAX_PART, PART_SIZE_KEY, grown_part_size};
use super::rate::{Paced, RateLimit};
use super::url::S3Url;
use crate::codec::verify::{CheckError, Verify};
use crate::encryption::{self, CryptError};
use crate::progress::Progress;
use multipart::{Multipart, lock};
use reader::{Msg, read_parts};

/// Parts held besides those in flight: the one queued, the one filling.
const HELD: usize = 2;

#[derive(Debug, Clone)]
pub struct PutOptions {
    pub part_size: u64,
    /// Parts in flight: pinned, or None to adapt within `max_memory`.
    pub concurrency: Option<usize>,
    /// What the part buffers may hold.
    pub max_memory: Budget,
    /// One rate for the whole upload (`--limit-rate`).
    pub limit_rate: Option<RateLimit>,
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
    /// The most parts the store takes (`--max-parts`: 10,000 on AWS,
    /// 1,000 on Scaleway and OVH).
    pub max_parts: u32,
    pub allow_empty: bool,
    pub sha256: bool,
    pub settings: ObjectSettings,
    /// Encrypt to these age recipients (public keys, checked) on the way.
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PutReport {
    /// Bytes stored (the ciphertext's, when encrypted).
    pub size: u64,
    /// Bytes read from the input.
    pub input_size: u64,
    /// The age recipients the object is encrypted to (public keys).
    pub recipients: Vec<String>,
    pub etag: String,
    pub parts: u32,
    pub sha256: Option<String>,
    /// What the checked stream holds: gzip's or zstd's decompressed bytes
    /// (a tar stream's own size); None when not checked.
    pub content_size: Option<u64>,
    /// Calls the SDK retried.
    pub retries: u64,
    /// Parts in flight at the end, and at most.
    pub concurrency: usize,
    pub peak_concurrency: usize,
    pub seconds: f64,
}

/// Why an upload did not become an object. Each cause its own variant, so
/// callers (and exit codes) need not read messages.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    #[error("{url} already exists (--if-none-match)")]
    Exists { url: String },
    #[error(
        "input is larger than {max_parts} parts of {part_size} (use --expected-size, a larger --part-size, or drop --fixed-part-size)"
    )]
    TooManyParts { part_size: u64, max_parts: u32 },
    /// The stream check found the input truncated or corrupt.
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error("input ended early: got {got} bytes, --expect-size said {expected}")]
    ShortInput { got: u64, expected: u64 },
    #[error("input is longer than --expect-size: got {got} bytes, --expect-size said {expected}")]
    LongInput { got: u64, expected: u64 },
    #[error("no input: refusing to store an empty object (use --allow-empty)")]
    Empty,
    #[error("input reader stopped unexpectedly")]
    ReaderGone,
    /// Complete's reply was lost or refused, and what HEAD finds at the key
    /// cannot be shown to be this upload (its multipart ETag differs).
    #[error(
        "completing the upload failed ({why}), and the object at the key (ETag {found}) is not this upload"
    )]
    NotOurs { why: String, found: String },
    /// A part task failed outside S3 (it panicked or was cancelled).
    #[error("upload task failed: {0}")]
    Task(String),
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error("reading input: {0}")]
    Input(io::Error),
    #[error(transparent)]
    Encryption(#[from] CryptError),
    #[error("interrupted by {name}")]
    Signal { name: &'static str, exit_code: u8 },
    /// The upload failed and so did aborting it: both are said, and the
    /// first decides the exit code (a signal stays 128 + N).
    #[error("{error}; and aborting upload {id} failed too: {abort}")]
    AbortFailed {
        error: Box<UploadError>,
        id: String,
        abort: S3Error,
    },
}

impl UploadError {
    /// The exit code this error asks for, if not the tool's usual failure.
    pub(crate) fn exit_code(&self) -> Option<u8> {
        match self {
            UploadError::Signal { exit_code, .. } => Some(*exit_code),
            UploadError::AbortFailed { error, .. } => error.exit_code(),
            _ => None,
        }
    }
}

impl PutOptions {
    /// Whether the part size grows (neither fixed nor sized up front).
    pub fn grows(&self) -> bool {
        !self.fixed_part_size && self.expected_size.is_none()
    }

    /// The size of part `n` (1-based). With `--expected-size` the part size
    /// is raised up front to fit in `max_parts` parts; otherwise it doubles every
    /// `grow_every` parts (8 MiB parts every 1,000 reach 5 TiB), unless fixed.
    pub fn part_size_for(&self, n: u32) -> u64 {
        match self.expected_size {
            _ if self.grows() => grown_part_size(self.part_size, n, self.grow_every),
            Some(total) => self
                .part_size
                .max(
                    total
                        .div_ceil(u64::from(self.max_parts))
                        .next_multiple_of(1 << 20),
                )
                .min(MAX_PART),
            None => self.part_size.min(MAX_PART),
        }
    }

    /// The controller for a transfer starting at part `number`: pinned by
    /// `--concurrency`, else adapting within the budget.
    pub fn concurrency_for(&self, number: u32) -> Concurrency {
        let max = self.max_memory.slots(self.part_size_for(number), HELD);
        Concurrency::new(self.concurrency, max)
    }

    /// The one line to say when part `number`'s buffers (with the two held
    /// besides) do not fit in `--max-memory`: the budget grows to hold them.
    pub fn budget_warning(&self, number: u32) -> Option<String> {
        let part = self.part_size_for(number);
        let needed = self.max_memory.shortfall(part, HELD)?;
        Some(format!(
            "parts of {} need {} of buffers, more than --max-memory {}: using {} (raise --max-memory to silence this)",
            human(part),
            human(needed),
            human(self.max_memory.bytes),
            human(needed)
        ))
    }

    /// The longest stream whose parts all fit in the budget (docs/tools.md's
    /// budget table): the bytes of every part up to the last one whose
    /// buffers fit.
    pub fn largest_stream_within_budget(&self) -> u64 {
        (1..=self.max_parts)
            .take_while(|&n| {
                self.max_memory
                    .shortfall(self.part_size_for(n), HELD)
                    .is_none()
            })
            .map(|n| self.part_size_for(n))
            .sum()
    }

    /// The user's object settings, plus the encryption record.
    fn object_settings(&self) -> ObjectSettings {
        let mut settings = self.settings.clone();
        if !self.recipients.is_empty() {
            let (key, value) = (encryption::METADATA_KEY, encryption::METADATA_VALUE);
            settings.metadata.push((key.into(), value.into()));
        }
        settings
    }

    /// The object settings for CreateMultipartUpload, plus the first
    /// part's size and the growth record when the part size grows.
    fn multipart_settings(&self) -> ObjectSettings {
        let mut settings = self.object_settings();
        let first = self.part_size_for(1).to_string();
        settings.metadata.push((PART_SIZE_KEY.into(), first));
        if self.grows() {
            settings
                .metadata
                .push((GROWTH_KEY.into(), self.grow_every.to_string()));
        }
        settings
    }
}

/// Upload `input` to `url`. Returns when the object exists, or after the
/// upload was aborted.
pub(crate) async fn upload<R: Read + Send + 'static>(
    store: &Store,
    url: &S3Url,
    input: R,
    opts: &PutOptions,
    progress: Arc<Progress>,
) -> Result<PutReport, UploadError> {
    let started = Instant::now();
    if let Some(warning) = opts.budget_warning(1) {
        progress.warn(warning);
    }
    let mut multipart = Multipart::new(store, url, opts, opts.concurrency_for(1));
    let input = Paced {
        inner: input,
        rate: opts.limit_rate.clone(),
    };
    let upload_id = multipart.id.clone();
    let result = tokio::select! {
        r = run(store, url, input, opts, progress.clone(), &mut multipart) => r,
        (name, exit_code) = crate::signals::interrupted() => Err(UploadError::Signal { name, exit_code }),
    };
    match result {
        Ok(mut report) => {
            report.seconds = started.elapsed().as_secs_f64();
            report.retries = store.retries();
            report.concurrency = multipart.concurrency.limit();
            report.peak_concurrency = multipart.concurrency.peak();
            if let Some(asked) = &opts.settings.tagging {
                say_if_tags_lost(store, url, asked, &progress).await;
            }
            Ok(report)
        }
        Err(error) => {
            let id = lock(&upload_id).take();
            if let Some(id) = id
                && let Err(abort) = store.abort(&url.bucket, &url.key, &id).await
            {
                return Err(UploadError::AbortFailed {
                    error: Box::new(error),
                    id,
                    abort,
                });
            }
            Err(error)
        }
    }
}

/// Refuse if asked to → start the reader → upload its parts → complete the
/// multipart upload, or send one PutObject when the input fit in a part.
async fn run<R: Read + Send + 'static>(
    store: &Store,
    url: &S3Url,
    input: R,
    opts: &PutOptions,
    progress: Arc<Progress>,
    multipart: &mut Multipart<'_>,
) -> Result<PutReport, UploadError> {
    refuse_if_exists(store, url, opts).await?;
    let (tx, mut rx) = mpsc::channel::<Msg>(1);
    let (reader_opts, reader_progress) = (opts.clone(), progress.clone());
    std::thread::Builder::new()
        .name("s3put-read".into())
        .spawn(move || read_parts(input, &reader_opts, &reader_progress, &tx))
        .map_err(UploadError::Input)?;
    let mut single: Option<PutBody> = None;
    let (size, stored, sha256, content_size) = loop {
        let waited = multipart.slot().await?;
        progress.parts_in_flight(multipart.in_flight());
        match next_part(&mut rx, waited, &mut multipart.concurrency).await? {
            Msg::Part {
                number: 1,
                body,
                last: true,
            } => single = Some(body),
            Msg::Part { number, body, .. } => {
                if opts.grows()
                    && number > 1
                    && opts.part_size_for(number) > opts.part_size_for(number - 1)
                {
                    grown(opts, number, &mut multipart.concurrency, &progress);
                }
                multipart.start_part(number, body).await?;
                progress.parts_in_flight(multipart.in_flight());
            }
            Msg::End {
                check,
                size,
                stored,
                sha256,
            } => break (size, stored, sha256, check?),
            Msg::Failed(e) => return Err(e),
        }
    };
    check_size(size, opts)?;
    let (etag, parts) = if multipart.started() {
        let done = multipart.finish(stored).await?;
        if opts.settings.lock.is_set() {
            store
                .ensure_lock(&url.bucket, &url.key, &opts.settings.lock)
                .await?;
        }
        done
    } else {
        (put_single(store, url, opts, single).await?, 1)
    };
    Ok(PutReport {
        size: stored,
        input_size: size,
        recipients: opts.recipients.clone(),
        etag,
        parts,
        sha256,
        content_size,
        retries: 0,
        concurrency: 0,
        peak_concurrency: 0,
        seconds: 0.0,
    })
}

/// The input's size against `--allow-empty` and `--expect-size` (an empty
/// stream encrypted is not empty: this is the input's size).
fn check_size(size: u64, opts: &PutOptions) -> Result<(), UploadError> {
    match opts.expect_size {
        _ if size == 0 && !opts.allow_empty => Err(UploadError::Empty),
        Some(expected) if size < expected => Err(UploadError::ShortInput {
            got: size,
            expected,
        }),
        Some(expected) if size > expected => Err(UploadError::LongInput {
            got: size,
            expected,
        }),
        _ => Ok(()),
    }
}

/// The reader's next message. One already waiting when a slot had to be
/// waited for means the store, not the input, is the bottleneck.
async fn next_part(
    rx: &mut mpsc::Receiver<Msg>,
    waited: bool,
    concurrency: &mut Concurrency,
) -> Result<Msg, UploadError> {
    match rx.try_recv() {
        Ok(msg) => {
            if waited {
                concurrency.waited();
            }
            Ok(msg)
        }
        Err(mpsc::error::TryRecvError::Empty) => rx.recv().await.ok_or(UploadError::ReaderGone),
        Err(mpsc::error::TryRecvError::Disconnected) => Err(UploadError::ReaderGone),
    }
}

/// Part `number` is the first of a larger size: fewer fit in the budget.
fn grown(opts: &PutOptions, number: u32, concurrency: &mut Concurrency, progress: &Progress) {
    if opts.concurrency.is_none() {
        concurrency.set_max(opts.max_memory.slots(opts.part_size_for(number), HELD));
    }
    if let Some(warning) = opts.budget_warning(number) {
        progress.warn(warning);
    }
}

/// Not every store honours If-None-Match (Garage 2.5 ignores it), so look
/// first; the header still closes the race where it is honoured.
async fn refuse_if_exists(
    store: &Store,
    url: &S3Url,
    opts: &PutOptions,
) -> Result<(), UploadError> {
    if !opts.settings.if_none_match {
        return Ok(());
    }
    match store.head(&url.bucket, &url.key, None, false).await {
        Ok(_) => Err(UploadError::Exists {
            url: url.to_string(),
        }),
        Err(S3Error::NoSuchKey(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A stream that fit in one part: one PutObject.
async fn put_single(
    store: &Store,
    url: &S3Url,
    opts: &PutOptions,
    single: Option<PutBody>,
) -> Result<String, UploadError> {
    let body = single.unwrap_or(PutBody {
        data: Bytes::new(),
        crc32c: None,
    });
    Ok(store
        .put_object(
            &url.bucket,
            &url.key,
            body,
            &opts.object_settings(),
            opts.checksum,
        )
        .await?)
}

/// Stores that take `x-amz-tagging` without keeping it (Garage, s3s-fs:
/// tests/s3_matrix.rs) would lose `--tag` without a word: the tags are
/// read back once, and a loss is one warning line (the object is stored).
async fn say_if_tags_lost(store: &Store, url: &S3Url, asked: &str, progress: &Progress) {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut want: Vec<(String, String)> = asked
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    want.sort();
    match store.tags(&url.bucket, &url.key).await {
        Ok(mut kept) => {
            kept.sort();
            if kept != want {
                progress.warn(format!(
                    "warning: {url} is stored with {} of its {} tags: the store did not keep them",
                    kept.iter().filter(|t| want.contains(t)).count(),
                    want.len()
                ));
            }
        }
        Err(e) => progress.warn(format!(
            "warning: {url} is stored, but its tags could not be read back ({e}): the store may not keep tags"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::parts::MAX_PARTS;

    fn opts() -> PutOptions {
        PutOptions {
            part_size: 8 << 20,
            concurrency: None,
            max_memory: Budget { bytes: 112 << 20 },
            limit_rate: None,
            checksum: Checksum::Crc32c,
            verify: Verify::Auto,
            expected_size: None,
            expect_size: None,
            fixed_part_size: false,
            grow_every: 1000,
            max_parts: MAX_PARTS,
            allow_empty: false,
            sha256: false,
            settings: ObjectSettings::default(),
            recipients: Vec::new(),
        }
    }

    #[test]
    fn the_budget_table_in_the_readme() {
        let mib = 1u64 << 20;
        let table: Vec<(u64, f64)> = [64, 112, 256, 512, 1024, 2048]
            .iter()
            .map(|&budget| {
                let o = PutOptions {
                    max_memory: Budget {
                        bytes: budget * mib,
                    },
                    ..opts()
                };
                let gib = o.largest_stream_within_budget() as f64 / (1u64 << 30) as f64;
                (budget, (gib * 10.0).round() / 10.0)
            })
            .collect();
        let want = [
            (64, 23.4),
            (112, 54.7),
            (256, 117.2),
            (512, 242.2),
            (1024, 492.2),
            (2048, 992.2),
        ];
        assert_eq!(table, want);
    }

    #[test]
    fn an_abort_that_fails_keeps_the_signal_exit_code() {
        let e = UploadError::AbortFailed {
            error: Box::new(UploadError::Signal {
                name: "SIGINT",
                exit_code: 130,
            }),
            id: "u1".into(),
            abort: S3Error::Other("connection refused".into()),
        };
        assert_eq!(e.exit_code(), Some(130));
        assert_eq!(
            e.to_string(),
            "interrupted by SIGINT; and aborting upload u1 failed too: connection refused"
        );
        assert_eq!(UploadError::Empty.exit_code(), None);
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
        // The growth is recorded only when the parts grow; the first
        // part's size always (for stores whose HEAD ignores partNumber).
        let record = |k: &str, v: u64| (k.to_string(), v.to_string());
        let first = |o: &PutOptions| record(PART_SIZE_KEY, o.part_size_for(1));
        assert_eq!(
            o.multipart_settings().metadata,
            [first(&o), record(GROWTH_KEY, 1000)]
        );
        assert_eq!(fixed.multipart_settings().metadata, [first(&fixed)]);
        assert_eq!(
            sized.multipart_settings().metadata,
            [record(PART_SIZE_KEY, 105 << 20)]
        );
        let fast = PutOptions {
            grow_every: 2,
            ..opts()
        };
        let sizes: Vec<u64> = (1..=5).map(|n| fast.part_size_for(n) >> 20).collect();
        assert_eq!(sizes, [8, 8, 16, 16, 32]);
    }
}
