//! The rules that keep `unpack` from writing outside its destination.
//! Every entry passes through here before anything touches the disk, and
//! no other module decides whether a path is safe.
//!
//! The rules, each tested below and by hostile archives in tests/:
//! 1. a name or hard-link target with a `..` component is refused;
//! 2. a leading `/` is stripped (with a warning, as GNU tar does); the
//!    absolute path itself is never written;
//! 3. the directory an entry lands in is resolved step by step: any
//!    existing symlink on the way (from the archive or already in DIR) must
//!    resolve inside DIR, else the entry is refused;
//! 4. a hard link's target must resolve inside DIR by rule 3, and exist;
//! 5. device nodes only with `--devices` and as root;
//! 6. the last component is never followed: files are renamed over it and
//!    links replace it, so a symlink there is replaced, not written through.
//!
//! (The destination changing under us while we run, by another process, is
//! outside this model, as it is for GNU tar.)

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Why an entry was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Violation {
    #[error("path contains a '..' component")]
    /// A `..` in the path.
    ParentDir,
    #[error("path goes through symlink {link} which points outside the destination")]
    /// A path through a symlink that leads out of the destination.
    ThroughSymlink {
        /// The symlink in the way.
        link: String,
    },
    #[error("hard link target {target} is outside the destination")]
    /// A hard link to something outside the destination.
    LinkOutside {
        /// The link's target.
        target: String,
    },
    #[error("hard link target {target} does not exist")]
    /// A hard link to something not extracted.
    LinkMissing {
        /// The link's target.
        target: String,
    },
    #[error("{path} is in the way and is not a directory")]
    /// A file where the path needs a directory.
    NotADirectory {
        /// The file in the way.
        path: String,
    },
    #[error("device nodes are extracted only with --devices, as root")]
    /// A device node without `--devices` (or not as root).
    Device,
}

/// An entry name made safe to join to the destination.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CleanPath {
    /// Relative, with no `.`, `..` or empty components; may be empty (the
    /// destination itself, e.g. the `./` entry).
    pub rel: PathBuf,
    /// The name began with `/` (stripped).
    pub had_root: bool,
}

/// Clean an entry name (or hard-link target): strip a leading `/`, drop
/// `strip` leading components (counted as GNU tar does: `.` is one), drop
/// `.` components, refuse `..`. `None` when stripping leaves nothing.
pub(crate) fn clean(name: &[u8], strip: usize) -> Result<Option<CleanPath>, Violation> {
    let had_root = name.first() == Some(&b'/');
    let parts: Vec<&[u8]> = name
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty())
        .collect();
    if parts.iter().any(|p| *p == b"..") {
        return Err(Violation::ParentDir);
    }
    if strip > 0 && parts.len() <= strip {
        return Ok(None);
    }
    let mut rel = PathBuf::new();
    for part in parts.into_iter().skip(strip).filter(|p| *p != b".") {
        rel.push(OsStr::from_bytes(part));
    }
    Ok(Some(CleanPath { rel, had_root }))
}

/// Resolves entry paths inside one destination directory.
pub(crate) struct Guard {
    root: PathBuf,
    /// The last directory verified by [`Guard::parent_dir`]: entries come
    /// grouped by directory, and nothing `unpack` does can turn a verified
    /// directory into a symlink (it never replaces a directory).
    last: Option<(PathBuf, PathBuf)>,
}

impl Guard {
    /// `root` must exist; it is canonicalised once.
    pub(crate) fn new(root: &Path) -> io::Result<Guard> {
        Ok(Guard {
            root: fs::canonicalize(root)?,
            last: None,
        })
    }

    /// The real directory that `rel`'s last component goes into, creating
    /// missing directories on the way (mode 0777 less umask, like tar).
    pub(crate) fn parent_dir(&mut self, rel: &Path) -> Result<PathBuf, GuardError> {
        let parent = rel.parent().unwrap_or(Path::new(""));
        if let Some((cached_rel, resolved)) = &self.last
            && cached_rel == parent
        {
            return Ok(resolved.clone());
        }
        let resolved = self.resolve_dir(parent, true)?;
        self.last = Some((parent.to_path_buf(), resolved.clone()));
        Ok(resolved)
    }

    /// Forget the last verified directory: a deletion (`unpack -G`) may
    /// have removed it, and a symlink could then take its place.
    pub(crate) fn forget(&mut self) {
        self.last = None;
    }

    /// The real path of an existing directory entry `rel` (itself resolved
    /// through symlinks that stay inside), or where to create it.
    pub(crate) fn dir_path(&mut self, rel: &Path) -> Result<PathBuf, GuardError> {
        self.resolve_dir(rel, true)
    }

    /// Where a hard link's target lives, checked by the same rules.
    pub(crate) fn link_target(&mut self, target: &Path) -> Result<PathBuf, GuardError> {
        let shown = target.display().to_string();
        let name = target.file_name().ok_or_else(|| Violation::LinkMissing {
            target: shown.clone(),
        })?;
        let parent = match self.resolve_dir(target.parent().unwrap_or(Path::new("")), false) {
            Ok(p) => p,
            Err(GuardError::Unsafe(Violation::ThroughSymlink { .. })) => {
                return Err(Violation::LinkOutside { target: shown }.into());
            }
            Err(GuardError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Violation::LinkMissing { target: shown }.into());
            }
            Err(e) => return Err(e),
        };
        let path = parent.join(name);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => Err(Violation::NotADirectory { path: shown }.into()),
            Ok(_) => Ok(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Violation::LinkMissing { target: shown }.into())
            }
            Err(e) => Err(GuardError::Io(e)),
        }
    }

    /// Walk `rel` from the root one component at a time. Symlinks met on
    /// the way are followed only when they resolve inside the root. When
    /// the walk fails, the directories it made are removed again, deepest
    /// first, as GNU tar leaves none: a path too long to create (node-tar's
    /// excessively-deep.tar) left 2,042 empty directories behind.
    fn resolve_dir(&self, rel: &Path, create: bool) -> Result<PathBuf, GuardError> {
        let mut made = Vec::new();
        let walked = self.walk(rel, create, &mut made);
        if walked.is_err() {
            for dir in made.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
        }
        walked
    }

    fn walk(
        &self,
        rel: &Path,
        create: bool,
        made: &mut Vec<PathBuf>,
    ) -> Result<PathBuf, GuardError> {
        let mut cur = self.root.clone();
        for comp in rel.components() {
            let Component::Normal(name) = comp else {
                // `clean` produced `rel`: nothing but normal components.
                return Err(Violation::ParentDir.into());
            };
            let next = cur.join(name);
            match fs::symlink_metadata(&next) {
                Ok(m) if m.file_type().is_symlink() => {
                    let real = fs::canonicalize(&next).map_err(|_| Violation::ThroughSymlink {
                        link: self.shown(&next),
                    })?;
                    if !real.starts_with(&self.root) {
                        return Err(Violation::ThroughSymlink {
                            link: self.shown(&next),
                        }
                        .into());
                    }
                    if !real.is_dir() {
                        return Err(Violation::NotADirectory {
                            path: self.shown(&next),
                        }
                        .into());
                    }
                    cur = real;
                }
                Ok(m) if m.is_dir() => cur = next,
                Ok(_) => {
                    return Err(Violation::NotADirectory {
                        path: self.shown(&next),
                    }
                    .into());
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    match fs::create_dir(&next) {
                        Ok(()) => made.push(next.clone()),
                        // Someone (another entry's hard link?) made it.
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && next.is_dir() => {}
                        Err(e) => return Err(GuardError::Io(e)),
                    }
                    cur = next;
                }
                Err(e) => return Err(GuardError::Io(e)),
            }
        }
        Ok(cur)
    }

    /// A path as the user should see it: relative to the destination.
    fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// What resolving a path can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GuardError {
    #[error(transparent)]
    Unsafe(#[from] Violation),
    #[error(transparent)]
    Io(io::Error),
}

/// Rule 5, in one place.
pub(crate) fn check_device(allowed: bool, is_root: bool) -> Result<(), Violation> {
    if allowed && is_root {
        Ok(())
    } else {
        Err(Violation::Device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn rel(name: &str, strip: usize) -> Option<String> {
        clean(name.as_bytes(), strip)
            .unwrap()
            .map(|c| c.rel.display().to_string())
    }

    #[test]
    fn clean_normalises_like_gnu_tar() {
        assert_eq!(rel("./a/b", 0).as_deref(), Some("a/b"));
        assert_eq!(rel("a//b/./c/", 0).as_deref(), Some("a/b/c"));
        assert_eq!(rel("./", 0).as_deref(), Some(""));
        // `.` counts as a component for --strip-components, as in GNU tar.
        assert_eq!(rel("./a/b", 1).as_deref(), Some("a/b"));
        assert_eq!(rel("x/a/b", 2).as_deref(), Some("b"));
        assert_eq!(rel("x/a", 2), None);
        let abs = clean(b"/etc/passwd", 0).unwrap().unwrap();
        assert_eq!(abs.rel, PathBuf::from("etc/passwd"));
        assert!(abs.had_root);
    }

    #[test]
    fn rule1_dotdot_is_refused_anywhere() {
        for name in ["../x", "a/../../x", "a/..", "/..", "./../x"] {
            assert_eq!(
                clean(name.as_bytes(), 0),
                Err(Violation::ParentDir),
                "{name}"
            );
        }
        // Even where stripping would have removed it.
        assert_eq!(clean(b"../a/b", 1), Err(Violation::ParentDir));
    }

    #[test]
    fn rule3_symlink_outside_is_refused_inside_is_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(root.join("real")).unwrap();
        fs::create_dir(&outside).unwrap();
        symlink(&outside, root.join("out")).unwrap();
        symlink("real", root.join("in")).unwrap();
        symlink("../outside", root.join("rel-out")).unwrap();
        let mut g = Guard::new(&root).unwrap();
        for bad in ["out/x", "rel-out/x", "out/deeper/x"] {
            let err = g.parent_dir(Path::new(bad)).unwrap_err();
            assert!(
                matches!(err, GuardError::Unsafe(Violation::ThroughSymlink { .. })),
                "{bad}: {err}"
            );
        }
        assert!(!outside.join("deeper").exists(), "nothing created outside");
        let p = g.parent_dir(Path::new("in/sub/x")).unwrap();
        assert_eq!(p, g.root.join("real/sub"));
        assert!(p.is_dir());
    }

    #[test]
    fn rule3_a_file_in_the_way_is_not_a_directory() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("f"), b"x").unwrap();
        let mut g = Guard::new(tmp.path()).unwrap();
        let err = g.parent_dir(Path::new("f/x")).unwrap_err();
        assert!(matches!(
            err,
            GuardError::Unsafe(Violation::NotADirectory { .. })
        ));
    }

    #[test]
    fn rule4_hard_link_targets() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        fs::create_dir(&root).unwrap();
        fs::write(tmp.path().join("secret"), b"s").unwrap();
        fs::write(root.join("ok"), b"o").unwrap();
        symlink(tmp.path(), root.join("up")).unwrap();
        let mut g = Guard::new(&root).unwrap();
        assert_eq!(g.link_target(Path::new("ok")).unwrap(), g.root.join("ok"));
        assert!(matches!(
            g.link_target(Path::new("up/secret")).unwrap_err(),
            GuardError::Unsafe(Violation::LinkOutside { .. })
        ));
        for missing in ["missing", "no/such/dir/file"] {
            assert!(matches!(
                g.link_target(Path::new(missing)).unwrap_err(),
                GuardError::Unsafe(Violation::LinkMissing { .. })
            ));
        }
        assert!(
            !root.join("no").exists(),
            "looking up a target creates nothing"
        );
    }

    #[test]
    fn rule5_devices() {
        assert_eq!(check_device(false, true), Err(Violation::Device));
        assert_eq!(check_device(true, false), Err(Violation::Device));
        assert_eq!(check_device(true, true), Ok(()));
    }
}
