//! The restore never leaves half a restore (TheCombine#4371): restore.sh
//! verifies every object whole before it changes anything, stages
//! RESTORE_DIR's new tree and swaps it in only when complete, runs
//! RESTORE_PRECHECK_CMD before anything destructive; `entrypoint.sh
//! verify` is that first pass alone, with its JSON line and metrics.

mod support;

use std::fs;
use std::path::Path;

use support::s3::{Server, script};
use support::*;

/// A files-only backup of `tmp/src/files` (a rich tree) under `prefix`.
fn backed_up(s: &Server, tmp: &Path, prefix: &str) -> Vec<(&'static str, String)> {
    let src = tmp.join("src");
    if !src.exists() {
        rich_tree(&src.join("files"));
    }
    let env = vec![
        ("BACKUP_URL", s.url(prefix)),
        ("BACKUP_NAME", "web".to_string()),
        ("BACKUP_BASE", src.display().to_string()),
        ("BACKUP_PATHS", "files".to_string()),
        ("BACKUP_TS", "2026-11-24-03-15-00".to_string()),
    ];
    let out = script(s, "backup.sh", &env, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    env
}

/// A restore target holding an older tree: `files/` with other content,
/// and `other/keep.txt`, which the backup does not hold.
fn old_target(dir: &Path) {
    fs::create_dir_all(dir.join("files/old")).unwrap();
    fs::write(dir.join("files/old/was-here.txt"), b"before").unwrap();
    fs::create_dir_all(dir.join("other")).unwrap();
    fs::write(dir.join("other/keep.txt"), b"not in the backup").unwrap();
}

/// Commands that leave a mark in `marks` when they start: a route, the
/// database command and the precheck.
fn marking(marks: &Path) -> Vec<(&'static str, String)> {
    fs::create_dir_all(marks).unwrap();
    let m = marks.display();
    vec![
        (
            "RESTORE_ROUTES",
            format!("files/sub=touch {m}/route; cat > /dev/null"),
        ),
        ("DB_RESTORE_CMD", format!("touch {m}/db; cat > /dev/null")),
        ("RESTORE_PRECHECK_CMD", format!("touch {m}/precheck")),
    ]
}

fn with(
    env: &[(&'static str, String)],
    more: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    env.iter().chain(more).cloned().collect()
}

fn marks_in(marks: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(marks)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// How many lines of a metrics text start with `sample`.
fn samples(text: &str, sample: &str) -> usize {
    text.lines().filter(|l| l.starts_with(sample)).count()
}

#[test]
fn a_damaged_backup_changes_nothing_and_a_good_one_is_swapped_in_whole() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let env = backed_up(s, tmp.path(), "restore-swap");
    let archive_url = s.url("restore-swap/web-2026-11-24-03-15-00.files.tar.gz");
    let archive = s.run("s3get", &[&archive_url], b"").stdout;
    let target = tmp.path().join("target");
    old_target(&target);
    let before = snapshot(&target);
    let marks = tmp.path().join("marks");
    let dir = ("RESTORE_DIR", target.display().to_string());

    // A cut archive given by URL (no manifest to pin it): the first pass
    // finds the truncation; no command starts, nothing is emptied.
    let cut_url = s.url("restore-swap/cut/web-2026-11-24-03-15-00.tar.gz");
    let stored = s.run(
        "s3put",
        &["--verify", "none", &cut_url],
        &archive[..archive.len() / 2],
    );
    assert_eq!(code(&stored), 0, "{}", stderr(&stored));
    let cut_env = with(&marking(&marks), std::slice::from_ref(&dir));
    let out = script(s, "restore.sh", &cut_env, &["--clean", &cut_url]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("verifying {cut_url} failed")),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("truncated gzip stream"),
        "{}",
        stderr(&out)
    );
    assert_eq!(marks_in(&marks), Vec::<String>::new());
    assert_eq!(snapshot(&target), before, "the old tree is untouched");

    // RESTORE_VERIFY=skip finds it half-way: the route ran, but the staged
    // tree is dropped and the old one stays whole.
    let skip = with(&cut_env, &[("RESTORE_VERIFY", "skip".to_string())]);
    let out = script(s, "restore.sh", &skip, &["--clean", &cut_url]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("is as it was"), "{}", stderr(&out));
    assert_eq!(snapshot(&target), before, "staging kept the old tree");
    assert!(marks_in(&marks).contains(&"precheck".to_string()));
    for mark in marks_in(&marks) {
        fs::remove_file(marks.join(mark)).unwrap();
    }

    // A precheck that fails: verified, then nothing changed.
    let refused = with(
        &env,
        &[dir.clone(), ("RESTORE_PRECHECK_CMD", "exit 3".to_string())],
    );
    let out = script(s, "restore.sh", &refused, &["latest"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("RESTORE_PRECHECK_CMD failed: nothing was changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&target), before);

    // The good backup: files/ comes back exactly as backed up, replacing
    // the old files/ whole; other/ stays without --clean, goes with it.
    let good = with(&env, std::slice::from_ref(&dir));
    let out = script(s, "restore.sh", &good, &["latest"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_same_tree(&tmp.path().join("src/files"), &target.join("files"));
    assert_eq!(
        fs::read(target.join("other/keep.txt")).unwrap(),
        b"not in the backup"
    );
    let out = script(s, "restore.sh", &good, &["--clean", "latest"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_same_tree(&tmp.path().join("src"), &target);
}

#[test]
fn verify_passes_a_good_backup_and_fails_a_damaged_one_naming_the_object() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let textfile = tmp.path().join("s3pipe.prom");
    let metrics = ("METRICS_TEXTFILE", textfile.display().to_string());
    let env = with(
        &backed_up(s, tmp.path(), "restore-verify"),
        std::slice::from_ref(&metrics),
    );
    // The backup's own run wrote its metrics; a verify run keeps them.
    let backup = script(s, "backup.sh", &env, &[]);
    assert_eq!(code(&backup), 0, "{}", stderr(&backup));

    let out = script(s, "entrypoint.sh", &env, &["verify", "latest"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let line = summary(&out);
    assert_eq!(line["result"], "success");
    assert_eq!(line["timestamp"], "2026-11-24-03-15-00");
    let url = s.url("restore-verify/web-2026-11-24-03-15-00.files.tar.gz");
    assert_eq!(line["objects"][0]["url"], url.as_str());
    assert_eq!(line["objects"][0]["verified"], "crc32c");
    assert_eq!(line["objects"][0]["sha256"].as_str().unwrap().len(), 64);
    let text = fs::read_to_string(&textfile).unwrap();
    for metric in [
        "s3pipe_backup_last_success_timestamp_seconds ",
        "s3pipe_backup_last_verify_success_timestamp_seconds ",
        "s3pipe_backup_last_verify_failed 0",
    ] {
        assert_eq!(samples(&text, metric), 1, "{metric}: {text}");
    }

    // The object replaced by a damaged copy: named, exit 1, marked failed,
    // the last good verify's time kept.
    let mut damaged = s.run("s3get", &[&url], b"").stdout;
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x01;
    assert_eq!(
        code(&s.run("s3put", &["--verify", "none", &url], &damaged)),
        0
    );
    let out = script(s, "entrypoint.sh", &env, &["verify", "latest"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let line = summary(&out);
    assert_eq!(line["result"], "failure");
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .contains(&format!("verifying {url} failed")),
        "{line}"
    );
    let text = fs::read_to_string(&textfile).unwrap();
    assert!(
        text.contains("s3pipe_backup_last_verify_failed 1"),
        "{text}"
    );
    for metric in [
        "s3pipe_backup_last_verify_success_timestamp_seconds ",
        "s3pipe_backup_last_success_timestamp_seconds ",
    ] {
        assert_eq!(samples(&text, metric), 1, "{metric}: {text}");
    }
}

/// The two pins the restore's second pass uses: `--if-match` refuses
/// another object before writing a byte, `--expect-sha256` fails at the
/// end when the bytes differ (and passes when they do not).
#[test]
fn s3get_holds_an_object_to_its_etag_and_its_sha256() {
    use sha2::Digest;
    let s = Server::garage();
    let url = s.url("restore-pins/object");
    let data = random_bytes(3_000_000, 7);
    assert_eq!(code(&s.run("s3put", &[&url], &data)), 0);
    let json = s.run("s3get", &["--json", &url], b"");
    let report: serde_json::Value = serde_json::from_str(stderr(&json).trim()).unwrap();
    let etag = report["etag"].as_str().unwrap().to_string();
    let sha = format!("{:x}", sha2::Sha256::digest(&data));

    let pinned = s.run(
        "s3get",
        &["--if-match", &etag, "--expect-sha256", &sha, &url],
        b"",
    );
    assert_eq!(code(&pinned), 0, "{}", stderr(&pinned));
    assert_eq!(pinned.stdout, data);
    let other = s.run("s3get", &["--if-match", "\"0123\"", &url], b"");
    assert_eq!(code(&other), 1);
    assert!(other.stdout.is_empty());
    assert!(
        stderr(&other).contains(&format!("its ETag is {etag}, not \"0123\" (--if-match)")),
        "{}",
        stderr(&other)
    );
    let wrong = format!("{:x}", sha2::Sha256::digest(b"other"));
    let differs = s.run("s3get", &["--expect-sha256", &wrong, &url], b"");
    assert_eq!(code(&differs), 1);
    assert!(
        stderr(&differs).contains(&format!("is {sha}, not {wrong} (--expect-sha256)")),
        "{}",
        stderr(&differs)
    );
    let usage = s.run("s3get", &["--expect-sha256", "abc", &url], b"");
    assert_eq!(code(&usage), 2, "{}", stderr(&usage));
}

/// A manifest in this release's key order ("url" first) and as earlier
/// releases wrote it (keys sorted, "etag" and "sha256" before "url"): the
/// restore reads each object's pins from both, so a replaced object fails
/// the verify and the backup's own passes.
#[test]
fn a_manifest_pins_its_objects_whatever_the_order_of_its_keys() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let env = backed_up(s, tmp.path(), "restore-order");
    let manifest = s.url("restore-order/web-2026-11-24-03-15-00.manifest.json");
    let url = s.url("restore-order/web-2026-11-24-03-15-00.files.tar.gz");
    let stored = s.run("s3get", &[&manifest], b"").stdout;
    let line: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    // serde_json's Map is a BTreeMap: written back, every key is sorted.
    let sorted = serde_json::to_vec(&line).unwrap();
    assert_ne!(sorted, stored.trim_ascii_end(), "already sorted");
    let good = s.run("s3get", &[&url], b"").stdout;
    let mut other = good.clone();
    other.extend_from_slice(&[0; 512]);
    for written in [&stored, &sorted] {
        assert_eq!(code(&s.run("s3put", &[&manifest], written)), 0);
        assert_eq!(code(&s.run("s3put", &[&url], &good)), 0);
        let out = script(s, "entrypoint.sh", &env, &["verify", "latest"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(code(&s.run("s3put", &[&url], &other)), 0);
        let out = script(s, "entrypoint.sh", &env, &["verify", "latest"]);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("not the object expected"), "{err}");
    }
}
