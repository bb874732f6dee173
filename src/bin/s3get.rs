//! `s3get`: parse flags (cli::get) → `s3::download` → the report.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use s3pipe::cli::{self, get::Args};
use s3pipe::s3::Store;
use s3pipe::s3::download::download;
use s3pipe::{progress::Progress, stdio};

fn main() -> ExitCode {
    cli::run("s3get", 1, || {
        let args = Args::parse();
        let (url, opts) = args.options()?;
        let progress = Arc::new(Progress::new("s3get", args.quiet));
        // Unbuffered: s3get writes whole ranges with vectored writes.
        let out = stdio::stdout_raw().context("opening stdout")?;
        let result = cli::block_on(async {
            let store = Store::connect(&args.s3.connection()).await;
            download(&store, &url, out, &opts, progress.clone()).await
        })?;
        progress.finish();
        let report = result.with_context(|| format!("download of {url} failed"))?;
        if args.json {
            eprintln!("{}", cli::get::report(&url, &report));
        }
        Ok(ExitCode::SUCCESS)
    })
}
