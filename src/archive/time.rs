//! Timestamps as tar stores them: whole seconds in a header field (octal,
//! or GNU base-256 for values octal cannot hold — negative ones included),
//! or a PAX decimal with a fraction (`mtime=-1.25`, what Python's tarfile
//! writes for every member). Both directions, signed, and never a panic:
//! a value no file system time can hold is `None`, which the callers report.

/// A point in time with nanoseconds; `secs` may be negative (before 1970).
/// `nanos` is always below one second and counts forward from `secs`, so
/// -1.25 s is `{ secs: -2, nanos: 750_000_000 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Mtime {
    /// Whole seconds since the epoch (negative before 1970).
    pub secs: i64,
    /// Nanoseconds after `secs`.
    pub nanos: u32,
}

/// Largest value a 12-byte octal header field holds (year 2242).
const MAX_OCTAL_TIME: i64 = 0o777_7777_7777;

impl Mtime {
    /// A whole-second time.
    pub fn from_secs(secs: i64) -> Mtime {
        Mtime { secs, nanos: 0 }
    }

    /// Parse a PAX time: `[-]SECONDS[.FRACTION]` (digits past nanoseconds
    /// are dropped, as GNU tar does). What follows the leading number is
    /// ignored, as GNU tar ignores it: `1748089464.951928467a` is that
    /// time, `999xxx9324.43` is 999 (libarchive's test archives).
    pub fn parse_pax(text: &[u8]) -> Option<Mtime> {
        let text = std::str::from_utf8(text).ok()?.trim();
        let (negative, text) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let digits = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let whole = &text[..digits(text)];
        let frac = match text[whole.len()..].strip_prefix('.') {
            Some(rest) => &rest[..digits(rest)],
            None => "",
        };
        if whole.is_empty() && frac.is_empty() {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut nanos = 0u32;
        for (i, d) in frac.bytes().take(9).enumerate() {
            nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
        }
        if !negative {
            return Some(Mtime { secs: whole, nanos });
        }
        let secs = whole.checked_neg()?;
        Some(if nanos == 0 {
            Mtime { secs, nanos }
        } else {
            Mtime {
                secs: secs.checked_sub(1)?,
                nanos: 1_000_000_000 - nanos,
            }
        })
    }

    /// The PAX form: `SECONDS` or `SECONDS.FRACTION` (trailing zeros cut).
    pub fn to_pax(self) -> String {
        if self.nanos == 0 {
            return self.secs.to_string();
        }
        let (secs, nanos) = if self.secs < 0 {
            // -2 s + 0.75 s is written -1.25.
            (self.secs + 1, 1_000_000_000 - self.nanos)
        } else {
            (self.secs, self.nanos)
        };
        let sign = if self.secs < 0 && secs == 0 { "-" } else { "" };
        let frac = format!("{nanos:09}");
        format!("{sign}{secs}.{}", frac.trim_end_matches('0'))
    }

    /// True when a ustar header's octal field can hold it exactly.
    pub fn fits_octal(self) -> bool {
        self.nanos == 0 && (0..=MAX_OCTAL_TIME).contains(&self.secs)
    }

    /// The time to set on an extracted file.
    pub fn to_file_time(self) -> filetime::FileTime {
        filetime::FileTime::from_unix_time(self.secs, self.nanos)
    }
}

/// A numeric header field: octal text (spaces and NULs around it allowed),
/// or GNU base-256 (first byte 0x80 positive, 0xff negative, big-endian
/// two's complement over the whole field). `None` when it is neither or
/// does not fit an `i64`.
pub fn numeric_field(field: &[u8]) -> Option<i64> {
    match field.first() {
        Some(&b) if b & 0x80 != 0 => base256(field),
        _ => {
            // As GNU tar reads it: one leading NUL skipped (a buggy old tar
            // wrote one when the field before overflowed), then spaces,
            // then octal digits up to a NUL, a space or the field's end.
            // A field that starts with more NULs is 0, as GNU tar and
            // Python read it (libarchive's timestamp_overflow archive).
            let field = field.strip_prefix(b"\0").unwrap_or(field);
            let start = field.iter().position(|&b| b != b' ').unwrap_or(field.len());
            let field = &field[start..];
            let end = (field.iter())
                .position(|b| !(b'0'..=b'7').contains(b))
                .unwrap_or(field.len());
            let (digits, rest) = field.split_at(end);
            if rest.first().is_some_and(|&b| b != 0 && b != b' ') {
                return None;
            }
            if digits.is_empty() {
                return Some(0);
            }
            i64::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()
        }
    }
}

fn base256(field: &[u8]) -> Option<i64> {
    // Header fields are at most 12 bytes: 96 bits always fit an i128.
    if field.len() > 15 {
        return None;
    }
    let negative = field[0] == 0xff;
    let mut value: i128 = if negative { -1 } else { 0 };
    for (i, &b) in field.iter().enumerate() {
        let b = if i == 0 && !negative { b & 0x7f } else { b };
        value = (value << 8) | i128::from(b);
    }
    i64::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_both_ways() {
        let cases: &[(&str, i64, u32)] = &[
            ("0", 0, 0),
            ("1700000000", 1_700_000_000, 0),
            ("1700000000.5", 1_700_000_000, 500_000_000),
            ("1795616772.347119958", 1_795_616_772, 347_119_958),
            ("-1", -1, 0),
            ("-1.25", -2, 750_000_000),
            ("-0.5", -1, 500_000_000),
            ("-300000000.000000001", -300_000_001, 999_999_999),
        ];
        for &(text, secs, nanos) in cases {
            let t = Mtime::parse_pax(text.as_bytes()).unwrap();
            assert_eq!(t, Mtime { secs, nanos }, "{text}");
            assert_eq!(t.to_pax(), text, "{text}");
        }
        assert_eq!(
            Mtime::parse_pax(b"12.1234567891").unwrap().nanos,
            123_456_789
        );
        for bad in ["", "-", ".", "99999999999999999999", "--1"] {
            assert_eq!(Mtime::parse_pax(bad.as_bytes()), None, "{bad:?}");
        }
        // The leading number, as GNU tar 1.34 reads these (checked).
        for (text, secs) in [("1e9", 1), ("12a", 12), ("999xxx9324.43", 999)] {
            assert_eq!(
                Mtime::parse_pax(text.as_bytes()),
                Some(Mtime::from_secs(secs)),
                "{text}"
            );
        }
    }

    #[test]
    fn header_fields_octal_and_base256() {
        assert_eq!(numeric_field(b"00000001750\0"), Some(1000));
        assert_eq!(numeric_field(b"     1750 \0\0"), Some(1000));
        assert_eq!(numeric_field(b"\0\0\0\0\0\0\0\0\0\0\0\0"), Some(0));
        assert_eq!(numeric_field(b"0000000x750\0"), None);
        // GNU tar skips one leading NUL; after two the field is 0.
        assert_eq!(numeric_field(b"\x0000000016\0"), Some(14));
        assert_eq!(numeric_field(b"\0\x000000000016"), Some(0));
        // -1 and -315619200 (1960-01-01) in GNU base-256.
        assert_eq!(numeric_field(&[0xff; 12]), Some(-1));
        let mut f = [0xffu8; 12];
        f[8..].copy_from_slice(&(-315_619_200i32).to_be_bytes());
        assert_eq!(numeric_field(&f), Some(-315_619_200));
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[4..].copy_from_slice(&(1u64 << 40).to_be_bytes());
        assert_eq!(numeric_field(&big), Some(1 << 40));
        // Past i64 either way: None, never a wrap or a panic.
        let mut huge = [0u8; 12];
        huge[0] = 0x80;
        huge[3] = 1;
        assert_eq!(numeric_field(&huge), None);
        let mut low = [0xffu8; 12];
        low[3] = 0x7f;
        assert_eq!(numeric_field(&low), None);
    }

    #[test]
    fn ustar_range() {
        assert!(!Mtime::from_secs(-5).fits_octal());
        assert!(Mtime::from_secs(5).fits_octal());
        assert!(!Mtime { secs: 5, nanos: 1 }.fits_octal());
        assert!(!Mtime::from_secs(0o777_7777_7777 + 1).fits_octal());
    }
}
