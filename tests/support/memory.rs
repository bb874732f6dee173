//! What a run costs in memory: peak RSS measured by GNU time.

use std::path::Path;
use std::process::{Command, Output};

use super::programs::{path_with_bins, stderr};

/// Peak RSS in KiB and the output of `script` run under GNU time.
pub fn peak_rss(dir: &Path, script: &str) -> (u64, Output) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "RSS=%M", "bash", "-c", script])
        .current_dir(dir)
        .env("PATH", path_with_bins())
        .output()
        .unwrap();
    let err = stderr(&out);
    let rss = err
        .lines()
        .find_map(|l| l.strip_prefix("RSS="))
        .unwrap_or_else(|| panic!("no RSS in {err}"))
        .parse()
        .unwrap();
    (rss, out)
}
