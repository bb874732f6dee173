//! `s3rm`'s command line: flags → [`RmOptions`].

use clap::Parser;

use super::{S3Args, UsageError};
use crate::s3::S3Url;
use crate::s3::delete::RmOptions;

/// Delete S3 objects, or abort multipart uploads left behind by a killed
/// upload (--uploads).
#[derive(Parser)]
#[command(name = "s3rm", version = super::VERSION, after_help = super::S3_EXIT_CODES)]
pub struct Args {
    /// s3://bucket/key (or a prefix with --recursive or --uploads)
    #[arg(required = true)]
    pub urls: Vec<String>,
    /// Delete every object under the prefix
    #[arg(long)]
    pub recursive: bool,
    /// Say what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Abort in-progress multipart uploads under the prefix
    #[arg(long, conflicts_with = "recursive")]
    pub uploads: bool,
    /// With --uploads: only those started longer ago than this (e.g. 1d, 12h)
    #[arg(long, value_name = "DURATION", requires = "uploads", value_parser = super::parse_duration)]
    pub older_than: Option<u64>,
    /// Delete every version and delete marker of each key, for good: on a
    /// versioned bucket (Object Lock implies one) a plain delete only adds
    /// a marker. A key a lock still holds is not deleted (exit 1, says
    /// until when); the GOVERNANCE bypass is never used
    #[arg(long, conflicts_with = "uploads")]
    pub versions: bool,
    /// Print errors only: no progress bar, warnings or per-item lines
    #[arg(short, long)]
    pub quiet: bool,
    /// The S3 connection flags, shared by every S3 tool.
    #[command(flatten)]
    pub s3: S3Args,
}

impl Args {
    /// The URLs (keys, or prefixes with --recursive/--uploads) and options.
    pub fn options(&self) -> Result<(Vec<S3Url>, RmOptions), UsageError> {
        let urls = self
            .urls
            .iter()
            .map(|u| {
                if self.recursive || self.uploads {
                    u.parse()
                } else {
                    S3Url::object(u)
                }
            })
            .collect::<Result<Vec<S3Url>, _>>()?;
        let opts = RmOptions {
            recursive: self.recursive,
            dry_run: self.dry_run,
            uploads: self.uploads,
            older_than: self.older_than,
            versions: self.versions,
        };
        Ok((urls, opts))
    }
}
