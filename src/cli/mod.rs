//! The command lines, in one place (ripgrep's flags module is the model):
//! each tool's flags, defaults and validation live in `cli/<tool>.rs` and
//! turn into the library's options there; [`values`] parses sizes,
//! durations and times; this module runs a tool with one-line errors and
//! exit codes taken from the error. Each `src/bin/*.rs` only parses,
//! calls the library and prints the report.

pub mod get;
pub mod ls;
pub mod mains;
pub mod pack;
pub mod post;
pub mod prune;
pub mod put;
pub mod rm;
pub mod s3;
pub mod unpack;
pub mod values;

pub use s3::{DEFAULT_PART_SIZE, DEFAULT_RANGE_SIZE, S3_EXIT_CODES, S3Args, TransferArgs};
pub use values::{
    parse_duration, parse_key_value, parse_rate, parse_sha256, parse_size, parse_time,
};

use std::ffi::OsString;
use std::process::ExitCode;

/// Exit code when a downstream reader closed the pipe: what a shell reports
/// for a process killed by SIGPIPE (128 + 13).
pub const EXIT_BROKEN_PIPE: u8 = 141;

/// Run a tool's body. An error prints one line, `program: what: why`, and
/// exits with `fail_code` (2 for a [`UsageError`], 128+N after signal N);
/// a closed stdout exits 141 without a word.
pub fn run(
    program: &str,
    fail_code: u8,
    body: impl FnOnce() -> anyhow::Result<ExitCode>,
) -> ExitCode {
    match body() {
        Ok(code) => code,
        Err(err) if crate::stdio::is_broken_pipe(&err) => ExitCode::from(EXIT_BROKEN_PIPE),
        Err(err) => {
            eprintln!("{program}: {err:#}");
            ExitCode::from(exit_code(&err).unwrap_or(fail_code))
        }
    }
}

/// The exit code the error chain asks for: 2 for a usage error, 128 + N
/// for an upload ended by signal N (also when aborting it failed too).
fn exit_code(err: &anyhow::Error) -> Option<u8> {
    err.chain().find_map(|e| {
        if e.is::<UsageError>() {
            return Some(2);
        }
        e.downcast_ref::<crate::s3::upload::UploadError>()
            .and_then(crate::s3::upload::UploadError::exit_code)
    })
}

/// What `--version` says: the version and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("S3PIPE_COMMIT"), ")");

/// A command line that cannot work (bad URL, bad value): exit 2, as clap's
/// own usage errors do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A URL or an `--owner`/`--group` value that cannot work is a usage
/// error, whichever tool reads it.
impl From<crate::s3::url::UrlError> for UsageError {
    fn from(e: crate::s3::url::UrlError) -> Self {
        UsageError(e.to_string())
    }
}

/// A recipient or identity file that cannot be used, found before any
/// byte is read or sent.
impl From<crate::encryption::CryptError> for UsageError {
    fn from(e: crate::encryption::CryptError) -> Self {
        UsageError(e.to_string())
    }
}

impl From<crate::archive::owners::IdError> for UsageError {
    fn from(e: crate::archive::owners::IdError) -> Self {
        UsageError(e.to_string())
    }
}

/// A [`UsageError`] as an `anyhow::Error`, for `map_err`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// pigz/gzip spell levels `-1` … `-9`; clap cannot, so those arguments
/// become `--level=N` before parsing (only before a `--`).
pub fn expand_level_flags(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut seen_dashdash = false;
    args.into_iter()
        .map(|arg| {
            if arg == "--" {
                seen_dashdash = true;
            }
            match arg.to_str() {
                Some(s)
                    if !seen_dashdash
                        && s.len() == 2
                        && s.starts_with('-')
                        && s.as_bytes()[1].is_ascii_digit()
                        && s != "-0" =>
                {
                    OsString::from(format!("--level={}", &s[1..]))
                }
                _ => arg,
            }
        })
        .collect()
}

/// `--idle-timeout` for producers (pack, s3put): unset is no limit; 0 is
/// refused rather than taken to mean "never" or "at once".
pub fn idle_limit(secs: Option<u64>) -> Result<Option<std::time::Duration>, UsageError> {
    match secs {
        Some(0) => Err(UsageError("--idle-timeout must be at least 1s".into())),
        secs => Ok(secs.map(std::time::Duration::from_secs)),
    }
}

/// Run an async body on a multi-threaded tokio runtime (the S3 tools).
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future))
}

/// Asserts that docs/tools.md (after `marker`) and `help` (after `--json`)
/// list exactly the fields `report` serializes with: how each tool's
/// report test keeps its documentation true.
#[cfg(test)]
pub(crate) fn assert_report_fields(report: &impl serde::Serialize, help: &str, marker: &str) {
    let json = serde_json::to_value(report).unwrap();
    let mut fields: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    let docs = include_str!("../../docs/tools.md");
    assert_eq!(listed_fields(docs, marker), fields, "docs/tools.md");
    assert_eq!(listed_fields(help, "--json"), fields, "--help");
}

/// The field names of a `{a, b; c}` list in `text` after `marker`: how
/// docs/tools.md and `--help` name a report's fields.
#[cfg(test)]
fn listed_fields(text: &str, marker: &str) -> Vec<String> {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not found"));
    let from = at + text[at..].find('{').unwrap() + 1;
    let to = from + text[from..].find('}').unwrap();
    let mut names: Vec<String> = text[from..to]
        .split([',', ';'])
        .map(|name| name.trim().to_string())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_line_is_well_formed() {
        use clap::CommandFactory;
        for command in [
            pack::Args::command(),
            unpack::Args::command(),
            put::Args::command(),
            get::Args::command(),
            ls::Args::command(),
            rm::Args::command(),
            prune::Args::command(),
        ] {
            command.debug_assert();
        }
    }

    #[test]
    fn level_flags() {
        let args = ["pack", "-9", "-C", "x", "-p", "2", "--", "-1"].map(OsString::from);
        let out = expand_level_flags(args);
        assert_eq!(
            out,
            ["pack", "--level=9", "-C", "x", "-p", "2", "--", "-1"].map(OsString::from)
        );
    }
}
