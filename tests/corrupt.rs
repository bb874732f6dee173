//! Corrupt and truncated input: every case is an error with a clear message
//! and exit 2, never a panic, a hang or a file that looks whole.

mod support;

use std::fs;

use support::*;

/// A small archive with one file big enough to span several gzip blocks.
fn sample(format: &str) -> (tempfile::TempDir, Vec<u8>) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a.txt"), b"first file\n").unwrap();
    fs::write(src.join("big.bin"), random_bytes(600_000, 5)).unwrap();
    fs::write(src.join("z.txt"), "last file\n".repeat(1000)).unwrap();
    let out = run(
        bin("pack"),
        &[
            "-C",
            src.to_str().unwrap(),
            format,
            "--block-size",
            "64K",
            ".",
        ],
        b"",
    );
    assert_eq!(code(&out), 0);
    (tmp, out.stdout)
}

fn fails(input: &[u8], fragment: &str) -> tempfile::TempDir {
    let dest = tempfile::tempdir().unwrap();
    let out = run(bin("unpack"), &["-C", dest.path().to_str().unwrap()], input);
    assert_eq!(
        code(&out),
        2,
        "must fail with {fragment:?}: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(fragment),
        "wanted {fragment:?} in: {}",
        stderr(&out)
    );
    assert!(stderr(&out).starts_with("unpack: "), "{}", stderr(&out));
    let leftovers: Vec<_> = fs::read_dir(dest.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".s3pipe-unpack-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // The listing mode checks the same way.
    let list = run(bin("unpack"), &["-t"], input);
    assert_eq!(code(&list), 2, "-t must fail too: {}", stderr(&list));
    dest
}

#[test]
fn truncated_gzip_anywhere_fails() {
    let (_t, gz) = sample("--gzip");
    for cut in [
        gz.len() / 3,
        gz.len() / 2,
        gz.len() - 20,
        gz.len() - 4,
        gz.len() - 1,
    ] {
        fails(&gz[..cut], "truncated gzip");
    }
}

#[test]
fn truncated_zstd_fails() {
    let (_t, zst) = sample("--zstd");
    for cut in [zst.len() / 2, zst.len() - 3] {
        fails(&zst[..cut], "truncated zstd");
    }
}

#[test]
fn truncated_plain_tar_fails_and_leaves_no_partial_file() {
    let (_t, tar) = sample("--none");
    // Inside big.bin's data: the file must not be left looking whole.
    let dest = fails(&tar[..300_000], "big.bin is cut short");
    assert!(
        fs::read(dest.path().join("a.txt")).is_ok(),
        "complete files before the cut stay"
    );
    assert!(
        !dest.path().join("big.bin").exists(),
        "the cut file must not exist"
    );
    // At an entry boundary, before or between the end-of-archive blocks.
    let end = tar.iter().rposition(|&b| b != 0).unwrap().div_ceil(512) * 512;
    fails(&tar[..end], "no end-of-archive marker");
    fails(&tar[..end + 512], "second end-of-archive block missing");
}

#[test]
fn flipped_bits_fail() {
    let (_t, gz) = sample("--gzip");
    let mut bad = gz.clone();
    let n = bad.len();
    bad[n / 2] ^= 0x10;
    let dest = tempfile::tempdir().unwrap();
    let out = run(bin("unpack"), &["-C", dest.path().to_str().unwrap()], &bad);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("corrupt gzip stream"),
        "{}",
        stderr(&out)
    );
    // The CRC of the last member.
    let mut crc = gz.clone();
    crc[n - 8] ^= 1;
    fails(&crc, "corrupt gzip stream");
    // ISIZE of the last member.
    let mut isize = gz;
    isize[n - 2] ^= 1;
    fails(&isize, "corrupt gzip stream");
}

/// Offset of the header of member `name` in a plain tar.
fn header_of(tar: &[u8], name: &[u8]) -> usize {
    let at = tar.windows(name.len()).position(|w| w == name).unwrap();
    assert_eq!(at % 512, 0, "names start headers");
    at
}

#[test]
fn bad_tar_header_checksum_fails() {
    let (_t, tar) = sample("--none");
    let mut first = tar.clone();
    first[0] ^= 0x01;
    fails(&first, "input is not a tar archive");
    let mut later = tar;
    let at = header_of(&later, b"./big.bin");
    later[at + 3] ^= 0x01;
    fails(&later, "checksum mismatch");
}

#[test]
fn garbage_after_the_end_fails() {
    let (_t, mut tar) = sample("--none");
    tar.extend_from_slice(b"trailing garbage");
    fails(&tar, "garbage after the end-of-archive marker");
    let (_t, mut gz) = sample("--gzip");
    gz.extend_from_slice(b"trailing garbage");
    fails(&gz, "corrupt gzip stream");
}

#[test]
fn empty_and_unsupported_inputs_fail_clearly() {
    fails(b"", "no input");
    fails(
        b"BZh91AY&SY\x00\x00",
        "bzip2-compressed input is not supported",
    );
    fails(
        b"\xfd7zXZ\x00\x00\x04",
        "xz-compressed input is not supported",
    );
    fails(
        &random_bytes(4096, 1),
        "input is not a tar archive (nor gzip or zstd compressed)",
    );
    // Garbage in a later header: the parser's message, escaped, one line.
    let (_t, mut tar) = sample("--none");
    let at = header_of(&tar, b"./big.bin");
    tar[at..at + 512].copy_from_slice(&random_bytes(512, 2));
    fails(&tar, "corrupt input");
}
