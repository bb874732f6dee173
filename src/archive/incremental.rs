//! `pack --listed-incremental`: what a dump sends, decided as GNU tar 1.34
//! decides it, and the snapshot it leaves for the next one.
//!
//! Every directory is sent, each with its *dumpdir* (a PAX `GNU.dumpdir`
//! record, as `tar --format=posix -g` writes it): the members it holds
//! now, so that `unpack -G` (and `tar -x -G`) can delete what is gone. A
//! directory the last dump did not see (by name, device and inode) is new:
//! all of it is sent. In one it saw, a non-directory is sent when its
//! mtime or ctime is at or after the last dump's start (GNU tar's rule; a
//! `chmod` or a rename changes the ctime). A renamed directory is sent
//! whole where GNU tar would write a rename record: the archive is larger,
//! the restored tree the same. Excluded and unreadable members are listed
//! as not sent, so a restore keeps them.

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Error;
use super::snapshot::{DirRecord, Snapshot, SnapshotError, Stamp};

/// Where a dump's snapshot lives and how to compare directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The snapshot file: read if it exists (else this is a level-0
    /// dump), replaced when the pack succeeds.
    pub snapshot: PathBuf,
    /// `--no-check-device`: a directory is the same if its inode is (for
    /// volumes that come back with another device number).
    pub check_device: bool,
}

/// What a directory's members are in this dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Sent (`Y`).
    Sent,
    /// Unchanged, excluded or unreadable: not sent, kept on restore (`N`).
    Kept,
    /// A directory (`D`): walked, with its own dumpdir.
    Dir,
}

/// The state of one incremental dump, carried by the walk.
pub(crate) struct Incremental {
    /// Members changed at or after this are sent; None: level 0.
    since: Option<Stamp>,
    /// The last dump's directories: name → (dev, inode).
    known: HashMap<Vec<u8>, (u64, u64)>,
    check_device: bool,
    started: Stamp,
    /// This dump's directories, for the next snapshot.
    seen: Vec<DirRecord>,
}

impl Incremental {
    /// Read the last snapshot, if there is one; `started` is now.
    pub(crate) fn open(listed: &Listed) -> Result<Incremental, Error> {
        let started = file_clock_now(&listed.snapshot);
        let previous = match File::open(&listed.snapshot) {
            Ok(file) => read_unless_empty(file).map_err(|e| snapshot_error(listed, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(snapshot_error(listed, e.into())),
        };
        let known = (previous.iter().flat_map(|p| &p.dirs))
            .map(|d| (d.name.clone(), (d.dev, d.ino)))
            .collect();
        Ok(Incremental {
            since: previous.map(|p| p.started),
            known,
            check_device: listed.check_device,
            started,
            seen: Vec::new(),
        })
    }

    /// Is every member of directory `name` (without its `/`) to be sent?
    pub(crate) fn all_new(&self, name: &[u8], md: &Metadata) -> bool {
        match (self.since, self.known.get(name)) {
            (Some(_), Some(&(dev, ino))) => {
                ino != md.ino() || (self.check_device && dev != md.dev())
            }
            _ => true,
        }
    }

    /// The mark of a member that is not a directory.
    pub(crate) fn mark(&self, all_new: bool, md: &Metadata) -> Mark {
        let changed = |since: Stamp| {
            let m = Stamp {
                sec: md.mtime(),
                nsec: md.mtime_nsec() as u32,
            };
            let c = Stamp {
                sec: md.ctime(),
                nsec: md.ctime_nsec() as u32,
            };
            m >= since || c >= since
        };
        match all_new || self.since.is_none_or(changed) {
            true => Mark::Sent,
            false => Mark::Kept,
        }
    }

    /// Record directory `name` with its members' marks; returns its
    /// dumpdir.
    pub(crate) fn record(
        &mut self,
        name: &[u8],
        md: &Metadata,
        members: &[(&[u8], Mark)],
    ) -> Vec<u8> {
        let mut dumpdir = Vec::new();
        for (member, mark) in members {
            dumpdir.push(match mark {
                Mark::Sent => b'Y',
                Mark::Kept => b'N',
                Mark::Dir => b'D',
            });
            dumpdir.extend_from_slice(member);
            dumpdir.push(0);
        }
        self.seen.push(DirRecord {
            nfs: false,
            mtime: Stamp {
                sec: md.mtime(),
                nsec: md.mtime_nsec() as u32,
            },
            dev: md.dev(),
            ino: md.ino(),
            name: name.to_vec(),
            dumpdir: dumpdir.clone(),
        });
        dumpdir
    }

    /// The snapshot this dump leaves.
    pub(crate) fn into_snapshot(self) -> Snapshot {
        Snapshot {
            started: self.started,
            dirs: self.seen,
        }
    }
}

/// Replace the snapshot at `listed.snapshot` once the archive is whole: a
/// failed pack leaves the old one, so the next dump sends what this one
/// did not finish. A regular file is replaced by a rename; anything else
/// (`/dev/null`, a pipe) is written in place.
pub(crate) fn save(listed: &Listed, snapshot: &Snapshot) -> Result<(), Error> {
    let path = &listed.snapshot;
    let fail = |e| snapshot_error(listed, SnapshotError::Io(e));
    let regular = fs::metadata(path).map_or(true, |md| md.is_file());
    if !regular {
        return snapshot
            .write(
                fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(fail)?,
            )
            .map_err(fail);
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".s3pipe-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = File::create(&tmp)
        .and_then(|file| {
            snapshot.write(&file)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(fail)
}

/// A snapshot, or None for an empty file (GNU tar's `-g /dev/null`: a
/// level-0 dump).
fn read_unless_empty(file: File) -> Result<Option<Snapshot>, SnapshotError> {
    let mut input = io::BufReader::new(file);
    if io::BufRead::fill_buf(&mut input)?.is_empty() {
        return Ok(None);
    }
    Snapshot::read(input).map(Some)
}

fn snapshot_error(listed: &Listed, e: SnapshotError) -> Error {
    Error::Snapshot {
        path: display(&listed.snapshot),
        source: e,
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// The dump's start, by the clock the kernel stamps files with: the ctime
/// of a probe beside the snapshot, changed twice with a stat between (on
/// kernels with multigrain timestamps, 6.13 and later, the second change
/// takes a fine-grained time that every later change is at or after; on
/// older ones file times are the coarse clock's, which only grows). GNU
/// tar takes the exact clock instead, which runs up to a tick ahead of
/// file times: a change within a tick after its start can carry an earlier
/// time and be missed by the next dump. Where no probe can be written
/// (`-g /dev/null`, a read-only directory), the exact clock, as GNU tar.
fn file_clock_now(snapshot: &Path) -> Stamp {
    let exact = stamp(SystemTime::now());
    let regular = fs::metadata(snapshot).map_or(true, |md| md.is_file());
    let (Some(dir), Some(name), true) = (snapshot.parent(), snapshot.file_name(), regular) else {
        return exact;
    };
    let mut probe_name = std::ffi::OsString::from(".");
    probe_name.push(name);
    probe_name.push(format!(".s3pipe-clock-{}", std::process::id()));
    let probe = dir.join(probe_name);
    let stamped = (|| -> io::Result<Stamp> {
        fs::write(&probe, b"")?;
        fs::metadata(&probe)?;
        fs::write(&probe, b"1")?;
        let md = fs::metadata(&probe)?;
        Ok(Stamp {
            sec: md.ctime(),
            nsec: md.ctime_nsec() as u32,
        })
    })();
    let _ = fs::remove_file(&probe);
    stamped.unwrap_or(exact)
}

fn stamp(t: SystemTime) -> Stamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Stamp {
        sec: d.as_secs() as i64,
        nsec: d.subsec_nanos(),
    }
}
