//! `unpack`: parse flags (cli::unpack) → `archive::unpack` or `archive::list`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use s3pipe::archive::list::list;
use s3pipe::archive::unpack::unpack;
use s3pipe::cli::{self, unpack::Args};
use s3pipe::signals::{self, TempFiles};
use s3pipe::{progress::Progress, stdio};

fn main() -> ExitCode {
    cli::run("unpack", 2, || {
        let args = Args::parse();
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
            let summary = list(input, args.list_format(), args.format(), &mut out, warn)?;
            let why = "exiting with failure status due to previous errors".to_string();
            (summary.errors, why)
        } else {
            let progress = Progress::new("unpack", args.quiet);
            let result = unpack(input, &args.options(temp_files), &progress);
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
