//! Standard streams as the tools need them. Rust's `stdout()` is
//! line-buffered behind a lock, far too slow for archive data, and
//! `stdin()` reads through an 8 KiB buffer; these are plain `File`s on
//! duplicates of fds 0 and 1, wrapped in large buffers by the callers.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal};
use std::os::fd::AsFd;

/// Buffer size for archive data on stdout.
pub(crate) const OUT_BUFFER: usize = 256 * 1024;

/// Standard output as a buffered `File` (a dup of fd 1).
pub(crate) fn stdout() -> io::Result<BufWriter<File>> {
    let fd = io::stdout().as_fd().try_clone_to_owned()?;
    Ok(BufWriter::with_capacity(OUT_BUFFER, File::from(fd)))
}

/// Standard output as a plain `File` (a dup of fd 1), for writers that
/// write large or vectored pieces themselves.
pub(crate) fn stdout_raw() -> io::Result<File> {
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

/// Standard input as a `File` (a dup of fd 0).
pub(crate) fn stdin() -> io::Result<File> {
    Ok(File::from(io::stdin().as_fd().try_clone_to_owned()?))
}

pub(crate) fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

pub(crate) fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// True when `err` (or its cause) is a closed pipe downstream: a quiet
/// stop, not something to report (ripgrep's "graceful termination").
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
