//! What every S3 tool shares on its command line: the connection flags,
//! the measured part-size default, the transfer flags, the exit codes.

use crate::s3::concurrency::Budget;
use crate::s3::rate::RateLimit;

/// s3put's and s3get's part size, from the sweep `make bench` runs (see
/// bench/results.md): with 2 cores against a local Garage, 8 MiB parts are
/// as fast as 16 MiB parts in half the memory; how many are in flight
/// adapts ([`crate::s3::concurrency`]).
pub const DEFAULT_PART_SIZE: &str = "8MiB";

/// s3get's range size: ranges have no 5 MiB minimum, and within one memory
/// budget smaller ranges keep more in flight where a connection is slow
/// and far. 512 MiB through 80 ms and 20 MB/s per connection: 3.11 s with
/// 8 MiB ranges (13 in flight), 2.16 s with 4 MiB (26), 1.63 s with
/// 2 MiB; 1 GiB on loopback: 0.94–0.99 s, 0.92–1.01 s, 1.12 s. At s3get's
/// 64 MiB budget, 2 MiB (31 in flight) took 2.03–2.14 s at 80 ms and 4 MiB
/// (15) 2.38 s; 1 MiB 3.13 s (each range's round trip weighs more).
pub const DEFAULT_RANGE_SIZE: &str = "2MiB";

/// How s3put and s3get pace themselves: in flight, memory, rate.
#[derive(clap::Args, Debug, Clone)]
pub struct TransferArgs {
    /// Parts (s3put) or ranges (s3get) in flight, pinned to N (default: from 4, growing while throughput grows, within --max-memory)
    #[arg(long, value_name = "N", env = "S3PIPE_CONCURRENCY", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: Option<u16>,
    /// What the part or range buffers may hold; caps how many are in flight [default: 112MiB for s3put, 64MiB for s3get]
    #[arg(long, value_name = "SIZE", env = "S3PIPE_MAX_MEMORY", value_parser = super::parse_size)]
    pub max_memory: Option<u64>,
    /// One rate for all connections, e.g. 50MiB/s
    #[arg(long, value_name = "RATE", env = "S3PIPE_LIMIT_RATE", value_parser = super::parse_rate)]
    pub limit_rate: Option<u64>,
}

impl TransferArgs {
    /// `--concurrency`: pinned, or adaptive when absent.
    pub fn concurrency(&self) -> Option<usize> {
        self.concurrency.map(usize::from)
    }

    /// `--max-memory`, or the tool's `default`.
    pub fn budget(&self, default: u64) -> Budget {
        Budget {
            bytes: self.max_memory.unwrap_or(default),
        }
    }

    /// `--limit-rate`, if any.
    pub fn rate(&self) -> Option<RateLimit> {
        self.limit_rate.map(RateLimit::new)
    }
}

/// The connection flags every S3 tool takes.
#[derive(clap::Args, Debug, Clone)]
pub struct S3Args {
    /// S3 endpoint, e.g. http://127.0.0.1:3900 (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Region (default: the SDK's resolution, else us-east-1)
    #[arg(long)]
    pub region: Option<String>,
    /// Path-style addressing (the default for custom endpoints)
    #[arg(long, conflicts_with = "virtual_host")]
    pub path_style: bool,
    /// Virtual-host addressing (the default for AWS)
    #[arg(long)]
    pub virtual_host: bool,
    /// Do not sign requests (public buckets)
    #[arg(long)]
    pub no_sign_request: bool,
    /// Retries per call (exponential backoff with jitter)
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,
    /// Trust only the CA certificates in this PEM file for HTTPS (default: AWS_CA_BUNDLE, the profile's ca_bundle, else the system's)
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Option<std::path::PathBuf>,
    /// Do not check the server's TLS certificate (with a warning line), as the AWS CLI's flag
    #[arg(long, conflicts_with = "ca_bundle")]
    pub no_verify_ssl: bool,
}

impl S3Args {
    /// The endpoint, region, profile and checksum settings as one value;
    /// says, unless `quiet`, that certificates go unchecked.
    pub fn connection(&self, program: &str, quiet: bool) -> crate::s3::Connection {
        if self.no_verify_ssl && !quiet {
            eprintln!(
                "{program}: warning: --no-verify-ssl: the server's certificate is not checked"
            );
        }
        crate::s3::Connection {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            path_style: if self.path_style {
                Some(true)
            } else if self.virtual_host {
                Some(false)
            } else {
                None
            },
            no_sign_request: self.no_sign_request,
            retries: self.retries,
            ca_bundle: self.ca_bundle.clone(),
            request_timeout: None,
            no_verify_ssl: self.no_verify_ssl,
        }
    }
}

/// Exit codes of the S3 tools, for their `--help`.
pub const S3_EXIT_CODES: &str = "\
Exit status: 0 success; 1 failure (a one-line reason on stderr); 2 usage
error; 129/130/143 interrupted by SIGHUP/SIGINT/SIGTERM (after aborting any
upload); 141 stdout closed.";
