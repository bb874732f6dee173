//! The walk behind `pack`: paths (GNU tar's `-C` semantics) → [`Step`]s in
//! archive order, on a thread of its own so that reading directories and
//! stat'ing entries overlaps with reading and compressing data.
//!
//! Each directory is sorted (same tree, same archive); a (dev, inode)
//! table stores hard links once; regular files are opened here and their
//! data handed to the [`ReadAhead`] pool. The walk only decides; every
//! warning and failure travels as a step, so the writer reports them in
//! archive order, exactly where a one-thread walk would have.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use globset::{Glob, GlobSet, GlobSetBuilder};
use tar::EntryType;

use super::Error;
use super::incremental::{Incremental, Mark};
use super::options::{Input, PackOptions, SpliceFrom};
use super::readahead::{Chunks, ReadAhead, Whole};
use super::sparse::{self, SparseMap};

/// One thing for the writer to do, in archive order.
pub(crate) enum Step<'a> {
    Warn(String),
    /// A path that could not be stat'ed, opened or listed: fatal, or a
    /// warning with `--ignore-failed-read`.
    Failed {
        path: PathBuf,
        what: &'static str,
        error: io::Error,
    },
    /// An entry without data: directory, symlink, hard link, FIFO, device.
    Entry {
        md: Metadata,
        name: Vec<u8>,
        kind: EntryType,
        link: Option<Vec<u8>>,
        device: Option<(u32, u32)>,
    },
    /// A directory of an incremental dump, with its GNU dumpdir.
    Dumpdir {
        md: Metadata,
        name: Vec<u8>,
        dumpdir: Vec<u8>,
    },
    /// A file the walk opened: large, or sparse.
    File(OpenFile<'a>),
    /// A small file a reader opens and reads whole.
    Small {
        path: PathBuf,
        name: Vec<u8>,
        whole: Receiver<Whole<'a>>,
    },
    /// Copy the entries of this tar stream, under this prefix.
    Splice(SpliceFrom, Option<String>),
}

/// A regular file, opened: its size and times are those of what was opened.
pub(crate) struct OpenFile<'a> {
    pub path: PathBuf,
    pub name: Vec<u8>,
    pub file: Arc<File>,
    pub md: Metadata,
    pub data: FileData<'a>,
}

pub(crate) enum FileData<'a> {
    /// Read ahead, chunk by chunk.
    Chunks(Chunks<'a>),
    /// `--sparse` and the file has holes: the writer reads its data regions.
    Sparse(SparseMap),
}

/// Children stat'ed at once: enough to keep every reader busy on a
/// network volume, few enough that a huge directory costs little memory.
const STAT_WINDOW: usize = 256;

/// A stat's answer from the read-ahead pool.
fn answer(stat: &Receiver<io::Result<Metadata>>) -> io::Result<Metadata> {
    (stat.recv()).unwrap_or_else(|_| Err(io::Error::other("stat lost")))
}

/// The writer has stopped listening.
pub(crate) struct Stopped;

pub(crate) struct Walk<'a, 'o> {
    opts: &'o PackOptions,
    exclude: GlobSet,
    /// (dev, inode) → first member name, for files with several links.
    links: HashMap<(u64, u64), Vec<u8>>,
    /// Directories being walked, to stop `--dereference` loops.
    ancestors: Vec<(u64, u64)>,
    warned_root: bool,
    /// `--listed-incremental`: what to send, and the next snapshot.
    incremental: Option<Incremental>,
    steps: Sender<Step<'a>>,
    ahead: ReadAhead<'a>,
}

/// The `--exclude` patterns, compiled (before any thread starts, so a bad
/// pattern is a usage error with nothing written).
pub(crate) fn exclusions(opts: &PackOptions) -> Result<GlobSet, Error> {
    let mut set = GlobSetBuilder::new();
    let refused = |pattern: &str, reason: String| Error::Pattern {
        pattern: pattern.into(),
        reason,
    };
    for pattern in &opts.exclude {
        set.add(Glob::new(pattern).map_err(|e| refused(pattern, e.kind().to_string()))?);
    }
    set.build()
        .map_err(|e| refused(&opts.exclude.join(" "), e.to_string()))
}

impl<'a, 'o> Walk<'a, 'o> {
    pub(crate) fn new(
        opts: &'o PackOptions,
        exclude: GlobSet,
        steps: Sender<Step<'a>>,
        ahead: ReadAhead<'a>,
        incremental: Option<Incremental>,
    ) -> Self {
        Walk {
            opts,
            exclude,
            links: HashMap::new(),
            ancestors: Vec::new(),
            warned_root: false,
            incremental,
            steps,
            ahead,
        }
    }

    /// Walk every input; returns the incremental state for the snapshot.
    pub(crate) fn run(mut self) -> Result<Option<Incremental>, Stopped> {
        let mut base = PathBuf::new();
        for input in &self.opts.inputs {
            match input {
                Input::Chdir(dir) => base = base.join(dir),
                Input::Path(path) => {
                    let name = self.member_name(path)?;
                    self.add(&base.join(path), name)?;
                }
                Input::Splice { from, prefix } => {
                    let from = match from {
                        SpliceFrom::File(path) => SpliceFrom::File(base.join(path)),
                        other => other.clone(),
                    };
                    self.send(Step::Splice(from, prefix.clone()))?
                }
            }
        }
        Ok(self.incremental)
    }

    fn send(&self, step: Step<'a>) -> Result<(), Stopped> {
        self.steps.send(step).map_err(|_| Stopped)
    }

    fn warn(&self, message: String) -> Result<(), Stopped> {
        self.send(Step::Warn(message))
    }

    fn failed(&self, path: &Path, what: &'static str, error: io::Error) -> Result<(), Stopped> {
        self.send(Step::Failed {
            path: path.to_path_buf(),
            what,
            error,
        })
    }

    /// The member name for a command-line path: as given, without a leading
    /// `/` (GNU tar's warning) or trailing slashes.
    fn member_name(&mut self, path: &Path) -> Result<Vec<u8>, Stopped> {
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
            self.warn("Removing leading `/' from member names".into())?;
        }
        Ok(trimmed[start..].to_vec())
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

    fn add(&mut self, path: &Path, name: Vec<u8>) -> Result<(), Stopped> {
        if self.excluded(&name) {
            return Ok(());
        }
        let stat = if self.opts.dereference {
            fs::metadata(path)
        } else {
            fs::symlink_metadata(path)
        };
        self.add_stat(path, name, stat)
    }

    fn add_stat(
        &mut self,
        path: &Path,
        name: Vec<u8>,
        stat: io::Result<Metadata>,
    ) -> Result<(), Stopped> {
        let md = match stat {
            Ok(md) => md,
            Err(e) => return self.failed(path, "cannot stat", e),
        };
        let ft = md.file_type();
        let (kind, link, device) = if ft.is_dir() {
            return self.add_dir(path, name, md);
        } else if ft.is_file() {
            return self.add_file(path, name, md);
        } else if ft.is_symlink() {
            match fs::read_link(path) {
                Ok(t) => (
                    EntryType::Symlink,
                    Some(t.into_os_string().into_vec()),
                    None,
                ),
                Err(e) => return self.failed(path, "cannot read link", e),
            }
        } else if ft.is_fifo() {
            (EntryType::Fifo, None, None)
        } else if ft.is_char_device() || ft.is_block_device() {
            // Stored as what they are; never opened or read.
            let kind = match ft.is_char_device() {
                true => EntryType::Char,
                false => EntryType::Block,
            };
            let rdev = md.rdev();
            let numbers = (
                nix::sys::stat::major(rdev) as u32,
                nix::sys::stat::minor(rdev) as u32,
            );
            (kind, None, Some(numbers))
        } else {
            return self.warn(format!("{}: socket ignored", path.display()));
        };
        self.send(Step::Entry {
            md,
            name,
            kind,
            link,
            device,
        })
    }

    fn add_dir(&mut self, path: &Path, name: Vec<u8>, md: Metadata) -> Result<(), Stopped> {
        let key = (md.dev(), md.ino());
        if self.ancestors.contains(&key) {
            return self.warn(format!(
                "{}: directory loop (through a followed symlink), not descended",
                path.display()
            ));
        }
        let mut children: Vec<OsString> = match fs::read_dir(path) {
            Ok(rd) => match rd.map(|e| e.map(|e| e.file_name())).collect() {
                Ok(names) => names,
                Err(e) => return self.failed(path, "cannot read directory", e),
            },
            Err(e) => return self.failed(path, "cannot open directory", e),
        };
        // Byte order, as `LC_ALL=C ls` would: the same tree gives the same
        // archive on every machine.
        children.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let mut prefix = name.clone();
        if !name.is_empty() {
            prefix.push(b'/');
        }
        let named: Vec<(PathBuf, Vec<u8>)> = (children.iter())
            .map(|child| {
                let mut child_name = prefix.clone();
                child_name.extend_from_slice(child.as_bytes());
                (path.join(child), child_name)
            })
            .collect();
        self.ancestors.push(key);
        if self.incremental.is_some() {
            self.add_incremental_dir(name, md, &children, named)?;
        } else {
            if !name.is_empty() {
                self.send(Step::Entry {
                    md,
                    name: prefix,
                    kind: EntryType::Directory,
                    link: None,
                    device: None,
                })?;
            }
            let named: Vec<_> = (named.into_iter())
                .filter(|(_, name)| !self.excluded(name))
                .collect();
            // Stat'ed in parallel, a window at a time: on a network volume
            // each stat is a round trip, and a directory of small files
            // would otherwise wait on them one by one.
            for window in named.chunks(STAT_WINDOW) {
                let stats = self.stat_all(window);
                for ((child, child_name), stat) in window.iter().cloned().zip(stats) {
                    self.add_stat(&child, child_name, answer(&stat))?;
                }
            }
        }
        self.ancestors.pop();
        Ok(())
    }

    /// Stat a window of children in parallel; each answer is taken (with
    /// [`answer`]) when its child's turn comes.
    fn stat_all(&self, named: &[(PathBuf, Vec<u8>)]) -> Vec<Receiver<io::Result<Metadata>>> {
        let paths = named.iter().map(|(p, _)| p.clone());
        self.ahead.stat_all(paths, self.opts.dereference)
    }

    /// A directory of an incremental dump: every child stat'ed first (its
    /// mark goes in the dumpdir, which comes before the members), then the
    /// directory with its dumpdir, then what is sent.
    fn add_incremental_dir(
        &mut self,
        name: Vec<u8>,
        md: Metadata,
        children: &[OsString],
        named: Vec<(PathBuf, Vec<u8>)>,
    ) -> Result<(), Stopped> {
        let Some(inc) = self.incremental.as_ref() else {
            return Ok(());
        };
        let all_new = inc.all_new(&name, &md);
        let mut stats = Vec::with_capacity(named.len());
        for window in named.chunks(STAT_WINDOW) {
            let wanted: Vec<_> = (window.iter())
                .filter(|(_, child_name)| !self.excluded(child_name))
                .cloned()
                .collect();
            let mut got = self.stat_all(&wanted).into_iter();
            for (_, child_name) in window {
                let stat = (!self.excluded(child_name)).then(|| got.next()).flatten();
                stats.push(stat.map(|stat| answer(&stat)));
            }
        }
        let marks: Vec<Mark> = (stats.iter())
            .map(|stat| match stat {
                Some(Ok(md)) if md.is_dir() => Mark::Dir,
                Some(Ok(md)) if !md.file_type().is_socket() => inc.mark(all_new, md),
                _ => Mark::Kept,
            })
            .collect();
        let members: Vec<(&[u8], Mark)> = children
            .iter()
            .map(|c| c.as_bytes())
            .zip(marks.iter().copied())
            .collect();
        let inc = self.incremental.as_mut().expect("checked above");
        let dumpdir = inc.record(&name, &md, &members);
        if !name.is_empty() {
            let mut dir_name = name;
            dir_name.push(b'/');
            self.send(Step::Dumpdir {
                md,
                name: dir_name,
                dumpdir,
            })?;
        }
        for (((child, child_name), stat), mark) in named.into_iter().zip(stats).zip(marks) {
            match stat {
                Some(stat @ Err(_)) => self.add_stat(&child, child_name, stat)?,
                Some(stat) if mark != Mark::Kept => self.add_stat(&child, child_name, stat)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn add_file(&mut self, path: &Path, name: Vec<u8>, md: Metadata) -> Result<(), Stopped> {
        if md.nlink() > 1 {
            let key = (md.dev(), md.ino());
            if let Some(first) = self.links.get(&key).cloned() {
                let kind = EntryType::Link;
                let (link, device) = (Some(first), None);
                return self.send(Step::Entry {
                    md,
                    name,
                    kind,
                    link,
                    device,
                });
            }
            self.links.insert(key, name.clone());
        }
        let may_be_sparse = self.opts.sparse && md.blocks() * 512 < md.len();
        if md.len() <= self.ahead.small() && !may_be_sparse {
            let Some(whole) = self.ahead.whole(path.to_path_buf(), md.len()) else {
                return Err(Stopped);
            };
            let path = path.to_path_buf();
            return self.send(Step::Small { path, name, whole });
        }
        self.open_file(path, name)
    }

    /// A large or sparse file: opened here, its reads planned chunk by
    /// chunk (or its data regions left to the writer).
    fn open_file(&mut self, path: &Path, name: Vec<u8>) -> Result<(), Stopped> {
        let file = match File::open(path) {
            Ok(f) => Arc::new(f),
            Err(e) => return self.failed(path, "cannot open", e),
        };
        // The size and times of what we opened, not of what we stat'ed.
        let md = match file.metadata() {
            Ok(md) => md,
            Err(e) => return self.failed(path, "cannot stat", e),
        };
        let size = md.len();
        if let Some(map) = self.sparse_map(&file, &md) {
            let data = FileData::Sparse(map);
            let path = path.to_path_buf();
            return self.send(Step::File(OpenFile {
                path,
                name,
                file,
                md,
                data,
            }));
        }
        let (slots, chunks) = crossbeam_channel::unbounded();
        let path = path.to_path_buf();
        let data = FileData::Chunks(chunks);
        let open = OpenFile {
            path,
            name,
            file: Arc::clone(&file),
            md,
            data,
        };
        self.send(Step::File(open))?;
        match self.ahead.plan(&file, size, &slots) {
            true => Ok(()),
            false => Err(Stopped),
        }
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
}
