//! Reading a tar stream, entry by entry, to its real end — the one parser
//! behind `unpack`, `unpack -t`, `pack --splice` and `s3put --verify`.
//!
//! Why not `tar::Archive`: it reads GNU long names and PAX headers whole
//! into memory whatever size they claim (a 49 KB `.tar.zst` drove it to
//! 7.5 GiB), stops at the first zero block or a plain EOF between entries
//! (so a truncated archive passed), knows no PAX sparse format, reads
//! unsigned times only and panics converting pre-1970 ones. The tar crate
//! still owns the header *layout* ([`tar::Header`], [`tar::GnuHeader`]'s
//! sparse fields); this module owns the stream's structure, with every
//! extension bounded by [`MAX_EXTENSION`].
//!
//! The rules GNU tar follows and this reader follows too:
//! 1. A header's checksum may be summed over unsigned or signed bytes (old
//!    HP-UX and v7 tars used signed).
//! 2. `L`/`K` (GNU long name/link) and `x`/`X`/`g` (PAX) apply to the next
//!    real entry; when two come in a row, the last one wins.
//! 3. Symlinks, hard links, directories, FIFOs and device nodes carry no
//!    data, whatever their size field says; a regular file whose name ends
//!    in `/` is a directory (v7).
//! 4. The archive ends with two zero blocks; EOF anywhere before them is a
//!    truncation. A non-zero second block is warned about ("a lone zero
//!    block"), anything but zeros after both is an error, and the input is
//!    read to its very end (so a compressed stream's trailers are checked).

use std::io::{self, Read};

use super::header;
use super::pax::{self, Record};
use super::sparse::{self, PaxSparse, Region, SparseMap};
use super::time::{Mtime, numeric_field};
use super::ustar;
use super::{Error, show};
use crate::codec::decode::{self, DecodedReader};
use crate::codec::detect::is_valid_tar_block;

/// The most an entry's extensions (long names, PAX records, sparse maps)
/// may take. GNU tar refuses absurd sizes too; real names are a few KiB,
/// xattrs at most 64 KiB each.
pub(crate) const MAX_EXTENSION: u64 = 4 << 20;

const BLOCK: usize = 512;

/// What an entry is, from its type flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `0`, NUL, `7` (contiguous), `S` (old GNU sparse) and PAX sparse.
    File,
    HardLink,
    Symlink,
    Char,
    Block,
    /// `5`, GNU incremental `D` (its data, the dump listing, is skipped) and
    /// v7's file-named-with-a-slash.
    Directory,
    Fifo,
    /// `M`: the rest of a file begun on another volume.
    Continuation,
    /// `V`: a GNU volume label.
    VolumeLabel,
    /// Any other type letter; POSIX says to extract it as a regular file.
    Unknown(u8),
}

/// One entry with every extension applied.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: Vec<u8>,
    pub link: Option<Vec<u8>>,
    pub kind: Kind,
    /// The header's type letter, as stored.
    pub type_flag: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    /// `None` when the stored time is out of any representable range.
    pub mtime: Option<Mtime>,
    pub device: (u32, u32),
    /// The size a listing shows: a sparse file's real size.
    pub size: u64,
    /// Bytes of data the archive holds for it (what [`TarReader::read_data`] yields).
    pub stored: u64,
    pub sparse: Option<SparseMap>,
    /// For a continuation (`M`): where in the file this part starts.
    pub volume_offset: u64,
    /// Its own PAX records that no field above holds (xattrs, atime, …).
    pub extra_pax: Vec<Record>,
}

/// What the extension members before an entry said.
#[derive(Default)]
struct Pending {
    name: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    records: Vec<Record>,
    used: u64,
}

pub(crate) struct TarReader<R> {
    inner: R,
    /// Data of the current entry not yet read, and the padding after it.
    data_left: u64,
    pad_left: u64,
    /// Bytes consumed so far (for messages and the empty-input check).
    offset: u64,
    /// The current entry's name and size, for truncation messages.
    current: Vec<u8>,
    current_stored: u64,
    globals: Vec<Record>,
    warnings: Vec<String>,
    scratch: Vec<u8>,
    /// Where damaged headers were skipped (see [`TarReader::resync`]).
    skipped: Vec<u64>,
}

/// Open a (gzip, zstd or plain, detected unless `format` says) tar stream.
pub(crate) fn open<R: Read + Send + 'static>(
    input: R,
    decoding: decode::Decoding,
) -> Result<TarReader<DecodedReader>, Error> {
    let decoded =
        decode::spawn(input, decoding).map_err(|e| Error::from_stream("reading input", e))?;
    Ok(TarReader::new(decoded))
}

impl<R: Read> TarReader<R> {
    pub(crate) fn new(inner: R) -> TarReader<R> {
        TarReader {
            inner,
            data_left: 0,
            pad_left: 0,
            offset: 0,
            current: Vec::new(),
            current_stored: 0,
            globals: Vec::new(),
            warnings: Vec::new(),
            scratch: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Warnings met since the last call (e.g. a lone zero block).
    pub(crate) fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The next entry, or `None` after the end-of-archive marker — by then
    /// the input has been read and checked to its very end.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>, Error> {
        self.skip_data()?;
        let mut pending = Pending::default();
        loop {
            let mut at = self.offset;
            let mut block = [0u8; BLOCK];
            let n = self.read_full(&mut block)?;
            if n == 0 && at == 0 {
                return Err(Error::Corrupt("no input (empty stream)".into()));
            }
            if n < BLOCK {
                return Err(cut_before_the_end());
            }
            if !block.iter().all(|&b| b == 0) && !is_valid_tar_block(&block) && at > 0 {
                (block, at) = self.resync(at)?;
                pending = Pending::default();
            }
            if block.iter().all(|&b| b == 0) {
                self.end(at)?;
                return self.damaged().map(|()| None);
            }
            check_sum(&block, at)?;
            let size = field(&block, ustar::SIZE, "size", at)?;
            match block[ustar::TYPEFLAG] {
                // GNU writes long names NUL-terminated.
                b'L' => {
                    let data = self.extension(size, &mut pending.used, "long name")?;
                    pending.name = Some(trim_nul(&data).to_vec());
                }
                b'K' => {
                    let data = self.extension(size, &mut pending.used, "long link")?;
                    pending.link = Some(trim_nul(&data).to_vec());
                }
                // Two PAX headers in a row: the second replaces the first,
                // as GNU tar reads them (tar-split's pax-multi-hdrs.tar).
                b'x' | b'X' => {
                    let data = self.extension(size, &mut pending.used, "PAX header")?;
                    pending.records = records(&data, at)?;
                }
                b'g' => {
                    let mut used = 0;
                    let data = self.extension(size, &mut used, "PAX global header")?;
                    self.globals = records(&data, at)?;
                }
                _ => return self.entry(&block, size, pending, at).map(Some),
            }
        }
    }

    /// Read the current entry's stored data; 0 at its end. A stream that
    /// ends first is a truncation naming the entry and where it was cut.
    pub(crate) fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let want = (buf.len() as u64).min(self.data_left) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = loop {
            match self.inner.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::from_stream("reading input", e)),
            }
        };
        if n == 0 {
            let done = self.current_stored - self.data_left;
            return Err(Error::Truncated(format!(
                "input ended early (truncated tar stream): {} is cut short at {done} of {} bytes",
                show(&self.current),
                self.current_stored
            )));
        }
        self.data_left -= n as u64;
        self.offset += n as u64;
        Ok(n)
    }

    /// Fill `buf` from the current entry's data; an entry with less data
    /// than that is corrupt (a sparse map longer than the member).
    fn read_data_exact(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.read_data(&mut buf[filled..])? {
                0 => {
                    return Err(Error::Corrupt(format!(
                        "{}: the sparse map runs past the member's data",
                        show(&self.current)
                    )));
                }
                n => filled += n,
            }
        }
        Ok(())
    }

    /// Skip what is left of the current entry's data and its padding.
    pub(crate) fn skip_data(&mut self) -> Result<(), Error> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.resize(64 * 1024, 0);
        while self.data_left > 0 {
            self.read_data(&mut scratch)?;
        }
        while self.pad_left > 0 {
            let want = self.pad_left.min(BLOCK as u64) as usize;
            let n = self.read_full(&mut scratch[..want])?;
            if n < want {
                return Err(cut_before_the_end());
            }
            self.pad_left -= n as u64;
        }
        self.scratch = scratch;
        Ok(())
    }

    /// Read until `buf` is full or EOF; returns how much was read.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::from_stream("reading input", e)),
            }
        }
        self.offset += filled as u64;
        Ok(filled)
    }

    /// An extension member's data, bounded, with its padding consumed.
    fn extension(&mut self, size: u64, used: &mut u64, what: &str) -> Result<Vec<u8>, Error> {
        *used = used.saturating_add(size);
        if *used > MAX_EXTENSION {
            return Err(Error::Corrupt(format!(
                "{what} of {size} bytes at byte {} is over the {} MiB limit",
                self.offset - BLOCK as u64,
                MAX_EXTENSION >> 20
            )));
        }
        let mut data = vec![0u8; size as usize];
        self.begin_data(b"(extended header)", size);
        self.read_data_exact(&mut data)?;
        self.skip_data()?;
        Ok(data)
    }

    fn begin_data(&mut self, name: &[u8], stored: u64) {
        self.current.clear();
        self.current.extend_from_slice(name);
        self.current_stored = stored;
        self.data_left = stored;
        self.pad_left = stored.next_multiple_of(BLOCK as u64) - stored;
    }

    /// A damaged header (its checksum fails) after a good start: skip to
    /// the next block that is a valid header (or the end-of-archive
    /// marker), as GNU tar does ("Skipping to next header"), so a few
    /// flipped bits cost the member they hit, not every member after it.
    /// Each block is looked at once: the work is the input's length. The
    /// stream is still damaged: the end of the archive says so
    /// ([`TarReader::damaged`]), so nothing takes it for a whole one.
    fn resync(&mut self, damaged_at: u64) -> Result<([u8; BLOCK], u64), Error> {
        self.warnings.push(format!(
            "damaged header at byte {damaged_at} (checksum mismatch): skipping to the next header"
        ));
        self.skipped.push(damaged_at);
        loop {
            let at = self.offset;
            let mut block = [0u8; BLOCK];
            if self.read_full(&mut block)? < BLOCK {
                return Err(cut_before_the_end());
            }
            if block.iter().all(|&b| b == 0) || is_valid_tar_block(&block) {
                return Ok((block, at));
            }
        }
    }

    /// At the end: an error if damaged headers were skipped on the way.
    fn damaged(&self) -> Result<(), Error> {
        match self.skipped.as_slice() {
            [] => Ok(()),
            [first, ..] => Err(Error::Corrupt(format!(
                "{} damaged header(s) skipped, the first at byte {first}: the member(s) there are lost, the others were read",
                self.skipped.len()
            ))),
        }
    }

    /// After the first zero block: the second, then only zeros to EOF.
    fn end(&mut self, at: u64) -> Result<(), Error> {
        let mut block = [0u8; BLOCK];
        if self.read_full(&mut block)? < BLOCK {
            return Err(Error::Truncated(
                "input ended early (truncated tar stream: second end-of-archive block missing)"
                    .into(),
            ));
        }
        if block.iter().any(|&b| b != 0) {
            // Numbered as GNU tar numbers it: the block after the zero one.
            self.warnings
                .push(format!("A lone zero block at {}", at / BLOCK as u64 + 1));
        }
        let mut rest = vec![0u8; 64 * 1024];
        loop {
            let n = self.read_full(&mut rest)?;
            if rest[..n].iter().any(|&b| b != 0) {
                return Err(Error::Corrupt(
                    "garbage after the end-of-archive marker".into(),
                ));
            }
            if n < rest.len() {
                return Ok(());
            }
        }
    }

    /// Build the entry a real header describes, applying what came before;
    /// a sparse entry's map is read here too.
    fn entry(
        &mut self,
        block: &[u8; BLOCK],
        size: u64,
        mut pending: Pending,
        at: u64,
    ) -> Result<Entry, Error> {
        let local = std::mem::take(&mut pending.records);
        let mut entry = self.describe(block, size, &local, &mut pending, at)?;
        self.begin_data(&entry.name, entry.stored);
        entry.sparse = self.sparse_map(block, entry.type_flag, &local, &mut pending.used, at)?;
        entry.stored = self.data_left;
        if let Some(map) = &entry.sparse {
            entry.size = map.real_size;
        }
        Ok(entry)
    }

    /// What the header and the PAX records (the member's own over global
    /// ones) say about the entry; no data is read.
    fn describe(
        &self,
        block: &[u8; BLOCK],
        size: u64,
        local: &[Record],
        pending: &mut Pending,
        at: u64,
    ) -> Result<Entry, Error> {
        let header = tar::Header::from_byte_slice(block);
        let flag = block[ustar::TYPEFLAG];
        // Global records apply to every later member, `path` included (GNU
        // tar names them all after it); the member's own records win.
        let rec = |key: &str| pax::get(local, key).or_else(|| pax::get(&self.globals, key));
        // A name ends at a NUL, as GNU tar cuts a PAX path (C strings).
        let name = rec("GNU.sparse.name")
            .or_else(|| rec("path"))
            .map(|v| trim_nul(v).to_vec())
            .or(pending.name.take())
            .unwrap_or_else(|| header.path_bytes().into_owned());
        let link = rec("linkpath")
            .map(|v| trim_nul(v).to_vec())
            .or(pending.link.take())
            .or_else(|| header.link_name_bytes().map(|l| l.into_owned()))
            .filter(|l| !l.is_empty());
        let number = |key: &str, range, what| match rec(key).and_then(pax::number) {
            Some(n) => Ok(n),
            None => field(block, range, what, at),
        };
        let size = rec("size").and_then(pax::number).unwrap_or(size);
        let mtime = match rec("mtime") {
            Some(text) => Mtime::parse_pax(text),
            None => numeric_field(&block[ustar::MTIME]).map(Mtime::from_secs),
        };
        let (uname, gname, device) = ustar_fields(block, &rec);
        let kind = kind_of(flag, &name);
        let stored = match kind {
            Kind::HardLink | Kind::Symlink | Kind::Char | Kind::Block | Kind::Fifo => 0,
            Kind::Directory if flag != b'D' => 0,
            _ => size,
        };
        let extra_pax = local
            .iter()
            .filter(|(k, _)| {
                !header::DERIVED_PAX_KEYS.contains(&k.as_str()) && !k.starts_with("GNU.sparse.")
            })
            .cloned()
            .collect();
        Ok(Entry {
            name,
            link,
            kind,
            type_flag: flag,
            mode: field(block, ustar::MODE, "mode", at)? as u32,
            uid: number("uid", ustar::UID, "uid")?,
            gid: number("gid", ustar::GID, "gid")?,
            uname,
            gname,
            mtime,
            device,
            size: stored,
            stored,
            sparse: None,
            volume_offset: numeric_field(&block[ustar::GNU_OFFSET]).map_or(0, |n| n.max(0) as u64),
            extra_pax,
        })
    }

    /// The entry's sparse map, if it is sparse in any of the four formats;
    /// a 1.0 map is read from the start of the data here.
    fn sparse_map(
        &mut self,
        block: &[u8; BLOCK],
        flag: u8,
        records: &[Record],
        used: &mut u64,
        at: u64,
    ) -> Result<Option<SparseMap>, Error> {
        let located = |e: Error| match e {
            Error::Corrupt(m) => Error::Corrupt(format!("entry at byte {at}: {m}")),
            other => other,
        };
        let (regions, real_size) = if flag == b'S' {
            let real_size =
                numeric_field(&block[ustar::GNU_REALSIZE]).and_then(|n| u64::try_from(n).ok());
            (
                self.gnu_sparse_regions(block, used).map_err(located)?,
                real_size,
            )
        } else {
            let regions = match sparse::pax_kind(records) {
                None => return Ok(None),
                Some(PaxSparse::InRecords) => sparse::pax_records_regions(records),
                Some(PaxSparse::InData) => self.map_1_0(used),
            };
            (regions.map_err(located)?, sparse::pax_real_size(records))
        };
        let real_size = real_size
            .ok_or_else(|| located(Error::Corrupt("sparse entry without a real size".into())))?;
        let map = SparseMap { regions, real_size };
        // A map that disagrees with the sizes costs this member only: the
        // stream's position is known (its stored size), so the next
        // member is read as GNU tar reads it (gtar_sparse_skip_entry).
        map.check(self.data_left).map_err(|e| match e {
            Error::Corrupt(m) => Error::Member(format!("{}: {m}", show(&self.current))),
            other => other,
        })?;
        Ok(Some(map))
    }

    /// A PAX 1.0 map, read from the start of the entry's data.
    fn map_1_0(&mut self, used: &mut u64) -> Result<Vec<Region>, Error> {
        let limit = MAX_EXTENSION.saturating_sub(*used);
        let (regions, took) = sparse::read_map_1_0(
            || {
                let mut b = [0u8; BLOCK];
                self.read_data_exact(&mut b)?;
                Ok(b)
            },
            limit,
        )?;
        *used += took;
        Ok(regions)
    }

    /// Old GNU: four regions in the header, 21 more in each extension block.
    fn gnu_sparse_regions(
        &mut self,
        block: &[u8; BLOCK],
        used: &mut u64,
    ) -> Result<Vec<Region>, Error> {
        let gnu = tar::Header::from_byte_slice(block)
            .as_gnu()
            .ok_or_else(|| Error::Corrupt("sparse entry without a GNU header".into()))?;
        let mut regions = Vec::new();
        push_regions(&mut regions, &gnu.sparse)?;
        let mut extended = gnu.is_extended();
        while extended {
            *used += BLOCK as u64;
            if *used > MAX_EXTENSION {
                return Err(Error::Corrupt(format!(
                    "sparse map over the {} MiB limit",
                    MAX_EXTENSION >> 20
                )));
            }
            let mut ext = tar::GnuExtSparseHeader::new();
            if self.read_full(ext.as_mut_bytes())? < BLOCK {
                return Err(Error::Truncated(
                    "input ended early (truncated tar stream: inside a sparse map)".into(),
                ));
            }
            push_regions(&mut regions, ext.sparse())?;
            extended = ext.is_extended();
        }
        Ok(regions)
    }
}

fn push_regions(out: &mut Vec<Region>, headers: &[tar::GnuSparseHeader]) -> Result<(), Error> {
    for h in headers.iter().filter(|h| !h.is_empty()) {
        let number = |f: &[u8]| {
            numeric_field(f)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| Error::Corrupt("bad number in the old GNU sparse map".into()))
        };
        out.push(Region {
            offset: number(&h.offset)?,
            len: number(&h.numbytes)?,
        });
    }
    Ok(())
}

/// User and group names (a PAX record over the header's field) and device
/// numbers: fields only ustar and GNU headers have.
fn ustar_fields<'a>(
    block: &'a [u8; BLOCK],
    rec: &impl Fn(&str) -> Option<&'a [u8]>,
) -> (Vec<u8>, Vec<u8>, (u32, u32)) {
    let magic = &block[ustar::MAGIC];
    let ustar = magic == b"ustar\0" || magic == b"ustar ";
    let text = |key: &str, range: std::ops::Range<usize>| match rec(key) {
        Some(v) => v.to_vec(),
        None if ustar => trim_nul(&block[range]).to_vec(),
        None => Vec::new(),
    };
    let dev = |range: std::ops::Range<usize>| {
        numeric_field(&block[range])
            .and_then(|n| u32::try_from(n).ok())
            .filter(|_| ustar)
            .unwrap_or(0)
    };
    (
        text("uname", ustar::UNAME),
        text("gname", ustar::GNAME),
        (dev(ustar::DEVMAJOR), dev(ustar::DEVMINOR)),
    )
}

fn kind_of(flag: u8, name: &[u8]) -> Kind {
    match flag {
        b'0' | b'\0' | b'7' if name.ends_with(b"/") => Kind::Directory,
        b'0' | b'\0' | b'7' | b'S' => Kind::File,
        b'1' => Kind::HardLink,
        b'2' => Kind::Symlink,
        b'3' => Kind::Char,
        b'4' => Kind::Block,
        b'5' | b'D' => Kind::Directory,
        b'6' => Kind::Fifo,
        b'M' => Kind::Continuation,
        b'V' => Kind::VolumeLabel,
        other => Kind::Unknown(other),
    }
}

/// Rule 1: the stored checksum matches the header summed either way.
fn check_sum(block: &[u8; BLOCK], at: u64) -> Result<(), Error> {
    if is_valid_tar_block(block) {
        Ok(())
    } else {
        Err(Error::Corrupt(format!(
            "header checksum mismatch at byte {at} (not a tar header, or a damaged one)"
        )))
    }
}

/// A numeric header field that must be a non-negative number.
fn field(
    block: &[u8; BLOCK],
    range: std::ops::Range<usize>,
    what: &str,
    at: u64,
) -> Result<u64, Error> {
    numeric_field(&block[range])
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| Error::Corrupt(format!("bad {what} field in the header at byte {at}")))
}

fn records(data: &[u8], at: u64) -> Result<Vec<Record>, Error> {
    pax::parse(data).map_err(|e| match e {
        Error::Corrupt(m) => Error::Corrupt(format!("{m} (header at byte {at})")),
        other => other,
    })
}

/// EOF where a header or a member's padding should be.
fn cut_before_the_end() -> Error {
    Error::Truncated("input ended early (truncated tar stream: no end-of-archive marker)".into())
}

fn trim_nul(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}
