//! `s3pipe post`'s command line: the job's helper for its pings
//! (`NOTIFY_URL`) and its Pushgateway push (scripts/report.sh), not one of
//! the seven tools: the body on stdin → [`notify::Post`](crate::notify::Post).

use std::io::Read;
use std::time::Duration;

use clap::Parser;

use crate::notify::Post;

/// POST stdin to URL (http or https; user:password@ for basic auth) and
/// wait at most --timeout for the answer: exit 0 on 2xx, else 1 with one line
#[derive(Parser)]
#[command(name = "s3pipe post", version = super::VERSION)]
pub struct Args {
    /// Where to POST, e.g. https://hc-ping.com/UUID/start
    pub url: String,
    /// The whole exchange's deadline: connect, TLS, request, answer
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = super::parse_duration)]
    pub timeout: u64,
    /// The body's Content-Type
    #[arg(long, value_name = "TYPE", default_value = "application/json")]
    pub content_type: String,
    /// Trust only the CA certificates in this PEM file (default: the system's, or SSL_CERT_FILE)
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Option<std::path::PathBuf>,
}

impl Args {
    /// The request, with stdin read whole (a summary line, some metrics).
    pub fn post(&self) -> std::io::Result<Post> {
        let mut body = Vec::new();
        std::io::stdin().lock().read_to_end(&mut body)?;
        Ok(Post {
            url: self.url.clone(),
            body,
            content_type: self.content_type.clone(),
            timeout: Duration::from_secs(self.timeout.max(1)),
            ca_bundle: self.ca_bundle.clone(),
        })
    }
}
