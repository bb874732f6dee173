//! `unpack -t`: list a tar stream like GNU `tar -t` (names) and `tar -tv`
//! (mode, owner/group, size, mtime, name), or as JSON lines. The stream is
//! read and checked to its end, exactly as when unpacking.

use std::io::{Read, Write};

use chrono::{Local, TimeZone};
use tar::EntryType;

use super::Error;
use super::reader::{TarInput, stream_error};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    /// Names only (`tar -t`).
    Names,
    /// `tar -tv`'s long lines.
    Long,
    /// One JSON object per entry.
    Json,
}

/// List `input`'s entries to `out`; returns how many.
pub fn list<R: Read + Send + 'static, W: Write>(
    input: R,
    format: ListFormat,
    out: &mut W,
) -> Result<u64, Error> {
    let input = TarInput::open(input)?;
    let eof = input.eof_flag();
    let mut archive = tar::Archive::new(input);
    // GNU tar widens the owner/size column as it meets longer values.
    let mut width = 19usize;
    let mut count = 0u64;
    let write_err = |e| Error::io("writing the listing", e);
    for entry in archive
        .entries()
        .map_err(|e| Error::io("reading input", e))?
    {
        let entry = entry.map_err(|e| stream_error(e, eof.get(), "input"))?;
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            continue;
        }
        count += 1;
        let name = entry.path_bytes().into_owned();
        let link = entry.link_name_bytes().map(|l| l.into_owned());
        match format {
            ListFormat::Names => {
                writeln!(out, "{}", quote(&name)).map_err(write_err)?;
            }
            ListFormat::Long => {
                let h = entry.header();
                let user = owner_name(h.username_bytes(), h.uid().unwrap_or(0));
                let group = owner_name(h.groupname_bytes(), h.gid().unwrap_or(0));
                let size = match kind {
                    EntryType::Char | EntryType::Block => format!(
                        "{},{}",
                        h.device_major().ok().flatten().unwrap_or(0),
                        h.device_minor().ok().flatten().unwrap_or(0)
                    ),
                    EntryType::Link | EntryType::Symlink | EntryType::Directory => "0".into(),
                    _ => entry.size().to_string(),
                };
                let pad = user.len() + 1 + group.len() + 1 + size.len();
                width = width.max(pad);
                let when = Local
                    .timestamp_opt(h.mtime().unwrap_or(0) as i64, 0)
                    .single()
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                let line = format!(
                    "{} {user}/{group} {size:>w$} {when} ",
                    mode_string(kind, h.mode().unwrap_or(0)),
                    w = width - pad + size.len()
                );
                let target = match (kind, &link) {
                    (EntryType::Symlink, Some(l)) => format!(" -> {}", quote(l)),
                    (EntryType::Link, Some(l)) => format!(" link to {}", quote(l)),
                    _ => String::new(),
                };
                writeln!(out, "{line}{}{target}", quote(&name)).map_err(write_err)?;
            }
            ListFormat::Json => {
                let h = entry.header();
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                let value = serde_json::json!({
                    "name": text(&name),
                    "type": type_name(kind),
                    "mode": format!("{:04o}", h.mode().unwrap_or(0) & 0o7777),
                    "uid": h.uid().unwrap_or(0),
                    "gid": h.gid().unwrap_or(0),
                    "user": text(h.username_bytes().unwrap_or_default()),
                    "group": text(h.groupname_bytes().unwrap_or_default()),
                    "size": entry.size(),
                    "mtime": h.mtime().unwrap_or(0),
                    "link": link.as_deref().map(text),
                });
                writeln!(out, "{value}").map_err(write_err)?;
            }
        }
    }
    archive.into_inner().finish()?;
    out.flush().map_err(write_err)?;
    Ok(count)
}

/// A name as GNU tar's listing shows it: printable UTF-8 as is, `\\`,
/// `\n`, `\t` escaped, other control characters and bytes that are not
/// UTF-8 as octal (`caf\351`).
pub fn quote(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\{b:03o}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    out
}

fn owner_name(name: Option<&[u8]>, id: u64) -> String {
    match name {
        Some(n) if !n.is_empty() => String::from_utf8_lossy(n).into_owned(),
        _ => id.to_string(),
    }
}

fn type_name(kind: EntryType) -> &'static str {
    match kind {
        EntryType::Directory => "dir",
        EntryType::Symlink => "symlink",
        EntryType::Link => "hardlink",
        EntryType::Fifo => "fifo",
        EntryType::Char => "char",
        EntryType::Block => "block",
        _ => "file",
    }
}

/// `drwxr-xr-x`, with GNU tar's `h` for hard links and s/S/t/T bits.
pub fn mode_string(kind: EntryType, mode: u32) -> String {
    let t = match kind {
        EntryType::Directory => 'd',
        EntryType::Symlink => 'l',
        EntryType::Link => 'h',
        EntryType::Fifo => 'p',
        EntryType::Char => 'c',
        EntryType::Block => 'b',
        _ => '-',
    };
    let bit = |m: u32, c: char| if mode & m != 0 { c } else { '-' };
    let special = |x: u32, s: u32, lower: char, upper: char| match (mode & x != 0, mode & s != 0) {
        (true, true) => lower,
        (false, true) => upper,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        t,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        special(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        special(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        special(0o001, 0o1000, 't', 'T'),
    ]
    .iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_like_gnu_tar() {
        assert_eq!(quote(b"caf\xe9"), "caf\\351");
        assert_eq!(quote("ünï ✓".as_bytes()), "ünï ✓");
        assert_eq!(quote(b"a\nb\\c\td\x01"), "a\\nb\\\\c\\td\\001");
    }

    #[test]
    fn modes_like_gnu_tar() {
        assert_eq!(mode_string(EntryType::Regular, 0o644), "-rw-r--r--");
        assert_eq!(mode_string(EntryType::Directory, 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(EntryType::Link, 0o644), "hrw-r--r--");
        assert_eq!(mode_string(EntryType::Regular, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(EntryType::Directory, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(EntryType::Regular, 0o2644), "-rw-r-Sr--");
    }
}
