//! unpack restores what can be restored (issue: metadata after errors):
//! an archive that GNU tar made, damaged the ways backups are, extracted
//! by unpack and by GNU tar, and the two trees compared — directories'
//! modes, owners and mtimes included.

mod support;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::*;

/// `gnu/` and `ours/` in `dir`: where GNU tar and unpack extract.
fn two_dirs(dir: &Path) -> (PathBuf, PathBuf) {
    let (gnu, ours) = (dir.join("gnu"), dir.join("ours"));
    fs::create_dir_all(&gnu).unwrap();
    fs::create_dir_all(&ours).unwrap();
    (gnu, ours)
}

/// GNU tar `extra… -xf - -C into`, reading `archive`.
fn gnu_tar(into: &Path, archive: &[u8], extra: &[&str]) -> Output {
    let mut args = extra.to_vec();
    args.extend(["-xf", "-", "-C", into.to_str().unwrap()]);
    run("tar", &args, archive)
}

/// `unpack extra… -C into`, reading `archive`.
fn unpack_into(into: &Path, archive: &[u8], extra: &[&str]) -> Output {
    let mut args = extra.to_vec();
    args.extend(["-C", into.to_str().unwrap()]);
    run(bin("unpack"), &args, archive)
}

/// `home/` 0750 and `home/private/` 0700, owned by 1234:1235, with files
/// and fixed mtimes.
fn homes(src: &Path) {
    let private = src.join("home/private");
    fs::create_dir_all(&private).unwrap();
    fs::write(src.join("home/notes.txt"), b"notes\n").unwrap();
    fs::write(private.join("key"), random_bytes(70_000, 3)).unwrap();
    for (path, mode, mtime) in [
        (src.join("home/notes.txt"), 0o640, 1_600_000_100),
        (private.join("key"), 0o600, 1_600_000_200),
        (private.clone(), 0o700, 1_600_000_300),
        (src.join("home"), 0o750, 1_600_000_400),
    ] {
        nix::unistd::chown(&path, Some(1234.into()), Some(1235.into())).unwrap();
        chmod(&path, mode);
        set_mtime(&path, mtime);
    }
}

/// `command` under `umask`, reading `input`.
fn under_umask(umask: &str, command: &str, input: &[u8]) -> std::process::Output {
    run(
        "bash",
        &["-c", &format!("umask {umask}; exec {command}")],
        input,
    )
}

#[test]
fn directories_get_their_metadata_when_the_end_marker_is_missing() {
    for umask in ["000", "022"] {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        homes(&src);
        // 512-byte records: the archive ends with exactly its two zero blocks.
        let tar = run(
            "tar",
            &["-b1", "-cf", "-", "-C", src.to_str().unwrap(), "home"],
            b"",
        );
        assert_eq!(code(&tar), 0, "{}", stderr(&tar));
        let archive = tar.stdout;
        assert!(archive[archive.len() - 1024..].iter().all(|&b| b == 0));
        let cut = &archive[..archive.len() - 1024];

        let (gnu, ours) = two_dirs(tmp.path());
        let by_gnu = under_umask(umask, &format!("tar -xf - -C {}", gnu.display()), cut);
        assert_eq!(code(&by_gnu), 0, "{}", stderr(&by_gnu));
        let by_us = under_umask(
            umask,
            &format!("{} -C {}", bin("unpack").display(), ours.display()),
            cut,
        );
        assert_eq!(code(&by_us), 2, "umask {umask}: {}", stderr(&by_us));
        assert!(
            stderr(&by_us).contains("no end-of-archive marker"),
            "{}",
            stderr(&by_us)
        );
        assert_same_tree(&gnu, &ours);
        for dir in ["home", "home/private"] {
            let (g, o) = (
                fs::metadata(gnu.join(dir)).unwrap(),
                fs::metadata(ours.join(dir)).unwrap(),
            );
            assert_eq!((o.uid(), o.gid()), (g.uid(), g.gid()), "{dir}");
            assert_eq!((o.uid(), o.gid()), (1234, 1235), "{dir}");
        }
        assert_eq!(
            fs::metadata(ours.join("home")).unwrap().mode() & 0o7777,
            0o750,
            "umask {umask}"
        );
    }
}

/// Python's tarfile writes what a hostile or broken tool would: 50 files
/// with a `..` member in the middle, then a hard link with an empty target
/// and a symlink after it (node-tar's links-invalid.tar). GNU tar reports
/// the two bad members, extracts everything else and exits 2; so must
/// unpack — and the `..` member is still refused, nothing written outside.
const BAD_MEMBERS: &str = r#"
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as tar:
    def add(name, data=b"", kind=tarfile.REGTYPE, link=""):
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.size, info.mtime, info.mode = kind, link, len(data), 1600000000, 0o644
        tar.addfile(info, io.BytesIO(data))
    for i in range(50):
        add("files/%02d.txt" % i, b"file %d\n" % i)
        if i == 24:
            add("files/../../escape", b"outside\n")
    add("links/empty-target", kind=tarfile.LNKTYPE, link="")
    add("links/after", kind=tarfile.SYMTYPE, link="../files/00.txt")
"#;

#[test]
fn a_bad_member_is_reported_and_skipped_and_the_rest_extracted_as_gnu_tar_does() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("bad.tar");
    let made = run(
        "python3",
        &["-c", BAD_MEMBERS, archive.to_str().unwrap()],
        b"",
    );
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    let bytes = fs::read(&archive).unwrap();
    let (gnu, ours) = two_dirs(&tmp.path().join("x"));
    let by_gnu = gnu_tar(&gnu, &fs::read(&archive).unwrap(), &[]);
    assert_eq!(code(&by_gnu), 2, "{}", stderr(&by_gnu));
    let by_us = unpack_into(&ours, &bytes, &[]);
    assert_eq!(code(&by_us), 2, "{}", stderr(&by_us));
    let err = stderr(&by_us);
    for fragment in [
        "refusing entry files/../../escape: path contains a '..' component",
        "hard link links/empty-target has no target",
        "unpack: 2 entries could not be written (see above)",
    ] {
        assert!(err.contains(fragment), "{fragment:?} in {err}");
    }
    assert_same_extraction(&gnu, &ours, 1_700_000_000);
    assert_eq!(fs::read_dir(ours.join("files")).unwrap().count(), 50);
    assert!(ours.join("links/after").is_symlink());
    assert!(!tmp.path().join("escape").exists() && !tmp.path().join("x/escape").exists());
}

/// One flipped byte in the header of the 10th of 20 members (a GNU tar
/// archive): GNU tar says "Skipping to next header" and extracts the
/// other 19; so does unpack, exiting 2 — and the damaged stream is still
/// refused where a whole one is wanted (`s3put --verify`, `unpack -t`).
#[test]
fn a_damaged_header_costs_its_member_only_and_the_stream_still_counts_as_damaged() {
    let s = support::s3::Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/files");
    fs::create_dir_all(&src).unwrap();
    for i in 0..20 {
        let path = src.join(format!("{i:02}.txt"));
        fs::write(&path, format!("file {i}\n")).unwrap();
        set_mtime(&path, 1_600_000_000 + i);
    }
    set_mtime(&src, 1_600_000_500);
    let tar = run(
        "tar",
        &[
            "-b1",
            "--sort=name",
            "-cf",
            "-",
            "-C",
            src.parent().unwrap().to_str().unwrap(),
            "files",
        ],
        b"",
    );
    assert_eq!(code(&tar), 0, "{}", stderr(&tar));
    let mut archive = tar.stdout;
    let at = archive
        .windows(12)
        .position(|w| w == b"files/10.txt")
        .unwrap();
    assert_eq!(at % 512, 0, "a header starts with its name");
    archive[at + 100] ^= 0x01; // the mode field
    let (gnu, ours) = two_dirs(tmp.path());
    let by_gnu = gnu_tar(&gnu, &archive, &[]);
    assert_eq!(code(&by_gnu), 2, "{}", stderr(&by_gnu));
    assert!(
        stderr(&by_gnu).contains("Skipping to next header"),
        "{}",
        stderr(&by_gnu)
    );
    let by_us = unpack_into(&ours, &archive, &[]);
    assert_eq!(code(&by_us), 2, "{}", stderr(&by_us));
    for fragment in [
        format!("damaged header at byte {at} (checksum mismatch): skipping to the next header"),
        format!("1 damaged header(s) skipped, the first at byte {at}"),
    ] {
        assert!(stderr(&by_us).contains(&fragment), "{}", stderr(&by_us));
    }
    assert_same_tree(&gnu, &ours);
    assert_eq!(fs::read_dir(ours.join("files")).unwrap().count(), 19);

    let listed = run(bin("unpack"), &["-t"], &archive);
    assert_eq!(code(&listed), 2, "{}", stderr(&listed));
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 20);
    let url = s.url("recover/damaged.tar");
    let put = s.run("s3put", &["--verify", "tar", &url], &archive);
    assert_eq!(code(&put), 1, "{}", stderr(&put));
    assert!(stderr(&put).contains("damaged header"), "{}", stderr(&put));
    assert!(s.keys("recover/").is_empty(), "nothing stored");
}

/// Header parsing where GNU tar 1.34 reads differently from what a strict
/// reader would (hand-written headers: no tool writes these on purpose):
/// two PAX headers in a row (the second replaces the first: tar-split's
/// pax-multi-hdrs.tar), a PAX path with a NUL (cut there: pax-nul-path.tar),
/// PAX mtimes with garbage after the number (its leading number), a size
/// field that starts with NULs (0, as GNU tar and Python read it).
#[test]
fn header_oddities_read_as_gnu_tar_reads_them() {
    let with_size_field = |mut tar: RawTar, field: &[u8]| {
        let h = &mut tar.bytes[..512];
        h[124..124 + field.len()].copy_from_slice(field);
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        tar.file("next", b"abc").finish()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "two PAX headers",
            RawTar::default()
                .pax(&[("path", "PAX1/PAX1/long-path-name")])
                .pax(&[("comment", "second")])
                .file("bar", b"data")
                .finish(),
        ),
        (
            "a NUL in a PAX path",
            RawTar::default()
                .pax(&[("path", "foo\0bar")])
                .file("ustarname", b"data")
                .finish(),
        ),
        (
            "garbage after a PAX mtime",
            RawTar::default()
                .pax(&[("mtime", "1748089464.951928467a")])
                .file("m1", b"data")
                .pax(&[("mtime", "999xxx9324.43")])
                .file("m2", b"data")
                .finish(),
        ),
        (
            "a size field that starts with NULs",
            with_size_field(RawTar::default().file("sizenul", b""), b"\0\x000000000016"),
        ),
    ];
    for (case, archive) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let (gnu, ours) = two_dirs(tmp.path());
        let by_gnu = gnu_tar(&gnu, &archive, &[]);
        assert_eq!(code(&by_gnu), 0, "{case}: {}", stderr(&by_gnu));
        let by_us = unpack_into(&ours, &archive, &[]);
        assert_eq!(code(&by_us), 0, "{case}: {}", stderr(&by_us));
        assert_same_tree(&gnu, &ours);
        let ns = |p: &Path| {
            snapshot(p)
                .keys()
                .map(|k| {
                    let md = fs::symlink_metadata(p.join(k)).unwrap();
                    (k.clone(), md.mtime(), md.mtime_nsec())
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(ns(&gnu), ns(&ours), "{case}: mtimes to the nanosecond");
    }
}

/// `zstd --long=28` (a window of 256 MiB, over zstd's default 128 MiB)
/// archives: refused by default with the window they need and the flag;
/// extracted with `--zstd-window-max`, as GNU tar with `zstd --long=28
/// -d` extracts them.
#[test]
fn zstd_long_archives_need_the_window_flag_and_then_extract() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    rich_tree(&src.join("data"));
    let made = sh(&format!(
        "tar cf - -C {} data | zstd -q --long=28 -c",
        src.display()
    ));
    let archive = made.stdout;
    let (gnu, ours) = two_dirs(tmp.path());
    let refused = unpack_into(&ours, &archive, &[]);
    assert_eq!(code(&refused), 2, "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("the zstd frame needs a 256 MiB window, over the 128 MiB allowed: give --zstd-window-max 256MiB"),
        "{}",
        stderr(&refused)
    );
    let by_gnu = gnu_tar(&gnu, &archive, &["-I", "zstd --long=28"]);
    assert_eq!(code(&by_gnu), 0, "{}", stderr(&by_gnu));
    let by_us = unpack_into(&ours, &archive, &["--zstd-window-max", "256MiB"]);
    assert_eq!(code(&by_us), 0, "{}", stderr(&by_us));
    assert_same_tree(&gnu, &ours);
}

/// `-t` and `-tv` show names as GNU tar does in the locale they run in:
/// non-ASCII names as they are in a UTF-8 locale, as octal escapes
/// (`\303\244`) in the C/POSIX locale.
#[test]
fn listings_quote_names_as_gnu_tar_does_in_each_locale() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("names");
    fs::create_dir_all(&dir).unwrap();
    for name in ["ä b", "tab\tx", "back\\slash", "日本"] {
        fs::write(dir.join(name), b"x").unwrap();
        set_mtime(&dir.join(name), 1_600_000_000);
    }
    set_mtime(&dir, 1_600_000_000);
    let tar = run(
        "tar",
        &[
            "--sort=name",
            "-cf",
            "-",
            "-C",
            tmp.path().to_str().unwrap(),
            "names",
        ],
        b"",
    );
    for locale in ["C", "POSIX", "C.UTF-8"] {
        for flags in ["-t", "-tv"] {
            let with = |program: &str, args: &[&str]| {
                let mut cmd = std::process::Command::new(program);
                cmd.args(args).env("LC_ALL", locale).env("TZ", "UTC");
                run_command(cmd, &tar.stdout).stdout
            };
            let gnu = with("tar", &[&format!("{flags}f"), "-"]);
            let ours = with(bin("unpack").to_str().unwrap(), &[flags]);
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&gnu),
                "{locale} {flags}"
            );
        }
    }
}

/// A sparse member whose map disagrees with its size (GNU tar's own
/// sparse archive with the header's real size patched, as libarchive's
/// gtar_sparse_skip_entry): reported and skipped, the next member
/// extracted as GNU tar extracts it. GNU tar leaves an empty file where
/// the bad member was; unpack leaves none (an empty file would look like a
/// restored one).
#[test]
fn a_sparse_member_with_a_bad_map_costs_only_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let hole = fs::File::create(src.join("hole")).unwrap();
    hole.set_len(1 << 20).unwrap();
    std::os::unix::fs::FileExt::write_at(&hole, b"data", 500_000).unwrap();
    fs::write(src.join("next"), b"next\n").unwrap();
    let tar = run(
        "tar",
        &[
            "--format=gnu",
            "--sparse",
            "-cf",
            "-",
            "-C",
            src.to_str().unwrap(),
            "hole",
            "next",
        ],
        b"",
    );
    assert_eq!(code(&tar), 0, "{}", stderr(&tar));
    let mut archive = tar.stdout;
    assert_eq!(archive[156], b'S', "GNU tar wrote an old-GNU sparse header");
    let header = &mut archive[..512];
    header[483..495].copy_from_slice(b"00000001750\0"); // real size 1000
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());

    let (gnu, ours) = two_dirs(tmp.path());
    let by_gnu = gnu_tar(&gnu, &archive, &[]);
    assert_eq!(code(&by_gnu), 2, "{}", stderr(&by_gnu));
    let by_us = unpack_into(&ours, &archive, &[]);
    assert_eq!(code(&by_us), 2, "{}", stderr(&by_us));
    for fragment in ["hole: sparse map region ", "past the file's size 1000"] {
        assert!(stderr(&by_us).contains(fragment), "{}", stderr(&by_us));
    }
    assert_eq!(
        fs::read(ours.join("next")).unwrap(),
        fs::read(gnu.join("next")).unwrap()
    );
    assert_eq!(fs::metadata(gnu.join("hole")).unwrap().len(), 0);
    assert!(!ours.join("hole").exists());
}

/// A member too deep to create (2,100 nested directories, as node-tar's
/// excessively-deep.tar; Python's tarfile writes it): reported, and the
/// directories made for it removed again — GNU tar leaves none — and the
/// member after it extracted.
#[test]
fn a_member_too_deep_to_create_leaves_no_directories_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("deep.tar");
    let script = "import io, sys, tarfile\n\
        with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:\n\
        \x20   for name, data in (('a/' * 2100 + 'f', b'hi'), ('after', b'ok')):\n\
        \x20       i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))\n";
    let made = run("python3", &["-c", script, archive.to_str().unwrap()], b"");
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    let (gnu, ours) = two_dirs(tmp.path());
    let by_gnu = gnu_tar(&gnu, &fs::read(&archive).unwrap(), &[]);
    assert_eq!(code(&by_gnu), 2, "{}", stderr(&by_gnu));
    let by_us = unpack_into(&ours, &fs::read(&archive).unwrap(), &[]);
    assert_eq!(code(&by_us), 2, "{}", stderr(&by_us));
    assert!(
        stderr(&by_us).contains("File name too long"),
        "{}",
        stderr(&by_us)
    );
    assert_same_extraction(&gnu, &ours, 1_700_000_000);
    assert_eq!(snapshot(&ours).len(), 1, "only `after`");
}
