//! unpack -tv and --json listings of arbitrary bytes: no panic.
#![no_main]

use s3pipe::archive::list::{ListFormat, list};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for format in [ListFormat::Long, ListFormat::Json] {
        let mut out = Vec::new();
        let _ = list(std::io::Cursor::new(data.to_vec()), format, Default::default(), &mut out, |_| {});
    }
});
