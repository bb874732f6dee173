//! What the binaries share: running a tool with one-line errors and
//! meaningful exit codes, and the small parsers behind their flags.

use std::ffi::OsString;
use std::process::ExitCode;

/// Exit code when a downstream reader closed the pipe: what a shell reports
/// for a process killed by SIGPIPE (128 + 13).
pub const EXIT_BROKEN_PIPE: u8 = 141;

/// Run a tool's body. An error prints one line, `program: what: why`, and
/// exits with `fail_code`; a closed stdout exits 141 without a word.
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
            ExitCode::from(fail_code)
        }
    }
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
/// `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339. Returns Unix seconds.
pub fn parse_time(text: &str) -> Result<u64, String> {
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
    u64::try_from(secs).map_err(|_| format!("time before 1970: {text:?}"))
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
