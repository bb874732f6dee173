//! pack and unpack, end to end through the real binaries: faithful round
//! trips in every format, interoperability with GNU tar, bsdtar, pigz,
//! zstd and Python's tarfile, and GNU tar's flag semantics.

mod support;

use std::fs;
use std::io::Read;
use std::path::Path;

use support::*;

fn pack(args: &[&str]) -> Vec<u8> {
    let out = run(bin("pack"), args, b"");
    assert_eq!(code(&out), 0, "pack {args:?}: {}", stderr(&out));
    out.stdout
}

fn unpack_into(dir: &Path, archive: &[u8], extra: &[&str]) {
    let mut args = vec!["-C", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run(bin("unpack"), &args, archive);
    assert_eq!(code(&out), 0, "unpack: {}", stderr(&out));
}

#[test]
fn round_trip_is_faithful_in_every_format() {
    let (tmp, src) = rich_source();
    for format in ["--gzip", "--zstd", "--none"] {
        let archive = pack(&["-C", src.to_str().unwrap(), format, "."]);
        let dst = tmp.path().join(format.trim_start_matches('-'));
        fs::create_dir(&dst).unwrap();
        unpack_into(&dst, &archive, &[]);
        assert_same_tree(&src, &dst);
    }
}

#[test]
fn zstd_output_is_the_same_bytes_for_any_worker_count_and_holds_the_tar() {
    // Several 2 MiB zstd jobs: a random 5 MiB file and 4 MiB of text.
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("random"),
        support::random_bytes(5 << 20, 41),
    )
    .unwrap();
    let text: Vec<u8> = (0..(4 << 20)).map(|i| b"abcdefgh\n"[i % 9]).collect();
    fs::write(tmp.path().join("text"), text).unwrap();
    let dir = tmp.path().to_str().unwrap();
    let two = pack(&["-C", dir, "--zstd", "-p", "2", "."]);
    let four = pack(&["-C", dir, "--zstd", "-p", "4", "."]);
    assert!(two == four, "zstd output depends on the worker count");
    let plain = pack(&["-C", dir, "--none", "."]);
    for (archive, name) in [
        (&two, "-p 2"),
        (&pack(&["-C", dir, "--zstd", "-p", "1", "."]), "-p 1"),
    ] {
        let out = run("zstd", &["-dc"], archive);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(
            out.stdout == plain,
            "zstd {name} does not hold pack --none's tar"
        );
    }
}

#[test]
fn gzip_output_is_the_same_bytes_for_any_thread_count_and_level_flags_work() {
    let tmp = tempfile::tempdir().unwrap();
    rich_tree(tmp.path());
    let dir = tmp.path().to_str().unwrap();
    let one = pack(&["-C", dir, "-p", "1", "."]);
    let two = pack(&["-C", dir, "-p", "2", "."]);
    let four = pack(&["-C", dir, "--threads", "4", "--level", "6", "."]);
    assert!(one == two && two == four, "output depends on threads");
    let fast = pack(&["-C", dir, "-1", "."]);
    let best = pack(&["-C", dir, "-9", "."]);
    assert!(
        best.len() < fast.len(),
        "-9 ({}) should beat -1 ({})",
        best.len(),
        fast.len()
    );
    let bad = run(bin("pack"), &["-C", dir, "--level", "12", "."], b"");
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("gzip level must be 1-9"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn gnu_tar_pigz_gzip_and_python_read_packs_output() {
    let (tmp, src) = rich_source();
    let archive = pack(&["-C", src.to_str().unwrap(), "."]);
    let file = tmp.path().join("a.tar.gz");
    fs::write(&file, &archive).unwrap();
    let t = tmp.path().display();
    sh(&format!("gzip -t {t}/a.tar.gz && pigz -t {t}/a.tar.gz"));
    for (name, cmd) in [
        ("gnu", format!("tar -C {t}/gnu -xzf {t}/a.tar.gz")),
        (
            "pigz",
            format!("pigz -dc {t}/a.tar.gz | tar -C {t}/pigz -x"),
        ),
        ("bsdtar", format!("bsdtar -C {t}/bsdtar -xpf {t}/a.tar.gz")),
        (
            "python",
            format!(
                "python3 -c 'import tarfile,sys; tarfile.open(sys.argv[1], \"r:gz\").extractall(sys.argv[2])' \
                 {t}/a.tar.gz {t}/python"
            ),
        ),
    ] {
        fs::create_dir(tmp.path().join(name)).unwrap();
        sh(&cmd);
        if name == "python" {
            // tarfile does not restore a directory's mtime after filling it.
            let names: Vec<_> = snapshot(&src).into_keys().collect();
            let theirs: Vec<_> = snapshot(&tmp.path().join(name)).into_keys().collect();
            assert_eq!(names, theirs);
            assert_eq!(
                fs::read(src.join("dir/sub/big.bin")).unwrap(),
                fs::read(tmp.path().join("python/dir/sub/big.bin")).unwrap()
            );
        } else {
            assert_same_tree(&src, &tmp.path().join(name));
        }
    }
}

#[test]
fn unpack_reads_gnu_tar_bsdtar_python_and_zstd_archives() {
    let (tmp, src) = rich_source();
    let t = tmp.path().display();
    for (name, cmd) in [
        ("gnu.tgz", format!("tar -C {t}/src -czf {t}/gnu.tgz .")),
        (
            "gnu-posix.tar",
            format!("tar --format=posix -C {t}/src -cf {t}/gnu-posix.tar ."),
        ),
        (
            "bsdtar.tgz",
            format!("bsdtar -C {t}/src -czf {t}/bsdtar.tgz ."),
        ),
        (
            "gnu.tar.zst",
            format!("tar -C {t}/src -cf - . | zstd -q -T2 > {t}/gnu.tar.zst"),
        ),
        (
            "pigz.tgz",
            format!("tar -C {t}/src -cf - . | pigz -p 2 > {t}/pigz.tgz"),
        ),
        (
            "python.tgz",
            format!(
                "cd {t}/src && python3 -c 'import tarfile,sys; t=tarfile.open(sys.argv[1], \"w:gz\"); t.add(\".\"); t.close()' {t}/python.tgz"
            ),
        ),
    ] {
        sh(&cmd);
        let dst = tmp.path().join(format!("out-{name}"));
        fs::create_dir(&dst).unwrap();
        let out = run(
            bin("unpack"),
            &["-C", dst.to_str().unwrap(), "-f", &format!("{t}/{name}")],
            b"",
        );
        assert_eq!(code(&out), 0, "{name}: {}", stderr(&out));
        assert_same_tree(&src, &dst);
    }
}

#[test]
fn listing_matches_gnu_tar() {
    let (tmp, src) = rich_source();
    let t = tmp.path().display();
    let archive = pack(&["-C", src.to_str().unwrap(), "."]);
    fs::write(tmp.path().join("a.tgz"), &archive).unwrap();
    for (ours, theirs) in [(vec!["-t"], "-tzf"), (vec!["-tv"], "-tvzf")] {
        let mine = run(bin("unpack"), &ours, &archive);
        assert_eq!(code(&mine), 0, "{}", stderr(&mine));
        let gnu = sh(&format!("TZ=UTC tar {theirs} {t}/a.tgz"));
        let gnu = String::from_utf8_lossy(&gnu.stdout).into_owned();
        let mine = String::from_utf8_lossy(&mine.stdout).into_owned();
        assert_eq!(mine, gnu, "unpack {ours:?} vs tar {theirs}");
    }
    let json = run(bin("unpack"), &["-t", "--json"], &archive);
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&json.stdout)
            .lines()
            .find(|l| l.contains("script.sh"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["mode"], "0755");
    assert_eq!(first["type"], "file");
    assert_eq!(first["size"], 18);
}

#[test]
fn reproducible_with_mtime_owner_group() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (dir, order) in [(&a, ["x", "y", "z"]), (&b, ["z", "y", "x"])] {
        fs::create_dir(dir).unwrap();
        for name in order {
            fs::write(dir.join(name), name).unwrap();
        }
    }
    let args = |d: &Path| {
        vec![
            "--mtime",
            "2026-01-01",
            "--owner",
            "backup:4242",
            "--group",
            "7",
            "-C",
            d.to_str().unwrap(),
            ".",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    let pa = args(&a);
    let pb = args(&b);
    let one = pack(&pa.iter().map(String::as_str).collect::<Vec<_>>());
    let two = pack(&pb.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(one, two, "same tree contents, same archive bytes");
    let listing = run(bin("unpack"), &["-t", "--json"], &one);
    let line: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&listing.stdout)
            .lines()
            .nth(1)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(line["name"], "./x");
    assert_eq!(line["user"], "backup");
    assert_eq!(line["uid"], 4242);
    assert_eq!(line["gid"], 7);
    assert_eq!(line["mtime"], 1_767_225_600);
}

#[test]
fn exclude_and_chdir_follow_gnu_tar() {
    let (tmp, src) = rich_source();
    let t = tmp.path().display();
    for patterns in [
        vec!["*.log"],
        vec!["sub"],
        vec!["dir/sub"],
        vec!["./dir", "*.sh"],
        vec!["hard-?"],
    ] {
        let mut args = vec!["-C", src.to_str().unwrap(), "--none"];
        let mut gnu = String::new();
        for p in &patterns {
            args.extend(["--exclude", p]);
            gnu += &format!(" --exclude='{p}'");
        }
        args.push(".");
        let ours = run(bin("unpack"), &["-t"], &pack(&args));
        let theirs = sh(&format!("tar -C {t}/src{gnu} -cf - . | tar -tf -"));
        let sorted = |b: &[u8]| {
            let mut v: Vec<String> = String::from_utf8_lossy(b)
                .lines()
                .map(String::from)
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            sorted(&ours.stdout),
            sorted(&theirs.stdout),
            "--exclude {patterns:?}"
        );
    }
    // -C applies to the paths after it, relative to the previous -C.
    let listing = run(
        bin("unpack"),
        &["-t"],
        &pack(&[
            "-C",
            src.to_str().unwrap(),
            "script.sh",
            "-C",
            "dir",
            "small.txt",
            "sub/deeper",
        ]),
    );
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout),
        "script.sh\nsmall.txt\nsub/deeper/\nsub/deeper/text.log\n"
    );
}

#[test]
fn strip_components_matches_gnu_tar() {
    let (tmp, src) = rich_source();
    let t = tmp.path().display();
    let archive = pack(&["-C", src.to_str().unwrap(), "."]);
    fs::write(tmp.path().join("a.tgz"), &archive).unwrap();
    for n in ["1", "2", "3"] {
        let ours = tmp.path().join(format!("ours{n}"));
        let gnu = tmp.path().join(format!("gnu{n}"));
        fs::create_dir(&ours).unwrap();
        fs::create_dir(&gnu).unwrap();
        unpack_into(&ours, &archive, &["--strip-components", n]);
        // GNU tar warns about (and skips) hard links whose stripped target
        // vanished; its exit status is then 2, so it is not asserted.
        let _ = std::process::Command::new("tar")
            .args([
                "-C",
                gnu.to_str().unwrap(),
                "--strip-components",
                n,
                "-xzf",
                &format!("{t}/a.tgz"),
            ])
            .output()
            .unwrap();
        assert_same_tree(&gnu, &ours);
    }
}

#[test]
fn changed_files_keep_the_archive_valid_and_exit_1() {
    // /proc and /sys files misreport their size: /proc/self/stat says 0
    // bytes and has more, /sys/.../online says 4096 and has fewer. Exactly
    // the "file changed as we read it" cases, without timing games.
    for (dir, name, size) in [
        ("/proc/self", "stat", 0u64),
        ("/sys/devices/system/cpu", "online", 4096),
    ] {
        let out = run(bin("pack"), &["--none", "-C", dir, name], b"");
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("{dir}/{name}: file changed as we read it")),
            "{}",
            stderr(&out)
        );
        let listing = run(bin("unpack"), &["-t", "--json"], &out.stdout);
        assert_eq!(
            code(&listing),
            0,
            "archive must stay valid: {}",
            stderr(&listing)
        );
        let entry: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
        assert_eq!(entry["size"], size);
    }
}

#[test]
fn vanished_files_are_fatal_unless_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("here"), b"x").unwrap();
    let dir = tmp.path().to_str().unwrap();
    let out = run(bin("pack"), &["-C", dir, "here", "gone"], b"");
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(&format!(
            "pack: cannot stat {dir}/gone: No such file or directory"
        )),
        "{}",
        stderr(&out)
    );
    // What was written must not pass for a whole archive.
    let check = run(bin("unpack"), &["-t"], &out.stdout);
    assert_eq!(code(&check), 2);
    assert!(
        stderr(&check).contains("truncated gzip"),
        "{}",
        stderr(&check)
    );

    let out = run(
        bin("pack"),
        &["--ignore-failed-read", "-C", dir, "here", "gone"],
        b"",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("gone: No such file or directory"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("(skipped)"), "{}", stderr(&out));
    let listing = run(bin("unpack"), &["-t"], &out.stdout);
    assert_eq!(String::from_utf8_lossy(&listing.stdout), "here\n");
}

#[test]
fn sockets_are_skipped_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(tmp.path().join("sock")).unwrap();
    fs::write(tmp.path().join("file"), b"x").unwrap();
    let out = run(bin("pack"), &["-C", tmp.path().to_str().unwrap(), "."], b"");
    assert_eq!(code(&out), 0);
    assert!(
        stderr(&out).contains("sock: socket ignored"),
        "{}",
        stderr(&out)
    );
    let listing = run(bin("unpack"), &["-t"], &out.stdout);
    assert_eq!(String::from_utf8_lossy(&listing.stdout), "./\n./file\n");
}

#[test]
fn closed_stdout_is_a_quiet_failure() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("big"), random_bytes(8 << 20, 3)).unwrap();
    let mut child = std::process::Command::new(bin("pack"))
        .args(["-C", tmp.path().to_str().unwrap(), "."])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 141);
    assert_eq!(stderr(&out), "", "no wall of text on a closed pipe");
}

#[test]
fn splice_merges_tar_streams_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().display();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    rich_tree(&a);
    fs::create_dir(b.join("dump")).unwrap();
    fs::write(b.join("dump/db.archive"), random_bytes(500_000, 9)).unwrap();
    sh(&format!(
        "tar -C {t}/a -czf {t}/a.tgz . && tar -C {t}/b -cf - dump | zstd -q > {t}/b.tar.zst"
    ));
    // gzip from a file via @, zstd from stdin via --splice -, and a tree.
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            &format!("pack @{t}/a.tgz --splice - -C {t}/b dump < {t}/b.tar.zst > {t}/merged.tgz"),
        ])
        .env("PATH", path_with_bins())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = sh(&format!("tar -tzf {t}/merged.tgz"));
    let expected = sh(&format!(
        "tar -tzf {t}/a.tgz; zstd -dc {t}/b.tar.zst | tar -tf -; tar -C {t}/b -cf - dump | tar -tf -"
    ));
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout),
        String::from_utf8_lossy(&expected.stdout)
    );
    let merged = fs::read(tmp.path().join("merged.tgz")).unwrap();
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    unpack_into(&out_dir, &merged, &[]);
    fs::remove_dir_all(out_dir.join("dump")).unwrap();
    assert_same_tree(&a, &out_dir);

    // --prefix puts spliced entries (and hard-link targets) under a directory.
    let prefixed = pack(&["--prefix", "old", &format!("@{t}/a.tgz")]);
    let dst = tmp.path().join("prefixed");
    fs::create_dir(&dst).unwrap();
    unpack_into(&dst, &prefixed, &[]);
    assert_same_tree(&a, &dst.join("old"));
}

/// `--prefix` is positional, like `-C`: each applies to the splices after
/// it, `''` clears it; `--splice-exec` splices what a command writes (the
/// shape of The Combine's archive: a dump and a files tree from two pods).
#[test]
fn prefixes_apply_to_the_splices_after_them_and_commands_are_spliced() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().display();
    let (db, files) = (tmp.path().join("db"), tmp.path().join("files"));
    fs::create_dir_all(db.join("CombineDatabase")).unwrap();
    fs::write(
        db.join("CombineDatabase/Words.bson.gz"),
        random_bytes(200_000, 3),
    )
    .unwrap();
    rich_tree(&files);
    sh(&format!("tar -C {t}/files -cf {t}/files.tar ."));
    let out = run(
        bin("pack"),
        &[
            "--prefix",
            "dump",
            "--splice-exec",
            &format!("tar -C {t}/db -cf - ."),
            "--prefix",
            ".CombineFiles/",
            "--splice",
            &format!("{t}/files.tar"),
            "--prefix",
            "",
            "--splice",
            &format!("{t}/files.tar"),
        ],
        b"",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let dst = tmp.path().join("out");
    fs::create_dir(&dst).unwrap();
    unpack_into(&dst, &out.stdout, &[]);
    assert_same_tree(&db, &dst.join("dump"));
    let combine_files = dst.join(".CombineFiles");
    assert_same_tree(&files, &combine_files);
    // The unprefixed copy landed beside them.
    fs::remove_dir_all(dst.join("dump")).unwrap();
    fs::remove_dir_all(&combine_files).unwrap();
    assert_same_tree(&files, &dst);
}

/// A producer that exits non-zero after a complete-looking stream, or is
/// killed, fails the pack, whose output then reads as incomplete.
#[test]
fn a_spliced_command_that_fails_after_its_stream_fails_the_pack() {
    let tmp = tempfile::tempdir().unwrap();
    rich_tree(tmp.path());
    let dir = tmp.path().display();
    for (tail, why) in [
        ("exit 1", "exited with status 1"),
        ("kill -9 $$", "was killed by signal 9"),
    ] {
        let line = format!("tar -C {dir} -cf - .; {tail}");
        let out = run(bin("pack"), &["--splice-exec", &line], b"");
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("`{line}` {why}")),
            "{}",
            stderr(&out)
        );
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        let check = run(bin("unpack"), &["-t"], &out.stdout);
        assert_ne!(code(&check), 0, "the output must not read as whole");
    }
    let missing = run(
        bin("pack"),
        &["--splice-exec", "no-such-command-s3pipe"],
        b"",
    );
    assert_eq!(code(&missing), 2);
    assert!(
        stderr(&missing).contains("exited with status 127"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_truncated_spliced_stream_fails_the_pack() {
    let tmp = tempfile::tempdir().unwrap();
    rich_tree(tmp.path());
    let whole = pack(&["-C", tmp.path().to_str().unwrap(), "--none", "."]);
    let cut = &whole[..whole.len() / 2];
    let out = run(bin("pack"), &["--splice", "-"], cut);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("input ended early"),
        "{}",
        stderr(&out)
    );
    let check = run(bin("unpack"), &["-t"], &out.stdout);
    assert_ne!(
        code(&check),
        0,
        "a failed pack's output must not read as whole"
    );
}

#[test]
fn keep_old_files_and_directory_conflicts() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("d")).unwrap();
    fs::write(src.join("f"), b"new").unwrap();
    fs::write(src.join("d/x"), b"new").unwrap();
    let archive = pack(&["-C", src.to_str().unwrap(), "."]);
    let dst = tmp.path().join("dst");
    fs::create_dir_all(dst.join("d")).unwrap();
    fs::write(dst.join("f"), b"old").unwrap();
    let out = run(
        bin("unpack"),
        &["-k", "-C", dst.to_str().unwrap()],
        &archive,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("./f: not overwritten: file exists"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read(dst.join("f")).unwrap(), b"old");
    assert_eq!(
        fs::read(dst.join("d/x")).unwrap(),
        b"new",
        "other entries still written"
    );
    // Default: overwrite files...
    unpack_into(&dst, &archive, &[]);
    assert_eq!(fs::read(dst.join("f")).unwrap(), b"new");
    // ...but never replace a directory with a file.
    fs::remove_file(dst.join("f")).unwrap();
    fs::create_dir(dst.join("f")).unwrap();
    let out = run(bin("unpack"), &["-C", dst.to_str().unwrap()], &archive);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("./f: cannot replace a directory"),
        "{}",
        stderr(&out)
    );
    assert!(dst.join("f").is_dir());
}

#[test]
fn missing_destination_needs_mkdir() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("f"), b"x").unwrap();
    let archive = pack(&["-C", tmp.path().to_str().unwrap(), "f"]);
    let dst = tmp.path().join("new/dir");
    let out = run(bin("unpack"), &["-C", dst.to_str().unwrap()], &archive);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("use --mkdir"), "{}", stderr(&out));
    unpack_into(&dst, &archive, &["--mkdir"]);
    assert_eq!(fs::read(dst.join("f")).unwrap(), b"x");
}

#[test]
fn absolute_paths_lose_their_slash() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("abs-file");
    fs::write(&f, b"abs").unwrap();
    let out = run(bin("pack"), &[f.to_str().unwrap()], b"");
    assert_eq!(code(&out), 0);
    assert!(stderr(&out).contains("Removing leading `/' from member names"));
    let listing = run(bin("unpack"), &["-t"], &out.stdout);
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout),
        format!("{}\n", &f.to_str().unwrap()[1..])
    );
}

/// Files of 8 GiB and more do not fit ustar's octal size field: the size
/// goes into a PAX record. Checked at header level (writing 9 GiB is not a
/// test): only the first blocks are kept, then read by the tar crate and by
/// GNU tar, which both must report the full size.
#[test]
fn huge_file_sizes_use_pax_and_gnu_tar_reads_them() {
    use s3pipe::archive::header::{EntryMeta, append};
    struct Head(Vec<u8>);
    impl std::io::Write for Head {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0.len() >= 8192 {
                return Err(std::io::Error::other("enough"));
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let size = 9u64 << 30;
    let meta = EntryMeta {
        path: b"huge.img".to_vec(),
        kind: tar::EntryType::Regular,
        link: None,
        size,
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: s3pipe::archive::time::Mtime::from_secs(1_700_000_000),
        uname: b"root".to_vec(),
        gname: b"root".to_vec(),
        device: None,
        extra_pax: Vec::new(),
    };
    let mut builder = tar::Builder::new(Head(Vec::new()));
    let err = append(&mut builder, &meta, std::io::repeat(0).take(size)).unwrap_err();
    assert_eq!(err.to_string(), "enough");
    let head = std::mem::ManuallyDrop::new(builder).get_ref().0.clone();
    let mut archive = tar::Archive::new(&head[..]);
    let entry = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(entry.size(), size);
    assert_eq!(entry.path().unwrap().to_str(), Some("huge.img"));
    let record = format!("19 size={size}\n");
    assert!(
        head.windows(record.len()).any(|w| w == record.as_bytes()),
        "PAX size record"
    );
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("head.tar"), &head).unwrap();
    // GNU tar lists the entry, then (rightly) complains that the data is cut.
    let gnu = std::process::Command::new("tar")
        .args(["-tvf", tmp.path().join("head.tar").to_str().unwrap()])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&gnu.stdout);
    assert!(listing.contains(&format!("root/root {size} ")), "{listing}");
    assert!(listing.contains("huge.img"), "{listing}");
}

#[test]
fn dereference_stores_what_links_point_to() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("real")).unwrap();
    fs::write(tmp.path().join("real/data"), b"pointed to").unwrap();
    std::os::unix::fs::symlink("real", tmp.path().join("dirlink")).unwrap();
    std::os::unix::fs::symlink("real/data", tmp.path().join("filelink")).unwrap();
    let dir = tmp.path().to_str().unwrap();
    let plain = run(
        bin("unpack"),
        &["-tv"],
        &pack(&["-C", dir, "dirlink", "filelink"]),
    );
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(
        text.contains("dirlink -> real") && text.contains("filelink -> real/data"),
        "{text}"
    );
    let followed = run(
        bin("unpack"),
        &["-t", "--json"],
        &pack(&["--dereference", "-C", dir, "dirlink", "filelink"]),
    );
    let entries: Vec<serde_json::Value> = String::from_utf8_lossy(&followed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("dirlink/", "dir"),
            ("dirlink/data", "file"),
            ("filelink", "file")
        ]
        .map(|(n, t)| (n.to_string(), t.to_string()))
    );
}

#[test]
fn command_lines_pack_cannot_follow_are_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--none", "--exclude", "a[", "-C", dir, "."],
            "pack: bad --exclude pattern \"a[\": unclosed character class; missing ']'\n",
        ),
        (
            &["--none", "--splice", "-", "--splice", "-"],
            "pack: --splice -: standard input can be spliced only once\n",
        ),
        (
            &["--zstd", "--level", "23", "-C", dir, "."],
            "pack: zstd level must be 1-22, not 23\n",
        ),
        (
            &["--readers", "0", "-C", dir, "."],
            "pack: --readers and --read-ahead must be at least 1\n",
        ),
    ];
    let mut empty_tar = tar::Builder::new(Vec::new());
    empty_tar.finish().unwrap();
    let stdin = empty_tar.into_inner().unwrap();
    for (args, message) in cases {
        let out = run(bin("pack"), args, &stdin);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), message, "{args:?}");
    }
}

// ---- read-ahead: the archive never depends on it; memory does ----

/// A tree whose files straddle the readers' 512 KiB chunks, with hard
/// links, a sparse file and the rich tree's every kind of entry.
fn read_ahead_source() -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, src) = rich_source();
    let chunk = 512 * 1024;
    for (i, size) in [1, chunk - 1, chunk, chunk + 1, 3 * chunk + 5]
        .iter()
        .enumerate()
    {
        let path = src.join(format!("chunks/f{i}"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, random_bytes(*size, i as u64)).unwrap();
    }
    fs::hard_link(src.join("chunks/f3"), src.join("chunks/f3-again")).unwrap();
    let sparse = fs::File::create(src.join("chunks/sparse")).unwrap();
    std::os::unix::fs::FileExt::write_at(&sparse, b"data", 5 << 20).unwrap();
    (tmp, src)
}

#[test]
fn read_ahead_never_changes_the_archive() {
    let (tmp, src) = read_ahead_source();
    let dir = src.to_str().unwrap();
    let archive = |readers: &str, ahead: &str| {
        pack(&[
            "--none",
            "-S",
            "--readers",
            readers,
            "--read-ahead",
            ahead,
            "-C",
            dir,
            ".",
        ])
    };
    let one_at_a_time = archive("1", "1K");
    for (readers, ahead) in [("2", "4K"), ("3", "600K"), ("16", "16M"), ("64", "1M")] {
        assert!(
            archive(readers, ahead) == one_at_a_time,
            "--readers {readers} --read-ahead {ahead} changed the archive"
        );
    }
    // And it is the tree: GNU tar extracts it whole, holes included.
    let out = tmp.path().join("gnu");
    fs::create_dir(&out).unwrap();
    let extracted = run_command(
        {
            let mut c = std::process::Command::new("tar");
            c.args(["-x", "-C", out.to_str().unwrap()]);
            c
        },
        &one_at_a_time,
    );
    assert_eq!(code(&extracted), 0, "{}", stderr(&extracted));
    assert_same_tree(&src, &out);
}

#[test]
fn read_ahead_reports_failures_in_archive_order() {
    let (_tmp, src) = read_ahead_source();
    let dir = src.to_str().unwrap();
    std::os::unix::net::UnixListener::bind(src.join("chunks/socket")).unwrap();
    let absolute = format!("{dir}/empty-dir");
    let args = |readers, ahead| {
        let mut args = vec!["--none", "-v", "--ignore-failed-read", "-C", dir];
        args.extend(["gone-1", "chunks", absolute.as_str(), "gone-2", "dir"]);
        args.extend(["--readers", readers, "--read-ahead", ahead]);
        args
    };
    let reference = run(bin("pack"), &args("1", "1K"), b"");
    assert_eq!(code(&reference), 0, "{}", stderr(&reference));
    let lines: Vec<String> = stderr(&reference).lines().map(String::from).collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {lines:#?}"))
    };
    assert!(at("gone-1") < at("chunks/f0"));
    assert!(at("chunks/f4") < at("chunks/socket: socket ignored"));
    assert!(at("socket ignored") < at("Removing leading"));
    assert!(at("Removing leading") < at("gone-2"));
    assert!(at("gone-2") < at("dir/small.txt"));
    let fast = run(bin("pack"), &args("16", "16M"), b"");
    assert_eq!(stderr(&fast), stderr(&reference));
    assert!(fast.stdout == reference.stdout);
}

#[test]
fn a_fatal_error_stops_the_readers_without_a_hang() {
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..40 {
        fs::write(
            tmp.path().join(format!("f{i:02}")),
            random_bytes(100_000, i),
        )
        .unwrap();
    }
    let dir = tmp.path().to_str().unwrap();
    // The walk is far ahead, waiting for room, when the writer meets the
    // missing path and stops; the 40 files behind it are never needed.
    let mut args = vec!["--none", "--read-ahead", "64K", "-C", dir, "gone"];
    let names: Vec<String> = (0..40).map(|i| format!("f{i:02}")).collect();
    args.extend(names.iter().map(String::as_str));
    let out = run(
        "timeout",
        &[&["60", bin("pack").to_str().unwrap()][..], &args].concat(),
        b"",
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!("pack: cannot stat {dir}/gone: No such file or directory (os error 2)\n")
    );
}

#[test]
fn read_ahead_memory_is_bounded_by_the_flag_not_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    // 256 MiB of file (a hole reads as zeros: no disk needed) and 2,000
    // small files, which the readers would happily buffer without a limit.
    let big = fs::File::create(tmp.path().join("big")).unwrap();
    big.set_len(256 << 20).unwrap();
    fs::create_dir(tmp.path().join("small")).unwrap();
    for i in 0..2000 {
        fs::write(
            tmp.path().join(format!("small/{i}")),
            random_bytes(20_000, i),
        )
        .unwrap();
    }
    let (default_rss, out) = peak_rss(tmp.path(), "pack -q . > /dev/null");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        default_rss < 64 << 10,
        "pack -6 at defaults: {default_rss} KiB"
    );
    let (small_rss, out) = peak_rss(
        tmp.path(),
        "pack --none --read-ahead 1M --readers 4 . > /dev/null",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(small_rss < 16 << 10, "--read-ahead 1M: {small_rss} KiB");
}
