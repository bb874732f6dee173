//! `pack --splice FILE` / `@FILE`: copy every entry of another tar stream
//! (plain, gzip or zstd, detected) into the archive being written, in
//! order, as it streams — how a job merges `kubectl exec … tar cf - dump`
//! with a local tree into one archive without staging either.
//!
//! Entries are rewritten through [`header::append`], so names stay exact
//! (PAX for long ones) and the optional `--prefix` applies to names and
//! hard-link targets alike. A truncated or corrupt input fails the whole
//! pack: a spliced stream is checked to its end like `unpack` checks.

use std::io::{self, Read, Write};

use tar::{Builder, EntryType};

use super::header::{self, EntryMeta};
use super::reader::{self, Entry, Kind, TarReader};
use super::{Error, show};
use crate::progress::Progress;

/// Copy all entries of `input` into `builder`; returns how many.
pub(crate) fn splice<W: Write>(
    builder: &mut Builder<W>,
    input: impl Read + Send + 'static,
    source: &str,
    prefix: Option<&[u8]>,
    progress: &Progress,
) -> Result<u64, Error> {
    let named = |e: Error| match e {
        Error::Truncated(m) => Error::Truncated(format!("{source}: {m}")),
        Error::Corrupt(m) => Error::Corrupt(format!("{source}: {m}")),
        other => other,
    };
    let mut tar = reader::open(input, Default::default()).map_err(named)?;
    let mut count = 0u64;
    while let Some(entry) = tar.next_entry().map_err(named)? {
        for warning in tar.take_warnings() {
            progress.warn(format_args!("{source}: {warning}"));
        }
        let rename = |n: &[u8]| with_prefix(prefix, n);
        let Some(meta) = entry_meta(&entry, &rename).map_err(named)? else {
            continue;
        };
        copy_entry(builder, &mut tar, &entry, &meta).map_err(named)?;
        progress.add_bytes(entry.stored);
        progress.add_file();
        count += 1;
    }
    Ok(count)
}

/// Write one entry: its data streams straight from the input, and a cut
/// in it stops the copy where it is found (never padded to the size the
/// header claims). Sparse entries stay sparse.
pub(super) fn copy_entry<W: Write, R: Read>(
    builder: &mut Builder<W>,
    tar: &mut TarReader<R>,
    entry: &Entry,
    meta: &EntryMeta,
) -> Result<(), Error> {
    let mut data = EntryData { tar, error: None };
    // The builder copies to EOF: give it exactly the bytes the header
    // announces (none for a GNU dump directory's listing).
    let body = (&mut data).take(meta.size);
    let written = match &entry.sparse {
        Some(map) => header::append_sparse(builder, meta, map, body),
        None => header::append(builder, meta, body),
    };
    if let Some(e) = data.error.take() {
        return Err(e);
    }
    written.map_err(|e| Error::io("writing the archive", e))
}

/// The current entry's data as a `Read`, keeping the reader's own error.
struct EntryData<'a, R> {
    tar: &'a mut TarReader<R>,
    error: Option<Error>,
}

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tar.read_data(buf).map_err(|e| {
            let message = e.to_string();
            self.error = Some(e);
            io::Error::other(message)
        })
    }
}

/// What the entry says about itself, PAX overrides included, with its name
/// (and a hard link's target) renamed; `None` for what is not copied (a
/// volume label).
pub(super) fn entry_meta(
    entry: &Entry,
    rename: &dyn Fn(&[u8]) -> Vec<u8>,
) -> Result<Option<EntryMeta>, Error> {
    let name = show(&entry.name);
    let kind = match entry.kind {
        Kind::VolumeLabel => return Ok(None),
        Kind::Continuation => {
            return Err(Error::Corrupt(format!(
                "{name} is continued from another volume (a multi-volume archive)"
            )));
        }
        Kind::File => EntryType::Regular,
        Kind::Unknown(flag) => EntryType::new(flag),
        Kind::HardLink => EntryType::Link,
        Kind::Symlink => EntryType::Symlink,
        Kind::Char => EntryType::Char,
        Kind::Block => EntryType::Block,
        Kind::Directory => EntryType::Directory,
        Kind::Fifo => EntryType::Fifo,
    };
    let mtime = entry
        .mtime
        .ok_or_else(|| Error::Corrupt(format!("{name}: time stamp out of range")))?;
    Ok(Some(EntryMeta {
        path: rename(&entry.name),
        kind,
        link: entry.link.as_ref().map(|l| {
            if kind == EntryType::Link {
                rename(l)
            } else {
                l.clone()
            }
        }),
        size: if entry.kind == Kind::Directory {
            0
        } else {
            entry.stored
        },
        mode: entry.mode & 0o7777,
        uid: entry.uid,
        gid: entry.gid,
        mtime,
        uname: entry.uname.clone(),
        gname: entry.gname.clone(),
        device: matches!(entry.kind, Kind::Char | Kind::Block).then_some(entry.device),
        extra_pax: entry.extra_pax.clone(),
    }))
}

fn with_prefix(prefix: Option<&[u8]>, name: &[u8]) -> Vec<u8> {
    match prefix {
        None => name.to_vec(),
        Some(p) => {
            let name = name.strip_prefix(b"./").unwrap_or(name);
            let mut out = p.to_vec();
            if !out.ends_with(b"/") {
                out.push(b'/');
            }
            out.extend_from_slice(name);
            out
        }
    }
}
