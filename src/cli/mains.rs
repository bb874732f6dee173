//! Each tool's `main`, in the library so that one multicall binary
//! (`s3pipe`, for the container image) and the seven small binaries
//! (`pack`, `unpack`, `s3put`, …) run the very same code: parse the flags
//! (`cli::<tool>`), call the library, print the report. [`TOOLS`] is the
//! table both kinds of binary dispatch through.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Parser;

use crate::archive::list::list;
use crate::archive::pack::pack_to;
use crate::cli;
use crate::producer::Producer;
use crate::progress::Progress;
use crate::s3::Store;
use crate::s3::delete::rm;
use crate::s3::download::download;
use crate::s3::list::{ls, uploads};
use crate::s3::prune::prune;
use crate::s3::upload::upload;
use crate::signals::{self, TempFiles};
use crate::stdio;

/// A tool's entry point: its whole command line, `argv[0]` first.
pub type Main = fn(Vec<OsString>) -> ExitCode;

/// Every tool by the name users call it, in the order `s3pipe --help` lists them.
pub const TOOLS: [(&str, Main); 7] = [
    ("pack", pack),
    ("unpack", unpack),
    ("s3put", s3put),
    ("s3get", s3get),
    ("s3ls", s3ls),
    ("s3rm", s3rm),
    ("s3prune", s3prune),
];

/// `pack`: parse flags (cli::pack) → `archive::pack`.
pub fn pack(argv: Vec<OsString>) -> ExitCode {
    cli::run("pack", 2, || {
        let (args, inputs) = cli::pack::Args::parse_with_order(argv)?;
        let (opts, compression) = args.options(inputs)?;
        if stdio::stdout_is_terminal() {
            bail!("refusing to write archive data to a terminal (redirect or pipe stdout)");
        }
        let progress = Progress::new("pack", args.quiet);
        let out = stdio::stdout().context("opening stdout")?;
        let result = pack_to(&opts, &compression, out, &progress);
        progress.finish();
        let summary = result?;
        Ok(ExitCode::from(if summary.changed > 0 { 1 } else { 0 }))
    })
}

/// `unpack`: parse flags (cli::unpack) → `archive::unpack` or `archive::list`.
pub fn unpack(argv: Vec<OsString>) -> ExitCode {
    cli::run("unpack", 2, || {
        let args = cli::unpack::Args::parse_from(argv);
        let temp_files = TempFiles::default();
        signals::remove_on_signal(temp_files.clone()).context("handling signals")?;
        let input = args.input()?;
        let (errors, why) = if args.list {
            let mut out = stdio::stdout().context("opening stdout")?;
            // No bar beside a listing: warnings go straight to stderr.
            let stderr = Progress::new("unpack", true);
            let warn = |w: String| {
                if !args.quiet {
                    stderr.error(w)
                }
            };
            let summary = list(input, args.list_format(), args.decoding(), &mut out, warn)?;
            let why = "exiting with failure status due to previous errors".to_string();
            (summary.errors, why)
        } else {
            let progress = Progress::new("unpack", args.quiet);
            let result =
                crate::archive::unpack::unpack(input, &args.options(temp_files), &progress);
            progress.finish();
            let summary = result?;
            let why = format!(
                "{} entries could not be written (see above)",
                summary.errors
            );
            (summary.errors, why)
        };
        if errors > 0 {
            eprintln!("unpack: {why}");
            return Ok(ExitCode::from(2));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `s3put`: parse flags (cli::put) → `s3::upload` → print the report.
pub fn s3put(argv: Vec<OsString>) -> ExitCode {
    cli::run("s3put", 1, || {
        let args = cli::put::Args::parse_from(argv);
        let (url, mut opts) = args.options()?;
        if opts.settings.lock.is_set() {
            object_lock_enabled(&args, &url.bucket)?;
        }
        let progress = Arc::new(Progress::new("s3put", args.quiet));
        // With --exec the producer's exit status ends the stream.
        let idle = cli::idle_limit(args.idle_timeout)?;
        let input: Box<dyn std::io::Read + Send> = match (args.exec, idle) {
            (true, _) => Box::new(Producer::spawn(&args.command, idle)?),
            (false, None) => Box::new(stdio::stdin().context("opening stdin")?),
            (false, Some(limit)) => {
                let stdin = stdio::stdin().context("opening stdin")?;
                Box::new(crate::idle::Idle::new(stdin, "standard input", limit))
            }
        };
        let result = cli::block_on(async {
            let mut connection = args.s3.connection("s3put", args.quiet);
            connection.request_timeout =
                Some(std::time::Duration::from_secs(args.request_timeout.max(1)));
            let store = Store::connect(&connection).await?;
            opts.checksum = args.checksum.unwrap_or(store.default_checksum());
            upload(&store, &url, input, &opts, progress.clone()).await
        })?;
        progress.finish();
        let report = result.with_context(|| format!("upload of {url} aborted"))?;
        match cli::put::report(&url, &report, args.json) {
            Some(cli::put::Said::Json(line)) => println!("{line}"),
            Some(cli::put::Said::Sha256(line)) => eprintln!("{line}"),
            None => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `--object-lock-*` on a bucket without Object Lock is a usage error,
/// found before any data is read.
fn object_lock_enabled(args: &cli::put::Args, bucket: &str) -> anyhow::Result<()> {
    let enabled = cli::block_on(async {
        let store = Store::connect(&args.s3.connection("s3put", true)).await?;
        store.lock_config(bucket).await
    })??;
    if !enabled.enabled {
        return Err(cli::UsageError(format!(
            "bucket {bucket} has no Object Lock (create it with it: aws s3api create-bucket --object-lock-enabled-for-bucket); nothing was read or uploaded"
        ))
        .into());
    }
    Ok(())
}

/// `s3get`: parse flags (cli::get) → `s3::download` → the report.
pub fn s3get(argv: Vec<OsString>) -> ExitCode {
    cli::run("s3get", 1, || {
        let args = cli::get::Args::parse_from(argv);
        let (url, opts) = args.options()?;
        let progress = Arc::new(Progress::new("s3get", args.quiet));
        // Unbuffered: s3get writes whole ranges with vectored writes.
        let out = stdio::stdout_raw().context("opening stdout")?;
        let result = cli::block_on(async {
            let store = Store::connect(&args.s3.connection("s3get", args.quiet)).await?;
            download(&store, &url, out, &opts, progress.clone()).await
        })?;
        progress.finish();
        let report = result.with_context(|| format!("download of {url} failed"))?;
        if args.json {
            eprintln!("{}", cli::get::report(&url, &report));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `s3ls`: parse flags (cli::ls) → `s3::list`.
pub fn s3ls(argv: Vec<OsString>) -> ExitCode {
    cli::run("s3ls", 1, || {
        let args = cli::ls::Args::parse_from(argv);
        let (url, opts) = args.options()?;
        let mut out = stdio::stdout().context("opening stdout")?;
        cli::block_on(async {
            let store = Store::connect(&args.s3.connection("s3ls", false)).await?;
            if args.uploads {
                uploads(&store, &url, args.json, &mut out).await.map(|_| ())
            } else {
                ls(&store, &url, &opts, &mut out).await
            }
        })?
        .with_context(|| format!("listing {url}"))?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `s3rm`: parse flags (cli::rm) → `s3::delete::rm` → what was done.
pub fn s3rm(argv: Vec<OsString>) -> ExitCode {
    cli::run("s3rm", 1, || {
        let args = cli::rm::Args::parse_from(argv);
        let (urls, opts) = args.options()?;
        let report = cli::block_on(async {
            let store = Store::connect(&args.s3.connection("s3rm", args.quiet)).await?;
            rm(&store, &urls, &opts).await
        })??;
        if !args.quiet {
            for warning in &report.warnings {
                eprintln!("s3rm: warning: {warning}");
            }
            report.done.iter().for_each(|line| println!("{line}"));
        }
        for (name, why) in &report.failed {
            eprintln!("s3rm: {name}: {why}");
        }
        if !report.failed.is_empty() {
            let total = report.failed.len() + report.done.len();
            bail!("{} of {total} deletions failed", report.failed.len());
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `s3prune`: parse flags (cli::prune) → `retention` (pure) + `s3::prune`.
pub fn s3prune(argv: Vec<OsString>) -> ExitCode {
    cli::run("s3prune", 1, || {
        let args = cli::prune::Args::parse_from(argv);
        let (url, opts) = args.options()?;
        let report = cli::block_on(async {
            let store = Store::connect(&args.s3.connection("s3prune", args.quiet)).await?;
            prune(&store, &url, &opts).await
        })??;
        if !args.quiet {
            for warning in &report.warnings {
                eprintln!("s3prune: warning: {warning}");
            }
            let prefix = if args.dry_run { "(dry run) " } else { "" };
            report
                .lines
                .iter()
                .for_each(|line| println!("{prefix}{line}"));
        }
        for (key, why) in &report.failed {
            eprintln!("s3prune: deleting {key} failed: {why}");
        }
        if !report.failed.is_empty() {
            let total = report.failed.len() + report.removed;
            bail!("{} of {total} deletions failed", report.failed.len());
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `s3pipe post`: the job's pings and Pushgateway push (cli::post →
/// `notify::send`); a helper of the multicall binary, not a tool.
pub fn post(argv: Vec<OsString>) -> ExitCode {
    cli::run("s3pipe post", 1, || {
        let args = cli::post::Args::parse_from(argv);
        let post = args.post().context("reading the body from stdin")?;
        match crate::notify::send(&post) {
            Err(e @ crate::notify::NotifyError::Url(_)) => Err(cli::UsageError(e.to_string()))?,
            result => result?,
        };
        Ok(ExitCode::SUCCESS)
    })
}

/// The multicall binary: run the tool named by `argv[0]` (a link such as
/// `/usr/local/bin/pack -> s3pipe`, as BusyBox does) or by the first
/// argument (`s3pipe pack -C /data .`). One binary carries the AWS SDK
/// once instead of five times (sizes in docs/ARCHITECTURE.md).
pub fn multicall(mut argv: Vec<OsString>) -> ExitCode {
    let called = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name());
    if let Some(main) = called.and_then(|name| find(&name.to_string_lossy())) {
        return main(argv);
    }
    let Some(first) = argv.get(1).map(|a| a.to_string_lossy().into_owned()) else {
        eprintln!("{}", multicall_usage());
        return ExitCode::from(2);
    };
    match first.as_str() {
        "-h" | "--help" | "help" => println!("{}", multicall_usage()),
        "-V" | "--version" => println!("s3pipe {}", cli::VERSION),
        "post" => return post(argv.split_off(1)),
        _ => match find(&first) {
            Some(main) => return main(argv.split_off(1)),
            None => {
                eprintln!("s3pipe: unknown tool '{first}'\n{}", multicall_usage());
                return ExitCode::from(2);
            }
        },
    }
    ExitCode::SUCCESS
}

fn find(name: &str) -> Option<Main> {
    TOOLS
        .iter()
        .find(|(tool, _)| *tool == name)
        .map(|(_, main)| *main)
}

fn multicall_usage() -> String {
    let names: Vec<&str> = TOOLS.iter().map(|(name, _)| *name).collect();
    format!(
        "usage: s3pipe TOOL [ARGS…], or call it through a link named TOOL\n\
         tools: {}\n\
         helper: post (the job's notifications; s3pipe post --help)\n\
         each tool's own --help says the rest",
        names.join(", ")
    )
}
