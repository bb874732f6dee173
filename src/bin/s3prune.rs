//! `s3prune`: parse flags (cli::prune) → `retention` (pure) + `s3::prune`.

use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use s3pipe::cli::{self, prune::Args};
use s3pipe::s3::Store;
use s3pipe::s3::prune::prune;

fn main() -> ExitCode {
    cli::run("s3prune", 1, || {
        let args = Args::parse();
        let (url, policy) = args.options()?;
        let now = chrono::Utc::now().timestamp();
        let report = cli::block_on(async {
            let store = Store::connect(&args.s3.connection()).await;
            prune(&store, &url, &policy, args.by_mtime, args.dry_run, now).await
        })??;
        if !args.quiet {
            let prefix = if args.dry_run { "(dry run) " } else { "" };
            report
                .lines
                .iter()
                .for_each(|line| println!("{prefix}{line}"));
        }
        for (key, why) in &report.failed {
            eprintln!("s3prune: deleting {key} failed: {why}");
        }
        if !report.failed.is_empty() {
            let total = report.failed.len() + report.removed;
            bail!("{} of {total} deletions failed", report.failed.len());
        }
        Ok(ExitCode::SUCCESS)
    })
}
