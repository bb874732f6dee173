//! The Combine's job, expressed with s3pipe's scripts and env alone: the
//! data lives in other "pods" (commands that see it in their own mount
//! namespace or directory), a real PostgreSQL stands for MongoDB (dumped
//! to a directory in its pod, as `mongodump --out /dump` does, then tarred
//! out), one archive in their layout (`dump/…` beside `.CombineFiles/…`,
//! key `thecombine-app-TS.tar.gz`), restored through routes into both
//! places and the database; their existing archives (Python tarfile, no
//! manifest) restore by URL; a producer that fails after a whole stream
//! leaves nothing; the summary line and the Pushgateway's metrics.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};

use support::postgres::Postgres;
use support::s3::{Server, script};
use support::*;

fn rows(pg: &Postgres) -> Vec<u8> {
    pg.sql(
        "app",
        "select count(*), md5(string_agg(v, ',' order by i)) from t",
    )
}

/// Their layout: dump/ and .CombineFiles/ at the top of the archive,
/// nothing else.
fn assert_their_layout(archive: &[u8]) {
    let listing = run(bin("unpack"), &["-t"], archive);
    let tops: std::collections::BTreeSet<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(|l| l.split('/').next().unwrap().to_string())
        .collect();
    let want = [".CombineFiles", "dump"].map(String::from);
    assert_eq!(tops, std::collections::BTreeSet::from(want));
}

/// A PostgreSQL with database `app`: a table of `n` rows (unicode text),
/// standing for their MongoDB; and its digest ([`rows`]).
fn app_database(n: u32) -> (Postgres, Vec<u8>) {
    let pg = Postgres::start();
    pg.sql("postgres", "create database app");
    pg.sql(
        "app",
        &format!(
            "create table t as select i, md5(i::text) || ' ✓' as v from generate_series(1, {n}) i"
        ),
    );
    let before = rows(&pg);
    (pg, before)
}

/// The backend pod: its files are visible only inside its own mount
/// namespace, at /mnt, as `kubectl exec deploy/backend` sees them.
fn backend_pod(files: &Path, command: &str) -> String {
    format!(
        "unshare --mount --propagation private sh -c 'mount --bind {} /mnt && {command}'",
        files.display()
    )
}

#[test]
fn their_job_and_restore_with_sources_in_other_pods() {
    let s = Server::garage();
    let (pg, before) = app_database(30000);
    let tmp = tempfile::tempdir().unwrap();
    let files = tmp.path().join("backend/.CombineFiles");
    fs::create_dir_all(files.join("lost+found")).unwrap();
    rich_tree(&files.join("proj1"));
    // The database pod's own disk, where its dump is written and tarred.
    let db_pod = tmp.path().join("database-pod");
    fs::create_dir_all(&db_pod).unwrap();
    let dump = format!(
        "rm -rf {p}/dump && mkdir {p}/dump && pg_dump -Fd -f {p}/dump/app {c} app && tar cf - -C {p}/dump .",
        p = db_pod.display(),
        c = pg.conn()
    );
    let env = vec![
        ("BACKUP_URL", s.url("combine/backups")),
        ("BACKUP_NAME", "thecombine-app".to_string()),
        ("BACKUP_MODE", "single".to_string()),
        ("BACKUP_TS", "2026-08-21-03-15-07".to_string()),
        ("DB_DUMP_CMD", dump),
        (
            "BACKUP_STREAMS",
            format!(
                ".CombineFiles={}",
                backend_pod(&files, "tar cf - -C /mnt .")
            ),
        ),
    ];
    let backup = script(s, "backup.sh", &env, &[]);
    assert_eq!(code(&backup), 0, "{}", stderr(&backup));
    let line = summary(&backup);
    assert_eq!(line["result"], "success");
    assert_eq!(line["timestamp"], "2026-08-21-03-15-07");
    let key = "combine/backups/thecombine-app-2026-08-21-03-15-07.tar.gz";
    assert_eq!(line["objects"][0]["url"], s.url(key));
    let archive = s.run("s3get", &[&s.url(key)], b"").stdout;
    assert_eq!(line["bytes"].as_u64(), Some(archive.len() as u64));
    // What the archive holds, from s3put's stream check: the ratio.
    let tar = run("gzip", &["-dc"], &archive).stdout;
    let object = &line["objects"][0];
    assert_eq!(object["content_size"].as_u64(), Some(tar.len() as u64));
    let ratio = tar.len() as f64 / archive.len() as f64;
    assert!(
        (object["ratio"].as_f64().unwrap() - ratio).abs() < 0.001,
        "{object}"
    );
    assert_eq!(object["retries"], 0);
    assert_their_layout(&archive);

    // Lose both, then restore through routes: the files into the backend
    // pod, the dump into the database pod and pg_restore. No RESTORE_DIR.
    pg.sql("app", "drop table t");
    let restored_files = tmp.path().join("backend-restored");
    fs::create_dir_all(&restored_files).unwrap();
    let restore_env = vec![
        ("BACKUP_URL", s.url("combine/backups")),
        ("BACKUP_NAME", "thecombine-app".to_string()),
        (
            "RESTORE_ROUTES",
            format!(".CombineFiles=tar xf - -C {}", restored_files.display()),
        ),
        (
            "DB_RESTORE_CMD",
            format!(
                "rm -rf {p}/restore && mkdir {p}/restore && tar xf - -C {p}/restore && pg_restore --clean --if-exists {c} -d app {p}/restore/app",
                p = db_pod.display(),
                c = pg.conn()
            ),
        ),
    ];
    let restore = script(s, "restore.sh", &restore_env, &["latest"]);
    assert_eq!(code(&restore), 0, "{}", stderr(&restore));
    assert_eq!(rows(&pg), before, "the database is back");
    assert_same_tree(&files, &restored_files);
}

/// An archive made the way their Python job makes it (tarfile `w:gz`, PAX
/// with fractional mtimes, their key name, no manifest) restores by URL,
/// exactly as GNU tar extracts it, mtimes to the nanosecond; `--clean`
/// empties the target first.
#[test]
fn their_existing_archives_restore_by_url() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("dump/CombineDatabase")).unwrap();
    fs::write(
        src.join("dump/CombineDatabase/Words.bson.gz"),
        random_bytes(90_000, 1),
    )
    .unwrap();
    rich_tree(&src.join(".CombineFiles"));
    python_tar_gz(
        &src,
        &["dump", ".CombineFiles"],
        &tmp.path().join("old.tar.gz"),
    );
    let url = s.url("combine/old/thecombine-app-2026-08-21-03-15-07.tar.gz");
    let archive = fs::read(tmp.path().join("old.tar.gz")).unwrap();
    assert_eq!(code(&s.run("s3put", &[&url], &archive)), 0);

    let (ours, gnu) = (tmp.path().join("ours"), tmp.path().join("gnu"));
    fs::create_dir_all(&ours).unwrap();
    fs::write(ours.join("stale"), b"left from before").unwrap();
    fs::create_dir_all(&gnu).unwrap();
    sh(&format!(
        "tar -C {} -xzf {}/old.tar.gz",
        gnu.display(),
        tmp.path().display()
    ));
    let env = [("RESTORE_DIR", ours.display().to_string())];
    let out = script(s, "restore.sh", &env, &["--clean", &url]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!ours.join("stale").exists(), "--clean emptied it");
    assert_same_tree(&gnu, &ours);
    let ns = |p: &Path| {
        use std::os::unix::fs::MetadataExt;
        let md = fs::symlink_metadata(p).unwrap();
        (md.mtime(), md.mtime_nsec())
    };
    let file = "dump/CombineDatabase/Words.bson.gz";
    assert_eq!(ns(&ours.join(file)), ns(&gnu.join(file)));
    assert_ne!(ns(&ours.join(file)).1, 0, "Python wrote a fraction");
}

/// A producer that exits 1 after writing a whole stream fails the run:
/// no manifest, nothing of the run left, a summary line saying why.
#[test]
fn a_producer_that_fails_after_its_stream_leaves_nothing() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    rich_tree(tmp.path());
    let whole = format!("tar cf - -C {} .", tmp.path().display());
    for (mode, var, value) in [
        ("single", "BACKUP_STREAMS", format!("files={whole}; exit 1")),
        ("split", "BACKUP_STREAMS", format!("files={whole}; exit 1")),
        ("split", "DB_DUMP_CMD", format!("{whole}; exit 1")),
    ] {
        let env = vec![
            ("BACKUP_URL", s.url("combine/failing")),
            ("BACKUP_NAME", "app".to_string()),
            ("BACKUP_MODE", mode.to_string()),
            (var, value),
        ];
        let out = script(s, "backup.sh", &env, &[]);
        assert_eq!(code(&out), 1, "{mode} {var}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("; exit 1` exited with status 1"),
            "{mode} {var}: {}",
            stderr(&out)
        );
        assert!(s.keys("combine/failing/").is_empty(), "{mode} {var}");
        let line = summary(&out);
        assert_eq!(line["result"], "failure");
        assert!(
            line["error"]
                .as_str()
                .unwrap()
                .contains("the producer or the upload failed")
        );
    }
    let bad = script(
        s,
        "backup.sh",
        &[
            ("BACKUP_URL", s.url("combine/failing")),
            ("BACKUP_NAME", "app".to_string()),
            ("BACKUP_STREAMS", "no-equals-sign".to_string()),
        ],
        &[],
    );
    assert_eq!(code(&bad), 2, "misconfiguration: {}", stderr(&bad));
}

/// A Pushgateway (Debian's prometheus-pushgateway) on 127.0.0.1.
struct Pushgateway {
    child: std::process::Child,
    url: String,
}

impl Pushgateway {
    fn start() -> Pushgateway {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("prometheus-pushgateway (make test installs it)");
        // Dropped (killed and reaped) if it never comes up.
        let gateway = Pushgateway {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return gateway;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the Pushgateway did not start");
    }

    /// The value of `metric` for instance `name`, as the gateway serves it.
    fn value(&self, metric: &str, name: &str) -> Option<f64> {
        let port = self.url.rsplit(':').next().unwrap();
        let mut conn = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        write!(conn, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(metric)?.strip_prefix('{')?;
            let (labels, value) = rest.split_once("} ")?;
            labels
                .contains(&format!("instance=\"{name}\""))
                .then(|| value.trim().parse().unwrap())
        })
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_pushgateway_and_the_textfile_get_the_metrics() {
    let s = Server::garage();
    let gateway = Pushgateway::start();
    let tmp = tempfile::tempdir().unwrap();
    rich_tree(&tmp.path().join("data"));
    let textfile = tmp.path().join("s3pipe.prom");
    let env = |ts: &str, paths: &str| {
        vec![
            ("BACKUP_URL", s.url("combine/metrics")),
            ("BACKUP_NAME", "web".to_string()),
            ("BACKUP_BASE", tmp.path().display().to_string()),
            ("BACKUP_PATHS", paths.to_string()),
            ("BACKUP_TS", ts.to_string()),
            ("PUSHGATEWAY_URL", gateway.url.clone()),
            ("METRICS_TEXTFILE", textfile.display().to_string()),
        ]
    };
    let ok = script(s, "backup.sh", &env("2026-11-20-03-15-00", "data"), &[]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let bytes = summary(&ok)["bytes"].as_f64().unwrap();
    let success = gateway
        .value("s3pipe_backup_last_success_timestamp_seconds", "web")
        .expect("pushed");
    assert_eq!(gateway.value("s3pipe_backup_bytes", "web"), Some(bytes));
    assert_eq!(
        gateway.value("s3pipe_backup_last_run_failed", "web"),
        Some(0.0)
    );
    let text = fs::read_to_string(&textfile).unwrap();
    assert!(
        text.contains(&format!("s3pipe_backup_bytes {bytes}")),
        "{text}"
    );

    // A failed run: marked failed, the last success's time and bytes stay.
    let failed = script(s, "backup.sh", &env("2026-11-21-03-15-00", "missing"), &[]);
    assert_eq!(code(&failed), 1, "{}", stderr(&failed));
    assert_eq!(
        gateway.value("s3pipe_backup_last_run_failed", "web"),
        Some(1.0)
    );
    assert_eq!(
        gateway.value("s3pipe_backup_last_success_timestamp_seconds", "web"),
        Some(success)
    );
    assert_eq!(gateway.value("s3pipe_backup_bytes", "web"), Some(bytes));
    let text = fs::read_to_string(&textfile).unwrap();
    assert!(text.contains("s3pipe_backup_last_run_failed 1"), "{text}");

    // The same gateway behind TLS with a private CA (NOTIFY_CA_BUNDLE).
    let front = support::tls::TlsFront::start(&gateway.url);
    let mut tls = env("2026-11-22-03-15-00", "data");
    tls.retain(|(k, _)| *k != "PUSHGATEWAY_URL");
    tls.push(("PUSHGATEWAY_URL", front.endpoint.clone()));
    tls.push(("NOTIFY_CA_BUNDLE", front.ca.display().to_string()));
    let ok = script(s, "backup.sh", &tls, &[]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    assert!(!stderr(&ok).contains("failed"), "{}", stderr(&ok));
    assert_eq!(
        gateway.value("s3pipe_backup_last_run_failed", "web"),
        Some(0.0)
    );
    assert!(
        text.contains(&format!(
            "s3pipe_backup_last_success_timestamp_seconds {success}"
        )),
        "{text}"
    );
}

/// docs/backup-job.md's ```python block for their own scripts, written out as a
/// module; `call(function, args…)` runs one of its functions with python3,
/// our tools on PATH and the server's credentials, as their image would.
struct ReadmePython {
    dir: tempfile::TempDir,
}

impl ReadmePython {
    fn new() -> ReadmePython {
        let docs = user_docs();
        let block = docs
            .split("```python\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("a user page has a ```python block");
        let code: String = block
            .lines()
            .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
            .collect();
        assert!(code.contains("def pull_backup"), "{code}");
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("combine_s3pipe.py"), code).unwrap();
        ReadmePython { dir }
    }

    fn call(&self, s: &Server, function: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new("python3");
        s.env_into(&mut cmd);
        cmd.env(
            "PATH",
            format!("{}:/usr/lib/postgresql/15/bin", path_with_bins()),
        )
        .args([
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import combine_s3pipe as m; getattr(m, sys.argv[2])(*sys.argv[3:])",
        ])
        .arg(self.dir.path())
        .arg(function)
        .args(args);
        cmd.output().unwrap()
    }
}

#[test]
fn their_python_scripts_with_readmes_functions_back_up_verify_and_restore() {
    let s = Server::garage();
    let py = ReadmePython::new();
    let (pg, before) = app_database(20000);
    let tmp = tempfile::tempdir().unwrap();
    let files = tmp.path().join("backend/.CombineFiles");
    rich_tree(&files.join("proj1"));
    let db_pod = tmp.path().join("database-pod");
    fs::create_dir_all(&db_pod).unwrap();
    let (p, c) = (db_pod.display(), pg.conn());
    let dump = format!(
        "rm -rf {p}/dump && mkdir {p}/dump && pg_dump -Fd -f {p}/dump/app {c} app && tar cf - -C {p}/dump ."
    );
    let url = s.url("combine/python/thecombine-app-2026-08-22-03-15-07.tar.gz");
    let files_cmd = backend_pod(&files, "tar cf - -C /mnt .");
    let push = py.call(s, "push_backup", &[&url, &dump, &files_cmd]);
    assert_eq!(code(&push), 0, "{}", stderr(&push));
    let archive = s.run("s3get", &[&url], b"").stdout;
    assert_their_layout(&archive);

    // Restore commands that leave a mark when they start.
    let marks = tmp.path().join("marks");
    fs::create_dir_all(&marks).unwrap();
    let restored = tmp.path().join("backend-restored");
    fs::create_dir_all(&restored).unwrap();
    let m = marks.display();
    let db_restore = format!(
        "touch {m}/db && rm -rf {p}/restore && mkdir {p}/restore && tar xf - -C {p}/restore && pg_restore --clean --if-exists {c} -d app {p}/restore/app"
    );
    let files_restore = format!("touch {m}/files && tar xf - -C {}", restored.display());

    // A damaged copy of the same backup (one byte of the compressed stream
    // flipped, stored by a tool that checks nothing, with checksums of its
    // own, so only the stream itself shows it): the verify pass fails,
    // no restore command starts, the database is untouched.
    let mut damaged = archive.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    let bad_url = s.url("combine/python/thecombine-app-2026-08-23-03-15-07.tar.gz");
    let stored = s.run("s3put", &["--verify", "none", &bad_url], &damaged);
    assert_eq!(code(&stored), 0, "{}", stderr(&stored));
    let bad = py.call(s, "pull_backup", &[&bad_url, &db_restore, &files_restore]);
    assert_ne!(code(&bad), 0, "{}", stderr(&bad));
    assert!(stderr(&bad).contains("unpack: "), "{}", stderr(&bad));
    assert_eq!(
        fs::read_dir(&marks).unwrap().count(),
        0,
        "a restore command ran"
    );
    assert_eq!(rows(&pg), before);

    pg.sql("app", "drop table t");
    let pull = py.call(s, "pull_backup", &[&url, &db_restore, &files_restore]);
    assert_eq!(code(&pull), 0, "{}", stderr(&pull));
    assert_eq!(rows(&pg), before, "the database is back");
    assert_same_tree(&files, &restored);
}
