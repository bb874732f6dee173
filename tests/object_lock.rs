//! S3 Object Lock, against the stores here that have it — Ceph RGW and
//! moto (Garage has none). s3put: both modes, single part and multipart,
//! the legal hold; a locked version cannot be deleted by version id; a
//! bucket without Object Lock is one line and exit 2, with nothing
//! uploaded. Retention: s3prune keeps a backup a lock holds and says
//! until when, and once a (seconds-long) lock has expired removes every
//! version of it, leaving no delete marker; `s3rm --versions`; the job's
//! BACKUP_LOCK_*; a bucket's default retention. What the store recorded
//! is read back with boto3.

mod support;

use std::process::Command;

use support::s3::{Server, script};
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

/// Every version and delete marker under `prefix`: `key version|marker`
/// lines, sorted.
fn versions(s: &Server, prefix: &str) -> Vec<String> {
    let out = py(
        s,
        &format!(
            "r = c.list_object_versions(Bucket='{LOCKED}', Prefix='{prefix}')\n\
             for v in r.get('Versions', []): print(v['Key'], 'version')\n\
             for m in r.get('DeleteMarkers', []): print(m['Key'], 'marker')"
        ),
    );
    let mut lines: Vec<String> = out.lines().map(String::from).collect();
    lines.sort();
    lines
}

fn lurl(key: &str) -> String {
    format!("s3://{LOCKED}/{key}")
}

/// Three backups of one series, each a dump and a manifest: the oldest
/// locked for a day, the middle one for `short` seconds (with a files
/// object deleted by a plain s3rm: a marker over locked data), the
/// newest not at all. Returns when the last of the brief locks ends.
fn three_backups(s: &Server, p: &str, short: u64) -> i64 {
    let day = [
        "--object-lock-mode",
        "GOVERNANCE",
        "--object-lock-retain-for",
        "1d",
    ];
    let secs = format!("{short}s");
    let brief = [
        "--object-lock-mode",
        "COMPLIANCE",
        "--object-lock-retain-for",
        &secs,
    ];
    for (ts, flags) in [
        ("2026-01-01-00-00-00", &day[..]),
        ("2026-01-02-00-00-00", &brief[..]),
        ("2026-01-03-00-00-00", &[][..]),
    ] {
        for suffix in ["db.dump", "manifest.json"] {
            let key = format!("{p}h-{ts}.{suffix}");
            let out = put(s, &key, ts.as_bytes(), flags);
            assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
        }
    }
    let extra = format!("{p}h-2026-01-02-00-00-00.files.tar.gz");
    assert_eq!(code(&put(s, &extra, b"files", &brief)), 0);
    // The brief locks end in the order they were made: the extra's last
    // (a loaded machine puts seconds between them).
    let until = [format!("{p}h-2026-01-02-00-00-00.db.dump"), extra.clone()]
        .iter()
        .map(|key| lock_of(s, key).1)
        .max()
        .unwrap();
    let rm = s.run("s3rm", &[&lurl(&extra)], b"");
    assert_eq!(code(&rm), 0, "{}: {}", s.name, stderr(&rm));
    assert!(
        stderr(&rm).contains("has Object Lock: a delete only adds a delete marker"),
        "{}: {}",
        s.name,
        stderr(&rm)
    );
    until
}

fn prune_keeps_what_is_locked_and_removes_the_rest_for_good(s: &Server) {
    locked_bucket(s);
    let p = "prune/";
    let until = three_backups(s, p, 6);
    let prune = |extra: &[&str]| {
        let mut args = vec!["--keep-last", "1"];
        args.extend(extra);
        let url = lurl(p);
        args.push(&url);
        s.run("s3prune", &args, b"")
    };
    let dry = prune(&["--dry-run"]);
    assert_eq!(code(&dry), 0, "{}: {}", s.name, stderr(&dry));
    let out = String::from_utf8_lossy(&dry.stdout).to_string();
    let old = format!("{p}h-2026-01-01-00-00-00.db.dump  (locked until 2026-");
    assert!(
        out.contains(&format!("(dry run) keep    {old}")),
        "{}: {out}",
        s.name
    );
    assert!(
        out.contains(&format!("{p}h-2026-01-03-00-00-00.db.dump  (last")),
        "{out}"
    );
    assert_eq!(
        versions(s, p).len(),
        8,
        "{}: a dry run deletes nothing",
        s.name
    );

    // Wait out the short lock (the store's own date).
    while chrono::Utc::now().timestamp() <= until + 1 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let real = prune(&[]);
    assert_eq!(code(&real), 0, "{}: {}", s.name, stderr(&real));
    let out = String::from_utf8_lossy(&real.stdout).to_string();
    assert!(
        out.contains(&format!("remove  {p}h-2026-01-02-00-00-00.db.dump\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "remove  {p}h-2026-01-02-00-00-00.files.tar.gz  (deleted earlier"
        )),
        "{out}"
    );
    let left = versions(s, p);
    assert!(
        left.iter().all(|v| !v.contains("2026-01-02")),
        "{}: {left:?}",
        s.name
    );
    assert!(
        left.iter().all(|v| v.ends_with(" version")),
        "no marker: {left:?}"
    );
    assert_eq!(left.len(), 4, "{}: {left:?}", s.name);

    // s3rm --versions: refused whole while locked, for good once not.
    let old = format!("{p}h-2026-01-01-00-00-00.db.dump");
    let held = s.run("s3rm", &["--versions", &lurl(&old)], b"");
    assert_eq!(code(&held), 1, "{}: {}", s.name, stderr(&held));
    assert!(
        stderr(&held).contains("not deleted: locked until 2026-"),
        "{}",
        stderr(&held)
    );
    let new = format!("{p}h-2026-01-03-00-00-00.db.dump");
    let gone = s.run("s3rm", &["--versions", &lurl(&new)], b"");
    assert_eq!(code(&gone), 0, "{}: {}", s.name, stderr(&gone));
    assert!(String::from_utf8_lossy(&gone.stdout).contains("(every version: 1)"));
    let left = versions(s, p);
    assert!(left.iter().any(|v| v.starts_with(&old)), "{left:?}");
    assert!(!left.iter().any(|v| v.starts_with(&new)), "{left:?}");
}

/// backup.sh with BACKUP_LOCK_*: every object locked to one date, the
/// manifest says so, s3ls --backups --json shows it; misconfigured and
/// unlockable runs fail before anything is stored.
fn the_job_locks_every_object(s: &Server) {
    locked_bucket(s);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("files")).unwrap();
    std::fs::write(tmp.path().join("files/a.txt"), b"hello").unwrap();
    let job = |url: String, lock: &[(&'static str, &str)]| {
        let mut env: Vec<(&str, String)> = vec![
            ("BACKUP_URL", url),
            ("BACKUP_NAME", "web".into()),
            ("BACKUP_BASE", tmp.path().display().to_string()),
            ("BACKUP_PATHS", "files".into()),
            ("DB_DUMP_CMD", "echo dump".into()),
            ("BACKUP_TS", "2026-11-24-03-15-00".into()),
        ];
        env.extend(lock.iter().map(|(k, v)| (*k, v.to_string())));
        script(s, "backup.sh", &env, &[])
    };
    let started = chrono::Utc::now().timestamp();
    let lock = [
        ("BACKUP_LOCK_MODE", "GOVERNANCE"),
        ("BACKUP_LOCK_DAYS", "1"),
    ];
    let out = job(lurl("job/"), &lock);
    assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
    let keys = versions(s, "job/");
    assert_eq!(keys.len(), 3, "{keys:?}");
    let mut dates = Vec::new();
    for line in &keys {
        let key = line.split(' ').next().unwrap();
        let (mode, until, _) = lock_of(s, key);
        assert_eq!(mode, "GOVERNANCE", "{}: {key}", s.name);
        assert!((until - (started + 86_400)).abs() < 120, "{key}: {until}");
        dates.push(until);
    }
    dates.dedup();
    assert_eq!(dates.len(), 1, "one date for the whole backup: {dates:?}");
    let until = chrono::DateTime::from_timestamp(dates[0], 0).unwrap();
    let until = until.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let manifest = s.run(
        "s3get",
        &[&lurl("job/web-2026-11-24-03-15-00.manifest.json")],
        b"",
    );
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    assert_eq!(manifest["lock"]["mode"], "GOVERNANCE");
    assert_eq!(manifest["lock"]["retain_until"], until.as_str());
    let ls = s.run("s3ls", &["--backups", "--json", &lurl("job/")], b"");
    assert_eq!(code(&ls), 0, "{}: {}", s.name, stderr(&ls));
    let line: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let rfc = chrono::DateTime::from_timestamp(dates[0], 0)
        .unwrap()
        .to_rfc3339();
    assert_eq!(line["locked_until"], rfc.as_str(), "{line}");
    for o in line["objects"].as_array().unwrap() {
        assert_eq!(o["lock"]["mode"], "GOVERNANCE", "{line}");
        assert_eq!(o["lock"]["legal_hold"], false, "{line}");
    }

    for (env, fragment) in [
        (
            vec![("BACKUP_LOCK_DAYS", "1")],
            "BACKUP_LOCK_MODE must be GOVERNANCE or COMPLIANCE",
        ),
        (
            vec![
                ("BACKUP_LOCK_MODE", "COMPLIANCE"),
                ("BACKUP_LOCK_DAYS", "1.5"),
            ],
            "BACKUP_LOCK_DAYS must be a number of days",
        ),
    ] {
        let out = job(lurl("badjob/"), &env);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains(fragment), "{}", stderr(&out));
    }
    let out = job(s.url("unlockable/"), &lock);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has no Object Lock"),
        "{}",
        stderr(&out)
    );
    assert!(
        s.keys("unlockable/").is_empty(),
        "{}: nothing stored",
        s.name
    );
    assert!(versions(s, "badjob/").is_empty());
}

const DEFAULTED: &str = "s3pipe-default-locked";

/// A bucket whose default retention is GOVERNANCE for a day: uploads
/// without --object-lock-* get it from the store (s3put sends nothing, as
/// the AWS CLI), flags override it, s3prune keeps what it holds and
/// s3ls --backups --json shows what the store holds — also where it
/// holds nothing: moto leaves multipart uploads out of the default (AWS
/// and Ceph RGW do not), and the listing says so rather than the bucket's
/// configuration.
fn default_retention_is_the_stores(s: &Server, multipart_defaulted: bool) {
    py(
        s,
        &format!(
            "try:\n    c.create_bucket(Bucket='{DEFAULTED}', ObjectLockEnabledForBucket=True)\n\
             except c.exceptions.BucketAlreadyOwnedByYou:\n    pass\n\
             c.put_object_lock_configuration(Bucket='{DEFAULTED}', ObjectLockConfiguration=\
             {{'ObjectLockEnabled': 'Enabled', 'Rule': {{'DefaultRetention': {{'Mode': 'GOVERNANCE', 'Days': 1}}}}}})"
        ),
    );
    let url = |key: &str| format!("s3://{DEFAULTED}/{key}");
    let now = chrono::Utc::now().timestamp();
    for (key, data, flags) in [
        ("b/h-2026-01-01-00-00-00.db.dump", vec![1u8], vec![]),
        ("b/h-2026-01-01-00-00-00.manifest.json", vec![2], vec![]),
        (
            "b/h-2026-01-02-00-00-00.db.dump",
            random_bytes(12 << 20, 6),
            vec!["--part-size", "5MiB"],
        ),
        (
            "b/h-2026-01-02-00-00-00.manifest.json",
            vec![3],
            vec![
                "--object-lock-mode",
                "COMPLIANCE",
                "--object-lock-retain-for",
                "2d",
            ],
        ),
    ] {
        let mut args = flags.clone();
        let target = url(key);
        args.push(&target);
        let out = s.run("s3put", &args, &data);
        assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
    }
    let ls = s.run("s3ls", &["--backups", "--json", &url("b/")], b"");
    assert_eq!(code(&ls), 0, "{}: {}", s.name, stderr(&ls));
    let lines: Vec<serde_json::Value> = (String::from_utf8_lossy(&ls.stdout).lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lock = |b: usize, o: usize| lines[b]["objects"][o]["lock"].clone();
    let until = |v: &serde_json::Value| {
        let t = v["retain_until"].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp()
    };
    for o in 0..2 {
        assert_eq!(lock(0, o)["mode"], "GOVERNANCE", "{}: {}", s.name, lines[0]);
        assert!(
            (until(&lock(0, o)) - (now + 86_400)).abs() < 120,
            "{}",
            lines[0]
        );
    }
    assert_eq!(
        lock(1, 1)["mode"],
        "COMPLIANCE",
        "the flags win: {}",
        lines[1]
    );
    assert!(
        (until(&lock(1, 1)) - (now + 2 * 86_400)).abs() < 120,
        "{}",
        lines[1]
    );
    match multipart_defaulted {
        true => assert_eq!(lock(1, 0)["mode"], "GOVERNANCE", "{}", lines[1]),
        false => {
            assert!(lock(1, 0).is_null(), "{}: {}", s.name, lines[1]);
            assert!(lines[1]["locked_until"].is_null(), "{}", lines[1]);
        }
    }
    let dry = s.run(
        "s3prune",
        &["--keep-last", "1", "--dry-run", &url("b/")],
        b"",
    );
    assert_eq!(code(&dry), 0, "{}: {}", s.name, stderr(&dry));
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        out.contains("keep    b/h-2026-01-01-00-00-00.manifest.json  (locked until 20"),
        "{}: {out}",
        s.name
    );
}

/// docs/object-lock.md's commands, as written, against `s` (its bucket
/// name made this store's, `/data` a temp dir): each exits 0, and the
/// archive it uploads is locked as the page says.
fn the_guide_runs(s: &Server) {
    let page = std::fs::read_to_string(root().join("docs/object-lock.md")).unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("a.txt"), b"hello").unwrap();
    let bucket = format!("guide-{}", s.name);
    let commands = sh_commands(&page);
    assert!(commands.len() >= 6, "{commands:?}");
    for line in commands {
        let line = line
            .replace("backups-locked", &bucket)
            .replace("/data", &data.path().display().to_string());
        let mut cmd = Command::new("bash");
        s.env_into(&mut cmd);
        let out = cmd
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .args(["-o", "pipefail", "-c", &line])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}: {line}: {}", s.name, stderr(&out));
        if line.starts_with("s3ls --backups --json") {
            let listing = String::from_utf8_lossy(&out.stdout);
            assert!(listing.contains(r#""mode":"COMPLIANCE""#), "{listing}");
            assert!(listing.contains(r#""locked_until":"20"#), "{listing}");
        }
    }
    let head = py(
        s,
        &format!(
            "h = c.head_object(Bucket='{bucket}', Key='host-2026-12-02-03-15-00.tar.gz')\n\
             print(h['ObjectLockMode'], (h['ObjectLockRetainUntilDate'] - datetime.datetime.now(datetime.timezone.utc)).days)"
        ),
    );
    assert_eq!(head, "COMPLIANCE 29", "{}", s.name);
}

/// Where there is no Object Lock (Garage, s3s-fs): the flags are exit 2
/// with nothing uploaded, and pruning is what it always was — the older
/// backup deleted, no warning.
fn no_lock_no_change(s: &Server) {
    let flags = [
        "--object-lock-mode",
        "GOVERNANCE",
        "--object-lock-retain-for",
        "1d",
    ];
    let url = s.url("nolock/h-2026-01-01-00-00-00.tar.gz");
    let mut args = flags.to_vec();
    args.push(&url);
    let out = s.run("s3put", &args, b"data");
    assert_eq!(code(&out), 2, "{}: {}", s.name, stderr(&out));
    assert!(
        stderr(&out).contains("has no Object Lock"),
        "{}",
        stderr(&out)
    );
    assert!(s.keys("nolock/").is_empty(), "{}", s.name);
    for ts in ["2026-01-01-00-00-00", "2026-01-02-00-00-00"] {
        let key = s.url(&format!("nolock/h-{ts}.tar.gz"));
        assert_eq!(code(&s.run("s3put", &[&key], ts.as_bytes())), 0);
    }
    let prune = s.run("s3prune", &["--keep-last", "1", &s.url("nolock/")], b"");
    assert_eq!(code(&prune), 0, "{}: {}", s.name, stderr(&prune));
    assert_eq!(stderr(&prune), "", "{}", s.name);
    assert_eq!(s.keys("nolock/"), ["nolock/h-2026-01-02-00-00-00.tar.gz"]);
    let rm = s.run(
        "s3rm",
        &[&s.url("nolock/h-2026-01-02-00-00-00.tar.gz")],
        b"",
    );
    assert_eq!((code(&rm), stderr(&rm)), (0, String::new()), "{}", s.name);
}

#[test]
fn garage_and_s3s_fs_have_no_lock_and_prune_as_before() {
    no_lock_no_change(Server::garage());
    no_lock_no_change(Server::s3s_fs());
}

#[test]
fn ceph_runs_the_object_lock_guide() {
    the_guide_runs(Server::ceph());
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

#[test]
fn ceph_prunes_what_no_lock_holds_and_nothing_else() {
    let s = Server::ceph();
    prune_keeps_what_is_locked_and_removes_the_rest_for_good(s);
    the_job_locks_every_object(s);
    default_retention_is_the_stores(s, true);
}

#[test]
fn moto_prunes_what_no_lock_holds_and_nothing_else() {
    let s = Server::moto();
    prune_keeps_what_is_locked_and_removes_the_rest_for_good(s);
    the_job_locks_every_object(s);
    default_retention_is_the_stores(s, false);
}
