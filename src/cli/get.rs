//! `s3get`'s command line: flags → [`GetOptions`], and the report.

use std::time::Duration;

use clap::Parser;

use super::S3Args;
use super::UsageError;
use crate::encryption::Identities;
use crate::s3::S3Url;
use crate::s3::concurrency::DEFAULT_GET_MEMORY;
use crate::s3::download::{GetOptions, GetReport, Verified};

/// Download an S3 object to stdout: parallel ranged GETs, written in order,
/// pinned to one version, resumed on error.
#[derive(Parser)]
#[command(name = "s3get", version = super::VERSION, after_help = super::S3_EXIT_CODES)]
pub struct Args {
    /// Source, s3://bucket/key
    pub url: String,
    /// Size of each ranged GET
    #[arg(long, value_name = "SIZE", default_value = super::DEFAULT_RANGE_SIZE, value_parser = super::parse_size)]
    pub part_size: u64,
    /// The transfer flags s3put and s3get share.
    #[command(flatten)]
    pub transfer: super::TransferArgs,
    /// Download this version
    #[arg(long, value_name = "ID")]
    pub version_id: Option<String>,
    /// Fail, before writing anything, unless the object's ETag is ETAG (quotes optional): the object a first pass verified, or a manifest recorded
    #[arg(long, value_name = "ETAG")]
    pub if_match: Option<String>,
    /// Fail at the end unless what was written (after decryption) has this SHA-256, e.g. the one `s3put --sha256` reported
    #[arg(long, value_name = "HEX", value_parser = super::parse_sha256)]
    pub expect_sha256: Option<String>,
    /// Skip the integrity check (a stored checksum: CRC32C, CRC32, CRC64NVME, SHA-1, SHA-256; else the ETag's MD5)
    #[arg(long, conflicts_with = "require_checksum")]
    pub no_verify: bool,
    /// Fail, before writing anything, when the object has nothing to verify its bytes against (no stored checksum, no MD5 ETag); without it that is one warning line
    #[arg(long, env = "S3PIPE_REQUIRE_CHECKSUM")]
    pub require_checksum: bool,
    /// Resume a range whose response, or whose body, sent nothing for this long (retried --retries times)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::parse_duration)]
    pub idle_timeout: u64,
    /// Decrypt age-encrypted objects with the identities in FILE (repeatable; age or OpenSSH keys)
    #[arg(long, value_name = "FILE", env = "S3PIPE_IDENTITY_FILE")]
    pub identity: Vec<std::path::PathBuf>,
    /// Write an age-encrypted object as stored (ciphertext), e.g. for `age -d`
    #[arg(long)]
    pub no_decrypt: bool,
    /// Print {url, size, etag, verified, sha256, seconds, retries, concurrency, peak_concurrency, content_type, metadata} as JSON on stderr when done
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
    /// The URL and the library's options for these flags.
    pub fn options(&self) -> Result<(S3Url, GetOptions), UsageError> {
        let url = S3Url::object(&self.url)?;
        let opts = GetOptions {
            part_size: self.part_size.max(1),
            concurrency: self.transfer.concurrency(),
            max_memory: self.transfer.budget(DEFAULT_GET_MEMORY),
            limit_rate: self.transfer.rate(),
            version_id: self.version_id.clone(),
            if_match: self.if_match.clone(),
            expect_sha256: self.expect_sha256.clone(),
            verify: !self.no_verify,
            require_checksum: self.require_checksum,
            idle_timeout: Duration::from_secs(self.idle_timeout.max(1)),
            retries: self.s3.retries,
            identities: match self.no_decrypt {
                true => Identities::default(),
                false => Identities::read(&self.identity)?,
            },
            no_decrypt: self.no_decrypt,
        };
        Ok((url, opts))
    }
}

/// `--json`'s line (on stderr: stdout carries the object); every field is
/// always there (`sha256` and `content_type` may be null).
#[derive(serde::Serialize)]
struct Line<'a> {
    url: String,
    size: u64,
    etag: &'a str,
    verified: Verified,
    sha256: Option<&'a str>,
    seconds: f64,
    retries: u64,
    concurrency: usize,
    peak_concurrency: usize,
    content_type: Option<&'a str>,
    metadata: std::collections::BTreeMap<&'a str, &'a str>,
}

/// `--json`'s line (on stderr: stdout carries the object).
pub fn report(url: &S3Url, report: &GetReport) -> String {
    let line = Line {
        url: url.to_string(),
        size: report.size,
        etag: &report.etag,
        verified: report.verified,
        sha256: report.sha256.as_deref(),
        seconds: report.seconds,
        retries: report.retries,
        concurrency: report.concurrency,
        peak_concurrency: report.peak_concurrency,
        content_type: report.content_type.as_deref(),
        metadata: report
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    };
    serde_json::to_string(&line).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    /// docs/tools.md's and `--help`'s field lists are the report's fields.
    #[test]
    fn the_json_report_is_what_the_docs_and_help_list() {
        use clap::CommandFactory;
        let line = super::Line {
            url: "s3://b/k".into(),
            size: 1,
            etag: "\"e\"",
            verified: super::Verified::Md5,
            sha256: None,
            seconds: 0.5,
            retries: 0,
            concurrency: 1,
            peak_concurrency: 1,
            content_type: None,
            metadata: Default::default(),
        };
        let help = super::Args::command().render_long_help().to_string();
        crate::cli::assert_report_fields(
            &line,
            &help,
            "`--no-verify` skips every check. `--json` reports",
        );
    }
}
