//! GNU tar's listed-incremental snapshot, format 2 (`tar -g FILE`, read
//! and written as GNU tar 1.34 does, so either program continues the
//! other's chain): the start time of the dump that wrote it, then one
//! record per directory — its mtime, device, inode, name and *dumpdir*
//! (the members it held, each marked `Y` sent, `N` not sent, `D` a
//! directory).
//!
//! The layout, as GNU tar 1.34 writes it on this machine: the line
//! `GNU tar-VERSION-2\n`, then NUL-terminated fields: start seconds,
//! nanoseconds; per directory `nfs`, mtime seconds, nanoseconds, dev,
//! inode, name, the dumpdir's entries, an empty entry ending the dumpdir
//! and another ending the record.

use std::io::{self, Read, Write};

/// A snapshot is held whole, as GNU tar holds it (one record per
/// directory, ~100 bytes each); a file claiming more than this is refused
/// rather than read into memory.
pub const MAX_SNAPSHOT: u64 = 256 << 20;

/// Why a snapshot cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// It could not be read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// It is not a GNU tar format-2 snapshot, or is damaged.
    #[error("not a GNU tar snapshot (format 2): {0}")]
    Format(String),
}

/// A time as GNU tar stores it: seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Stamp {
    /// Seconds since the epoch (negative before 1970).
    pub sec: i64,
    /// Nanoseconds within the second.
    pub nsec: u32,
}

/// One directory as the last dump saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirRecord {
    /// On an NFS mount (GNU tar then ignores the device number).
    pub nfs: bool,
    /// The directory's modification time.
    pub mtime: Stamp,
    /// Its device number.
    pub dev: u64,
    /// Its inode number.
    pub ino: u64,
    /// Its member name, without a trailing `/`.
    pub name: Vec<u8>,
    /// Its dumpdir: entries such as `Yfile`, `Nold`, `Dsub`, each ending
    /// in NUL (without the final empty entry).
    pub dumpdir: Vec<u8>,
}

/// A whole snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// When the dump that wrote it started: what changed since then is
    /// sent by the next one.
    pub started: Stamp,
    /// Every directory that dump walked.
    pub dirs: Vec<DirRecord>,
}

impl Snapshot {
    /// Read a format-2 snapshot (GNU tar's or ours).
    pub fn read(input: impl Read) -> Result<Snapshot, SnapshotError> {
        let mut bytes = Vec::new();
        input.take(MAX_SNAPSHOT + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_SNAPSHOT {
            return Err(bad(format!("larger than {} MiB", MAX_SNAPSHOT >> 20)));
        }
        let newline =
            (bytes.iter().position(|&b| b == b'\n')).ok_or_else(|| bad("no format line".into()))?;
        let line = &bytes[..newline];
        if !line.starts_with(b"GNU tar-") || !line.ends_with(b"-2") {
            return Err(bad(format!(
                "format line {:?}",
                String::from_utf8_lossy(line)
            )));
        }
        let mut fields = Fields(&bytes[newline + 1..]);
        let started = fields.stamp()?;
        let mut dirs = Vec::new();
        while !fields.0.is_empty() {
            dirs.push(fields.record()?);
        }
        Ok(Snapshot { started, dirs })
    }

    /// Write it as GNU tar 1.34 would, naming s3pipe as the writer.
    pub fn write(&self, mut out: impl Write) -> io::Result<()> {
        let mut bytes = format!("GNU tar-s3pipe {}-2\n", env!("CARGO_PKG_VERSION")).into_bytes();
        let field = |bytes: &mut Vec<u8>, b: &[u8]| {
            bytes.extend_from_slice(b);
            bytes.push(0);
        };
        field(&mut bytes, self.started.sec.to_string().as_bytes());
        field(&mut bytes, self.started.nsec.to_string().as_bytes());
        for dir in &self.dirs {
            field(&mut bytes, if dir.nfs { b"1" } else { b"0" });
            field(&mut bytes, dir.mtime.sec.to_string().as_bytes());
            field(&mut bytes, dir.mtime.nsec.to_string().as_bytes());
            field(&mut bytes, dir.dev.to_string().as_bytes());
            field(&mut bytes, dir.ino.to_string().as_bytes());
            field(&mut bytes, &dir.name);
            bytes.extend_from_slice(&dir.dumpdir);
            field(&mut bytes, b"");
            field(&mut bytes, b"");
        }
        out.write_all(&bytes)?;
        out.flush()
    }
}

fn bad(why: String) -> SnapshotError {
    SnapshotError::Format(why)
}

/// The NUL-terminated fields still to parse.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn next(&mut self, what: &str) -> Result<&'a [u8], SnapshotError> {
        let end = (self.0.iter().position(|&b| b == 0))
            .ok_or_else(|| bad(format!("cut in a record's {what}")))?;
        let field = &self.0[..end];
        self.0 = &self.0[end + 1..];
        Ok(field)
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, SnapshotError> {
        let field = self.next(what)?;
        (std::str::from_utf8(field).ok().and_then(|s| s.parse().ok()))
            .ok_or_else(|| bad(format!("{what} {:?}", String::from_utf8_lossy(field))))
    }

    fn stamp(&mut self) -> Result<Stamp, SnapshotError> {
        let sec = self.number("seconds")?;
        let nsec = self.number("nanoseconds")?;
        if nsec >= 1_000_000_000 {
            return Err(bad(format!("nanoseconds {nsec}")));
        }
        Ok(Stamp { sec, nsec })
    }

    fn record(&mut self) -> Result<DirRecord, SnapshotError> {
        let nfs = match self.next("nfs flag")? {
            b"0" => false,
            b"1" => true,
            other => {
                return Err(bad(format!(
                    "nfs flag {:?}",
                    String::from_utf8_lossy(other)
                )));
            }
        };
        let mtime = self.stamp()?;
        let dev = self.number("device")?;
        let ino = self.number("inode")?;
        let name = self.next("name")?.to_vec();
        if name.is_empty() {
            return Err(bad("a directory with no name".into()));
        }
        let mut dumpdir = Vec::new();
        loop {
            let entry = self.next("dumpdir")?;
            if entry.is_empty() {
                break;
            }
            dumpdir.extend_from_slice(entry);
            dumpdir.push(0);
        }
        if !self.next("end")?.is_empty() {
            return Err(bad("a record not ended by NUL".into()));
        }
        Ok(DirRecord {
            nfs,
            mtime,
            dev,
            ino,
            name,
            dumpdir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        let dir = |name: &str, dumpdir: &[u8]| DirRecord {
            nfs: false,
            mtime: Stamp { sec: 17, nsec: 5 },
            dev: 65024,
            ino: 42,
            name: name.into(),
            dumpdir: dumpdir.to_vec(),
        };
        Snapshot {
            started: Stamp {
                sec: 1796311289,
                nsec: 791531439,
            },
            dirs: vec![
                dir("e/y", b"Nf4\0"),
                dir("e/empty", b""),
                dir("e", b"Yf1\0Dy\0"),
            ],
        }
    }

    #[test]
    fn a_snapshot_round_trips_in_gnu_tars_layout() {
        let mut bytes = Vec::new();
        sample().write(&mut bytes).unwrap();
        let body = &bytes[bytes.iter().position(|&b| b == b'\n').unwrap() + 1..];
        assert!(body.starts_with(
            b"1796311289\x00791531439\x000\x0017\x005\x0065024\x0042\x00e/y\x00Nf4\x00\x00\x00"
        ));
        assert!(body.ends_with(b"e\x00Yf1\x00Dy\x00\x00\x00"));
        assert_eq!(Snapshot::read(&bytes[..]).unwrap(), sample());
    }

    #[test]
    fn damaged_snapshots_are_refused_with_what_is_wrong() {
        let mut bytes = Vec::new();
        sample().write(&mut bytes).unwrap();
        for (cut, why) in [
            (&bytes[..bytes.len() - 1], "cut in a record's end"),
            (&bytes[..40], "cut in a record's"),
            (&b"GNU tar-1.34-1\n0\x000\x00"[..], "format line"),
            (&b"GNU tar-1.34-2\n0\x00x\x00"[..], "nanoseconds \"x\""),
            (&b"GNU tar-1.34-2\n0\x000\x002\x00"[..], "nfs flag \"2\""),
        ] {
            let e = Snapshot::read(cut).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }
}
