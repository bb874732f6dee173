//! The multipart side of s3put: parts uploaded concurrently, as many as
//! the controller allows ([`Concurrency`]), each finished part kept, and
//! completion that survives a lost reply.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::task::JoinSet;

use super::{PutOptions, UploadError};
use crate::s3::client::{PartDone, PutBody, Store};
use crate::s3::concurrency::Concurrency;
use crate::s3::error::S3Error;
use crate::s3::parts;
use crate::s3::url::S3Url;

/// A part task's outcome, with what the controller learns from it: the
/// generation it started in, its bytes and its seconds.
type Uploaded = (Result<PartDone, S3Error>, u64, u64, f64);

/// One multipart upload in progress. Its id is shared with the caller,
/// which aborts the upload if anything fails or a signal arrives.
pub(super) struct Multipart<'a> {
    store: &'a Store,
    url: &'a S3Url,
    opts: &'a PutOptions,
    /// Set once CreateMultipartUpload answered; taken when completed.
    pub id: Arc<Mutex<Option<String>>>,
    pub concurrency: Concurrency,
    tasks: JoinSet<Uploaded>,
    parts: Vec<PartDone>,
}

impl<'a> Multipart<'a> {
    pub(super) fn new(
        store: &'a Store,
        url: &'a S3Url,
        opts: &'a PutOptions,
        concurrency: Concurrency,
    ) -> Self {
        Multipart {
            store,
            url,
            opts,
            id: Arc::default(),
            concurrency,
            tasks: JoinSet::new(),
            parts: Vec::new(),
        }
    }

    /// Wait for a free slot (so the queue never holds more than one part),
    /// collecting finished parts and surfacing a failed one early. True
    /// when it had to wait: every slot was busy.
    pub(super) async fn slot(&mut self) -> Result<bool, UploadError> {
        let mut waited = false;
        while self.tasks.len() >= self.concurrency.limit() {
            waited = true;
            match self.tasks.join_next().await {
                Some(done) => self.collect(done)?,
                None => break,
            }
        }
        while let Some(done) = self.tasks.try_join_next() {
            self.collect(done)?;
        }
        Ok(waited)
    }

    /// Keep a finished part and tell the controller how it went.
    fn collect(
        &mut self,
        done: Result<Uploaded, tokio::task::JoinError>,
    ) -> Result<(), UploadError> {
        let (result, generation, bytes, seconds) =
            done.map_err(|e| UploadError::Task(e.to_string()))?;
        self.parts.push(result?);
        self.concurrency
            .finished(generation, bytes, seconds, Instant::now());
        Ok(())
    }

    pub(super) fn in_flight(&self) -> usize {
        self.tasks.len()
    }

    pub(super) fn started(&self) -> bool {
        lock(&self.id).is_some()
    }

    /// Start uploading part `number` (creating the upload on the first).
    pub(super) async fn start_part(
        &mut self,
        number: u32,
        body: PutBody,
    ) -> Result<(), UploadError> {
        if number > self.opts.max_parts {
            return Err(UploadError::TooManyParts {
                part_size: self.opts.part_size,
                max_parts: self.opts.max_parts,
            });
        }
        let existing = lock(&self.id).clone();
        let id = match existing {
            Some(id) => id,
            None => self.create().await?,
        };
        let (store, url, checksum) = (self.store.clone(), self.url.clone(), self.opts.checksum);
        let (generation, bytes) = (self.concurrency.generation(), body.data.len() as u64);
        self.tasks.spawn(async move {
            let started = Instant::now();
            let result = store
                .upload_part(&url.bucket, &url.key, &id, number as i32, body, checksum)
                .await;
            (result, generation, bytes, started.elapsed().as_secs_f64())
        });
        Ok(())
    }

    async fn create(&mut self) -> Result<String, UploadError> {
        let settings = self.opts.multipart_settings();
        let id = self
            .store
            .create_multipart(
                &self.url.bucket,
                &self.url.key,
                &settings,
                self.opts.checksum,
            )
            .await?;
        *lock(&self.id) = Some(id.clone());
        Ok(id)
    }

    /// Wait for every part, then complete: the object exists after this.
    pub(super) async fn finish(&mut self, size: u64) -> Result<(String, u32), UploadError> {
        while let Some(done) = self.tasks.join_next().await {
            self.collect(done)?;
        }
        self.parts.sort_by_key(|p| p.number);
        let id = lock(&self.id).clone().ok_or(UploadError::ReaderGone)?;
        let etag = complete(
            self.store,
            self.url,
            &id,
            &self.parts,
            size,
            self.opts.settings.if_none_match,
        )
        .await?;
        lock(&self.id).take();
        Ok((etag, self.parts.len() as u32))
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// CompleteMultipartUpload. If its reply was lost and the retry found the
/// upload gone, the object may well exist: HEAD decides, so a completed
/// upload never turns into a failure (nor into a second object) — but only
/// an object that is provably *this* upload counts: any older object at
/// the key would pass a size check, and a backup reported as stored would
/// not be. A store that completes with an empty ETag (Ceph RGW 16) is
/// asked the same way.
async fn complete(
    store: &Store,
    url: &S3Url,
    id: &str,
    parts: &[PartDone],
    size: u64,
    if_none_match: bool,
) -> Result<String, UploadError> {
    let err = match store
        .complete(&url.bucket, &url.key, id, parts, if_none_match)
        .await
    {
        Ok(etag) if !etag.is_empty() => return Ok(etag),
        Ok(_) => S3Error::Other("CompleteMultipartUpload returned no ETag".into()),
        // An answer the SDK cannot read is no proof either way: moto 5.2
        // names its root CompleteMultipartUploadResponse, not …Result.
        Err(
            err @ (S3Error::NoSuchUpload(_)
            | S3Error::Unreachable { .. }
            | S3Error::Malformed(_)
            | S3Error::Other(_)),
        ) => err,
        Err(e) => return Err(e.into()),
    };
    let info = store.head(&url.bucket, &url.key, None, false).await;
    let etags: Vec<&str> = parts.iter().map(|p| p.etag.as_str()).collect();
    match (info, parts::multipart_etag(&etags)) {
        (Ok(info), Some(ours)) if info.size == size && info.etag.trim_matches('"') == ours => {
            Ok(info.etag)
        }
        (Ok(info), _) => Err(UploadError::NotOurs {
            why: err.to_string(),
            found: info.etag,
        }),
        (Err(_), _) => Err(err.into()),
    }
}
