//! How the downloaded bytes can be checked against what the store holds,
//! and the check itself.

use super::DownloadError;
use crate::s3::client::{Algorithm, Hasher, ObjectInfo, base64, crc32c_base64};
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
    /// Computed by the writer as the bytes go out in order, part by part
    /// when composite: a single-part ETag (the body's MD5, 1.4 CPU-s/GiB),
    /// a multipart ETag whose parts are too large to fetch whole, and every
    /// stored checksum but CRC32C (CRC32, CRC64NVME, SHA-1, SHA-256; full
    /// object or composite).
    InOrder(Sequential),
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
            Check::InOrder(_) | Check::None => RangeSum::None,
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

/// The largest part a multipart MD5 is checked by in parallel (each such
/// part is one range, held whole): s3put's and the AWS CLI's 8 MiB parts,
/// and twice that, whatever the range size. Larger parts are hashed in
/// order by the writer.
pub(super) const MD5_PART_LIMIT: u64 = 16 << 20;

/// What the writer hashes: an ETag's MD5 or a stored checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Digest {
    Md5,
    Sum(Algorithm),
}

/// A check the writer makes over the bytes in order: one digest per part
/// ending at `ends` (one part, `[size]`, for a whole-object value), then,
/// when `composite`, the digest of the parts' digests and `-N`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sequential {
    pub(super) digest: Digest,
    pub(super) ends: Vec<u64>,
    pub(super) composite: bool,
    pub(super) expected: String,
}

/// Choose the check for `info` (from HEAD partNumber=1), cheapest first:
/// CRC32C (combined from ranges checked in parallel), another stored
/// checksum (in order), the ETag's MD5. Composite values need the part
/// layout ([`part_ends`]); a multipart MD5 is checked in parallel for
/// parts no larger than `max_part`, in order above it.
pub(super) fn choose_check(info: &ObjectInfo, verify: bool, max_part: u64) -> Check {
    if !verify {
        return Check::None;
    }
    if let Some(crc) = &info.crc32c {
        let Some((_, n)) = crc.split_once('-') else {
            if whole_value(info) {
                return Check::Crc32c(crc.clone());
            }
            return stored_or_etag(info, max_part);
        };
        if let Some(ends) = part_ends(info, n) {
            return Check::PartCrc32c {
                ends,
                expected: crc.clone(),
            };
        }
    }
    stored_or_etag(info, max_part)
}

/// A value without `-N` is the whole object's — unless the object is
/// multipart and the store does not say FULL_OBJECT: an emulator stores a
/// CRC32C there that is neither the whole's nor the composite (seen with
/// moto 5.2), and trusting it would fail every good download.
fn whole_value(info: &ObjectInfo) -> bool {
    let multipart = info.parts.is_some() || info.etag.trim_matches('"').contains('-');
    info.full_object || !multipart
}

/// Another stored checksum, else the ETag.
fn stored_or_etag(info: &ObjectInfo, max_part: u64) -> Check {
    let stored = info.checksums.iter().find_map(|(alg, value)| {
        let (ends, composite) = match value.split_once('-') {
            None if whole_value(info) => (vec![info.size], false),
            None => return None,
            Some((_, n)) => (part_ends(info, n)?, true),
        };
        let (digest, expected) = (Digest::Sum(*alg), value.clone());
        Some(Sequential {
            digest,
            ends,
            composite,
            expected,
        })
    });
    if let Some(check) = stored {
        return Check::InOrder(check);
    }
    etag_check(info, max_part)
}

/// The ETag as an MD5 check, when it is one (not with SSE-KMS or SSE-C).
fn etag_check(info: &ObjectInfo, max_part: u64) -> Check {
    let etag = info.etag.trim_matches('"').to_ascii_lowercase();
    let (md5, n) = match etag.split_once('-') {
        Some((md5, n)) => (md5, Some(n)),
        None => (etag.as_str(), None),
    };
    if !info.etag_is_md5 || md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Check::None;
    }
    let (ends, composite) = match n {
        None => (vec![info.size], false),
        Some(n) => match part_ends(info, n) {
            Some(ends) => (ends, true),
            None => return Check::None,
        },
    };
    let largest = (ends.iter())
        .scan(0, |start, &end| Some(end - std::mem::replace(start, end)))
        .max()
        .unwrap_or(0);
    match composite && largest <= max_part {
        true => Check::PartMd5 {
            ends,
            expected: etag,
        },
        false => Check::InOrder(Sequential {
            digest: Digest::Md5,
            ends,
            composite,
            expected: etag,
        }),
    }
}

/// The writer's side of a [`Sequential`] check: the bytes as they go out,
/// cut at the parts' ends.
pub(super) struct PartDigests {
    check: Sequential,
    at: u64,
    current: Running,
    done: Vec<Vec<u8>>,
}

enum Running {
    Md5(md5::Md5),
    Sum(Hasher),
}

impl Running {
    fn new(digest: Digest) -> Running {
        match digest {
            Digest::Md5 => Running::Md5(md5::Md5::default()),
            Digest::Sum(alg) => Running::Sum(Hasher::new(alg)),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        use md5::Digest;
        match self {
            Running::Md5(h) => h.update(bytes),
            Running::Sum(h) => h.update(bytes),
        }
    }

    fn finish(self) -> Vec<u8> {
        use md5::Digest;
        match self {
            Running::Md5(h) => h.finalize().to_vec(),
            Running::Sum(h) => h.finish(),
        }
    }
}

impl PartDigests {
    pub(super) fn new(check: &Sequential) -> PartDigests {
        PartDigests {
            current: Running::new(check.digest),
            check: check.clone(),
            at: 0,
            done: Vec::new(),
        }
    }

    pub(super) fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let end = self
                .check
                .ends
                .get(self.done.len())
                .copied()
                .unwrap_or(u64::MAX);
            let take = (end - self.at).min(bytes.len() as u64) as usize;
            self.current.update(&bytes[..take]);
            (self.at, bytes) = (self.at + take as u64, &bytes[take..]);
            if self.at == end {
                let next = Running::new(self.check.digest);
                self.done
                    .push(std::mem::replace(&mut self.current, next).finish());
            }
        }
    }

    /// The value as the store writes it: hex for an ETag, base64 for a
    /// checksum, `-N` after a composite one.
    pub(super) fn finish(mut self) -> String {
        if self.done.len() < self.check.ends.len() || self.check.ends.is_empty() {
            self.done.push(self.current.finish());
            self.current = Running::new(self.check.digest);
        }
        let n = self.done.len();
        let value = match self.check.composite {
            true => {
                let mut outer = Running::new(self.check.digest);
                self.done.iter().for_each(|d| outer.update(d));
                outer.finish()
            }
            false => self.done.concat(),
        };
        let text = match self.check.digest {
            Digest::Md5 => value.iter().map(|b| format!("{b:02x}")).collect(),
            Digest::Sum(_) => base64(&value),
        };
        match self.check.composite {
            true => format!("{text}-{n}"),
            false => text,
        }
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

/// What a download's bytes were checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// A checksum the store holds, whole or per part.
    Checksum(Algorithm),
    /// The ETag: a single part's MD5, or a multipart upload's MD5 of its
    /// parts' MD5s.
    Md5,
    /// Nothing (`--no-verify`, or nothing stored to check against).
    None,
}

impl Verified {
    /// The name reports use: `crc32c`, `crc32`, `crc64nvme`, `sha256`,
    /// `sha1`, `md5` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Verified::Checksum(alg) => alg.name(),
            Verified::Md5 => "md5",
            Verified::None => "none",
        }
    }
}

impl serde::Serialize for Verified {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Compare what arrived with what the store holds; returns the check made.
pub(super) fn verify(
    check: &Check,
    sums: Sums,
    digest: Option<String>,
) -> Result<Verified, DownloadError> {
    let (verified, want, got) = match check {
        Check::PartCrc32c { ends, expected } => {
            let mut crcs = vec![0u32; ends.len()];
            for (sum, len, part) in &sums {
                crcs[*part] = crc32c::crc32c_combine(crcs[*part], sum.crc32c(), *len as usize);
            }
            (
                Verified::Checksum(Algorithm::Crc32c),
                expected.clone(),
                composite_crc32c(&crcs),
            )
        }
        Check::Crc32c(expected) => {
            let crc = sums.iter().fold(0, |whole, (sum, len, _)| {
                crc32c::crc32c_combine(whole, sum.crc32c(), *len as usize)
            });
            (
                Verified::Checksum(Algorithm::Crc32c),
                expected.clone(),
                crc32c_base64(crc),
            )
        }
        Check::PartMd5 { expected, .. } => {
            let digests: Vec<RangeSum> = sums.into_iter().map(|(sum, ..)| sum).collect();
            (Verified::Md5, expected.clone(), multipart_etag(digests))
        }
        Check::InOrder(check) => {
            let name = match check.digest {
                Digest::Md5 => Verified::Md5,
                Digest::Sum(alg) => Verified::Checksum(alg),
            };
            (name, check.expected.clone(), digest.unwrap_or_default())
        }
        Check::None => (Verified::None, String::new(), String::new()),
    };
    if want != got {
        return Err(DownloadError::Integrity(format!(
            "{} {got} does not match the stored {want}",
            verified.name()
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
            checksums: Vec::new(),
            exact_size: true,
            full_object: false,
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
            Check::InOrder(Sequential {
                digest: Digest::Md5,
                ends: vec![10],
                composite: false,
                expected: "0123456789abcdef0123456789abcdef".into()
            })
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
        // Parts over the bound are hashed in order by the writer instead.
        assert_eq!(
            choose_check(&multi_md5, true, 4 * mib),
            Check::InOrder(Sequential {
                digest: Digest::Md5,
                ends: vec![8 * mib, 16 * mib, 20 * mib],
                composite: true,
                expected: etag.into()
            })
        );
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

    /// What other tools store: a full-object CRC32 (no `-N`) needs no
    /// layout; a composite one does; CRC32C still comes first.
    #[test]
    fn other_stored_checksums_are_checked_in_order() {
        let mib = 1 << 20;
        let mut crc32 = info(40 * mib, Some(2), 32 * mib, None, "\"x-2\"");
        crc32.checksums = vec![(Algorithm::Crc32, "AAAAAA==".into())];
        // Multipart, no `-N`, no FULL_OBJECT: not trusted (moto's CRC32C).
        assert_eq!(choose_check(&crc32, true, 16 * mib), Check::None);
        crc32.full_object = true;
        let full = Sequential {
            digest: Digest::Sum(Algorithm::Crc32),
            ends: vec![40 * mib],
            composite: false,
            expected: "AAAAAA==".into(),
        };
        assert_eq!(choose_check(&crc32, true, 16 * mib), Check::InOrder(full));
        crc32.checksums = vec![(Algorithm::Sha256, "AAAA-2".into())];
        let Check::InOrder(composite) = choose_check(&crc32, true, 16 * mib) else {
            panic!("a composite SHA-256 with a known layout is checked")
        };
        assert_eq!(
            (composite.ends, composite.composite),
            (vec![32 * mib, 40 * mib], true)
        );
        crc32.parts = None;
        assert_eq!(choose_check(&crc32, true, 16 * mib), Check::None);
    }

    /// The writer's digests, cut at the parts' ends whatever the ranges,
    /// match S3's definitions: composite = digest of the parts' digests.
    #[test]
    fn part_digests_match_s3s_definitions() {
        let data: Vec<u8> = (0..100u8).collect();
        let feed = |check: &Sequential, cuts: &[usize]| {
            let mut d = PartDigests::new(check);
            let mut at = 0;
            for &cut in cuts.iter().chain([&data.len()]) {
                d.update(&data[at..cut]);
                at = cut;
            }
            d.finish()
        };
        let sha = |bytes: &[u8]| {
            let mut h = Hasher::new(Algorithm::Sha256);
            h.update(bytes);
            h.finish()
        };
        let composite = Sequential {
            digest: Digest::Sum(Algorithm::Sha256),
            ends: vec![30, 60, 100],
            composite: true,
            expected: String::new(),
        };
        let parts = [sha(&data[..30]), sha(&data[30..60]), sha(&data[60..])].concat();
        let want = format!("{}-3", base64(&sha(&parts)));
        assert_eq!(feed(&composite, &[]), want);
        assert_eq!(feed(&composite, &[7, 30, 31, 59, 61, 99]), want);
        let whole = Sequential {
            ends: vec![100],
            composite: false,
            ..composite.clone()
        };
        assert_eq!(feed(&whole, &[50]), base64(&sha(&data)));
        let md5 = Sequential {
            digest: Digest::Md5,
            ..composite
        };
        let mut sums: Vec<RangeSum> = Vec::new();
        for part in [&data[..30], &data[30..60], &data[60..]] {
            let mut sum = RangeSum::Md5(md5::Md5::default());
            sum.update(part);
            sums.push(sum);
        }
        assert_eq!(feed(&md5, &[45]), multipart_etag(sums));
    }
}
