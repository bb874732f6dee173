//! How the downloaded bytes can be checked against what the store holds,
//! and the check itself.

use super::DownloadError;
use crate::s3::client::{ObjectInfo, crc32c_base64};
use crate::s3::parts;

/// How the downloaded bytes can be checked, cheapest first.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Check {
    /// The stored composite CRC32C over the parts ending at `ends`: ranges
    /// never cross a part's end, each range's CRC32C is computed as it
    /// arrives, and a part's is combined from its ranges'.
    PartCrc32c {
        ends: Vec<u64>,
        expected: String,
    },
    /// A whole-object CRC32C.
    Crc32c(String),
    /// A single-part ETag: the MD5 of the body (1.4 CPU-s/GiB).
    Md5(String),
    /// A multipart ETag with no stored checksum: the MD5 of the parts'
    /// MD5s, `-N`. MD5s do not combine: each part is one range, its MD5
    /// computed as it arrives, in parallel.
    PartMd5 {
        ends: Vec<u64>,
        expected: String,
    },
    None,
}

impl Check {
    /// The ranges to fetch, none larger than `range_size` nor crossing a
    /// part's end when the check is per part: (start, end, part index).
    pub(super) fn ranges(&self, size: u64, range_size: u64) -> Vec<(u64, u64, usize)> {
        let whole = [size];
        let (ends, range_size) = match self {
            Check::PartCrc32c { ends, .. } => (&ends[..], range_size),
            Check::PartMd5 { ends, .. } => (&ends[..], u64::MAX),
            _ => (&whole[..], range_size),
        };
        let mut ranges = Vec::new();
        let mut start = 0;
        for (part, &end) in ends.iter().enumerate() {
            while start < end {
                let stop = end.min(start.saturating_add(range_size.max(1)));
                ranges.push((start, stop, part));
                start = stop;
            }
        }
        ranges
    }

    /// What each range computes as its bytes arrive.
    pub(super) fn range_sum(&self) -> RangeSum {
        match self {
            Check::PartCrc32c { .. } | Check::Crc32c(_) => RangeSum::Crc32c(0),
            Check::PartMd5 { .. } => RangeSum::Md5(md5::Md5::default()),
            Check::Md5(_) | Check::None => RangeSum::None,
        }
    }
}

/// A range's checksum, computed chunk by chunk as the bytes arrive (while
/// they are still in cache: over the whole part afterwards it cost twice
/// as much).
pub(super) enum RangeSum {
    None,
    Crc32c(u32),
    Md5(md5::Md5),
}

impl RangeSum {
    pub(super) fn update(&mut self, chunk: &[u8]) {
        use md5::Digest;
        match self {
            RangeSum::None => {}
            RangeSum::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, chunk),
            RangeSum::Md5(h) => h.update(chunk),
        }
    }

    pub(super) fn crc32c(&self) -> u32 {
        match self {
            RangeSum::Crc32c(crc) => *crc,
            _ => 0,
        }
    }
}

/// Where each part of `info` ends, when its layout is known
/// ([`parts::ends`]); `n` is the parts count its checksum or ETag names.
pub(super) fn part_ends(info: &ObjectInfo, n: &str) -> Option<Vec<u64>> {
    let parts = info.parts?;
    if n.parse::<u32>().ok() != Some(parts) {
        return None;
    }
    parts::ends(
        info.size,
        parts,
        info.part_size?,
        parts::growth(&info.metadata),
    )
}

/// The largest part a multipart MD5 is checked by (each such part is one
/// range, held whole): s3put's and the AWS CLI's 8 MiB parts, and twice
/// that, whatever the range size.
pub(super) const MD5_PART_LIMIT: u64 = 16 << 20;

/// Choose the check for `info` (from HEAD partNumber=1). Per-part checks
/// need the part layout ([`part_ends`]); a multipart MD5 also needs parts no
/// larger than `max_part`, the range size (each part is fetched whole, and
/// memory stays bounded by the range size).
pub(super) fn choose_check(info: &ObjectInfo, verify: bool, max_part: u64) -> Check {
    if !verify {
        return Check::None;
    }
    if let Some(crc) = &info.crc32c {
        let Some((_, n)) = crc.split_once('-') else {
            return Check::Crc32c(crc.clone());
        };
        if let Some(ends) = part_ends(info, n) {
            return Check::PartCrc32c {
                ends,
                expected: crc.clone(),
            };
        }
    }
    // An ETag is an MD5 only without SSE-KMS or SSE-C.
    if !info.etag_is_md5 {
        return Check::None;
    }
    let etag = info.etag.trim_matches('"').to_ascii_lowercase();
    let (md5, n) = match etag.split_once('-') {
        Some((md5, n)) => (md5, Some(n)),
        None => (etag.as_str(), None),
    };
    if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Check::None;
    }
    let Some(n) = n else {
        return Check::Md5(etag);
    };
    match part_ends(info, n) {
        Some(ends)
            if ends
                .iter()
                .scan(0, |start, &end| Some(end - std::mem::replace(start, end)))
                .all(|len| len <= max_part) =>
        {
            Check::PartMd5 {
                ends,
                expected: etag,
            }
        }
        _ => Check::None,
    }
}

/// A multipart upload's ETag: the MD5 of its parts' MD5s, hex, then `-N`.
pub(super) fn multipart_etag(parts: Vec<RangeSum>) -> String {
    use md5::Digest;
    let n = parts.len();
    let mut whole = md5::Md5::default();
    for part in parts {
        if let RangeSum::Md5(h) = part {
            whole.update(h.finalize());
        }
    }
    format!("{:x}-{n}", whole.finalize())
}

/// The composite checksum S3 stores for a multipart upload: CRC32C over the
/// parts' big-endian CRC32Cs, base64, then `-N`.
pub(super) fn composite_crc32c(part_crcs: &[u32]) -> String {
    let joined: Vec<u8> = part_crcs.iter().flat_map(|c| c.to_be_bytes()).collect();
    let crc = crc32c_base64(crc32c::crc32c(&joined));
    format!("{crc}-{}", part_crcs.len())
}

/// Each range's checksum, length and part, in order.
pub(super) type Sums = Vec<(RangeSum, u64, usize)>;

/// Compare what arrived with what the store holds; returns the check's name.
pub(super) fn verify(
    check: &Check,
    sums: Sums,
    digest: Option<String>,
) -> Result<&'static str, DownloadError> {
    let (verified, want, got) = match check {
        Check::PartCrc32c { ends, expected } => {
            let mut crcs = vec![0u32; ends.len()];
            for (sum, len, part) in &sums {
                crcs[*part] = crc32c::crc32c_combine(crcs[*part], sum.crc32c(), *len as usize);
            }
            ("crc32c", expected.clone(), composite_crc32c(&crcs))
        }
        Check::Crc32c(expected) => {
            let crc = sums.iter().fold(0, |whole, (sum, len, _)| {
                crc32c::crc32c_combine(whole, sum.crc32c(), *len as usize)
            });
            ("crc32c", expected.clone(), crc32c_base64(crc))
        }
        Check::PartMd5 { expected, .. } => {
            let digests: Vec<RangeSum> = sums.into_iter().map(|(sum, ..)| sum).collect();
            ("md5", expected.clone(), multipart_etag(digests))
        }
        Check::Md5(expected) => ("md5", expected.clone(), digest.unwrap_or_default()),
        Check::None => ("none", String::new(), String::new()),
    };
    if want != got {
        return Err(DownloadError::Integrity(format!(
            "{verified} {got} does not match the stored {want}"
        )));
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(
        size: u64,
        parts: Option<u32>,
        part_size: u64,
        crc: Option<&str>,
        etag: &str,
    ) -> ObjectInfo {
        ObjectInfo {
            size,
            etag: etag.into(),
            version_id: None,
            parts,
            part_size: Some(part_size),
            crc32c: crc.map(String::from),
            etag_is_md5: true,
            content_type: None,
            metadata: Vec::new(),
        }
    }

    #[test]
    fn composite_matches_s3s_definition() {
        // Two parts "a" and "b": CRC32C of their big-endian CRC32Cs.
        let (a, b) = (crc32c::crc32c(b"a"), crc32c::crc32c(b"b"));
        let mut joined = a.to_be_bytes().to_vec();
        joined.extend(b.to_be_bytes());
        let want = format!("{}-2", crc32c_base64(crc32c::crc32c(&joined)));
        assert_eq!(composite_crc32c(&[a, b]), want);
    }

    #[test]
    fn checks_are_chosen_by_what_the_store_has() {
        let mib = 1 << 20;
        let multi = info(20 * mib, Some(3), 8 * mib, Some("rzyrYw==-3"), "\"x-3\"");
        assert_eq!(
            choose_check(&multi, true, 64 * mib),
            Check::PartCrc32c {
                ends: vec![8 * mib, 16 * mib, 20 * mib],
                expected: "rzyrYw==-3".into()
            }
        );
        assert_eq!(choose_check(&multi, false, 64 * mib), Check::None);
        // Non-uniform layout (parts count does not fit the size): no check.
        let odd = info(40 * mib, Some(3), 8 * mib, Some("rzyrYw==-3"), "\"x-3\"");
        assert_eq!(choose_check(&odd, true, 64 * mib), Check::None);
        // ... unless s3put recorded how its part size grew: 8, 8, 16, 16, 32.
        let grown = ObjectInfo {
            parts: Some(5),
            metadata: vec![(parts::GROWTH_KEY.into(), "2".into())],
            ..info(70 * mib, None, 8 * mib, Some("rzyrYw==-5"), "\"x-5\"")
        };
        assert_eq!(
            choose_check(&grown, true, 64 * mib),
            Check::PartCrc32c {
                ends: vec![8 * mib, 16 * mib, 32 * mib, 48 * mib, 70 * mib],
                expected: "rzyrYw==-5".into()
            }
        );
        // A record that does not add up to the size: no check.
        let short = ObjectInfo {
            size: 90 * mib,
            ..grown.clone()
        };
        assert_eq!(choose_check(&short, true, 64 * mib), Check::None);
        let whole = info(10, None, 10, Some("AAAAAA=="), "\"x\"");
        assert_eq!(
            choose_check(&whole, true, 64 * mib),
            Check::Crc32c("AAAAAA==".into())
        );
        let md5 = info(10, None, 10, None, "\"0123456789abcdef0123456789ABCDEF\"");
        assert_eq!(
            choose_check(&md5, true, 64 * mib),
            Check::Md5("0123456789abcdef0123456789abcdef".into())
        );
        // With SSE-KMS or SSE-C the ETag is not an MD5: nothing to check.
        let kms = ObjectInfo {
            etag_is_md5: false,
            ..md5.clone()
        };
        assert_eq!(choose_check(&kms, true, 64 * mib), Check::None);
        let etag = "0123456789abcdef0123456789abcdef-3";
        let multi_md5 = info(20 * mib, Some(3), 8 * mib, None, &format!("\"{etag}\""));
        assert_eq!(
            choose_check(&multi_md5, true, 64 * mib),
            Check::PartMd5 {
                ends: vec![8 * mib, 16 * mib, 20 * mib],
                expected: etag.into()
            }
        );
        // Each part is one range for MD5: parts over the bound are not checked.
        assert_eq!(choose_check(&multi_md5, true, 4 * mib), Check::None);
        let odd_md5 = info(40 * mib, Some(3), 8 * mib, None, &format!("\"{etag}\""));
        assert_eq!(choose_check(&odd_md5, true, 64 * mib), Check::None);
    }

    #[test]
    fn ranges_stay_inside_parts() {
        let crc = Check::PartCrc32c {
            ends: vec![5, 10, 20, 23],
            expected: String::new(),
        };
        assert_eq!(
            crc.ranges(23, 4),
            [
                (0, 4, 0),
                (4, 5, 0),
                (5, 9, 1),
                (9, 10, 1),
                (10, 14, 2),
                (14, 18, 2),
                (18, 20, 2),
                (20, 23, 3)
            ]
        );
        let md5 = Check::PartMd5 {
            ends: vec![5, 10, 12],
            expected: String::new(),
        };
        assert_eq!(md5.ranges(12, 4), [(0, 5, 0), (5, 10, 1), (10, 12, 2)]);
        assert_eq!(Check::None.ranges(9, 4), [(0, 4, 0), (4, 8, 0), (8, 9, 0)]);
        assert_eq!(Check::None.ranges(0, 4), []);
    }

    #[test]
    fn multipart_etag_is_the_md5_of_the_parts_md5s() {
        use md5::Digest;
        let parts: Vec<RangeSum> = [&b"a"[..], b"bc"]
            .iter()
            .map(|p| {
                let mut sum = RangeSum::Md5(md5::Md5::default());
                sum.update(p);
                sum
            })
            .collect();
        let mut joined = md5::Md5::digest(b"a").to_vec();
        joined.extend(md5::Md5::digest(b"bc"));
        let want = format!("{:x}-2", md5::Md5::digest(&joined));
        assert_eq!(multipart_etag(parts), want);
    }
}
