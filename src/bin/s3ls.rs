//! `s3ls`: clap flags → `s3::list`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use s3pipe::cli::{self, S3Args};
use s3pipe::s3::list::{LsOptions, ls, uploads};
use s3pipe::s3::{S3Url, Store};
use s3pipe::stdio;

/// List objects under an S3 prefix (like `aws s3 ls`), the latest one, the
/// complete backups, or in-progress multipart uploads.
#[derive(Parser)]
#[command(name = "s3ls", version, disable_help_flag = true, after_help = cli::S3_EXIT_CODES)]
struct Args {
    /// s3://bucket/prefix
    url: String,
    /// Every object under the prefix, not grouped by "/"
    #[arg(short, long)]
    recursive: bool,
    /// Human-readable sizes
    #[arg(short = 'h', long)]
    human_readable: bool,
    /// One JSON object per line
    #[arg(long)]
    json: bool,
    /// Print only the newest key (by key order: timestamped names)
    #[arg(long)]
    latest: bool,
    /// With --latest: newest by LastModified instead
    #[arg(long, requires = "latest")]
    by_mtime: bool,
    /// One line per complete backup (with a manifest), oldest first: STAMP, URL, suffixes, tab-separated (for scripts); with --json its objects too
    #[arg(long, conflicts_with_all = ["uploads", "by_mtime"])]
    backups: bool,
    /// List in-progress multipart uploads instead
    #[arg(long)]
    uploads: bool,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    #[command(flatten)]
    s3: S3Args,
}

fn main() -> ExitCode {
    cli::run("s3ls", 1, || {
        let args = Args::parse();
        let url: S3Url = args.url.parse().map_err(cli::usage)?;
        let mut out = stdio::stdout().context("opening stdout")?;
        let opts = LsOptions {
            recursive: args.recursive,
            human: args.human_readable,
            json: args.json,
            latest: args.latest,
            by_mtime: args.by_mtime,
            backups: args.backups,
        };
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
