//! What a pack is asked to do: the command line's positional steps (paths,
//! `-C`, splices) and the options, shared by the walk, which plans the
//! steps, and the writer in [`pack`](super::pack), which writes them. Its own
//! module so neither of the two has to import the other's types.

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::readahead::ReadAheadConfig;

/// One positional step of a pack command line, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `-C DIR`: later paths are relative to DIR (itself relative to the
    /// previous `-C`).
    Chdir(PathBuf),
    /// A path to archive, named in the archive as given.
    Path(PathBuf),
    /// `--splice FILE`, `@FILE`, `--splice-exec CMD`: copy the entries of
    /// a tar stream, under the `--prefix` in force (positional, like `-C`).
    Splice {
        /// Where the stream comes from.
        from: SpliceFrom,
        /// The directory its entries go under, if any.
        prefix: Option<String>,
    },
}

/// Where a spliced tar stream comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpliceFrom {
    /// `--splice -`
    Stdin,
    /// `--splice FILE`, `@FILE` (relative to the `-C` in force).
    File(PathBuf),
    /// `--splice-exec CMD`: a shell command line whose stdout is the stream
    /// and whose exit status counts ([`crate::producer`]).
    Command(String),
}

/// A user or group override: `--owner NAME[:ID]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id {
    /// The name stored in the header (uname/gname).
    pub name: Vec<u8>,
    /// The numeric id stored in the header.
    pub id: u64,
}

/// Everything `pack` is told: what to archive and how, as its flags say.
#[derive(Debug, Clone, Default)]
pub struct PackOptions {
    /// Paths, `-C` changes and splices, in command-line order.
    pub inputs: Vec<Input>,
    /// `--exclude GLOB`s (matching the name or any part after a `/`).
    pub exclude: Vec<String>,
    /// `-h`: archive what symlinks point to.
    pub dereference: bool,
    /// `--mtime`: every entry's time, for reproducible archives.
    pub mtime: Option<i64>,
    /// `--owner NAME[:ID]` for every entry.
    pub owner: Option<Id>,
    /// `--group NAME[:ID]` for every entry.
    pub group: Option<Id>,
    /// `--ignore-failed-read`: a file that vanished is a warning.
    pub ignore_failed_read: bool,
    /// Store files with holes as sparse entries (`-S`, GNU tar's flag).
    pub sparse: bool,
    /// `-v`: name each entry on stderr as it is written.
    pub verbose: bool,
    /// What `--splice -` reads: the caller passes its standard input in
    /// (the library never reaches for the process's own).
    pub stdin: SpliceStdin,
    /// A splice that sends nothing for this long fails the pack
    /// (`--idle-timeout`; stdin's limit is set where it is handed over).
    pub idle_timeout: Option<std::time::Duration>,
    /// `--listed-incremental FILE` (GNU tar's `-g`): send only what changed
    /// since the snapshot in FILE, with dumpdirs; FILE is replaced.
    pub listed_incremental: Option<super::incremental::Listed>,
    /// How far ahead files are read (`--read-ahead`, `--readers`).
    pub read_ahead: ReadAheadConfig,
}

/// A reader handed over once, for `--splice -`.
#[derive(Clone, Default)]
pub struct SpliceStdin(Arc<Mutex<Option<Box<dyn Read + Send>>>>);

impl SpliceStdin {
    /// `input`, to be read by the first `--splice -`.
    pub fn new(input: impl Read + Send + 'static) -> Self {
        SpliceStdin(Arc::new(Mutex::new(Some(Box::new(input)))))
    }

    pub(super) fn take(&self) -> Option<Box<dyn Read + Send>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl std::fmt::Debug for SpliceStdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpliceStdin")
    }
}
