//! `s3rm`: parse flags (cli::rm) → `s3::delete::rm` → what was done.

use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use s3pipe::cli::{self, rm::Args};
use s3pipe::s3::Store;
use s3pipe::s3::delete::rm;

fn main() -> ExitCode {
    cli::run("s3rm", 1, || {
        let args = Args::parse();
        let (urls, opts) = args.options()?;
        let report = cli::block_on(async {
            let store = Store::connect(&args.s3.connection()).await;
            rm(&store, &urls, &opts).await
        })??;
        if !args.quiet {
            report.done.iter().for_each(|line| println!("{line}"));
        }
        for (name, why) in &report.failed {
            eprintln!("s3rm: {name}: {why}");
        }
        if !report.failed.is_empty() {
            let total = report.failed.len() + report.done.len();
            bail!("{} of {total} deletions failed", report.failed.len());
        }
        Ok(ExitCode::SUCCESS)
    })
}
