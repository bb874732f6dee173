//! `s3prune`'s command line: flags → a retention [`Policy`].

use clap::Parser;

use super::{S3Args, UsageError};
use regex::Regex;

use crate::retention::Policy;
use crate::s3::S3Url;
use crate::s3::prune::PruneOptions;

const AFTER_HELP: &str = "\
Semantics of restic forget: for each policy, backups are walked newest first
and the newest backup of each of the N most recent days (weeks, months,
years) that have one is kept; --keep-within counts back from the newest
backup; the union of all policies is kept, and the newest complete backup
of a series is always kept. A backup's
time is read from its key (YYYY-MM-DD-HH-MM-SS, YYYY-MM-DDTHH:MM:SSZ or
YYYYMMDDTHHMMSSZ) or, with --by-mtime, its LastModified; a key without one
is never removed. Keys are grouped into series by their name without the
timestamp; a name with complete backups (NAME-TS.manifest.json) gathers
all its keys: archives an older tool made before the first complete backup
are full members, keys without a manifest newer than the newest complete
backup are runs in progress (kept), those in between failed runs (removed).
Objects of one backup share its verdict; manifests are deleted first. All
dates are UTC.

On a bucket with Object Lock, a backup a lock still holds is kept (keep KEY
(locked until ...)), and an expired one is removed for real: every version
of its keys and their delete markers. The GOVERNANCE bypass is never used.

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
    /// Keep the first (oldest) backup of each of the N most recent months:
    /// the one made on the 1st, or the next one when that failed
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_monthly_first: usize,
    /// Keep every backup within this of the newest one (e.g. 14d, 36h),
    /// as restic counts: from the newest backup, not from now
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub keep_within: Option<u64>,
    /// Treat every key matching REGEX (on the whole key) as one series,
    /// e.g. '^backups/(thecombine|combine)-app-' when a host was renamed
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub series: Option<Regex>,
    /// Use LastModified instead of the time in the key
    #[arg(long)]
    pub by_mtime: bool,
    /// Print each key with keep/remove and the rule that kept it; delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print errors only: no progress bar, warnings or per-item lines
    #[arg(short, long)]
    pub quiet: bool,
    /// The S3 connection flags, shared by every S3 tool.
    #[command(flatten)]
    pub s3: S3Args,
}

impl Args {
    /// The prefix and the policy; an empty policy is refused (it would
    /// remove every backup).
    pub fn options(&self) -> Result<(S3Url, PruneOptions), UsageError> {
        let url: S3Url = self.url.parse()?;
        let policy = Policy {
            last: self.keep_last,
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
            monthly_first: self.keep_monthly_first,
            yearly: self.keep_yearly,
            // parse_duration keeps it within i64.
            within: self.keep_within.and_then(|s| i64::try_from(s).ok()),
        };
        if policy.is_empty() {
            return Err(UsageError(
                "no keep policy given: refusing to remove every backup (use --keep-last, --keep-daily, …)".into(),
            ));
        }
        let opts = PruneOptions {
            policy,
            series: self.series.clone(),
            by_mtime: self.by_mtime,
            dry_run: self.dry_run,
        };
        Ok((url, opts))
    }
}

fn parse_regex(text: &str) -> Result<Regex, String> {
    Regex::new(text).map_err(|e| format!("not a regular expression: {e}"))
}
