//! `unpack -t`: list a tar stream like GNU `tar -t` (names) and `tar -tv`
//! (mode, owner/group, size, mtime, name), or as JSON lines. The stream is
//! read and checked to its end, exactly as when unpacking.

use std::io::{Read, Write};

use chrono::{Local, TimeZone};

use super::Error;
use super::reader::{self, Entry, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// How `unpack -t` prints each entry.
pub enum ListFormat {
    /// Names only (`tar -t`).
    Names,
    /// `tar -tv`'s long lines.
    Long,
    /// One JSON object per entry.
    Json,
}

/// What a listing found: entries, and how many of them had a fault that
/// does not stop the listing (an out-of-range time stamp: GNU tar's exit 2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListSummary {
    /// Entries listed.
    pub entries: u64,
    /// Entries with a fault that did not stop the listing.
    pub errors: u64,
}

/// List `input`'s entries to `out`. `warn` receives the reader's warnings
/// (e.g. a lone zero block) and per-entry errors.
pub fn list<R: Read + Send + 'static, W: Write>(
    input: R,
    format: ListFormat,
    decoding: crate::codec::decode::Decoding,
    out: &mut W,
    mut warn: impl FnMut(String),
) -> Result<ListSummary, Error> {
    let mut tar = reader::open(input, decoding)?;
    // GNU tar widens the owner/size column as it meets longer values.
    let mut width = 19usize;
    let mut summary = ListSummary::default();
    let write_err = |e| Error::io("writing the listing", e);
    while let Some(entry) = tar.next_entry()? {
        tar.take_warnings().into_iter().for_each(&mut warn);
        summary.entries += 1;
        if entry.mtime.is_none() {
            warn(format!("{}: time stamp out of range", quote(&entry.name)));
            summary.errors += 1;
        }
        let line = match format {
            ListFormat::Names => quote(&entry.name),
            ListFormat::Long => long_line(&entry, &mut width),
            ListFormat::Json => json_line(&entry),
        };
        writeln!(out, "{line}").map_err(write_err)?;
    }
    tar.take_warnings().into_iter().for_each(&mut warn);
    out.flush().map_err(write_err)?;
    Ok(summary)
}

/// One `tar -tv` line.
fn long_line(entry: &Entry, width: &mut usize) -> String {
    let user = owner_name(&entry.uname, entry.uid);
    let group = owner_name(&entry.gname, entry.gid);
    let size = match entry.kind {
        Kind::Char | Kind::Block => format!("{},{}", entry.device.0, entry.device.1),
        _ => entry.size.to_string(),
    };
    let pad = user.len() + 1 + group.len() + 1 + size.len();
    *width = (*width).max(pad);
    // Out of range: shown as -1; before 1970 with a fraction: rounded
    // toward zero — both as GNU tar's tartime() shows them.
    let secs = entry
        .mtime
        .map_or(-1, |t| t.secs + i64::from(t.secs < 0 && t.nanos != 0));
    let when = Local
        .timestamp_opt(secs, 0)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| secs.to_string());
    let target = match (entry.kind, &entry.link) {
        (Kind::Symlink, Some(l)) => format!(" -> {}", quote(l)),
        (Kind::HardLink, Some(l)) => format!(" link to {}", quote(l)),
        (Kind::VolumeLabel, _) => "--Volume Header--".into(),
        (Kind::Continuation, _) => format!("--Continued at byte {}--", entry.volume_offset),
        (Kind::Unknown(flag), _) => format!(" unknown file type '{}'", flag.escape_ascii()),
        _ => String::new(),
    };
    format!(
        "{} {user}/{group} {size:>w$} {when} {}{target}",
        mode_string(entry.kind, entry.type_flag, entry.mode),
        quote(&entry.name),
        w = *width - pad + size.len()
    )
}

fn json_line(entry: &Entry) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    serde_json::json!({
        "name": text(&entry.name),
        "type": type_name(entry.kind),
        "mode": format!("{:04o}", entry.mode & 0o7777),
        "uid": entry.uid,
        "gid": entry.gid,
        "user": text(&entry.uname),
        "group": text(&entry.gname),
        "size": entry.size,
        "mtime": entry.mtime.map(|t| t.secs),
        "link": entry.link.as_deref().map(text),
    })
    .to_string()
}

/// A name as GNU tar's listing shows it in this process's locale.
pub fn quote(name: &[u8]) -> String {
    static UTF8: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    quote_in(name, *UTF8.get_or_init(utf8_locale))
}

/// Is the character set of the locale UTF-8? As setlocale(3) picks it:
/// LC_ALL, else LC_CTYPE, else LANG; none of them (or C, POSIX) is ASCII.
fn utf8_locale() -> bool {
    let set = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    set.contains("utf-8") || set.contains("utf8")
}

/// A name as GNU tar's listing shows it: `\\`, `\n`, `\t` escaped, other
/// control characters and bytes that are not UTF-8 as octal (`caf\351`);
/// printable non-ASCII characters as they are in a UTF-8 locale, as the
/// octal of their bytes in the C/POSIX locale (`\303\244`), as GNU tar.
pub fn quote_in(name: &[u8], utf8: bool) -> String {
    let octal = |out: &mut String, bytes: &[u8]| {
        for b in bytes {
            out.push_str(&format!("\\{b:03o}"));
        }
    };
    let mut out = String::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() || (!utf8 && !c.is_ascii()) => {
                    octal(&mut out, c.encode_utf8(&mut [0u8; 4]).as_bytes())
                }
                c => out.push(c),
            }
        }
        octal(&mut out, chunk.invalid());
    }
    out
}

fn owner_name(name: &[u8], id: u64) -> String {
    if name.is_empty() {
        id.to_string()
    } else {
        String::from_utf8_lossy(name).into_owned()
    }
}

fn type_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Directory => "dir",
        Kind::Symlink => "symlink",
        Kind::HardLink => "hardlink",
        Kind::Fifo => "fifo",
        Kind::Char => "char",
        Kind::Block => "block",
        Kind::VolumeLabel => "label",
        Kind::Continuation => "continuation",
        Kind::File | Kind::Unknown(_) => "file",
    }
}

/// `drwxr-xr-x`, with GNU tar's type letters (`h` hard link, `C`
/// contiguous, `V` label, `M` continuation, `?` unknown) and s/S/t/T bits.
pub fn mode_string(kind: Kind, type_flag: u8, mode: u32) -> String {
    let t = match kind {
        Kind::Directory => 'd',
        Kind::Symlink => 'l',
        Kind::HardLink => 'h',
        Kind::Fifo => 'p',
        Kind::Char => 'c',
        Kind::Block => 'b',
        Kind::VolumeLabel => 'V',
        Kind::Continuation => 'M',
        Kind::Unknown(_) => '?',
        Kind::File if type_flag == b'7' => 'C',
        Kind::File => '-',
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
        for utf8 in [true, false] {
            assert_eq!(quote_in(b"caf\xe9", utf8), "caf\\351");
            assert_eq!(quote_in(b"a\nb\\c\td\x01", utf8), "a\\nb\\\\c\\td\\001");
        }
        assert_eq!(quote_in("ünï ✓".as_bytes(), true), "ünï ✓");
        assert_eq!(quote_in("ä b".as_bytes(), false), "\\303\\244 b");
    }

    #[test]
    fn modes_like_gnu_tar() {
        assert_eq!(mode_string(Kind::File, b'0', 0o644), "-rw-r--r--");
        assert_eq!(mode_string(Kind::Directory, b'5', 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(Kind::HardLink, b'1', 0o644), "hrw-r--r--");
        assert_eq!(mode_string(Kind::File, b'0', 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(Kind::Directory, b'D', 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(Kind::File, b'0', 0o2644), "-rw-r-Sr--");
        assert_eq!(mode_string(Kind::VolumeLabel, b'V', 0), "V---------");
    }
}
