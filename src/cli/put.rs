//! `s3put`'s command line: flags → [`PutOptions`], and the report.

use clap::Parser;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{S3Args, UsageError};
use crate::codec::verify::Verify;
use crate::encryption;
use crate::s3::S3Url;
use crate::s3::client::{Checksum, LockMode, ObjectLock, ObjectSettings};
use crate::s3::concurrency::DEFAULT_PUT_MEMORY;
use crate::s3::parts::MIN_PART;
use crate::s3::upload::{PutOptions, PutReport};

/// Upload stdin to S3 as one object: multipart, concurrent, bounded memory.
/// A truncated gzip, zstd or tar stream never becomes an object.
#[derive(Parser)]
#[command(name = "s3put", version = super::VERSION, after_help = super::S3_EXIT_CODES)]
pub struct Args {
    /// Destination, s3://bucket/key
    pub url: String,
    /// Upload what the command after `--` writes instead of stdin, and
    /// complete the object only if it exits 0 (e.g. s3put --exec URL --
    /// pg_dump -Fc app)
    #[arg(long, requires = "command")]
    pub exec: bool,
    /// The producer for --exec: CMD ARGS…, run without a shell
    #[arg(last = true, value_name = "CMD", requires = "exec")]
    pub command: Vec<String>,
    /// Fail when stdin, or the --exec command, writes nothing (on stdout or stderr) for this long: the command's process group is killed, the upload aborted, nothing stored
    #[arg(long, value_name = "DURATION", env = "S3PIPE_IDLE_TIMEOUT", value_parser = super::parse_duration)]
    pub idle_timeout: Option<u64>,
    /// Try a part (or the object's PutObject) again when it sends nothing and hears nothing for this long, --retries times: a store that takes a part and never answers
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::parse_duration)]
    pub request_timeout: u64,
    /// Size of each part (5MiB minimum)
    #[arg(long, value_name = "SIZE", default_value = super::DEFAULT_PART_SIZE, value_parser = super::parse_size)]
    pub part_size: u64,
    /// The transfer flags s3put and s3get share.
    #[command(flatten)]
    pub transfer: super::TransferArgs,
    /// Checksum each part carries and the server verifies: crc32c, crc32, crc64nvme, sha256, md5, none [default: crc32c; md5 when AWS_REQUEST_CHECKSUM_CALCULATION or the profile says when_required]
    #[arg(long, value_name = "ALG", ignore_case = true)]
    pub checksum: Option<Checksum>,
    /// Refuse a stream that does not end cleanly: auto (gzip, zstd, tar by their first bytes), none, gzip, zstd, tar
    #[arg(long, value_name = "KIND", default_value = "auto")]
    pub verify: Verify,
    /// Expected stream size: picks a part size that fits in 10,000 parts
    #[arg(long, value_name = "BYTES", value_parser = super::parse_size)]
    pub expected_size: Option<u64>,
    /// Refuse unless the stream is exactly this many bytes
    #[arg(long, value_name = "BYTES", value_parser = super::parse_size)]
    pub expect_size: Option<u64>,
    /// Keep every part the same size (fails past --max-parts)
    #[arg(long, conflicts_with = "grow_every")]
    pub fixed_part_size: bool,
    /// Double the part size every N parts, so that a stream of unknown size fits in --max-parts (8MiB parts doubling every 1,000 reach 5 TiB) [default: a tenth of --max-parts]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub grow_every: Option<u32>,
    /// The most parts the store takes: 10,000 on AWS, 1,000 on Scaleway and OVH; the part growth and --expected-size fit in it
    #[arg(long, value_name = "N", default_value_t = crate::s3::parts::MAX_PARTS, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::s3::parts::MAX_PARTS)))]
    pub max_parts: u32,
    /// Store an empty object when stdin is empty
    #[arg(long)]
    pub allow_empty: bool,
    /// Compute and report the stream's SHA-256
    #[arg(long)]
    pub sha256: bool,
    /// Content-Type stored with the object, e.g. application/gzip
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// Storage class, e.g. STANDARD_IA, GLACIER_IR (stores that have none ignore it)
    #[arg(long, value_name = "CLASS")]
    pub storage_class: Option<String>,
    /// Server-side encryption: AES256 or aws:kms
    #[arg(long, value_name = "ALG")]
    pub sse: Option<String>,
    /// KMS key for --sse aws:kms (default: the bucket's)
    #[arg(long, value_name = "ID")]
    pub sse_kms_key_id: Option<String>,
    /// User metadata (repeatable)
    #[arg(long, value_name = "K=V", value_parser = super::parse_key_value)]
    pub metadata: Vec<(String, String)>,
    /// Object tag (repeatable)
    #[arg(long, value_name = "K=V", value_parser = super::parse_key_value)]
    pub tag: Vec<(String, String)>,
    /// Refuse to overwrite an existing object
    #[arg(long)]
    pub if_none_match: bool,
    /// S3 Object Lock: GOVERNANCE or COMPLIANCE, with --object-lock-retain-until or --object-lock-retain-for (the bucket must have Object Lock; checked before any data is read)
    #[arg(long, value_name = "MODE", ignore_case = true)]
    pub object_lock_mode: Option<LockMode>,
    /// Keep the object locked until DATE (YYYY-MM-DD[ HH:MM:SS], RFC 3339, @EPOCH)
    #[arg(long, value_name = "DATE", value_parser = super::parse_time, conflicts_with = "object_lock_retain_for")]
    pub object_lock_retain_until: Option<i64>,
    /// Keep the object locked for DURATION from the upload's start, e.g. 30d
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub object_lock_retain_for: Option<u64>,
    /// Put a legal hold on the object (ON) or not (OFF): no deletion while it is on, whatever the retention
    #[arg(long, value_name = "STATUS", ignore_case = true, value_parser = ["ON", "OFF"])]
    pub object_lock_legal_hold: Option<String>,
    /// Canned ACL, e.g. private, bucket-owner-full-control
    #[arg(long)]
    pub acl: Option<String>,
    /// Encrypt with age to this recipient: age1… or an ssh-ed25519/ssh-rsa public key (repeatable)
    #[arg(long, value_name = "KEY")]
    pub recipient: Vec<String>,
    /// Encrypt with age to the recipients in FILE, one per line, # comments (repeatable)
    #[arg(long, value_name = "FILE")]
    pub recipients_file: Vec<std::path::PathBuf>,
    /// Print {url, size, etag, parts, seconds, retries, concurrency, peak_concurrency; sha256, content_size, ratio, encryption, recipients, input_size} as JSON on stdout on success (those after the ';' when they apply)
    #[arg(long)]
    pub json: bool,
    /// Print errors only: no progress bar, warnings or per-item lines
    #[arg(short, long)]
    pub quiet: bool,
    /// The S3 connection flags, shared by every S3 tool.
    #[command(flatten)]
    pub s3: S3Args,
}

impl Args {
    /// `--object-lock-*`: a mode with its date, as S3 wants both, and an
    /// upload that carries a checksum on every part, as Object Lock needs.
    fn object_lock(&self) -> Result<ObjectLock, UsageError> {
        let now = chrono::Utc::now().timestamp();
        let retain_until = (self.object_lock_retain_until).or(self
            .object_lock_retain_for
            .map(|s| now.saturating_add(s as i64)));
        let lock = ObjectLock {
            mode: self.object_lock_mode,
            retain_until,
            legal_hold: self
                .object_lock_legal_hold
                .as_deref()
                .map(|s| s.eq_ignore_ascii_case("on")),
        };
        match (lock.mode, lock.retain_until) {
            (Some(_), None) => Err(UsageError(
                "--object-lock-mode needs --object-lock-retain-until or --object-lock-retain-for".into(),
            )),
            (None, Some(_)) => Err(UsageError(
                "--object-lock-retain-until/--object-lock-retain-for need --object-lock-mode".into(),
            )),
            (Some(_), Some(t)) if t <= now => Err(UsageError(format!(
                "--object-lock-retain-until must be in the future (it is {t}, now is {now})"
            ))),
            _ if lock.is_set() && self.checksum == Some(Checksum::None) => Err(UsageError(
                "Object Lock needs a checksum on every part (Content-MD5 or x-amz-checksum-*): --checksum none cannot be used with --object-lock-*".into(),
            )),
            _ => Ok(lock),
        }
    }

    /// The destination and the upload's options, validated.
    pub fn options(&self) -> Result<(S3Url, PutOptions), UsageError> {
        let url = S3Url::object(&self.url)?;
        if self.part_size < MIN_PART {
            return Err(UsageError(
                "--part-size must be at least 5MiB (S3's minimum)".into(),
            ));
        }
        let mut recipients = Vec::new();
        for key in &self.recipient {
            recipients.push(encryption::parse_recipient(key)?);
        }
        for file in &self.recipients_file {
            recipients.extend(encryption::read_recipients_file(file)?);
        }
        let opts = PutOptions {
            part_size: self.part_size,
            concurrency: self.transfer.concurrency(),
            max_memory: self.transfer.budget(DEFAULT_PUT_MEMORY),
            limit_rate: self.transfer.rate(),
            checksum: self.checksum.unwrap_or(Checksum::Crc32c),
            verify: self.verify,
            expected_size: self.expected_size,
            expect_size: self.expect_size,
            fixed_part_size: self.fixed_part_size,
            grow_every: self.grow_every.unwrap_or((self.max_parts / 10).max(1)),
            max_parts: self.max_parts,
            allow_empty: self.allow_empty,
            sha256: self.sha256,
            settings: ObjectSettings {
                content_type: self.content_type.clone(),
                storage_class: self.storage_class.clone(),
                sse: self.sse.clone(),
                sse_kms_key_id: self.sse_kms_key_id.clone(),
                metadata: self.metadata.clone(),
                tagging: tagging(&self.tag),
                acl: self.acl.clone(),
                if_none_match: self.if_none_match,
                lock: self.object_lock()?,
            },
            recipients,
        };
        Ok((url, opts))
    }
}

/// `--json`'s line: every field always there except the optional ones,
/// which appear when they apply (`sha256` when asked, `content_size` and
/// `ratio` when the stream was checked, the last three when encrypted).
#[derive(serde::Serialize)]
struct Line<'a> {
    url: String,
    size: u64,
    etag: &'a str,
    parts: u32,
    seconds: f64,
    retries: u64,
    concurrency: usize,
    peak_concurrency: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipients: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_size: Option<u64>,
}

/// What s3put prints on success, and where.
#[derive(Debug, PartialEq)]
pub enum Said {
    /// `--json`: the report, on stdout.
    Json(String),
    /// `--sha256`: `s3put: URL: N bytes, sha256 HEX`, on stderr.
    Sha256(String),
}

/// What to print on success: the JSON report with `--json`, else the
/// SHA-256 line when asked for.
pub fn report(url: &S3Url, report: &PutReport, json: bool) -> Option<Said> {
    if json {
        let encrypted = !report.recipients.is_empty();
        let ratio = report
            .content_size
            .filter(|_| report.input_size > 0)
            .map(|content| (content as f64 / report.input_size as f64 * 1000.0).round() / 1000.0);
        let line = Line {
            url: url.to_string(),
            size: report.size,
            etag: &report.etag,
            parts: report.parts,
            seconds: report.seconds,
            retries: report.retries,
            concurrency: report.concurrency,
            peak_concurrency: report.peak_concurrency,
            sha256: report.sha256.as_deref(),
            content_size: report.content_size,
            ratio,
            encryption: encrypted.then_some(crate::encryption::METADATA_VALUE),
            recipients: encrypted.then_some(&report.recipients[..]),
            input_size: encrypted.then_some(report.input_size),
        };
        return Some(Said::Json(serde_json::to_string(&line).unwrap_or_default()));
    }
    let sha = report.sha256.as_ref()?;
    Some(Said::Sha256(format!(
        "s3put: {url}: {} bytes, sha256 {sha}",
        report.input_size
    )))
}

/// RFC 3986's unreserved characters stay; everything else is escaped.
const TAG: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `--tag K=V …` as the URL-encoded query S3 wants.
fn tagging(tags: &[(String, String)]) -> Option<String> {
    let encode = |s: &str| utf8_percent_encode(s, TAG).to_string();
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_are_percent_encoded() {
        let tags = [("team name".to_string(), "a&b=c/ü~".to_string())];
        assert_eq!(
            super::tagging(&tags).unwrap(),
            "team%20name=a%26b%3Dc%2F%C3%BC~"
        );
        assert_eq!(super::tagging(&[]), None);
    }

    /// docs/tools.md's and `--help`'s field lists are the report's fields, every
    /// optional one included.
    #[test]
    fn the_json_report_is_what_the_docs_and_help_list() {
        use clap::CommandFactory;
        let recipients = ["age1…".to_string()];
        let line = super::Line {
            url: "s3://b/k".into(),
            size: 1,
            etag: "\"e\"",
            parts: 1,
            seconds: 0.5,
            retries: 0,
            concurrency: 1,
            peak_concurrency: 1,
            sha256: Some("00"),
            content_size: Some(2),
            ratio: Some(2.0),
            encryption: Some("age"),
            recipients: Some(&recipients),
            input_size: Some(1),
        };
        let help = super::Args::command().render_long_help().to_string();
        crate::cli::assert_report_fields(&line, &help, "Quiet on success; `--json` prints");
    }
}
