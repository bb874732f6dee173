//! Every command in the ```sh blocks of the user pages (README.md,
//! docs/tools.md, docs/backup-job.md: `support::USER_DOCS`) runs, in
//! order, in a sandbox:
//! `s3://bucket/` is a prefix of the test Garage, the absolute paths the
//! examples use (`/data`, `/srv`, `/restore`, …) are directories of a temp
//! dir, `pg_dump`/`pg_restore` reach a real PostgreSQL, and `kubectl exec
//! POD -- CMD` runs CMD here, standing for the pod. The few that cannot
//! run here are listed in [`NOT_RUN`] with the reason; each entry must
//! still match a line of those pages, so the list cannot go stale.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::postgres::Postgres;
use support::s3::Server;
use support::*;

/// Commands not run, by a fragment of their line, and why.
const NOT_RUN: [(&str, &str); 9] = [
    (
        "make demo",
        "builds Garage and a release; run by hand and in `make demo`",
    ),
    ("make test", "the suite this test is part of"),
    (
        "make image",
        "a release build; tests/image.rs builds the same runtime stage",
    ),
    (
        "podman build -t s3pipe .",
        "its build stage needs the official rust image (no registry here); tests/image.rs builds the runtime stage",
    ),
    (
        "mongodump",
        "no MongoDB tool can be installed here; the PostgreSQL lines run the same script paths",
    ),
    ("mongorestore", "no MongoDB tool can be installed here"),
    ("kubectl create secret", "needs a cluster"),
    (
        "kubectl apply -k",
        "needs a cluster; tests/kubernetes.rs validates the manifests",
    ),
    (
        "kubectl create -k",
        "needs a cluster; tests/kubernetes.rs validates the manifests",
    ),
];

/// Commands whose documented outcome is not exit 0, by fragment.
const EXPECTED_CODES: [(&str, &[i32]); 1] = [
    // An alert's check: 1 once the newest backup is older than 26 hours.
    ("--max-age 26h", &[0, 1]),
];

/// The sandbox: the pages' absolute paths as directories of `root`.
struct Sandbox {
    root: PathBuf,
    bucket_prefix: String,
    repo: PathBuf,
}

const PATHS: [&str; 7] = [
    "/home/app/.CombineFiles",
    "/new/dir",
    "/restore",
    "/data",
    "/dump",
    "/srv",
    "/app",
];

impl Sandbox {
    fn rewrite(&self, command: &str) -> String {
        let mut out = command.replace("s3://bucket/", &self.bucket_prefix);
        out = out.replace("scripts/", &format!("{}/scripts/", self.repo.display()));
        for path in PATHS {
            for before in [' ', '\'', '"', '='] {
                let from = format!("{before}{path}");
                let to = format!("{before}{}{path}", self.root.display());
                out = out.replace(&from, &to);
            }
        }
        if out.contains("age1…") {
            let key = fs::read_to_string(self.root.join("backup.key")).unwrap();
            let public = key
                .lines()
                .find_map(|l| l.strip_prefix("# public key: "))
                .unwrap();
            out = out.replace("age1…", public);
        }
        out
    }

    /// The inputs the examples read that no earlier example makes.
    fn fixtures(&self, s: &Server) {
        let r = &self.root;
        rich_tree(&r.join("data"));
        for dir in [
            "srv/app",
            "srv/config",
            "build",
            "app/files",
            "dump/db",
            "home/app/.CombineFiles/p1",
            "data/new",
        ] {
            fs::create_dir_all(r.join(dir)).unwrap();
            fs::write(r.join(dir).join("f.txt"), dir.as_bytes()).unwrap();
        }
        fs::create_dir_all(r.join("restore")).unwrap();
        let make = format!(
            "cd {r} && tar czf old.tar.gz build && tar czf release.tar.gz -C srv . && tar cf - data | zstd -q > backup.tar.zst",
            r = r.display()
        );
        assert_eq!(code(&sh(&make)), 0);
        // A complete backup as backup.sh leaves it, for the s3ls examples.
        for key in [
            "backups/old.tar.gz",
            "tmp/x",
            "backups/host-2026-11-23-03-15-00.files.tar.gz",
            "backups/host-2026-11-23-03-15-00.manifest.json",
        ] {
            let url = format!("{}{key}", self.bucket_prefix);
            assert_eq!(code(&s.run("s3put", &[&url], b"x")), 0);
        }
    }
}

/// `kubectl exec [-i] POD -- CMD…` runs CMD here: the stand-in for a pod.
fn kubectl_shim(dir: &Path) {
    let path = dir.join("kubectl");
    fs::write(
        &path,
        "#!/bin/sh\n# Stands for a pod: kubectl exec [-i] POD -- CMD... runs CMD here.\n\
         [ \"$1\" = exec ] || { echo \"kubectl stand-in: only exec\" >&2; exit 1; }\n\
         while [ \"$1\" != -- ]; do shift; done; shift; exec \"$@\"\n",
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn every_readme_example_runs() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let all = sh_commands(&user_docs());
    for (fragment, why) in NOT_RUN {
        assert!(
            all.iter().any(|c| c.contains(fragment)),
            "NOT_RUN names {fragment:?} ({why}), which no user page has"
        );
    }
    let s = Server::garage();
    let pg = Postgres::start();
    for db in ["app", "mydb"] {
        pg.sql("postgres", &format!("create database {db}"));
        pg.sql(
            db,
            "create table t as select i, md5(i::text) as v from generate_series(1, 2000) i",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let sandbox = Sandbox {
        root: tmp.path().join("root"),
        bucket_prefix: format!("{}/", s.url(&format!("readme-{}", std::process::id()))),
        repo: repo.clone(),
    };
    fs::create_dir_all(&sandbox.root).unwrap();
    let shims = tmp.path().join("shims");
    fs::create_dir_all(&shims).unwrap();
    kubectl_shim(&shims);
    sandbox.fixtures(s);

    let mut ran = 0;
    for command in &all {
        if NOT_RUN.iter().any(|(f, _)| command.contains(f)) {
            continue;
        }
        let line = sandbox.rewrite(command);
        let mut cmd = Command::new("bash");
        cmd.args(["-c", &format!("set -euo pipefail; {line}")])
            .current_dir(&sandbox.root);
        s.env_into(&mut cmd);
        cmd.env(
            "PATH",
            format!(
                "{}:{}:/usr/lib/postgresql/15/bin",
                shims.display(),
                path_with_bins()
            ),
        )
        .env("PGHOST", &pg.socket_dir)
        .env("PGPORT", pg.port.to_string())
        .env("PGUSER", "postgres");
        let out = cmd.output().unwrap();
        let allowed = EXPECTED_CODES
            .iter()
            .find(|(f, _)| command.contains(f))
            .map_or(&[0][..], |(_, codes)| codes);
        assert!(
            allowed.contains(&code(&out)),
            "example failed (exit {}):\n  {command}\nran as:\n  {line}\n{}",
            code(&out),
            stderr(&out)
        );
        ran += 1;
    }
    assert!(ran >= 40, "only {ran} examples ran");
}

/// README stays what a newcomer reads in ten minutes: about 200 lines,
/// linking every page the detail moved to.
#[test]
fn the_readme_is_short_and_links_the_detail() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 220, "README has {lines} lines");
    for page in USER_DOCS.iter().skip(1).chain(&[
        "docs/object-lock.md",
        "docs/ARCHITECTURE.md",
        "bench/results.md",
    ]) {
        assert!(
            readme.contains(&format!("]({page})")),
            "README does not link {page}"
        );
        assert!(root().join(page).exists(), "{page}");
    }
}
