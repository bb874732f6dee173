//! What s3pipe puts on the wire and whom it trusts, as other stores and
//! their users need it: `--checksum` means exactly what it says in the
//! request heads (a recording proxy sees them), the AWS settings that turn
//! checksums down are honoured, and an HTTPS endpoint with a private CA
//! works through `AWS_CA_BUNDLE`, the profile's `ca_bundle` and
//! `--ca-bundle`.

mod support;

use support::s3::Server;
use support::*;

/// Environment variables for one run, on top of the server's.
type Env<'a> = &'a [(&'a str, &'a str)];

/// The heads of the requests that carried `key`'s data: PutObject or
/// UploadPart.
fn data_heads(rec: &wire::Recorder, key: &str) -> Vec<String> {
    rec.heads()
        .into_iter()
        .filter(|h| {
            h.starts_with("PUT ") && h.lines().next().unwrap().contains(&format!("/{key}?"))
        })
        .collect()
}

/// The integrity headers of a request head, by name.
fn integrity(head: &str) -> Vec<String> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.to_string())
        .filter(|n| {
            n.starts_with("x-amz-checksum-")
                || n == "x-amz-sdk-checksum-algorithm"
                || n == "content-md5"
                || n == "x-amz-trailer"
        })
        .collect()
}

/// Upload `size` bytes through a recording proxy with `args` and `env`,
/// check the round trip, and return the integrity headers of every data
/// request.
fn sent(
    s: &Server,
    key: &str,
    size: usize,
    args: &[&str],
    env: &[(&str, &str)],
) -> Vec<Vec<String>> {
    let rec = wire::Recorder::start(&s.endpoint);
    let mut cmd = s.cmd("s3put");
    cmd.env("AWS_ENDPOINT_URL", &rec.endpoint)
        .args([&s.url(key), "--part-size", "5MiB"])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let data = random_bytes(size, size as u64);
    let out = run_command(cmd, &data);
    assert_eq!(code(&out), 0, "{key} {args:?} {env:?}: {}", stderr(&out));
    let back = s.run("s3get", &[&s.url(key)], b"");
    assert_eq!(code(&back), 0, "{}", stderr(&back));
    assert!(back.stdout == data, "{key}: bytes differ");
    let heads = data_heads(&rec, key);
    assert_eq!(heads.len(), size.div_ceil(5 * MIB), "{heads:#?}");
    heads.iter().map(|h| integrity(h)).collect()
}

/// Every `--checksum` value puts its own header on PutObject and on every
/// UploadPart, and nothing else; `none` puts nothing (the SDK's own CRC32,
/// sent by default since 2025, is what broke R2, OVH and Ceph for others).
#[test]
fn checksum_flag_is_what_goes_on_the_wire() {
    let s = Server::garage();
    for (alg, want) in [
        ("crc32c", &["x-amz-checksum-crc32c"][..]),
        ("crc32", &["x-amz-checksum-crc32"]),
        ("crc64nvme", &["x-amz-checksum-crc64nvme"]),
        ("sha256", &["x-amz-checksum-sha256"]),
        ("md5", &["content-md5"]),
        ("none", &[]),
    ] {
        for size in [1000, 12 * MIB] {
            let key = format!("wire/{alg}-{size}");
            for headers in sent(s, &key, size, &["--checksum", alg], &[]) {
                let mut headers = headers;
                headers.retain(|h| h != "x-amz-sdk-checksum-algorithm");
                assert_eq!(headers, want, "{key}");
            }
        }
    }
}

/// `AWS_REQUEST_CHECKSUM_CALCULATION=when_required` (the AWS SDKs' switch
/// for stores that refuse the new checksums), or the same key in the
/// profile, makes the default Content-MD5: no `x-amz-checksum-*` header,
/// and still a check the store makes (parts go with an unsigned payload).
/// An explicit `--checksum` still wins.
#[test]
fn when_required_turns_the_default_into_content_md5() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config");
    std::fs::write(
        &config,
        "[default]\nrequest_checksum_calculation = when_required\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let by_env = [("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")];
    let by_profile = [("AWS_CONFIG_FILE", config)];
    for (name, env) in [("env", &by_env), ("profile", &by_profile)] {
        for size in [1000, 12 * MIB] {
            let key = format!("wire/required-{name}-{size}");
            for headers in sent(s, &key, size, &[], env) {
                assert_eq!(headers, ["content-md5"], "{key}");
            }
        }
    }
    for headers in sent(
        s,
        "wire/required-crc",
        1000,
        &["--checksum", "crc32c"],
        &by_env,
    ) {
        assert!(
            headers.contains(&"x-amz-checksum-crc32c".to_string()),
            "{headers:?}"
        );
    }
    // The default without either setting is CRC32C.
    for headers in sent(s, "wire/default", 12 * MIB, &[], &[]) {
        assert!(
            headers.contains(&"x-amz-checksum-crc32c".to_string()),
            "{headers:?}"
        );
        assert!(!headers.contains(&"content-md5".to_string()), "{headers:?}");
    }
}

/// A store behind HTTPS with a private CA: refused as the system's roots
/// do not know it; trusted through `AWS_CA_BUNDLE`, the profile's
/// `ca_bundle` or `--ca-bundle` (as the AWS CLI has them), for uploads,
/// downloads and listings alike. A bundle that holds no certificate is a
/// one-line error before anything is sent.
#[test]
fn a_private_ca_is_trusted_through_aws_ca_bundle_the_profile_and_the_flag() {
    let s = Server::garage();
    let front = tls::TlsFront::start(&s.endpoint);
    let ca = front.ca.to_str().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config");
    std::fs::write(&config, format!("[default]\nca_bundle = {ca}\n")).unwrap();
    let bad = tmp.path().join("empty.pem");
    std::fs::write(&bad, "no certificate here\n").unwrap();
    let https = |tool: &str, args: &[&str], env: &[(&str, &str)], stdin: &[u8]| {
        let mut cmd = s.cmd(tool);
        cmd.env("AWS_ENDPOINT_URL", &front.endpoint)
            .args(["--retries", "0"])
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_command(cmd, stdin)
    };
    let data = random_bytes(7 * MIB, 5);
    let url = s.url("tls/object");

    let out = https("s3put", &[&url], &[], &data);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("UnknownIssuer"), "{}", stderr(&out));
    assert!(s.keys("tls/").is_empty());

    let config = config.to_str().unwrap();
    let ways: [(&[&str], Env); 3] = [
        (&[], &[("AWS_CA_BUNDLE", &ca)]),
        (&[], &[("AWS_CONFIG_FILE", config)]),
        (&["--ca-bundle", &ca], &[]),
    ];
    for (flags, env) in ways {
        let mut put: Vec<&str> = flags.to_vec();
        put.push(&url);
        let out = https("s3put", &put, env, &data);
        assert_eq!(code(&out), 0, "{flags:?} {env:?}: {}", stderr(&out));
        let out = https("s3get", &put, env, b"");
        assert_eq!(code(&out), 0, "{flags:?} {env:?}: {}", stderr(&out));
        assert!(out.stdout == data, "{flags:?} {env:?}: bytes differ");
        let mut ls: Vec<&str> = flags.to_vec();
        ls.push("s3://s3pipe-test/tls/");
        let out = https("s3ls", &ls, env, b"");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("object"));
    }

    let bad = bad.to_str().unwrap();
    let out = https(
        "s3put",
        &["--ca-bundle", bad, &s.url("tls/bad")],
        &[],
        &data,
    );
    assert_eq!(code(&out), 1);
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "s3put: upload of s3://s3pipe-test/tls/bad aborted: CA bundle {bad}: no certificate in it"
        )
    );
    let out = https(
        "s3get",
        &[&url],
        &[("AWS_CA_BUNDLE", "/nonexistent/ca.pem")],
        b"",
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("CA bundle /nonexistent/ca.pem: No such file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.keys("tls/"), ["tls/object"]);
}

/// `--no-verify-ssl` takes a certificate nobody vouches for, as the AWS
/// CLI's flag does, and says so in one line (none with `-q`); the
/// multipart upload, the download and the listing all go through it.
#[test]
fn no_verify_ssl_takes_any_certificate_and_says_so() {
    let s = Server::garage();
    let front = tls::TlsFront::start(&s.endpoint);
    let https = |tool: &str, args: &[&str], stdin: &[u8]| {
        let mut cmd = s.cmd(tool);
        cmd.env("AWS_ENDPOINT_URL", &front.endpoint)
            .args(["--retries", "0", "--no-verify-ssl"])
            .args(args);
        run_command(cmd, stdin)
    };
    let warning = |tool: &str| {
        format!("{tool}: warning: --no-verify-ssl: the server's certificate is not checked")
    };
    let data = random_bytes(11 * MIB, 6);
    let url = s.url("insecure/object");
    let out = https("s3put", &["--part-size", "5MiB", &url], &data);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out).trim(), warning("s3put"));
    let out = https("s3get", &[&url], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stdout == data, "bytes differ");
    assert_eq!(stderr(&out).trim(), warning("s3get"));
    let out = https("s3ls", &["s3://s3pipe-test/insecure/"], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("object"));
    let out = https("s3get", &["-q", &url], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    // Without the flag the same endpoint is refused.
    let mut cmd = s.cmd("s3get");
    cmd.env("AWS_ENDPOINT_URL", &front.endpoint)
        .args(["--retries", "0", &url]);
    let out = run_command(cmd, b"");
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("UnknownIssuer"), "{}", stderr(&out));
}

/// Upload `data` to `key` with boto3 in 32 MiB parts, as a Python job
/// would (botocore's defaults: it stores CRC32 since 2025).
fn boto3_upload(s: &Server, key: &str, data: &[u8]) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("data");
    std::fs::write(&file, data).unwrap();
    let script = format!(
        "import boto3\nfrom boto3.s3.transfer import TransferConfig\n\
         boto3.client('s3', region_name='us-east-1').upload_file({file:?}, {bucket:?}, {key:?},\n\
         Config=TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=32 << 20, use_threads=False))\n",
        file = file.to_str().unwrap(),
        bucket = s.bucket,
    );
    let mut cmd = std::process::Command::new("python3");
    s.env_into(&mut cmd);
    cmd.args(["-c", &script]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "boto3: {}", stderr(&out));
}

/// s3get through `endpoint` (a lying proxy), with `extra` flags.
fn get_via(s: &Server, endpoint: &str, key: &str, extra: &[&str]) -> std::process::Output {
    let mut cmd = s.cmd("s3get");
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .args(["--json", "--retries", "0", &s.url(key)])
        .args(extra);
    run_command(cmd, b"")
}

/// Objects that boto3 and s3put uploaded, with every kind of checksum a
/// store holds (full-object or composite CRC32, CRC32C, SHA-256, a
/// multipart ETag with parts over 16 MiB): s3get verifies each, and
/// through a proxy that answers a range with another range's bytes, flips
/// a byte, names another range or reports a shorter size in HEAD it never
/// exits 0 with wrong bytes.
#[test]
fn s3get_never_exits_0_with_wrong_bytes_whoever_uploaded_the_object() {
    use support::liar::{Liar, Lie};
    let s = Server::garage();
    let data = random_bytes(70 * MIB, 70);
    boto3_upload(s, "foreign/boto3", &data);
    let uploads: [(&str, &[&str]); 4] = [
        ("foreign/s3put", &[]),
        (
            "foreign/crc32",
            &["--checksum", "crc32", "--part-size", "5MiB"],
        ),
        (
            "foreign/sha256",
            &["--checksum", "sha256", "--part-size", "6MiB"],
        ),
        (
            "foreign/md5-20m",
            &["--checksum", "md5", "--part-size", "20MiB"],
        ),
    ];
    for (key, args) in uploads {
        let mut put = vec![s.url(key)];
        put.extend(args.iter().map(|a| a.to_string()));
        let put: Vec<&str> = put.iter().map(String::as_str).collect();
        let out = s.run("s3put", &put, &data);
        assert_eq!(code(&out), 0, "{key}: {}", stderr(&out));
    }
    let flip = Liar::start(&s.endpoint, Lie::FlipBit);
    let liars = [Lie::OtherRange, Lie::WrongContentRange, Lie::ShortHead]
        .map(|lie| (lie, Liar::start(&s.endpoint, lie)));
    for key in [
        "foreign/boto3",
        "foreign/s3put",
        "foreign/crc32",
        "foreign/sha256",
        "foreign/md5-20m",
    ] {
        let out = get_via(s, &s.endpoint, key, &[]);
        assert_eq!(code(&out), 0, "{key}: {}", stderr(&out));
        assert!(out.stdout == data, "{key}: bytes differ");
        let report: serde_json::Value = serde_json::from_str(stderr(&out).trim()).unwrap();
        assert_ne!(report["verified"], "none", "{key}: {report}");
        let out = get_via(s, &flip.endpoint, key, &[]);
        assert_eq!(code(&out), 1, "{key} flipped: exit 0 with wrong bytes");
        assert!(
            stderr(&out).contains("integrity check failed"),
            "{key}: {}",
            stderr(&out)
        );
        for (lie, liar) in &liars {
            let out = get_via(s, &liar.endpoint, key, &[]);
            assert_eq!(code(&out), 1, "{key} {lie:?}: exit 0 with wrong bytes");
            let why = match lie {
                Lie::OtherRange => "integrity check failed",
                _ => "the server answered bytes",
            };
            assert!(
                stderr(&out).contains(why),
                "{key} {lie:?}: {}",
                stderr(&out)
            );
        }
    }
}

/// An object with nothing to verify against (no stored checksum, an ETag
/// that is no MD5, as with SSE-KMS) is written with one warning line, or
/// refused before a byte is written with `--require-checksum`.
#[test]
fn nothing_to_verify_is_said_or_refused() {
    use support::liar::{Liar, Lie};
    let s = Server::garage();
    let data = random_bytes(9 * MIB, 9);
    let out = s.run("s3put", &[&s.url("opaque/object")], &data);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let opaque = Liar::start(&s.endpoint, Lie::Opaque);
    let out = get_via(s, &opaque.endpoint, "opaque/object", &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stdout == data);
    let lines: Vec<&str> = std::str::from_utf8(&out.stderr).unwrap().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        lines[0],
        "s3get: s3://s3pipe-test/opaque/object: nothing to verify the bytes against (no stored checksum, and the ETag is not an MD5): written unverified"
    );
    assert!(lines[1].contains("\"verified\":\"none\""), "{}", lines[1]);
    let out = get_via(
        s,
        &opaque.endpoint,
        "opaque/object",
        &["--require-checksum"],
    );
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    assert_eq!(
        stderr(&out).trim(),
        "s3get: download of s3://s3pipe-test/opaque/object failed: s3://s3pipe-test/opaque/object: nothing to verify the bytes against (no stored checksum, and the ETag is not an MD5) (--require-checksum)"
    );
}

/// A Complete whose answer is NoSuchUpload (what a retried Complete meets
/// once the first try completed) while an older object of the same size
/// and part count sits at the key: HEAD finds that object, but it is not
/// this upload. s3put exits 1, aborts its upload, and the old object is
/// left as it was. A reply lost after the store completed is still
/// success.
#[test]
fn a_refused_complete_never_reports_an_older_object_as_this_upload() {
    use support::liar::{Liar, Lie};
    let s = Server::garage();
    let old = random_bytes(12 * MIB, 1);
    let out = s.run(
        "s3put",
        &[&s.url("complete/key"), "--part-size", "5MiB"],
        &old,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let liar = Liar::start(&s.endpoint, Lie::NoSuchUploadOnComplete);
    let mut cmd = s.cmd("s3put");
    cmd.env("AWS_ENDPOINT_URL", &liar.endpoint).args([
        &s.url("complete/key"),
        "--part-size",
        "5MiB",
        "--retries",
        "0",
    ]);
    let out = run_command(cmd, &random_bytes(12 * MIB, 2));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("completing the upload failed (no such upload"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("is not this upload"),
        "{}",
        stderr(&out)
    );
    assert!(s.run("s3get", &[&s.url("complete/key")], b"").stdout == old);
    assert_eq!(s.uploads("complete/key"), 0, "the upload is aborted");

    // The reply lost after the store completed: the retry meets
    // NoSuchUpload, HEAD finds this very upload (its multipart ETag from
    // the parts' ETags), and that is success, with one object.
    let liar = Liar::start(&s.endpoint, Lie::LostCompleteReply);
    let new = random_bytes(12 * MIB, 3);
    let mut cmd = s.cmd("s3put");
    cmd.env("AWS_ENDPOINT_URL", &liar.endpoint).args([
        &s.url("complete/key"),
        "--part-size",
        "5MiB",
        "--json",
    ]);
    let out = run_command(cmd, &new);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["retries"].as_u64().unwrap() >= 1, "{report}");
    let back = s.run("s3get", &["--json", &s.url("complete/key")], b"");
    assert!(back.stdout == new);
    let info: serde_json::Value = serde_json::from_str(stderr(&back).trim()).unwrap();
    assert_eq!(info["etag"], report["etag"]);
    assert_eq!(s.uploads("complete/key"), 0);
}

/// A store that accepts a GET and never answers ends within the idle
/// timeout per attempt, not the SDK's 300 s.
#[test]
fn a_request_that_is_never_answered_ends_within_the_idle_timeout() {
    use support::liar::{Liar, Lie};
    let s = Server::garage();
    let data = random_bytes(3 * MIB, 3);
    let out = s.run("s3put", &[&s.url("silent/object")], &data);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let liar = Liar::start(&s.endpoint, Lie::SilentGet);
    let mut cmd = s.cmd("s3get");
    cmd.env("AWS_ENDPOINT_URL", &liar.endpoint).args([
        "--idle-timeout",
        "1s",
        "--retries",
        "1",
        &s.url("silent/object"),
    ]);
    let started = std::time::Instant::now();
    let out = run_command(cmd, b"");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr(&out).contains("failed after 2 attempts: no response for 1s"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

/// A store that takes a part, or a whole small object, and never answers
/// ends s3put within `--request-timeout` per try, not the SDK's 300 s:
/// exit 1, the reason, nothing stored and no upload left behind.
#[test]
fn a_put_that_is_never_answered_ends_within_the_request_timeout() {
    use support::liar::{Liar, Lie};
    let s = Server::garage();
    let liar = Liar::start(&s.endpoint, Lie::SilentPut);
    for (key, size) in [("silent/small", MIB), ("silent/parts", 11 * MIB)] {
        let mut cmd = s.cmd("s3put");
        cmd.env("AWS_ENDPOINT_URL", &liar.endpoint).args([
            "--request-timeout",
            "1s",
            "--retries",
            "1",
            "--part-size",
            "5MiB",
            &s.url(key),
        ]);
        let started = std::time::Instant::now();
        let out = run_command(cmd, &random_bytes(size, 5));
        let took = started.elapsed();
        assert_eq!(code(&out), 1, "{key}: {}", stderr(&out));
        assert!(took < std::time::Duration::from_secs(30), "{key}: {took:?}");
        assert!(
            stderr(&out).contains("failed after 2 attempts: no response for 1s"),
            "{key}: {}",
            stderr(&out)
        );
        assert!(s.keys(key).is_empty(), "{key} was stored");
        assert_eq!(s.uploads(key), 0, "{key}: an upload was left");
    }
}

/// A listing is complete or an error: a body cut mid-XML, a page that
/// says more follows without saying where, and a store that hands out
/// the same continuation twice fail s3ls, `--latest` and s3prune (which
/// then deletes nothing) instead of giving part of the list.
#[test]
fn a_cut_or_looping_listing_is_an_error_and_prune_deletes_nothing() {
    use support::liar::{Liar, Lie};
    let s = Server::garage();
    for i in 0..12 {
        let key = format!("listing/host-2026-01-{:02}-03-00-00.tar.gz", i + 1);
        let out = s.run("s3put", &["--verify", "none", &s.url(&key)], b"x");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    for lie in [
        Lie::CutListing,
        Lie::TruncatedWithoutToken,
        Lie::RepeatedToken,
    ] {
        let liar = Liar::start(&s.endpoint, lie);
        let via = |tool: &str, args: &[&str]| {
            let mut cmd = s.cmd(tool);
            cmd.env("AWS_ENDPOINT_URL", &liar.endpoint)
                .args(["--retries", "0"])
                .args(args);
            run_command(cmd, b"")
        };
        let prefix = s.url("listing/host-");
        for (tool, args) in [
            ("s3ls", vec!["--recursive", prefix.as_str()]),
            ("s3ls", vec!["--latest", prefix.as_str()]),
            ("s3prune", vec!["--keep-last", "1", prefix.as_str()]),
        ] {
            let out = via(tool, &args);
            assert_eq!(
                code(&out),
                1,
                "{lie:?} {tool} {args:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            let why = match lie {
                Lie::CutListing => {
                    "the store's answer (HTTP 200) could not be read: malformed or cut short"
                }
                Lie::TruncatedWithoutToken => {
                    "incomplete listing: a listing page says more follows but not where"
                }
                _ => "incomplete listing: the listing's continuation \"loop\" came twice",
            };
            assert!(
                stderr(&out).contains(why),
                "{lie:?} {tool}: {}",
                stderr(&out)
            );
            assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        }
        assert_eq!(s.keys("listing/").len(), 12, "{lie:?}: nothing deleted");
    }
}

/// `s3rm --uploads` lists an upload, and by the time it aborts it the
/// upload is gone (completed meanwhile; a Garage cluster lists completed
/// uploads for a while): the clean-up's goal holds, so it is no failure.
#[test]
fn an_upload_gone_before_its_abort_is_no_failure() {
    use support::liar::{Liar, Lie};
    let s = Server::garage();
    let out = s.interrupted_upload("gone/key", &[], nix::sys::signal::Signal::SIGKILL);
    assert_eq!(out.status.code(), None, "killed");
    assert_eq!(s.uploads("gone/"), 1);
    let liar = Liar::start(&s.endpoint, Lie::NoSuchUploadOnAbort);
    let mut cmd = s.cmd("s3rm");
    cmd.env("AWS_ENDPOINT_URL", &liar.endpoint).args([
        "--uploads",
        "--retries",
        "0",
        &s.url("gone/"),
    ]);
    let out = run_command(cmd, b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("aborted s3://s3pipe-test/gone/key (upload "),
        "{said}"
    );
    assert!(said.trim_end().ends_with("(already gone)"), "{said}");
    let out = s.run("s3rm", &["--uploads", &s.url("gone/")], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.uploads("gone/"), 0);
}

/// moto's server: HEAD ?partNumber=1 answers with the part's own ETag and
/// no Content-Range, the CRC32C it stores for a multipart object is
/// neither the whole's nor the composite, and its Complete answer's root
/// element is one the SDK cannot read. Round trips still come back
/// byte-identical and verified, listings and deletions work.
#[test]
fn moto_round_trips_verified_despite_its_part_head() {
    let s = Server::moto();
    for (i, size) in [1usize, 5 * MIB - 1, 5 * MIB + 1, 35 * MIB / 2]
        .into_iter()
        .enumerate()
    {
        let key = format!("moto/size-{size}");
        let data = random_bytes(size, 40 + i as u64);
        let out = s.run(
            "s3put",
            &[&s.url(&key), "--part-size", "5MiB", "--json"],
            &data,
        );
        assert_eq!(code(&out), 0, "{size}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["parts"], size.div_ceil(5 * MIB), "{report}");
        let back = s.run(
            "s3get",
            &["--json", "--part-size", "2MiB", &s.url(&key)],
            b"",
        );
        assert_eq!(code(&back), 0, "{size}: {}", stderr(&back));
        assert!(back.stdout == data, "{size}: bytes differ");
        let info: serde_json::Value = serde_json::from_str(stderr(&back).trim()).unwrap();
        assert_ne!(info["verified"], "none", "{size}: {info}");
    }
    assert_eq!(s.keys("moto/").len(), 4);
    assert_eq!(s.uploads("moto/"), 0);
    let out = s.run("s3rm", &["--recursive", "-q", &s.url("moto/")], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(s.keys("moto/").is_empty());
}

/// Stores limited to 1,000 parts (Scaleway, OVH): `--max-parts N` makes
/// the part size grow to fit N parts (a tenth of N between doublings),
/// recorded so that s3get still verifies every part; fixed parts past N
/// fail clearly with nothing stored.
#[test]
fn max_parts_fits_the_growth_to_the_store() {
    let s = Server::garage();
    let data = random_bytes(31 * MIB, 31);
    let url = s.url("maxparts/grown");
    let out = s.run(
        "s3put",
        &[&url, "--part-size", "5MiB", "--max-parts", "4", "--json"],
        &data,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["parts"], 3, "5 + 10 + 20 MiB: {report}");
    let back = s.run("s3get", &["--json", "--part-size", "3MiB", &url], b"");
    assert!(back.stdout == data);
    let info: serde_json::Value = serde_json::from_str(stderr(&back).trim()).unwrap();
    assert_eq!(info["verified"], "crc32c");
    assert_eq!(info["metadata"]["s3pipe-part-growth"], "1");

    let fixed = s.url("maxparts/fixed");
    let args = [
        fixed.as_str(),
        "--part-size",
        "5MiB",
        "--max-parts",
        "4",
        "--fixed-part-size",
    ];
    let out = s.run("s3put", &args, &data);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("input is larger than 4 parts of 5242880"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.keys("maxparts/"), ["maxparts/grown"]);
    assert_eq!(s.uploads("maxparts/"), 0);
}

/// Ceph RGW 16 (Debian's radosgw): its HEAD ignores `partNumber`, so
/// s3get takes the layout from the ETag's `-N` and what s3put recorded
/// (`s3pipe-part-size`) and still verifies multipart objects; it stores no
/// checksums (the MD5 ETag is the check). `--if-none-match` never
/// overwrites there, single or multipart.
#[test]
fn ceph_rgw_round_trips_verified_and_if_none_match_holds() {
    let s = Server::ceph();
    for (i, size) in [1usize, 5 * MIB + 1, 35 * MIB / 2].into_iter().enumerate() {
        let key = format!("ceph/size-{size}");
        let data = random_bytes(size, 60 + i as u64);
        let out = s.run(
            "s3put",
            &[&s.url(&key), "--part-size", "5MiB", "--json"],
            &data,
        );
        assert_eq!(code(&out), 0, "{size}: {}", stderr(&out));
        let back = s.run("s3get", &["--json", &s.url(&key)], b"");
        assert_eq!(code(&back), 0, "{size}: {}", stderr(&back));
        assert!(back.stdout == data, "{size}: bytes differ");
        let info: serde_json::Value = serde_json::from_str(stderr(&back).trim()).unwrap();
        assert_eq!(info["verified"], "md5", "{size}: {info}");
        let again = s.run(
            "s3put",
            &[&s.url(&key), "--part-size", "5MiB", "--if-none-match"],
            &random_bytes(size, 1),
        );
        assert_eq!(code(&again), 1, "{size}: {}", stderr(&again));
        assert!(
            stderr(&again).contains("already exists"),
            "{}",
            stderr(&again)
        );
        assert!(
            s.run("s3get", &[&s.url(&key)], b"").stdout == data,
            "{size}: overwritten"
        );
    }
    assert_eq!(s.keys("ceph/").len(), 3);
    assert_eq!(s.uploads("ceph/"), 0);
    let out = s.run("s3rm", &["--recursive", "-q", &s.url("ceph/")], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(s.keys("ceph/").is_empty());
}
