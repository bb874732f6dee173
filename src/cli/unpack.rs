//! `unpack`'s command line: flags → [`UnpackOptions`] or a listing format.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use clap::Parser;

use crate::archive::list::ListFormat;
use crate::archive::route::Route;
use crate::archive::unpack::UnpackOptions;
use crate::codec::decode::Decoding;
use crate::codec::detect::Format;
use crate::signals::TempFiles;

const AFTER_HELP: &str = "\
The input's compression (gzip, also multi-member, zstd, or none) is detected
from its first bytes (-z/--gzip, --zstd, --none force it). Nothing is ever
written outside DIR: entries with '..', through symlinks leading out and hard
links to outside are refused; device nodes are skipped (exit 2) unless
--devices as root. Files are written under a temporary name and renamed when
complete; the whole stream, trailers included, is verified. Archives from GNU
tar (sparse, incremental, labels), bsdtar, pzstd and Python extract as GNU
tar extracts them. --route PREFIX=CMD sends the entries under PREFIX (the
names before --strip-components) to a command instead, e.g. into another
pod; the input is still verified to its end.

Exit status: 0 success; 2 failure (corrupt, truncated or unsafe input, or an
entry that could not be written); 141 stdout (for -t) was closed.

Examples:
  s3get s3://bucket/backups/host-2026-11-24-03-15-00.tar.gz | unpack -C /restore
  unpack -tv -f backup.tar.zst
  s3get s3://bucket/backups/app-2026-11-24-03-15-07.tar.gz | unpack --routes-only \\
    --route 'dump=kubectl exec -i deploy/database -- tar xf - -C /dump' \\
    --route '.CombineFiles=kubectl exec -i deploy/backend -- tar xf - -C /home/app/.CombineFiles'";

/// Unpack a tar stream from stdin into a directory, safely.
#[derive(Parser)]
#[command(name = "unpack", version = super::VERSION, after_help = AFTER_HELP)]
pub struct Args {
    /// Directory to unpack into
    #[arg(
        short = 'C',
        long = "directory",
        value_name = "DIR",
        default_value = "."
    )]
    pub directory: PathBuf,
    /// Read the archive from FILE instead of stdin
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Create DIR if it does not exist
    #[arg(long)]
    pub mkdir: bool,
    /// Stream the entries under PREFIX, as a tar stream with PREFIX
    /// stripped, into the shell command CMD's stdin (repeatable); unpack
    /// fails unless CMD exits 0
    #[arg(long, value_name = "PREFIX=CMD", action = clap::ArgAction::Append)]
    pub route: Vec<Route>,
    /// With --route: entries outside every route are not extracted
    #[arg(long, requires = "route")]
    pub routes_only: bool,
    /// Incremental archives (GNU tar's -G): delete what each directory's
    /// listing no longer holds, inside DIR only; extract the chain in
    /// order, level 0 first
    #[arg(short = 'G', long)]
    pub incremental: bool,
    /// Drop N leading components from names (GNU tar's rule: "." counts)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub strip_components: usize,
    /// List the entries instead (names; with -v like tar -tv)
    #[arg(short = 't', long)]
    pub list: bool,
    /// With -t: one JSON object per entry
    #[arg(long, requires = "list")]
    pub json: bool,
    /// Do not replace existing files; each one is an error
    #[arg(short = 'k', long, conflicts_with = "overwrite")]
    pub keep_old_files: bool,
    /// Replace existing files (the default; never replaces a directory)
    #[arg(long)]
    pub overwrite: bool,
    /// Do not restore owners (the default unless root)
    #[arg(long)]
    pub no_same_owner: bool,
    /// Create device nodes (only as root)
    #[arg(long)]
    pub devices: bool,
    /// Name entries on stderr as they are written (with -t: long listing)
    #[arg(short, long)]
    pub verbose: bool,
    /// Print errors only: no progress bar, warnings or per-item lines
    #[arg(short, long)]
    pub quiet: bool,
    /// Read the input as gzip whatever its first bytes say (like tar -z)
    #[arg(short = 'z', long, group = "codec")]
    pub gzip: bool,
    /// Read the input as zstd (like tar --zstd)
    #[arg(long, group = "codec")]
    pub zstd: bool,
    /// Read the input as uncompressed tar
    #[arg(long, group = "codec")]
    pub none: bool,
    /// The largest zstd window to accept: what one zstd frame may make unpack hold (zstd --long=31 archives need 2GiB)
    #[arg(long, value_name = "SIZE", default_value = "128MiB", value_parser = super::parse_size)]
    pub zstd_window_max: u64,
}

impl Args {
    /// The codec flags and `--zstd-window-max`.
    pub fn decoding(&self) -> Decoding {
        Decoding {
            format: self.format(),
            zstd_window_max: self.zstd_window_max,
        }
    }

    /// The codec forced by `-z`/`--zstd`/`--none` (none: detect it).
    pub fn format(&self) -> Option<Format> {
        match (self.gzip, self.zstd, self.none) {
            (true, _, _) => Some(Format::Gzip),
            (_, true, _) => Some(Format::Zstd),
            (_, _, true) => Some(Format::Tar),
            _ => None,
        }
    }
}

impl Args {
    /// `-t`'s format: names, `-tv`'s long lines, or JSON.
    pub fn list_format(&self) -> ListFormat {
        match (self.json, self.verbose) {
            (true, _) => ListFormat::Json,
            (false, true) => ListFormat::Long,
            (false, false) => ListFormat::Names,
        }
    }

    /// The archive: `-f FILE`, or stdin unless it is a terminal.
    pub fn input(&self) -> Result<Box<dyn Read + Send>, InputError> {
        match &self.file {
            Some(path) => File::open(path)
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|source| InputError::Open {
                    path: path.clone(),
                    source,
                }),
            None if crate::stdio::stdin_is_terminal() => Err(InputError::Terminal),
            None => crate::stdio::stdin()
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|source| InputError::Open {
                    path: "stdin".into(),
                    source,
                }),
        }
    }

    /// The library's options for these flags.
    pub fn options(&self, temp_files: TempFiles) -> UnpackOptions {
        let mut opts = UnpackOptions::new(&self.directory);
        opts.mkdir = self.mkdir;
        opts.strip_components = self.strip_components;
        opts.keep_old_files = self.keep_old_files;
        opts.same_owner &= !self.no_same_owner;
        opts.devices = self.devices;
        opts.verbose = self.verbose;
        opts.decoding = self.decoding();
        opts.temp_files = temp_files;
        opts.routes = self.route.clone();
        opts.routes_only = self.routes_only;
        opts.incremental = self.incremental;
        opts
    }
}

/// Why there is no archive to read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("refusing to read archive data from a terminal (pipe it in or use -f FILE)")]
    /// stdin is a terminal: no archive is coming.
    Terminal,
    #[error("opening {}", path.display())]
    /// `-f FILE` cannot be opened.
    Open {
        /// The file.
        path: PathBuf,
        #[source]
        /// Why.
        source: std::io::Error,
    },
}
