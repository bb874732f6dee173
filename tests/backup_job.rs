//! The backup job end to end: a real PostgreSQL database and a file tree,
//! backed up by scripts/backup.sh to Garage, dropped, and restored by
//! scripts/restore.sh; a dump that dies halfway leaves nothing behind.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use support::postgres::Postgres;
use support::s3::{Server, script};
use support::*;

fn table_digest(pg: &Postgres) -> String {
    use sha2::Digest;
    let rows = pg.sql("app", "copy (select * from t order by id) to stdout");
    assert!(rows.len() > 3_000_000, "a few MB of rows: {}", rows.len());
    format!("{:x}", sha2::Sha256::digest(rows))
}

/// Database `app` with a table of a few MB (bytea and unicode text); its
/// digest.
fn app_database(pg: &Postgres) -> String {
    pg.sql("postgres", "create database app");
    pg.sql(
        "app",
        "create table t (id int primary key, name text, data bytea); \
         insert into t select i, 'ünïcødé ✓ ' || i || ' ' || repeat(md5(i::text), 10), \
         decode(repeat(md5((i * 7)::text), 20), 'hex') from generate_series(1, 5000) i",
    );
    table_digest(pg)
}

#[test]
fn postgres_and_files_round_trip_and_a_dying_dump_leaves_nothing() {
    let s = Server::garage();
    let pg = Postgres::start();
    let before = app_database(&pg);
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("src/files")).unwrap();
    rich_tree(&tmp.path().join("src/files"));

    let base_env = |ts: &str, dump: String| {
        vec![
            ("BACKUP_URL", s.url("job")),
            ("BACKUP_NAME", "db1".to_string()),
            ("BACKUP_BASE", tmp.path().join("src").display().to_string()),
            ("BACKUP_PATHS", "files".to_string()),
            ("DB_DUMP_CMD", dump),
            ("BACKUP_TS", ts.to_string()),
        ]
    };
    let dump = format!("pg_dump -Fc {} app", pg.conn());
    let ok = script(
        s,
        "backup.sh",
        &base_env("2026-11-23-03-15-00", dump.clone()),
        &[],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stderr(&ok).contains("complete: "), "{}", stderr(&ok));
    let mut stored = s.keys("job/");
    stored.sort();
    assert_eq!(
        stored,
        [
            "db1-2026-11-23-03-15-00.db.dump",
            "db1-2026-11-23-03-15-00.files.tar.gz",
            "db1-2026-11-23-03-15-00.manifest.json"
        ]
        .map(|k| format!("job/{k}"))
    );
    let manifest = s.run(
        "s3get",
        &[&s.url("job/db1-2026-11-23-03-15-00.manifest.json")],
        b"",
    );
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    assert_eq!(manifest["objects"].as_array().unwrap().len(), 2);
    assert_eq!(manifest["objects"][0]["sha256"].as_str().unwrap().len(), 64);

    // The dump dies halfway (its real output cut, then SIGKILL).
    let dying = format!("{dump} | head -c 100000; kill -9 $$");
    let failed = script(s, "backup.sh", &base_env("2026-11-24-03-15-00", dying), &[]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert!(stderr(&failed).contains("FAILED: "), "{}", stderr(&failed));
    // An incomplete newer object (no manifest) is not "the latest".
    assert_eq!(
        code(&s.run(
            "s3put",
            &[&s.url("job/db1-2026-11-25-03-15-00.db.dump")],
            b"partial"
        )),
        0
    );
    let latest = s.run("s3ls", &["--latest", &s.url("job/db1-")], b"");
    assert_eq!(
        String::from_utf8_lossy(&latest.stdout).trim(),
        "job/db1-2026-11-23-03-15-00.manifest.json"
    );
    assert_eq!(
        code(&s.run(
            "s3rm",
            &[&s.url("job/db1-2026-11-25-03-15-00.db.dump")],
            b""
        )),
        0
    );
    assert!(
        s.keys("job/").iter().all(|k| !k.contains("2026-11-24")),
        "nothing of the failed run is left: {:?}",
        s.keys("job/")
    );

    // Lose everything, then restore the latest complete backup.
    pg.sql("postgres", "drop database app");
    let restore_dir = tmp.path().join("restore");
    let env = vec![
        ("BACKUP_URL", s.url("job")),
        ("BACKUP_NAME", "db1".to_string()),
        ("RESTORE_DIR", restore_dir.display().to_string()),
        (
            "DB_RESTORE_CMD",
            format!("pg_restore {} --create -d postgres", pg.conn()),
        ),
    ];
    let restored = script(s, "restore.sh", &env, &["latest"]);
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert!(
        stderr(&restored).contains("restoring s3://s3pipe-test/job/db1-2026-11-23-03-15-00"),
        "{}",
        stderr(&restored)
    );
    assert_eq!(table_digest(&pg), before, "table contents identical");
    assert_same_tree(&tmp.path().join("src/files"), &restore_dir.join("files"));

    // A backup object replaced by a cut copy: the restore's first pass
    // finds it is not the object the manifest recorded, and nothing is
    // restored.
    let files_key = s.url("job/db1-2026-11-23-03-15-00.files.tar.gz");
    let mut cut = s.run("s3get", &[&files_key], b"").stdout;
    cut.truncate(cut.len() / 2);
    assert_eq!(
        code(&s.run("s3put", &[&files_key, "--verify", "none"], &cut)),
        0
    );
    let again = tmp.path().join("again");
    let broken = script(
        s,
        "restore.sh",
        &[
            env[0].clone(),
            env[1].clone(),
            ("RESTORE_DIR", again.display().to_string()),
            env[3].clone(),
        ],
        &[],
    );
    assert_eq!(broken.status.code(), Some(1));
    for fragment in [
        format!("verifying {files_key} failed"),
        "(--if-match): it is not the object expected".to_string(),
    ] {
        assert!(stderr(&broken).contains(&fragment), "{}", stderr(&broken));
    }
    assert!(!again.exists(), "nothing restored");
}

/// A small files-only job config under `prefix`.
fn files_job(s: &Server, tmp: &Path, prefix: &str, ts: &str) -> Vec<(&'static str, String)> {
    fs::create_dir_all(tmp.join("src/files")).unwrap();
    // Written once: a second config for the same tree must not touch its
    // mtime (a restore compares it with the backup's, to the second).
    let file = tmp.join("src/files/a.txt");
    if !file.exists() {
        fs::write(file, b"hello").unwrap();
    }
    vec![
        ("BACKUP_URL", s.url(prefix)),
        ("BACKUP_NAME", "web".to_string()),
        ("BACKUP_BASE", tmp.join("src").display().to_string()),
        ("BACKUP_PATHS", "files".to_string()),
        ("BACKUP_TS", ts.to_string()),
    ]
}

#[test]
fn unreachable_s3_fails_with_a_clear_line() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let mut env = files_job(s, tmp.path(), "unreachable", "2026-11-24-03-15-00");
    env.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:1".to_string()));
    env.push(("AWS_MAX_ATTEMPTS", "1".to_string()));
    let out = script(s, "backup.sh", &env, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("endpoint unreachable (http://127.0.0.1:1)"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("FAILED: "), "{}", stderr(&out));
}

#[test]
fn entrypoint_subcommands() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let env = files_job(s, tmp.path(), "entry", "2026-11-20-03-15-00");
    let backup = script(s, "entrypoint.sh", &env, &["backup"]);
    assert!(backup.status.success(), "{}", stderr(&backup));
    let list = script(s, "entrypoint.sh", &env, &["list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        format!(
            "2026-11-20-03-15-00\t{}\t.files.tar.gz .manifest.json\n",
            s.url("entry/web-2026-11-20-03-15-00")
        )
    );
    let json = s.run("s3ls", &["--backups", "--json", &s.url("entry/web-")], b"");
    assert_eq!(code(&json), 0, "{}", stderr(&json));
    let line: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(line["name"], "entry/web-2026-11-20-03-15-00");
    assert_eq!(line["timestamp"], "2026-11-20-03-15-00");
    assert_eq!(line["time"], "2026-11-20T03:15:00+00:00");
    let keys: Vec<&str> = line["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "entry/web-2026-11-20-03-15-00.files.tar.gz",
            "entry/web-2026-11-20-03-15-00.manifest.json"
        ]
    );
    let none = s.run("s3ls", &["--backups", &s.url("entry/nothing-")], b"");
    assert_eq!(code(&none), 1);
    assert!(
        stderr(&none).contains("no complete backup (one with a manifest) under"),
        "{}",
        stderr(&none)
    );
    assert_eq!(
        script(s, "entrypoint.sh", &env, &["frobnicate"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(script(s, "entrypoint.sh", &env, &[]).status.code(), Some(2));
    let no_policy = script(s, "entrypoint.sh", &env, &["prune"]);
    assert_eq!(no_policy.status.code(), Some(2), "{}", stderr(&no_policy));
    let mut keep = env.clone();
    keep.push(("KEEP_LAST", "1".to_string()));
    assert!(
        script(s, "entrypoint.sh", &keep, &["prune"])
            .status
            .success()
    );
    let cleanup = script(s, "entrypoint.sh", &env, &["cleanup-uploads"]);
    assert!(cleanup.status.success(), "{}", stderr(&cleanup));
    let mut restore = env.clone();
    restore.push(("RESTORE_DIR", tmp.path().join("out").display().to_string()));
    assert!(
        script(s, "entrypoint.sh", &restore, &["restore", "latest"])
            .status
            .success()
    );
    assert_eq!(
        fs::read(tmp.path().join("out/files/a.txt")).unwrap(),
        b"hello"
    );
}

/// Zero scratch disk: under strace, a whole backup (a real pg_dump and a
/// file tree) creates, renames or links no file anywhere but /dev.
#[test]
fn a_backup_writes_no_scratch_file() {
    let s = Server::garage();
    let pg = Postgres::start();
    pg.sql("postgres", "create database app");
    pg.sql(
        "app",
        "create table t as select i, repeat(md5(i::text), 30) as v from generate_series(1, 3000) i",
    );
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("src/files")).unwrap();
    rich_tree(&tmp.path().join("src/files"));
    let trace = tmp.path().join("trace");
    let mut env = files_job(s, tmp.path(), "strace", "2026-11-24-03-15-00");
    env.push(("DB_DUMP_CMD", format!("pg_dump -Fc {} app", pg.conn())));
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o", trace.to_str().unwrap()])
        .args(["-e", "trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat"])
        .arg("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/backup.sh"));
    s.env_into(&mut cmd);
    cmd.env(
        "PATH",
        format!("{}:/usr/lib/postgresql/15/bin", path_with_bins()),
    );
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let trace = fs::read_to_string(&trace).unwrap();
    let created: Vec<&str> = trace
        .lines()
        .filter(|l| {
            let call = l.split_whitespace().nth(1).unwrap_or("");
            let creates = (call.starts_with("open")
                && (l.contains("O_CREAT") || l.contains("O_TMPFILE")))
                || ["creat(", "mkdir", "rename", "link(", "linkat(", "symlink"]
                    .iter()
                    .any(|c| call.starts_with(c));
            let succeeded = l.rsplit(" = ").next().is_some_and(|r| !r.starts_with('-'));
            creates && succeeded && !l.contains("\"/dev/")
        })
        .collect();
    assert!(trace.lines().count() > 100, "strace saw the run");
    assert!(
        created.is_empty(),
        "files created during the backup: {created:#?}"
    );
}

/// BACKUP_MODE=single: one archive with dump/ beside the files, the dump's
/// tar stream spliced in through a pipe; restored by unpack. A cut dump
/// stream fails the run and leaves nothing.
#[test]
fn single_archive_mode() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let dump_dir = tmp.path().join("dumpsrc");
    fs::create_dir_all(&dump_dir).unwrap();
    fs::write(dump_dir.join("app.bson"), random_bytes(300_000, 8)).unwrap();
    fs::write(dump_dir.join("app.metadata.json"), b"{\"indexes\":[]}").unwrap();
    let mut env = files_job(s, tmp.path(), "single", "2026-11-22-03-15-00");
    env.push(("BACKUP_MODE", "single".to_string()));
    env.push((
        "DB_DUMP_CMD",
        format!("tar -C {} -cf - .", dump_dir.display()),
    ));
    let out = script(s, "backup.sh", &env, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut stored = s.keys("single/");
    stored.sort();
    assert_eq!(
        stored,
        [
            "single/web-2026-11-22-03-15-00.manifest.json",
            "single/web-2026-11-22-03-15-00.tar.gz"
        ]
    );

    let mut cut = files_job(s, tmp.path(), "single", "2026-11-23-03-15-00");
    cut.push(("BACKUP_MODE", "single".to_string()));
    cut.push((
        "DB_DUMP_CMD",
        format!("tar -C {} -cf - . | head -c 5000", dump_dir.display()),
    ));
    let failed = script(s, "backup.sh", &cut, &[]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert!(
        stderr(&failed).contains("input ended early"),
        "{}",
        stderr(&failed)
    );
    assert_eq!(s.keys("single/").len(), 2, "nothing of the failed run");

    let restore_dir = tmp.path().join("restore");
    let mut restore = env.clone();
    restore.push(("RESTORE_DIR", restore_dir.display().to_string()));
    let out = script(s, "restore.sh", &restore, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same_tree(&dump_dir, &restore_dir.join("dump"));
    assert_same_tree(&tmp.path().join("src/files"), &restore_dir.join("files"));
}

#[test]
fn encrypted_backups_restore_with_the_identity_and_prune_like_any_other() {
    let s = Server::garage();
    let pg = Postgres::start();
    let before = app_database(&pg);
    let tmp = tempfile::tempdir().unwrap();
    let (ops, ops_pub) = (
        tmp.path().join("ops.key"),
        age_keygen(&tmp.path().join("ops.key")),
    );
    let spare_pub = age_keygen(&tmp.path().join("spare.key"));
    fs::create_dir_all(tmp.path().join("src/files")).unwrap();
    rich_tree(&tmp.path().join("src/files"));
    let job = |ts: &str| {
        vec![
            ("BACKUP_URL", s.url("crypt")),
            ("BACKUP_NAME", "app".to_string()),
            ("BACKUP_BASE", tmp.path().join("src").display().to_string()),
            ("BACKUP_PATHS", "files".to_string()),
            ("DB_DUMP_CMD", format!("pg_dump -Fc {} app", pg.conn())),
            ("BACKUP_TS", ts.to_string()),
            // Only public keys: the backup job never holds a secret.
            (
                "BACKUP_RECIPIENTS",
                format!("# ops\n{ops_pub}\n  {spare_pub}\n"),
            ),
        ]
    };
    for ts in ["2026-11-23-03-15-00", "2026-11-24-03-15-00"] {
        let out = script(s, "backup.sh", &job(ts), &[]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let manifest_url = s.url("crypt/app-2026-11-24-03-15-00.manifest.json");
    let manifest = s.run("s3get", &[&manifest_url], b"");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    for object in manifest["objects"].as_array().unwrap() {
        assert_eq!(object["encryption"], "age", "{object}");
        assert_eq!(
            object["recipients"],
            serde_json::json!([ops_pub, spare_pub])
        );
        let raw = s.run(
            "s3get",
            &[object["url"].as_str().unwrap(), "--no-decrypt"],
            b"",
        );
        assert!(
            raw.stdout.starts_with(b"age-encryption.org/v1\n"),
            "{object}"
        );
    }
    assert!(!manifest.to_string().contains("AGE-SECRET-KEY"));

    // Listed and pruned like any other backup.
    let listed = s.run("s3ls", &["--backups", &s.url("crypt/app-")], b"");
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 2);
    let pruned = s.run("s3prune", &["--keep-last", "1", &s.url("crypt/app-")], b"");
    assert_eq!(code(&pruned), 0, "{}", stderr(&pruned));
    assert!(
        s.keys("crypt/").iter().all(|k| k.contains("2026-11-24")),
        "{:?}",
        s.keys("crypt/")
    );

    // Restore: without the identity it says what is missing; with it,
    // everything comes back.
    pg.sql("postgres", "drop database app");
    let restore = |dir: &str, identity: Option<&Path>| {
        let mut env = vec![
            ("BACKUP_URL", s.url("crypt")),
            ("BACKUP_NAME", "app".to_string()),
            ("RESTORE_DIR", tmp.path().join(dir).display().to_string()),
            (
                "DB_RESTORE_CMD",
                format!("pg_restore {} --create -d postgres", pg.conn()),
            ),
        ];
        if let Some(identity) = identity {
            env.push(("RESTORE_IDENTITY_FILE", identity.display().to_string()));
        }
        script(s, "restore.sh", &env, &["latest"])
    };
    let refused = restore("refused", None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("is encrypted with age"),
        "{}",
        stderr(&refused)
    );
    let restored = restore("restored", Some(&ops));
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert_eq!(table_digest(&pg), before, "table contents identical");
    assert_same_tree(
        &tmp.path().join("src/files"),
        &tmp.path().join("restored/files"),
    );
}

/// A stream that stalls (TheCombine#4322's `kubectl cp`) fails the run
/// within BACKUP_IDLE_TIMEOUT: pack names it, its process group is
/// killed, nothing of the run is left in the bucket.
#[test]
fn a_stalled_stream_fails_the_backup_within_its_idle_timeout() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let mut env = files_job(s, tmp.path(), "stalled", "2026-11-24-03-15-00");
    let dir = tmp.path().join("src/files").display().to_string();
    let stream = format!("sh -c 'tar cf - -C {dir} .; sleep 604'");
    env.push(("BACKUP_STREAMS", format!("extra={stream}")));
    env.push(("BACKUP_IDLE_TIMEOUT", "1s".to_string()));
    let out = script(s, "backup.sh", &env, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let want =
        format!("`{stream}` wrote nothing on stdout or stderr for 1s (--idle-timeout): killed it");
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["result"], "failure", "{summary}");
    assert!(s.keys("stalled/").is_empty(), "{:?}", s.keys("stalled/"));
    assert_eq!(s.uploads("stalled/"), 0);
    let still = std::process::Command::new("pgrep")
        .args(["-f", "sleep 604"])
        .output()
        .unwrap();
    assert!(!still.status.success(), "the stalled stream lives on");

    for (name, value, why) in [
        (
            "BACKUP_IDLE_TIMEOUT",
            "soon",
            "BACKUP_IDLE_TIMEOUT must be a duration (90s, 10m, 1h) or off, not soon",
        ),
        (
            "BACKUP_IDLE_TIMEOUT",
            "0",
            "BACKUP_IDLE_TIMEOUT must be a duration (90s, 10m, 1h) or off, not 0",
        ),
        (
            "BACKUP_TS",
            "yesterday",
            "BACKUP_TS must be YYYY-MM-DD-HH-MM-SS, not yesterday",
        ),
    ] {
        let mut bad = files_job(s, tmp.path(), "stalled", "2026-11-24-03-15-00");
        bad.retain(|(k, _)| *k != name);
        bad.push((name, value.to_string()));
        let out = script(s, "backup.sh", &bad, &[]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name}={value}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    }
    assert!(s.keys("stalled/").is_empty());
}

/// The defects a review found in the scripts, each pinned: a prune that
/// fails after a stored backup reports once (it reported twice), the
/// manifest's name is JSON-escaped, and the entrypoint's subcommands
/// without BACKUP_URL exit 2 with a timestamped line (was 1, bare).
#[test]
fn the_scripts_report_once_escape_names_and_exit_2_when_misconfigured() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let mut env = files_job(s, tmp.path(), "defects", "2026-11-24-03-15-00");
    env.retain(|(k, _)| *k != "BACKUP_NAME");
    env.push(("BACKUP_NAME", "we\"b".to_string()));
    env.push(("KEEP_LAST", "many".to_string()));
    let out = script(s, "backup.sh", &env, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 1, "one summary line: {lines:?}");
    let summary: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        (summary["result"].as_str(), summary["error"].as_str()),
        (Some("failure"), Some("pruning failed"))
    );
    let manifest_url = s.url("defects/we\"b-2026-11-24-03-15-00.manifest.json");
    let manifest = s.run("s3get", &[&manifest_url], b"");
    assert_eq!(code(&manifest), 0, "{}", stderr(&manifest));
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    assert_eq!(manifest["name"], "we\"b");

    let mut bare = files_job(s, tmp.path(), "defects", "2026-11-24-03-15-00");
    bare.retain(|(k, _)| *k != "BACKUP_URL");
    for sub in ["list", "prune", "cleanup-uploads"] {
        let out = script(s, "entrypoint.sh", &bare, &[sub]);
        assert_eq!(out.status.code(), Some(2), "{sub}: {}", stderr(&out));
        let line = stderr(&out);
        assert!(
            line.ends_with(&format!(" entrypoint: {sub}: set BACKUP_URL\n")),
            "{line}"
        );
        assert!(line.starts_with("20"), "timestamped: {line}");
    }
}

/// BACKUP_RETRIES: a run that fails (and cleans up) is tried again, with a
/// log line each time; the third attempt succeeds. With too few retries
/// the run fails, and leaves nothing; a misconfiguration is not retried.
#[test]
fn entrypoint_retries_a_failed_backup() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let counter = tmp.path().join("attempts");
    // Fails on its first two runs, after writing part of a dump.
    let dump = format!(
        "n=$(cat {c} 2>/dev/null || echo 0); echo $((n + 1)) > {c}; echo partial; [ $n -ge 2 ]",
        c = counter.display()
    );
    let env = |prefix: &str, retries: &str| {
        vec![
            ("BACKUP_URL", s.url(prefix)),
            ("BACKUP_NAME", "db".to_string()),
            ("DB_DUMP_CMD", dump.clone()),
            ("BACKUP_RETRIES", retries.to_string()),
            ("BACKUP_RETRY_DELAY", "0".to_string()),
        ]
    };
    let out = script(s, "entrypoint.sh", &env("retry-ok", "2"), &["backup"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for line in ["attempt 1 of 3 failed", "attempt 2 of 3 failed"] {
        assert!(stderr(&out).contains(line), "{}", stderr(&out));
    }
    let results: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["result"].to_string())
        .collect();
    assert_eq!(results, ["\"failure\"", "\"failure\"", "\"success\""]);
    assert_eq!(s.keys("retry-ok/").len(), 2, "one dump and its manifest");

    fs::remove_file(&counter).unwrap();
    let out = script(s, "entrypoint.sh", &env("retry-fail", "1"), &["backup"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(&counter).unwrap().trim(),
        "2",
        "two attempts"
    );
    assert!(s.keys("retry-fail/").is_empty());
    let bad = script(s, "entrypoint.sh", &env("retry-fail", "x"), &["backup"]);
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
    let mut unnamed = env("retry-fail", "3");
    unnamed.retain(|(k, _)| *k != "BACKUP_NAME");
    let misconfigured = script(s, "entrypoint.sh", &unnamed, &["backup"]);
    assert_eq!(code(&misconfigured), 2, "{}", stderr(&misconfigured));
    assert!(!stderr(&misconfigured).contains("trying again"));
}
