//! What every S3 tool shares on its command line: the connection flags,
//! the measured part-size and concurrency defaults, the exit codes.

/// s3put's and s3get's defaults, from the sweep `make bench` runs (see
/// bench/results.md): with 2 cores against a local Garage, 8 MiB parts with
/// 4 in flight are as fast as 16 MiB parts or 8 in flight, in the least
/// memory. (Against a distant store more in flight may pay: the flags.)
pub const DEFAULT_PART_SIZE: &str = "8MiB";
pub const DEFAULT_CONCURRENCY: usize = 4;

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
}

impl S3Args {
    pub fn connection(&self) -> crate::s3::Connection {
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
        }
    }
}

/// Exit codes of the S3 tools, for their `--help`.
pub const S3_EXIT_CODES: &str = "\
Exit status: 0 success; 1 failure (a one-line reason on stderr); 2 usage
error; 129/130/143 interrupted by SIGHUP/SIGINT/SIGTERM (after aborting any
upload); 141 stdout closed.";
