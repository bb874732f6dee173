//! `pack`: clap flags → `archive::pack`. Nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use s3pipe::archive::pack::{Input, PackOptions, pack_to, parse_id};
use s3pipe::codec::encode::Compression;
use s3pipe::{cli, progress::Progress, stdio};

const AFTER_HELP: &str = "\
Paths are archived in order; -C DIR applies to the paths after it (GNU tar).
@FILE or --splice FILE copies the entries of another tar stream (plain, gzip
or zstd; - is stdin) into the archive, like bsdtar's @archive.

Exit status: 0 success; 1 some files changed while being read (archive still
valid); 2 fatal error (the output is left truncated so no reader takes it
for a complete archive); 141 stdout was closed.

Examples:
  pack -C /data . | s3put s3://bucket/backups/host-2026-11-24-03-15-00.tar.gz
  kubectl exec db -- tar cf - dump | pack --prefix dump --splice - -C /app files";

/// Write a tar archive of PATHs to stdout: gzip on every core by default.
#[derive(Parser)]
#[command(name = "pack", version, after_help = AFTER_HELP)]
struct Args {
    /// Paths to archive, named as given; @FILE splices tar stream FILE
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Change to DIR before archiving the paths that follow (repeatable)
    #[arg(short = 'C', long = "directory", value_name = "DIR", action = ArgAction::Append)]
    directory: Vec<PathBuf>,
    /// Copy every entry of the tar stream FILE (- for stdin) into the output
    #[arg(long, value_name = "FILE", action = ArgAction::Append)]
    splice: Vec<PathBuf>,
    /// Put spliced entries under DIR/ (names and hard-link targets)
    #[arg(long, value_name = "DIR")]
    prefix: Option<String>,
    /// gzip output (the default): parallel blocks, readable by any gzip
    #[arg(long, conflicts_with_all = ["zstd", "none"])]
    gzip: bool,
    /// zstd output (multi-threaded)
    #[arg(long, conflicts_with = "none")]
    zstd: bool,
    /// Uncompressed tar
    #[arg(long)]
    none: bool,
    /// Compression level: gzip 1-9 (default 6), zstd 1-22 (default 3); -1 … -9 work too
    #[arg(long, value_name = "N")]
    level: Option<u32>,
    /// Compression threads (default: every core)
    #[arg(short = 'p', long, value_name = "N")]
    threads: Option<usize>,
    /// gzip block size: each block becomes one gzip member
    #[arg(long, value_name = "SIZE", default_value = "128K", value_parser = cli::parse_size)]
    block_size: u64,
    /// Leave out names matching GLOB (GNU tar rules: matches any trailing part of the name)
    #[arg(long, value_name = "GLOB", action = ArgAction::Append)]
    exclude: Vec<String>,
    /// Follow symlinks and archive what they point to
    #[arg(long)]
    dereference: bool,
    /// Store this mtime for every entry (@EPOCH, YYYY-MM-DD[ HH:MM:SS], RFC 3339)
    #[arg(long, value_name = "DATE", value_parser = cli::parse_time)]
    mtime: Option<i64>,
    /// Store this owner for every entry: NAME, ID or NAME:ID
    #[arg(long, value_name = "NAME[:ID]")]
    owner: Option<String>,
    /// Store this group for every entry: NAME, ID or NAME:ID
    #[arg(long, value_name = "NAME[:ID]")]
    group: Option<String>,
    /// Warn about unreadable or vanished files and go on (exit 0)
    #[arg(long)]
    ignore_failed_read: bool,
    /// Store files with holes as sparse entries (PAX 1.0; GNU tar and bsdtar restore them)
    #[arg(short = 'S', long)]
    sparse: bool,
    /// List entries on stderr as they are added
    #[arg(short, long)]
    verbose: bool,
    /// No progress bar, no warnings
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> ExitCode {
    cli::run("pack", 2, || {
        let matches =
            Args::command().get_matches_from(cli::expand_level_flags(std::env::args_os()));
        let args = Args::from_arg_matches(&matches)?;
        let inputs = ordered_inputs(&matches, &args);
        if inputs.iter().all(|i| matches!(i, Input::Chdir(_))) {
            bail!("nothing to archive: give at least one PATH (e.g. pack -C /data .)");
        }
        if stdio::stdout_is_terminal() {
            bail!("refusing to write archive data to a terminal (redirect or pipe stdout)");
        }
        let threads = args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let compression = if args.zstd {
            let level = args.level.unwrap_or(3);
            if !(1..=22).contains(&level) {
                bail!("zstd level must be 1-22, not {level}");
            }
            Compression::Zstd {
                level: level as i32,
                threads,
            }
        } else if args.none {
            Compression::None
        } else {
            let level = args.level.unwrap_or(6);
            if !(1..=9).contains(&level) {
                bail!("gzip level must be 1-9, not {level}");
            }
            Compression::Gzip {
                level,
                threads,
                block_size: args.block_size as usize,
            }
        };
        let opts = PackOptions {
            inputs,
            exclude: args.exclude,
            dereference: args.dereference,
            mtime: args.mtime,
            owner: args
                .owner
                .as_deref()
                .map(|o| parse_id(o, false))
                .transpose()
                .map_err(anyhow::Error::msg)?,
            group: args
                .group
                .as_deref()
                .map(|g| parse_id(g, true))
                .transpose()
                .map_err(anyhow::Error::msg)?,
            ignore_failed_read: args.ignore_failed_read,
            sparse: args.sparse,
            verbose: args.verbose,
            splice_prefix: args.prefix,
        };
        let progress = Progress::new("pack", args.quiet);
        let out = stdio::stdout().context("opening stdout")?;
        let result = pack_to(&opts, &compression, out, &progress);
        progress.finish();
        let summary = result?;
        Ok(ExitCode::from(if summary.changed > 0 { 1 } else { 0 }))
    })
}

/// -C, PATH, --splice and @FILE in command-line order (GNU tar semantics).
fn ordered_inputs(matches: &clap::ArgMatches, args: &Args) -> Vec<Input> {
    let mut ordered: Vec<(usize, Input)> = Vec::new();
    let mut add = |id: &str, values: &[PathBuf], make: &dyn Fn(&PathBuf) -> Input| {
        if let Some(indices) = matches.indices_of(id) {
            ordered.extend(indices.zip(values).map(|(i, v)| (i, make(v))));
        }
    };
    add("directory", &args.directory, &|d| Input::Chdir(d.clone()));
    add("splice", &args.splice, &|f| Input::Splice(f.clone()));
    add(
        "paths",
        &args.paths,
        &|p| match p.to_str().and_then(|s| s.strip_prefix('@')) {
            Some(file) => Input::Splice(PathBuf::from(file)),
            None => Input::Path(p.clone()),
        },
    );
    ordered.sort_by_key(|(i, _)| *i);
    ordered.into_iter().map(|(_, input)| input).collect()
}
