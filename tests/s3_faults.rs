//! Uploads and downloads through the fault-injection proxy: at a 10% fault
//! rate they finish byte-identical with nothing left behind; with a fault
//! on every try they fail cleanly within the retry budget.

mod support;

use std::time::{Duration, Instant};

use support::faults::FaultProxy;
use support::s3::Server;
use support::*;

fn through(
    s: &Server,
    proxy: &FaultProxy,
    tool: &str,
    args: &[&str],
    stdin: &[u8],
) -> std::process::Output {
    let mut cmd = s.cmd(tool);
    cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint).args(args);
    run_command(cmd, stdin)
}

fn leftovers(s: &Server, prefix: &str) -> (String, String) {
    let objects = s.run("s3ls", &["--recursive", &s.url(prefix)], b"");
    let uploads = s.run("s3ls", &["--uploads", &s.url(prefix)], b"");
    (
        String::from_utf8_lossy(&objects.stdout).into_owned(),
        String::from_utf8_lossy(&uploads.stdout).into_owned(),
    )
}

#[test]
fn ten_percent_faults_still_give_identical_bytes() {
    let s = Server::garage();
    let proxy = FaultProxy::start(&s.endpoint, 0.1, 0x5eed, Duration::from_secs(4));
    let data = random_bytes(40 * MIB, 11);
    let url = s.url("faults/ten");
    let out = through(
        s,
        &proxy,
        "s3put",
        &[&url, "--part-size", "5MiB", "--retries", "10", "--json"],
        &data,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let after_upload = proxy.injected();
    assert!(after_upload > 0, "the proxy must have injected faults");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["retries"].as_u64().unwrap() > 0,
        "the report counts the retried calls: {report}"
    );
    let back = through(
        s,
        &proxy,
        "s3get",
        &[
            &url,
            "--part-size",
            "5MiB",
            "--retries",
            "10",
            "--idle-timeout",
            "2s",
            "--json",
        ],
        b"",
    );
    assert_eq!(code(&back), 0, "{}", stderr(&back));
    assert!(back.stdout == data, "downloaded bytes differ");
    let line = stderr(&back).lines().last().unwrap_or_default().to_string();
    let report: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(report["retries"].is_u64(), "{report}");
    let during_download = proxy.injected() - after_upload;
    assert!(during_download > 0, "the download must have met faults too");
    // The stored object, read without the proxy, is exactly the input.
    let direct = s.run("s3get", &[&url], b"");
    assert!(direct.stdout == data, "stored bytes differ");
    let (_, uploads) = leftovers(s, "faults/ten");
    assert_eq!(uploads, "", "no multipart upload left behind");
}

#[test]
fn encrypted_transfers_resume_through_faults_too() {
    // Retries and range resumes work on the ciphertext; the plaintext
    // comes back whole.
    let s = Server::garage();
    let proxy = FaultProxy::start(&s.endpoint, 0.1, 0xa9e, Duration::from_secs(4));
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("key.txt");
    let public = age_keygen(&key);
    let data = random_bytes(30 * MIB, 12);
    let url = s.url("faults/age");
    let put = [
        "--part-size",
        "5MiB",
        "--retries",
        "10",
        "--recipient",
        &public,
    ];
    let out = through(
        s,
        &proxy,
        "s3put",
        &[&[url.as_str()][..], &put].concat(),
        &data,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let after_upload = proxy.injected();
    assert!(after_upload > 0, "the proxy must have injected faults");
    let get = [
        "--part-size",
        "5MiB",
        "--retries",
        "10",
        "--idle-timeout",
        "2s",
    ];
    let identity = ["--identity", key.to_str().unwrap()];
    let args = [&[url.as_str()][..], &get, &identity].concat();
    let back = through(s, &proxy, "s3get", &args, b"");
    assert_eq!(code(&back), 0, "{}", stderr(&back));
    assert!(back.stdout == data, "decrypted bytes differ");
    assert!(
        proxy.injected() > after_upload,
        "the download must have met faults too"
    );
    let (_, uploads) = leftovers(s, "faults/age");
    assert_eq!(uploads, "", "no multipart upload left behind");
}

#[test]
fn faults_on_every_try_fail_cleanly_within_the_budget() {
    let s = Server::garage();
    let proxy = FaultProxy::start(&s.endpoint, 1.0, 7, Duration::from_secs(1));
    let started = Instant::now();
    let url = s.url("faults/always");
    let out = through(
        s,
        &proxy,
        "s3put",
        &[&url, "--retries", "2"],
        &random_bytes(12 * MIB, 2),
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("s3put: upload of {url} aborted: ")),
        "{err}"
    );
    assert!(
        ["SlowDown", "InternalError", "ServiceUnavailable"]
            .iter()
            .any(|c| err.contains(c)),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let get = through(s, &proxy, "s3get", &[&url, "--retries", "2"], b"");
    assert_eq!(code(&get), 1, "{}", stderr(&get));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "bounded by the retry budget"
    );
    assert_eq!(
        leftovers(s, "faults/always"),
        (String::new(), String::new()),
        "nothing stored or in progress"
    );
}
