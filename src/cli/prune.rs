//! `s3prune`'s command line: flags → a retention [`Policy`].

use clap::Parser;

use super::{S3Args, UsageError};
use crate::retention::Policy;
use crate::s3::S3Url;

const AFTER_HELP: &str = "\
Semantics of restic forget: for each policy, backups are walked newest first
and the newest backup of each of the N most recent days (weeks, months,
years) that have one is kept; the union of all policies is kept. A backup's
time is read from its key (YYYY-MM-DD-HH-MM-SS, YYYY-MM-DDTHH:MM:SSZ or
YYYYMMDDTHHMMSSZ) or, with --by-mtime, its LastModified; a key without one
is never removed. Keys are grouped into series by their name without the
timestamp; objects sharing a backup's NAME-TS.manifest.json share its
verdict. All dates are UTC.

Exit status: 0 success; 1 failure, or some deletions failed; 2 usage error
(including no keep policy at all).";

/// Apply a retention policy to the backups under an S3 prefix.
#[derive(Parser)]
#[command(name = "s3prune", version = super::VERSION, after_help = AFTER_HELP)]
pub struct Args {
    /// s3://bucket/prefix
    pub url: String,
    /// Keep the N newest backups
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_last: usize,
    /// Keep the newest backup of each of the N most recent days
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_daily: usize,
    /// … of each of the N most recent ISO weeks
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_weekly: usize,
    /// … of each of the N most recent months
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_monthly: usize,
    /// … of each of the N most recent years
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_yearly: usize,
    /// Keep every backup younger than this (e.g. 14d, 36h)
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub keep_within: Option<u64>,
    /// Use LastModified instead of the time in the key
    #[arg(long)]
    pub by_mtime: bool,
    /// Print each key with keep/remove and the rule that kept it; delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print errors only: no progress bar, warnings or per-item lines
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub s3: S3Args,
}

impl Args {
    /// The prefix and the policy; an empty policy is refused (it would
    /// remove every backup).
    pub fn options(&self) -> Result<(S3Url, Policy), UsageError> {
        let url: S3Url = self.url.parse()?;
        let policy = Policy {
            last: self.keep_last,
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
            yearly: self.keep_yearly,
            // parse_duration keeps it within i64.
            within: self.keep_within.and_then(|s| i64::try_from(s).ok()),
        };
        if policy.is_empty() {
            return Err(UsageError(
                "no keep policy given: refusing to remove every backup (use --keep-last, --keep-daily, …)".into(),
            ));
        }
        Ok((url, policy))
    }
}
