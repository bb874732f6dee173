//! `pack --splice FILE` / `@FILE`: copy every entry of another tar stream
//! (plain, gzip or zstd, detected) into the archive being written, in
//! order, as it streams — how a job merges `kubectl exec … tar cf - dump`
//! with a local tree into one archive without staging either.
//!
//! Entries are rewritten through [`header::append`], so names stay exact
//! (PAX for long ones) and the optional `--prefix` applies to names and
//! hard-link targets alike. A truncated or corrupt input fails the whole
//! pack: a spliced stream is checked to its end like `unpack` checks.

use std::io::{Read, Write};

use tar::{Builder, EntryType};

use super::header::{self, EntryMeta, ExactSize};
use super::reader::{TarInput, stream_error};
use super::{Error, show};
use crate::progress::Progress;

/// Copy all entries of `input` into `builder`; returns how many.
pub fn splice<W: Write>(
    builder: &mut Builder<W>,
    input: impl Read + Send + 'static,
    source: &str,
    prefix: Option<&[u8]>,
    progress: &Progress,
) -> Result<u64, Error> {
    let context = |what: &str| format!("splicing {source}: {what}");
    let input = TarInput::open(input)?;
    let eof = input.eof_flag();
    let mut archive = tar::Archive::new(input);
    let mut count = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| Error::io(context("reading"), e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| stream_error(e, eof.get(), source))?;
        let meta = entry_meta(&mut entry, prefix).map_err(|e| Error::io(context("reading"), e))?;
        let mut data = ExactSize::new(&mut entry, meta.size);
        let written = header::append(builder, &meta, &mut data);
        if let Some(e) = data.error.take() {
            return Err(stream_error(e, eof.get(), source));
        }
        written.map_err(|e| Error::io("writing the archive", e))?;
        if data.short {
            return Err(Error::Truncated(format!(
                "input ended early: {source}: entry {} is cut short",
                show(&meta.path)
            )));
        }
        progress.add_bytes(meta.size);
        progress.add_file();
        count += 1;
    }
    archive.into_inner().finish().map_err(|e| match e {
        Error::Truncated(m) => Error::Truncated(format!("{source}: {m}")),
        Error::Corrupt(m) => Error::Corrupt(format!("{source}: {m}")),
        other => other,
    })?;
    Ok(count)
}

/// Everything the entry says about itself, PAX overrides included.
fn entry_meta<R: Read>(
    entry: &mut tar::Entry<R>,
    prefix: Option<&[u8]>,
) -> std::io::Result<EntryMeta> {
    let header = entry.header().clone();
    let mut kind = header.entry_type();
    if kind == EntryType::GNUSparse {
        // The tar crate hands us the expanded data: store it as a file.
        kind = EntryType::Regular;
    }
    let mut meta = EntryMeta {
        path: with_prefix(prefix, &entry.path_bytes()),
        kind,
        link: entry.link_name_bytes().map(|l| {
            if kind == EntryType::Link {
                with_prefix(prefix, &l)
            } else {
                l.into_owned()
            }
        }),
        size: entry.size(),
        mode: header.mode()?,
        uid: header.uid()?,
        gid: header.gid()?,
        mtime: header.mtime()?,
        uname: header.username_bytes().unwrap_or_default().to_vec(),
        gname: header.groupname_bytes().unwrap_or_default().to_vec(),
        device: match kind {
            EntryType::Char | EntryType::Block => Some((
                header.device_major()?.unwrap_or(0),
                header.device_minor()?.unwrap_or(0),
            )),
            _ => None,
        },
        extra_pax: Vec::new(),
    };
    if let Some(pax) = entry.pax_extensions()? {
        for ext in pax {
            let ext = ext?;
            let Ok(key) = ext.key() else { continue };
            let value = ext.value_bytes();
            let number = || {
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
            };
            match key {
                "uid" => meta.uid = number().unwrap_or(meta.uid),
                "gid" => meta.gid = number().unwrap_or(meta.gid),
                "uname" => meta.uname = value.to_vec(),
                "gname" => meta.gname = value.to_vec(),
                k if header::DERIVED_PAX_KEYS.contains(&k) => {}
                k => meta.extra_pax.push((k.to_string(), value.to_vec())),
            }
        }
    }
    Ok(meta)
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
