//! `s3put`: clap flags → `s3::upload`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use s3pipe::cli::{self, S3Args};
use s3pipe::codec::verify::Verify;
use s3pipe::s3::client::{Checksum, ObjectSettings};
use s3pipe::s3::parts::MIN_PART;
use s3pipe::s3::upload::{PutOptions, upload};
use s3pipe::s3::{S3Url, Store};
use s3pipe::{progress::Progress, stdio};

/// Upload stdin to S3 as one object: multipart, concurrent, bounded memory.
/// A truncated gzip, zstd or tar stream never becomes an object.
#[derive(Parser)]
#[command(name = "s3put", version, after_help = cli::S3_EXIT_CODES)]
struct Args {
    /// Destination, s3://bucket/key
    url: String,
    /// Size of each part (5MiB minimum)
    #[arg(long, value_name = "SIZE", default_value = cli::DEFAULT_PART_SIZE, value_parser = cli::parse_size)]
    part_size: u64,
    /// Parts uploaded at once
    #[arg(long, value_name = "N", default_value_t = cli::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// Checksum each part carries and the server verifies: crc32c, crc32, crc64nvme, sha256, md5, none
    #[arg(long, value_name = "ALG", default_value = "crc32c", ignore_case = true)]
    checksum: Checksum,
    /// Refuse a stream that does not end cleanly: auto (gzip, zstd, tar by their first bytes), none, gzip, zstd, tar
    #[arg(long, value_name = "KIND", default_value = "auto")]
    verify: Verify,
    /// Expected stream size: picks a part size that fits in 10,000 parts
    #[arg(long, value_name = "BYTES", value_parser = cli::parse_size)]
    expected_size: Option<u64>,
    /// Refuse unless the stream is exactly this many bytes
    #[arg(long, value_name = "BYTES", value_parser = cli::parse_size)]
    expect_size: Option<u64>,
    /// Keep every part the same size (fails past 10,000 parts)
    #[arg(long, conflicts_with = "grow_every")]
    fixed_part_size: bool,
    /// Double the part size every N parts, so that a stream of unknown size fits in 10,000 parts (8MiB parts reach 5 TiB)
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    grow_every: u32,
    /// Store an empty object when stdin is empty
    #[arg(long)]
    allow_empty: bool,
    /// Compute and report the stream's SHA-256
    #[arg(long)]
    sha256: bool,
    #[arg(long, value_name = "TYPE")]
    content_type: Option<String>,
    #[arg(long, value_name = "CLASS")]
    storage_class: Option<String>,
    /// Server-side encryption: AES256 or aws:kms
    #[arg(long, value_name = "ALG")]
    sse: Option<String>,
    #[arg(long, value_name = "ID")]
    sse_kms_key_id: Option<String>,
    /// User metadata (repeatable)
    #[arg(long, value_name = "K=V", value_parser = cli::parse_key_value)]
    metadata: Vec<(String, String)>,
    /// Object tag (repeatable)
    #[arg(long, value_name = "K=V", value_parser = cli::parse_key_value)]
    tag: Vec<(String, String)>,
    /// Refuse to overwrite an existing object
    #[arg(long)]
    if_none_match: bool,
    /// Canned ACL, e.g. private, bucket-owner-full-control
    #[arg(long)]
    acl: Option<String>,
    /// Print {url, size, etag, parts, sha256, seconds} as JSON on success
    #[arg(long)]
    json: bool,
    /// No progress bar, no warnings
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    s3: S3Args,
}

fn main() -> ExitCode {
    cli::run("s3put", 1, || {
        let args = Args::parse();
        let url = S3Url::object(&args.url).map_err(cli::usage)?;
        if args.part_size < MIN_PART {
            return Err(cli::usage(
                "--part-size must be at least 5MiB (S3's minimum)",
            ));
        }
        let tagging = (!args.tag.is_empty()).then(|| {
            args.tag
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&")
        });
        let opts = PutOptions {
            part_size: args.part_size,
            concurrency: args.concurrency,
            checksum: args.checksum,
            verify: args.verify,
            expected_size: args.expected_size,
            expect_size: args.expect_size,
            fixed_part_size: args.fixed_part_size,
            grow_every: args.grow_every,
            allow_empty: args.allow_empty,
            sha256: args.sha256,
            settings: ObjectSettings {
                content_type: args.content_type.clone(),
                storage_class: args.storage_class.clone(),
                sse: args.sse.clone(),
                sse_kms_key_id: args.sse_kms_key_id.clone(),
                metadata: args.metadata.clone(),
                tagging,
                acl: args.acl.clone(),
                if_none_match: args.if_none_match,
            },
        };
        let progress = Arc::new(Progress::new("s3put", args.quiet));
        let input = stdio::stdin().context("opening stdin")?;
        let result = cli::block_on(async {
            let store = Store::connect(&args.s3.connection()).await;
            upload(&store, &url, input, &opts, progress.clone()).await
        })?;
        progress.finish();
        match result {
            Ok(report) => {
                if args.json {
                    let mut value = serde_json::json!({
                        "url": url.to_string(), "size": report.size, "etag": report.etag,
                        "parts": report.parts, "seconds": report.seconds,
                    });
                    if let Some(sha) = report.sha256 {
                        value["sha256"] = sha.into();
                    }
                    println!("{value}");
                } else if let Some(sha) = report.sha256 {
                    eprintln!("s3put: {url}: {} bytes, sha256 {sha}", report.size);
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!("upload of {url} aborted"))),
        }
    })
}

/// Percent-encode a tag key or value (RFC 3986 unreserved kept).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
