//! s3put / s3get / s3ls / s3rm against a real S3 server (Garage; a few
//! against s3s-fs too): byte-identical round trips, special keys, clear
//! errors, and nothing stored or left in progress after a failure.

mod support;

use std::io::Write;
use std::process::Stdio;

use support::s3::Server;
use support::*;

fn get(s: &Server, key: &str) -> std::process::Output {
    s.run(
        "s3get",
        &[&s.url(key), "--part-size", "5MiB", "--concurrency", "3"],
        b"",
    )
}

/// Keys (with sizes) under `prefix`, from s3ls --json.
fn listed(s: &Server, prefix: &str) -> Vec<(String, u64)> {
    let out = s.run("s3ls", &["--recursive", "--json", &s.url(prefix)], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["key"].as_str().unwrap().to_string(),
                v["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn round_trips(s: &Server, prefix: &str) {
    for (i, size) in [1, 5 * MIB - 1, 5 * MIB, 5 * MIB + 1, 7 * MIB / 2 * 5]
        .into_iter()
        .enumerate()
    {
        let key = format!("{prefix}/size-{size}");
        let data = random_bytes(size, i as u64 + 1);
        let out = s.put(&key, &data, &["--json"]);
        assert_eq!(code(&out), 0, "{size}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["size"], size);
        assert_eq!(report["parts"], size.div_ceil(5 * MIB));
        let back = get(s, &key);
        assert_eq!(code(&back), 0, "{size}: {}", stderr(&back));
        assert!(back.stdout == data, "{size}: bytes differ");
        assert!(
            listed(s, &key).contains(&(key.clone(), size as u64)),
            "server-side size"
        );
    }
    // s3s-fs has no ListMultipartUploads.
    if s.name == "garage" {
        assert_eq!(s.uploads(prefix), 0);
    }
}

#[test]
fn garage_round_trips_at_part_boundaries() {
    round_trips(Server::garage(), "boundaries");
}

#[test]
fn s3s_fs_round_trips_at_part_boundaries() {
    round_trips(Server::s3s_fs(), "boundaries");
}

#[test]
fn large_stream_round_trips_with_checksum_and_sha256() {
    let s = Server::garage();
    let data = random_bytes(200 * MIB, 42);
    let out = s.run(
        "s3put",
        &[&s.url("large/200m"), "--sha256", "--json"],
        &data,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    use sha2::Digest;
    assert_eq!(
        report["sha256"],
        format!("{:x}", sha2::Sha256::digest(&data))
    );
    assert_eq!(report["parts"], 25, "8 MiB default parts");
    let back = s.run("s3get", &[&s.url("large/200m"), "--json"], b"");
    assert_eq!(code(&back), 0, "{}", stderr(&back));
    assert!(back.stdout == data, "bytes differ");
    let report: serde_json::Value = serde_json::from_str(stderr(&back).trim()).unwrap();
    assert_eq!(
        report["verified"], "crc32c",
        "the stored composite CRC32C was checked"
    );
    // A single-part object: its whole-object CRC32C.
    assert_eq!(code(&s.put("large/small", b"small object", &[])), 0);
    let small = s.run("s3get", &[&s.url("large/small"), "--json"], b"");
    let report: serde_json::Value = serde_json::from_str(stderr(&small).trim()).unwrap();
    assert_eq!(report["verified"], "crc32c");
    let skipped = s.run(
        "s3get",
        &[&s.url("large/small"), "--json", "--no-verify"],
        b"",
    );
    let report: serde_json::Value = serde_json::from_str(stderr(&skipped).trim()).unwrap();
    assert_eq!(report["verified"], "none");
}

#[test]
fn empty_input_is_refused_unless_allowed() {
    let s = Server::garage();
    let out = s.put("empty/refused", b"", &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "s3put: upload of {} aborted: no input: refusing to store an empty object (use --allow-empty)",
            s.url("empty/refused")
        )
    );
    assert!(listed(s, "empty/").is_empty());
    let out = s.put("empty/allowed", b"", &["--allow-empty"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(listed(s, "empty/"), vec![("empty/allowed".to_string(), 0)]);
    let back = get(s, "empty/allowed");
    assert_eq!(code(&back), 0, "{}", stderr(&back));
    assert!(back.stdout.is_empty());
}

#[test]
fn special_keys_round_trip_byte_exact() {
    special_keys(Server::garage());
}

#[test]
fn s3s_fs_special_keys_round_trip_byte_exact() {
    special_keys(Server::s3s_fs());
}

fn special_keys(s: &Server) {
    let keys = [
        "special/with space",
        "special/ünïcødé ✓",
        "special/a+b=c&d",
        "special/%41",
        "special//double",
        "special/./dot",
        "special/../dotdot",
        "special/trailing/",
    ];
    // s3s-fs maps keys to file paths, which normalises "//", "/./" and
    // "/../" and makes a trailing "/" a directory: only Garage keeps those.
    let keys: Vec<&str> = keys
        .into_iter()
        .filter(|k| {
            s.name == "garage"
                || !(k.ends_with('/')
                    || k.contains("//")
                    || k.contains("/./")
                    || k.contains("/../"))
        })
        .collect();
    for (i, key) in keys.iter().enumerate() {
        let data = random_bytes(1000 + i, i as u64);
        let out = s.put(key, &data, &[]);
        assert_eq!(code(&out), 0, "{key}: {}", stderr(&out));
        let back = get(s, key);
        assert_eq!(code(&back), 0, "{key}: {}", stderr(&back));
        assert_eq!(back.stdout, data, "{key}");
    }
    let mut names: Vec<String> = listed(s, "special/").into_iter().map(|(k, _)| k).collect();
    names.sort();
    let mut want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    want.sort();
    assert_eq!(names, want);
}

#[test]
fn truncated_streams_never_become_objects() {
    truncated_streams(Server::garage());
}

#[test]
fn s3s_fs_truncated_streams_never_become_objects() {
    truncated_streams(Server::s3s_fs());
}

#[test]
fn a_tar_cut_inside_a_run_of_zeros_never_becomes_an_object() {
    // A database file or disk image is mostly zeros: a tar cut on a block
    // boundary inside them still ends in well over 1 KiB of zeros, which
    // is all the old check looked at.
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let mut data = vec![0u8; 12 * MIB];
    data[..6].copy_from_slice(b"header");
    std::fs::write(tmp.path().join("db.img"), &data).unwrap();
    for (format, verify) in [("--none", "tar"), ("--none", "auto"), ("--gzip", "auto")] {
        let whole = run(
            bin("pack"),
            &["-C", tmp.path().to_str().unwrap(), "--none", "db.img"],
            b"",
        );
        assert_eq!(code(&whole), 0);
        let cut = &whole.stdout[..512 + 7 * MIB];
        let stream = if format == "--gzip" {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, cut).unwrap();
            gz.finish().unwrap()
        } else {
            cut.to_vec()
        };
        let key = format!("cut-zeros/{verify}{format}");
        let out = s.put(&key, &stream, &["--verify", verify]);
        assert_eq!(code(&out), 1, "{key}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("db.img is cut short at 7340032 of 12582912 bytes"),
            "{key}: {}",
            stderr(&out)
        );
    }
    assert_eq!(s.keys("cut-zeros/"), Vec::<String>::new());
}

fn truncated_streams(s: &Server) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("blob"), random_bytes(12 * MIB, 7)).unwrap();
    for (format, name) in [("--gzip", "gzip"), ("--zstd", "zstd"), ("--none", "tar")] {
        let whole = run(
            bin("pack"),
            &["-C", tmp.path().to_str().unwrap(), format, "blob"],
            b"",
        );
        assert_eq!(code(&whole), 0);
        let cut = &whole.stdout[..whole.stdout.len() - 700];
        let key = format!("truncated/{name}");
        let out = s.put(&key, cut, &[]);
        assert_eq!(code(&out), 1, "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!(
                "aborted: input ended early (truncated {name} stream"
            )),
            "{name}: {}",
            stderr(&out)
        );
        // The whole stream is accepted.
        let out = s.put(&format!("whole/{name}"), &whole.stdout, &[]);
        assert_eq!(code(&out), 0, "{name}: {}", stderr(&out));
    }
    assert!(
        listed(s, "truncated/").is_empty(),
        "no object from a truncated stream"
    );
    if s.name == "garage" {
        assert_eq!(s.uploads("truncated/"), 0, "no multipart upload left");
    }
    assert_eq!(listed(s, "whole/").len(), 3);
}

#[test]
fn clear_errors_for_bad_url_secret_bucket_key_endpoint() {
    let s = Server::garage();
    let bad_url = s.run("s3put", &["bucket/key"], b"x");
    assert_eq!(code(&bad_url), 2);
    assert!(
        stderr(&bad_url).contains("invalid URL \"bucket/key\": expected s3://bucket/key"),
        "{}",
        stderr(&bad_url)
    );

    let mut cmd = s.cmd("s3put");
    cmd.env(
        "AWS_SECRET_ACCESS_KEY",
        "wrong-secret-wrong-secret-wrong-secret",
    )
    .arg(s.url("denied/x"));
    let out = run_command(cmd, b"data");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("signature mismatch"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(listed(s, "denied/").is_empty());

    let out = s.run("s3put", &["s3://no-such-bucket-s3pipe/k"], b"data");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("no such bucket: no-such-bucket-s3pipe"),
        "{}",
        stderr(&out)
    );

    let out = get(s, "missing/key");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!("no such key: {}", s.url("missing/key"))),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());

    let mut cmd = s.cmd("s3get");
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .args([&s.url("x"), "--retries", "0"]);
    let out = run_command(cmd, b"");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("endpoint unreachable (http://127.0.0.1:1)"),
        "{}",
        stderr(&out)
    );
    // One line, the causes in words: no SDK debug dump after them.
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Connection refused"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("DispatchFailure("),
        "{}",
        stderr(&out)
    );

    let mut cmd = s.cmd("s3ls");
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .arg(s.url(""));
    let out = run_command(cmd, b"");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("no AWS credentials found"),
        "{}",
        stderr(&out)
    );

    // --no-sign-request needs no credentials and signs nothing (the proxy
    // sees no Authorization header); Garage refuses anonymous requests.
    let rec = support::wire::Recorder::start(&s.endpoint);
    let mut cmd = s.cmd("s3ls");
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_ENDPOINT_URL", &rec.endpoint)
        .args(["--no-sign-request", "--retries", "0", &s.url("")]);
    let out = run_command(cmd, b"");
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("access denied"), "{}", stderr(&out));
    let heads = rec.heads();
    assert!(!heads.is_empty());
    for head in heads {
        assert!(!head.contains("\nauthorization:"), "signed: {head}");
    }
}

#[test]
fn sigterm_aborts_the_upload_and_exits_143() {
    let s = Server::garage();
    let out = s.interrupted_upload("sigterm/x", &[], nix::sys::signal::Signal::SIGTERM);
    assert_eq!(code(&out), 143, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("aborted: interrupted by SIGTERM"),
        "{}",
        stderr(&out)
    );
    assert!(listed(s, "sigterm/").is_empty());
    assert_eq!(s.uploads("sigterm/"), 0);
}

#[test]
fn sigkill_leaves_an_upload_that_s3rm_uploads_removes() {
    let s = Server::garage();
    let out = s.interrupted_upload("sigkill/x", &[], nix::sys::signal::Signal::SIGKILL);
    assert_eq!(out.status.code(), None, "killed");
    assert_eq!(s.uploads("sigkill/"), 1, "SIGKILL cannot clean up");
    let dry = s.run("s3rm", &["--uploads", "--dry-run", &s.url("sigkill/")], b"");
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("(dry run) aborted s3://"),
        "{}",
        String::from_utf8_lossy(&dry.stdout)
    );
    assert_eq!(s.uploads("sigkill/"), 1);
    let young = s.run(
        "s3rm",
        &["--uploads", "--older-than", "1d", &s.url("sigkill/")],
        b"",
    );
    assert_eq!(code(&young), 0);
    assert_eq!(s.uploads("sigkill/"), 1, "younger than a day: kept");
    let out = s.run("s3rm", &["--uploads", &s.url("sigkill/")], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.uploads("sigkill/"), 0);
    assert!(listed(s, "sigkill/").is_empty());
}

#[test]
fn ls_latest_and_rm() {
    let s = Server::garage();
    for ts in [
        "2026-11-22-03-15-00",
        "2026-11-24-03-15-00",
        "2026-11-23-03-15-00",
    ] {
        let out = s.put(&format!("ls/backups/host-{ts}.tar.gz"), ts.as_bytes(), &[]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let latest = s.run("s3ls", &["--latest", &s.url("ls/backups/host-")], b"");
    assert_eq!(
        String::from_utf8_lossy(&latest.stdout),
        "ls/backups/host-2026-11-24-03-15-00.tar.gz\n"
    );
    let grouped = s.run("s3ls", &[&s.url("ls/")], b"");
    assert_eq!(
        String::from_utf8_lossy(&grouped.stdout).trim(),
        "PRE  ls/backups/"
    );
    let dry = s.run("s3rm", &["--recursive", "--dry-run", &s.url("ls/")], b"");
    let bucket = s.url("");
    assert_eq!(
        String::from_utf8_lossy(&dry.stdout),
        [
            "2026-11-22-03-15-00",
            "2026-11-23-03-15-00",
            "2026-11-24-03-15-00"
        ]
        .map(|ts| format!("(dry run) deleted {bucket}ls/backups/host-{ts}.tar.gz\n"))
        .concat()
    );
    assert_eq!(listed(s, "ls/").len(), 3, "dry run deletes nothing");
    let one = s.run(
        "s3rm",
        &[&s.url("ls/backups/host-2026-11-22-03-15-00.tar.gz")],
        b"",
    );
    assert_eq!(code(&one), 0, "{}", stderr(&one));
    assert_eq!(listed(s, "ls/").len(), 2);
    let missing = s.run("s3rm", &[&s.url("ls/backups/nope")], b"");
    assert_eq!(code(&missing), 1);
    assert!(
        stderr(&missing).contains("no such key"),
        "{}",
        stderr(&missing)
    );
    let all = s.run("s3rm", &["--recursive", &s.url("ls/")], b"");
    assert_eq!(code(&all), 0, "{}", stderr(&all));
    assert!(listed(s, "ls/").is_empty());
}

#[test]
fn closed_stdout_stops_s3get_quietly() {
    let s = Server::garage();
    let out = s.put("epipe/x", &random_bytes(30 * MIB, 5), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut cmd = s.cmd("s3get");
    cmd.args([&s.url("epipe/x"), "--part-size", "5MiB"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut first = [0u8; 100];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 141);
    assert_eq!(stderr(&out), "");
}

/// Peak RSS (KiB) of `s3put ARGS…` uploading `total` bytes, streamed in.
fn put_rss(s: &Server, key: &str, total: usize, args: &[&str]) -> u64 {
    let mut cmd = std::process::Command::new("/usr/bin/time");
    s.env_into(&mut cmd);
    cmd.args(["-f", "%M", bin("s3put").to_str().unwrap(), &s.url(key)])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let block = random_bytes(MIB, 99);
    let feeder = std::thread::spawn(move || {
        for _ in 0..total / MIB {
            stdin.write_all(&block).unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    stderr(&out).trim().parse().unwrap()
}

#[test]
fn upload_memory_is_flat_in_input_size() {
    let s = Server::garage();
    // Flat: the same in flight, 4 times the input, no more memory. The
    // allocator's noise is up to 16 MiB (3 alternating runs of each pool
    // design, debug builds: 1 GiB peaked 8.3-16.3 MiB above 256 MiB); one
    // kept buffer per part would be 96 × 8 MiB more.
    let pinned = ["--concurrency", "4"];
    let small = put_rss(s, "rss/256m", 256 * MIB, &pinned);
    let large = put_rss(s, "rss/1g", 1024 * MIB, &pinned);
    assert!(
        large <= small + 32 * 1024,
        "RSS grew with input: {small} KiB -> {large} KiB"
    );
    // At the defaults: within --max-memory (112 MiB) + 48 MiB of the rest;
    // a smaller budget is a smaller peak.
    let bound = (112 + 48) * 1024;
    let default = put_rss(s, "rss/1g", 1024 * MIB, &[]);
    assert!(
        default <= bound,
        "1 GiB upload peaked at {default} KiB > {bound} KiB"
    );
    let budget = put_rss(s, "rss/1g", 1024 * MIB, &["--max-memory", "24MiB"]);
    assert!(
        budget <= (24 + 48) * 1024,
        "with --max-memory 24MiB the upload peaked at {budget} KiB"
    );
    assert_eq!(listed(s, "rss/").len(), 2);

    // s3get of the 1 GiB object: its --max-memory (64 MiB) + 48 MiB of the
    // rest (the HTTP client's read buffers among it).
    let mut cmd = std::process::Command::new("/usr/bin/time");
    s.env_into(&mut cmd);
    let out = cmd
        .args([
            "-f",
            "%M",
            "-o",
            "/dev/stderr",
            bin("s3get").to_str().unwrap(),
            &s.url("rss/1g"),
        ])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let get_rss: u64 = stderr(&out).trim().parse().unwrap();
    let bound = (64 + 48) * 1024;
    assert!(
        get_rss <= bound,
        "1 GiB download peaked at {get_rss} KiB > {bound} KiB"
    );
}

#[test]
fn an_object_replaced_mid_download_is_an_error() {
    let s = Server::garage();
    let key = "changing/x";
    assert_eq!(code(&s.put(key, &random_bytes(60 * MIB, 1), &[])), 0);
    let mut cmd = s.cmd("s3get");
    cmd.args([&s.url(key), "--part-size", "5MiB", "--concurrency", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = vec![0u8; MIB];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    // s3get now waits on us with at most a few ranges fetched; replace it.
    assert_eq!(code(&s.put(key, &random_bytes(60 * MIB, 2), &[])), 0);
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the object changed during the download"),
        "{}",
        stderr(&out)
    );
    assert!(
        first.len() + rest.len() < 60 * MIB,
        "must not deliver a whole object"
    );
}

#[test]
fn expect_size_refuses_a_short_stream() {
    let s = Server::garage();
    let data = random_bytes(7 * MIB, 4);
    let want = (8 * MIB).to_string();
    let out = s.put("expect/short", &data, &["--expect-size", &want]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "input ended early: got {} bytes, --expect-size said {want}",
            7 * MIB
        )),
        "{}",
        stderr(&out)
    );
    assert!(listed(s, "expect/").is_empty());
    assert_eq!(s.uploads("expect/"), 0);
    let less = (6 * MIB).to_string();
    let out = s.put("expect/long", &data, &["--expect-size", &less]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let want = format!(
        "input is longer than --expect-size: got {} bytes, --expect-size said {less}",
        7 * MIB
    );
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    assert!(listed(s, "expect/").is_empty());
    let exact = (7 * MIB).to_string();
    assert_eq!(
        code(&s.put("expect/exact", &data, &["--expect-size", &exact])),
        0
    );
}

#[test]
fn if_none_match_refuses_to_overwrite() {
    let s = Server::garage();
    assert_eq!(code(&s.put("inm/x", b"first", &["--if-none-match"])), 0);
    let out = s.put("inm/x", b"second", &["--if-none-match"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let refused = format!("{} already exists (--if-none-match)", s.url("inm/x"));
    assert!(stderr(&out).contains(&refused), "{}", stderr(&out));
    assert_eq!(get(s, "inm/x").stdout, b"first");
}

#[test]
fn content_type_and_metadata_are_stored() {
    let s = Server::garage();
    // A multipart upload also records its first part's size and how its
    // part size grows (s3get reads the part layout from them).
    for (key, data, metadata) in [
        (
            "meta/small",
            random_bytes(100, 1),
            serde_json::json!({"host": "web1", "kind": "nightly"}),
        ),
        (
            "meta/multipart",
            random_bytes(6 * MIB, 2),
            serde_json::json!({"host": "web1", "kind": "nightly", "s3pipe-part-growth": "1000", "s3pipe-part-size": "5242880"}),
        ),
    ] {
        let out = s.put(
            key,
            &data,
            &[
                "--content-type",
                "application/x-tar",
                "--metadata",
                "host=web1",
                "--metadata",
                "kind=nightly",
            ],
        );
        assert_eq!(code(&out), 0, "{key}: {}", stderr(&out));
        let back = s.run("s3get", &[&s.url(key), "--json"], b"");
        assert_eq!(code(&back), 0, "{}", stderr(&back));
        assert!(back.stdout == data);
        let report: serde_json::Value = serde_json::from_str(stderr(&back).trim()).unwrap();
        assert_eq!(report["content_type"], "application/x-tar", "{key}");
        assert_eq!(report["metadata"], metadata, "{key}");
    }
}

/// On a terminal (a pty from script(1)) s3put and s3get draw a bar with
/// bytes, rate and the parts in flight; `-q` silences it. (With stderr not
/// a terminal nothing is drawn: the quiet-on-success tests cover that.)
#[test]
fn progress_bar_shows_parts_in_flight_on_a_terminal() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let (input, output) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::write(&input, random_bytes(20 * MIB, 5)).unwrap();
    let url = s.url("progress/x");
    let on_terminal = |line: String| {
        let mut cmd = std::process::Command::new("script");
        s.env_into(&mut cmd);
        let out = cmd
            .env("TERM", "xterm")
            .args(["-qefc", &line, "/dev/null"])
            .output()
            .unwrap();
        let screen = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(code(&out), 0, "{line}: {screen}");
        screen
    };
    let (i, o) = (input.display(), output.display());
    let put = on_terminal(format!("s3put --part-size 5MiB {url} < {i}"));
    assert!(put.contains(" parts in flight"), "{put:?}");
    let get = on_terminal(format!("s3get --part-size 5MiB {url} > {o}"));
    assert!(get.contains(" parts in flight"), "{get:?}");
    assert!(std::fs::read(&output).unwrap() == std::fs::read(&input).unwrap());
    let quiet = on_terminal(format!("s3put -q --part-size 5MiB {url} < {i}"));
    assert_eq!(quiet.trim(), "", "-q must print nothing");
    let quiet = on_terminal(format!("s3get -q {url} > {o}"));
    assert_eq!(quiet.trim(), "", "-q must print nothing");
}

/// The `aws s3 cp` object options reach the wire on the request that
/// creates the object (PutObject, CreateMultipartUpload) and on no other.
/// Garage accepts and ignores storage class, SSE, tags and ACLs, so the
/// request heads, seen by a recording proxy, are the evidence; content
/// type and metadata are also read back from the store.
#[test]
fn object_options_are_sent_when_the_object_is_created() {
    let s = Server::garage();
    let rec = support::wire::Recorder::start(&s.endpoint);
    let options = [
        "--storage-class",
        "REDUCED_REDUNDANCY",
        "--sse",
        "aws:kms",
        "--sse-kms-key-id",
        "backup-key",
        "--tag",
        "team=ops",
        "--tag",
        "tier=nightly backup",
        "--acl",
        "bucket-owner-full-control",
        "--content-type",
        "application/gzip",
        "--metadata",
        "host=db1",
    ];
    let expected = [
        "x-amz-storage-class: REDUCED_REDUNDANCY",
        "x-amz-server-side-encryption: aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id: backup-key",
        "x-amz-tagging: team=ops&tier=nightly%20backup",
        "x-amz-acl: bucket-owner-full-control",
        "content-type: application/gzip",
        "x-amz-meta-host: db1",
    ];
    for (key, size, creating) in [
        (
            "opts/single",
            1000,
            "PUT /s3pipe-test/opts/single?x-id=PutObject HTTP",
        ),
        (
            "opts/multi",
            12 * MIB,
            "POST /s3pipe-test/opts/multi?uploads HTTP",
        ),
    ] {
        let url = s.url(key);
        let mut cmd = s.cmd("s3put");
        cmd.env("AWS_ENDPOINT_URL", &rec.endpoint)
            .args(["--part-size", "5MiB", &url])
            .args(options);
        let data = random_bytes(size, 3);
        let out = run_command(cmd, &data);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let heads: Vec<String> = rec
            .heads()
            .into_iter()
            .filter(|h| h.contains(&format!("/{key}")))
            .collect();
        let (create, others): (Vec<&String>, Vec<&String>) =
            heads.iter().partition(|h| h.starts_with(creating));
        assert_eq!(create.len(), 1, "{heads:#?}");
        for header in expected {
            assert!(
                create[0].contains(header),
                "{header} missing: {}",
                create[0]
            );
        }
        // UploadPart, CompleteMultipartUpload: none of them.
        for head in others {
            for header in expected {
                assert!(!head.contains(header), "{header} sent on: {head}");
            }
        }
        let got = s.run("s3get", &["--json", &url], b"");
        assert!(got.stdout == data);
        let info: serde_json::Value = serde_json::from_str(stderr(&got).trim()).unwrap();
        assert_eq!(info["content_type"], "application/gzip");
        assert_eq!(info["metadata"]["host"], "db1");
    }
}

/// One bit flipped on the way (by a corrupting proxy) is caught by each
/// check s3get makes: the stored CRC32C per part or whole, a single part's
/// MD5 ETag and a multipart ETag (MD5 of the parts' MD5s). The error says
/// the bytes already written are suspect; `--no-verify` lets the same
/// corrupted bytes through, which shows it was the check that caught them.
#[test]
fn a_corrupted_download_fails_its_integrity_check() {
    let s = Server::garage();
    let proxy = support::liar::Liar::start(&s.endpoint, support::liar::Lie::FlipBit);
    let data = random_bytes(12 * MIB, 21);
    let small = &data[..1000];
    let cases: [(&str, &[u8], &[&str], &str); 4] = [
        (
            "corrupt/crc-parts",
            &data,
            &["--part-size", "5MiB"],
            "crc32c",
        ),
        ("corrupt/crc-whole", small, &[], "crc32c"),
        ("corrupt/md5-whole", small, &["--checksum", "md5"], "md5"),
        (
            "corrupt/md5-parts",
            &data,
            &["--part-size", "5MiB", "--checksum", "md5"],
            "md5",
        ),
    ];
    for (key, body, put_args, verified) in cases {
        let url = s.url(key);
        let out = s.run("s3put", &[&[url.as_str()][..], put_args].concat(), body);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        // Straight from the store: verified and identical.
        let out = s.run("s3get", &["--json", &url], b"");
        assert!(out.stdout == body, "{key}");
        let info: serde_json::Value = serde_json::from_str(stderr(&out).trim()).unwrap();
        assert_eq!(info["verified"], verified, "{key}");
        // Through the corrupting proxy: caught, exit 1.
        let through = |extra: &[&str]| {
            let mut cmd = s.cmd("s3get");
            cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint)
                .args(extra)
                .arg(&url);
            run_command(cmd, b"")
        };
        let out = through(&[]);
        let err = stderr(&out);
        assert_eq!(code(&out), 1, "{key}: {err}");
        assert!(
            err.contains(&format!("integrity check failed: {verified} "))
                && err
                    .trim_end()
                    .ends_with("the bytes already written are suspect")
                && err.lines().count() == 1,
            "{key}: {err}"
        );
        let out = through(&["--no-verify"]);
        assert_eq!(code(&out), 0, "{key}: {}", stderr(&out));
        assert_eq!(out.stdout.len(), body.len());
        assert!(
            out.stdout != body,
            "{key}: the proxy must have flipped a bit"
        );
    }
}

/// s3put's part size grows (here every 2 parts: 5, 5, 10, 10, then the last
/// 15 of up to 20 MiB) and the object records it, so s3get still knows each
/// part's bounds: the stored per-part CRC32C is verified with ranges of any
/// size (a part's CRC32C is combined from its ranges'); a multipart MD5 ETag
/// in parallel when each part fits in one range of 16 MiB or `--part-size`,
/// else in order by the writer. A flipped bit is caught either way.
#[test]
fn a_growing_part_layout_is_still_verified() {
    let s = Server::garage();
    let proxy = support::liar::Liar::start(&s.endpoint, support::liar::Lie::FlipBit);
    let data = random_bytes(45 * MIB, 8);
    // (s3get --part-size, what it verifies with it)
    let crc_gets = [("8MiB", "crc32c"), ("3MiB", "crc32c"), ("20MiB", "crc32c")];
    // Parts of 5, 5, 10, 10 and 15 MiB: whole ranges even with 4 MiB ones.
    let md5_gets = [("20MiB", "md5"), ("15MiB", "md5"), ("4MiB", "md5")];
    for (key, checksum, gets) in [
        ("grown/crc", "crc32c", &crc_gets),
        ("grown/md5", "md5", &md5_gets),
    ] {
        let url = s.url(key);
        let args = [
            "--part-size",
            "5MiB",
            "--grow-every",
            "2",
            "--checksum",
            checksum,
            "--json",
        ];
        let out = s.run("s3put", &[&[url.as_str()][..], &args].concat(), &data);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["parts"], 5, "{key}");
        for &(range, verified) in gets {
            let out = s.run("s3get", &["--json", "--part-size", range, &url], b"");
            assert!(out.stdout == data, "{key} {range}");
            let info: serde_json::Value = serde_json::from_str(stderr(&out).trim()).unwrap();
            assert_eq!(info["verified"], verified, "{key} {range}");
            if verified == "none" {
                continue;
            }
            let mut cmd = s.cmd("s3get");
            cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint)
                .args(["--part-size", range, &url]);
            let out = run_command(cmd, b"");
            assert_eq!(code(&out), 1, "{key} {range}: {}", stderr(&out));
            assert!(
                stderr(&out).contains(&format!("integrity check failed: {verified} ")),
                "{key} {range}: {}",
                stderr(&out)
            );
        }
    }
    // 17 MiB parts exceed 16 MiB: whole ranges with --part-size 17MiB,
    // hashed in order by the writer with 4 MiB ranges; caught either way.
    let url = s.url("grown/md5-large");
    let put_args = ["--part-size", "17MiB", "--checksum", "md5"];
    let out = s.run("s3put", &[&[url.as_str()][..], &put_args].concat(), &data);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for range in ["4MiB", "17MiB"] {
        let out = s.run("s3get", &["--json", "--part-size", range, &url], b"");
        assert!(out.stdout == data, "{range}");
        let info: serde_json::Value = serde_json::from_str(stderr(&out).trim()).unwrap();
        assert_eq!(info["verified"], "md5", "{range}");
        let mut cmd = s.cmd("s3get");
        cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint)
            .args(["--part-size", range, &url]);
        let out = run_command(cmd, b"");
        assert_eq!(code(&out), 1, "{range}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("integrity check failed: md5 "),
            "{}",
            stderr(&out)
        );
    }
}

/// `s3put --exec URL -- CMD ARGS…`: what the producer writes becomes the
/// object only if it exits 0. One that fails or is killed after writing a
/// whole stream (one part or several) leaves no object and no upload.
#[test]
fn exec_completes_the_object_only_if_the_producer_exits_0() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let data = random_bytes(20 << 20, 21);
    let file = tmp.path().join("dump");
    std::fs::write(&file, &data).unwrap();
    let f = file.to_str().unwrap();
    let ok = s.run("s3put", &["--exec", &s.url("exec/ok"), "--", "cat", f], b"");
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    assert_eq!(s.run("s3get", &[&s.url("exec/ok")], b"").stdout, data);
    for (key, script, why) in [
        (
            "exec/multi",
            format!("cat {f}; exit 1"),
            "exited with status 1",
        ),
        (
            "exec/one",
            "printf small; exit 2".to_string(),
            "exited with status 2",
        ),
        (
            "exec/killed",
            format!("cat {f}; kill -9 $$"),
            "was killed by signal 9",
        ),
    ] {
        let out = s.run(
            "s3put",
            &["--exec", &s.url(key), "--", "sh", "-c", &script],
            b"",
        );
        assert_eq!(code(&out), 1, "{key}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("reading input: `sh -c {script}` {why}")),
            "{key}: {}",
            stderr(&out)
        );
        assert!(listed(s, key).is_empty(), "{key}: no object");
        assert_eq!(s.uploads(key), 0, "{key}: no upload left");
    }
}
