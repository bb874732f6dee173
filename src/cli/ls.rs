//! `s3ls`'s command line: flags → [`LsOptions`].

use clap::Parser;

use super::{S3Args, UsageError};
use crate::s3::S3Url;
use crate::s3::list::LsOptions;

/// List objects under an S3 prefix (like `aws s3 ls`), the latest one, the
/// complete backups, or in-progress multipart uploads.
#[derive(Parser)]
#[command(name = "s3ls", version = super::VERSION, disable_help_flag = true, after_help = super::S3_EXIT_CODES)]
pub struct Args {
    /// s3://bucket/prefix
    pub url: String,
    /// Every object under the prefix, not grouped by "/"
    #[arg(short, long)]
    pub recursive: bool,
    /// Human-readable sizes
    #[arg(short = 'h', long)]
    pub human_readable: bool,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
    /// Print only the newest key (by key order: timestamped names)
    #[arg(long)]
    pub latest: bool,
    /// With --latest: newest by LastModified instead
    #[arg(long, requires = "latest")]
    pub by_mtime: bool,
    /// One line per complete backup (with a manifest), oldest first: STAMP, URL, suffixes, tab-separated (for scripts); with --json its objects too (and, on an Object Lock bucket, each object's lock and the backup's locked_until)
    #[arg(long, conflicts_with_all = ["uploads", "by_mtime"])]
    pub backups: bool,
    /// With --latest: exit 1 when the newest (complete) backup is older than
    /// this, e.g. 26h, for an alert or a liveness probe; its time is the one
    /// in its key, else LastModified
    #[arg(long, value_name = "DURATION", requires = "latest", value_parser = super::parse_duration)]
    pub max_age: Option<u64>,
    /// List in-progress multipart uploads instead
    #[arg(long)]
    pub uploads: bool,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The S3 connection flags, shared by every S3 tool.
    #[command(flatten)]
    pub s3: S3Args,
}

impl Args {
    /// The URL and the library's options for these flags.
    pub fn options(&self) -> Result<(S3Url, LsOptions), UsageError> {
        let url: S3Url = self.url.parse()?;
        let opts = LsOptions {
            recursive: self.recursive,
            human: self.human_readable,
            json: self.json,
            latest: self.latest,
            by_mtime: self.by_mtime,
            backups: self.backups,
            // parse_duration keeps it within i64.
            max_age: self.max_age.and_then(|s| i64::try_from(s).ok()),
            now: chrono::Utc::now().timestamp(),
        };
        Ok((url, opts))
    }
}
