//! `pack`: paths (GNU tar's `-C` semantics) → a tar stream, written in
//! archive order from the [`walk`](super::walk)'s steps while the
//! [`readahead`](super::readahead) pool reads the next files.
//!
//! Why not `tar::Builder::append_dir_all`: it is unsorted, follows symlinks,
//! stores hard links as copies, fails on sockets and copies a file to EOF
//! after taking its size from stat, so a growing file corrupts the archive.
//! Here each directory is sorted (same tree, same archive), hard links are
//! stored once, and exactly the header's size of data is written. The
//! archive does not depend on the number of readers or the read-ahead.
//!
//! On any fatal error the end-of-archive blocks are *not* written and the
//! compressor is abandoned: a failed `pack` never emits a stream that a
//! reader (or `s3put --verify`) would take for a complete archive.

use std::fs::{File, Metadata};
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use crossbeam_channel::Receiver;
use tar::{Builder, EntryType};

use super::header::{self, EntryMeta, ExactSize};
use super::incremental::{self, Incremental};
use super::options::{PackOptions, SpliceFrom};
use super::owners::{Kind, Owners};
use super::readahead::{Budget, ChunkReader, Loan, ReadAhead, Whole, changed_since, grew};
use super::snapshot::Snapshot;
use super::sparse::{RegionReader, SparseMap};
use super::time::Mtime;
use super::walk::{self, FileData, OpenFile, Step, Walk};
use super::{Error, show, splice};
use crate::codec::encode::{Compression, Encoder};
use crate::producer::Producer;
use crate::progress::Progress;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
/// What a pack wrote, for its report and exit status.
pub struct PackSummary {
    /// Entries written.
    pub entries: u64,
    /// File bytes archived.
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
        Ok((summary, snapshot)) => {
            enc.finish()
                .map_err(|e| Error::io("writing the archive", e))?;
            // The next dump starts from here only once this one is whole.
            if let (Some(listed), Some(snapshot)) = (&opts.listed_incremental, snapshot) {
                incremental::save(listed, &snapshot)?;
            }
            Ok(summary)
        }
        Err(e) => {
            let _ = enc.abandon();
            Err(e)
        }
    }
}

/// Write the tar stream (uncompressed) to `out`; with
/// `--listed-incremental`, also the snapshot to save once the stream is
/// whole. On error nothing more is written: no end-of-archive blocks.
///
/// Three kinds of thread: the walk (stat, open, plan reads), the
/// [`ReadAhead`] readers, and this one, which writes entries in order.
pub fn pack<W: Write>(
    opts: &PackOptions,
    out: &mut W,
    progress: &Progress,
) -> Result<(PackSummary, Option<Snapshot>), Error> {
    // ManuallyDrop: tar's Builder writes the end-of-archive blocks when
    // dropped, which must not happen after a failure.
    let mut builder = ManuallyDrop::new(Builder::new(out));
    let exclude = walk::exclusions(opts)?;
    let incremental = opts
        .listed_incremental
        .as_ref()
        .map(Incremental::open)
        .transpose()?;
    let budget = Budget::new(opts.read_ahead.bytes);
    let mut writer = Writer {
        opts,
        progress,
        owners: Owners::default(),
        summary: PackSummary::default(),
    };
    let state = std::thread::scope(|scope| {
        let (steps, queue) = crossbeam_channel::bounded(STEPS_AHEAD);
        let ahead = ReadAhead::start(scope, &opts.read_ahead, &budget);
        let walk = Walk::new(opts, exclude, steps, ahead, incremental);
        let walk = scope.spawn(move || walk.run());
        let written = writer.run(&mut builder, queue);
        // Wake a walk waiting for room, so it sees the writer is gone.
        budget.close();
        match walk.join() {
            Ok(state) => written.map(|()| state.ok().flatten()),
            Err(panic) => Err(Error::Thread("walk", panic_text(&*panic))),
        }
    })?;
    ManuallyDrop::into_inner(builder)
        .into_inner()
        .map_err(|e| Error::io("writing the archive", e))?;
    Ok((writer.summary, state.map(Incremental::into_snapshot)))
}

/// Steps the walk may run ahead of the writer. Each may hold an open file,
/// so this stays far below the usual 1024-descriptor limit.
const STEPS_AHEAD: usize = 256;

/// Writes the walk's steps as tar entries, in order.
struct Writer<'a> {
    opts: &'a PackOptions,
    progress: &'a Progress,
    owners: Owners,
    summary: PackSummary,
}

impl Writer<'_> {
    fn run<W: Write>(
        &mut self,
        builder: &mut Builder<W>,
        steps: crossbeam_channel::Receiver<Step<'_>>,
    ) -> Result<(), Error> {
        for step in steps {
            match step {
                Step::Warn(message) => self.progress.warn(message),
                Step::Failed { path, what, error } => self.failed_read(&path, what, error)?,
                Step::Entry {
                    md,
                    name,
                    kind,
                    link,
                    device,
                } => {
                    let mut meta = self.meta(&md, name, kind);
                    meta.link = link;
                    meta.device = device;
                    self.write(builder, &meta, std::io::empty())?;
                }
                Step::Dumpdir {
                    md,
                    name,
                    mut dumpdir,
                } => {
                    // Ended by an empty entry, as GNU tar ends it.
                    dumpdir.push(0);
                    let mut meta = self.meta(&md, name, EntryType::Directory);
                    meta.extra_pax.push(("GNU.dumpdir".into(), dumpdir));
                    self.write(builder, &meta, std::io::empty())?;
                }
                Step::File(file) => self.add_file(builder, file)?,
                Step::Small { path, name, whole } => self.add_small(builder, path, name, whole)?,
                Step::Splice(from, prefix) => self.splice(builder, from, prefix)?,
            }
        }
        Ok(())
    }

    fn splice<W: Write>(
        &mut self,
        builder: &mut Builder<W>,
        from: SpliceFrom,
        prefix: Option<String>,
    ) -> Result<(), Error> {
        let prefix = prefix.as_deref().map(str::as_bytes);
        let n = match from {
            SpliceFrom::Stdin => {
                let stdin = self.opts.stdin.take().ok_or(Error::StdinTwice)?;
                splice::splice(builder, stdin, "standard input", prefix, self.progress)?
            }
            SpliceFrom::File(path) => {
                let file = File::open(&path)
                    .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
                let name = path.display().to_string();
                match self.opts.idle_timeout {
                    Some(limit) => {
                        let file = crate::idle::Idle::new(file, name.clone(), limit);
                        splice::splice(builder, file, &name, prefix, self.progress)?
                    }
                    None => splice::splice(builder, file, &name, prefix, self.progress)?,
                }
            }
            SpliceFrom::Command(line) => {
                // Its exit status is checked when the stream's end is read.
                let producer = Producer::shell(&line, self.opts.idle_timeout)
                    .map_err(|e| Error::io(format!("--splice-exec {line}"), io::Error::other(e)))?;
                splice::splice(
                    builder,
                    producer,
                    &format!("`{line}`"),
                    prefix,
                    self.progress,
                )?
            }
        };
        self.summary.entries += n;
        Ok(())
    }

    /// A file the walk opened: read through the chunk readers, or its data
    /// regions with `--sparse`.
    fn add_file<W: Write>(
        &mut self,
        builder: &mut Builder<W>,
        open: OpenFile,
    ) -> Result<(), Error> {
        let OpenFile {
            path,
            name,
            file,
            md,
            data,
        } = open;
        let changed = || changed_since(&file, &md);
        match &data {
            FileData::Sparse(map) => {
                let regions = Data::Sparse(RegionReader::new(&file, &map.regions), map);
                // Growth of a sparse file shows in the size and mtime checks.
                self.add_regular(builder, &path, name, &md, regions, changed)
            }
            FileData::Chunks(chunks) => {
                let chunks = Data::Chunks(ChunkReader::new(chunks.clone()));
                let grew_or_changed = || grew(&file, md.len()) || changed();
                self.add_regular(builder, &path, name, &md, chunks, grew_or_changed)
            }
        }
    }

    /// A small file a reader opened and read (or began to) on its own.
    fn add_small<W: Write>(
        &mut self,
        builder: &mut Builder<W>,
        path: PathBuf,
        name: Vec<u8>,
        whole: Receiver<Whole>,
    ) -> Result<(), Error> {
        let lost = || {
            Error::io(
                format!("reading {}", path.display()),
                io::Error::other("a reader thread stopped"),
            )
        };
        match whole.recv().map_err(|_| lost())? {
            Whole::Failed(e) => self.failed_read(&path, "cannot open", e),
            Whole::Read {
                md,
                data,
                error,
                changed,
                ..
            } => {
                let data = Data::Read(io::Cursor::new(data), error);
                self.add_regular(builder, &path, name, &md, data, || changed)
            }
            Whole::Partial { md, file, data, .. } => {
                let from = data.as_ref().len() as u64;
                let rest = io::Cursor::new(data).chain(FileFrom {
                    file: &file,
                    offset: from,
                });
                let changed = || grew(&file, md.len()) || changed_since(&file, &md);
                self.add_regular(builder, &path, name, &md, Data::Rest(rest), changed)
            }
        }
    }

    /// Write a regular file's entry with exactly its header's size of data
    /// (dense, or its data regions), then warn if it changed as it was read
    /// (`changed` is asked only when the data came whole). A read error is
    /// fatal, or with `--ignore-failed-read` the rest is zero-filled with a
    /// warning.
    fn add_regular<W: Write>(
        &mut self,
        builder: &mut Builder<W>,
        path: &Path,
        name: Vec<u8>,
        md: &Metadata,
        data: Data,
        changed: impl FnOnce() -> bool,
    ) -> Result<(), Error> {
        let mut meta = self.meta(md, name, EntryType::Regular);
        meta.size = md.len();
        if self.opts.verbose {
            self.progress.verbose(show(&meta.path));
        }
        let map = match &data {
            Data::Sparse(_, map) => Some(*map),
            _ => None,
        };
        let mut source = ExactSize::new(data, map.map_or(meta.size, |m| m.stored()));
        let written = match map {
            Some(map) => header::append_sparse(builder, &meta, map, &mut source),
            None => header::append(builder, &meta, &mut source),
        };
        let (short, mut error) = (source.short, source.error.take());
        drop(source); // the walk stops planning reads nobody will take
        written.map_err(|e| match error.take() {
            Some(read) => Error::io(format!("reading {}", path.display()), read),
            None => Error::io("writing the archive", e),
        })?;
        let error = match error {
            Some(e) if !self.opts.ignore_failed_read => {
                return Err(Error::io(format!("reading {}", path.display()), e));
            }
            error => error,
        };
        self.summary.entries += 1;
        self.summary.bytes += meta.size;
        self.progress.add_bytes(meta.size);
        self.progress.add_file();
        if let Some(e) = error {
            // Zero-filled from the failure on; the archive stays valid.
            self.progress.warn(format_args!(
                "{}: read error, rest zero-filled: {e}",
                path.display()
            ));
            self.summary.skipped += 1;
        } else if short || changed() {
            self.progress.warn(format_args!(
                "{}: file changed as we read it",
                path.display()
            ));
            self.summary.changed += 1;
        }
        Ok(())
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

/// Where a regular file's data comes from.
enum Data<'f, 'a> {
    /// Chunks the readers fetched.
    Chunks(ChunkReader<'a>),
    /// The data regions of a sparse file, and its map.
    Sparse(RegionReader<'f>, &'f SparseMap),
    /// A small file read whole, and the error that stopped it, if any.
    Read(io::Cursor<Loan<'a>>, Option<io::Error>),
    /// What a reader read, then the rest straight from the file.
    Rest(io::Chain<io::Cursor<Loan<'a>>, FileFrom<'f>>),
}

impl Read for Data<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Data::Chunks(c) => c.read(buf),
            Data::Sparse(r, _) => r.read(buf),
            Data::Read(bytes, error) => match bytes.read(buf)? {
                0 => error.take().map_or(Ok(0), Err),
                n => Ok(n),
            },
            Data::Rest(r) => r.read(buf),
        }
    }
}

/// A file read from `offset` on, without touching its file position.
struct FileFrom<'f> {
    file: &'f File,
    offset: u64,
}

impl Read for FileFrom<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// What a panic said, when it said it with a string.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    (panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "it panicked".into())
}
