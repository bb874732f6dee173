//! The stream-completeness checks behind `s3put --verify` (auto, gzip,
//! zstd, tar) and format detection, fed in uneven pieces: no panic, and a
//! verdict for every input.
#![no_main]

use bytes::Bytes;
use s3pipe::codec::detect::detect;
use s3pipe::codec::verify::{StreamCheck, Verify};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = detect(data);
    let split = data.first().map_or(1, |&b| usize::from(b) + 1);
    for mode in [Verify::Auto, Verify::Gzip, Verify::Zstd, Verify::Tar] {
        let mut check = StreamCheck::new(mode);
        let mut fed = Ok(());
        for piece in data.chunks(split) {
            fed = check.feed(Bytes::copy_from_slice(piece));
            if fed.is_err() {
                break;
            }
        }
        if fed.is_ok() {
            let _ = check.finish();
        }
    }
});
