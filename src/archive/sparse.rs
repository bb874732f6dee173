//! Sparse files in tar: a map of the regions that hold data; everything
//! else is a hole. Four ways of storing the map are read, as GNU tar reads
//! them: old GNU (`S` entries, map in the header and extension blocks) and
//! PAX 0.0 (`GNU.sparse.offset`/`numbytes` pairs), 0.1 (`GNU.sparse.map`)
//! and 1.0 (the map as decimal lines at the start of the data — bsdtar's
//! and `tar --format=posix --sparse`'s way). `pack --sparse` writes 1.0,
//! which GNU tar and bsdtar both restore; [`data_regions`] finds a file's
//! regions with SEEK_DATA/SEEK_HOLE.

use std::fs::File;
use std::io;

use super::Error;
use super::pax::{self, Record};

fn corrupt(message: impl Into<String>) -> Error {
    Error::Corrupt(message.into())
}

/// Bytes `offset .. offset + len` of the file are stored in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub offset: u64,
    pub len: u64,
}

/// A sparse entry's layout: its regions, in order, and the file's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseMap {
    pub regions: Vec<Region>,
    pub real_size: u64,
}

impl SparseMap {
    /// Bytes of data the archive stores for it.
    pub fn stored(&self) -> u64 {
        self.regions.iter().map(|r| r.len).sum()
    }

    /// Regions in order, not overlapping, inside the file, and adding up to
    /// what the archive stores: anything else would write outside the file
    /// or misread the stream.
    pub fn check(&self, stored: u64) -> Result<(), Error> {
        let mut end = 0u64;
        let mut total = 0u64;
        for r in &self.regions {
            let region_end = r
                .offset
                .checked_add(r.len)
                .ok_or_else(|| corrupt("sparse region overflows"))?;
            if r.offset < end || region_end > self.real_size {
                return Err(corrupt(format!(
                    "sparse map region {}+{} is out of order or past the file's size {}",
                    r.offset, r.len, self.real_size
                )));
            }
            end = region_end;
            total += r.len;
        }
        if total != stored {
            return Err(corrupt(format!(
                "sparse map holds {total} bytes but the archive stores {stored}"
            )));
        }
        Ok(())
    }
}

/// Which PAX sparse format an entry's records announce, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PaxSparse {
    /// 0.0 or 0.1: the map is in the records.
    InRecords,
    /// 1.0: the map is at the start of the data.
    InData,
}

pub(crate) fn pax_kind(records: &[Record]) -> Option<PaxSparse> {
    if pax::get(records, "GNU.sparse.major") == Some(b"1") {
        Some(PaxSparse::InData)
    } else if pax::get(records, "GNU.sparse.map").is_some()
        || pax::get(records, "GNU.sparse.offset").is_some()
    {
        Some(PaxSparse::InRecords)
    } else {
        None
    }
}

/// The file's real size from the records (`GNU.sparse.realsize` in 1.0,
/// `GNU.sparse.size` before).
pub(crate) fn pax_real_size(records: &[Record]) -> Option<u64> {
    pax::get(records, "GNU.sparse.realsize")
        .or_else(|| pax::get(records, "GNU.sparse.size"))
        .and_then(pax::number)
}

/// The map of a 0.0 (repeated offset/numbytes records) or 0.1
/// (`GNU.sparse.map=off,len,…`) entry.
pub(crate) fn pax_records_regions(records: &[Record]) -> Result<Vec<Region>, Error> {
    let bad = || corrupt("malformed PAX sparse map");
    if let Some(map) = pax::get(records, "GNU.sparse.map") {
        let numbers: Vec<u64> = std::str::from_utf8(map)
            .map_err(|_| bad())?
            .split(',')
            .map(|n| n.trim().parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        if !numbers.len().is_multiple_of(2) {
            return Err(bad());
        }
        return Ok(numbers
            .chunks(2)
            .map(|p| Region {
                offset: p[0],
                len: p[1],
            })
            .collect());
    }
    let mut regions = Vec::new();
    let mut offset = None;
    for (key, value) in records {
        match key.as_str() {
            "GNU.sparse.offset" => offset = Some(pax::number(value).ok_or_else(bad)?),
            "GNU.sparse.numbytes" => regions.push(Region {
                offset: offset.take().ok_or_else(bad)?,
                len: pax::number(value).ok_or_else(bad)?,
            }),
            _ => {}
        }
    }
    Ok(regions)
}

/// Reads a 1.0 map (`COUNT\n` then `OFFSET\nLEN\n` per region, padded to
/// a block) from the start of an entry's data, one block at a time from
/// `next_block`; `max_bytes` bounds it. Returns the map and the bytes it
/// took.
pub(crate) fn read_map_1_0(
    mut next_block: impl FnMut() -> Result<[u8; 512], Error>,
    max_bytes: u64,
) -> Result<(Vec<Region>, u64), Error> {
    let mut text: Vec<u8> = Vec::new();
    let mut used = 0u64;
    let mut numbers: Vec<u64> = Vec::new();
    let mut wanted: Option<usize> = None;
    loop {
        if used >= max_bytes {
            return Err(corrupt(format!(
                "sparse map is over the {max_bytes}-byte limit"
            )));
        }
        text.extend_from_slice(&next_block()?);
        used += 512;
        // Take every complete line; keep a partial one for the next block.
        while let Some(nl) = text.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = text.drain(..=nl).collect();
            let n = pax::number(&line[..line.len() - 1])
                .ok_or_else(|| corrupt("malformed sparse map"))?;
            match wanted {
                None => {
                    wanted = Some(usize::try_from(n).map_err(|_| corrupt("sparse map too long"))?)
                }
                Some(_) => numbers.push(n),
            }
            if wanted.is_some_and(|w| numbers.len() == w.saturating_mul(2)) {
                let regions = numbers
                    .chunks(2)
                    .map(|p| Region {
                        offset: p[0],
                        len: p[1],
                    })
                    .collect();
                return Ok((regions, used));
            }
        }
        if text.len() > 64 {
            return Err(corrupt("malformed sparse map"));
        }
    }
}

/// The 1.0 map for `regions`, padded to whole blocks.
pub(crate) fn encode_map_1_0(regions: &[Region]) -> Vec<u8> {
    let mut out = format!("{}\n", regions.len()).into_bytes();
    for r in regions {
        out.extend_from_slice(format!("{}\n{}\n", r.offset, r.len).as_bytes());
    }
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// The data regions of `file` (of `size` bytes) as the file system reports
/// them. A file with no holes is one region; a file system without
/// SEEK_DATA support reports one region too (the kernel's fallback).
pub(crate) fn data_regions(file: &File, size: u64) -> io::Result<Vec<Region>> {
    use nix::unistd::{Whence, lseek};
    let fd = file;
    let mut regions = Vec::new();
    let mut pos = 0i64;
    let size = i64::try_from(size).map_err(io::Error::other)?;
    while pos < size {
        let start = match lseek(fd, pos, Whence::SeekData) {
            Ok(s) => s,
            Err(nix::errno::Errno::ENXIO) => break, // only a hole remains
            Err(e) => return Err(e.into()),
        };
        if start >= size {
            break;
        }
        let end = lseek(fd, start, Whence::SeekHole)?.min(size);
        regions.push(Region {
            offset: start as u64,
            len: (end - start) as u64,
        });
        pos = end;
    }
    // GNU tar ends a map that ends in a hole with an empty region at the
    // file's end; readers then need no real size to size the file.
    if regions
        .last()
        .is_none_or(|r| r.offset + r.len < size as u64)
    {
        regions.push(Region {
            offset: size as u64,
            len: 0,
        });
    }
    Ok(regions)
}

/// Reads a file's data regions one after another (with `pread`, so the
/// file's own offset is untouched): the data part of a sparse member.
pub(crate) struct RegionReader<'a> {
    file: &'a File,
    regions: &'a [Region],
    index: usize,
    done: u64,
}

impl<'a> RegionReader<'a> {
    pub(crate) fn new(file: &'a File, regions: &'a [Region]) -> Self {
        RegionReader {
            file,
            regions,
            index: 0,
            done: 0,
        }
    }
}

impl io::Read for RegionReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        while let Some(r) = self.regions.get(self.index) {
            if self.done == r.len {
                self.index += 1;
                self.done = 0;
                continue;
            }
            let want = (buf.len() as u64).min(r.len - self.done) as usize;
            let n = self.file.read_at(&mut buf[..want], r.offset + self.done)?;
            self.done += n as u64;
            return Ok(n); // 0: the file shrank; the caller pads and warns
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(offset: u64, len: u64) -> Region {
        Region { offset, len }
    }

    #[test]
    fn maps_are_checked() {
        let ok = SparseMap {
            regions: vec![r(0, 10), r(100, 5), r(200, 0)],
            real_size: 200,
        };
        assert!(ok.check(15).is_ok());
        let err = |m: &SparseMap, stored| m.check(stored).unwrap_err().to_string();
        assert_eq!(
            err(&ok, 16),
            "corrupt input: sparse map holds 15 bytes but the archive stores 16"
        );
        let overlap = SparseMap {
            regions: vec![r(0, 10), r(5, 5)],
            real_size: 200,
        };
        assert!(err(&overlap, 15).contains("5+5 is out of order"));
        let outside = SparseMap {
            regions: vec![r(195, 10)],
            real_size: 200,
        };
        assert!(err(&outside, 10).contains("past the file's size 200"));
        let wraps = SparseMap {
            regions: vec![r(u64::MAX, 10)],
            real_size: u64::MAX,
        };
        assert_eq!(err(&wraps, 10), "corrupt input: sparse region overflows");
    }

    #[test]
    fn map_1_0_round_trips_across_blocks() {
        let regions: Vec<Region> = (0..100).map(|i| r(i * 1_000_000, 4096)).collect();
        let text = encode_map_1_0(&regions);
        assert!(text.len() > 512 && text.len().is_multiple_of(512));
        let mut blocks = text.chunks(512).map(|c| <[u8; 512]>::try_from(c).unwrap());
        let (got, used) =
            read_map_1_0(|| blocks.next().ok_or_else(|| corrupt("short")), 1 << 20).unwrap();
        assert_eq!(got, regions);
        assert_eq!(used, text.len() as u64);
        let mut endless = std::iter::repeat([b'1'; 512]);
        assert!(read_map_1_0(|| Ok(endless.next().unwrap()), 4096).is_err());
    }

    #[test]
    fn pax_0_0_and_0_1_maps() {
        let rec = |k: &str, v: &str| (k.to_string(), v.as_bytes().to_vec());
        let v00 = vec![
            rec("GNU.sparse.size", "300"),
            rec("GNU.sparse.offset", "0"),
            rec("GNU.sparse.numbytes", "10"),
            rec("GNU.sparse.offset", "200"),
            rec("GNU.sparse.numbytes", "100"),
        ];
        assert_eq!(pax_kind(&v00), Some(PaxSparse::InRecords));
        assert_eq!(
            pax_records_regions(&v00).unwrap(),
            vec![r(0, 10), r(200, 100)]
        );
        assert_eq!(pax_real_size(&v00), Some(300));
        let v01 = vec![rec("GNU.sparse.map", "0,10,200,100")];
        assert_eq!(
            pax_records_regions(&v01).unwrap(),
            vec![r(0, 10), r(200, 100)]
        );
        assert!(pax_records_regions(&[rec("GNU.sparse.map", "1,2,3")]).is_err());
        assert!(pax_records_regions(&[rec("GNU.sparse.numbytes", "3")]).is_err());
    }

    #[test]
    fn regions_of_a_file_with_holes() {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = tempfile::tempfile().unwrap();
        f.seek(SeekFrom::Start(1 << 20)).unwrap();
        f.write_all(&[7; 4096]).unwrap();
        f.set_len(4 << 20).unwrap();
        let regions = data_regions(&f, 4 << 20).unwrap();
        let stored: u64 = regions.iter().map(|r| r.len).sum();
        // tmpfs and ext4 report the hole; either way the data is covered.
        assert!(
            regions
                .iter()
                .any(|x| x.offset <= 1 << 20 && x.offset + x.len >= (1 << 20) + 4096)
        );
        assert!(stored < 4 << 20 || regions.len() == 1, "{regions:?}");
        assert_eq!(
            regions.last().unwrap().offset + regions.last().unwrap().len,
            4 << 20
        );
    }
}
