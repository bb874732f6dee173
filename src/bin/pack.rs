//! `pack`: parse flags (cli::pack) → `archive::pack`. Nothing else lives here.

use std::process::ExitCode;

use anyhow::{Context, bail};
use s3pipe::archive::pack::pack_to;
use s3pipe::cli::{self, pack::Args};
use s3pipe::{progress::Progress, stdio};

fn main() -> ExitCode {
    cli::run("pack", 2, || {
        let (args, inputs) = Args::parse_with_order()?;
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
