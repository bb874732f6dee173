//! Inputs made at test time: pseudo-random bytes, age keys (`age-keygen`),
//! Python-made archives.

use std::path::Path;

use super::programs::{code, run, stderr};

/// A mebibyte, the unit of the S3 tests' sizes.
pub const MIB: usize = 1 << 20;

/// Deterministic pseudo-random bytes (xorshift), `seed` picks the stream.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// An age key pair made by `age-keygen -o path`; returns the public key.
pub fn age_keygen(path: &Path) -> String {
    let out = run("age-keygen", &["-o", path.to_str().unwrap()], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let said = stderr(&out);
    said.trim()
        .strip_prefix("Public key: ")
        .unwrap_or_else(|| panic!("age-keygen said {said}"))
        .to_string()
}

/// A `.tar.gz` of `members` (relative to `dir`) made the way Python jobs
/// make them (tarfile, `w:gz`, PAX headers with fractional mtimes).
pub fn python_tar_gz(dir: &Path, members: &[&str], out: &Path) {
    let made = run(
        "python3",
        &[
            "-c",
            "import sys, tarfile, os\n\
             os.chdir(sys.argv[1])\n\
             with tarfile.open(sys.argv[2], 'w:gz', format=tarfile.PAX_FORMAT) as t:\n\
             \x20   for m in sys.argv[3:]: t.add(m)",
            dir.to_str().unwrap(),
            out.to_str().unwrap(),
        ]
        .into_iter()
        .chain(members.iter().copied())
        .collect::<Vec<_>>(),
        b"",
    );
    assert_eq!(code(&made), 0, "{}", stderr(&made));
}
