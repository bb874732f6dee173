//! `s3rm`: clap flags → `s3::delete::rm`.

use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use s3pipe::cli::{self, S3Args};
use s3pipe::s3::delete::{RmOptions, rm};
use s3pipe::s3::{S3Url, Store};

/// Delete S3 objects, or abort multipart uploads left behind by a killed
/// upload (--uploads).
#[derive(Parser)]
#[command(name = "s3rm", version, after_help = cli::S3_EXIT_CODES)]
struct Args {
    /// s3://bucket/key (or a prefix with --recursive or --uploads)
    #[arg(required = true)]
    urls: Vec<String>,
    /// Delete every object under the prefix
    #[arg(long)]
    recursive: bool,
    /// Say what would be deleted, delete nothing
    #[arg(long)]
    dry_run: bool,
    /// Abort in-progress multipart uploads under the prefix
    #[arg(long, conflicts_with = "recursive")]
    uploads: bool,
    /// With --uploads: only those started longer ago than this (e.g. 1d, 12h)
    #[arg(long, value_name = "DURATION", requires = "uploads", value_parser = cli::parse_duration)]
    older_than: Option<u64>,
    /// Print nothing on success
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    s3: S3Args,
}

fn main() -> ExitCode {
    cli::run("s3rm", 1, || {
        let args = Args::parse();
        let urls = args
            .urls
            .iter()
            .map(|u| {
                if args.recursive || args.uploads {
                    u.parse()
                } else {
                    S3Url::object(u)
                }
            })
            .collect::<Result<Vec<S3Url>, String>>()
            .map_err(cli::usage)?;
        let opts = RmOptions {
            recursive: args.recursive,
            dry_run: args.dry_run,
            uploads: args.uploads,
            older_than: args.older_than,
        };
        let report = cli::block_on(async {
            let store = Store::connect(&args.s3.connection()).await;
            rm(&store, &urls, &opts).await
        })??;
        if !args.quiet {
            for line in &report.done {
                println!("{line}");
            }
        }
        for (name, why) in &report.failed {
            eprintln!("s3rm: {name}: {why}");
        }
        if !report.failed.is_empty() {
            bail!(
                "{} of {} deletions failed",
                report.failed.len(),
                report.failed.len() + report.done.len()
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
