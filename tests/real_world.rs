//! Archives other tools make, extracted the way GNU tar extracts them.
//! Every archive here is made at test time by the real tool (GNU tar in its
//! formats, bsdtar, pzstd, Python's tarfile); hand-written 512-byte headers
//! only for quirks no installable tool produces. Each case compares what
//! `unpack` writes (names, types, contents, link targets, mtimes to the
//! nanosecond) and lists with what GNU tar does with the same archive.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use s3pipe::codec::verify::{StreamCheck, Verify};
use support::*;

fn tool(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("LC_ALL", "C")
        .output()
        .unwrap()
}

/// Every path's mtime to the nanosecond (symlinks' own included), but
/// for directories made on the way (not in the archive), which carry the
/// time of the extraction: those at or after `since`.
fn mtimes(root: &Path, since: i64) -> BTreeMap<PathBuf, (i64, i64)> {
    snapshot(root)
        .keys()
        .filter_map(|rel| {
            let md = fs::symlink_metadata(root.join(rel)).unwrap();
            (!md.is_dir() || md.mtime() < since)
                .then(|| (rel.clone(), (md.mtime(), md.mtime_nsec())))
        })
        .collect()
}

/// What GNU tar and unpack made of one archive.
struct Agreed {
    tmp: tempfile::TempDir,
    ours: Output,
}

impl Agreed {
    fn ours_dir(&self) -> PathBuf {
        self.tmp.path().join("ours")
    }
}

/// Extract `archive` with GNU tar (`gnu_flags` added) and with unpack;
/// assert the same exit status, the same tree, the same mtimes, and the
/// same `-tv` listing.
fn agree_with_gnu(archive: &Path, gnu_flags: &[&str], our_flags: &[&str]) -> Agreed {
    let tmp = tempfile::tempdir().unwrap();
    let since = fs::metadata(tmp.path()).unwrap().mtime() - 1;
    let (gnu_dir, ours_dir) = (tmp.path().join("gnu"), tmp.path().join("ours"));
    fs::create_dir(&gnu_dir).unwrap();
    fs::create_dir(&ours_dir).unwrap();
    let a = archive.to_str().unwrap();
    let mut args = vec!["-x", "-f", a, "-C", gnu_dir.to_str().unwrap()];
    args.extend_from_slice(gnu_flags);
    let gnu = tool(tmp.path(), "tar", &args);
    let mut args = vec!["-f", a, "-C", ours_dir.to_str().unwrap()];
    args.extend_from_slice(our_flags);
    let ours = tool(tmp.path(), bin("unpack").to_str().unwrap(), &args);
    assert_eq!(
        code(&ours),
        code(&gnu),
        "exit status: ours {}, GNU tar {}",
        stderr(&ours),
        stderr(&gnu)
    );
    assert_same_extraction(&gnu_dir, &ours_dir, since);
    assert_eq!(
        mtimes(&gnu_dir, since),
        mtimes(&ours_dir, since),
        "mtimes differ"
    );
    let mut args = vec!["-tv", "-f", a];
    args.extend_from_slice(gnu_flags);
    let gnu_list = tool(tmp.path(), "tar", &args);
    let mut args = vec!["-tv", "-f", a];
    args.extend_from_slice(our_flags);
    let our_list = tool(tmp.path(), bin("unpack").to_str().unwrap(), &args);
    assert_eq!(
        String::from_utf8_lossy(&our_list.stdout),
        String::from_utf8_lossy(&gnu_list.stdout),
        "-tv listings differ"
    );
    assert_eq!(code(&our_list), code(&gnu_list), "{}", stderr(&our_list));
    Agreed { tmp, ours }
}

/// A ustar (or, with `magic` empty, v7) header written field by field.
fn raw_header(name: &[u8], flag: u8, size: u64, link: &[u8], magic: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(format!("{:011o}\0", 1_600_000_000).as_bytes());
    h[156] = flag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..257 + magic.len()].copy_from_slice(magic);
    set_checksum(&mut h, false);
    h
}

const USTAR: &[u8] = b"ustar\x0000";

fn set_checksum(h: &mut [u8; 512], signed: bool) {
    h[148..156].fill(b' ');
    let sum: i64 = h
        .iter()
        .map(|&b| {
            if signed {
                i64::from(b as i8)
            } else {
                i64::from(b)
            }
        })
        .sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

fn padded(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(512) * 512, 0);
    v
}

fn write_archive(dir: &Path, name: &str, parts: &[&[u8]]) -> PathBuf {
    let mut bytes: Vec<u8> = parts.concat();
    bytes.extend_from_slice(&[0; 1024]);
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

// ---- 1 and 13: timestamps ----

#[test]
fn pre_1970_and_fractional_mtimes_from_every_tool_restore_like_gnu_tar() {
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        "mkdir -p src/d && echo old > src/d/old && echo new > src/new
         touch -d '1960-05-01 12:00:00.25' src/d/old
         touch -d '2026-08-21 03:15:07.123456789' src/new
         touch -d '1950-01-01 00:00:00' src/d
         tar --format=gnu -cf gnu.tar -C src .
         tar --format=posix -cf posix.tar -C src .
         bsdtar -cf bsd.tar -C src .
         python3 -c 'import tarfile; t = tarfile.open(\"py.tar.gz\", \"w:gz\", compresslevel=9); t.add(\"src\", arcname=\".\"); t.close()'",
    );
    for name in ["gnu.tar", "posix.tar", "bsd.tar", "py.tar.gz"] {
        let got = agree_with_gnu(&tmp.path().join(name), &[], &[]);
        let old = fs::metadata(got.ours_dir().join("d/old")).unwrap();
        // libarchive writes 12:00:00.25 as "-305121600.25"; GNU tar (and
        // so unpack) reads that decimal as it stands: 11:59:59.75.
        let want = if name == "bsd.tar" {
            -305_121_601
        } else {
            -305_121_600
        };
        assert_eq!(old.mtime(), want, "{name}: 1960-05-01 12:00:00");
    }
    // The formats that keep fractions keep them exactly (bsdtar writes
    // none for a time ustar can hold).
    for name in ["posix.tar", "py.tar.gz"] {
        let got = agree_with_gnu(&tmp.path().join(name), &[], &[]);
        let new = fs::metadata(got.ours_dir().join("new")).unwrap();
        assert_eq!(new.mtime(), 1_787_282_107, "{name}");
        assert_ne!(new.mtime_nsec(), 0, "{name}: fraction lost");
    }
    // pack stores a pre-1970 time in a PAX record; GNU tar reads it back.
    sh_in(tmp.path(), "pack --none -C src . > packed.tar");
    let got = agree_with_gnu(&tmp.path().join("packed.tar"), &[], &[]);
    let old = fs::metadata(got.ours_dir().join("d/old")).unwrap();
    assert_eq!(old.mtime(), -305_121_600);
    let d = fs::metadata(got.ours_dir().join("d")).unwrap();
    assert_eq!(d.mtime(), -631_152_000);
}

#[test]
fn a_time_past_any_range_is_an_error_like_gnu_tar_never_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let mut h = raw_header(b"f", b'0', 3, b"", USTAR);
    h[136] = 0x80;
    h[137..148].fill(0xff); // base-256, far past i64::MAX seconds
    set_checksum(&mut h, false);
    let archive = write_archive(tmp.path(), "t.tar", &[&h, &padded(b"abc")]);
    let got = agree_with_gnu(&archive, &[], &[]);
    assert_eq!(code(&got.ours), 2);
    assert!(
        stderr(&got.ours).contains("unpack: f: time stamp out of range"),
        "{}",
        stderr(&got.ours)
    );
    assert_eq!(fs::read(got.ours_dir().join("f")).unwrap(), b"abc");
}

#[test]
fn pax_uname_and_gname_are_honoured() {
    if !nix::unistd::geteuid().is_root() {
        return; // owners are restored only as root; CI runs as root
    }
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        "python3 - <<'EOF'
import io, tarfile
t = tarfile.open('owners.tar', 'w', format=tarfile.PAX_FORMAT)
ti = tarfile.TarInfo('owned')
ti.size = 2; ti.uid = 4242; ti.gid = 4343; ti.uname = 'x'; ti.gname = 'y'
ti.pax_headers = {'uname': 'nobody', 'gname': 'nogroup'}
t.addfile(ti, io.BytesIO(b'ok'))
t.close()
EOF",
    );
    // GNU tar looks the owner up from the ustar field before it reads the
    // PAX records, so it keeps 4242; bsdtar (and POSIX) let PAX override.
    let got = agree_with_gnu(&tmp.path().join("owners.tar"), &[], &[]);
    sh_in(
        got.tmp.path(),
        &format!(
            "mkdir bsd && bsdtar -xf {}/owners.tar -C bsd",
            tmp.path().display()
        ),
    );
    let md = fs::metadata(got.ours_dir().join("owned")).unwrap();
    let bsd = fs::metadata(got.tmp.path().join("bsd/owned")).unwrap();
    assert_eq!((md.uid(), md.gid()), (bsd.uid(), bsd.gid()));
    assert_ne!(md.uid(), 4242, "the PAX uname was not used");
}

#[test]
fn pax_global_headers_apply_to_every_later_member_like_gnu_tar() {
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        "python3 - <<'EOF'
import io, tarfile
for name, extra in [('times.tar', {}), ('named.tar', {'path': 'global1'})]:
    records = {'mtime': '1500000000.5', 'comment': 'nightly', **extra}
    t = tarfile.open(name, 'w', format=tarfile.PAX_FORMAT, pax_headers=records)
    for n in ['file1', 'file2']:
        ti = tarfile.TarInfo(n); ti.size = 1; ti.mtime = 1000
        t.addfile(ti, io.BytesIO(n[-1].encode()))
    t.close()
EOF",
    );
    let got = agree_with_gnu(&tmp.path().join("times.tar"), &[], &[]);
    let md = fs::metadata(got.ours_dir().join("file2")).unwrap();
    assert_eq!((md.mtime(), md.mtime_nsec()), (1_500_000_000, 500_000_000));
    // A global path names every member (GNU tar's reading; the last wins).
    let got = agree_with_gnu(&tmp.path().join("named.tar"), &[], &[]);
    assert_eq!(fs::read(got.ours_dir().join("global1")).unwrap(), b"2");
}

// ---- 2: sparse files ----

/// A 10 MiB file with 64 KiB of data at 1 MiB and at 5 MiB, a hole at the end.
const MAKE_SPARSE: &str = "mkdir -p src && truncate -s 10M src/disk.img
    head -c 65536 /dev/urandom | dd of=src/disk.img bs=1M seek=1 conv=notrunc status=none
    head -c 65536 /dev/urandom | dd of=src/disk.img bs=1M seek=5 conv=notrunc status=none
    echo dense > src/plain";

fn blocks(path: &Path) -> u64 {
    fs::metadata(path).unwrap().blocks()
}

#[test]
fn sparse_files_in_all_four_formats_extract_with_holes_like_gnu_tar() {
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        &format!(
            "{MAKE_SPARSE}
             tar --format=gnu --sparse -cf oldgnu.tar -C src .
             for v in 0.0 0.1 1.0; do tar --format=posix --sparse --sparse-version=$v -cf pax$v.tar -C src .; done
             bsdtar -cf bsd.tar -C src ."
        ),
    );
    for name in [
        "oldgnu.tar",
        "pax0.0.tar",
        "pax0.1.tar",
        "pax1.0.tar",
        "bsd.tar",
    ] {
        let got = agree_with_gnu(&tmp.path().join(name), &[], &[]);
        let ours = got.ours_dir().join("disk.img");
        let gnu = got.tmp.path().join("gnu/disk.img");
        assert_eq!(fs::metadata(&ours).unwrap().len(), 10 << 20, "{name}");
        assert!(
            blocks(&ours) <= blocks(&gnu) + 16,
            "{name}: {} blocks against GNU tar's {}",
            blocks(&ours),
            blocks(&gnu)
        );
        assert!(blocks(&ours) < 1024, "{name}: not sparse");
        let names = tool(
            tmp.path(),
            bin("unpack").to_str().unwrap(),
            &["-t", "-f", name],
        );
        assert_eq!(
            String::from_utf8_lossy(&names.stdout),
            "./\n./disk.img\n./plain\n",
            "{name}"
        );
    }
}

#[test]
fn a_60_gb_hole_is_not_written_out() {
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        "mkdir src && truncate -s 60G src/vm.img && echo boot | dd of=src/vm.img conv=notrunc status=none
         tar --format=gnu --sparse -cf vm.tar -C src vm.img",
    );
    assert!(fs::metadata(tmp.path().join("vm.tar")).unwrap().len() < 100_000);
    let dest = tmp.path().join("out");
    fs::create_dir(&dest).unwrap();
    let out = tool(
        tmp.path(),
        bin("unpack").to_str().unwrap(),
        &["-f", "vm.tar", "-C", "out"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let img = dest.join("vm.img");
    assert_eq!(fs::metadata(&img).unwrap().len(), 60 << 30);
    assert!(blocks(&img) < 64, "{} blocks", blocks(&img));
    let mut head = [0u8; 5];
    use std::io::Read;
    fs::File::open(&img).unwrap().read_exact(&mut head).unwrap();
    assert_eq!(&head, b"boot\n");
}

#[test]
fn pack_sparse_round_trips_through_gnu_tar_and_bsdtar() {
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        &format!(
            "{MAKE_SPARSE}
             pack --none --sparse -C src . > sparse.tar
             pack --none -C src . > dense.tar
             mkdir gnu bsd && tar -xf sparse.tar -C gnu && bsdtar -xf sparse.tar -C bsd
             cmp src/disk.img gnu/disk.img && cmp src/disk.img bsd/disk.img"
        ),
    );
    let sparse = fs::metadata(tmp.path().join("sparse.tar")).unwrap().len();
    let dense = fs::metadata(tmp.path().join("dense.tar")).unwrap().len();
    assert!(sparse < 200_000, "sparse archive of {sparse} bytes");
    assert!(dense > 10 << 20, "without --sparse holes are read as zeros");
    for dir in ["gnu", "bsd"] {
        let img = tmp.path().join(dir).join("disk.img");
        assert!(blocks(&img) < 1024, "{dir}: {} blocks", blocks(&img));
    }
    let listing = sh_in(tmp.path(), "tar -tvf sparse.tar | grep disk.img");
    assert!(
        String::from_utf8_lossy(&listing.stdout).contains(" 10485760 "),
        "GNU tar sees the real size"
    );
    agree_with_gnu(&tmp.path().join("sparse.tar"), &[], &[]);
}

// ---- 3: fail-open skips ----

#[test]
fn a_multivolume_continuation_fails_like_gnu_tar() {
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        "head -c 60000 /dev/urandom > big && tar -c -M -L 40 -f vol1.tar -f vol2.tar big",
    );
    let got = agree_with_gnu(&tmp.path().join("vol2.tar"), &[], &[]);
    assert_eq!(code(&got.ours), 2);
    assert!(
        stderr(&got.ours).contains("big: Cannot extract -- file is continued from another volume"),
        "{}",
        stderr(&got.ours)
    );
    // The first volume alone ends inside the file: a truncation.
    let first = tool(
        tmp.path(),
        bin("unpack").to_str().unwrap(),
        &["-t", "-f", "vol1.tar"],
    );
    assert_eq!(code(&first), 2, "{}", stderr(&first));
}

#[test]
fn an_unknown_entry_type_is_extracted_as_a_file_with_its_letter_named() {
    let tmp = tempfile::tempdir().unwrap();
    let h = raw_header(b"quirk", b'Q', 5, b"", USTAR);
    let archive = write_archive(tmp.path(), "q.tar", &[&h, &padded(b"quirk")]);
    let got = agree_with_gnu(&archive, &[], &[]);
    assert_eq!(
        stderr(&got.ours),
        "unpack: quirk: Unknown file type 'Q', extracted as normal file\n"
    );
    assert_eq!(fs::read(got.ours_dir().join("quirk")).unwrap(), b"quirk");
}

// ---- 4: signals ----

#[test]
fn a_signal_mid_file_leaves_no_temporary_file() {
    use std::io::Write;
    use std::process::Stdio;
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        let dest = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin("unpack"))
            .args(["-C", dest.path().to_str().unwrap()])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(&raw_header(b"big", b'0', 100 << 20, b"", USTAR))
            .unwrap();
        stdin.write_all(&vec![7u8; 4 << 20]).unwrap();
        // Wait (bounded) until the temporary file is there.
        let temp = || {
            fs::read_dir(dest.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with(".s3pipe-unpack-")
                })
                .count()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while temp() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no temporary file appeared"
            );
            std::thread::yield_now();
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(128 + signal as i32), "{signal}");
        drop(stdin);
        assert_eq!(temp(), 0, "{signal}: temporary file left behind");
        assert_eq!(fs::read_dir(dest.path()).unwrap().count(), 0);
    }
}

// ---- 5 and 6: incremental archives, pzstd, forced codecs ----

#[test]
fn gnu_incremental_archives_keep_empty_directories() {
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        "mkdir -p src/full src/empty/nested && echo x > src/full/f
         tar -g snapshot -cf level0.tar -C src .
         echo y > src/full/g && tar -g snapshot -cf level1.tar -C src .",
    );
    for name in ["level0.tar", "level1.tar"] {
        let got = agree_with_gnu(&tmp.path().join(name), &[], &[]);
        assert!(got.ours_dir().join("empty/nested").is_dir(), "{name}");
    }
}

#[test]
fn pzstd_output_and_forced_codecs() {
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        "mkdir src && head -c 300000 /dev/urandom > src/a && seq 100000 > src/b
         tar -cf plain.tar -C src . && pzstd -q -p 2 -c plain.tar > p.tar.zst
         gzip -c plain.tar > plain.tar.gz",
    );
    agree_with_gnu(&tmp.path().join("p.tar.zst"), &["--zstd"], &[]);
    agree_with_gnu(&tmp.path().join("p.tar.zst"), &["--zstd"], &["--zstd"]);
    agree_with_gnu(&tmp.path().join("plain.tar.gz"), &["-z"], &["-z"]);
    agree_with_gnu(&tmp.path().join("plain.tar"), &[], &["--none"]);
    let wrong = tool(
        tmp.path(),
        bin("unpack").to_str().unwrap(),
        &["-t", "--gzip", "-f", "plain.tar"],
    );
    assert_eq!(code(&wrong), 2);
    assert!(
        stderr(&wrong).contains("corrupt gzip stream"),
        "{}",
        stderr(&wrong)
    );
}

// ---- 7: old-tar quirks ----

#[test]
fn v7_directories_sized_links_and_signed_checksums() {
    let tmp = tempfile::tempdir().unwrap();
    let v7 = write_archive(
        tmp.path(),
        "v7.tar",
        &[
            &raw_header(b"olddir/", b'0', 0, b"", b""),
            &raw_header(b"olddir/f", b'0', 2, b"", b""),
            &padded(b"hi"),
        ],
    );
    let got = agree_with_gnu(&v7, &[], &[]);
    assert!(got.ours_dir().join("olddir").is_dir());
    // Headers that carry no data whatever their size says (GNU tar's -x;
    // its own -t skips the size and loses its place, so no -tv compare).
    write_archive(
        tmp.path(),
        "sized.tar",
        &[
            &raw_header(b"s", b'2', 1000, b"target", USTAR),
            &raw_header(b"d/", b'5', 700, b"", USTAR),
            &raw_header(b"p", b'6', 300, b"", USTAR),
            &raw_header(b"after", b'0', 2, b"", USTAR),
            &padded(b"ok"),
        ],
    );
    let dest = tmp.path().join("sized");
    fs::create_dir(&dest).unwrap();
    let ours = tool(
        tmp.path(),
        bin("unpack").to_str().unwrap(),
        &["-f", "sized.tar", "-C", "sized"],
    );
    assert_eq!(code(&ours), 0, "{}", stderr(&ours));
    let gnu = tmp.path().join("gnu-sized");
    fs::create_dir(&gnu).unwrap();
    assert_eq!(
        code(&tool(
            tmp.path(),
            "tar",
            &["-xf", "sized.tar", "-C", "gnu-sized"]
        )),
        0
    );
    assert_same_tree(&gnu, &dest);
    assert_eq!(fs::read(dest.join("after")).unwrap(), b"ok");
    // Summed over signed chars: a name byte over 127.
    let mut signed = raw_header(b"caf\xe9", b'0', 2, b"", USTAR);
    set_checksum(&mut signed, true);
    let archive = write_archive(tmp.path(), "signed.tar", &[&signed, &padded(b"ok")]);
    agree_with_gnu(&archive, &[], &[]);
}

#[test]
fn the_last_of_two_long_names_wins_and_volume_labels_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let first = "first-".repeat(30);
    let second = format!("{}/file", "second-".repeat(30));
    let long = |name: &str| {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        [
            raw_header(b"././@LongLink", b'L', data.len() as u64, b"", b"ustar  \0").to_vec(),
            padded(&data),
        ]
        .concat()
    };
    let archive = write_archive(
        tmp.path(),
        "long.tar",
        &[
            &long(&first),
            &long(&second),
            &raw_header(b"short", b'0', 2, b"", USTAR),
            &padded(b"ok"),
        ],
    );
    let got = agree_with_gnu(&archive, &[], &[]);
    assert_eq!(fs::read(got.ours_dir().join(&second)).unwrap(), b"ok");
    sh_in(
        tmp.path(),
        "mkdir src && echo a > src/a && tar -V 'Backup 2026-11-25' -cf label.tar -C src a",
    );
    let got = agree_with_gnu(&tmp.path().join("label.tar"), &[], &[]);
    assert_eq!(fs::read_dir(got.ours_dir()).unwrap().count(), 1);
    let names = tool(
        tmp.path(),
        bin("unpack").to_str().unwrap(),
        &["-t", "-f", "label.tar"],
    );
    assert_eq!(
        String::from_utf8_lossy(&names.stdout),
        "Backup 2026-11-25\na\n"
    );
}

#[test]
fn a_stray_byte_in_the_end_blocks_warns_and_tape_padding_after_gzip_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        "mkdir src && head -c 60000 /dev/urandom > src/big
         tar -cf - -C src big | dd conv=sync bs=10240 status=none > /dev/null
         tar -czf - -C src big | dd conv=sync bs=10240 status=none > padded.tar.gz
         tar -cf stray.tar -C src big",
    );
    let stray = tmp.path().join("stray.tar");
    let mut bytes = fs::read(&stray).unwrap();
    let end = 512 + 60_000usize.div_ceil(512) * 512;
    bytes[end + 512 + 100] = 7; // inside the second end-of-archive block
    fs::write(&stray, bytes).unwrap();
    let got = agree_with_gnu(&stray, &[], &[]);
    assert_eq!(stderr(&got.ours), "unpack: A lone zero block at 120\n");
    let padded_gz = tmp.path().join("padded.tar.gz");
    assert!(fs::read(&padded_gz).unwrap().ends_with(&[0; 100]));
    let got = agree_with_gnu(&padded_gz, &[], &[]);
    assert_eq!(stderr(&got.ours), "");
}

#[test]
fn device_nodes_without_devices_are_skipped_and_the_rest_extracted() {
    if !nix::unistd::geteuid().is_root() {
        return; // only root can make the device node GNU tar archives
    }
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        "mkdir src && echo a > src/a && mknod src/null c 1 3 && echo z > src/z
         tar -cf devs.tar -C src a null z",
    );
    let dest = tmp.path().join("out");
    fs::create_dir(&dest).unwrap();
    let out = tool(
        tmp.path(),
        bin("unpack").to_str().unwrap(),
        &["-f", "devs.tar", "-C", "out"],
    );
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "unpack: refusing entry null: device nodes are extracted only with --devices, as root\n\
         unpack: 1 entries could not be written (see above)\n"
    );
    assert_eq!(fs::read(dest.join("a")).unwrap(), b"a\n");
    assert_eq!(fs::read(dest.join("z")).unwrap(), b"z\n");
    assert!(!dest.join("null").exists());
}

// ---- 9, 10, 12: bounded memory and output, splice ----

#[test]
fn huge_extension_headers_are_refused_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    // A PAX header claiming 2 GiB, and a GNU long name of 100 MiB of real
    // bytes: both compress to almost nothing.
    let pax = raw_header(b"PaxHeaders/x", b'x', 2 << 30, b"", USTAR);
    fs::write(tmp.path().join("pax.tar"), pax).unwrap();
    let mut long = raw_header(b"././@LongLink", b'L', 100 << 20, b"", b"ustar  \0").to_vec();
    long.resize(512 + (100 << 20), b'a');
    fs::write(tmp.path().join("long.tar"), long).unwrap();
    sh_in(tmp.path(), "zstd -q pax.tar long.tar");
    for (file, message) in [
        (
            "pax.tar.zst",
            "PAX header of 2147483648 bytes at byte 0 is over the 4 MiB limit",
        ),
        (
            "long.tar.zst",
            "long name of 104857600 bytes at byte 0 is over the 4 MiB limit",
        ),
    ] {
        for command in [
            "unpack -C .",
            "unpack -t",
            "pack --none --splice - >/dev/null",
        ] {
            let (rss, out) = peak_rss(tmp.path(), &format!("{command} < {file}"));
            assert_eq!(code(&out), 2, "{command} < {file}: {}", stderr(&out));
            assert!(
                stderr(&out).contains(message),
                "{command}: {}",
                stderr(&out)
            );
            assert!(rss < 64 * 1024, "{command} < {file}: {rss} KiB");
        }
    }
}

#[test]
fn a_cut_splice_stops_where_the_cut_is() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("cut.tar"),
        raw_header(b"huge", b'0', 2_600_000_000, b"", USTAR),
    )
    .unwrap();
    let out = tool(
        tmp.path(),
        "bash",
        &[
            "-c",
            &format!("{} --none --splice cut.tar", bin("pack").display()),
        ],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        out.stdout.len() < 1 << 20,
        "wrote {} bytes",
        out.stdout.len()
    );
    assert!(
        stderr(&out).contains("cut.tar: input ended early (truncated tar stream): huge is cut short at 0 of 2600000000 bytes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn spliced_sparse_entries_stay_sparse() {
    let tmp = tempfile::tempdir().unwrap();
    sh_in(
        tmp.path(),
        "mkdir src && truncate -s 20G src/vm.img && echo boot | dd of=src/vm.img conv=notrunc status=none
         tar --format=gnu --sparse -cf vm.tar -C src vm.img
         pack --none --prefix images --splice vm.tar > merged.tar
         mkdir gnu ours && tar -xf merged.tar -C gnu && unpack -f merged.tar -C ours
         cmp gnu/images/vm.img ours/images/vm.img
         diff <(tar -tvf merged.tar) <(unpack -tvf merged.tar)",
    );
    assert!(fs::metadata(tmp.path().join("merged.tar")).unwrap().len() < 100_000);
    let img = tmp.path().join("ours/images/vm.img");
    assert_eq!(fs::metadata(&img).unwrap().len(), 20 << 30);
    assert!(blocks(&img) < 64);
}

#[test]
fn splicing_v7_style_extension_headers_keeps_names() {
    let tmp = tempfile::tempdir().unwrap();
    // GNU long name and long link in headers without any magic, then a
    // PAX header likewise: v7-style writers.
    let name = format!("{}/data.bin", "deep-directory".repeat(10));
    let mut with_nul = name.clone().into_bytes();
    with_nul.push(0);
    let link = "t".repeat(150);
    let pax_body = format!("{} mtime=1700000000.5\n", 22);
    let archive = write_archive(
        tmp.path(),
        "v7ext.tar",
        &[
            &raw_header(b"././@LongLink", b'L', with_nul.len() as u64, b"", b""),
            &padded(&with_nul),
            &raw_header(b"short", b'0', 2, b"", b""),
            &padded(b"ok"),
            &raw_header(b"././@LongLink", b'K', link.len() as u64, b"", b""),
            &padded(link.as_bytes()),
            &raw_header(b"sym", b'2', 0, b"x", b""),
            &raw_header(b"PaxHeader", b'x', pax_body.len() as u64, b"", b""),
            &padded(pax_body.as_bytes()),
            &raw_header(b"timed", b'0', 1, b"", b""),
            &padded(b"t"),
        ],
    );
    assert_eq!(pax_body.len(), 22);
    sh_in(tmp.path(), "pack --none --splice v7ext.tar > spliced.tar");
    let got = agree_with_gnu(&tmp.path().join("spliced.tar"), &[], &[]);
    let dir = got.ours_dir();
    assert_eq!(fs::read(dir.join(&name)).unwrap(), b"ok");
    assert_eq!(
        fs::read_link(dir.join("sym")).unwrap(),
        PathBuf::from(&link)
    );
    let timed = fs::metadata(dir.join("timed")).unwrap();
    assert_eq!(
        (timed.mtime(), timed.mtime_nsec()),
        (1_700_000_000, 500_000_000)
    );
    // And straight from the original, the same.
    agree_with_gnu(&archive, &[], &[]);
}

// ---- fuzz findings, replayed ----

/// Every input under tests/fuzz-regressions/ once crashed or misled a fuzz
/// target (or reproduces a crash found before the fuzzer existed); each
/// must now end in a clean exit (0 or 2), never a panic.
#[test]
fn fuzz_regressions_end_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut seen = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let input = fs::read(&path).unwrap();
        let dest = tempfile::tempdir().unwrap();
        // The upload check behind s3put --verify, in every mode.
        for mode in [Verify::Auto, Verify::Gzip, Verify::Zstd, Verify::Tar] {
            let mut check = StreamCheck::new(mode);
            if check.feed(bytes::Bytes::from(input.clone())).is_ok() {
                let _ = check.finish();
            }
        }
        let unpack = bin("unpack");
        for args in [vec!["-C", dest.path().to_str().unwrap()], vec!["-tv"]] {
            // A hang is a finding too: timeout(1) ends it with 124.
            let mut args = [vec!["20", unpack.to_str().unwrap()], args].concat();
            args.retain(|a| !a.is_empty());
            let out = run("timeout", &args, &input);
            assert!(
                matches!(code(&out), 0 | 2) && !stderr(&out).contains("panicked"),
                "{} {args:?}: exit {} {}",
                path.display(),
                code(&out),
                stderr(&out)
            );
        }
        seen += 1;
    }
    assert!(seen > 0, "no regression inputs in {}", dir.display());
}
