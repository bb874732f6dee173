//! s3put and s3get on a real distributed store: a 3-node Garage cluster
//! (replication factor 3, one zone per node). One node killed with SIGKILL
//! mid-transfer and restarted: the transfer still ends byte-identical, with
//! nothing left behind. Two nodes down (no write quorum): the tools fail
//! with one clear line, within their retry budget.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::cluster::Cluster;
use support::{MIB, random_bytes};

/// Spawn `cmd` with piped stdio.
fn spawn(mut cmd: Command) -> std::process::Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn transfers_survive_a_node_killed_and_restarted_mid_way() {
    let mut c = Cluster::start();
    let data = random_bytes(48 * MIB, 21);
    let url = c.s3.url("killed/upload");

    // Upload: a third, then node 2 dies; a third, then it is back.
    let mut put = c.s3.cmd("s3put");
    put.args([&url, "--part-size", "5MiB", "-q"]);
    let mut child = spawn(put);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&data[..16 * MIB]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.s3.uploads("killed/") == 0 {
        assert!(Instant::now() < deadline, "the upload never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    c.kill(2);
    stdin.write_all(&data[16 * MIB..32 * MIB]).unwrap();
    c.restart(2);
    stdin.write_all(&data[32 * MIB..]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The node that was down may list the upload until the completion
    // reaches it (Garage's read repair and sync: a clean-clone run under
    // load once listed it right after the put); an upload s3put left
    // behind is listed for good.
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.s3.uploads("killed/") != 0 {
        assert!(Instant::now() < deadline, "an upload was left behind");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Download: read a part's worth, node 1 dies; read more, it is back.
    let mut get = c.s3.cmd("s3get");
    get.args([&url, "--part-size", "5MiB", "-q"]);
    let mut child = spawn(get);
    let mut stdout = child.stdout.take().unwrap();
    let mut got = vec![0u8; data.len()];
    // A read that fails shows why s3get stopped (its stderr).
    let mut read = |child: &mut std::process::Child, buf: &mut [u8]| {
        if let Err(e) = stdout.read_exact(buf) {
            let _ = child.kill();
            let mut why = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut why);
            panic!("reading s3get's output: {e}; s3get said: {why}");
        }
    };
    read(&mut child, &mut got[..5 * MIB]);
    c.kill(1);
    read(&mut child, &mut got[5 * MIB..24 * MIB]);
    c.restart(1);
    read(&mut child, &mut got[24 * MIB..]);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(rest.is_empty(), "{} bytes too many", rest.len());
    assert!(got == data, "the download differs");
}

#[test]
fn without_a_write_quorum_the_tools_fail_clearly_and_in_time() {
    let mut c = Cluster::start();
    let data = random_bytes(12 * MIB, 22);
    let stored = c.s3.url("quorum/stored");
    let out =
        c.s3.run("s3put", &[&stored, "--part-size", "5MiB", "-q"], &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.kill(1);
    c.kill(2);

    let started = Instant::now();
    let out = c.s3.run(
        "s3put",
        &[
            &c.s3.url("quorum/new"),
            "--part-size",
            "5MiB",
            "--retries",
            "2",
        ],
        &data,
    );
    let put_took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    let put_err = err.to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("s3put: "), "{err}");
    assert!(put_took < Duration::from_secs(60), "{put_took:?}");
    assert!(err.contains("Could not reach quorum"), "{err}");

    let started = Instant::now();
    let out = c.s3.run("s3get", &[&stored, "--retries", "2"], b"");
    let get_took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("s3get: "), "{err}");
    assert!(get_took < Duration::from_secs(60), "{get_took:?}");
    assert!(err.contains("HTTP 503: Service Unavailable"), "{err}");

    // Back to full strength: no object and no upload from the failed put.
    c.restart(1);
    c.restart(2);
    let deadline = Instant::now() + Duration::from_secs(60);
    let keys = loop {
        let out =
            c.s3.run("s3ls", &["--recursive", &c.s3.url("quorum/")], b"");
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(Instant::now() < deadline, "the cluster did not come back");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        keys.contains("quorum/stored") && !keys.contains("quorum/new"),
        "{keys}"
    );
    // No upload survives the maintenance job's `s3rm --uploads`. (One may
    // be listed before it: a CreateMultipartUpload that reached node 0
    // alone fails with "Could not reach quorum", so s3put has no id to
    // abort, yet Garage keeps that one write and replicates it when the
    // other nodes return — seen in 1 run of 3.)
    // A completed upload can stay listed for a while after two of three
    // nodes went down right after it (quorum/stored, in 2 runs of 4): its
    // abort meets NoSuchUpload, which s3rm counts as done ("already
    // gone"); the failed put's own upload is what must not survive.
    assert!(c.s3.uploads("quorum/new") <= 1, "{put_err}");
    let out = c.s3.run("s3rm", &["--uploads", &c.s3.url("quorum/")], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(c.s3.uploads("quorum/new"), 0, "{put_err}");
}
