//! S3 Object Lock on s3put's uploads, against the stores here that have
//! it — Ceph RGW and moto (Garage has none): both modes, single part and
//! multipart, the legal hold; a locked version cannot be deleted by
//! version id; a bucket without Object Lock is one line and exit 2, with
//! nothing uploaded. What the store recorded is read back with boto3.

mod support;

use std::process::Command;

use support::s3::Server;
use support::*;

const LOCKED: &str = "s3pipe-locked";

/// Run a boto3 snippet (`c` is the client) against `s`; its stdout.
fn py(s: &Server, body: &str) -> String {
    let script = format!(
        "import boto3, datetime, sys\nc = boto3.client('s3', region_name='us-east-1')\n{body}"
    );
    let mut cmd = Command::new("python3");
    s.env_into(&mut cmd);
    let out = cmd.args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}: boto3: {}", s.name, stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The locked bucket, created once per store.
fn locked_bucket(s: &Server) {
    py(
        s,
        &format!(
            "try:\n    c.create_bucket(Bucket='{LOCKED}', ObjectLockEnabledForBucket=True)\n\
             except c.exceptions.BucketAlreadyOwnedByYou:\n    pass"
        ),
    );
}

/// (mode, retain-until as Unix seconds, legal hold) that HEAD reports.
fn lock_of(s: &Server, key: &str) -> (String, i64, String) {
    let line = py(
        s,
        &format!(
            "h = c.head_object(Bucket='{LOCKED}', Key='{key}')\n\
             d = h.get('ObjectLockRetainUntilDate')\n\
             print(h.get('ObjectLockMode'), int(d.timestamp()) if d else 0, h.get('ObjectLockLegalHoldStatus'))"
        ),
    );
    let mut parts = line.split(' ');
    let mut next = || parts.next().unwrap().to_string();
    (next(), next().parse().unwrap(), next())
}

fn put(s: &Server, key: &str, data: &[u8], flags: &[&str]) -> std::process::Output {
    let url = format!("s3://{LOCKED}/{key}");
    let mut args = flags.to_vec();
    args.push(&url);
    s.run("s3put", &args, data)
}

fn locks_each_upload(s: &Server) {
    locked_bucket(s);
    let now = chrono::Utc::now().timestamp();
    let one = put(
        s,
        "single",
        b"a small backup",
        &[
            "--object-lock-mode",
            "GOVERNANCE",
            "--object-lock-retain-for",
            "1d",
        ],
    );
    assert_eq!(code(&one), 0, "{}: {}", s.name, stderr(&one));
    let (mode, until, _) = lock_of(s, "single");
    assert_eq!(mode, "GOVERNANCE", "{}", s.name);
    assert!((until - (now + 86_400)).abs() < 120, "{}: {until}", s.name);

    let until = now + 2 * 86_400;
    let big = random_bytes(12 << 20, 5);
    let multi = put(
        s,
        "multi",
        &big,
        &[
            "--part-size",
            "5MiB",
            "--object-lock-mode",
            "compliance",
            "--object-lock-retain-until",
            &format!("@{until}"),
            "--object-lock-legal-hold",
            "ON",
        ],
    );
    assert_eq!(code(&multi), 0, "{}: {}", s.name, stderr(&multi));
    assert_eq!(
        lock_of(s, "multi"),
        ("COMPLIANCE".to_string(), until, "ON".to_string()),
        "{}",
        s.name
    );
    let back = s.run("s3get", &[&format!("s3://{LOCKED}/multi")], b"");
    assert_eq!(back.stdout, big, "{}", s.name);
    // Deleting the locked version itself is refused by the store.
    let refused = py(
        s,
        &format!(
            "v = c.head_object(Bucket='{LOCKED}', Key='multi')['VersionId']\n\
             try:\n    c.delete_object(Bucket='{LOCKED}', Key='multi', VersionId=v)\n    print('deleted')\n\
             except Exception as e:\n    print('refused')"
        ),
    );
    assert_eq!(refused, "refused", "{}", s.name);
}

fn refuses_what_cannot_lock(s: &Server) {
    let url = s.url("lock/plain");
    let flags = [
        "--object-lock-mode",
        "GOVERNANCE",
        "--object-lock-retain-for",
        "1d",
    ];
    let mut args = flags.to_vec();
    args.push(&url);
    let out = s.run("s3put", &args, b"data");
    assert_eq!(code(&out), 2, "{}: {}", s.name, stderr(&out));
    assert!(
        stderr(&out).contains("has no Object Lock") && stderr(&out).lines().count() == 1,
        "{}: {}",
        s.name,
        stderr(&out)
    );
    assert!(s.keys("lock/").is_empty(), "{}: nothing uploaded", s.name);
    for (extra, fragment) in [
        (vec!["--checksum", "none"], "--checksum none cannot be used"),
        (
            vec!["--object-lock-retain-for", "1d"],
            "need --object-lock-mode",
        ),
        (
            vec!["--object-lock-mode", "GOVERNANCE"],
            "needs --object-lock-retain-until",
        ),
    ] {
        let mut args: Vec<&str> = if extra.contains(&"--checksum") {
            flags.to_vec()
        } else {
            vec![]
        };
        args.extend(extra.iter().copied());
        let bad = format!("s3://{LOCKED}/never");
        args.push(&bad);
        let out = s.run("s3put", &args, b"data");
        assert_eq!(code(&out), 2, "{}: {}", s.name, stderr(&out));
        assert!(stderr(&out).contains(fragment), "{}", stderr(&out));
    }
}

#[test]
fn ceph_locks_each_upload_and_refuses_what_cannot_lock() {
    let s = Server::ceph();
    locks_each_upload(s);
    refuses_what_cannot_lock(s);
}

#[test]
fn moto_locks_each_upload_and_refuses_what_cannot_lock() {
    let s = Server::moto();
    locks_each_upload(s);
    refuses_what_cannot_lock(s);
}
