//! A producer that stops writing ends the run within `--idle-timeout`
//! (TheCombine#4322: `kubectl cp` hung for 30+ minutes): s3put from stdin
//! and `--exec`, pack's `--splice-exec` and `--splice -`. The stalled
//! command's whole process group is killed, nothing is stored, no upload
//! is left in progress; a producer that talks only on stderr (mongodump's
//! progress before its archive starts) is alive and not killed.

mod support;

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::s3::Server;
use support::*;

/// Wait for `child` with a deadline far above the idle limit: a stall we
/// failed to notice fails the test instead of hanging the suite.
fn finish(mut child: Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {within:?}: the stall was not noticed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Is a process whose command line contains `marker` still running?
fn running(marker: &str) -> bool {
    let out = Command::new("pgrep").args(["-f", marker]).output().unwrap();
    out.status.success()
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_stalled_exec_producer_is_killed_and_nothing_is_stored() {
    let s = Server::garage();
    // 12 MiB first, so the multipart upload exists when the stall comes.
    for (key, script) in [
        ("stall/small", "head -c 1000 /dev/urandom | gzip; sleep 601"),
        ("stall/multi", "head -c 12582912 /dev/urandom; sleep 602"),
    ] {
        let marker = script.rsplit(' ').next().unwrap();
        let mut cmd = s.cmd("s3put");
        cmd.args([
            "--idle-timeout",
            "2s",
            "--part-size",
            "5MiB",
            "--exec",
            &s.url(key),
        ])
        .args(["--", "sh", "-c", script]);
        let started = Instant::now();
        let out = finish(spawn(cmd), Duration::from_secs(60));
        assert_eq!(code(&out), 1, "{key}: {}", stderr(&out));
        assert!(started.elapsed() >= Duration::from_secs(2));
        let want = format!(
            "`sh -c {script}` wrote nothing on stdout or stderr for 2s (--idle-timeout): killed it"
        );
        assert!(stderr(&out).contains(&want), "{key}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(
            !running(&format!("sleep {marker}")),
            "{key}: the producer's group lives on"
        );
        assert!(s.keys(key).is_empty(), "{key}: nothing stored");
        assert_eq!(s.uploads(key), 0, "{key}: no upload left");
    }
}

#[test]
fn a_producer_that_talks_on_stderr_is_alive() {
    let s = Server::garage();
    let script =
        "for i in 1 2 3 4 5 6; do echo dumping $i >&2; sleep 0.5; done; head -c 100000 /dev/zero";
    let out = s.run(
        "s3put",
        &[
            "--idle-timeout",
            "1s",
            "--exec",
            &s.url("stall/talker"),
            "--",
            "sh",
            "-c",
            script,
        ],
        b"",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("dumping 1\n"), "{}", stderr(&out));
    assert!(stderr(&out).contains("dumping 6\n"), "{}", stderr(&out));
    let back = s.run("s3get", &[&s.url("stall/talker")], b"");
    assert!(back.stdout == vec![0u8; 100000]);
}

#[test]
fn a_silent_stdin_ends_the_upload() {
    let s = Server::garage();
    let mut cmd = s.cmd("s3put");
    cmd.env("S3PIPE_IDLE_TIMEOUT", "2")
        .args([&s.url("stall/stdin"), "--part-size", "5MiB"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&random_bytes(6 << 20, 9)).unwrap();
    // stdin stays open and silent: the producer stalled.
    let out = finish(child, Duration::from_secs(60));
    drop(stdin);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("reading input: standard input: no data for 2s (--idle-timeout)"),
        "{}",
        stderr(&out)
    );
    assert!(s.keys("stall/stdin").is_empty());
    assert_eq!(s.uploads("stall/stdin"), 0);
}

#[test]
fn pack_fails_on_a_stalled_splice_and_leaves_its_output_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("f"), b"data").unwrap();
    let dir = tmp.path().display();
    let script = format!("tar cf - -C {dir} f; sleep 603");
    let mut cmd = Command::new(bin("pack"));
    cmd.args(["--idle-timeout", "1s", "--none", "--splice-exec", &script]);
    let out = finish(spawn(cmd), Duration::from_secs(60));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let want =
        format!("`{script}` wrote nothing on stdout or stderr for 1s (--idle-timeout): killed it");
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    assert!(!running("sleep 603"));
    // No end-of-archive blocks: no reader takes it for a whole archive.
    let check = run(bin("unpack"), &["-t"], &out.stdout);
    assert_eq!(code(&check), 2, "{}", stderr(&check));

    // `--splice -`: stdin that stays open and silent.
    let mut cmd = Command::new(bin("pack"));
    cmd.args(["--idle-timeout", "1s", "--none", "--splice", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stdin = child.stdin.take().unwrap();
    let out = finish(child, Duration::from_secs(60));
    drop(stdin);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("standard input: no data for 1s (--idle-timeout)"),
        "{}",
        stderr(&out)
    );
}
