//! `--idle-timeout` for producers: an input that sends nothing for that
//! long is taken for stalled, instead of holding a backup open until the
//! Job's deadline (The Combine's `kubectl cp` hung for 30+ minutes,
//! TheCombine#4322).
//!
//! A producer counts as alive while it writes to its stdout *or* its
//! stderr: mongodump and pg_dump print progress on stderr for minutes
//! before their archive starts, a stalled `kubectl exec` writes neither.
//! The wait is `poll(2)` on both pipes with what is left of the limit, so
//! a quiet producer costs no thread and no busy loop; what it says on
//! stderr is passed on to ours as it arrives.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::process::ChildStderr;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// How long an input may stay silent, and since when it has been.
pub(crate) struct Watch {
    limit: Duration,
    last: Instant,
    /// The producer's stderr, when it is ours to watch (and forward).
    stderr: Option<ChildStderr>,
}

impl Watch {
    pub(crate) fn new(limit: Duration, stderr: Option<ChildStderr>) -> Watch {
        Watch {
            limit,
            last: Instant::now(),
            stderr,
        }
    }

    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }

    /// A byte arrived on the data pipe.
    pub(crate) fn heard(&mut self) {
        self.last = Instant::now();
    }

    /// Wait until `data` has bytes (or its end) to read, forwarding stderr
    /// meanwhile; `Ok(false)` when neither pipe had a byte for the limit.
    pub(crate) fn ready(&mut self, data: BorrowedFd<'_>) -> io::Result<bool> {
        loop {
            let Some(left) = self.left() else {
                return Ok(false);
            };
            let stderr = self.stderr.as_ref().map(|e| e.as_fd());
            let mut fds = vec![PollFd::new(data, PollFlags::POLLIN)];
            fds.extend(stderr.map(|e| PollFd::new(e, PollFlags::POLLIN)));
            match poll(&mut fds, left) {
                Err(Errno::EINTR) | Ok(0) => continue,
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            let has =
                |fd: Option<&PollFd>| fd.and_then(PollFd::revents).is_some_and(|r| !r.is_empty());
            let (data_ready, talk) = (has(fds.first()), has(fds.get(1)));
            drop(fds);
            if talk {
                self.forward()?;
            }
            if data_ready {
                return Ok(true);
            }
        }
    }

    /// After the data's end: pass on what stderr still says until it
    /// closes; `Ok(false)` when it stays open and silent for the limit.
    pub(crate) fn drain(&mut self) -> io::Result<bool> {
        while let Some(stderr) = self.stderr.take() {
            let Some(left) = self.left() else {
                self.stderr = Some(stderr);
                return Ok(false);
            };
            let mut fds = [PollFd::new(stderr.as_fd(), PollFlags::POLLIN)];
            let polled = poll(&mut fds, left);
            self.stderr = Some(stderr);
            match polled {
                Err(Errno::EINTR) | Ok(0) => {}
                Err(e) => return Err(e.into()),
                Ok(_) => self.forward()?,
            }
        }
        Ok(true)
    }

    /// What is left of the limit, None when it is spent.
    fn left(&self) -> Option<PollTimeout> {
        let left = self.limit.checked_sub(self.last.elapsed())?;
        // Rounded up, so the wait never ends a millisecond early.
        let ms = left.as_micros().div_ceil(1000).max(1);
        Some(PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX))
    }

    /// One read of stderr, written to ours; its end stops the watching.
    fn forward(&mut self) -> io::Result<()> {
        let Some(stderr) = self.stderr.as_mut() else {
            return Ok(());
        };
        let mut buf = [0u8; 8192];
        match stderr.read(&mut buf) {
            Ok(0) => self.stderr = None,
            Ok(n) => {
                self.last = Instant::now();
                let _ = io::stderr().write_all(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// An input we did not start (stdin, a FIFO named by `--splice`) under an
/// idle limit: a read that finds nothing for the limit fails with
/// `TimedOut`, naming the input.
pub(crate) struct Idle<R> {
    inner: R,
    name: String,
    watch: Watch,
}

impl<R: Read + AsFd> Idle<R> {
    pub(crate) fn new(inner: R, name: impl Into<String>, limit: Duration) -> Idle<R> {
        Idle {
            inner,
            name: name.into(),
            watch: Watch::new(limit, None),
        }
    }
}

/// The error a stalled input reads as: `NAME: no data for 3s`.
pub(crate) fn stalled(name: &str, limit: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{name}: no data for {}s (--idle-timeout)", limit.as_secs()),
    )
}

impl<R: Read + AsFd> Read for Idle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.watch.ready(self.inner.as_fd())? {
            return Err(stalled(&self.name, self.watch.limit()));
        }
        let n = self.inner.read(buf)?;
        self.watch.heard();
        Ok(n)
    }
}
