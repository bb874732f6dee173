//! Behaviour that depends on a terminal, under a real pseudo-terminal from
//! `script(1)`: the progress bar appears only when stderr is a TTY, `-q`
//! silences it, and archive data is never written to a terminal.

mod support;

use std::fs;
use std::process::Command;

use support::*;

/// Run `command` (a shell line) with stdin/stdout/stderr on a pty; returns
/// (exit code, everything the terminal showed).
fn on_terminal(command: &str) -> (i32, String) {
    let out = Command::new("script")
        .args(["-qefc", command, "/dev/null"])
        .env("PATH", path_with_bins())
        .env("TERM", "xterm")
        .output()
        .unwrap();
    (
        code(&out),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn refuses_to_write_archive_data_to_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("f"), b"x").unwrap();
    let (code, screen) = on_terminal(&format!("pack -C {} f", tmp.path().display()));
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("pack: refusing to write archive data to a terminal"),
        "{screen}"
    );
    let (code, screen) = on_terminal("unpack -C /tmp");
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("unpack: refusing to read archive data from a terminal"),
        "{screen}"
    );
}

#[test]
fn progress_only_on_a_terminal_and_quiet_silences_it() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("big"), random_bytes(4 << 20, 1)).unwrap();
    let dir = tmp.path().display();
    // stderr on the terminal, stdout to a file: the bar is drawn.
    let (code, screen) = on_terminal(&format!("pack -C {dir} big > {dir}/a.tgz"));
    assert_eq!(code, 0, "{screen}");
    // The bar's template: elapsed time, bytes so far, rate in parentheses.
    let bar = screen
        .lines()
        .find(|l| l.contains("00:00:0"))
        .unwrap_or_else(|| panic!("bar expected: {screen:?}"));
    assert!(
        bar.contains("iB (") && bar.contains("iB/s)"),
        "bytes and rate expected: {bar:?}"
    );
    let (code, screen) = on_terminal(&format!("pack -q -C {dir} big > {dir}/b.tgz"));
    assert_eq!(code, 0, "{screen}");
    assert_eq!(screen.trim(), "", "-q must print nothing");
    // Not a terminal: nothing on stderr at all.
    let out = run(
        bin("pack"),
        &["-C", tmp.path().to_str().unwrap(), "big"],
        b"",
    );
    assert_eq!(stderr(&out), "");
    let out = run(
        bin("unpack"),
        &["-C", tmp.path().to_str().unwrap(), "-v"],
        &out.stdout,
    );
    assert_eq!(
        stderr(&out),
        "big\n",
        "-v names entries on stderr, nothing else"
    );
}
