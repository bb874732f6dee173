//! `s3put`: parse flags (cli::put) → `s3::upload` → print the report.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use s3pipe::cli::{self, put::Args};
use s3pipe::s3::Store;
use s3pipe::s3::upload::upload;
use s3pipe::{progress::Progress, stdio};

fn main() -> ExitCode {
    cli::run("s3put", 1, || {
        let args = Args::parse();
        let (url, opts) = args.options()?;
        let progress = Arc::new(Progress::new("s3put", args.quiet));
        let input = stdio::stdin().context("opening stdin")?;
        let result = cli::block_on(async {
            let store = Store::connect(&args.s3.connection()).await;
            upload(&store, &url, input, &opts, progress.clone()).await
        })?;
        progress.finish();
        let report = result.with_context(|| format!("upload of {url} aborted"))?;
        match cli::put::report(&url, &report, args.json) {
            Some((true, line)) => println!("{line}"),
            Some((false, line)) => eprintln!("{line}"),
            None => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}
