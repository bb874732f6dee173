//! `pack`: walk paths (GNU tar's `-C` semantics) into a tar stream.
//!
//! Why not `tar::Builder::append_dir_all`: it is unsorted, follows symlinks,
//! stores hard links as copies, fails on sockets and copies a file to EOF
//! after taking its size from stat, so a growing file corrupts the archive.
//! This walker sorts each directory (same tree, same archive), keeps a
//! (dev, inode) table for hard links, and feeds exactly the header's size.
//!
//! On any fatal error the end-of-archive blocks are *not* written and the
//! compressor is abandoned: a failed `pack` never emits a stream that a
//! reader (or `s3put --verify`) would take for a complete archive.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use globset::{Glob, GlobSet, GlobSetBuilder};
use tar::{Builder, EntryType};

use super::header::{self, EntryMeta, ExactSize};
use super::owners::{Kind, Owners, id_of, name_of};
use super::sparse::{self, RegionReader, SparseMap};
use super::time::Mtime;
use super::{Error, show, splice};
use crate::codec::encode::{Compression, Encoder};
use crate::progress::Progress;

/// One positional step of a pack command line, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `-C DIR`: later paths are relative to DIR (itself relative to the
    /// previous `-C`).
    Chdir(PathBuf),
    /// A path to archive, named in the archive as given.
    Path(PathBuf),
    /// `--splice FILE` / `@FILE`: copy the entries of a tar stream (`-` is
    /// stdin).
    Splice(PathBuf),
}

/// A user or group override: `--owner NAME[:ID]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id {
    pub name: Vec<u8>,
    pub id: u64,
}

#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    pub inputs: Vec<Input>,
    pub exclude: Vec<String>,
    pub dereference: bool,
    pub mtime: Option<i64>,
    pub owner: Option<Id>,
    pub group: Option<Id>,
    pub ignore_failed_read: bool,
    /// Store files with holes as sparse entries (`-S`, GNU tar's flag).
    pub sparse: bool,
    pub verbose: bool,
    /// Put spliced entries under this directory.
    pub splice_prefix: Option<String>,
    /// What `--splice -` reads: the caller passes its standard input in
    /// (the library never reaches for the process's own).
    pub stdin: SpliceStdin,
}

/// A reader handed over once, for `--splice -`.
#[derive(Clone, Default)]
pub struct SpliceStdin(Arc<Mutex<Option<Box<dyn Read + Send>>>>);

impl SpliceStdin {
    pub fn new(input: impl Read + Send + 'static) -> Self {
        SpliceStdin(Arc::new(Mutex::new(Some(Box::new(input)))))
    }

    fn take(&self) -> Option<Box<dyn Read + Send>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl std::fmt::Debug for SpliceStdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpliceStdin")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackSummary {
    pub entries: u64,
    pub bytes: u64,
    /// Files that changed while being read (GNU tar's exit 1).
    pub changed: u64,
    /// Unreadable files skipped under `--ignore-failed-read`.
    pub skipped: u64,
}

/// Pack into `out` compressed as asked; the stream is completed only when
/// everything succeeded, and abandoned (unreadable as whole) otherwise.
pub fn pack_to<W: Write>(
    opts: &PackOptions,
    compression: &Compression,
    out: W,
    progress: &Progress,
) -> Result<PackSummary, Error> {
    let mut enc =
        Encoder::new(out, compression).map_err(|e| Error::io("starting the compressor", e))?;
    match pack(opts, &mut enc, progress) {
        Ok(summary) => {
            enc.finish()
                .map_err(|e| Error::io("writing the archive", e))?;
            Ok(summary)
        }
        Err(e) => {
            let _ = enc.abandon();
            Err(e)
        }
    }
}

/// Write the tar stream (uncompressed) to `out`. On error nothing more is
/// written: no end-of-archive blocks.
pub fn pack<W: Write>(
    opts: &PackOptions,
    out: &mut W,
    progress: &Progress,
) -> Result<PackSummary, Error> {
    // ManuallyDrop: tar's Builder writes the end-of-archive blocks when
    // dropped, which must not happen after a failure.
    let mut builder = ManuallyDrop::new(Builder::new(out));
    let mut walker = Walker::new(opts, progress)?;
    walker.run(&mut builder)?;
    ManuallyDrop::into_inner(builder)
        .into_inner()
        .map_err(|e| Error::io("writing the archive", e))?;
    Ok(walker.summary)
}

struct Walker<'a> {
    opts: &'a PackOptions,
    progress: &'a Progress,
    exclude: GlobSet,
    /// (dev, inode) → first member name, for files with several links.
    links: HashMap<(u64, u64), Vec<u8>>,
    owners: Owners,
    /// Directories being walked, to stop `--dereference` loops.
    ancestors: Vec<(u64, u64)>,
    warned_root: bool,
    summary: PackSummary,
}

impl<'a> Walker<'a> {
    fn new(opts: &'a PackOptions, progress: &'a Progress) -> Result<Self, Error> {
        let mut set = GlobSetBuilder::new();
        let refused = |pattern: &str, reason: String| Error::Pattern {
            pattern: pattern.into(),
            reason,
        };
        for pattern in &opts.exclude {
            set.add(Glob::new(pattern).map_err(|e| refused(pattern, e.kind().to_string()))?);
        }
        let exclude = set
            .build()
            .map_err(|e| refused(&opts.exclude.join(" "), e.to_string()))?;
        Ok(Walker {
            opts,
            progress,
            exclude,
            links: HashMap::new(),
            owners: Owners::default(),
            ancestors: Vec::new(),
            warned_root: false,
            summary: PackSummary::default(),
        })
    }

    fn run<W: Write>(&mut self, builder: &mut Builder<W>) -> Result<(), Error> {
        let mut base = PathBuf::new();
        for input in &self.opts.inputs {
            match input {
                Input::Chdir(dir) => base = base.join(dir),
                Input::Path(path) => {
                    let name = self.member_name(path);
                    let fs_path = if base.as_os_str().is_empty() {
                        path.clone()
                    } else {
                        base.join(path)
                    };
                    self.add(builder, &fs_path, name)?;
                }
                Input::Splice(path) => {
                    let prefix = self.opts.splice_prefix.as_deref().map(str::as_bytes);
                    let n = if path.as_os_str() == "-" {
                        let stdin = self.opts.stdin.take().ok_or(Error::StdinTwice)?;
                        splice::splice(builder, stdin, "standard input", prefix, self.progress)?
                    } else {
                        let fs_path = base.join(path);
                        let file = File::open(&fs_path)
                            .map_err(|e| Error::io(format!("opening {}", fs_path.display()), e))?;
                        splice::splice(
                            builder,
                            file,
                            &fs_path.display().to_string(),
                            prefix,
                            self.progress,
                        )?
                    };
                    self.summary.entries += n;
                }
            }
        }
        Ok(())
    }

    /// The member name for a command-line path: as given, without a leading
    /// `/` (GNU tar's warning) or trailing slashes.
    fn member_name(&mut self, path: &Path) -> Vec<u8> {
        let bytes = path.as_os_str().as_bytes();
        let trimmed = bytes.strip_suffix(b"/").map_or(bytes, |b| {
            let end = b.iter().rposition(|&c| c != b'/').map_or(0, |i| i + 1);
            &b[..end]
        });
        let start = trimmed
            .iter()
            .position(|&c| c != b'/')
            .unwrap_or(trimmed.len());
        if start > 0 && !self.warned_root {
            self.warned_root = true;
            self.progress.warn("Removing leading `/' from member names");
        }
        trimmed[start..].to_vec()
    }

    /// GNU tar's default (unanchored) exclusion: a pattern matches the whole
    /// name or any part of it that starts after a `/`; `*` matches `/`.
    fn excluded(&self, name: &[u8]) -> bool {
        if self.exclude.is_empty() || name.is_empty() {
            return false;
        }
        let name = name.strip_suffix(b"/").unwrap_or(name);
        let matches = |s: &[u8]| {
            self.exclude
                .is_match(Path::new(std::ffi::OsStr::from_bytes(s)))
        };
        matches(name)
            || name
                .iter()
                .enumerate()
                .any(|(i, &c)| c == b'/' && matches(&name[i + 1..]))
    }

    fn add<W: Write>(
        &mut self,
        builder: &mut Builder<W>,
        path: &Path,
        name: Vec<u8>,
    ) -> Result<(), Error> {
        if self.excluded(&name) {
            return Ok(());
        }
        let stat = if self.opts.dereference {
            fs::metadata(path)
        } else {
            fs::symlink_metadata(path)
        };
        let md = match stat {
            Ok(md) => md,
            Err(e) => return self.failed_read(path, "cannot stat", e),
        };
        let ft = md.file_type();
        if ft.is_dir() {
            self.add_dir(builder, path, name, &md)
        } else if ft.is_file() {
            self.add_file(builder, path, name, &md)
        } else if ft.is_symlink() {
            let target = match fs::read_link(path) {
                Ok(t) => t,
                Err(e) => return self.failed_read(path, "cannot read link", e),
            };
            let mut meta = self.meta(&md, name, EntryType::Symlink);
            meta.link = Some(target.as_os_str().as_bytes().to_vec());
            self.write(builder, &meta, std::io::empty())
        } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            // Stored as what they are; never opened or read.
            let kind = if ft.is_fifo() {
                EntryType::Fifo
            } else if ft.is_char_device() {
                EntryType::Char
            } else {
                EntryType::Block
            };
            let mut meta = self.meta(&md, name, kind);
            if !ft.is_fifo() {
                let rdev = md.rdev();
                meta.device = Some((
                    nix::sys::stat::major(rdev) as u32,
                    nix::sys::stat::minor(rdev) as u32,
                ));
            }
            self.write(builder, &meta, std::io::empty())
        } else {
            self.progress
                .warn(format_args!("{}: socket ignored", path.display()));
            Ok(())
        }
    }

    fn add_dir<W: Write>(
        &mut self,
        builder: &mut Builder<W>,
        path: &Path,
        name: Vec<u8>,
        md: &Metadata,
    ) -> Result<(), Error> {
        let key = (md.dev(), md.ino());
        if self.ancestors.contains(&key) {
            self.progress.warn(format_args!(
                "{}: directory loop (through a followed symlink), not descended",
                path.display()
            ));
            return Ok(());
        }
        let mut children: Vec<OsString> = match fs::read_dir(path) {
            Ok(rd) => match rd.map(|e| e.map(|e| e.file_name())).collect() {
                Ok(names) => names,
                Err(e) => return self.failed_read(path, "cannot read directory", e),
            },
            Err(e) => return self.failed_read(path, "cannot open directory", e),
        };
        // Byte order, as `LC_ALL=C ls` would: the same tree gives the same
        // archive on every machine.
        children.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let prefix = if name.is_empty() {
            Vec::new()
        } else {
            let mut dir_name = name;
            dir_name.push(b'/');
            let meta = self.meta(md, dir_name.clone(), EntryType::Directory);
            self.write(builder, &meta, std::io::empty())?;
            dir_name
        };
        self.ancestors.push(key);
        for child in children {
            let mut child_name = prefix.clone();
            child_name.extend_from_slice(child.as_bytes());
            self.add(builder, &path.join(&child), child_name)?;
        }
        self.ancestors.pop();
        Ok(())
    }

    fn add_file<W: Write>(
        &mut self,
        builder: &mut Builder<W>,
        path: &Path,
        name: Vec<u8>,
        md: &Metadata,
    ) -> Result<(), Error> {
        if md.nlink() > 1 {
            let key = (md.dev(), md.ino());
            if let Some(first) = self.links.get(&key).cloned() {
                let mut meta = self.meta(md, name, EntryType::Link);
                meta.link = Some(first);
                return self.write(builder, &meta, std::io::empty());
            }
            self.links.insert(key, name.clone());
        }
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => return self.failed_read(path, "cannot open", e),
        };
        // The size and times of what we opened, not of what we stat'ed.
        let before = file
            .metadata()
            .map_err(|e| Error::io(format!("cannot stat {}", path.display()), e))?;
        let mut meta = self.meta(&before, name, EntryType::Regular);
        meta.size = before.len();
        if self.opts.verbose {
            self.progress.verbose(show(&meta.path));
        }
        let outcome = self.append_file(builder, &file, &before, &meta, path)?;
        self.summary.entries += 1;
        self.summary.bytes += meta.size;
        self.progress.add_bytes(meta.size);
        self.progress.add_file();
        let Some((short, grew)) = outcome else {
            return Ok(()); // a read error, reported and zero-filled
        };
        let touched = file.metadata().is_ok_and(|after| {
            after.len() != before.len()
                || after.mtime() != before.mtime()
                || after.mtime_nsec() != before.mtime_nsec()
        });
        if short || grew || touched {
            self.progress.warn(format_args!(
                "{}: file changed as we read it",
                path.display()
            ));
            self.summary.changed += 1;
        }
        Ok(())
    }

    /// The file's entry with exactly the header's size of data (dense, or
    /// its data regions with `--sparse`); returns whether it came up short
    /// and whether it had grown. A read error is fatal, or with
    /// `--ignore-failed-read` the rest is zero-filled with a warning (None).
    fn append_file<W: Write>(
        &mut self,
        builder: &mut Builder<W>,
        file: &File,
        md: &Metadata,
        meta: &EntryMeta,
        path: &Path,
    ) -> Result<Option<(bool, bool)>, Error> {
        let map = self.sparse_map(file, md);
        let regions = map.as_ref().map_or(&[][..], |m| &m.regions[..]);
        let mut data = match &map {
            Some(m) => ExactSize::new(
                Source::Regions(RegionReader::new(file, regions)),
                m.stored(),
            ),
            None => ExactSize::new(Source::File(file), meta.size),
        };
        let written = match &map {
            Some(m) => header::append_sparse(builder, meta, m, &mut data),
            None => header::append(builder, meta, &mut data),
        };
        written.map_err(|e| match data.error.take() {
            Some(read) => Error::io(format!("reading {}", path.display()), read),
            None => Error::io("writing the archive", e),
        })?;
        if let Some(e) = data.error.take() {
            // Zero-filled from the failure on; the archive stays valid.
            if !self.opts.ignore_failed_read {
                return Err(Error::io(format!("reading {}", path.display()), e));
            }
            self.progress.warn(format_args!(
                "{}: read error, rest zero-filled: {e}",
                path.display()
            ));
            self.summary.skipped += 1;
            return Ok(None);
        }
        let short = data.short;
        let grew = match data.into_inner() {
            Source::File(mut f) => f.read(&mut [0u8; 1]).is_ok_and(|n| n > 0),
            Source::Regions(_) => false, // the size and mtime checks see it
        };
        Ok(Some((short, grew)))
    }

    /// With `--sparse`, the data regions of a file that has holes (fewer
    /// blocks allocated than its size needs, GNU tar's test) and is not
    /// all data.
    fn sparse_map(&self, file: &File, md: &Metadata) -> Option<SparseMap> {
        if !self.opts.sparse || md.blocks() * 512 >= md.len() {
            return None;
        }
        let regions = sparse::data_regions(file, md.len()).ok()?;
        let map = SparseMap {
            regions,
            real_size: md.len(),
        };
        (map.stored() < md.len()).then_some(map)
    }

    fn write<W: Write>(
        &mut self,
        builder: &mut Builder<W>,
        meta: &EntryMeta,
        data: impl Read,
    ) -> Result<(), Error> {
        if self.opts.verbose {
            self.progress.verbose(show(&meta.path));
        }
        header::append(builder, meta, data).map_err(|e| Error::io("writing the archive", e))?;
        self.summary.entries += 1;
        self.progress.add_file();
        Ok(())
    }

    /// An unreadable or vanished file: fatal, or a warning with
    /// `--ignore-failed-read`.
    fn failed_read(&mut self, path: &Path, what: &str, e: std::io::Error) -> Result<(), Error> {
        if self.opts.ignore_failed_read {
            self.progress
                .warn(format_args!("{what} {}: {e} (skipped)", path.display()));
            self.summary.skipped += 1;
            Ok(())
        } else {
            Err(Error::io(format!("{what} {}", path.display()), e))
        }
    }

    fn meta(&mut self, md: &Metadata, path: Vec<u8>, kind: EntryType) -> EntryMeta {
        let (uid, uname) = match &self.opts.owner {
            Some(o) => (o.id, o.name.clone()),
            None => (
                md.uid() as u64,
                self.owners.name(Kind::User, md.uid()).to_vec(),
            ),
        };
        let (gid, gname) = match &self.opts.group {
            Some(g) => (g.id, g.name.clone()),
            None => (
                md.gid() as u64,
                self.owners.name(Kind::Group, md.gid()).to_vec(),
            ),
        };
        EntryMeta {
            path,
            kind,
            link: None,
            size: 0,
            mode: md.mode() & 0o7777,
            uid,
            gid,
            mtime: Mtime::from_secs(self.opts.mtime.unwrap_or(md.mtime())),
            uname,
            gname,
            device: None,
            extra_pax: Vec::new(),
        }
    }
}

/// Where a regular file's data comes from: the whole file, or the data
/// regions of a sparse one.
enum Source<'a> {
    File(&'a File),
    Regions(RegionReader<'a>),
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::File(f) => f.read(buf),
            Source::Regions(r) => r.read(buf),
        }
    }
}

/// Why an `--owner`/`--group` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("bad {kind} id in {spec:?}")]
    BadId { kind: &'static str, spec: String },
    #[error("no such {kind}: {spec} (use NAME:ID)")]
    Unknown { kind: &'static str, spec: String },
}

/// Parse `--owner`/`--group`: `NAME`, `ID` or `NAME:ID`, like GNU tar.
pub fn parse_id(spec: &str, is_group: bool) -> Result<Id, IdError> {
    let kind = if is_group { Kind::Group } else { Kind::User };
    match spec.split_once(':') {
        Some((name, id)) => {
            let id = id.parse().map_err(|_| IdError::BadId {
                kind: kind.noun(),
                spec: spec.into(),
            })?;
            Ok(Id {
                name: name.as_bytes().to_vec(),
                id,
            })
        }
        None => match spec.parse::<u64>() {
            Ok(id) => Ok(Id {
                name: u32::try_from(id)
                    .ok()
                    .and_then(|id| name_of(kind, id))
                    .unwrap_or_default()
                    .into_bytes(),
                id,
            }),
            Err(_) => {
                let id = id_of(kind, spec)
                    .map(u64::from)
                    .ok_or_else(|| IdError::Unknown {
                        kind: kind.noun(),
                        spec: spec.into(),
                    })?;
                Ok(Id {
                    name: spec.as_bytes().to_vec(),
                    id,
                })
            }
        },
    }
}
