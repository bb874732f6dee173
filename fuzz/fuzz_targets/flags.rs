//! s3:// URLs, sizes, durations and times as users type them: no panic,
//! and a parsed size or duration is never a wrapped value.
#![no_main]

use s3pipe::cli::{parse_duration, parse_size, parse_time};
use s3pipe::s3::url::S3Url;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = text.parse::<S3Url>();
    let _ = S3Url::object(text);
    if let Ok(n) = parse_size(text) {
        let digits: String = text.trim().chars().take_while(char::is_ascii_digit).collect();
        assert!(n >= digits.parse::<u64>().unwrap_or(0));
    }
    if let Ok(secs) = parse_duration(text) {
        assert!(i64::try_from(secs).is_ok());
    }
    let _ = parse_time(text);
});
