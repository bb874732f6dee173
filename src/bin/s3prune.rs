//! `s3prune`: clap flags → `retention` (pure) + `s3::prune`.

use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use s3pipe::cli::{self, S3Args};
use s3pipe::retention::Policy;
use s3pipe::s3::prune::prune;
use s3pipe::s3::{S3Url, Store};

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
#[command(name = "s3prune", version, after_help = AFTER_HELP)]
struct Args {
    /// s3://bucket/prefix
    url: String,
    /// Keep the N newest backups
    #[arg(long, value_name = "N", default_value_t = 0)]
    keep_last: usize,
    /// Keep the newest backup of each of the N most recent days
    #[arg(long, value_name = "N", default_value_t = 0)]
    keep_daily: usize,
    /// … of each of the N most recent ISO weeks
    #[arg(long, value_name = "N", default_value_t = 0)]
    keep_weekly: usize,
    /// … of each of the N most recent months
    #[arg(long, value_name = "N", default_value_t = 0)]
    keep_monthly: usize,
    /// … of each of the N most recent years
    #[arg(long, value_name = "N", default_value_t = 0)]
    keep_yearly: usize,
    /// Keep every backup younger than this (e.g. 14d, 36h)
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    keep_within: Option<u64>,
    /// Use LastModified instead of the time in the key
    #[arg(long)]
    by_mtime: bool,
    /// Print each key with keep/remove and the rule that kept it; delete nothing
    #[arg(long)]
    dry_run: bool,
    /// Print only failures
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    s3: S3Args,
}

fn main() -> ExitCode {
    cli::run("s3prune", 1, || {
        let args = Args::parse();
        let url: S3Url = args.url.parse().map_err(cli::usage)?;
        let policy = Policy {
            last: args.keep_last,
            daily: args.keep_daily,
            weekly: args.keep_weekly,
            monthly: args.keep_monthly,
            yearly: args.keep_yearly,
            // parse_duration keeps it within i64.
            within: args.keep_within.and_then(|s| i64::try_from(s).ok()),
        };
        if policy.is_empty() {
            return Err(cli::usage(
                "no keep policy given: refusing to remove every backup (use --keep-last, --keep-daily, …)",
            ));
        }
        let now = chrono::Utc::now().timestamp();
        let report = cli::block_on(async {
            let store = Store::connect(&args.s3.connection()).await;
            prune(&store, &url, &policy, args.by_mtime, args.dry_run, now).await
        })??;
        if !args.quiet {
            let prefix = if args.dry_run { "(dry run) " } else { "" };
            for line in &report.lines {
                println!("{prefix}{line}");
            }
        }
        for (key, why) in &report.failed {
            eprintln!("s3prune: deleting {key} failed: {why}");
        }
        if !report.failed.is_empty() {
            bail!(
                "{} of {} deletions failed",
                report.failed.len(),
                report.failed.len() + report.removed
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
