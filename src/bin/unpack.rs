//! `unpack`: clap flags → `archive::unpack` / `archive::list`.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use s3pipe::archive::list::{ListFormat, list};
use s3pipe::archive::unpack::{UnpackOptions, unpack};
use s3pipe::codec::detect::Format;
use s3pipe::signals::{self, TempFiles};
use s3pipe::{cli, progress::Progress, stdio};

const AFTER_HELP: &str = "\
The input's compression (gzip, also multi-member, zstd, or none) is detected
from its first bytes (-z/--gzip, --zstd, --none force it). Nothing is ever
written outside DIR: entries with '..', through symlinks leading out and hard
links to outside are refused; device nodes are skipped (exit 2) unless
--devices as root. Files are written under a temporary name and renamed when
complete; the whole stream, trailers included, is verified. Archives from GNU
tar (sparse, incremental, labels), bsdtar, pzstd and Python extract as GNU
tar extracts them.

Exit status: 0 success; 2 failure (corrupt, truncated or unsafe input, or an
entry that could not be written); 141 stdout (for -t) was closed.

Examples:
  s3get s3://bucket/backups/host-2026-11-24-03-15-00.tar.gz | unpack -C /restore
  unpack -tv -f backup.tar.zst";

/// Unpack a tar stream from stdin into a directory, safely.
#[derive(Parser)]
#[command(name = "unpack", version, after_help = AFTER_HELP)]
struct Args {
    /// Directory to unpack into
    #[arg(
        short = 'C',
        long = "directory",
        value_name = "DIR",
        default_value = "."
    )]
    directory: PathBuf,
    /// Read the archive from FILE instead of stdin
    #[arg(short = 'f', long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Create DIR if it does not exist
    #[arg(long)]
    mkdir: bool,
    /// Drop N leading components from names (GNU tar's rule: "." counts)
    #[arg(long, value_name = "N", default_value_t = 0)]
    strip_components: usize,
    /// List the entries instead (names; with -v like tar -tv)
    #[arg(short = 't', long)]
    list: bool,
    /// With -t: one JSON object per entry
    #[arg(long, requires = "list")]
    json: bool,
    /// Do not replace existing files; each one is an error
    #[arg(short = 'k', long, conflicts_with = "overwrite")]
    keep_old_files: bool,
    /// Replace existing files (the default; never replaces a directory)
    #[arg(long)]
    overwrite: bool,
    /// Do not restore owners (the default unless root)
    #[arg(long)]
    no_same_owner: bool,
    /// Create device nodes (only as root)
    #[arg(long)]
    devices: bool,
    /// Name entries on stderr as they are written (with -t: long listing)
    #[arg(short, long)]
    verbose: bool,
    /// No progress bar, no warnings
    #[arg(short, long)]
    quiet: bool,
    /// Read the input as gzip whatever its first bytes say (like tar -z)
    #[arg(short = 'z', long, group = "codec")]
    gzip: bool,
    /// Read the input as zstd (like tar --zstd)
    #[arg(long, group = "codec")]
    zstd: bool,
    /// Read the input as uncompressed tar
    #[arg(long, group = "codec")]
    none: bool,
}

impl Args {
    fn format(&self) -> Option<Format> {
        match (self.gzip, self.zstd, self.none) {
            (true, _, _) => Some(Format::Gzip),
            (_, true, _) => Some(Format::Zstd),
            (_, _, true) => Some(Format::Tar),
            _ => None,
        }
    }
}

fn main() -> ExitCode {
    cli::run("unpack", 2, || {
        let args = Args::parse();
        let temp_files = TempFiles::default();
        signals::remove_on_signal(temp_files.clone()).context("handling signals")?;
        let input: Box<dyn Read + Send> = match &args.file {
            Some(path) => {
                Box::new(File::open(path).with_context(|| format!("opening {}", path.display()))?)
            }
            None => {
                if stdio::stdin_is_terminal() {
                    bail!(
                        "refusing to read archive data from a terminal (pipe it in or use -f FILE)"
                    );
                }
                Box::new(stdio::stdin().context("opening stdin")?)
            }
        };
        if args.list {
            let format = match (args.json, args.verbose) {
                (true, _) => ListFormat::Json,
                (false, true) => ListFormat::Long,
                (false, false) => ListFormat::Names,
            };
            let mut out = stdio::stdout().context("opening stdout")?;
            // No bar beside a listing: warnings go straight to stderr.
            let stderr = Progress::silent("unpack");
            let quiet = args.quiet;
            let summary = list(input, format, args.format(), &mut out, |w| {
                if !quiet {
                    stderr.error(w)
                }
            })?;
            if summary.errors > 0 {
                stderr.error("exiting with failure status due to previous errors");
                return Ok(ExitCode::from(2));
            }
            return Ok(ExitCode::SUCCESS);
        }
        let mut opts = UnpackOptions::new(&args.directory);
        opts.mkdir = args.mkdir;
        opts.strip_components = args.strip_components;
        opts.keep_old_files = args.keep_old_files;
        opts.same_owner &= !args.no_same_owner;
        opts.devices = args.devices;
        opts.verbose = args.verbose;
        opts.format = args.format();
        opts.temp_files = temp_files;
        let progress = Progress::new("unpack", args.quiet);
        let result = unpack(input, &opts, &progress);
        progress.finish();
        let summary = result?;
        if summary.errors > 0 {
            eprintln!(
                "unpack: {} entries could not be written (see above)",
                summary.errors
            );
            return Ok(ExitCode::from(2));
        }
        Ok(ExitCode::SUCCESS)
    })
}
