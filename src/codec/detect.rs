//! Recognise a stream by its first bytes, so `unpack`, `--splice` and (later)
//! `s3put --verify auto` never need to be told what they are reading.

use crate::archive::ustar;

/// What the first bytes of a stream say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `1f 8b`.
    Gzip,
    /// `28 b5 2f fd`.
    Zstd,
    /// Anything else is handed to the tar parser, which judges it.
    Tar,
    /// Formats we recognise but do not read; named so the error can say so.
    Unsupported(&'static str),
}

/// How many leading bytes [`detect`] wants to see (a tar header's magic sits
/// at offset 257).
pub const SNIFF_LEN: usize = 512;

/// Classify a stream from its first bytes (fewer than [`SNIFF_LEN`] is fine
/// for short streams).
pub fn detect(head: &[u8]) -> Format {
    match head {
        [0x1f, 0x8b, ..] => Format::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Format::Zstd,
        // A skippable frame (pzstd starts with one) is zstd too.
        [0x50..=0x5f, 0x2a, 0x4d, 0x18, ..] => Format::Zstd,
        [b'B', b'Z', b'h', ..] => Format::Unsupported("bzip2"),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Format::Unsupported("xz"),
        [0x04, 0x22, 0x4d, 0x18, ..] => Format::Unsupported("lz4"),
        _ => Format::Tar,
    }
}

/// True when `head` starts with a POSIX/GNU tar header ("ustar" magic).
pub fn is_tar_header(head: &[u8]) -> bool {
    head.get(ustar::MAGIC.start..ustar::MAGIC.start + 5) == Some(&b"ustar"[..])
}

/// True when the first 512 bytes are a tar header whose checksum holds
/// (old v7 archives have no magic, so the checksum is what tells), summed
/// over unsigned bytes or, as old HP-UX and v7 tars did, signed ones.
pub fn is_valid_tar_block(block: &[u8]) -> bool {
    if block.len() < 512 {
        return false;
    }
    let Ok(stored) = tar::Header::from_byte_slice(&block[..512]).cksum() else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block[..512].iter().enumerate() {
        let b = if ustar::CHKSUM.contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    i64::from(stored) == unsigned || i64::from(stored) == signed
}

impl Format {
    /// The name errors and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Format::Gzip => "gzip",
            Format::Zstd => "zstd",
            Format::Tar => "tar",
            Format::Unsupported(name) => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_magic_bytes() {
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Format::Gzip);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Format::Zstd);
        assert_eq!(detect(&[0x50, 0x2a, 0x4d, 0x18, 4, 0]), Format::Zstd);
        assert_eq!(detect(b"BZh91AY"), Format::Unsupported("bzip2"));
        assert_eq!(detect(b"\xfd7zXZ\0rest"), Format::Unsupported("xz"));
        assert_eq!(detect(b""), Format::Tar);
        let mut header = vec![0u8; 512];
        header[ustar::MAGIC].copy_from_slice(b"ustar\0");
        assert_eq!(detect(&header), Format::Tar);
        assert!(is_tar_header(&header));
        let mut valid = tar::Header::new_ustar();
        valid.set_path("x").unwrap();
        valid.set_cksum();
        assert!(is_valid_tar_block(valid.as_bytes()));
        let mut flipped = valid.as_bytes().to_vec();
        flipped[0] ^= 1;
        assert!(!is_valid_tar_block(&flipped));
        // A name byte over 127 summed as a signed char (HP-UX, v7).
        let mut signed = valid.as_bytes().to_vec();
        signed[0] = 0xe9;
        let sum: i64 = signed
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if ustar::CHKSUM.contains(&i) {
                    32
                } else {
                    i64::from(b as i8)
                }
            })
            .sum();
        signed[ustar::CHKSUM].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        assert!(is_valid_tar_block(&signed));
        assert!(!is_tar_header(&header[..200]));
    }
}
