//! SIGINT, SIGTERM and SIGHUP, the two ways the tools need them.
//!
//! - The async S3 tools race their work against [`interrupted`] and abort
//!   a multipart upload before exiting 128 + N.
//! - `unpack` writes each file under a hidden temporary name and renames
//!   it when complete; a signal must not leave those behind (multi-GB ones
//!   for sparse files). Destructors do not run when a signal kills a
//!   process, so [`remove_on_signal`] blocks the signals in every thread
//!   and takes them on a thread of its own, which removes the registered
//!   files and exits with 128 + the signal, as a shell reports a process
//!   killed by it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::signal::{SigSet, Signal};

/// Files to remove if a signal ends the process. Hold [`TempFiles::lock`]
/// while creating or renaming one, so a signal never falls between the
/// file system change and the registration.
#[derive(Debug, Clone, Default)]
pub struct TempFiles(Arc<Mutex<BTreeSet<PathBuf>>>);

pub struct Registry<'a>(MutexGuard<'a, BTreeSet<PathBuf>>);

impl TempFiles {
    pub fn lock(&self) -> Registry<'_> {
        Registry(self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn remove_all(&self) {
        for path in self.lock().0.iter() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Registry<'_> {
    pub fn add(&mut self, path: &Path) {
        self.0.insert(path.to_path_buf());
    }

    pub fn remove(&mut self, path: &Path) {
        self.0.remove(path);
    }
}

/// Block SIGINT, SIGTERM and SIGHUP in the calling thread (and so in every
/// thread it starts afterwards: call it first in `main`) and start the
/// thread that, when one arrives, removes `files` and exits 128 + N.
pub(crate) fn remove_on_signal(files: TempFiles) -> std::io::Result<()> {
    let mut set = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(signal);
    }
    set.thread_block().map_err(std::io::Error::from)?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let signal = set.wait().unwrap_or(Signal::SIGTERM);
            files.remove_all();
            std::process::exit(128 + signal as i32);
        })?;
    Ok(())
}

/// Resolves when SIGINT, SIGTERM or SIGHUP arrives: the signal's name and
/// the exit code a shell would show for it (128 + number).
pub(crate) async fn interrupted() -> (&'static str, u8) {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut int, mut term, mut hup) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(i), Ok(t), Ok(h)) => (i, t, h),
        // Without handlers the default action (exit) still applies.
        _ => return std::future::pending().await,
    };
    tokio::select! {
        _ = int.recv() => ("SIGINT", 130),
        _ = term.recv() => ("SIGTERM", 143),
        _ = hup.recv() => ("SIGHUP", 129),
    }
}
