//! What s3pipe puts on the wire and whom it trusts, as other stores and
//! their users need it: `--checksum` means exactly what it says in the
//! request heads (a recording proxy sees them), the AWS settings that turn
//! checksums down are honoured, and an HTTPS endpoint with a private CA
//! works through `AWS_CA_BUNDLE`, the profile's `ca_bundle` and
//! `--ca-bundle`.

mod support;

use support::s3::Server;
use support::*;

const MIB: usize = 1 << 20;

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
