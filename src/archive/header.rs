//! Writing one tar entry: a ustar header, preceded by a PAX extended header
//! when a field does not fit ustar (names or link targets over 100 bytes,
//! non-UTF-8 names, sizes of 8 GiB and more, long user/group names, big
//! ids). The tar crate's own `append_data` would write GNU `@LongLink`
//! entries instead and never uname/gname; PAX is what POSIX, GNU tar and
//! bsdtar all read.

use std::io::{self, Read, Write};

use tar::{Builder, EntryType, Header};

use super::sparse::{self, SparseMap};
use super::time::Mtime;

/// Everything we store about one entry, independent of where it came from
/// (a file system walk or another tar stream).
#[derive(Debug, Clone)]
pub struct EntryMeta {
    /// The member name as bytes; directories end with `/`.
    pub path: Vec<u8>,
    /// File, directory, symlink, hard link, device, FIFO.
    pub kind: EntryType,
    /// Symlink or hard-link target.
    pub link: Option<Vec<u8>>,
    /// The data's size (0 for all but files).
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Numeric owner.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
    /// Written as a PAX `mtime` when ustar's field cannot hold it (before
    /// 1970, after 2242, or with a fraction).
    pub mtime: Mtime,
    /// Owner's name (empty: none stored).
    pub uname: Vec<u8>,
    /// Group's name (empty: none stored).
    pub gname: Vec<u8>,
    /// (major, minor) for character and block devices.
    pub device: Option<(u32, u32)>,
    /// PAX records carried over from a spliced archive (xattrs, atime, …),
    /// except the ones this module derives itself.
    pub extra_pax: Vec<(String, Vec<u8>)>,
}

/// PAX keys derived from `EntryMeta`'s fields; never copied from `extra_pax`.
pub const DERIVED_PAX_KEYS: &[&str] = &[
    "path",
    "linkpath",
    "size",
    "uid",
    "gid",
    "uname",
    "gname",
    "mtime",
    "hdrcharset",
];

const USTAR_NAME: usize = 100;
const USTAR_ID_NAME: usize = 32;
/// Largest size and id ustar's octal fields can hold.
const MAX_OCTAL_SIZE: u64 = 0o777_7777_7777;
const MAX_OCTAL_ID: u64 = 0o7777777;

/// Append `meta` with exactly `meta.size` bytes read from `data`.
pub fn append<W: Write>(
    builder: &mut Builder<W>,
    meta: &EntryMeta,
    data: impl Read,
) -> io::Result<()> {
    write(builder, meta, &[], data)
}

/// Append a sparse file as PAX 1.0 (what bsdtar and `tar --format=posix
/// --sparse` write, and both restore with holes): the member is named
/// `DIR/GNUSparseFile.0/NAME`, the real name and size are PAX records, and
/// the data is the map followed by `map.stored()` bytes from `data`.
pub fn append_sparse<W: Write>(
    builder: &mut Builder<W>,
    meta: &EntryMeta,
    map: &SparseMap,
    data: impl Read,
) -> io::Result<()> {
    let text = sparse::encode_map_1_0(&map.regions);
    let real_size = map.real_size.to_string();
    let records: [(&str, &[u8]); 4] = [
        ("GNU.sparse.major", b"1"),
        ("GNU.sparse.minor", b"0"),
        ("GNU.sparse.name", &meta.path),
        ("GNU.sparse.realsize", real_size.as_bytes()),
    ];
    let mut member = meta.clone();
    member.path = sparse_member_name(&meta.path);
    member.size = text.len() as u64 + map.stored();
    write(
        builder,
        &member,
        &records,
        io::Cursor::new(text).chain(data),
    )
}

/// `a/b/file` → `a/b/GNUSparseFile.0/file`, as GNU tar and bsdtar name
/// the member (a reader that knows no sparse format extracts the map and
/// data there rather than a wrong file under the real name).
fn sparse_member_name(path: &[u8]) -> Vec<u8> {
    let split = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    [&path[..split], b"GNUSparseFile.0/", &path[split..]].concat()
}

fn write<W: Write>(
    builder: &mut Builder<W>,
    meta: &EntryMeta,
    leading: &[(&str, &[u8])],
    data: impl Read,
) -> io::Result<()> {
    let pax = pax_records(meta, leading);
    if !pax.is_empty() {
        builder.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
    }
    builder.append(&ustar_header(meta)?, data)
}

/// The PAX records `meta` needs: `leading` ones first, then every field
/// ustar cannot hold, then the records carried over from a spliced archive.
fn pax_records(meta: &EntryMeta, leading: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    let mut pax: Vec<(String, Vec<u8>)> = leading
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
    let mut add = |key: &str, value: &[u8]| pax.push((key.into(), value.to_vec()));
    // Names that fit go into the ustar field as raw bytes, UTF-8 or not:
    // every reader takes those as they are. Longer ones need PAX; a PAX
    // value that is not UTF-8 is declared `hdrcharset=BINARY`, without
    // which bsdtar refuses it (GNU tar ignores the keyword, with a warning,
    // and takes the bytes as they are).
    let long_path = (meta.path.len() > USTAR_NAME).then_some(&meta.path);
    let long_link = meta.link.as_ref().filter(|l| l.len() > USTAR_NAME);
    if [long_path, long_link]
        .iter()
        .flatten()
        .any(|v| std::str::from_utf8(v).is_err())
    {
        add("hdrcharset", b"BINARY");
    }
    if let Some(path) = long_path {
        add("path", path);
    }
    if let Some(link) = long_link {
        add("linkpath", link);
    }
    if !meta.mtime.fits_octal() {
        add("mtime", meta.mtime.to_pax().as_bytes());
    }
    let numbers = [
        ("size", meta.size, MAX_OCTAL_SIZE),
        ("uid", meta.uid, MAX_OCTAL_ID),
        ("gid", meta.gid, MAX_OCTAL_ID),
    ];
    for (key, value, max) in numbers {
        if value > max {
            add(key, value.to_string().as_bytes());
        }
    }
    for (key, value) in [("uname", &meta.uname), ("gname", &meta.gname)] {
        if value.len() > USTAR_ID_NAME {
            add(key, value);
        }
    }
    for (key, value) in &meta.extra_pax {
        if !DERIVED_PAX_KEYS.contains(&key.as_str()) {
            add(key, value);
        }
    }
    pax
}

/// The ustar header: every field as far as it fits (the PAX records hold
/// the rest; this keeps pre-PAX readers right too).
fn ustar_header(meta: &EntryMeta) -> io::Result<Header> {
    let mut header = Header::new_ustar();
    header.set_entry_type(meta.kind);
    // Octal when it fits, else the GNU base-256 form.
    header.set_size(meta.size);
    header.set_mode(meta.mode & 0o7777);
    header.set_uid(meta.uid);
    header.set_gid(meta.gid);
    // Out of ustar's range the PAX record holds the time; the field keeps
    // the nearest value it can (pre-PAX readers see 1970 or 2242).
    header.set_mtime(meta.mtime.secs.clamp(0, 0o777_7777_7777) as u64);
    let ustar = header
        .as_ustar_mut()
        .ok_or_else(|| io::Error::other("not a ustar header"))?;
    copy_truncated(&mut ustar.name, &meta.path);
    if let Some(link) = &meta.link {
        copy_truncated(&mut ustar.linkname, link);
    }
    copy_truncated(&mut ustar.uname, &meta.uname);
    copy_truncated(&mut ustar.gname, &meta.gname);
    if let Some((major, minor)) = meta.device {
        header.set_device_major(major)?;
        header.set_device_minor(minor)?;
    }
    header.set_cksum();
    Ok(header)
}

/// Feeds the tar builder exactly `size` bytes whatever the source does:
/// `Builder::append` pads to what it copied, so a source that grew or
/// shrank (a file being written to, a truncated spliced stream) would
/// otherwise corrupt every entry after it. A short or failing source is
/// padded with zeros, as GNU tar does, and the caller is told.
pub struct ExactSize<R> {
    inner: R,
    remaining: u64,
    /// The source ended before `size` bytes.
    pub short: bool,
    /// The source failed; the rest was zero-filled.
    pub error: Option<io::Error>,
}

impl<R: Read> ExactSize<R> {
    /// Exactly `size` bytes of `inner`, zero-padded if it falls short.
    pub fn new(inner: R, size: u64) -> Self {
        ExactSize {
            inner,
            remaining: size,
            short: false,
            error: None,
        }
    }

    /// The source, to check whether it has more to give.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for ExactSize<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.remaining) as usize;
        if want == 0 {
            return Ok(0);
        }
        let buf = &mut buf[..want];
        let n = if self.short || self.error.is_some() {
            0
        } else {
            loop {
                match self.inner.read(buf) {
                    Ok(0) => {
                        self.short = true;
                        break 0;
                    }
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.error = Some(e);
                        break 0;
                    }
                }
            }
        };
        let n = if n == 0 {
            buf.fill(0);
            want
        } else {
            n
        };
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Fill a NUL-padded header field; what does not fit lives in a PAX record.
fn copy_truncated(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
    field[n..].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(path: &[u8]) -> EntryMeta {
        EntryMeta {
            path: path.to_vec(),
            kind: EntryType::Regular,
            link: None,
            size: 3,
            mode: 0o640,
            uid: 1000,
            gid: 1000,
            mtime: Mtime::from_secs(1_700_000_000),
            uname: b"alice".to_vec(),
            gname: b"staff".to_vec(),
            device: None,
            extra_pax: vec![("SCHILY.xattr.user.k".into(), b"v".to_vec())],
        }
    }

    #[test]
    fn long_and_binary_names_round_trip_through_pax() {
        let long = "d/".repeat(80) + "file.txt";
        let binary = b"caf\xe9.txt".to_vec();
        let long_binary = [b"caf\xe9/".repeat(30), b"x".to_vec()].concat();
        let mut b = Builder::new(Vec::new());
        append(&mut b, &meta(long.as_bytes()), &b"abc"[..]).unwrap();
        append(&mut b, &meta(&binary), &b"xyz"[..]).unwrap();
        append(&mut b, &meta(&long_binary), &b"uvw"[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        let mut a = tar::Archive::new(&bytes[..]);
        let mut names = Vec::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            names.push(e.path_bytes().into_owned());
            assert_eq!(e.header().username_bytes(), Some(&b"alice"[..]));
            let xattr: Vec<_> = e
                .pax_extensions()
                .unwrap()
                .unwrap()
                .map(|x| x.unwrap().key().unwrap().to_string())
                .collect();
            assert!(xattr.contains(&"SCHILY.xattr.user.k".to_string()));
            let mut data = String::new();
            e.read_to_string(&mut data).unwrap();
            assert_eq!(data.len(), 3);
        }
        assert_eq!(names, vec![long.into_bytes(), binary, long_binary]);
    }
}
