//! `s3get`: clap flags → `s3::download`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use s3pipe::cli::{self, S3Args};
use s3pipe::s3::download::{GetOptions, download};
use s3pipe::s3::{S3Url, Store};
use s3pipe::{progress::Progress, stdio};

/// Download an S3 object to stdout: parallel ranged GETs, written in order,
/// pinned to one version, resumed on error.
#[derive(Parser)]
#[command(name = "s3get", version, after_help = cli::S3_EXIT_CODES)]
struct Args {
    /// Source, s3://bucket/key
    url: String,
    /// Size of each ranged GET
    #[arg(long, value_name = "SIZE", default_value = cli::DEFAULT_PART_SIZE, value_parser = cli::parse_size)]
    part_size: u64,
    /// Ranges fetched at once
    #[arg(long, value_name = "N", default_value_t = cli::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// Download this version
    #[arg(long, value_name = "ID")]
    version_id: Option<String>,
    /// Skip the integrity check (the stored CRC32C, else the ETag's MD5)
    #[arg(long)]
    no_verify: bool,
    /// Resume a body that sent nothing for this long
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = cli::parse_duration)]
    idle_timeout: u64,
    /// Print {url, size, etag, verified, seconds, content_type, metadata} as JSON on stderr when done
    #[arg(long)]
    json: bool,
    /// No progress bar
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    s3: S3Args,
}

fn main() -> ExitCode {
    cli::run("s3get", 1, || {
        let args = Args::parse();
        let url = S3Url::object(&args.url).map_err(cli::usage)?;
        let opts = GetOptions {
            part_size: args.part_size.max(1),
            concurrency: args.concurrency,
            version_id: args.version_id.clone(),
            verify: !args.no_verify,
            idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
            retries: args.s3.retries,
        };
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
            eprintln!(
                "{}",
                serde_json::json!({"url": url.to_string(), "size": report.size, "etag": report.etag,
                    "verified": report.verified, "seconds": report.seconds,
                    "content_type": report.content_type,
                    "metadata": report.metadata.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str()))).collect::<serde_json::Map<String, serde_json::Value>>()})
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
