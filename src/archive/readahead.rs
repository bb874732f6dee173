//! Reading files ahead of the archive writer, so a cold disk or a network
//! volume sees many requests in flight instead of one.
//!
//! A pool of reader threads does the walk's stats (a directory's children
//! in parallel), reads each small file whole — open, fstat, read, the
//! growth and change checks, close: every round trip off the writer's path
//! — and reads large files in chunks with `pread`, while the writer is
//! still busy with earlier entries. Every buffer holds a [`Permit`] for its
//! bytes from one [`Budget`], taken in archive order before it is read and
//! given back when the writer has copied it (or when it is dropped unread),
//! so memory stays under `--read-ahead` whatever the tree holds and the
//! entry the writer waits on always already has its bytes.
//!
//! Measured on the bench corpus (1.26 GB, 50k files, caches dropped): one
//! file at a time took 4.8 s, 16 readers 1.5–1.8 s (`xargs -P 16 cat`,
//! the disk's ceiling, 1.8 s). On an emulated network volume (1 ms per
//! request, bench/slowfs.py) chunked reads alone left pack slower than tar
//! (20.2 s vs 16.7 s: the walk's stats and opens, and the writer's checks,
//! were serial round trips); with stats and small files on the readers,
//! 3.9 s.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use crossbeam_channel::{Receiver, Sender};

/// Largest chunk: big enough that a large file is read in requests the
/// disk likes, small enough that several files fit in the budget at once.
const MAX_CHUNK: u64 = 512 * 1024;

/// How far ahead pack may read: bytes buffered and threads reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadAheadConfig {
    /// Bytes read but not yet written (`--read-ahead`).
    pub bytes: u64,
    /// Reader threads (`--readers`).
    pub readers: usize,
}

impl ReadAheadConfig {
    /// Defaults chosen on the bench corpus, caches dropped; see
    /// `docs/ARCHITECTURE.md` and `bench/results.md`.
    pub const DEFAULT: ReadAheadConfig = ReadAheadConfig {
        bytes: 16 * 1024 * 1024,
        readers: 16,
    };

    fn chunk(&self) -> u64 {
        MAX_CHUNK.min(self.bytes).max(1)
    }
}

impl Default for ReadAheadConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Bytes that may be buffered; closed when the writer stops, so nothing
/// waits for room that will never come.
pub struct Budget {
    state: Mutex<(u64, bool)>,
    freed: Condvar,
}

impl Budget {
    pub fn new(bytes: u64) -> Budget {
        Budget {
            state: Mutex::new((bytes, false)),
            freed: Condvar::new(),
        }
    }

    /// Wait for `n` bytes of room; None once closed.
    fn acquire(&self, n: u64) -> Option<Permit<'_>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if state.1 {
                return None;
            }
            if state.0 >= n {
                state.0 -= n;
                return Some(Permit { budget: self, n });
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The writer has stopped: wake and refuse every waiter.
    pub fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.freed.notify_all();
    }

    fn closed(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

/// Room for one chunk's bytes, given back when dropped.
pub struct Permit<'a> {
    budget: &'a Budget,
    n: u64,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.budget
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0 += self.n;
        self.budget.freed.notify_all();
    }
}

/// One chunk as read: fewer bytes than asked means the file ended there.
pub struct Chunk<'a> {
    data: Vec<u8>,
    asked: usize,
    error: Option<io::Error>,
    _permit: Permit<'a>,
}

/// A small file read whole by a reader: opened, stat'ed, read, checked for
/// growth and change, closed — every round trip of it off the writer's
/// path, which matters most where each one waits on a network volume.
pub enum Whole<'a> {
    /// It could not be opened (or stat'ed once open).
    Failed(io::Error),
    Read {
        /// The size and times of what was opened.
        md: Metadata,
        /// At most `md.len()` bytes; fewer if it shrank or a read failed.
        data: Vec<u8>,
        error: Option<io::Error>,
        /// It had more than `md.len()` bytes, or its size or mtime
        /// changed while it was read.
        changed: bool,
        _permit: Permit<'a>,
    },
    /// It grew past its read-ahead room between the walk's stat and the
    /// open: the writer reads the rest from `file` after `data`.
    Partial {
        md: Metadata,
        file: File,
        data: Vec<u8>,
        _permit: Permit<'a>,
    },
}

enum Job<'a> {
    Stat {
        path: PathBuf,
        follow: bool,
        reply: Sender<io::Result<Metadata>>,
    },
    Chunk {
        file: Arc<File>,
        offset: u64,
        permit: Permit<'a>,
        /// Allocated by the walk, not the reader: one thread's malloc
        /// arena holds every buffer. Allocated on 16 reader threads, 16
        /// MiB of read-ahead cost 34 MB of peak RSS; on the walk's, 25 MB.
        data: Vec<u8>,
        reply: Sender<Chunk<'a>>,
    },
    Whole {
        path: PathBuf,
        permit: Permit<'a>,
        data: Vec<u8>,
        reply: Sender<Whole<'a>>,
    },
}

/// The reader pool's front: the walk stats, opens and plans reads here.
pub struct ReadAhead<'a> {
    jobs: Sender<Job<'a>>,
    budget: &'a Budget,
    chunk: u64,
}

/// Chunks of one file, in order, as the walk plans them.
pub type Chunks<'a> = Receiver<Receiver<Chunk<'a>>>;

impl<'a> ReadAhead<'a> {
    /// Start `config.readers` threads in `scope`; they stop when the last
    /// `ReadAhead` is dropped.
    pub fn start<'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        config: &ReadAheadConfig,
        budget: &'a Budget,
    ) -> ReadAhead<'a>
    where
        'a: 'scope,
    {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job<'a>>();
        for _ in 0..config.readers.max(1) {
            let queue = queue.clone();
            scope.spawn(move || {
                for job in queue {
                    match job {
                        Job::Stat {
                            path,
                            follow,
                            reply,
                        } => {
                            let md = if follow {
                                fs::metadata(&path)
                            } else {
                                fs::symlink_metadata(&path)
                            };
                            let _ = reply.send(md);
                        }
                        Job::Chunk { .. } => read_chunk(job),
                        Job::Whole { .. } => read_whole(job),
                    }
                }
            });
        }
        ReadAhead {
            jobs,
            budget,
            chunk: config.chunk(),
        }
    }

    /// The largest file read whole by one reader.
    pub fn small(&self) -> u64 {
        self.chunk
    }

    /// Stat `paths` in parallel (`follow`: through symlinks); the answers
    /// come in `paths`' order.
    pub fn stat_all(
        &self,
        paths: impl Iterator<Item = PathBuf>,
        follow: bool,
    ) -> Vec<Receiver<io::Result<Metadata>>> {
        paths
            .map(|path| {
                let (reply, answer) = crossbeam_channel::bounded(1);
                let _ = self.jobs.send(Job::Stat {
                    path,
                    follow,
                    reply,
                });
                answer
            })
            .collect()
    }

    /// Read the small file at `path` (`size` by the walk's stat) whole, on
    /// a reader, once the budget has room. None once the writer stopped.
    pub fn whole(&self, path: PathBuf, size: u64) -> Option<Receiver<Whole<'a>>> {
        let room = size.min(self.chunk);
        let permit = self.budget.acquire(room)?;
        let (reply, answer) = crossbeam_channel::bounded(1);
        let data = vec![0; room as usize];
        let job = Job::Whole {
            path,
            permit,
            data,
            reply,
        };
        self.jobs.send(job).ok()?;
        Some(answer)
    }

    /// Queue the reads of `file`'s first `size` bytes, chunk by chunk as
    /// the budget allows, handing each chunk's slot to `slots` in order.
    /// Returns false once the writer has stopped.
    pub fn plan(&self, file: &Arc<File>, size: u64, slots: &Sender<Receiver<Chunk<'a>>>) -> bool {
        let mut offset = 0;
        while offset < size {
            let asked = self.chunk.min(size - offset);
            let Some(permit) = self.budget.acquire(asked) else {
                return false;
            };
            let (reply, slot) = crossbeam_channel::bounded(1);
            if slots.send(slot).is_err() {
                // The writer gave up on this file (an error it reported).
                return !self.budget.closed();
            }
            let job = Job::Chunk {
                file: Arc::clone(file),
                offset,
                permit,
                data: vec![0; asked as usize],
                reply,
            };
            if self.jobs.send(job).is_err() {
                return false;
            }
            offset += asked;
        }
        true
    }
}

/// Fill `data` from `file` at `offset` until full, the end, or an error;
/// returns the bytes read.
fn read_at_most(file: &File, data: &mut [u8], offset: u64) -> (usize, Option<io::Error>) {
    let mut filled = 0;
    while filled < data.len() {
        match file.read_at(&mut data[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

fn read_chunk(job: Job<'_>) {
    let Job::Chunk {
        file,
        offset,
        permit,
        mut data,
        reply,
    } = job
    else {
        return;
    };
    let asked = data.len();
    let (filled, error) = match permit.budget.closed() {
        true => (0, None),
        false => read_at_most(&file, &mut data, offset),
    };
    data.truncate(filled);
    let chunk = Chunk {
        data,
        asked,
        error,
        _permit: permit,
    };
    let _ = reply.send(chunk); // nobody waiting: the permit goes back
}

fn read_whole(job: Job<'_>) {
    let Job::Whole {
        path,
        permit,
        mut data,
        reply,
    } = job
    else {
        return;
    };
    if permit.budget.closed() {
        return;
    }
    let opened = File::open(&path).and_then(|file| Ok((file.metadata()?, file)));
    let (md, file) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            let _ = reply.send(Whole::Failed(e));
            return;
        }
    };
    if md.len() > data.len() as u64 {
        let (filled, _) = read_at_most(&file, &mut data, 0);
        data.truncate(filled);
        let _ = reply.send(Whole::Partial {
            md,
            file,
            data,
            _permit: permit,
        });
        return;
    }
    data.truncate(md.len() as usize);
    let (filled, error) = read_at_most(&file, &mut data, 0);
    data.truncate(filled);
    let grew = error.is_none() && file.read_at(&mut [0u8; 1], md.len()).is_ok_and(|n| n > 0);
    let changed = grew || error.is_none() && changed_since(&file, &md);
    let _ = reply.send(Whole::Read {
        md,
        data,
        error,
        changed,
        _permit: permit,
    });
}

/// Whether `file`'s size or mtime differs from `md` (it changed while read).
pub fn changed_since(file: &File, md: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata().is_ok_and(|after| {
        after.len() != md.len()
            || after.mtime() != md.mtime()
            || after.mtime_nsec() != md.mtime_nsec()
    })
}

/// A file's data as the readers fetched it, in order: ends where a chunk
/// came up short (the file shrank) and fails where a read failed.
pub struct ChunkReader<'a> {
    slots: Chunks<'a>,
    current: Option<Chunk<'a>>,
    pos: usize,
    done: bool,
}

impl<'a> ChunkReader<'a> {
    pub fn new(slots: Chunks<'a>) -> Self {
        ChunkReader {
            slots,
            current: None,
            pos: 0,
            done: false,
        }
    }
}

impl Read for ChunkReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(chunk) = &self.current {
                let left = &chunk.data[self.pos..];
                if !left.is_empty() {
                    let n = left.len().min(buf.len());
                    buf[..n].copy_from_slice(&left[..n]);
                    self.pos += n;
                    return Ok(n);
                }
            }
            // The chunk is spent: its error or shortness ends the file.
            if let Some(chunk) = self.current.take() {
                self.done |= chunk.data.len() < chunk.asked;
                if let Some(e) = chunk.error {
                    self.done = true;
                    return Err(e);
                }
            }
            if self.done {
                return Ok(0);
            }
            // The slot list closes after the last planned chunk.
            match self.slots.recv().ok().and_then(|slot| slot.recv().ok()) {
                Some(chunk) => {
                    self.current = Some(chunk);
                    self.pos = 0;
                }
                None => self.done = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(bytes: u64) -> ReadAheadConfig {
        ReadAheadConfig { bytes, readers: 2 }
    }

    #[test]
    fn a_file_that_grew_past_its_room_is_handed_over_partly_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"0123456789").unwrap();
        let budget = Budget::new(1 << 20);
        std::thread::scope(|scope| {
            let ahead = ReadAhead::start(scope, &config(1 << 20), &budget);
            // The walk's stat said 4 bytes; it has 10 by the time it opens.
            let whole = ahead.whole(path.clone(), 4).unwrap().recv().unwrap();
            let Whole::Partial { md, file, data, .. } = whole else {
                panic!("expected a partial read");
            };
            assert_eq!((md.len(), &data[..]), (10, &b"0123"[..]));
            let mut rest = [0u8; 6];
            assert_eq!(file.read_at(&mut rest, 4).unwrap(), 6);
            // A file read whole reports no change; a missing one its error.
            match ahead.whole(path.clone(), 10).unwrap().recv().unwrap() {
                Whole::Read {
                    data,
                    changed,
                    error,
                    ..
                } => {
                    assert_eq!(data, b"0123456789");
                    assert!(!changed && error.is_none());
                }
                _ => panic!("expected a whole read"),
            }
            let gone = ahead
                .whole(dir.path().join("gone"), 1)
                .unwrap()
                .recv()
                .unwrap();
            assert!(matches!(gone, Whole::Failed(e) if e.kind() == io::ErrorKind::NotFound));
        });
    }

    #[test]
    fn the_budget_bounds_what_is_buffered_and_closing_it_frees_the_walk() {
        let budget = Budget::new(10);
        let available = || budget.state.lock().unwrap().0;
        let first = budget.acquire(6).unwrap();
        assert_eq!(available(), 4);
        std::thread::scope(|scope| {
            // 6 more fit only once `first` is given back.
            let waiter = scope.spawn(|| budget.acquire(6).map(|p| p.n));
            drop(first);
            assert_eq!(waiter.join().unwrap(), Some(6));
        });
        assert_eq!(available(), 10, "every permit came back");
        let held = budget.acquire(10).unwrap();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| budget.acquire(1).is_none());
            budget.close();
            assert!(waiter.join().unwrap(), "a closed budget refuses");
        });
        drop(held);
    }
}
