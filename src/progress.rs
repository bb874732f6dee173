//! What the user sees on stderr while a tool runs: an indicatif bar only
//! when stderr is a terminal (never in logs or pipes), warnings and `-v`
//! lines printed above it, and nothing but errors with `-q`.

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress bar (on a terminal, unless -q) and the warning lines.
pub struct Progress {
    program: &'static str,
    bar: Option<ProgressBar>,
    quiet: bool,
    files: AtomicU64,
}

impl Progress {
    /// A bar for `program` when stderr is a terminal and not `quiet`.
    pub fn new(program: &'static str, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} {bytes} ({bytes_per_sec}) {msg}",
                )
                .expect("static template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            program,
            bar,
            quiet,
            files: AtomicU64::new(0),
        }
    }

    /// No bar, no warnings: for library callers and tests.
    pub fn silent(program: &'static str) -> Progress {
        Progress {
            program,
            bar: None,
            quiet: true,
            files: AtomicU64::new(0),
        }
    }

    /// `n` more bytes done.
    pub fn add_bytes(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// One more file done.
    pub fn add_file(&self) {
        let files = self.files.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar
            && files % 64 == 1
        {
            bar.set_message(format!("{files} files"));
        }
    }

    /// How many parts are being transferred at this moment (s3put, s3get).
    pub fn parts_in_flight(&self, parts: usize) {
        if let Some(bar) = &self.bar {
            let plural = if parts == 1 { "" } else { "s" };
            bar.set_message(format!("{parts} part{plural} in flight"));
        }
    }

    /// A warning: `program: message` on stderr, unless quiet.
    pub fn warn(&self, message: impl Display) {
        if !self.quiet {
            self.line(format_args!("{}: {message}", self.program));
        }
    }

    /// An error that does not stop the run (an entry that could not be
    /// written): `program: message`, printed even when quiet.
    pub fn error(&self, message: impl Display) {
        self.line(format_args!("{}: {message}", self.program));
    }

    /// A `-v` line (entry names), unless quiet.
    pub fn verbose(&self, message: impl Display) {
        if !self.quiet {
            self.line(message);
        }
    }

    fn line(&self, message: impl Display) {
        let print = || {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
        };
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// Remove the bar (before the final error or summary line).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
