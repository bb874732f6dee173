//! `unpack`: write a tar stream's entries under a directory, safely.
//!
//! Every entry is cleaned and resolved by [`guard`] before anything is
//! written. Regular files are written to a temporary name in their final
//! directory and renamed into place only when complete, so a file whose data
//! was cut short never looks whole. Directory modes and times are applied at
//! the end, children first, so a read-only directory does not block its own
//! contents and writing children does not bump its mtime.

use std::fs::{self, File, FileTimes, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use filetime::FileTime;
use nix::sys::stat::{Mode, SFlag};
use tar::EntryType;

use super::guard::{self, Guard, GuardError};
use super::owners::{Kind, Owners};
use super::reader::{TarInput, stream_error};
use super::{Error, show};
use crate::progress::Progress;

#[derive(Debug, Clone)]
pub struct UnpackOptions {
    pub dest: PathBuf,
    /// Create `dest` if missing.
    pub mkdir: bool,
    pub strip_components: usize,
    /// Never replace existing files (each one is an error).
    pub keep_old_files: bool,
    /// Restore owners (default: when running as root).
    pub same_owner: bool,
    /// Create device nodes (also needs root).
    pub devices: bool,
    pub verbose: bool,
}

impl UnpackOptions {
    pub fn new(dest: impl Into<PathBuf>) -> Self {
        UnpackOptions {
            dest: dest.into(),
            mkdir: false,
            strip_components: 0,
            keep_old_files: false,
            same_owner: nix::unistd::geteuid().is_root(),
            devices: false,
            verbose: false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackSummary {
    pub entries: u64,
    pub bytes: u64,
    /// Entries that could not be written (e.g. `--keep-old-files`); each was
    /// reported. Non-zero means exit 2, as GNU tar does.
    pub errors: u64,
}

/// Unpack the (gzip, zstd or plain) tar stream `input` under `opts.dest`.
pub fn unpack<R: Read + Send + 'static>(
    input: R,
    opts: &UnpackOptions,
    progress: &Progress,
) -> Result<UnpackSummary, Error> {
    if !opts.dest.is_dir() {
        if opts.mkdir {
            fs::create_dir_all(&opts.dest)
                .map_err(|e| Error::io(format!("creating {}", opts.dest.display()), e))?;
        } else {
            return Err(Error::io(
                format!(
                    "destination {} (use --mkdir to create it)",
                    opts.dest.display()
                ),
                io::Error::from(io::ErrorKind::NotFound),
            ));
        }
    }
    let guard = Guard::new(&opts.dest)
        .map_err(|e| Error::io(format!("opening {}", opts.dest.display()), e))?;
    let input = TarInput::open(input)?;
    let eof = input.eof_flag();
    let mut archive = tar::Archive::new(input);
    let mut unpacker = Unpacker {
        opts,
        progress,
        guard,
        is_root: nix::unistd::geteuid().is_root(),
        dirs: Vec::new(),
        owners: Owners::default(),
        buf: vec![0; 256 * 1024],
        warned_root: false,
        summary: UnpackSummary::default(),
    };
    for entry in archive
        .entries()
        .map_err(|e| Error::io("reading input", e))?
    {
        let entry = entry.map_err(|e| stream_error(e, eof.get(), "input"))?;
        unpacker.entry(entry)?;
    }
    archive.into_inner().finish()?;
    unpacker.finish_dirs()?;
    Ok(unpacker.summary)
}

struct DirMeta {
    path: PathBuf,
    mode: u32,
    mtime: u64,
    owner: Option<(u32, u32)>,
}

struct Unpacker<'a> {
    opts: &'a UnpackOptions,
    progress: &'a Progress,
    guard: Guard,
    is_root: bool,
    dirs: Vec<DirMeta>,
    owners: Owners,
    buf: Vec<u8>,
    warned_root: bool,
    summary: UnpackSummary,
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<R>) -> Result<(), Error> {
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            return Ok(());
        }
        let name = entry.path_bytes().into_owned();
        let refuse = |violation| Error::Unsafe {
            entry: show(&name),
            violation,
        };
        let Some(clean) = guard::clean(&name, self.opts.strip_components).map_err(refuse)? else {
            return Ok(());
        };
        if clean.had_root && !self.warned_root {
            self.warned_root = true;
            self.progress.warn("Removing leading `/' from member names");
        }
        if self.opts.verbose {
            self.progress.verbose(show(&name));
        }
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644);
        let mtime = header.mtime().unwrap_or(0);
        let owner = self.owner(&entry)?;
        let guarded = |e: GuardError| match e {
            GuardError::Unsafe(v) => refuse(v),
            GuardError::Io(e) => Error::io(format!("creating directories for {}", show(&name)), e),
        };
        self.summary.entries += 1;
        self.progress.add_file();

        if kind == EntryType::Directory {
            // A plain file where the directory goes is replaced, as tar does.
            if let Some(file_name) = clean.rel.file_name() {
                let at = self
                    .guard
                    .parent_dir(&clean.rel)
                    .map_err(guarded)?
                    .join(file_name);
                if fs::symlink_metadata(&at).is_ok_and(|m| m.is_file()) {
                    fs::remove_file(&at)
                        .map_err(|e| Error::io(format!("replacing {}", show(&name)), e))?;
                }
            }
            let path = self.guard.dir_path(&clean.rel).map_err(guarded)?;
            self.dirs.push(DirMeta {
                path,
                mode,
                mtime,
                owner,
            });
            return Ok(());
        }

        let Some(file_name) = clean.rel.file_name() else {
            return Err(Error::Corrupt(format!("entry {} has no name", show(&name))));
        };
        let parent = self.guard.parent_dir(&clean.rel).map_err(guarded)?;
        let target = parent.join(file_name);
        // What is at the target now: never a directory to replace, and
        // with -k never anything.
        if let Ok(existing) = fs::symlink_metadata(&target) {
            if existing.is_dir() {
                return self.entry_error(format_args!(
                    "{}: cannot replace a directory with a non-directory",
                    show(&name)
                ));
            }
            if self.opts.keep_old_files {
                return self.entry_error(format_args!(
                    "{}: not overwritten: file exists",
                    show(&name)
                ));
            }
        }

        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let size = entry.size();
                let mut tmp = tempfile::Builder::new()
                    .prefix(".s3pipe-unpack-")
                    .tempfile_in(&parent)
                    .map_err(|e| Error::io(format!("creating {}", target.display()), e))?;
                let copied = self.copy(&mut entry, tmp.as_file_mut(), &target)?;
                if copied < size {
                    // `tmp` is removed when dropped: no partial file remains.
                    return Err(Error::Truncated(format!(
                        "input ended early (truncated tar): {} is cut short at {copied} of {size} bytes",
                        show(&name)
                    )));
                }
                let file = tmp.as_file();
                self.set_owner_fd(file, owner, &target)?;
                file.set_permissions(Permissions::from_mode(self.mode(mode)))
                    .map_err(|e| Error::io(format!("setting mode of {}", target.display()), e))?;
                file.set_times(FileTimes::new().set_modified(time(mtime)))
                    .map_err(|e| Error::io(format!("setting mtime of {}", target.display()), e))?;
                tmp.persist(&target).map_err(|e| {
                    Error::io(format!("renaming into {}", target.display()), e.error)
                })?;
                self.summary.bytes += copied;
                self.progress.add_bytes(copied);
            }
            EntryType::Symlink => {
                let link = entry.link_name_bytes().ok_or_else(|| {
                    Error::Corrupt(format!("symlink {} has no target", show(&name)))
                })?;
                let link = std::ffi::OsStr::from_bytes(&link);
                remove_existing(&target)?;
                symlink(link, &target)
                    .map_err(|e| Error::io(format!("creating symlink {}", target.display()), e))?;
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::lchown(&target, Some(uid), Some(gid)).map_err(|e| {
                        Error::io(format!("setting owner of {}", target.display()), e)
                    })?;
                }
                let t = FileTime::from_unix_time(mtime as i64, 0);
                filetime::set_symlink_file_times(&target, t, t)
                    .map_err(|e| Error::io(format!("setting mtime of {}", target.display()), e))?;
            }
            EntryType::Link => {
                let link = entry.link_name_bytes().ok_or_else(|| {
                    Error::Corrupt(format!("hard link {} has no target", show(&name)))
                })?;
                let Some(src) = guard::clean(&link, self.opts.strip_components).map_err(refuse)?
                else {
                    return Ok(());
                };
                let src = self.guard.link_target(&src.rel).map_err(guarded)?;
                if src == target {
                    return Ok(());
                }
                remove_existing(&target)?;
                fs::hard_link(&src, &target).map_err(|e| {
                    Error::io(format!("creating hard link {}", target.display()), e)
                })?;
            }
            EntryType::Fifo | EntryType::Char | EntryType::Block => {
                let (sflag, dev) = if kind == EntryType::Fifo {
                    (SFlag::S_IFIFO, 0)
                } else {
                    guard::check_device(self.opts.devices, self.is_root).map_err(refuse)?;
                    let major = header_dev(entry.header().device_major());
                    let minor = header_dev(entry.header().device_minor());
                    let flag = if kind == EntryType::Char {
                        SFlag::S_IFCHR
                    } else {
                        SFlag::S_IFBLK
                    };
                    (flag, nix::sys::stat::makedev(major, minor))
                };
                remove_existing(&target)?;
                nix::sys::stat::mknod(
                    &target,
                    sflag,
                    Mode::from_bits_truncate(self.mode(mode)),
                    dev,
                )
                .map_err(|e| Error::io(format!("creating {}", target.display()), e.into()))?;
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::lchown(&target, Some(uid), Some(gid)).map_err(|e| {
                        Error::io(format!("setting owner of {}", target.display()), e)
                    })?;
                }
                fs::set_permissions(&target, Permissions::from_mode(self.mode(mode)))
                    .map_err(|e| Error::io(format!("setting mode of {}", target.display()), e))?;
                {
                    let t = FileTime::from_unix_time(mtime as i64, 0);
                    filetime::set_symlink_file_times(&target, t, t)
                }
                .map_err(|e| Error::io(format!("setting mtime of {}", target.display()), e))?;
            }
            other => {
                self.progress.warn(format_args!(
                    "{}: unsupported entry type {other:?}, skipped",
                    show(&name)
                ));
            }
        }
        Ok(())
    }

    /// Copy an entry's data; read errors are the stream's, write errors the
    /// destination's.
    fn copy<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        out: &mut File,
        target: &Path,
    ) -> Result<u64, Error> {
        let mut copied = 0u64;
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => return Ok(copied),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(stream_error(e, false, "input")),
            };
            out.write_all(&self.buf[..n])
                .map_err(|e| Error::io(format!("writing {}", target.display()), e))?;
            copied += n as u64;
        }
    }

    /// A per-entry failure that does not stop the run (GNU tar's way).
    fn entry_error(&mut self, message: std::fmt::Arguments) -> Result<(), Error> {
        let _ = writeln!(io::stderr(), "unpack: {message}");
        self.summary.errors += 1;
        Ok(())
    }

    /// Setuid/setgid bits survive only when the owner is restored too.
    fn mode(&self, mode: u32) -> u32 {
        if self.opts.same_owner {
            mode & 0o7777
        } else {
            mode & 0o1777
        }
    }

    /// The owner to restore, if any: the archive's user and group names
    /// when they exist here, else its numeric ids (GNU tar's rule).
    fn owner<R: Read>(&mut self, entry: &tar::Entry<R>) -> Result<Option<(u32, u32)>, Error> {
        if !self.opts.same_owner {
            return Ok(None);
        }
        let h = entry.header();
        let uid = h.uid().unwrap_or(0) as u32;
        let gid = h.gid().unwrap_or(0) as u32;
        let mut by_name = |kind, name: Option<&[u8]>| {
            name.filter(|n| !n.is_empty())
                .and_then(|n| self.owners.id(kind, n))
        };
        let uid = by_name(Kind::User, h.username_bytes()).unwrap_or(uid);
        let gid = by_name(Kind::Group, h.groupname_bytes()).unwrap_or(gid);
        Ok(Some((uid, gid)))
    }

    fn set_owner_fd(
        &self,
        file: &File,
        owner: Option<(u32, u32)>,
        target: &Path,
    ) -> Result<(), Error> {
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(file, Some(uid), Some(gid))
                .map_err(|e| Error::io(format!("setting owner of {}", target.display()), e))?;
        }
        Ok(())
    }

    /// Directory metadata last, deepest (latest) first.
    fn finish_dirs(&mut self) -> Result<(), Error> {
        for dir in self.dirs.drain(..).rev() {
            let err =
                |what: &str, e| Error::io(format!("setting {what} of {}", dir.path.display()), e);
            if let Some((uid, gid)) = dir.owner {
                std::os::unix::fs::chown(&dir.path, Some(uid), Some(gid))
                    .map_err(|e| err("owner", e))?;
            }
            let mode = if self.opts.same_owner {
                dir.mode & 0o7777
            } else {
                dir.mode & 0o1777
            };
            fs::set_permissions(&dir.path, Permissions::from_mode(mode))
                .map_err(|e| err("mode", e))?;
            {
                let t = FileTime::from_unix_time(dir.mtime as i64, 0);
                filetime::set_symlink_file_times(&dir.path, t, t)
            }
            .map_err(|e| err("mtime", e))?;
        }
        Ok(())
    }
}

fn remove_existing(target: &Path) -> Result<(), Error> {
    match fs::remove_file(target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("replacing {}", target.display()), e)),
    }
}

fn header_dev(field: io::Result<Option<u32>>) -> u64 {
    field.ok().flatten().unwrap_or(0) as u64
}

fn time(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}
