//! The values flags take: sizes (`64MiB`), durations (`7d`), times
//! (`2026-01-01`, `@EPOCH`) and `KEY=VALUE` pairs. Each rejects what it
//! cannot represent rather than wrapping.

/// Why a flag's value was refused (clap prints it as a usage error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("not a size: {0:?} (try 8M, 64MiB, 1048576)")]
    /// Not a number with an optional suffix.
    NotASize(String),
    #[error("unknown size suffix in {0:?} (use K, M, G or T)")]
    /// A suffix other than K, M, G, T (and their iB forms).
    SizeSuffix(String),
    #[error("size too large: {0:?}")]
    /// More than 64 bits hold.
    SizeTooLarge(String),
    #[error("not a time: {0:?} (use @EPOCH, YYYY-MM-DD[ HH:MM:SS] or RFC 3339)")]
    /// Not @EPOCH, a date or RFC 3339.
    NotATime(String),
    #[error("not a duration: {0:?} (try 30s, 15m, 12h, 7d)")]
    /// Not a number with a unit.
    NotADuration(String),
    #[error("unknown duration unit in {0:?} (s, m, h, d, w)")]
    /// A unit other than s, m, h, d, w.
    DurationUnit(String),
    #[error("duration too large: {0:?}")]
    /// More seconds than 64 bits hold.
    DurationTooLarge(String),
    #[error("rate too low (at least 1KiB/s): {0:?}")]
    /// Below the 1 KiB/s `--limit-rate` accepts.
    RateTooLow(String),
    #[error("expected KEY=VALUE, got {0:?}")]
    /// A `--metadata`/`--tag` value with no `=` or an empty key.
    NotKeyValue(String),
    #[error("not a SHA-256: {0:?} (64 hex digits)")]
    /// Not 64 hex digits.
    NotASha256(String),
}

/// A byte count: `1048576`, `128K`, `64M`, `5MiB`, `1G`, `2T`. Suffixes are
/// binary (K = 1024) whether or not they say `i`, as `aws s3` and rclone
/// read them.
pub fn parse_size(text: &str) -> Result<u64, ValueError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| ValueError::NotASize(text.into()))?;
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(ValueError::SizeSuffix(text.into())),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| ValueError::SizeTooLarge(text.into()))
}

/// A rate for `--limit-rate`: a size per second, `50MiB/s` or `50M` (the
/// `/s` optional, as in rclone's `--bwlimit` and curl's `--limit-rate`);
/// at least 1KiB/s.
pub fn parse_rate(text: &str) -> Result<u64, ValueError> {
    let t = text.trim();
    let size = t.strip_suffix("/s").unwrap_or(t);
    match parse_size(size)? {
        n if n >= 1024 => Ok(n),
        _ => Err(ValueError::RateTooLow(text.into())),
    }
}

/// A point in time for `--mtime`: `@EPOCH`, `EPOCH`, `YYYY-MM-DD`,
/// `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339. Returns Unix seconds (negative
/// before 1970: pack stores those in a PAX record).
pub fn parse_time(text: &str) -> Result<i64, ValueError> {
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
        return Err(ValueError::NotATime(text.into()));
    };
    Ok(secs)
}

/// A duration: `90`, `90s`, `30m`, `12h`, `7d`. Returns seconds.
pub fn parse_duration(text: &str) -> Result<u64, ValueError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| ValueError::NotADuration(text.into()))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(ValueError::DurationUnit(text.into())),
    };
    // Seconds are compared with signed Unix times: past i64 it would wrap
    // (213503982334602d once became 17 hours and deleted backups).
    n.checked_mul(mult)
        .filter(|&secs| i64::try_from(secs).is_ok())
        .ok_or_else(|| ValueError::DurationTooLarge(text.into()))
}

/// `KEY=VALUE` for `--metadata` and `--tag`.
pub fn parse_key_value(text: &str) -> Result<(String, String), ValueError> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| ValueError::NotKeyValue(text.into()))
}

/// A SHA-256 as 64 hex digits, for `--expect-sha256`; kept lowercase, as
/// `sha256sum` and `s3put --sha256` print it.
pub fn parse_sha256(text: &str) -> Result<String, ValueError> {
    let hex = text.trim();
    match hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        true => Ok(hex.to_ascii_lowercase()),
        false => Err(ValueError::NotASha256(text.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_64_hex_digits() {
        let upper = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        assert_eq!(parse_sha256(upper), Ok(upper.to_ascii_lowercase()));
        for bad in ["", "e3b0", &format!("{upper}0"), &upper.replace('E', "g")] {
            assert_eq!(parse_sha256(bad), Err(ValueError::NotASha256(bad.into())));
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("128K"), Ok(128 << 10));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("5MiB"), Ok(5 << 20));
        assert_eq!(parse_size("8MB"), Ok(8 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("M").is_err());
        assert_eq!(parse_rate("50MiB/s"), Ok(50 << 20));
        assert_eq!(parse_rate("10M"), Ok(10 << 20));
        assert_eq!(
            parse_rate("100/s"),
            Err(ValueError::RateTooLow("100/s".into()))
        );
        assert!(parse_rate("fast").is_err());
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
}
#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn durations_and_pairs() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert!(parse_duration("soon").is_err());
        assert_eq!(
            parse_duration("213503982334602d"),
            Err(ValueError::DurationTooLarge("213503982334602d".into()))
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
