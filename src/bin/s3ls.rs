//! `s3ls`: parse flags (cli::ls) → `s3::list`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use s3pipe::cli::{self, ls::Args};
use s3pipe::s3::Store;
use s3pipe::s3::list::{ls, uploads};
use s3pipe::stdio;

fn main() -> ExitCode {
    cli::run("s3ls", 1, || {
        let args = Args::parse();
        let (url, opts) = args.options()?;
        let mut out = stdio::stdout().context("opening stdout")?;
        cli::block_on(async {
            let store = Store::connect(&args.s3.connection()).await;
            if args.uploads {
                uploads(&store, &url, args.json, &mut out).await.map(|_| ())
            } else {
                ls(&store, &url, &opts, &mut out).await
            }
        })?
        .with_context(|| format!("listing {url}"))?;
        Ok(ExitCode::SUCCESS)
    })
}
