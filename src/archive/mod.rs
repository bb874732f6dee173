//! Tar archives as streams: [`pack`] walks paths into a tar stream,
//! [`unpack`] writes one out under a directory (with [`guard`] deciding what
//! is safe), [`splice`] copies entries from other tar streams, [`list`]
//! prints them like `tar -tv`; [`owners`] maps user and group names to
//! ids.

pub(crate) mod dumpdir;
pub(crate) mod guard;
pub mod header;
pub mod incremental;
pub mod list;
pub mod options;
pub mod owners;
pub mod pack;
pub(crate) mod pax;
pub(crate) mod readahead;
pub(crate) mod reader;
pub(crate) mod route;
pub mod snapshot;
pub(crate) mod sparse;
pub(crate) mod splice;
pub mod time;
pub mod unpack;
pub(crate) mod ustar;
pub(crate) mod walk;

use std::io;

pub use guard::Violation;

/// Failures of the archive filters. Each says what failed; `Io` keeps the
/// cause as its source so callers can spot a broken pipe.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O failure, with what was being done when it happened.
    #[error("{context}")]
    Io {
        /// What failed, with the path: "writing a/b.txt".
        context: String,
        /// The cause, kept so that a broken pipe can be told apart.
        #[source]
        source: io::Error,
    },
    /// A member a guard rule refuses (an absolute path, `..`, a link out).
    #[error("refusing entry {entry}: {violation}")]
    Unsafe {
        /// The member's name as the archive has it.
        entry: String,
        /// The rule it breaks.
        violation: Violation,
    },
    /// A stream that is not what it claims (bad header, bad extension).
    #[error("corrupt input: {0}")]
    Corrupt(String),
    /// One member that cannot be extracted as it stands (a symlink or hard
    /// link with no target, a member with no name); the stream itself is
    /// whole, so extraction goes on after it.
    #[error("corrupt input: {0}")]
    Member(String),
    /// A stream that ends early: cut in a member, or no end marker.
    #[error("{0}")]
    Truncated(String),
    /// A command line the archive code cannot follow.
    #[error("bad --exclude pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// Why globset refused it.
        reason: String,
    },
    /// `--splice -` given twice: standard input can be read only once.
    #[error("--splice -: standard input can be spliced only once")]
    StdinTwice,
    /// A `--listed-incremental` snapshot that cannot be read or saved.
    #[error("snapshot {path}: {source}")]
    Snapshot {
        /// The snapshot file.
        path: String,
        /// What went wrong.
        #[source]
        source: snapshot::SnapshotError,
    },
    /// A thread of ours panicked: one line, not exit 101 and a backtrace.
    #[error("the {0} thread failed: {1}")]
    Thread(&'static str, String),
}

impl Error {
    /// Does this error end only the member it came from? GNU tar's rule for
    /// a restore: report the member, skip it, go on, exit 2 at the end. A
    /// refused member stays refused; a damaged or cut stream still ends
    /// the extraction.
    pub fn is_member_error(&self) -> bool {
        matches!(
            self,
            Error::Unsafe { .. } | Error::Io { .. } | Error::Member(_)
        )
    }

    /// An [`Error::Io`] saying what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// An error met while reading an archive: the decoder's own words for
    /// truncation and corruption are the message; anything else is I/O.
    pub fn from_stream(context: &str, e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => Error::Truncated(e.to_string()),
            io::ErrorKind::InvalidData => Error::Corrupt(e.to_string()),
            _ => Error::io(context, e),
        }
    }
}

/// Show a member name (bytes, maybe not UTF-8) in messages.
pub fn show(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}
