//! The part layout s3put writes and s3get reads back by: S3's limits, the
//! growing part size (doubling every N parts so 5 TiB fits in 10,000
//! parts), the metadata record of that growth, and every part's bounds.
//! Plain arithmetic, no I/O, table-tested.

/// S3's limits.
pub(crate) const MIN_PART: u64 = 5 << 20;
pub(crate) const MAX_PART: u64 = 5 << 30;
pub(crate) const MAX_PARTS: u32 = 10_000;

/// The metadata key under which s3put records a growing part size (the
/// `grow_every` it used), so that s3get knows where each part ends and can
/// verify each part's checksum. Uniform layouts need no record.
pub(crate) const GROWTH_KEY: &str = "s3pipe-part-growth";

/// The metadata key under which s3put records its first part's size, for
/// stores whose HEAD ignores `partNumber` (Ceph RGW 16): with the ETag's
/// `-N` and the growth record it gives every part's bounds.
pub(crate) const PART_SIZE_KEY: &str = "s3pipe-part-size";

/// The first part's size a object's metadata records.
pub(crate) fn recorded_part_size(metadata: &[(String, String)]) -> Option<u64> {
    metadata
        .iter()
        .find(|(k, _)| k == PART_SIZE_KEY)
        .and_then(|(_, v)| v.parse().ok())
}

/// Part `n`'s size (1-based) when parts start at `base` and double every
/// `every` parts, up to S3's 5 GiB: the one definition s3put uploads by and
/// s3get reads back by.
pub(crate) fn grown_part_size(base: u64, n: u32, every: u32) -> u64 {
    let doublings = (n.saturating_sub(1) / every.max(1)).min(20);
    (base << doublings).min(MAX_PART)
}

/// The growth a object's metadata records (`s3pipe-part-growth: N`).
pub(crate) fn growth(metadata: &[(String, String)]) -> Option<u32> {
    metadata
        .iter()
        .find(|(k, _)| k == GROWTH_KEY)
        .and_then(|(_, v)| v.parse().ok())
}

/// Where each of `parts` parts ends (byte offsets, the last one `size`):
/// every part but the last has the first one's size, or doubles every
/// `every` parts. `None` unless the layout adds up to `size` exactly (the
/// last part holds at least a byte, at most its size).
pub(crate) fn ends(size: u64, parts: u32, first: u64, every: Option<u32>) -> Option<Vec<u64>> {
    if first == 0 || parts == 0 {
        return None;
    }
    let size_of = |i| every.map_or(first, |every| grown_part_size(first, i, every));
    let mut ends = Vec::with_capacity(parts as usize);
    let mut end = 0u64;
    for i in 1..parts {
        end = end.checked_add(size_of(i))?;
        ends.push(end);
    }
    let last = size.checked_sub(end)?;
    (last > 0 && last <= size_of(parts)).then(|| {
        ends.push(size);
        ends
    })
}

/// The ETag S3 gives a multipart upload: the MD5 of its parts' MD5s (each
/// part's ETag, hex), hex, then `-N`. None when a part's ETag is no MD5
/// (SSE-KMS, some stores): then it proves nothing.
pub(crate) fn multipart_etag(part_etags: &[&str]) -> Option<String> {
    use md5::Digest;
    let mut whole = md5::Md5::default();
    for etag in part_etags {
        let hex = etag.trim_matches('"');
        if hex.len() != 32 {
            return None;
        }
        for pair in hex.as_bytes().chunks(2) {
            let byte = std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())?;
            whole.update([byte]);
        }
    }
    Some(format!("{:x}-{}", whole.finalize(), part_etags.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_add_up_or_are_rejected() {
        let mib = 1u64 << 20;
        // (size, parts, first, every) -> ends
        type Case = (u64, u32, u64, Option<u32>, Option<Vec<u64>>);
        let cases: &[Case] = &[
            (10 * mib, 2, 8 * mib, None, Some(vec![8 * mib, 10 * mib])),
            (16 * mib, 2, 8 * mib, None, Some(vec![8 * mib, 16 * mib])),
            (17 * mib, 2, 8 * mib, None, None),
            (16 * mib, 3, 8 * mib, None, None),
            (
                8 * mib + 24 * mib,
                3,
                8 * mib,
                Some(2),
                Some(vec![8 * mib, 16 * mib, 32 * mib]),
            ),
            (5, 1, 8 * mib, None, Some(vec![5])),
            (0, 1, 8 * mib, None, None),
            (5, 1, 0, None, None),
            (u64::MAX, 10_000, u64::MAX / 2, None, None),
        ];
        for (size, parts, first, every, want) in cases {
            assert_eq!(
                &ends(*size, *parts, *first, *every),
                want,
                "{size} {parts} {first} {every:?}"
            );
        }
        assert_eq!(growth(&[(GROWTH_KEY.into(), "1000".into())]), Some(1000));
        assert_eq!(growth(&[("other".into(), "1".into())]), None);
    }

    #[test]
    fn growth_doubles_up_to_5_gib() {
        assert_eq!(grown_part_size(8 << 20, 1, 1000), 8 << 20);
        assert_eq!(grown_part_size(8 << 20, 1001, 1000), 16 << 20);
        assert_eq!(grown_part_size(8 << 20, 10_000, 1), MAX_PART);
        assert_eq!(grown_part_size(8 << 20, 5, 0), MAX_PART.min((8 << 20) << 4));
    }

    #[test]
    fn a_multipart_etag_is_the_md5_of_the_parts_md5s() {
        use md5::Digest;
        let (a, b) = (md5::Md5::digest(b"a"), md5::Md5::digest(b"bc"));
        let want = format!("{:x}-2", md5::Md5::digest([a, b].concat()));
        let (a, b) = (format!("\"{a:x}\""), format!("{b:x}"));
        assert_eq!(multipart_etag(&[&a, &b]), Some(want));
        assert_eq!(multipart_etag(&[&a, "opaque-kms-etag"]), None);
        assert_eq!(
            multipart_etag(&[&a, "zz0123456789abcdef0123456789abcd"]),
            None
        );
    }
}
