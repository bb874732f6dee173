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

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::client::{ObjectInfo, S3Error, Store, crc32c_base64};
use super::concurrency::{Budget, Concurrency};
use super::parts;
use super::rate::RateLimit;
use super::url::S3Url;
use crate::encryption::{
    self, CryptError, DecryptFailure, Identities, METADATA_KEY, METADATA_VALUE,
};
use crate::progress::Progress;

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
    /// Check the bytes against the stored CRC32C, else the ETag's MD5.
    pub verify: bool,
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
    /// What was verified: "crc32c" (stored checksum, whole or per part),
    /// "md5" (the ETag: a single part's MD5, or a multipart upload's MD5 of
    /// its parts' MD5s) or "none".
    pub verified: &'static str,
    pub seconds: f64,
    /// Calls the SDK retried (ranges s3get resumed itself not counted).
    pub retries: u64,
    /// Ranges in flight at the end, and at most.
    pub concurrency: usize,
    pub peak_concurrency: usize,
    pub content_type: Option<String>,
    pub metadata: Vec<(String, String)>,
}

/// How the downloaded bytes can be checked, cheapest first.
#[derive(Debug, Clone, PartialEq)]
enum Check {
    /// The stored composite CRC32C over the parts ending at `ends`: ranges
    /// never cross a part's end, each range's CRC32C is computed as it
    /// arrives, and a part's is combined from its ranges'.
    PartCrc32c {
        ends: Vec<u64>,
        expected: String,
    },
    /// A whole-object CRC32C.
    Crc32c(String),
    /// A single-part ETag: the MD5 of the body (1.4 CPU-s/GiB).
    Md5(String),
    /// A multipart ETag with no stored checksum: the MD5 of the parts'
    /// MD5s, `-N`. MD5s do not combine: each part is one range, its MD5
    /// computed as it arrives, in parallel.
    PartMd5 {
        ends: Vec<u64>,
        expected: String,
    },
    None,
}

impl Check {
    /// The ranges to fetch, none larger than `range_size` nor crossing a
    /// part's end when the check is per part: (start, end, part index).
    fn ranges(&self, size: u64, range_size: u64) -> Vec<(u64, u64, usize)> {
        let whole = [size];
        let (ends, range_size) = match self {
            Check::PartCrc32c { ends, .. } => (&ends[..], range_size),
            Check::PartMd5 { ends, .. } => (&ends[..], u64::MAX),
            _ => (&whole[..], range_size),
        };
        let mut ranges = Vec::new();
        let mut start = 0;
        for (part, &end) in ends.iter().enumerate() {
            while start < end {
                let stop = end.min(start.saturating_add(range_size.max(1)));
                ranges.push((start, stop, part));
                start = stop;
            }
        }
        ranges
    }

    /// What each range computes as its bytes arrive.
    fn range_sum(&self) -> RangeSum {
        match self {
            Check::PartCrc32c { .. } | Check::Crc32c(_) => RangeSum::Crc32c(0),
            Check::PartMd5 { .. } => RangeSum::Md5(md5::Md5::default()),
            Check::Md5(_) | Check::None => RangeSum::None,
        }
    }
}

/// A range's checksum, computed chunk by chunk as the bytes arrive (while
/// they are still in cache: over the whole part afterwards it cost twice
/// as much).
enum RangeSum {
    None,
    Crc32c(u32),
    Md5(md5::Md5),
}

impl RangeSum {
    fn update(&mut self, chunk: &[u8]) {
        use md5::Digest;
        match self {
            RangeSum::None => {}
            RangeSum::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, chunk),
            RangeSum::Md5(h) => h.update(chunk),
        }
    }

    fn crc32c(&self) -> u32 {
        match self {
            RangeSum::Crc32c(crc) => *crc,
            _ => 0,
        }
    }
}

/// Where each part of `info` ends, when its layout is known
/// ([`parts::ends`]); `n` is the parts count its checksum or ETag names.
fn part_ends(info: &ObjectInfo, n: &str) -> Option<Vec<u64>> {
    let parts = info.parts?;
    if n.parse::<u32>().ok() != Some(parts) {
        return None;
    }
    parts::ends(
        info.size,
        parts,
        info.part_size?,
        parts::growth(&info.metadata),
    )
}

/// The largest part a multipart MD5 is checked by (each such part is one
/// range, held whole): s3put's and the AWS CLI's 8 MiB parts, and twice
/// that, whatever the range size.
const MD5_PART_LIMIT: u64 = 16 << 20;

/// Choose the check for `info` (from HEAD partNumber=1). Per-part checks
/// need the part layout ([`part_ends`]); a multipart MD5 also needs parts no
/// larger than `max_part`, the range size (each part is fetched whole, and
/// memory stays bounded by the range size).
fn choose_check(info: &ObjectInfo, verify: bool, max_part: u64) -> Check {
    if !verify {
        return Check::None;
    }
    if let Some(crc) = &info.crc32c {
        let Some((_, n)) = crc.split_once('-') else {
            return Check::Crc32c(crc.clone());
        };
        if let Some(ends) = part_ends(info, n) {
            return Check::PartCrc32c {
                ends,
                expected: crc.clone(),
            };
        }
    }
    // An ETag is an MD5 only without SSE-KMS or SSE-C.
    if !info.etag_is_md5 {
        return Check::None;
    }
    let etag = info.etag.trim_matches('"').to_ascii_lowercase();
    let (md5, n) = match etag.split_once('-') {
        Some((md5, n)) => (md5, Some(n)),
        None => (etag.as_str(), None),
    };
    if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Check::None;
    }
    let Some(n) = n else {
        return Check::Md5(etag);
    };
    match part_ends(info, n) {
        Some(ends)
            if ends
                .iter()
                .scan(0, |start, &end| Some(end - std::mem::replace(start, end)))
                .all(|len| len <= max_part) =>
        {
            Check::PartMd5 {
                ends,
                expected: etag,
            }
        }
        _ => Check::None,
    }
}

/// A multipart upload's ETag: the MD5 of its parts' MD5s, hex, then `-N`.
fn multipart_etag(parts: Vec<RangeSum>) -> String {
    use md5::Digest;
    let n = parts.len();
    let mut whole = md5::Md5::default();
    for part in parts {
        if let RangeSum::Md5(h) = part {
            whole.update(h.finalize());
        }
    }
    format!("{:x}-{n}", whole.finalize())
}

/// The composite checksum S3 stores for a multipart upload: CRC32C over the
/// parts' big-endian CRC32Cs, base64, then `-N`.
fn composite_crc32c(part_crcs: &[u32]) -> String {
    let joined: Vec<u8> = part_crcs.iter().flat_map(|c| c.to_be_bytes()).collect();
    let crc = crc32c_base64(crc32c::crc32c(&joined));
    format!("{crc}-{}", part_crcs.len())
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

/// Each range's checksum, length and part, in order.
type Sums = Vec<(RangeSum, u64, usize)>;
type Fetched = Result<(Vec<u8>, RangeSum), DownloadError>;
/// A range task: what it fetched, its generation and its seconds (for the
/// controller).
type Timed = (Fetched, u64, f64);

/// Download `url` to `out`: discover the object → start the writer →
/// fetch ranges in parallel, written in order → verify what arrived.
pub async fn download<W: Write + Send + 'static>(
    store: &Store,
    url: &S3Url,
    out: W,
    opts: &GetOptions,
    progress: Arc<Progress>,
) -> Result<GetReport, DownloadError> {
    let started = Instant::now();
    let info = discover(store, url, opts).await?;
    let version = opts.version_id.clone().or(info.version_id.clone());
    let check = choose_check(&info, opts.verify, opts.part_size.max(MD5_PART_LIMIT));
    let decrypt = decryption(&info, opts, url)?;
    let buffers = Buffers::default();
    let (tx, writer) = spawn_writer(out, &check, decrypt, buffers.clone())?;
    let source = Source {
        store,
        url,
        etag: &info.etag,
        version: version.as_deref(),
    };
    // Ranges are at most --part-size, or whole parts for a multipart MD5.
    let largest = (check.ranges(info.size, opts.part_size).iter())
        .map(|(start, end, _)| end - start)
        .max()
        .unwrap_or(0);
    let mut concurrency = Concurrency::new(opts.concurrency, opts.max_memory.slots(largest, 1));
    let fetched = fetch_in_order(
        &source,
        &check,
        info.size,
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
    Ok(GetReport {
        size: info.size,
        etag: info.etag.clone(),
        verified,
        seconds: started.elapsed().as_secs_f64(),
        retries: store.retries(),
        concurrency: concurrency.limit(),
        peak_concurrency: concurrency.peak(),
        content_type: info.content_type.clone(),
        metadata: info.metadata.clone(),
    })
}

/// HEAD partNumber=1 tells the part layout too; a store that refuses it
/// gets a plain HEAD.
async fn discover(
    store: &Store,
    url: &S3Url,
    opts: &GetOptions,
) -> Result<ObjectInfo, DownloadError> {
    let version = opts.version_id.as_deref();
    match store.head(&url.bucket, &url.key, version, true).await {
        Ok(info) => Ok(info),
        Err(e @ (S3Error::NoSuchKey(_) | S3Error::NoSuchBucket(_) | S3Error::AccessDenied(_))) => {
            Err(e.into())
        }
        Err(_) => Ok(store.head(&url.bucket, &url.key, version, false).await?),
    }
}

/// How the writer treats the bytes: as they are, or decrypted with these
/// identities when they are an age file (`marked`: the metadata says so,
/// and then they must be).
struct Decrypt {
    identities: Identities,
    marked: bool,
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

type Writer = std::thread::JoinHandle<Result<Option<String>, DownloadError>>;

/// The writing thread: ranges arrive in order through a rendezvous channel
/// (memory stays bounded by the ranges in flight); it computes the whole
/// body's MD5 when that is the check, and decrypts when asked.
fn spawn_writer<W: Write + Send + 'static>(
    mut out: W,
    check: &Check,
    decrypt: Option<Decrypt>,
    buffers: Buffers,
) -> Result<(SyncSender<Vec<u8>>, Writer), DownloadError> {
    let (tx, rx) = sync_channel::<Vec<u8>>(0);
    let md5_wanted = matches!(check, Check::Md5(_));
    let writer = std::thread::Builder::new()
        .name("s3get-write".into())
        .spawn(move || {
            use md5::Digest;
            let mut md5 = md5_wanted.then(md5::Md5::new);
            match decrypt {
                None => {
                    for range in rx {
                        out.write_all(&range).map_err(DownloadError::Output)?;
                        if let Some(h) = md5.as_mut() {
                            h.update(&range);
                        }
                        buffers.give(range);
                    }
                }
                Some(decrypt) => {
                    let ciphertext = InOrder::new(rx, md5.as_mut(), buffers);
                    write_decrypted(ciphertext, &decrypt, &mut out)?;
                }
            }
            out.flush().map_err(DownloadError::Output)?;
            Ok(md5.map(|h| format!("{:x}", h.finalize())))
        })
        .map_err(DownloadError::Output)?;
    Ok((tx, writer))
}

/// Decrypt an age file to `out`; anything else (unless marked as age) is
/// written as it is.
fn write_decrypted(
    mut input: InOrder<'_>,
    decrypt: &Decrypt,
    out: &mut impl Write,
) -> Result<(), DownloadError> {
    let mut magic = Vec::new();
    (&mut input)
        .take(encryption::MAGIC_LEN as u64)
        .read_to_end(&mut magic)
        .map_err(DownloadError::Output)?;
    if !decrypt.marked && !encryption::is_age(&magic) {
        out.write_all(&magic).map_err(DownloadError::Output)?;
        io::copy(&mut input, out).map_err(DownloadError::Output)?;
        return Ok(());
    }
    let whole = io::Cursor::new(magic).chain(input);
    encryption::decrypt(whole, &decrypt.identities, out).map_err(|e| match e {
        DecryptFailure::Crypt(e) => DownloadError::Decrypt(e),
        DecryptFailure::Output(e) => DownloadError::Output(e),
    })
}

/// The ranges as one byte stream, in order, hashed on the way when the
/// check is the whole body's MD5.
struct InOrder<'a> {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    /// The range being read and how far.
    range: Vec<u8>,
    at: usize,
    md5: Option<&'a mut md5::Md5>,
    buffers: Buffers,
}

impl<'a> InOrder<'a> {
    fn new(
        rx: std::sync::mpsc::Receiver<Vec<u8>>,
        md5: Option<&'a mut md5::Md5>,
        buffers: Buffers,
    ) -> Self {
        InOrder {
            rx,
            range: Vec::new(),
            at: 0,
            md5,
            buffers,
        }
    }
}

impl io::Read for InOrder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use md5::Digest;
        while self.at == self.range.len() {
            let Ok(next) = self.rx.recv() else {
                return Ok(0);
            };
            self.buffers.give(std::mem::replace(&mut self.range, next));
            self.at = 0;
        }
        let n = (self.range.len() - self.at).min(buf.len());
        let taken = &self.range[self.at..self.at + n];
        buf[..n].copy_from_slice(taken);
        if let Some(h) = self.md5.as_mut() {
            h.update(taken);
        }
        self.at += n;
        Ok(n)
    }
}

/// Range buffers kept for reuse, at most as many as were ever in flight
/// (within --max-memory). Each range is copied into one out of the
/// network's chunks: kept as they came, the chunks (small reads, each
/// pinning a larger allocation) and the heap they left behind peaked at
/// 161–184 MiB RSS for 27 × 4 MiB in flight at 80 ms / 20 MB/s; reused
/// buffers bring RSS to what is in flight.
#[derive(Clone, Default)]
struct Buffers(Arc<Mutex<Vec<Vec<u8>>>>);

impl Buffers {
    /// An empty buffer that holds `size` bytes without growing.
    fn take(&self, size: usize) -> Vec<u8> {
        let mut free = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match free.iter().position(|b| b.capacity() >= size) {
            Some(i) => {
                let mut buf = free.swap_remove(i);
                buf.clear();
                buf
            }
            None => Vec::with_capacity(size),
        }
    }

    fn give(&self, buf: Vec<u8>) {
        if buf.capacity() > 0 {
            (self.0.lock().unwrap_or_else(PoisonError::into_inner)).push(buf);
        }
    }
}

/// Where the ranges come from: one version of one object.
struct Source<'a> {
    store: &'a Store,
    url: &'a S3Url,
    etag: &'a str,
    version: Option<&'a str>,
}

/// Fetch every range, as many at once as `concurrency` allows, handing
/// each to the writer in order; stops at the first failure (or when the
/// writer stopped, whose own error then says why).
async fn fetch_in_order(
    source: &Source<'_>,
    check: &Check,
    size: u64,
    opts: &GetOptions,
    progress: &Progress,
    (tx, buffers): (SyncSender<Vec<u8>>, &Buffers),
    concurrency: &mut Concurrency,
) -> Result<Sums, DownloadError> {
    let mut sums: Sums = Vec::new();
    let mut pending = check.ranges(size, opts.part_size).into_iter();
    let mut in_flight: VecDeque<(usize, tokio::task::JoinHandle<Timed>)> = VecDeque::new();
    let result = loop {
        while in_flight.len() < concurrency.limit() {
            let Some((start, end, part)) = pending.next() else {
                break;
            };
            let range = Range { start, end };
            let buf = buffers.take((end - start) as usize);
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

fn spawn_fetch(
    source: &Source<'_>,
    (range, buf): (Range, Vec<u8>),
    opts: &GetOptions,
    check: &Check,
    generation: u64,
) -> tokio::task::JoinHandle<Timed> {
    let (store, url, etag, version, opts) = (
        source.store.clone(),
        source.url.clone(),
        source.etag.to_string(),
        source.version.map(str::to_string),
        opts.clone(),
    );
    let sum = check.range_sum();
    tokio::spawn(async move {
        let started = Instant::now();
        let fetched = fetch(
            &store,
            &url,
            (range, buf),
            &etag,
            version.as_deref(),
            &opts,
            sum,
        )
        .await;
        (fetched, generation, started.elapsed().as_secs_f64())
    })
}

/// Compare what arrived with what the store holds; returns the check's name.
fn verify(
    check: &Check,
    sums: Sums,
    digest: Option<String>,
) -> Result<&'static str, DownloadError> {
    let (verified, want, got) = match check {
        Check::PartCrc32c { ends, expected } => {
            let mut crcs = vec![0u32; ends.len()];
            for (sum, len, part) in &sums {
                crcs[*part] = crc32c::crc32c_combine(crcs[*part], sum.crc32c(), *len as usize);
            }
            ("crc32c", expected.clone(), composite_crc32c(&crcs))
        }
        Check::Crc32c(expected) => {
            let crc = sums.iter().fold(0, |whole, (sum, len, _)| {
                crc32c::crc32c_combine(whole, sum.crc32c(), *len as usize)
            });
            ("crc32c", expected.clone(), crc32c_base64(crc))
        }
        Check::PartMd5 { expected, .. } => {
            let digests: Vec<RangeSum> = sums.into_iter().map(|(sum, ..)| sum).collect();
            ("md5", expected.clone(), multipart_etag(digests))
        }
        Check::Md5(expected) => ("md5", expected.clone(), digest.unwrap_or_default()),
        Check::None => ("none", String::new(), String::new()),
    };
    if want != got {
        return Err(DownloadError::Integrity(format!(
            "{verified} {got} does not match the stored {want}"
        )));
    }
    Ok(verified)
}

/// Bytes `start..end` of the object.
#[derive(Clone, Copy)]
struct Range {
    start: u64,
    end: u64,
}

/// One range, whole, into `buf` (from [`Buffers`]), resuming from the last
/// byte received; `sum` is updated with each chunk as it arrives.
async fn fetch(
    store: &Store,
    url: &S3Url,
    (Range { start, end }, mut buf): (Range, Vec<u8>),
    etag: &str,
    version: Option<&str>,
    opts: &GetOptions,
    mut sum: RangeSum,
) -> Result<(Vec<u8>, RangeSum), DownloadError> {
    let mut received = 0u64;
    let mut attempts = 0u32;
    loop {
        let from = start + received;
        if from == end {
            return Ok((buf, sum));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info(
        size: u64,
        parts: Option<u32>,
        part_size: u64,
        crc: Option<&str>,
        etag: &str,
    ) -> ObjectInfo {
        ObjectInfo {
            size,
            etag: etag.into(),
            version_id: None,
            parts,
            part_size: Some(part_size),
            crc32c: crc.map(String::from),
            etag_is_md5: true,
            content_type: None,
            metadata: Vec::new(),
        }
    }

    #[test]
    fn composite_matches_s3s_definition() {
        // Two parts "a" and "b": CRC32C of their big-endian CRC32Cs.
        let (a, b) = (crc32c::crc32c(b"a"), crc32c::crc32c(b"b"));
        let mut joined = a.to_be_bytes().to_vec();
        joined.extend(b.to_be_bytes());
        let want = format!("{}-2", crc32c_base64(crc32c::crc32c(&joined)));
        assert_eq!(composite_crc32c(&[a, b]), want);
    }

    #[test]
    fn checks_are_chosen_by_what_the_store_has() {
        let mib = 1 << 20;
        let multi = info(20 * mib, Some(3), 8 * mib, Some("rzyrYw==-3"), "\"x-3\"");
        assert_eq!(
            choose_check(&multi, true, 64 * mib),
            Check::PartCrc32c {
                ends: vec![8 * mib, 16 * mib, 20 * mib],
                expected: "rzyrYw==-3".into()
            }
        );
        assert_eq!(choose_check(&multi, false, 64 * mib), Check::None);
        // Non-uniform layout (parts count does not fit the size): no check.
        let odd = info(40 * mib, Some(3), 8 * mib, Some("rzyrYw==-3"), "\"x-3\"");
        assert_eq!(choose_check(&odd, true, 64 * mib), Check::None);
        // ... unless s3put recorded how its part size grew: 8, 8, 16, 16, 32.
        let grown = ObjectInfo {
            parts: Some(5),
            metadata: vec![(parts::GROWTH_KEY.into(), "2".into())],
            ..info(70 * mib, None, 8 * mib, Some("rzyrYw==-5"), "\"x-5\"")
        };
        assert_eq!(
            choose_check(&grown, true, 64 * mib),
            Check::PartCrc32c {
                ends: vec![8 * mib, 16 * mib, 32 * mib, 48 * mib, 70 * mib],
                expected: "rzyrYw==-5".into()
            }
        );
        // A record that does not add up to the size: no check.
        let short = ObjectInfo {
            size: 90 * mib,
            ..grown.clone()
        };
        assert_eq!(choose_check(&short, true, 64 * mib), Check::None);
        let whole = info(10, None, 10, Some("AAAAAA=="), "\"x\"");
        assert_eq!(
            choose_check(&whole, true, 64 * mib),
            Check::Crc32c("AAAAAA==".into())
        );
        let md5 = info(10, None, 10, None, "\"0123456789abcdef0123456789ABCDEF\"");
        assert_eq!(
            choose_check(&md5, true, 64 * mib),
            Check::Md5("0123456789abcdef0123456789abcdef".into())
        );
        // With SSE-KMS or SSE-C the ETag is not an MD5: nothing to check.
        let kms = ObjectInfo {
            etag_is_md5: false,
            ..md5.clone()
        };
        assert_eq!(choose_check(&kms, true, 64 * mib), Check::None);
        let etag = "0123456789abcdef0123456789abcdef-3";
        let multi_md5 = info(20 * mib, Some(3), 8 * mib, None, &format!("\"{etag}\""));
        assert_eq!(
            choose_check(&multi_md5, true, 64 * mib),
            Check::PartMd5 {
                ends: vec![8 * mib, 16 * mib, 20 * mib],
                expected: etag.into()
            }
        );
        // Each part is one range for MD5: parts over the bound are not checked.
        assert_eq!(choose_check(&multi_md5, true, 4 * mib), Check::None);
        let odd_md5 = info(40 * mib, Some(3), 8 * mib, None, &format!("\"{etag}\""));
        assert_eq!(choose_check(&odd_md5, true, 64 * mib), Check::None);
    }

    #[test]
    fn ranges_stay_inside_parts() {
        let crc = Check::PartCrc32c {
            ends: vec![5, 10, 20, 23],
            expected: String::new(),
        };
        assert_eq!(
            crc.ranges(23, 4),
            [
                (0, 4, 0),
                (4, 5, 0),
                (5, 9, 1),
                (9, 10, 1),
                (10, 14, 2),
                (14, 18, 2),
                (18, 20, 2),
                (20, 23, 3)
            ]
        );
        let md5 = Check::PartMd5 {
            ends: vec![5, 10, 12],
            expected: String::new(),
        };
        assert_eq!(md5.ranges(12, 4), [(0, 5, 0), (5, 10, 1), (10, 12, 2)]);
        assert_eq!(Check::None.ranges(9, 4), [(0, 4, 0), (4, 8, 0), (8, 9, 0)]);
        assert_eq!(Check::None.ranges(0, 4), []);
    }

    #[test]
    fn multipart_etag_is_the_md5_of_the_parts_md5s() {
        use md5::Digest;
        let parts: Vec<RangeSum> = [&b"a"[..], b"bc"]
            .iter()
            .map(|p| {
                let mut sum = RangeSum::Md5(md5::Md5::default());
                sum.update(p);
                sum
            })
            .collect();
        let mut joined = md5::Md5::digest(b"a").to_vec();
        joined.extend(md5::Md5::digest(b"bc"));
        let want = format!("{:x}-2", md5::Md5::digest(&joined));
        assert_eq!(multipart_etag(parts), want);
    }
}
