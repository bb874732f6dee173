//! `unpack -G` (GNU tar's `--incremental` on extraction): a directory's
//! *dumpdir* lists what the directory held when the dump was made, so
//! what it no longer lists was deleted since and is deleted here — inside
//! the destination only: the directory comes from the guard, and a
//! member is removed as itself (a symlink, never what it points to).
//!
//! A dumpdir is NUL-terminated entries, each a flag and a name: `Y` sent,
//! `N` not sent, `D` a directory (all three kept), `R`/`T` a rename's
//! source and target (member names), `X` GNU tar's scratch name; an empty
//! entry ends it. It comes as a PAX `GNU.dumpdir` record (`--format=posix`)
//! or as the data of a `D` member (GNU format).

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One directory's listing, parsed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Dumpdir {
    /// The names the directory holds (`Y`, `N`, `D`).
    pub(crate) keep: HashSet<Vec<u8>>,
    /// Renames to make first: (from, to), member names.
    pub(crate) renames: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Dumpdir {
    /// Parse a dumpdir; an unknown flag is skipped, as GNU tar skips it.
    pub(crate) fn parse(bytes: &[u8]) -> Dumpdir {
        let mut dumpdir = Dumpdir::default();
        let mut from = None;
        for entry in bytes.split(|&b| b == 0) {
            let Some((&flag, name)) = entry.split_first() else {
                break;
            };
            match flag {
                b'Y' | b'N' | b'D' => {
                    dumpdir.keep.insert(name.to_vec());
                }
                b'R' => from = Some(name.to_vec()),
                b'T' => {
                    if let Some(from) = from.take() {
                        dumpdir.renames.push((from, name.to_vec()));
                    }
                }
                _ => {}
            }
        }
        dumpdir
    }

    /// Delete what `dir` holds that this listing does not; calls `deleted`
    /// with each name removed. The first failure ends it.
    pub(crate) fn purge(&self, dir: &Path, mut deleted: impl FnMut(&[u8])) -> io::Result<()> {
        let mut gone: Vec<_> = (fs::read_dir(dir)?)
            .filter_map(|e| e.map(|e| e.file_name()).ok())
            .filter(|name| !self.keep.contains(name.as_bytes()))
            .collect();
        gone.sort();
        for name in gone {
            let path = dir.join(&name);
            // symlink_metadata: a symlink is removed, not followed; std's
            // remove_dir_all does not follow symlinks inside either.
            match fs::symlink_metadata(&path)?.is_dir() {
                true => fs::remove_dir_all(&path)?,
                false => fs::remove_file(&path)?,
            }
            deleted(name.as_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dumpdir_keeps_what_it_lists_and_deletes_the_rest() {
        let dumpdir = Dumpdir::parse(b"Ya\0Nb\0Dsub\0Rd/x\0Td/y\0Xtmp\0\0Ylater\0");
        let names = |n: &[&str]| {
            n.iter()
                .map(|s| s.as_bytes().to_vec())
                .collect::<HashSet<_>>()
        };
        assert_eq!(
            dumpdir.keep,
            names(&["a", "b", "sub"]),
            "nothing after the end"
        );
        assert_eq!(dumpdir.renames, vec![(b"d/x".to_vec(), b"d/y".to_vec())]);

        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("precious"), "x").unwrap();
        for f in ["a", "b", "old"] {
            fs::write(tmp.path().join(f), f).unwrap();
        }
        fs::create_dir_all(tmp.path().join("sub/deep")).unwrap();
        fs::create_dir_all(tmp.path().join("olddir/deep")).unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("link")).unwrap();
        let mut deleted = Vec::new();
        (dumpdir.purge(tmp.path(), |n| {
            deleted.push(String::from_utf8_lossy(n).into_owned())
        }))
        .unwrap();
        assert_eq!(deleted, ["link", "old", "olddir"]);
        let mut left: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["a", "b", "sub"]);
        assert!(tmp.path().join("sub/deep").is_dir());
        assert!(
            outside.path().join("precious").exists(),
            "a symlink is removed, not followed"
        );
    }
}
