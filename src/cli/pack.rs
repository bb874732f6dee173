//! `pack`'s command line: flags (with pigz's `-1`…`-9`) → [`PackOptions`]
//! and a [`Compression`], validated (levels and their ranges live here).

use std::path::PathBuf;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};

use super::UsageError;
use crate::archive::incremental::Listed;
use crate::archive::options::{Input, PackOptions, SpliceFrom, SpliceStdin};
use crate::archive::owners::parse_id;
use crate::archive::readahead::ReadAheadConfig;
use crate::codec::encode::Compression;
use crate::idle::Idle;

/// `ReadAheadConfig::DEFAULT.bytes` as the help shows it.
const DEFAULT_READ_AHEAD: &str = "16M";

const AFTER_HELP: &str = "\
Paths are archived in order; -C DIR applies to the paths after it (GNU tar).
@FILE or --splice FILE copies the entries of another tar stream (plain, gzip
or zstd; - is stdin) into the archive, like bsdtar's @archive; --splice-exec
CMD copies the stream a shell command writes, and fails unless it exits 0.
--prefix DIR puts the entries of the splices after it under DIR/.

Exit status: 0 success; 1 some files changed while being read (archive still
valid); 2 fatal error (the output is left truncated so no reader takes it
for a complete archive); 141 stdout was closed.

Examples:
  pack -C /data . | s3put s3://bucket/backups/host-2026-11-24-03-15-00.tar.gz
  kubectl exec db -- tar cf - -C /dump . | pack --prefix dump --splice - -C /app files
  pack --prefix dump --splice-exec 'kubectl exec deploy/db -- tar cf - -C /dump .' \\
       --prefix .CombineFiles --splice-exec 'kubectl exec deploy/backend -- tar cf - -C /home/app/.CombineFiles .'";

/// Write a tar archive of PATHs to stdout: gzip on every core by default.
#[derive(Parser)]
#[command(name = "pack", version = super::VERSION, after_help = AFTER_HELP)]
pub struct Args {
    /// Paths to archive, named as given; @FILE splices tar stream FILE
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Change to DIR before archiving the paths that follow (repeatable)
    #[arg(short = 'C', long = "directory", value_name = "DIR", action = ArgAction::Append)]
    pub directory: Vec<PathBuf>,
    /// Copy every entry of the tar stream FILE (- for stdin) into the output
    #[arg(long, value_name = "FILE", action = ArgAction::Append)]
    pub splice: Vec<PathBuf>,
    /// Run the shell command CMD and copy the entries of the tar stream it
    /// writes; pack fails unless CMD exits 0 (repeatable)
    #[arg(long, value_name = "CMD", action = ArgAction::Append)]
    pub splice_exec: Vec<String>,
    /// A splice (--splice FILE, -, --splice-exec) that writes nothing on stdout or stderr for this long is stalled: pack fails (exit 2), a --splice-exec command's process group is killed
    #[arg(long, value_name = "DURATION", env = "S3PIPE_IDLE_TIMEOUT", value_parser = super::parse_duration)]
    pub idle_timeout: Option<u64>,
    /// Put the entries of the splices that follow under DIR/ (names and
    /// hard-link targets; positional like -C; '' for none)
    #[arg(long, value_name = "DIR", action = ArgAction::Append)]
    pub prefix: Vec<String>,
    /// gzip output (the default): parallel blocks, readable by any gzip
    #[arg(long, conflicts_with_all = ["zstd", "none"])]
    pub gzip: bool,
    /// zstd output (multi-threaded)
    #[arg(long, conflicts_with = "none")]
    pub zstd: bool,
    /// Uncompressed tar
    #[arg(long)]
    pub none: bool,
    /// Compression level: gzip 1-9 (default 6), zstd 1-22 (default 3); -1 … -9 work too
    #[arg(long, value_name = "N")]
    pub level: Option<u32>,
    /// Compression threads (default: every core)
    #[arg(short = 'p', long, value_name = "N")]
    pub threads: Option<usize>,
    /// gzip block size: each block becomes one gzip member
    #[arg(long, value_name = "SIZE", default_value = "128K", value_parser = super::parse_size)]
    pub block_size: u64,
    /// Leave out names matching GLOB (GNU tar rules: matches any trailing part of the name)
    #[arg(long, value_name = "GLOB", action = ArgAction::Append)]
    pub exclude: Vec<String>,
    /// Follow symlinks and archive what they point to
    #[arg(long)]
    pub dereference: bool,
    /// Store this mtime for every entry (@EPOCH, YYYY-MM-DD[ HH:MM:SS], RFC 3339)
    #[arg(long, value_name = "DATE", value_parser = super::parse_time)]
    pub mtime: Option<i64>,
    /// Store this owner for every entry: NAME, ID or NAME:ID
    #[arg(long, value_name = "NAME[:ID]")]
    pub owner: Option<String>,
    /// Store this group for every entry: NAME, ID or NAME:ID
    #[arg(long, value_name = "NAME[:ID]")]
    pub group: Option<String>,
    /// Warn about unreadable or vanished files and go on (exit 0)
    #[arg(long)]
    pub ignore_failed_read: bool,
    /// Store files with holes as sparse entries (PAX 1.0; GNU tar and bsdtar restore them)
    #[arg(short = 'S', long)]
    pub sparse: bool,
    /// Incremental dump, GNU tar's -g: only what changed since snapshot
    /// FILE (level 0 if FILE does not exist), each directory with the
    /// listing `unpack -G` deletes by; FILE is replaced once the archive is
    /// whole
    #[arg(short = 'g', long, value_name = "FILE")]
    pub listed_incremental: Option<PathBuf>,
    /// With -g: a directory is the same if its inode is, whatever its
    /// device number (a volume mounted again, on another node)
    #[arg(long, requires = "listed_incremental")]
    pub no_check_device: bool,
    /// Bytes of file data read ahead of the archive writer
    #[arg(long, value_name = "SIZE", default_value = DEFAULT_READ_AHEAD, value_parser = super::parse_size)]
    pub read_ahead: u64,
    /// Threads reading files ahead (reads in flight on a cold disk)
    #[arg(long, value_name = "N", default_value_t = ReadAheadConfig::DEFAULT.readers)]
    pub readers: usize,
    /// List entries on stderr as they are added
    #[arg(short, long)]
    pub verbose: bool,
    /// Print errors only: no progress bar, warnings or per-item lines
    #[arg(short, long)]
    pub quiet: bool,
}

impl Args {
    /// Parse the process's arguments (pigz-style `-6` included), keeping
    /// the positions that order `-C`, PATH and `--splice`.
    pub fn parse_with_order(
        argv: Vec<std::ffi::OsString>,
    ) -> Result<(Args, Vec<Input>), clap::Error> {
        let matches = Args::command().get_matches_from(super::expand_level_flags(argv));
        let args = Args::from_arg_matches(&matches)?;
        let inputs = ordered_inputs(&matches, &args);
        Ok((args, inputs))
    }

    /// The library's options for these flags and `inputs` (in order).
    pub fn options(&self, inputs: Vec<Input>) -> Result<(PackOptions, Compression), UsageError> {
        if inputs.iter().all(|i| matches!(i, Input::Chdir(_))) {
            return Err(UsageError(
                "nothing to archive: give at least one PATH (e.g. pack -C /data .)".into(),
            ));
        }
        let id = |spec: &Option<String>, group| {
            spec.as_deref()
                .map(|s| parse_id(s, group))
                .transpose()
                .map_err(UsageError::from)
        };
        // Only `--splice -` reads stdin: hand it over only then.
        let splices_stdin = inputs.iter().any(|i| {
            matches!(
                i,
                Input::Splice {
                    from: SpliceFrom::Stdin,
                    ..
                }
            )
        });
        let idle_timeout = super::idle_limit(self.idle_timeout)?;
        let stdin = match (splices_stdin, crate::stdio::stdin()) {
            (true, Ok(stdin)) => match idle_timeout {
                Some(limit) => SpliceStdin::new(Idle::new(stdin, "standard input", limit)),
                None => SpliceStdin::new(stdin),
            },
            _ => SpliceStdin::default(),
        };
        let opts = PackOptions {
            inputs,
            exclude: self.exclude.clone(),
            dereference: self.dereference,
            mtime: self.mtime,
            owner: id(&self.owner, false)?,
            group: id(&self.group, true)?,
            ignore_failed_read: self.ignore_failed_read,
            sparse: self.sparse,
            verbose: self.verbose,
            stdin,
            idle_timeout,
            listed_incremental: (self.listed_incremental.clone()).map(|snapshot| Listed {
                snapshot,
                check_device: !self.no_check_device,
            }),
            read_ahead: self.read_ahead()?,
        };
        Ok((opts, self.compression()?))
    }

    fn read_ahead(&self) -> Result<ReadAheadConfig, UsageError> {
        if self.readers == 0 || self.read_ahead == 0 {
            return Err(UsageError(
                "--readers and --read-ahead must be at least 1".into(),
            ));
        }
        Ok(ReadAheadConfig {
            bytes: self.read_ahead,
            readers: self.readers,
        })
    }

    /// The codec and its level (gzip 1-9, default 6; zstd 1-22, default 3).
    fn compression(&self) -> Result<Compression, UsageError> {
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let level = |default, max, name| {
            let level = self.level.unwrap_or(default);
            match (1..=max).contains(&level) {
                true => Ok(level),
                false => Err(UsageError(format!(
                    "{name} level must be 1-{max}, not {level}"
                ))),
            }
        };
        Ok(if self.zstd {
            Compression::Zstd {
                level: level(3, 22, "zstd")? as i32,
                threads,
            }
        } else if self.none {
            Compression::None
        } else {
            Compression::Gzip {
                level: level(6, 9, "gzip")?,
                threads,
                block_size: self.block_size as usize,
            }
        })
    }
}

/// One positional argument, before the `--prefix`es are applied.
enum Positional {
    Input(Input),
    Prefix(Option<String>),
    Splice(SpliceFrom),
}

/// -C, PATH, --splice, --splice-exec, @FILE and --prefix in command-line
/// order (GNU tar semantics: each applies to what follows it).
fn ordered_inputs(matches: &clap::ArgMatches, args: &Args) -> Vec<Input> {
    let mut ordered: Vec<(usize, Positional)> = Vec::new();
    let mut add = |id: &str, n: usize, make: &dyn Fn(usize) -> Positional| {
        if let Some(indices) = matches.indices_of(id) {
            ordered.extend(indices.zip(0..n).map(|(i, k)| (i, make(k))));
        }
    };
    add("directory", args.directory.len(), &|k| {
        Positional::Input(Input::Chdir(args.directory[k].clone()))
    });
    add("splice", args.splice.len(), &|k| match &args.splice[k] {
        p if p.as_os_str() == "-" => Positional::Splice(SpliceFrom::Stdin),
        p => Positional::Splice(SpliceFrom::File(p.clone())),
    });
    add("splice_exec", args.splice_exec.len(), &|k| {
        Positional::Splice(SpliceFrom::Command(args.splice_exec[k].clone()))
    });
    add("prefix", args.prefix.len(), &|k| {
        let dir = args.prefix[k].trim_end_matches('/');
        Positional::Prefix((!dir.is_empty()).then(|| dir.to_string()))
    });
    add("paths", args.paths.len(), &|k| {
        let p = &args.paths[k];
        match p.to_str().and_then(|s| s.strip_prefix('@')) {
            Some(file) => Positional::Splice(SpliceFrom::File(PathBuf::from(file))),
            None => Positional::Input(Input::Path(p.clone())),
        }
    });
    ordered.sort_by_key(|(i, _)| *i);
    let mut prefix = None;
    let mut inputs = Vec::new();
    for (_, positional) in ordered {
        match positional {
            Positional::Input(input) => inputs.push(input),
            Positional::Prefix(p) => prefix = p,
            Positional::Splice(from) => inputs.push(Input::Splice {
                from,
                prefix: prefix.clone(),
            }),
        }
    }
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_shows_the_real_read_ahead_default() {
        let parsed = super::super::parse_size(DEFAULT_READ_AHEAD);
        assert_eq!(parsed, Ok(ReadAheadConfig::DEFAULT.bytes));
    }
}
