//! `s3get`: an object to stdout through parallel ranged GETs, written in
//! order.
//!
//! As many ranges as [`Concurrency`] allows are fetched at once; each is
//! held whole, as the chunks the server sent, and handed to a writer thread
//! in order through a rendezvous channel, so at most the ranges in flight
//! plus the one being written are held: `part_size × (in flight + 1)`,
//! within `--max-memory`. Every range carries `If-Match` with the ETag
//! HEAD returned, so an object replaced mid-way fails instead of mixing two
//! versions. A body that breaks or stalls (no byte for `idle_timeout`) is
//! re-requested from the last byte received; nothing reaches stdout twice
//! or not at all. A closed stdout stops the fetching at once.

//!
//! The steps, one file each (as `upload/`): [`check`] chooses how the
//! bytes can be verified and verifies them, [`fetch`] gets the ranges in
//! parallel and hands them over in order, [`writer`] writes (and
//! decrypts) them on a thread of its own.

mod check;
mod fetch;
mod writer;

pub(crate) use check::Verified;

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{ObjectInfo, Store};
use super::concurrency::{Budget, Concurrency};
use super::error::S3Error;
use super::rate::RateLimit;
use super::url::S3Url;
use crate::encryption::{CryptError, Identities, METADATA_KEY, METADATA_VALUE};
use crate::progress::Progress;
use crate::s3::buffers::BufferPool;
use check::{Check, MD5_PART_LIMIT, choose_check, verify};
use fetch::{Source, fetch_in_order};
use writer::{Decrypt, Hashing, spawn_writer};

/// Why an object's bytes cannot be checked.
const UNVERIFIABLE: &str =
    "nothing to verify the bytes against (no stored checksum, and the ETag is not an MD5)";

#[derive(Debug, Clone)]
pub struct GetOptions {
    pub part_size: u64,
    /// Ranges in flight: pinned, or None to adapt within `max_memory`.
    pub concurrency: Option<usize>,
    /// What the range buffers may hold.
    pub max_memory: Budget,
    /// One rate for the whole download (`--limit-rate`).
    pub limit_rate: Option<RateLimit>,
    pub version_id: Option<String>,
    /// The ETag the object must have (`--if-match`): checked before
    /// anything is written.
    pub if_match: Option<String>,
    /// The SHA-256 what is written must have (`--expect-sha256`, lowercase
    /// hex): checked at the end, after the stored checksum.
    pub expect_sha256: Option<String>,
    /// Check the bytes against a stored checksum, else the ETag's MD5.
    pub verify: bool,
    /// With `verify`: an object with nothing to check against is an error
    /// (else a warning).
    pub require_checksum: bool,
    /// Resume a body that sent nothing for this long.
    pub idle_timeout: Duration,
    /// Resumes per range before giving up.
    pub retries: u32,
    /// Decrypt age-encrypted objects with these (`--identity`).
    pub identities: Identities,
    /// Write age-encrypted objects as they are stored (`--no-decrypt`).
    pub no_decrypt: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GetReport {
    pub size: u64,
    pub etag: String,
    /// What the bytes were checked against.
    pub verified: Verified,
    /// The SHA-256 of what was written, when `--expect-sha256` asked.
    pub sha256: Option<String>,
    pub seconds: f64,
    /// Calls the SDK retried (ranges s3get resumed itself not counted).
    pub retries: u64,
    /// Ranges in flight at the end, and at most.
    pub concurrency: usize,
    pub peak_concurrency: usize,
    pub content_type: Option<String>,
    pub metadata: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DownloadError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(
        "the object changed during the download (its ETag is no longer {0}); the bytes already written are from the old version and incomplete"
    )]
    Changed(String),
    #[error(
        "{url}: its ETag is {etag}, not {expected} (--if-match): it is not the object expected; nothing written"
    )]
    NotExpected {
        url: String,
        etag: String,
        expected: String,
    },
    #[error("{0}: {UNVERIFIABLE} (--require-checksum)")]
    Unverifiable(String),
    #[error("integrity check failed: {0}; the bytes already written are suspect")]
    Integrity(String),
    #[error("range {start}-{end} failed after {attempts} attempts: {last}")]
    Range {
        start: u64,
        end: u64,
        attempts: u32,
        last: String,
    },
    /// A range task failed outside S3 (it panicked or was cancelled).
    #[error("download task failed: {0}")]
    Task(String),
    #[error("writing output")]
    Output(#[source] io::Error),
    #[error(
        "{0} is encrypted with age ({METADATA_KEY}: {METADATA_VALUE}): give --identity FILE, or --no-decrypt for the ciphertext"
    )]
    Encrypted(String),
    #[error(transparent)]
    Decrypt(#[from] CryptError),
}

/// Download `url` to `out`: discover the object → start the writer →
/// fetch ranges in parallel, written in order → verify what arrived.
pub(crate) async fn download<W: Write + Send + 'static>(
    store: &Store,
    url: &S3Url,
    out: W,
    opts: &GetOptions,
    progress: Arc<Progress>,
) -> Result<GetReport, DownloadError> {
    let started = Instant::now();
    let info = discover(store, url, opts).await?;
    if let Some(expected) = opts.if_match.as_deref()
        && expected.trim_matches('"') != info.etag.trim_matches('"')
    {
        return Err(DownloadError::NotExpected {
            url: url.to_string(),
            etag: info.etag.clone(),
            expected: expected.to_string(),
        });
    }
    let version = opts.version_id.clone().or(info.version_id.clone());
    let check = choose_check(&info, opts.verify, opts.part_size.max(MD5_PART_LIMIT));
    if opts.verify && check == Check::None {
        match opts.require_checksum {
            true => return Err(DownloadError::Unverifiable(url.to_string())),
            false => progress.warn(format!("{url}: {UNVERIFIABLE}: written unverified")),
        }
    }
    let decrypt = decryption(&info, opts, url)?;
    // As many spares as were ever in flight: --max-memory bounds those.
    let buffers = BufferPool::new(usize::MAX);
    let hashing = Hashing::new(out, opts.expect_sha256.is_some());
    let sha256 = hashing.digest();
    let (tx, writer) = spawn_writer(hashing, &check, decrypt, buffers.clone())?;
    let source = Arc::new(Source {
        store: store.clone(),
        url: url.clone(),
        etag: info.etag.clone(),
        version,
        size: info.size,
    });
    // Ranges are at most --part-size, or whole parts for a multipart MD5.
    let largest = (check.ranges(info.size, opts.part_size).iter())
        .map(|(start, end, _)| end - start)
        .max()
        .unwrap_or(0);
    let mut concurrency = Concurrency::new(opts.concurrency, opts.max_memory.slots(largest, 1));
    let fetched = fetch_in_order(
        &source,
        &check,
        opts,
        &progress,
        (tx, &buffers),
        &mut concurrency,
    )
    .await;
    let written = writer.join().unwrap_or_else(|_| {
        Err(DownloadError::Output(io::Error::other(
            "the writer thread panicked",
        )))
    });
    let sums = fetched?;
    let digest = written?;
    let verified = verify(&check, sums, digest)?;
    let sha256 = expect_sha256(sha256, opts.expect_sha256.as_deref())?;
    Ok(GetReport {
        size: info.size,
        etag: info.etag.clone(),
        verified,
        sha256,
        seconds: started.elapsed().as_secs_f64(),
        retries: store.retries(),
        concurrency: concurrency.limit(),
        peak_concurrency: concurrency.peak(),
        content_type: info.content_type.clone(),
        metadata: info.metadata.clone(),
    })
}

/// The SHA-256 of what was written, held to `--expect-sha256`'s.
fn expect_sha256(
    digest: Option<std::sync::Arc<std::sync::Mutex<sha2::Sha256>>>,
    expected: Option<&str>,
) -> Result<Option<String>, DownloadError> {
    use sha2::Digest;
    let (Some(digest), Some(expected)) = (digest, expected) else {
        return Ok(None);
    };
    let hasher = digest.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let got = format!("{:x}", hasher.finalize());
    match got == expected {
        true => Ok(Some(got)),
        false => Err(DownloadError::Integrity(format!(
            "the SHA-256 of what was written is {got}, not {expected} (--expect-sha256)"
        ))),
    }
}

/// HEAD partNumber=1 tells the part layout too; a store that refuses it
/// gets a plain HEAD.
async fn discover(
    store: &Store,
    url: &S3Url,
    opts: &GetOptions,
) -> Result<ObjectInfo, DownloadError> {
    let version = opts.version_id.as_deref();
    let part = match store.head(&url.bucket, &url.key, version, true).await {
        Ok(info) => info,
        Err(e @ (S3Error::NoSuchKey(_) | S3Error::NoSuchBucket(_) | S3Error::AccessDenied(_))) => {
            return Err(e.into());
        }
        Err(_) => {
            return Ok(recorded_layout(
                store.head(&url.bucket, &url.key, version, false).await?,
            ));
        }
    };
    if part.parts.is_none() {
        return Ok(recorded_layout(part));
    }
    if names_parts(&part.etag, part.parts) && part.exact_size {
        return Ok(part);
    }
    // A store that answers HEAD partNumber=1 with the part's own ETag (a
    // popular emulator does; every range's If-Match then fails) or with no
    // total size: the object's identity comes from a plain HEAD, and the
    // part layout is kept only where it agrees with it.
    let whole = store.head(&url.bucket, &url.key, version, false).await?;
    let (parts, first) = (part.parts.unwrap_or(0), part.part_size.unwrap_or(0));
    let growth = super::parts::growth(&whole.metadata);
    let fits = super::parts::ends(whole.size, parts, first, growth).is_some();
    let agrees = (whole.size == part.size || !part.exact_size)
        && fits
        && names_parts(&whole.etag, part.parts);
    Ok(ObjectInfo {
        parts: part.parts.filter(|_| agrees),
        part_size: part.part_size.filter(|_| agrees),
        ..whole
    })
}

/// A store whose HEAD ignores `partNumber` (Ceph RGW 16) says no parts
/// count: the ETag's `-N` and what s3put recorded (the first part's size)
/// stand in, and [`check`] uses them only if the layout adds up.
fn recorded_layout(info: ObjectInfo) -> ObjectInfo {
    let n = etag_parts(&info.etag);
    match (n, super::parts::recorded_part_size(&info.metadata)) {
        (Some(n), Some(first)) if info.parts.is_none() => ObjectInfo {
            parts: Some(n),
            part_size: Some(first),
            ..info
        },
        _ => info,
    }
}

/// The parts count a multipart ETag (`"…-N"`) names.
fn etag_parts(etag: &str) -> Option<u32> {
    let (_, n) = etag.trim_matches('"').rsplit_once('-')?;
    n.parse().ok()
}

/// Does a multipart ETag name `parts` parts?
fn names_parts(etag: &str, parts: Option<u32>) -> bool {
    etag_parts(etag) == parts
}

/// Decrypt or not: an object marked as age-encrypted needs `--identity`
/// (or `--no-decrypt`); with identities, age files are decrypted and
/// anything else passes as it is (one restore identity for a history
/// that began unencrypted).
fn decryption(
    info: &ObjectInfo,
    opts: &GetOptions,
    url: &S3Url,
) -> Result<Option<Decrypt>, DownloadError> {
    let marked = info
        .metadata
        .iter()
        .any(|(k, v)| k == METADATA_KEY && v == METADATA_VALUE);
    match (opts.no_decrypt, opts.identities.is_empty()) {
        (true, _) => Ok(None),
        (false, true) if marked => Err(DownloadError::Encrypted(url.to_string())),
        (false, true) => Ok(None),
        (false, false) => Ok(Some(Decrypt {
            identities: opts.identities.clone(),
            marked,
        })),
    }
}
