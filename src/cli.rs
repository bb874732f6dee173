//! What the binaries share: running a tool with one-line errors and
//! meaningful exit codes, and the small parsers behind their flags.

use std::ffi::OsString;
use std::process::ExitCode;

/// Exit code when a downstream reader closed the pipe: what a shell reports
/// for a process killed by SIGPIPE (128 + 13).
pub const EXIT_BROKEN_PIPE: u8 = 141;

/// Run a tool's body. An error prints one line, `program: what: why`, and
/// exits with `fail_code` (2 for a [`UsageError`], 128+N after signal N);
/// a closed stdout exits 141 without a word.
pub fn run(
    program: &str,
    fail_code: u8,
    body: impl FnOnce() -> anyhow::Result<ExitCode>,
) -> ExitCode {
    match body() {
        Ok(code) => code,
        Err(err) if crate::stdio::is_broken_pipe(&err) => ExitCode::from(EXIT_BROKEN_PIPE),
        Err(err) => {
            eprintln!("{program}: {err:#}");
            ExitCode::from(exit_code(&err).unwrap_or(fail_code))
        }
    }
}

/// The exit code the error chain asks for: 2 for a usage error, 128 + N
/// for an upload ended by signal N (also when aborting it failed too).
fn exit_code(err: &anyhow::Error) -> Option<u8> {
    err.chain().find_map(|e| {
        if e.is::<UsageError>() {
            return Some(2);
        }
        e.downcast_ref::<crate::s3::upload::UploadError>()
            .and_then(crate::s3::upload::UploadError::exit_code)
    })
}

/// A command line that cannot work (bad URL, bad value): exit 2, as clap's
/// own usage errors do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A [`UsageError`] as an `anyhow::Error`, for `map_err`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// pigz/gzip spell levels `-1` … `-9`; clap cannot, so those arguments
/// become `--level=N` before parsing (only before a `--`).
pub fn expand_level_flags(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut seen_dashdash = false;
    args.into_iter()
        .map(|arg| {
            if arg == "--" {
                seen_dashdash = true;
            }
            match arg.to_str() {
                Some(s)
                    if !seen_dashdash
                        && s.len() == 2
                        && s.starts_with('-')
                        && s.as_bytes()[1].is_ascii_digit()
                        && s != "-0" =>
                {
                    OsString::from(format!("--level={}", &s[1..]))
                }
                _ => arg,
            }
        })
        .collect()
}

/// A byte count: `1048576`, `128K`, `64M`, `5MiB`, `1G`, `2T`. Suffixes are
/// binary (K = 1024) whether or not they say `i`, as `aws s3` and rclone
/// read them.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("not a size: {text:?} (try 8M, 64MiB, 1048576)"))?;
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => {
            return Err(format!(
                "unknown size suffix in {text:?} (use K, M, G or T)"
            ));
        }
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size too large: {text:?}"))
}

/// A point in time for `--mtime`: `@EPOCH`, `EPOCH`, `YYYY-MM-DD`,
/// `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339. Returns Unix seconds (negative
/// before 1970: pack stores those in a PAX record).
pub fn parse_time(text: &str) -> Result<i64, String> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let t = text.trim();
    let secs = if let Ok(n) = t.trim_start_matches('@').parse::<i64>() {
        n
    } else if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        dt.timestamp()
    } else if let Ok(dt) = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S") {
        dt.and_utc().timestamp()
    } else if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp()
    } else {
        return Err(format!(
            "not a time: {text:?} (use @EPOCH, YYYY-MM-DD[ HH:MM:SS] or RFC 3339)"
        ));
    };
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("128K"), Ok(128 << 10));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("5MiB"), Ok(5 << 20));
        assert_eq!(parse_size("8MB"), Ok(8 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("M").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("@1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_time("2023-11-14 22:13:20"), Ok(1_700_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000));
        assert_eq!(parse_time("1970-01-02"), Ok(86_400));
        assert_eq!(parse_time("1969-12-31"), Ok(-86_400));
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn level_flags() {
        let args = ["pack", "-9", "-C", "x", "-p", "2", "--", "-1"].map(OsString::from);
        let out = expand_level_flags(args);
        assert_eq!(
            out,
            ["pack", "--level=9", "-C", "x", "-p", "2", "--", "-1"].map(OsString::from)
        );
    }
}

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

/// Run an async body on a multi-threaded tokio runtime.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future))
}

/// A duration: `90`, `90s`, `30m`, `12h`, `7d`. Returns seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("not a duration: {text:?} (try 30s, 15m, 12h, 7d)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("unknown duration unit in {text:?} (s, m, h, d, w)")),
    };
    // Seconds are compared with signed Unix times: past i64 it would wrap
    // (213503982334602d once became 17 hours and deleted backups).
    n.checked_mul(mult)
        .filter(|&secs| i64::try_from(secs).is_ok())
        .ok_or_else(|| format!("duration too large: {text:?}"))
}

/// `KEY=VALUE` for `--metadata` and `--tag`.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

#[cfg(test)]
mod s3_flag_tests {
    use super::*;

    #[test]
    fn durations_and_pairs() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert!(parse_duration("soon").is_err());
        assert_eq!(
            parse_duration("213503982334602d"),
            Err("duration too large: \"213503982334602d\"".into())
        );
        assert!(parse_duration("18446744073709551615").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
        assert_eq!(
            parse_duration("106751991167300d"),
            Ok(106_751_991_167_300 * 86_400)
        );
        assert_eq!(parse_key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_key_value("=x").is_err());
        assert!(parse_key_value("novalue").is_err());
    }
}
