//! The same bytes gzip-wrapped, so the tar parser behind the decoder is
//! reached with inputs that the format detector would otherwise turn away.
#![no_main]

mod common;

use std::io::Write;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    common::unpack_in_sandbox(gz.finish().unwrap());
});
