//! Running the real programs: this crate's binaries, shells, pipelines,
//! and reading what they print and how they exit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Path of one of this crate's binaries, built by cargo for the tests.
pub fn bin(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_pack"));
    dir.with_file_name(name)
}

/// Run `program args…` with `stdin` bytes; capture stdout and stderr.
pub fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(program.as_ref());
    cmd.args(args);
    run_command(cmd, stdin)
}

/// Run a prepared command with `stdin` bytes; capture stdout and stderr.
pub fn run_command(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // The program may stop reading early (that is what some tests check).
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

/// The one JSON line a job script (backup.sh, restore.sh --verify-only)
/// prints on stdout when its run ends.
pub fn summary(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    serde_json::from_str(text.trim()).unwrap()
}

/// Run a shell pipeline; panics with its stderr unless it succeeds.
pub fn sh(script: &str) -> Output {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .env("PATH", path_with_bins())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Run `script` with bash in `dir` (the crate's binaries on PATH, C locale
/// so GNU tar's messages are stable); panics unless it succeeds.
pub fn sh_in(dir: &Path, script: &str) -> Output {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path_with_bins())
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(out.status.success(), "`{script}` failed: {}", stderr(&out));
    out
}

/// PATH with this crate's binaries first.
pub fn path_with_bins() -> String {
    format!(
        "{}:{}",
        bin("pack").parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}
