//! Reading files ahead of the archive writer, so a cold disk or a network
//! volume sees many requests in flight instead of one.
//!
//! A pool of reader threads does the walk's stats (a directory's children
//! in parallel), reads each small file whole — open, fstat, read, the
//! growth and change checks, close: every round trip off the writer's path
//! — and reads large files in chunks with `pread`, while the writer is
//! still busy with earlier entries. Every buffer is a [`Loan`] of its
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
//!
//! 64 readers, not 16: `pack --none` of the cold corpus into a pipe took
//! 1.38–2.21 s (median 1.62 of 8) with 64, 1.57–2.55 (1.78) with 16, 1.70–
//! 2.74 with 32 and 1.35–1.76 with 128, `tar -cf` 4.47–5.14; warm and
//! `pack -6` cold the same within noise (6.38–6.65 s vs 6.32–6.65), peak
//! RSS the same (the threads' stacks are barely touched).

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
        readers: 64,
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

/// Bytes that may be buffered, and the buffers themselves: closed when the
/// writer stops, so nothing waits for room that will never come.
pub(crate) struct Budget {
    state: Mutex<State>,
    freed: Condvar,
    limit: u64,
}

struct State {
    available: u64,
    closed: bool,
    /// Buffers given back, kept (up to `limit` bytes of them) to be lent
    /// again instead of zeroing a fresh one per file: `pack --none` of the
    /// warm bench corpus used 0.33–0.47 user CPU-s with fresh buffers,
    /// 0.26–0.32 with the pool (one buffer reused, as before read-ahead:
    /// 0.10).
    pool: Vec<Vec<u8>>,
    pooled: u64,
}

impl Budget {
    pub(crate) fn new(bytes: u64) -> Budget {
        Budget {
            state: Mutex::new(State {
                available: bytes,
                closed: false,
                pool: Vec::new(),
                pooled: 0,
            }),
            freed: Condvar::new(),
            limit: bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for `n` bytes of room and lend a buffer of `n` bytes; None once
    /// closed. Called by the walk: one thread's malloc arena holds every
    /// buffer (allocated on 16 reader threads, 16 MiB of read-ahead cost
    /// 34 MB of peak RSS; on the walk's, 25 MB).
    fn lend(&self, n: u64) -> Option<Loan<'_>> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if state.available >= n {
                state.available -= n;
                let mut data = state.pool.pop().unwrap_or_default();
                state.pooled -= data.capacity() as u64;
                drop(state);
                // Bytes from an earlier loan stay: only growth is zeroed.
                data.resize(n as usize, 0);
                return Some(Loan {
                    budget: self,
                    n,
                    data,
                });
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The writer has stopped: wake and refuse every waiter.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.freed.notify_all();
    }

    fn closed(&self) -> bool {
        self.lock().closed
    }
}

/// Room for `n` bytes and the buffer that fills it, both given back to the
/// budget when dropped.
pub(crate) struct Loan<'a> {
    budget: &'a Budget,
    n: u64,
    data: Vec<u8>,
}

impl AsRef<[u8]> for Loan<'_> {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Loan<'_> {
    fn drop(&mut self) {
        let data = std::mem::take(&mut self.data);
        let mut state = self.budget.lock();
        state.available += self.n;
        let size = data.capacity() as u64;
        if size > 0 && state.pooled + size <= self.budget.limit {
            state.pooled += size;
            state.pool.push(data);
        }
        drop(state);
        self.budget.freed.notify_all();
    }
}

/// One chunk as read: fewer bytes than asked means the file ended there.
pub(crate) struct Chunk<'a> {
    loan: Loan<'a>,
    asked: usize,
    error: Option<io::Error>,
}

/// A small file read whole by a reader: opened, stat'ed, read, checked for
/// growth and change, closed — every round trip of it off the writer's
/// path, which matters most where each one waits on a network volume.
pub(crate) enum Whole<'a> {
    /// It could not be opened (or stat'ed once open).
    Failed(io::Error),
    Read {
        /// The size and times of what was opened.
        md: Metadata,
        /// At most `md.len()` bytes; fewer if it shrank or a read failed.
        data: Loan<'a>,
        error: Option<io::Error>,
        /// It had more than `md.len()` bytes, or its size or mtime
        /// changed while it was read.
        changed: bool,
    },
    /// It grew past its read-ahead room between the walk's stat and the
    /// open: the writer reads the rest from `file` after `data`.
    Partial {
        md: Metadata,
        file: File,
        data: Loan<'a>,
    },
}

enum Job<'a> {
    Stat {
        path: PathBuf,
        follow: bool,
        reply: Sender<io::Result<Metadata>>,
    },
    Chunk(ChunkJob<'a>),
    Whole(WholeJob<'a>),
}

struct ChunkJob<'a> {
    file: Arc<File>,
    offset: u64,
    loan: Loan<'a>,
    reply: Sender<Chunk<'a>>,
}

struct WholeJob<'a> {
    path: PathBuf,
    loan: Loan<'a>,
    reply: Sender<Whole<'a>>,
}

/// The reader pool's front: the walk stats, opens and plans reads here.
pub(crate) struct ReadAhead<'a> {
    jobs: Sender<Job<'a>>,
    budget: &'a Budget,
    chunk: u64,
}

/// Chunks of one file, in order, as the walk plans them.
pub(crate) type Chunks<'a> = Receiver<Receiver<Chunk<'a>>>;

impl<'a> ReadAhead<'a> {
    /// Start `config.readers` threads in `scope`; they stop when the last
    /// `ReadAhead` is dropped.
    pub(crate) fn start<'scope>(
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
                        Job::Chunk(job) => read_chunk(job),
                        Job::Whole(job) => read_whole(job),
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
    pub(crate) fn small(&self) -> u64 {
        self.chunk
    }

    /// Stat `paths` in parallel (`follow`: through symlinks); the answers
    /// come in `paths`' order.
    pub(crate) fn stat_all(
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
    pub(crate) fn whole(&self, path: PathBuf, size: u64) -> Option<Receiver<Whole<'a>>> {
        let loan = self.budget.lend(size.min(self.chunk))?;
        let (reply, answer) = crossbeam_channel::bounded(1);
        let job = Job::Whole(WholeJob { path, loan, reply });
        self.jobs.send(job).ok()?;
        Some(answer)
    }

    /// Queue the reads of `file`'s first `size` bytes, chunk by chunk as
    /// the budget allows, handing each chunk's slot to `slots` in order.
    /// Returns false once the writer has stopped.
    pub(crate) fn plan(
        &self,
        file: &Arc<File>,
        size: u64,
        slots: &Sender<Receiver<Chunk<'a>>>,
    ) -> bool {
        let mut offset = 0;
        while offset < size {
            let asked = self.chunk.min(size - offset);
            let Some(loan) = self.budget.lend(asked) else {
                return false;
            };
            let (reply, slot) = crossbeam_channel::bounded(1);
            if slots.send(slot).is_err() {
                // The writer gave up on this file (an error it reported).
                return !self.budget.closed();
            }
            let job = Job::Chunk(ChunkJob {
                file: Arc::clone(file),
                offset,
                loan,
                reply,
            });
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

fn read_chunk(job: ChunkJob<'_>) {
    let ChunkJob {
        file,
        offset,
        mut loan,
        reply,
    } = job;
    let asked = loan.data.len();
    let (filled, error) = match loan.budget.closed() {
        true => (0, None),
        false => read_at_most(&file, &mut loan.data, offset),
    };
    loan.data.truncate(filled);
    let chunk = Chunk { loan, asked, error };
    let _ = reply.send(chunk); // nobody waiting: the loan goes back
}

fn read_whole(job: WholeJob<'_>) {
    let WholeJob {
        path,
        mut loan,
        reply,
    } = job;
    if loan.budget.closed() {
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
    if md.len() > loan.data.len() as u64 {
        let (filled, _) = read_at_most(&file, &mut loan.data, 0);
        loan.data.truncate(filled);
        let _ = reply.send(Whole::Partial {
            md,
            file,
            data: loan,
        });
        return;
    }
    loan.data.truncate(md.len() as usize);
    let (filled, error) = read_at_most(&file, &mut loan.data, 0);
    loan.data.truncate(filled);
    let grew = error.is_none() && grew(&file, md.len());
    let changed = grew || error.is_none() && changed_since(&file, &md);
    let _ = reply.send(Whole::Read {
        md,
        data: loan,
        error,
        changed,
    });
}

/// Whether `file` has bytes past `size` (it grew as it was read).
pub(crate) fn grew(file: &File, size: u64) -> bool {
    file.read_at(&mut [0u8; 1], size).is_ok_and(|n| n > 0)
}

/// Whether `file`'s size or mtime differs from `md` (it changed while read).
pub(crate) fn changed_since(file: &File, md: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata().is_ok_and(|after| {
        after.len() != md.len()
            || after.mtime() != md.mtime()
            || after.mtime_nsec() != md.mtime_nsec()
    })
}

/// A file's data as the readers fetched it, in order: ends where a chunk
/// came up short (the file shrank) and fails where a read failed.
pub(crate) struct ChunkReader<'a> {
    slots: Chunks<'a>,
    current: Option<Chunk<'a>>,
    pos: usize,
    done: bool,
}

impl<'a> ChunkReader<'a> {
    pub(crate) fn new(slots: Chunks<'a>) -> Self {
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
                let left = &chunk.loan.data[self.pos..];
                if !left.is_empty() {
                    let n = left.len().min(buf.len());
                    buf[..n].copy_from_slice(&left[..n]);
                    self.pos += n;
                    return Ok(n);
                }
            }
            // The chunk is spent: its error or shortness ends the file.
            if let Some(chunk) = self.current.take() {
                self.done |= chunk.loan.data.len() < chunk.asked;
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
            assert_eq!((md.len(), data.as_ref()), (10, &b"0123"[..]));
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
                    assert_eq!(data.as_ref(), b"0123456789");
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
        let available = || budget.lock().available;
        let first = budget.lend(6).unwrap();
        assert_eq!(available(), 4);
        std::thread::scope(|scope| {
            // 6 more fit only once `first` is given back.
            let waiter = scope.spawn(|| budget.lend(6).map(|loan| loan.data.len()));
            drop(first);
            assert_eq!(waiter.join().unwrap(), Some(6));
        });
        assert_eq!(available(), 10, "every loan came back");
        let held = budget.lend(10).unwrap();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| budget.lend(1).is_none());
            budget.close();
            assert!(waiter.join().unwrap(), "a closed budget refuses");
        });
        drop(held);
    }
}
