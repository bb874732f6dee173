//! stdin → gzip (flate2 with the zlib-rs backend, one thread) → stdout.
//! Only for `make bench`, to compare gzip backends on the same corpus:
//! `gzip_flate2 [LEVEL]`.

use std::io::{self, Write};

fn main() -> io::Result<()> {
    let level = std::env::args()
        .nth(1)
        .map_or(6, |l| l.parse().expect("level 1-9"));
    let stdout = io::stdout().lock();
    let mut enc = flate2::write::GzEncoder::new(
        io::BufWriter::with_capacity(1 << 20, stdout),
        flate2::Compression::new(level),
    );
    io::copy(&mut io::stdin().lock(), &mut enc)?;
    enc.finish()?.flush()
}
