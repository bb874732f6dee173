//! s3prune against Garage: what --dry-run says, what is deleted, what is
//! never deleted, and the refusal to run without a policy; and `s3ls
//! --latest --max-age`, the check that the newest backup is recent.

mod support;

use support::s3::Server;
use support::*;

#[test]
fn prune_keeps_the_policy_and_removes_the_rest() {
    let s = Server::garage();
    let days = [
        "2026-11-01",
        "2026-11-15",
        "2026-11-20",
        "2026-11-21",
        "2026-11-22",
        "2026-11-23",
    ];
    for day in days {
        for host in ["a", "b"] {
            let key = format!("prune/host-{host}-{day}-03-15-00.tar.gz");
            assert_eq!(code(&s.run("s3put", &[&s.url(&key)], day.as_bytes())), 0);
        }
    }
    assert_eq!(
        code(&s.run("s3put", &[&s.url("prune/README")], b"keep me")),
        0
    );

    let dry = s.run(
        "s3prune",
        &["--keep-daily", "3", "--dry-run", &s.url("prune/")],
        b"",
    );
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("(dry run) keep    prune/host-a-2026-11-23-03-15-00.tar.gz  (daily)"),
        "{text}"
    );
    assert!(
        text.contains("(dry run) remove  prune/host-b-2026-11-01-03-15-00.tar.gz"),
        "{text}"
    );
    assert!(
        text.contains("(dry run) keep    prune/README  (no timestamp in the name: never removed)"),
        "{text}"
    );
    assert_eq!(s.keys("prune/").len(), 13, "a dry run deletes nothing");

    let real = s.run(
        "s3prune",
        &[
            "--keep-daily",
            "3",
            "--keep-monthly",
            "2",
            "-q",
            &s.url("prune/"),
        ],
        b"",
    );
    assert_eq!(code(&real), 0, "{}", stderr(&real));
    assert_eq!(String::from_utf8_lossy(&real.stdout), "", "-q");
    let mut want = vec!["prune/README".to_string()];
    for host in ["a", "b"] {
        // Three newest days, and November's newest (already among them):
        // monthly's second month has no backup, so nothing more.
        for day in ["2026-11-21", "2026-11-22", "2026-11-23"] {
            want.push(format!("prune/host-{host}-{day}-03-15-00.tar.gz"));
        }
    }
    want.sort();
    assert_eq!(
        s.keys("prune/"),
        want,
        "each host's series pruned on its own"
    );
}

#[test]
fn no_policy_is_refused() {
    let s = Server::garage();
    let out = s.run("s3prune", &[&s.url("prune-none/")], b"");
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no keep policy given: refusing to remove every backup"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn durations_that_would_wrap_are_usage_errors() {
    // Both once wrapped silently: to 17 hours (deleting 2-day-old backups)
    // and to a negative span (keeping nothing).
    for value in ["213503982334602d", "18446744073709551615"] {
        let out = run(
            bin("s3prune"),
            &["--keep-within", value, "s3://bucket/backups/"],
            b"",
        );
        assert_eq!(code(&out), 2, "{value}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("duration too large: \"{value}\"")),
            "{}",
            stderr(&out)
        );
    }
}

/// The Combine's migration, through the real tool: their archives (no
/// manifest) and s3pipe's (a manifest) of one host are one series; their
/// policy (--keep-within 7d from the newest, --keep-monthly-first 3) keeps
/// exactly what theirs keeps although the backups stopped long ago; the
/// doomed manifests go in a DeleteObjects call of their own, first.
#[test]
fn their_history_is_one_series_and_manifests_are_deleted_first() {
    let s = Server::garage();
    let put = |key: &str| {
        let out = s.run(
            "s3put",
            &[&s.url(&format!("combine/{key}"))],
            key.as_bytes(),
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    };
    for day in [
        "2025-08-01",
        "2025-08-15",
        "2025-09-01",
        "2025-09-02",
        "2025-09-20",
    ] {
        put(&format!("thecombine-app-{day}-03-15-07.tar.gz"));
    }
    for day in [
        "2025-10-01",
        "2025-10-04",
        "2025-10-05",
        "2025-10-10",
        "2025-10-11",
    ] {
        put(&format!("thecombine-app-{day}-03-15-07.tar.gz"));
        put(&format!("thecombine-app-{day}-03-15-07.manifest.json"));
    }
    let rec = support::wire::Recorder::start(&s.endpoint);
    let mut cmd = s.cmd("s3prune");
    cmd.env("AWS_ENDPOINT_URL", &rec.endpoint).args([
        "--keep-within",
        "7d",
        "--keep-monthly-first",
        "3",
        &s.url("combine/"),
    ]);
    let out = run_command(cmd, b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("keep    combine/thecombine-app-2025-10-01-03-15-07.tar.gz  (monthly-first)"),
        "{text}"
    );
    let mut want: Vec<String> = [
        // the first backup of each of the 3 newest months
        "2025-08-01-03-15-07.tar.gz",
        "2025-09-01-03-15-07.tar.gz",
        "2025-10-01-03-15-07.manifest.json",
        "2025-10-01-03-15-07.tar.gz",
        // within 7 days of the newest (Oct 11), not of today
        "2025-10-04-03-15-07.manifest.json",
        "2025-10-04-03-15-07.tar.gz",
        "2025-10-05-03-15-07.manifest.json",
        "2025-10-05-03-15-07.tar.gz",
        "2025-10-10-03-15-07.manifest.json",
        "2025-10-10-03-15-07.tar.gz",
        "2025-10-11-03-15-07.manifest.json",
        "2025-10-11-03-15-07.tar.gz",
    ]
    .iter()
    .map(|k| format!("combine/thecombine-app-{k}"))
    .collect();
    want.sort();
    assert_eq!(s.keys("combine/"), want);
    let deletes = rec
        .heads()
        .iter()
        .filter(|h| h.starts_with("POST ") && h.contains("?delete"))
        .count();
    assert_eq!(deletes, 1, "no manifest among the doomed: one call");

    // Drop to one month: the manifests of Oct 1-5 go first, then their
    // archives and the older tool's ones, in a second call.
    let mut cmd = s.cmd("s3prune");
    cmd.env("AWS_ENDPOINT_URL", &rec.endpoint)
        .args(["--keep-last", "2", "-q", &s.url("combine/")]);
    let out = run_command(cmd, b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.keys("combine/").len(), 4);
    let deletes = rec
        .heads()
        .iter()
        .filter(|h| h.starts_with("POST ") && h.contains("?delete"))
        .count();
    assert_eq!(deletes, 1 + 2, "manifests, then the rest");
}

/// `s3ls --latest --max-age`: the check an alert or a liveness probe runs.
/// Exit 0 while the newest complete backup is young enough, 1 (with the
/// key and its age) once it is older, or when there is none.
#[test]
fn max_age_says_when_the_newest_backup_is_too_old() {
    let s = Server::garage();
    let stamp = |hours_ago: i64| {
        (chrono::Utc::now() - chrono::Duration::hours(hours_ago))
            .format("%Y-%m-%d-%H-%M-%S")
            .to_string()
    };
    let (old, newer_incomplete) = (stamp(30), stamp(2));
    for key in [
        format!("maxage/web-{old}.files.tar.gz"),
        format!("maxage/web-{old}.manifest.json"),
        // a newer run without a manifest does not count
        format!("maxage/web-{newer_incomplete}.files.tar.gz"),
    ] {
        assert_eq!(code(&s.run("s3put", &[&s.url(&key)], b"x")), 0);
    }
    let ls = |args: &[&str]| {
        let mut all = args.to_vec();
        let url = s.url("maxage/web-");
        all.push(&url);
        s.run("s3ls", &all, b"")
    };
    let too_old = ls(&["--latest", "--max-age", "26h"]);
    assert_eq!(code(&too_old), 1, "{}", stderr(&too_old));
    assert!(
        stderr(&too_old).contains(&format!(
            "the newest backup, {}, is 30.0h old: more than --max-age 26.0h",
            s.url(&format!("maxage/web-{old}.manifest.json"))
        )),
        "{}",
        stderr(&too_old)
    );
    assert_eq!(
        String::from_utf8_lossy(&too_old.stdout),
        format!("maxage/web-{old}.manifest.json\n"),
        "the newest is still printed"
    );
    let backups = ls(&["--backups", "--latest", "--max-age", "1d"]);
    assert_eq!(code(&backups), 1, "{}", stderr(&backups));
    assert!(stderr(&backups).contains(&format!(
        "{}, is 30.0h old",
        s.url(&format!("maxage/web-{old}"))
    )));
    for args in [
        &["--latest", "--max-age", "31h"][..],
        &["--backups", "--latest", "--max-age", "2d"][..],
    ] {
        let young = ls(args);
        assert_eq!(code(&young), 0, "{args:?}: {}", stderr(&young));
    }
    let none = s.run(
        "s3ls",
        &["--latest", "--max-age", "26h", &s.url("maxage/nothing-")],
        b"",
    );
    assert_eq!(code(&none), 1);
    let usage = s.run("s3ls", &["--max-age", "26h", &s.url("maxage/")], b"");
    assert_eq!(code(&usage), 2, "--max-age needs --latest");
}
