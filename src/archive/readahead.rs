//! Reading files ahead of the archive writer, so a cold disk sees many reads
//! in flight instead of one.
//!
//! The walk opens each regular file in archive order and cuts it into
//! chunks; a pool of reader threads fills them with `pread` while the writer
//! is still busy with earlier entries. Every chunk holds a [`Permit`] for
//! its bytes from one [`Budget`], taken in archive order before it is read
//! and given back when the writer has copied it (or when it is dropped
//! unread), so memory stays under `--read-ahead` whatever the tree holds
//! and the entry the writer waits on always already has its bytes.
//!
//! Measured on the bench corpus (1.26 GB, 50k files, caches dropped): one
//! reader at a time took 4.8 s, the same disk with 16 reads in flight
//! (`xargs -P 16 cat`) 1.8 s.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
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

struct Job<'a> {
    file: Arc<File>,
    offset: u64,
    permit: Permit<'a>,
    /// Allocated by the walk, not the reader: one thread's malloc arena
    /// holds every buffer. Allocated on 16 reader threads, 16 MiB of
    /// read-ahead cost 30 MB of RSS; on the walk's, it costs XX MB.
    data: Vec<u8>,
    reply: Sender<Chunk<'a>>,
}

/// The reader pool's front: the walk plans chunks here.
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
                    read_job(job);
                }
            });
        }
        ReadAhead {
            jobs,
            budget,
            chunk: config.chunk(),
        }
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
            let job = Job {
                file: Arc::clone(file),
                offset,
                permit,
                data: vec![0; asked as usize],
                reply,
            };
            if self.jobs.send(job).is_err() || slots.send(slot).is_err() {
                // The writer gave up on this file (an error it reported).
                return !self.budget.closed();
            }
            offset += asked;
        }
        true
    }
}

fn read_job(job: Job<'_>) {
    let Job {
        file,
        offset,
        permit,
        mut data,
        reply,
    } = job;
    let asked = data.len();
    let mut error = None;
    let mut filled = 0;
    if !permit.budget.closed() {
        while filled < asked {
            match file.read_at(&mut data[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
    }
    data.truncate(filled);
    let chunk = Chunk {
        data,
        asked,
        error,
        _permit: permit,
    };
    let _ = reply.send(chunk); // nobody waiting: the permit goes back
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
