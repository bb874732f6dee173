//! age encryption through Garage: s3put --recipient / s3get --identity round
//! trips, interoperability with the `age` tool both ways, and every fault
//! (wrong key, cut object, flipped bit, truncated plaintext, a signal)
//! failing closed.

mod support;

use std::path::{Path, PathBuf};

use support::s3::Server;
use support::*;

/// age's plaintext chunk.
const CHUNK: usize = 64 * 1024;

/// An age key pair in `dir`: (identity file, public key).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let public = age_keygen(&path);
    (path, public)
}

fn get(s: &Server, key: &str, extra: &[&str]) -> std::process::Output {
    let url = s.url(key);
    let mut args = vec![url.as_str(), "--part-size", "5MiB"];
    args.extend_from_slice(extra);
    s.run("s3get", &args, b"")
}

#[test]
fn round_trips_at_every_size_with_one_and_two_recipients() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let (alice, alice_pub) = keygen(tmp.path(), "alice.txt");
    let (bob, bob_pub) = keygen(tmp.path(), "bob.txt");
    let recipients_file = tmp.path().join("recipients.txt");
    std::fs::write(
        &recipients_file,
        format!("# the team\n{alice_pub}\n\n{bob_pub}\n"),
    )
    .unwrap();
    let sizes = [0, 1, 5 * MIB - 1, 5 * MIB, 5 * MIB + 1, 17 * MIB + 3];
    for (i, size) in sizes.into_iter().enumerate() {
        let data = random_bytes(size, i as u64 + 40);
        let one = format!("enc/one-{size}");
        let out = s.put(
            &one,
            &data,
            &["--recipient", &alice_pub, "--allow-empty", "--json"],
        );
        assert_eq!(code(&out), 0, "{size}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["encryption"], "age");
        assert_eq!(report["recipients"], serde_json::json!([alice_pub]));
        assert_eq!(report["input_size"], size);
        let two = format!("enc/two-{size}");
        let recipients = recipients_file.to_str().unwrap();
        let out = s.put(
            &two,
            &data,
            &["--recipients-file", recipients, "--allow-empty"],
        );
        assert_eq!(code(&out), 0, "{size}: {}", stderr(&out));
        for (key, identity) in [(&one, &alice), (&two, &alice), (&two, &bob)] {
            let out = get(s, key, &["--identity", identity.to_str().unwrap()]);
            assert_eq!(code(&out), 0, "{key}: {}", stderr(&out));
            assert!(
                out.stdout == data,
                "{key} with {identity:?}: different bytes"
            );
        }
        // What the store holds is an age file, marked as one.
        let raw = get(s, &one, &["--no-decrypt", "--json"]);
        assert_eq!(code(&raw), 0, "{}", stderr(&raw));
        assert!(raw.stdout.starts_with(b"age-encryption.org/v1\n"));
        assert!(raw.stdout.len() > size);
        let report: serde_json::Value = serde_json::from_str(stderr(&raw).trim()).unwrap();
        assert_eq!(report["metadata"]["s3pipe-encryption"], "age");
    }
    // Growing parts (5 MiB, then 10, 20 …) are the same stream cut bigger.
    let data = random_bytes(40 * MIB, 7);
    let out = s.put(
        "enc/grow",
        &data,
        &["--recipient", &alice_pub, "--grow-every", "1"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = get(s, "enc/grow", &["--identity", alice.to_str().unwrap()]);
    assert!(out.stdout == data, "{}", stderr(&out));
    // Empty input is still refused without --allow-empty, encrypted or not.
    let out = s.put("enc/empty-refused", b"", &["--recipient", &alice_pub]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("refusing to store an empty object"),
        "{}",
        stderr(&out)
    );
    assert!(s.keys("enc/empty-refused").is_empty());
}

#[test]
fn the_age_tool_reads_ours_and_we_read_its() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = keygen(tmp.path(), "key.txt");
    let data = random_bytes(6 * MIB + 5, 9);
    let out = s.put("interop/ours", &data, &["--recipient", &public]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let raw = get(s, "interop/ours", &["--no-decrypt"]);
    let plain = run("age", &["-d", "-i", key.to_str().unwrap()], &raw.stdout);
    assert_eq!(code(&plain), 0, "{}", stderr(&plain));
    assert!(plain.stdout == data, "age -d gave different bytes");

    // `age -r … | s3put --verify none`: no metadata, found by its header.
    let theirs = run("age", &["-r", &public], &data);
    assert_eq!(code(&theirs), 0, "{}", stderr(&theirs));
    let out = s.put("interop/theirs", &theirs.stdout, &["--verify", "none"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = get(s, "interop/theirs", &["--identity", key.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        out.stdout == data,
        "s3get of an age -r object gave different bytes"
    );

    // SSH keys both ways, through S3PIPE_IDENTITY_FILE (a mounted Secret).
    let ssh = tmp.path().join("id_ed25519");
    let made = run(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-f", ssh.to_str().unwrap()],
        b"",
    );
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    let ssh_pub = std::fs::read_to_string(ssh.with_extension("pub")).unwrap();
    let out = s.put("interop/ssh", &data, &["--recipient", ssh_pub.trim()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut cmd = s.cmd("s3get");
    cmd.arg(s.url("interop/ssh"))
        .env("S3PIPE_IDENTITY_FILE", &ssh);
    let out = run_command(cmd, b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stdout == data, "ssh-ed25519 round trip");
    let raw = get(s, "interop/ssh", &["--no-decrypt"]);
    let plain = run("age", &["-d", "-i", ssh.to_str().unwrap()], &raw.stdout);
    assert!(
        plain.stdout == data,
        "age -d -i id_ed25519: {}",
        stderr(&plain)
    );
}

#[test]
fn a_truncated_plaintext_never_becomes_an_object() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let (_, public) = keygen(tmp.path(), "key.txt");
    let tree = tmp.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("data"), random_bytes(7 * MIB, 3)).unwrap();
    for (format, flag, message) in [
        ("gzip", "--gzip", "truncated gzip stream"),
        ("tar", "--none", "truncated tar stream"),
    ] {
        let packed = run(bin("pack"), &[flag, "-C", tree.to_str().unwrap(), "."], b"");
        assert_eq!(code(&packed), 0, "{}", stderr(&packed));
        let cut = &packed.stdout[..packed.stdout.len() - 3000];
        let key = format!("trunc/{format}");
        let out = s.put(&key, cut, &["--recipient", &public]);
        assert_eq!(code(&out), 1, "{format}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{format}: {}", stderr(&out));
        assert!(s.keys(&key).is_empty(), "{format}: an object was stored");
        assert_eq!(s.uploads(&key), 0, "{format}: an upload was left");
    }
}

/// Upload `data` encrypted to `public` and return the stored ciphertext.
fn stored_ciphertext(s: &Server, key: &str, data: &[u8], public: &str) -> Vec<u8> {
    let out = s.put(key, data, &["--recipient", public]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let raw = get(s, key, &["--no-decrypt"]);
    assert_eq!(code(&raw), 0, "{}", stderr(&raw));
    raw.stdout
}

#[test]
fn wrong_keys_cut_objects_and_flipped_bits_stop_the_output() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = keygen(tmp.path(), "key.txt");
    let (other, _) = keygen(tmp.path(), "other.txt");
    let data = random_bytes(3 * MIB, 12);
    let ciphertext = stored_ciphertext(s, "fault/whole", &data, &public);
    let identity = ["--identity", key.to_str().unwrap()];

    let out = get(s, "fault/whole", &["--identity", other.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(
        out.stdout.is_empty(),
        "plaintext written with the wrong key"
    );
    assert!(
        stderr(&out).contains("none of the identities given matches"),
        "{}",
        stderr(&out)
    );

    let out = get(s, "fault/whole", &[]);
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out)
            .contains("is encrypted with age (s3pipe-encryption: age): give --identity FILE"),
        "{}",
        stderr(&out)
    );

    // A shorter copy uploaded by hand: cut mid-chunk and at a chunk's end.
    let header = ciphertext.len() - (data.len() / CHUNK) * (CHUNK + 16);
    for cut in [ciphertext.len() / 2, header + 10 * (CHUNK + 16)] {
        let out = s.put("fault/cut", &ciphertext[..cut], &["--verify", "none"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let out = get(s, "fault/cut", &identity);
        assert_eq!(code(&out), 1, "cut at {cut}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("the object is corrupt or truncated"),
            "{}",
            stderr(&out)
        );
        let whole_chunks = (cut - header) / (CHUNK + 16);
        assert!(
            out.stdout.len() <= whole_chunks * CHUNK,
            "cut at {cut}: {} bytes out",
            out.stdout.len()
        );
        assert!(
            data.starts_with(&out.stdout),
            "what was written is the plaintext's start"
        );
    }

    // One flipped bit in chunk 20: chunks 0-19 out, nothing after.
    let mut flipped = ciphertext.clone();
    flipped[header + 20 * (CHUNK + 16) + 100] ^= 0x04;
    let out = s.put(
        "fault/flipped",
        &flipped,
        &["--verify", "none", "--metadata", "s3pipe-encryption=age"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = get(s, "fault/flipped", &identity);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("decryption failed, the object is corrupt or truncated"),
        "{}",
        stderr(&out)
    );
    assert!(
        out.stdout == data[..20 * CHUNK],
        "{} bytes out",
        out.stdout.len()
    );
}

#[test]
fn passphrases_and_bad_keys_are_refused_up_front() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let out = s.put("refuse/x", b"data", &["--recipient", "hunter2"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not an age recipient: \"hunter2\""),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("passphrases are not supported"),
        "{}",
        stderr(&out)
    );
    let file = tmp.path().join("recipients");
    std::fs::write(&file, "# nobody\n\n").unwrap();
    let out = s.put(
        "refuse/x",
        b"data",
        &["--recipients-file", file.to_str().unwrap()],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no recipients in the file"),
        "{}",
        stderr(&out)
    );

    // An identity file protected by a passphrase (what `age -p` makes of
    // one), and an object encrypted to a passphrase.
    let secret = age::secrecy::SecretString::from("correct horse".to_string());
    let locked = age::encrypt(
        &age::scrypt::Recipient::new(secret.clone()),
        b"AGE-SECRET-KEY-1",
    )
    .unwrap();
    let locked_file = tmp.path().join("locked.age");
    std::fs::write(&locked_file, locked).unwrap();
    let out = get(
        s,
        "refuse/x",
        &["--identity", locked_file.to_str().unwrap()],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("is protected by a passphrase, which an unattended job cannot type"),
        "{}",
        stderr(&out)
    );
    let (key, _) = keygen(tmp.path(), "key.txt");
    let scrypt_object = age::encrypt(&age::scrypt::Recipient::new(secret), b"plaintext").unwrap();
    let out = s.put("refuse/scrypt", &scrypt_object, &["--verify", "none"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = get(s, "refuse/scrypt", &["--identity", key.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("encrypted with a passphrase (age -p)"),
        "{}",
        stderr(&out)
    );
    // A bad identity line is named by its number, never echoed.
    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, "# key\nAGE-SECRET-KEY-1NOTAKEY\n").unwrap();
    let out = get(s, "refuse/x", &["--identity", bad.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("bad.txt, line 2: not an age identity"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("NOTAKEY"));
}

#[test]
fn sigterm_during_an_encrypted_upload_leaves_nothing() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let (_, public) = keygen(tmp.path(), "key.txt");
    let signal = nix::sys::signal::Signal::SIGTERM;
    let out = s.interrupted_upload("sig/x", &["--recipient", &public], signal);
    assert_eq!(code(&out), 143, "{}", stderr(&out));
    assert!(s.keys("sig/").is_empty());
    assert_eq!(s.uploads("sig/"), 0);
}

#[test]
fn identities_pass_unencrypted_objects_through() {
    // One restore identity for a history that began unencrypted.
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let (key, _) = keygen(tmp.path(), "key.txt");
    let data = random_bytes(MIB, 5);
    let out = s.put("plain/x", &data, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = get(s, "plain/x", &["--identity", key.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stdout == data);
}
