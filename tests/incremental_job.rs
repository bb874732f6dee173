//! The job with BACKUP_INCREMENTAL=on against Garage: a full backup and
//! incrementals night after night, each night's state restored by
//! restore.sh (the chain, verified first) and by GNU tar from the stored
//! objects; s3ls shows level and base; s3prune keeps every chain it needs.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use support::s3::{Server, script};
use support::*;

const NIGHTS: [&str; 5] = [
    "2026-12-01-03-00-00",
    "2026-12-02-03-00-00",
    "2026-12-03-03-00-00",
    "2026-12-04-03-00-00",
    "2026-12-05-03-00-00",
];

struct Job<'a> {
    s: &'a Server,
    src: std::path::PathBuf,
    prefix: &'a str,
}

impl Job<'_> {
    fn env(&self, extra: &[(&str, String)]) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("BACKUP_URL", self.s.url(self.prefix)),
            ("BACKUP_NAME", "media".to_string()),
            ("BACKUP_BASE", self.src.display().to_string()),
            ("BACKUP_PATHS", "files".to_string()),
            ("BACKUP_INCREMENTAL", "on".to_string()),
            ("BACKUP_FULL_EVERY", "3".to_string()),
        ];
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            env.push((leak(k), v.clone()));
        }
        env
    }

    fn backup(&self, ts: &str) -> Output {
        let out = script(
            self.s,
            "backup.sh",
            &self.env(&[("BACKUP_TS", ts.into())]),
            &[],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        out
    }

    fn restore(&self, which: &str, into: &Path) -> Output {
        let env = self.env(&[("RESTORE_DIR", into.display().to_string())]);
        script(self.s, "restore.sh", &env, &[which])
    }

    fn manifest(&self, ts: &str) -> serde_json::Value {
        let url = self
            .s
            .url(&format!("{}/media-{ts}.manifest.json", self.prefix));
        let out = self.s.run("s3get", &[&url], b"");
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// (key, size) of every object under `prefix`; none when there is none.
fn listed(s: &Server, prefix: &str) -> Vec<(String, u64)> {
    let out = s.run("s3ls", &["--recursive", "--json", &s.url(prefix)], b"");
    (String::from_utf8_lossy(&out.stdout).lines())
        .map(|l| {
            let j: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                j["key"].as_str().unwrap().to_string(),
                j["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A shell command with the server's environment and our tools.
fn sh_with(s: &Server, script: &str) -> Output {
    let mut cmd = std::process::Command::new("bash");
    s.env_into(&mut cmd);
    cmd.args(["-o", "pipefail", "-c", script]);
    cmd.output().unwrap()
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// Night `n`'s changes to the media tree: a file grows, one is deleted,
/// one added; on night 3 a whole directory goes.
fn night(files: &Path, n: usize) {
    fs::write(
        files.join(format!("added-{n}.bin")),
        random_bytes(40_000, n as u64),
    )
    .unwrap();
    match n {
        1 => fs::remove_file(files.join("empty-file")).unwrap(),
        2 => fs::write(files.join("dir/small.txt"), b"changed on night 2\n").unwrap(),
        3 => fs::remove_dir_all(files.join("dir/sub/deeper")).unwrap(),
        _ => fs::remove_file(files.join("added-1.bin")).unwrap(),
    }
}

#[test]
fn nightly_incrementals_restore_every_night_and_prune_keeps_the_chains() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    rich_tree(&src.join("files"));
    after_last_change(&src);
    let job = Job {
        s,
        src: src.clone(),
        prefix: "incr",
    };
    // Each night's tree, as it was backed up.
    let mut states = Vec::new();
    for (n, ts) in NIGHTS.iter().enumerate() {
        if n > 0 {
            night(&src.join("files"), n);
        }
        job.backup(ts);
        let state = tmp.path().join(format!("state-{n}"));
        assert_eq!(
            code(&sh(&format!("cp -a {} {}", src.display(), state.display()))),
            0
        );
        states.push(state);
    }
    // BACKUP_FULL_EVERY=3: a full, two incrementals, a full, one.
    let levels: Vec<(u64, Option<String>)> = (NIGHTS.iter())
        .map(|ts| {
            let m = job.manifest(ts);
            (
                m["level"].as_u64().unwrap(),
                m["base"].as_str().map(String::from),
            )
        })
        .collect();
    let base = |i: usize| Some(NIGHTS[i].to_string());
    assert_eq!(
        levels,
        [
            (0, None),
            (1, base(0)),
            (2, base(1)),
            (0, None),
            (1, base(3))
        ]
    );
    // An incremental night sends what changed, not the tree: the full
    // night's archive holds the 3 MiB file, the next one does not.
    let size = |ts: &str| {
        let key = format!("incr/media-{ts}.files.tar.gz");
        listed(s, "incr/")
            .into_iter()
            .find(|(k, _)| *k == key)
            .unwrap()
            .1
    };
    assert!(
        size(NIGHTS[1]) * 4 < size(NIGHTS[0]),
        "{} vs {}",
        size(NIGHTS[1]),
        size(NIGHTS[0])
    );

    // s3ls --backups: level and base at the end of each incremental line.
    let ls = s.run("s3ls", &["--backups", &s.url("incr/media-")], b"");
    let lines: Vec<String> = String::from_utf8_lossy(&ls.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert!(
        lines[2].ends_with(&format!("\t2\t{}", NIGHTS[1])),
        "{:?}",
        lines[2]
    );
    assert!(lines[3].ends_with("\t0\t"), "{:?}", lines[3]);

    // restore.sh: each night as it was, the chain verified first.
    for n in [2, 4, 0] {
        let into = tmp.path().join(format!("restored-{n}"));
        let out = job.restore(NIGHTS[n], &into);
        assert!(
            out.status.success(),
            "night {n}: {} {}",
            stderr(&out),
            String::from_utf8_lossy(&out.stdout)
        );
        assert_same_tree(&states[n].join("files"), &into.join("files"));
    }
    let out = job.restore("latest", &tmp.path().join("restored-latest"));
    assert!(
        stderr(&out).contains("restoring a chain of 2 backups"),
        "{}",
        stderr(&out)
    );

    // GNU tar restores the same chain from the stored objects.
    let gnu = tmp.path().join("gnu");
    fs::create_dir(&gnu).unwrap();
    for ts in &NIGHTS[..3] {
        let url = s.url(&format!("incr/media-{ts}.files.tar.gz"));
        let cmd = format!("s3get {url} | tar -xz -G -f - -C {}", gnu.display());
        let out = sh_with(s, &cmd);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    assert_same_tree(&states[2].join("files"), &gnu.join("files"));

    // Retention: --keep-last 1 keeps night 5 and its base, night 4; the
    // first chain goes whole. --keep-daily 4 (nights 2–5) keeps night 1 as
    // the base of night 2.
    let prune = |keep: &[&str]| {
        let mut args = keep.to_vec();
        let url = s.url("incr/media-");
        args.extend(["--dry-run", url.as_str()]);
        let out = s.run("s3prune", &args, b"");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).replace("(dry run) ", "")
    };
    let plan = prune(&["--keep-last", "1"]);
    let manifest_line = |ts: &str| {
        plan.lines()
            .find(|l| l.contains(&format!("media-{ts}.manifest.json")))
            .unwrap()
            .to_string()
    };
    assert!(manifest_line(NIGHTS[3]).contains("(base of "), "{plan}");
    assert!(manifest_line(NIGHTS[3]).starts_with("keep"), "{plan}");
    for ts in &NIGHTS[..3] {
        assert!(manifest_line(ts).starts_with("remove"), "{plan}");
    }
    let plan = prune(&["--keep-daily", "4"]);
    let first = plan
        .lines()
        .find(|l| l.contains(&format!("media-{}.files", NIGHTS[0])))
        .unwrap();
    assert!(
        first.starts_with("keep") && first.contains(&format!("base of incr/media-{}", NIGHTS[1])),
        "{plan}"
    );
    // And for real: what stays restores the newest night.
    let url = s.url("incr/media-");
    let out = s.run("s3prune", &["--keep-last", "1", &url], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let into = tmp.path().join("after-prune");
    let out = job.restore("latest", &into);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same_tree(&states[4].join("files"), &into.join("files"));

    // A chain whose base is gone (deleted by hand) is refused, unchanged.
    let gone = s.url(&format!("incr/media-{}.manifest.json", NIGHTS[3]));
    assert_eq!(code(&s.run("s3rm", &["-q", &gone], b"")), 0);
    let out = job.restore("latest", &into);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let why = format!(
        "is an incremental backup on {}, which is not under",
        NIGHTS[3]
    );
    assert!(stderr(&out).contains(&why), "{}", stderr(&out));
    assert_same_tree(&states[4].join("files"), &into.join("files"));
}

#[test]
fn incremental_settings_that_cannot_work_are_refused() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let job = Job {
        s,
        src: tmp.path().to_path_buf(),
        prefix: "incr-bad",
    };
    for (extra, why) in [
        (vec![("BACKUP_MODE", "single")], "needs BACKUP_MODE=split"),
        (
            vec![("BACKUP_FULL_EVERY", "weekly")],
            "BACKUP_FULL_EVERY must be",
        ),
        (
            vec![("BACKUP_PATHS", ""), ("DB_DUMP_CMD", "echo x")],
            "needs BACKUP_PATHS",
        ),
        (
            vec![("BACKUP_INCREMENTAL", "yes")],
            "BACKUP_INCREMENTAL must be on or off",
        ),
    ] {
        let extra: Vec<(&str, String)> = extra.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let out = script(s, "backup.sh", &job.env(&extra), &[]);
        assert_eq!(code(&out), 2, "{why}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
    }
    assert!(listed(s, "incr-bad/").is_empty());
}
