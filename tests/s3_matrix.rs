//! The same transfer, listing, retention, encryption and job cases against
//! every store `make test` runs: Garage, s3s-fs, Ceph RGW 16 (reached over
//! HTTPS with a private CA, as on-premises stores are) and moto's server.
//! What a store does differently is a rule in [`STORES`], asserted as the
//! store behaves — never a case skipped — and README's compatibility table
//! is rendered from the same rules (`readme_table_is_the_rules`).

mod support;

use std::path::Path;

use support::s3::{Server, script};
use support::*;

/// `s3put --tag`, as each store takes it.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Tags {
    /// Stored; GetObjectTagging gives them back.
    Stored,
    /// The object is stored without them; GetObjectTagging answers this.
    Ignored(&'static str),
}

/// What one store does, as these tests find it.
struct Rules {
    store: &'static str,
    server: fn() -> &'static Server,
    /// The checksum the store keeps for an object s3put stored in parts
    /// with its defaults (CRC32C), as HeadObject's ChecksumMode shows it.
    kept: &'static str,
    /// s3get's `verified` for an object s3put stored in parts (defaults):
    /// `crc32c` where the store kept s3put's checksum, `md5` (the ETag's)
    /// where it keeps none.
    verified: &'static str,
    /// A GET whose If-Match the object lacks is refused (412): s3get pins
    /// every range to the object it started with.
    if_match: bool,
    tags: Tags,
    /// ListMultipartUploads answers (`s3ls --uploads`).
    lists_uploads: bool,
    /// What s3pipe does differently there.
    differently: &'static str,
}

const STORES: [Rules; 4] = [
    Rules {
        store: "Garage 2.5",
        server: Server::garage,
        kept: "CRC32C",
        verified: "crc32c",
        if_match: true,
        tags: Tags::Ignored("NotImplemented"),
        lists_uploads: true,
        differently: "—",
    },
    Rules {
        store: "s3s-fs 0.14",
        server: Server::s3s_fs,
        kept: "none",
        verified: "md5",
        if_match: false,
        tags: Tags::Ignored("NotImplemented"),
        lists_uploads: false,
        differently: "If-Match ignored: s3get checks each range's ETag instead",
    },
    Rules {
        store: "Ceph RGW 16 (HTTPS, private CA)",
        server: Server::ceph_tls,
        kept: "none",
        verified: "md5",
        if_match: true,
        tags: Tags::Stored,
        lists_uploads: true,
        differently: "HEAD ignores `partNumber`: s3get follows the layout s3put recorded; Complete ignores If-None-Match: s3put checks the key first",
    },
    Rules {
        store: "moto 5 server",
        server: Server::moto,
        kept: "CRC32C",
        verified: "md5",
        if_match: true,
        tags: Tags::Stored,
        lists_uploads: true,
        differently: "its CRC32C is neither the whole's nor the composite's: not trusted; a part HEAD gives the part's ETag: a plain HEAD gives the identity",
    },
];

fn rules(store: &str) -> &'static Rules {
    STORES.iter().find(|r| r.store.starts_with(store)).unwrap()
}

/// Run boto3 `code` (with `c`, a client for `s`) and return its stdout.
fn boto3(s: &Server, code: &str) -> String {
    let mut cmd = std::process::Command::new("python3");
    s.env_into(&mut cmd);
    cmd.arg("-c").arg(format!(
        "import boto3, botocore.config, os\n\
         c = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name='us-east-1', \
         config=botocore.config.Config(s3={{'addressing_style': 'path'}}))\n{code}"
    ));
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "boto3: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The checksums HeadObject (ChecksumMode ENABLED) shows for `key`, by
/// name, or `none`.
fn kept(s: &Server, key: &str) -> String {
    boto3(
        s,
        &format!(
            "h = c.head_object(Bucket='{}', Key='{key}', ChecksumMode='ENABLED')\n\
             print(' '.join(k[len('Checksum'):].upper() for k in sorted(h) if k.startswith('Checksum') and k != 'ChecksumType') or 'none')",
            s.bucket
        ),
    )
}

fn get_json(s: &Server, key: &str) -> (Vec<u8>, serde_json::Value) {
    let out = s.run("s3get", &["--json", &s.url(key)], b"");
    assert_eq!(code(&out), 0, "{} {key}: {}", s.name, stderr(&out));
    let info = serde_json::from_str(stderr(&out).trim()).unwrap();
    (out.stdout, info)
}

/// Round trips at the part boundaries, growing parts, odd keys, a cut
/// stream, conditional writes, If-Match and tags.
fn transfer(r: &Rules) {
    let s = (r.server)();
    for (i, size) in [1, 5 * MIB, 5 * MIB + 1, 16 * MIB].into_iter().enumerate() {
        let key = format!("matrix/size-{size}");
        let data = random_bytes(size, i as u64);
        let out = s.put(&key, &data, &[]);
        assert_eq!(code(&out), 0, "{} {key}: {}", s.name, stderr(&out));
        let (back, info) = get_json(s, &key);
        assert!(back == data, "{} {key}: bytes differ", s.name);
        if size > 5 * MIB {
            assert_eq!(info["verified"], r.verified, "{} {key}: {info}", s.name);
            assert_eq!(kept(s, &key), r.kept, "{} {key}", s.name);
        }
    }
    // A stream of unknown size in parts that grow to fit 4 parts.
    let data = random_bytes(31 * MIB, 31);
    let url = s.url("matrix/grown");
    let args = [&url, "--part-size", "5MiB", "--max-parts", "4", "--json"];
    let out = s.run("s3put", &args, &data);
    assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["parts"], 3, "{}: {report}", s.name);
    let (back, info) = get_json(s, "matrix/grown");
    assert!(back == data, "{}: grown parts differ", s.name);
    assert_eq!(info["verified"], r.verified, "{}: {info}", s.name);

    let odd = "matrix/odd key ü+&=#?.bin";
    let out = s.put(odd, b"odd", &[]);
    assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
    assert_eq!(get_json(s, odd).0, b"odd");

    // Empty: refused unless allowed, then an empty object.
    let out = s.put("matrix/empty", b"", &[]);
    assert_eq!(code(&out), 1, "{}: {}", s.name, stderr(&out));
    assert!(s.keys("matrix/empty").is_empty(), "{}", s.name);
    assert_eq!(code(&s.put("matrix/empty", b"", &["--allow-empty"])), 0);
    assert_eq!(get_json(s, "matrix/empty").0, b"");

    // SIGTERM mid-upload: exit 143, the upload aborted, nothing stored.
    if r.lists_uploads {
        let out = s.interrupted_upload("matrix/term", &[], nix::sys::signal::Signal::SIGTERM);
        assert_eq!(code(&out), 143, "{}: {}", s.name, stderr(&out));
        assert_eq!(
            s.uploads("matrix/term"),
            0,
            "{}: an upload was left",
            s.name
        );
        assert!(s.keys("matrix/term").is_empty(), "{}", s.name);
    }

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("blob"), random_bytes(12 * MIB, 7)).unwrap();
    let whole = run(
        bin("pack"),
        &["-C", tmp.path().to_str().unwrap(), "blob"],
        b"",
    );
    let out = s.put(
        "matrix/cut.tar.gz",
        &whole.stdout[..whole.stdout.len() - 700],
        &[],
    );
    assert_eq!(code(&out), 1, "{}: {}", s.name, stderr(&out));
    assert!(
        stderr(&out).contains("input ended early"),
        "{}",
        stderr(&out)
    );
    assert!(
        s.keys("matrix/cut").is_empty(),
        "{}: a cut stream was stored",
        s.name
    );
    if r.lists_uploads {
        assert_eq!(s.uploads("matrix/cut"), 0, "{}: an upload was left", s.name);
    } else {
        let out = s.run("s3ls", &["--uploads", &s.url("matrix/")], b"");
        assert_eq!(code(&out), 1, "{}: {}", s.name, stderr(&out));
    }

    if_none_match(s);
    if_match(r, s);
    tags(r, s);
}

/// An object replaced while s3get reads it is an error on every store:
/// refused by If-Match where the store honours it, else seen in the
/// ETag of the range that came from the new object.
fn replaced(r: &Rules) {
    use std::io::Read;
    let s = (r.server)();
    let key = "matrix/replaced";
    assert_eq!(code(&s.put(key, &random_bytes(30 * MIB, 1), &[])), 0);
    let mut cmd = s.cmd("s3get");
    cmd.args([&s.url(key), "--part-size", "5MiB", "--concurrency", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = vec![0u8; MIB];
    stdout.read_exact(&mut first).unwrap();
    // s3get now waits on us with at most a few ranges fetched; replace it.
    assert_eq!(code(&s.put(key, &random_bytes(30 * MIB, 2), &[])), 0);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 1, "{}: {}", s.name, stderr(&out));
    // Where If-Match is ignored, the range's ETag still names the object.
    let said = "the object changed during the download";
    assert!(stderr(&out).contains(said), "{}: {}", s.name, stderr(&out));
}

fn if_none_match(s: &Server) {
    for (key, size) in [("matrix/once-small", MIB), ("matrix/once-parts", 11 * MIB)] {
        let first = random_bytes(size, 1);
        assert_eq!(code(&s.put(key, &first, &[])), 0);
        let out = s.put(key, &random_bytes(size, 2), &["--if-none-match"]);
        assert_eq!(code(&out), 1, "{} {key}: {}", s.name, stderr(&out));
        let said = stderr(&out);
        assert!(said.contains("already exists"), "{} {key}: {said}", s.name);
        assert!(get_json(s, key).0 == first, "{} {key}: overwritten", s.name);
    }
}

fn if_match(r: &Rules, s: &Server) {
    let answer = boto3(
        s,
        &format!(
            "try:\n    c.get_object(Bucket='{}', Key='matrix/size-1', IfMatch='\"0123\"'); print('served')\n\
             except c.exceptions.ClientError as e: print(e.response['ResponseMetadata']['HTTPStatusCode'])",
            s.bucket
        ),
    );
    let want = if r.if_match { "412" } else { "served" };
    assert_eq!(answer, want, "{}", s.name);
}

fn tags(r: &Rules, s: &Server) {
    let out = s.put("matrix/tagged", b"tagged", &["--tag", "team=ops"]);
    assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
    let tags = boto3(
        s,
        &format!(
            "try:\n    print(c.get_object_tagging(Bucket='{}', Key='matrix/tagged')['TagSet'])\n\
             except c.exceptions.ClientError as e: print(e.response['Error']['Code'])",
            s.bucket
        ),
    );
    let (want, said) = match r.tags {
        Tags::Stored => ("[{'Key': 'team', 'Value': 'ops'}]", String::new()),
        Tags::Ignored(answer) => (
            answer,
            format!(
                "s3put: warning: s3://s3pipe-test/matrix/tagged is stored, but its tags could not be read back ({answer}"
            ),
        ),
    };
    assert_eq!(tags, want, "{}", s.name);
    assert!(
        stderr(&out).starts_with(&said),
        "{}: {}",
        s.name,
        stderr(&out)
    );
    assert_eq!(
        said.is_empty(),
        stderr(&out).is_empty(),
        "{}: {}",
        s.name,
        stderr(&out)
    );
}

const BACKUPS: [&str; 4] = [
    "host-2026-01-01-03-00-00.tar.gz",
    "host-2026-01-02-03-00-00.tar.gz",
    "host-2026-01-03-03-00-00.tar.gz",
    "host-2026-01-04-03-00-00.tar.gz",
];

/// s3ls (recursive, --latest, --backups) and s3rm.
fn listing(r: &Rules) {
    let s = (r.server)();
    for name in BACKUPS {
        assert_eq!(
            code(&s.run("s3put", &[&s.url(&format!("list/{name}"))], b"x")),
            0
        );
    }
    assert_eq!(code(&s.run("s3put", &[&s.url("list/sub/other")], b"y")), 0);
    assert_eq!(s.keys("list/").len(), 5, "{}", s.name);
    let out = s.run("s3ls", &[&s.url("list/")], b"");
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        shown.contains("sub/") && shown.lines().count() == 5,
        "{}: {shown}",
        s.name
    );
    let out = s.run("s3ls", &["--latest", &s.url("list/host-")], b"");
    assert_eq!(
        text(&out).trim(),
        format!("list/{}", BACKUPS[3]),
        "{}",
        s.name
    );
    let out = s.run("s3rm", &[&s.url("list/sub/other")], b"");
    assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
    assert_eq!(s.keys("list/").len(), 4, "{}", s.name);
}

/// s3prune: a dry run deletes nothing, then the newest two stay.
fn retention(r: &Rules) {
    let s = (r.server)();
    for name in BACKUPS {
        assert_eq!(
            code(&s.run("s3put", &[&s.url(&format!("keep/{name}"))], b"x")),
            0
        );
    }
    let prefix = s.url("keep/host-");
    let out = s.run("s3prune", &["--keep-last", "2", "--dry-run", &prefix], b"");
    assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
    assert_eq!(s.keys("keep/").len(), 4, "{}", s.name);
    let out = s.run("s3prune", &["--keep-last", "2", &prefix], b"");
    assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
    let kept: Vec<String> = BACKUPS[2..].iter().map(|n| format!("keep/{n}")).collect();
    assert_eq!(s.keys("keep/"), kept, "{}", s.name);
}

/// age: s3put --recipient, s3get --identity, and what is stored is
/// ciphertext.
fn encryption(r: &Rules) {
    let s = (r.server)();
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("id.key");
    let public = age_keygen(&key);
    let data = random_bytes(11 * MIB, 11);
    let out = s.put("crypt/object", &data, &["--recipient", &public]);
    assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
    let url = s.url("crypt/object");
    let out = s.run("s3get", &["--identity", key.to_str().unwrap(), &url], b"");
    assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
    assert!(out.stdout == data, "{}: bytes differ", s.name);
    let raw = s.run("s3get", &["--no-decrypt", &url], b"");
    assert!(
        raw.stdout.starts_with(b"age-encryption.org/v1\n"),
        "{}",
        s.name
    );
}

/// The job, incremental: a full night, a change, an incremental night;
/// restore.sh latest (the chain, verified first) gives the changed tree.
fn job(r: &Rules) {
    let s = (r.server)();
    let tmp = tempfile::tempdir().unwrap();
    let files = tmp.path().join("src/files");
    rich_tree(&files);
    after_last_change(&tmp.path().join("src"));
    let env = |extra: (&'static str, String)| {
        vec![
            ("BACKUP_URL", s.url("job")),
            ("BACKUP_NAME", "web".into()),
            ("BACKUP_BASE", tmp.path().join("src").display().to_string()),
            ("BACKUP_PATHS", "files".into()),
            ("BACKUP_INCREMENTAL", "on".into()),
            extra,
        ]
    };
    for (night, ts) in ["2026-12-02-03-15-00", "2026-12-03-03-15-00"]
        .iter()
        .enumerate()
    {
        if night == 1 {
            std::fs::write(files.join("new.bin"), random_bytes(70_000, 3)).unwrap();
            std::fs::remove_file(files.join("empty-file")).unwrap();
        }
        let out = script(s, "backup.sh", &env(("BACKUP_TS", ts.to_string())), &[]);
        assert!(out.status.success(), "{}: {}", s.name, stderr(&out));
    }
    let out = s.run("s3ls", &["--backups", &s.url("job/web-")], b"");
    assert_eq!(code(&out), 0, "{}: {}", s.name, stderr(&out));
    let listed = text(&out);
    assert_eq!(listed.lines().count(), 2, "{}: {listed}", s.name);
    assert!(
        listed.lines().nth(1).unwrap().contains("\t1\t"),
        "{}: {listed}",
        s.name
    );
    let restore = tmp.path().join("restore");
    let into = ("RESTORE_DIR", restore.display().to_string());
    let out = script(s, "restore.sh", &env(into), &["latest"]);
    assert!(out.status.success(), "{}: {}", s.name, stderr(&out));
    assert_same_tree(&files, &restore.join("files"));
}

macro_rules! every_store {
    ($($module:ident => $store:literal),*) => {$(
        mod $module {
            #[test]
            fn transfer() { super::transfer(super::rules($store)) }
            #[test]
            fn replaced() { super::replaced(super::rules($store)) }
            #[test]
            fn listing() { super::listing(super::rules($store)) }
            #[test]
            fn retention() { super::retention(super::rules($store)) }
            #[test]
            fn encryption() { super::encryption(super::rules($store)) }
            #[test]
            fn job() { super::job(super::rules($store)) }
        }
    )*};
}

every_store!(garage => "Garage", s3s_fs => "s3s-fs", ceph => "Ceph", moto => "moto");

/// README's table, rendered from [`STORES`].
fn table() -> String {
    let mut t = String::from(
        "| store | multipart, growing parts, `--if-none-match` | checksum kept | s3get verifies by | If-Match | tags | `s3ls --uploads` | what s3pipe does differently there |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let yes = |b: bool| if b { "yes" } else { "ignored" };
    for r in &STORES {
        let verified = match r.verified {
            "md5" => "the ETag's MD5",
            _ => "the stored checksum",
        };
        let tags = match r.tags {
            Tags::Stored => "stored".to_string(),
            Tags::Ignored(code) => format!("not kept (read back: {code}): s3put warns"),
        };
        let uploads = if r.lists_uploads {
            "yes"
        } else {
            "not implemented"
        };
        t += &format!(
            "| {} | yes, yes, refused | {} | {verified} | {} | {tags} | {uploads} | {} |\n",
            r.store,
            r.kept,
            yes(r.if_match),
            r.differently
        );
    }
    t
}

#[test]
fn readme_table_is_the_rules() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains(&table()),
        "README's store table is not tests/s3_matrix.rs's rules; it should read:\n{}",
        table()
    );
}
