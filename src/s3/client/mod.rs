//! The only module that touches aws-sdk-s3 types. Everything else sees
//! [`Store`], plain Rust values and [`S3Error`].
//!
//! Choices, each measured or hit by the prototype (their figures are in
//! docs/ARCHITECTURE.md and bench/results.md):
//! - credentials, region and endpoint come from aws-config's standard chain
//!   (env, `AWS_PROFILE`/~/.aws, SSO, web identity, ECS/EKS, IMDSv2) and
//!   `AWS_ENDPOINT_URL[_S3]`; nothing here re-implements any of it;
//! - no region anywhere → `us-east-1` (every call fails without one);
//! - custom endpoints use path-style addressing unless `--virtual-host`;
//! - parts carry a checksum the server verifies (CRC32C by default) with an
//!   unsigned payload: 0.65 CPU-s/GiB instead of 1.8 for a signed body;
//!   bodies are in-memory `Bytes` (aws-chunked streaming bodies are refused
//!   by Garage, and in-memory bodies are what the SDK can retry);
//! - the SDK computes a request checksum only when s3pipe asked for one
//!   (`--checksum`) or the operation requires it: with the SDK's 2025
//!   default (`WhenSupported`) `--checksum none` and `md5` still sent
//!   `x-amz-checksum-crc32` on every part, the headers that R2, OVH, older
//!   MinIO and Ceph refuse (aws-sdk-rust#1240). `AWS_REQUEST_CHECKSUM_CALCULATION
//!   =when_required` (or the profile's key) makes `--checksum`'s default
//!   `md5`: parts go with an unsigned payload, so some check must stay;
//! - response checksum validation only when required, unless
//!   `AWS_RESPONSE_CHECKSUM_VALIDATION` or the profile says otherwise: GETs
//!   of multipart objects otherwise log a warning each; s3get verifies itself;
//! - `--ca-bundle`, `AWS_CA_BUNDLE` or the profile's `ca_bundle` replace the
//!   system's roots with the file's certificates, as the AWS CLI does;
//! - timeouts: connect + per-attempt, never a read timeout counted from the
//!   request start (it made retried parts shadow good ones); the SDK's
//!   stalled-stream protection is off because s3get resumes on its own idle
//!   timeout, and a PUT is tried again when its body and its answer stood
//!   still for `--request-timeout` (watched.rs).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::config::{
    RequestChecksumCalculation, ResponseChecksumValidation, StalledStreamProtectionConfig,
};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, Delete, ObjectCannedAcl,
    ObjectIdentifier, ServerSideEncryption, StorageClass,
};
use aws_smithy_checksums::ChecksumAlgorithm as Alg;
use bytes::Bytes;

mod insecure;
mod lock;
mod watched;

pub(crate) use lock::{Retention, Version};

use super::classify::{Failure, classify};
use super::error::S3Error;
use super::pages::{Page, Pages};

/// Set the `ObjectSettings` fields on a Put/CreateMultipartUpload builder
/// (two SDK types with the same setters).
macro_rules! apply {
    ($req:expr, $s:expr) => {{
        let mut req = $req
            .set_content_type($s.content_type.clone())
            .set_storage_class($s.storage_class.as_deref().map(StorageClass::from))
            .set_server_side_encryption($s.sse.as_deref().map(ServerSideEncryption::from))
            .set_ssekms_key_id($s.sse_kms_key_id.clone())
            .set_tagging($s.tagging.clone())
            .set_acl($s.acl.as_deref().map(ObjectCannedAcl::from))
            .set_object_lock_mode($s.lock.mode.map(LockMode::sdk))
            .set_object_lock_retain_until_date(
                $s.lock
                    .retain_until
                    .map(aws_sdk_s3::primitives::DateTime::from_secs),
            )
            .set_object_lock_legal_hold_status($s.lock.legal_hold.map(|on| match on {
                true => aws_sdk_s3::types::ObjectLockLegalHoldStatus::On,
                false => aws_sdk_s3::types::ObjectLockLegalHoldStatus::Off,
            }));
        for (k, v) in &$s.metadata {
            req = req.metadata(k, v);
        }
        req
    }};
}

/// Set a body's integrity options on an UploadPart/PutObject builder (two
/// SDK types with the same setters): the checksum algorithm, its value when
/// the caller computed it already (the SDK then skips its own pass over the
/// bytes), Content-MD5 for `--checksum md5`, and the body itself (watched:
/// see watched.rs); then send it with an unsigned payload.
macro_rules! send_with_body {
    ($req:expr, $body:expr, $checksum:expr, $moved:expr) => {{
        let PutBody { data, crc32c } = $body;
        let mut req = $req
            .content_length(data.len() as i64)
            .set_checksum_algorithm($checksum.algorithm());
        // Every value is set here: with checksums calculated only when
        // required, the SDK sends the algorithm's name and no value.
        let sum = |alg| checksum_base64(alg, &data);
        match ($checksum, crc32c) {
            (Checksum::Crc32c, Some(crc)) => req = req.checksum_crc32_c(crc32c_base64(crc)),
            (Checksum::Crc32c, None) => req = req.checksum_crc32_c(sum(Alg::Crc32c)),
            (Checksum::Crc32, _) => req = req.checksum_crc32(sum(Alg::Crc32)),
            (Checksum::Crc64Nvme, _) => req = req.checksum_crc64_nvme(sum(Alg::Crc64Nvme)),
            (Checksum::Sha256, _) => req = req.checksum_sha256(sum(Alg::Sha256)),
            (Checksum::Md5, _) => req = req.content_md5(md5_base64(&data)),
            (Checksum::None, _) => {}
        }
        req.body(watched::watched(data, $moved))
            .customize()
            .disable_payload_signing()
            .send()
    }};
}

/// What a ranged GET's response says it holds.
#[derive(Debug)]
pub(crate) struct Answered {
    /// Its Content-Range.
    pub range: Option<String>,
    /// Its ETag: a store that ignores If-Match still names the object the
    /// bytes come from (s3s-fs: tests/s3_matrix.rs).
    pub etag: Option<String>,
}

/// A part or object to store, with its CRC32C when the caller computed it
/// as the bytes came in (cheaper than a second pass here).
#[derive(Debug, Clone)]
pub(crate) struct PutBody {
    pub data: Bytes,
    pub crc32c: Option<u32>,
}

/// How to reach the store: the flags every S3 tool shares.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    /// None: path style for custom endpoints, virtual host for AWS.
    pub path_style: Option<bool>,
    pub no_sign_request: bool,
    /// Attempts after the first, for every call.
    pub retries: u32,
    /// Trust only the certificates in this PEM file (`--ca-bundle`); None:
    /// `AWS_CA_BUNDLE`, the profile's `ca_bundle`, else the system's roots.
    pub ca_bundle: Option<PathBuf>,
    /// A PutObject or UploadPart that sends nothing and hears nothing for
    /// this long is tried again (s3put's `--request-timeout`); None: only
    /// the SDK's per-attempt timeout.
    pub request_timeout: Option<Duration>,
    /// Take any server certificate (`--no-verify-ssl`).
    pub no_verify_ssl: bool,
}

/// Which checksum each uploaded part carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Checksum {
    Crc32c,
    Crc32,
    #[value(name = "crc64nvme")]
    Crc64Nvme,
    Sha256,
    /// Content-MD5 (every store verifies it; ~1.4 CPU-s/GiB).
    Md5,
    /// Nothing: corruption in transit would be stored silently.
    None,
}

impl Checksum {
    fn algorithm(self) -> Option<ChecksumAlgorithm> {
        match self {
            Checksum::Crc32c => Some(ChecksumAlgorithm::Crc32C),
            Checksum::Crc32 => Some(ChecksumAlgorithm::Crc32),
            Checksum::Crc64Nvme => Some(ChecksumAlgorithm::Crc64Nvme),
            Checksum::Sha256 => Some(ChecksumAlgorithm::Sha256),
            Checksum::Md5 | Checksum::None => None,
        }
    }
}

/// What `aws s3 cp` users set on a new object.
#[derive(Debug, Clone, Default)]
pub struct ObjectSettings {
    pub content_type: Option<String>,
    pub storage_class: Option<String>,
    pub sse: Option<String>,
    pub sse_kms_key_id: Option<String>,
    pub metadata: Vec<(String, String)>,
    /// URL-encoded `k=v&k2=v2`.
    pub tagging: Option<String>,
    pub acl: Option<String>,
    /// Refuse to overwrite an existing key.
    pub if_none_match: bool,
    /// S3 Object Lock on the new object (`--object-lock-*`).
    pub lock: ObjectLock,
}

/// S3 Object Lock on a new object: a retention mode with its date (both or
/// neither, as S3 wants them) and a legal hold. Default: none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectLock {
    pub mode: Option<LockMode>,
    /// Unix seconds.
    pub retain_until: Option<i64>,
    pub legal_hold: Option<bool>,
}

impl ObjectLock {
    pub fn is_set(&self) -> bool {
        self.mode.is_some() || self.legal_hold.is_some()
    }
}

/// A retention mode: GOVERNANCE (lifted by whoever may bypass it) or
/// COMPLIANCE (by nobody, the account's root included, until the date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LockMode {
    #[value(name = "GOVERNANCE")]
    Governance,
    #[value(name = "COMPLIANCE")]
    Compliance,
}

impl LockMode {
    /// As S3 writes it.
    pub fn name(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    fn sdk(self) -> aws_sdk_s3::types::ObjectLockMode {
        match self {
            LockMode::Governance => aws_sdk_s3::types::ObjectLockMode::Governance,
            LockMode::Compliance => aws_sdk_s3::types::ObjectLockMode::Compliance,
        }
    }
}

/// An object's identity and size, from HEAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    pub version_id: Option<String>,
    /// Parts count when the object was uploaded in parts (HEAD partNumber=1).
    pub parts: Option<u32>,
    /// Size of part 1, when asked for.
    pub part_size: Option<u64>,
    /// False when a part HEAD did not say the object's total size (no
    /// Content-Range): `size` may be part 1's.
    pub exact_size: bool,
    /// The store says its checksum covers the whole object
    /// (`x-amz-checksum-type: FULL_OBJECT`), parts or not.
    pub full_object: bool,
    /// The stored CRC32C (base64; `…-N` when composite over N parts).
    pub crc32c: Option<String>,
    /// Every other checksum the store holds (CRC32, CRC64NVME, SHA-1,
    /// SHA-256), as [`ObjectInfo::crc32c`]: what other tools upload with
    /// (the AWS CLI and boto3 store CRC32 by default since 2025).
    pub checksums: Vec<(Algorithm, String)>,
    /// False with SSE-KMS or SSE-C, where the ETag is not an MD5.
    pub etag_is_md5: bool,
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-*`), sorted by key.
    pub metadata: Vec<(String, String)>,
}

/// A checksum algorithm S3 can store for an object besides CRC32C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    /// The name reports use: `crc32`, `crc64nvme`, `sha256`, …
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "crc32",
            Algorithm::Crc32c => "crc32c",
            Algorithm::Crc64Nvme => "crc64nvme",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
        }
    }

    fn smithy(self) -> Alg {
        match self {
            Algorithm::Crc32 => Alg::Crc32,
            Algorithm::Crc32c => Alg::Crc32c,
            Algorithm::Crc64Nvme => Alg::Crc64Nvme,
            Algorithm::Sha1 => Alg::Sha1,
            Algorithm::Sha256 => Alg::Sha256,
        }
    }
}

/// One running checksum of `Algorithm`, the SDK's own implementation.
pub(crate) struct Hasher(Box<dyn aws_smithy_checksums::http::HttpChecksum>);

impl Hasher {
    pub(crate) fn new(alg: Algorithm) -> Hasher {
        Hasher(alg.smithy().into_impl())
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum's bytes (big-endian for the CRCs).
    pub(crate) fn finish(self) -> Vec<u8> {
        self.0.finalize().to_vec()
    }
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedObject {
    pub key: String,
    pub size: u64,
    /// Unix seconds.
    pub last_modified: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Listing {
    pub objects: Vec<ListedObject>,
    /// Common prefixes (with a delimiter).
    pub prefixes: Vec<String>,
}

/// One in-progress multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upload {
    pub key: String,
    pub upload_id: String,
    pub initiated: i64,
}

/// A part as the store acknowledged it.
#[derive(Debug, Clone)]
pub(crate) struct PartDone {
    pub number: i32,
    pub etag: String,
    checksum: Option<String>,
    algorithm: Option<ChecksumAlgorithm>,
}

/// A connected store.
#[derive(Clone)]
pub(crate) struct Store {
    client: aws_sdk_s3::Client,
    endpoint: String,
    attempts: Arc<Attempts>,
    /// `request_checksum_calculation = when_required` (env or profile).
    checksums_when_required: bool,
    /// A data request that moved nothing for this long is tried again
    /// (`--request-timeout`; see watched.rs), `retries` times.
    request_timeout: Option<Duration>,
    retries: u32,
}

/// Counts calls and their attempts, so a report can say how many calls
/// the SDK retried (`retries` in s3put's JSON and the job's summary).
#[derive(Debug, Default)]
struct Attempts {
    calls: AtomicU64,
    attempts: AtomicU64,
    /// Calls made again after a stall (each also counted as a call).
    stalls: AtomicU64,
}

#[derive(Debug)]
struct CountAttempts(Arc<Attempts>);

impl Intercept for CountAttempts {
    fn name(&self) -> &'static str {
        "s3pipe-count-attempts"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl Store {
    pub(crate) async fn connect(conn: &Connection) -> Result<Store, S3Error> {
        let profile = Settings::load().await;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &conn.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &conn.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        if conn.no_sign_request {
            loader = loader.no_credentials();
        }
        if conn.no_verify_ssl {
            loader = loader.http_client(insecure::any_certificate()?);
        } else if let Some(bundle) = conn.ca_bundle.clone().or_else(|| profile.ca_bundle()) {
            loader = loader.http_client(https_trusting(&bundle)?);
        }
        let shared = loader.load().await;
        let custom_endpoint = conn
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(conn.path_style.unwrap_or(custom_endpoint.is_some()))
            .retry_config(RetryConfig::standard().with_max_attempts(conn.retries + 1))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(300))
                    .build(),
            )
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
        if !profile.sets_response_validation() {
            config = config.response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        if shared.region().is_none() {
            config = config.region(Region::new("us-east-1"));
        }
        let attempts = Arc::<Attempts>::default();
        config = config.interceptor(CountAttempts(attempts.clone()));
        Ok(Store {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            endpoint: custom_endpoint.unwrap_or_else(|| "AWS S3".into()),
            attempts,
            checksums_when_required: shared.request_checksum_calculation()
                == Some(RequestChecksumCalculation::WhenRequired),
            request_timeout: conn.request_timeout,
            retries: conn.retries,
        })
    }

    /// `--checksum`'s default: CRC32C, or Content-MD5 where the user asked
    /// for checksums only when required (the stores that refuse the
    /// `x-amz-checksum-*` headers all verify Content-MD5).
    pub(crate) fn default_checksum(&self) -> Checksum {
        if self.checksums_when_required {
            Checksum::Md5
        } else {
            Checksum::Crc32c
        }
    }

    /// Attempts beyond the first, over every call so far.
    pub(crate) fn retries(&self) -> u64 {
        let a = &self.attempts;
        (a.attempts.load(Ordering::Relaxed) + a.stalls.load(Ordering::Relaxed))
            .saturating_sub(a.calls.load(Ordering::Relaxed))
    }

    /// The output of the request `send` makes (given what its body
    /// touches), made again while it stalls: nothing sent or received for
    /// the request timeout. The SDK's own retries happen inside each.
    async fn unstalled<T, Fut>(
        &self,
        mut send: impl FnMut(Arc<watched::Moved>) -> Fut,
    ) -> Result<T, S3Error>
    where
        Fut: std::future::Future<Output = Result<T, S3Error>>,
    {
        let Some(limit) = self.request_timeout else {
            return send(watched::Moved::new()).await;
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let moved = watched::Moved::new();
            if let Some(out) = watched::unless_stalled(send(moved.clone()), &moved, limit).await {
                return out;
            }
            if attempts > self.retries {
                return Err(S3Error::Other(format!(
                    "failed after {attempts} attempts: no response for {limit:?}"
                )));
            }
            // Each try is a call of its own to the SDK: count it a retry.
            self.attempts.stalls.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) async fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        settings: &ObjectSettings,
        checksum: Checksum,
    ) -> Result<String, S3Error> {
        let mut req = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .set_checksum_algorithm(checksum.algorithm());
        req = apply!(req, settings);
        let out = req
            .send()
            .await
            .map_err(|e| self.classify(e, bucket, key))?;
        out.upload_id
            .ok_or_else(|| S3Error::Other("CreateMultipartUpload returned no upload id".into()))
    }

    pub(crate) async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        body: PutBody,
        checksum: Checksum,
    ) -> Result<PartDone, S3Error> {
        let out = self
            .unstalled(|moved| {
                let req = self
                    .client
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(number);
                let send = send_with_body!(req, body.clone(), checksum, moved);
                async { send.await.map_err(|e| self.classify(e, bucket, key)) }
            })
            .await?;
        let part_checksum = match checksum {
            Checksum::Crc32c => out.checksum_crc32_c,
            Checksum::Crc32 => out.checksum_crc32,
            Checksum::Crc64Nvme => out.checksum_crc64_nvme,
            Checksum::Sha256 => out.checksum_sha256,
            _ => None,
        };
        Ok(PartDone {
            number,
            etag: out.e_tag.unwrap_or_default(),
            checksum: part_checksum,
            algorithm: checksum.algorithm(),
        })
    }

    /// CompleteMultipartUpload; returns the object's ETag. With
    /// `if_none_match`, fails if the key exists (conditional write).
    pub(crate) async fn complete(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[PartDone],
        if_none_match: bool,
    ) -> Result<String, S3Error> {
        let parts = parts
            .iter()
            .map(|p| {
                let mut b = CompletedPart::builder()
                    .part_number(p.number)
                    .e_tag(&p.etag);
                // Only when the upload was created with that algorithm:
                // anything else makes Complete fail with InvalidDigest.
                match p.algorithm {
                    Some(ChecksumAlgorithm::Crc32C) => {
                        b = b.set_checksum_crc32_c(p.checksum.clone())
                    }
                    Some(ChecksumAlgorithm::Crc32) => b = b.set_checksum_crc32(p.checksum.clone()),
                    Some(ChecksumAlgorithm::Crc64Nvme) => {
                        b = b.set_checksum_crc64_nvme(p.checksum.clone())
                    }
                    Some(ChecksumAlgorithm::Sha256) => {
                        b = b.set_checksum_sha256(p.checksum.clone())
                    }
                    _ => {}
                }
                b.build()
            })
            .collect();
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .set_if_none_match(if_none_match.then(|| "*".to_string()))
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.classify(e, bucket, key))?;
        Ok(out.e_tag.unwrap_or_default())
    }

    pub(crate) async fn abort(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), S3Error> {
        self.client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.classify(e, bucket, key))
    }

    /// PutObject of a whole (small) body; returns the ETag.
    pub(crate) async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: PutBody,
        settings: &ObjectSettings,
        checksum: Checksum,
    ) -> Result<String, S3Error> {
        let out = self
            .unstalled(|moved| {
                let mut req = self.client.put_object().bucket(bucket).key(key);
                if settings.if_none_match {
                    req = req.if_none_match("*");
                }
                req = apply!(req, settings);
                let send = send_with_body!(req, body.clone(), checksum, moved);
                async { send.await.map_err(|e| self.classify(e, bucket, key)) }
            })
            .await?;
        Ok(out.e_tag.unwrap_or_default())
    }

    /// GetObjectTagging: the object's tags, as (key, value) pairs.
    pub(crate) async fn tags(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<(String, String)>, S3Error> {
        let out = self
            .client
            .get_object_tagging()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.classify(e, bucket, key))?;
        Ok(out.tag_set.into_iter().map(|t| (t.key, t.value)).collect())
    }

    /// HEAD an object; with `part_one`, also learn its parts layout.
    pub(crate) async fn head(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        part_one: bool,
    ) -> Result<ObjectInfo, S3Error> {
        let mut req = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version.map(String::from))
            // Ask for the stored checksum: s3get verifies against it.
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled);
        if part_one {
            req = req.part_number(1);
        }
        let out = req
            .send()
            .await
            .map_err(|e| self.classify(e, bucket, key))?;
        let part_len = out.content_length.unwrap_or(0).max(0) as u64;
        let parts = out.parts_count.map(|n| n as u32);
        // With partNumber, Content-Length is part 1's; the total is in
        // Content-Range ("bytes 0-N/TOTAL").
        // Without one, Content-Length may be either: the size is then not
        // exact, and s3get asks a plain HEAD for the whole.
        let total = (out.content_range.as_deref())
            .and_then(|r| r.rsplit('/').next())
            .and_then(|total| total.parse::<u64>().ok());
        let exact_size = !(part_one && parts.is_some() && total.is_none());
        let size = total.filter(|_| part_one).unwrap_or(part_len);
        Ok(ObjectInfo {
            size,
            etag: out.e_tag.unwrap_or_default(),
            version_id: out.version_id,
            parts,
            part_size: part_one.then_some(part_len),
            exact_size,
            full_object: out.checksum_type == Some(aws_sdk_s3::types::ChecksumType::FullObject),
            crc32c: out.checksum_crc32_c,
            checksums: [
                (Algorithm::Crc64Nvme, out.checksum_crc64_nvme),
                (Algorithm::Crc32, out.checksum_crc32),
                (Algorithm::Sha256, out.checksum_sha256),
                (Algorithm::Sha1, out.checksum_sha1),
            ]
            .into_iter()
            .filter_map(|(alg, value)| Some((alg, value.filter(|v| !v.is_empty())?)))
            .collect(),
            etag_is_md5: out.sse_customer_algorithm.is_none()
                && !matches!(
                    out.server_side_encryption,
                    Some(ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse)
                ),
            content_type: out.content_type,
            metadata: {
                let mut m: Vec<(String, String)> =
                    out.metadata.unwrap_or_default().into_iter().collect();
                m.sort();
                m
            },
        })
    }

    /// GET bytes `start..end` (exclusive) of the version with `etag`; the
    /// body and the response's Content-Range.
    pub(crate) async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        start: u64,
        end: u64,
        etag: &str,
        version: Option<&str>,
    ) -> Result<(Body, Answered), S3Error> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes={start}-{}", end - 1))
            .if_match(etag)
            .set_version_id(version.map(String::from))
            .send()
            .await
            .map_err(|e| self.classify(e, bucket, key))?;
        let answered = Answered {
            range: out.content_range,
            etag: out.e_tag,
        };
        Ok((Body(out.body), answered))
    }

    /// A small object whole (a manifest): more than `limit` bytes is an
    /// error, not a read into memory.
    pub(crate) async fn get_small(
        &self,
        bucket: &str,
        key: &str,
        limit: u64,
    ) -> Result<Vec<u8>, S3Error> {
        let out = (self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await)
            .map_err(|e| self.classify(e, bucket, key))?;
        let mut body = Body(out.body);
        let mut bytes = Vec::new();
        while let Some(chunk) = body.chunk().await? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > limit {
                return Err(S3Error::Other(format!(
                    "s3://{bucket}/{key}: larger than {limit} bytes"
                )));
            }
        }
        Ok(bytes)
    }

    /// Every object under `prefix` (all pages); with `delimiter`, grouped.
    pub(crate) async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<Listing, S3Error> {
        let (mut listing, mut pages) = (Listing::default(), Pages::default());
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_delimiter(delimiter.map(String::from))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.classify(e, bucket, prefix))?;
            let (objects, prefixes) = (page.contents.unwrap_or_default(), page.common_prefixes);
            let prefixes = prefixes.unwrap_or_default();
            let said = Page {
                truncated: page.is_truncated,
                next: page.next_continuation_token,
                key_count: page.key_count.map(i64::from),
                entries: objects.len() + prefixes.len(),
            };
            for obj in objects {
                listing.objects.push(ListedObject {
                    key: obj.key.unwrap_or_default(),
                    size: obj.size.unwrap_or(0).max(0) as u64,
                    last_modified: obj.last_modified.map_or(0, |t| t.secs()),
                });
            }
            listing
                .prefixes
                .extend(prefixes.into_iter().filter_map(|p| p.prefix));
            match pages.next(said).map_err(S3Error::Listing)? {
                Some(next) => token = Some(next),
                None => return Ok(listing),
            }
        }
    }

    /// In-progress multipart uploads under `prefix` (all pages).
    pub(crate) async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<Upload>, S3Error> {
        let (mut uploads, mut pages) = (Vec::new(), Pages::default());
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.clone())
                .set_upload_id_marker(id_marker.clone())
                .send()
                .await
                .map_err(|e| self.classify(e, bucket, prefix))?;
            let listed = out.uploads.unwrap_or_default();
            let (key, id) = (out.next_key_marker, out.next_upload_id_marker);
            let said = Page {
                truncated: out.is_truncated,
                next: key
                    .clone()
                    .map(|k| format!("{k}\n{}", id.clone().unwrap_or_default())),
                key_count: None,
                entries: listed.len(),
            };
            for u in listed {
                uploads.push(Upload {
                    key: u.key.unwrap_or_default(),
                    upload_id: u.upload_id.unwrap_or_default(),
                    initiated: u.initiated.map_or(0, |t| t.secs()),
                });
            }
            if pages.next(said).map_err(S3Error::Listing)?.is_none() {
                return Ok(uploads);
            }
            (key_marker, id_marker) = (key, id);
        }
    }

    /// Delete keys in batches of 1000; returns the (key, reason) of each
    /// deletion that failed. On a versioned bucket each adds a delete
    /// marker, as `aws s3 rm` does.
    pub(crate) async fn delete(
        &self,
        bucket: &str,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, S3Error> {
        let objects: Vec<(String, Option<String>)> =
            keys.iter().map(|k| (k.clone(), None)).collect();
        self.delete_versions(bucket, &objects).await
    }

    /// Delete (key, version) pairs in batches of 1000: a version id removes
    /// that version (or delete marker) for good and adds no marker. Never
    /// with `x-amz-bypass-governance-retention`: a GOVERNANCE lock holds
    /// against s3pipe as it does against anyone without the bypass.
    pub(crate) async fn delete_versions(
        &self,
        bucket: &str,
        objects: &[(String, Option<String>)],
    ) -> Result<Vec<(String, String)>, S3Error> {
        let mut failed = Vec::new();
        for batch in objects.chunks(1000) {
            let ids = batch
                .iter()
                .map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(v.clone())
                        .build()
                        .map_err(|e| S3Error::Other(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| S3Error::Other(e.to_string()))?;
            let out = self
                .client
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| self.classify(e, bucket, ""))?;
            for err in out.errors.unwrap_or_default() {
                failed.push((
                    err.key.unwrap_or_default(),
                    format!(
                        "{}: {}",
                        err.code.unwrap_or_default(),
                        err.message.unwrap_or_default()
                    ),
                ));
            }
        }
        Ok(failed)
    }

    /// Turn an SDK error into one that names its cause.
    fn classify<E>(
        &self,
        err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
        bucket: &str,
        key: &str,
    ) -> S3Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let text = causes(&err);
        let failure = match &err {
            SdkError::ServiceError(service) => Failure::Service {
                code: service.err().code().unwrap_or_default(),
                message: service.err().message().unwrap_or_default(),
                status: service.raw().status().as_u16(),
            },
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Failure::Dispatch(&text),
            _ => Failure::Other(&text),
        };
        classify(failure, bucket, key, &self.endpoint)
    }
}

/// The selected profile's keys (and their environment variables) that
/// aws-config reads for other SDKs but does not act on here.
struct Settings(Option<aws_config::profile::ProfileSet>);

impl Settings {
    async fn load() -> Settings {
        use aws_runtime::env_config::file::EnvConfigFiles;
        use aws_types::os_shim_internal::{Env, Fs};
        let files = EnvConfigFiles::default();
        Settings(
            aws_config::profile::load(&Fs::real(), &Env::real(), &files, None)
                .await
                .ok(),
        )
    }

    fn get(&self, env: &str, key: &str) -> Option<String> {
        std::env::var(env)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| self.0.as_ref()?.get(key).map(String::from))
    }

    /// `AWS_CA_BUNDLE`, else the profile's `ca_bundle`.
    fn ca_bundle(&self) -> Option<PathBuf> {
        self.get("AWS_CA_BUNDLE", "ca_bundle").map(PathBuf::from)
    }

    fn sets_response_validation(&self) -> bool {
        let (env, key) = (
            "AWS_RESPONSE_CHECKSUM_VALIDATION",
            "response_checksum_validation",
        );
        self.get(env, key).is_some()
    }
}

/// An HTTPS client that trusts the certificates in `path` (PEM) and no
/// others. They are checked here: the SDK parses them only when the first
/// connection opens, and panics on one it cannot use.
fn https_trusting(path: &Path) -> Result<aws_sdk_s3::config::SharedHttpClient, S3Error> {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let fail = |why: String| S3Error::CaBundle {
        path: path.to_path_buf(),
        why,
    };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(fail("no certificate in it".into()));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
    }
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(pem))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https())
}

/// A GET response body, chunk by chunk.
pub(crate) struct Body(ByteStream);

impl Body {
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, S3Error> {
        match self.0.next().await {
            None => Ok(None),
            Some(Ok(b)) => Ok(Some(b)),
            Some(Err(e)) => Err(S3Error::Other(format!(
                "reading the response body: {}",
                causes(&e)
            ))),
        }
    }
}

/// An error and its causes on one line, `a: b: c`, without the SDK's
/// debug dump (DisplayErrorContext appends one in parentheses) and with a
/// cause that repeats its parent said once.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        let text = text.lines().next().unwrap_or_default().trim().to_string();
        if !text.is_empty() && !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// A CRC32C as S3 writes it: base64 of the big-endian bytes.
pub(crate) fn crc32c_base64(crc: u32) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

/// `data`'s checksum as S3's `x-amz-checksum-*` headers carry it (base64).
fn checksum_base64(alg: Alg, data: &[u8]) -> String {
    let mut sum = alg.into_impl();
    sum.update(data);
    base64(&sum.finalize())
}

/// Bytes as S3 headers carry checksums: standard base64.
pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn md5_base64(data: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}
