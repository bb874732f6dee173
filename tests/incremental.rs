//! Incremental archives (`pack -g`, `unpack -G`): a chain that GNU tar
//! restores as unpack does, snapshots either program continues, only what
//! changed in a later level, and deletions that stay inside `-C`.

mod support;

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Output;

use support::*;

/// `pack -g SNAPSHOT --none -C src .`, asserted to succeed.
fn level(src: &Path, snapshot: &Path) -> Vec<u8> {
    let out = pack_g(src, snapshot, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    out.stdout
}

fn pack_g(src: &Path, snapshot: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["-g", snapshot.to_str().unwrap(), "--none"];
    args.extend(extra);
    args.extend(["-C", src.to_str().unwrap(), "."]);
    run(bin("pack"), &args, b"")
}

/// The member names of an archive, as GNU tar lists them.
fn members(archive: &[u8]) -> Vec<String> {
    let out = run("tar", &["-tf", "-"], archive);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Extract a chain, level 0 first, with GNU tar or with unpack.
fn restore_chain(chain: &[Vec<u8>], into: &Path, gnu: bool) {
    fs::create_dir_all(into).unwrap();
    for archive in chain {
        let dir = into.to_str().unwrap();
        let out = match gnu {
            true => run("tar", &["-x", "-G", "-f", "-", "-C", dir], archive),
            false => run(bin("unpack"), &["-G", "-C", dir], archive),
        };
        assert_eq!(code(&out), 0, "gnu={gnu}: {}", stderr(&out));
    }
}

/// A night's changes: one file grown, one deleted, a directory tree
/// deleted, files and a directory added, a mode changed (ctime only), a
/// directory renamed. What is written carries the night's time (an hour
/// from now per night): GNU tar's start time is exact, the kernel's file
/// times lag it by up to a tick.
fn change(src: &Path, night: u32) {
    let p = |s: &str| src.join(s);
    let later = |path: &str| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        set_mtime(&p(path), now.as_secs() as i64 + 3600 * i64::from(night));
    };
    match night {
        1 => {
            fs::write(p("dir/sub/deeper/text.log"), "log line\n".repeat(50_001)).unwrap();
            fs::remove_file(p("empty-file")).unwrap();
            fs::remove_dir_all(p("empty-dir")).unwrap();
            fs::write(p("dir/new.txt"), b"added on night 1").unwrap();
            fs::create_dir(p("added")).unwrap();
            fs::write(p("added/inside"), random_bytes(70_000, 5)).unwrap();
            chmod(&p("private"), 0o640);
            for path in ["dir/sub/deeper/text.log", "dir/new.txt", "added/inside"] {
                later(path);
            }
        }
        _ => {
            fs::rename(p("added"), p("renamed")).unwrap();
            fs::remove_file(p("dir/sub/big.bin")).unwrap();
            fs::write(p("dir/new.txt"), b"changed on night 2").unwrap();
            later("dir/new.txt");
        }
    }
}

#[test]
fn a_chain_restores_the_same_tree_by_unpack_and_by_gnu_tar() {
    let (tmp, src) = rich_source();
    after_last_change(&src);
    let snapshot = tmp.path().join("src.snar");
    let mut chain = vec![level(&src, &snapshot)];
    for night in 1..=2 {
        change(&src, night);
        chain.push(level(&src, &snapshot));
    }
    // Level 1 carries the directories and what changed, nothing else.
    let files: Vec<String> = (members(&chain[1]).into_iter())
        .filter(|m| !m.ends_with('/'))
        .collect();
    assert_eq!(
        files,
        [
            "./added/inside",
            "./dir/new.txt",
            "./dir/sub/deeper/text.log",
            "./private"
        ]
    );
    let (gnu, ours) = (tmp.path().join("gnu"), tmp.path().join("ours"));
    restore_chain(&chain, &gnu, true);
    restore_chain(&chain, &ours, false);
    assert_same_tree(&src, &gnu);
    assert_same_tree(&gnu, &ours);
    assert!(!ours.join("added").exists() && ours.join("renamed/inside").exists());
    assert!(!ours.join("dir/sub/big.bin").exists() && !ours.join("empty-dir").exists());
}

#[test]
fn gnu_tar_continues_our_snapshot_and_we_continue_its() {
    let (tmp, src) = rich_source();
    after_last_change(&src);
    let snapshot = tmp.path().join("src.snar");
    let dir = src.to_str().unwrap();
    let gnu_level = |snapshot: &Path| {
        let snar = snapshot.to_str().unwrap();
        let out = run("tar", &["-g", snar, "-cf", "-", "-C", dir, "."], b"");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        out.stdout
    };
    let mut chain = vec![level(&src, &snapshot)];
    change(&src, 1);
    chain.push(gnu_level(&snapshot));
    change(&src, 2);
    chain.push(level(&src, &snapshot));
    let night1: Vec<String> = (members(&chain[1]).into_iter())
        .filter(|m| !m.ends_with('/'))
        .collect();
    assert_eq!(
        night1.len(),
        4,
        "GNU tar sent only what changed: {night1:?}"
    );
    let ours = tmp.path().join("ours");
    restore_chain(&chain, &ours, false);
    assert_same_tree(&src, &ours);
}

#[test]
fn a_failed_pack_leaves_the_snapshot_as_it_was() {
    let (tmp, src) = rich_source();
    let snapshot = tmp.path().join("src.snar");
    level(&src, &snapshot);
    let before = fs::read(&snapshot).unwrap();
    fs::write(src.join("dir/new.txt"), b"x").unwrap();
    let missing = tmp.path().join("missing.tar");
    let out = pack_g(&src, &snapshot, &["--splice", missing.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(fs::read(&snapshot).unwrap(), before);
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "no temporary snapshot left: {leftovers:?}"
    );

    // A damaged snapshot is refused before anything is written.
    fs::write(&snapshot, &before[..before.len() / 2]).unwrap();
    let out = pack_g(&src, &snapshot, &[]);
    assert_eq!(code(&out), 2);
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("not a GNU tar snapshot (format 2): cut in a record"),
        "{}",
        stderr(&out)
    );

    // /dev/null, as with GNU tar: a level-0 dump that saves nothing.
    let all = pack_g(&src, Path::new("/dev/null"), &[]);
    assert_eq!(code(&all), 0, "{}", stderr(&all));
    assert!(members(&all.stdout).contains(&"./dir/sub/big.bin".to_string()));
    assert!(
        fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn deletions_stay_inside_the_destination_and_do_not_follow_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("d")).unwrap();
    fs::write(src.join("d/kept"), b"k").unwrap();
    let archive = level(&src, &tmp.path().join("s.snar"));

    // The destination's d/ is a symlink to a directory outside it.
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("precious"), b"p").unwrap();
    let dest = tmp.path().join("dest");
    fs::create_dir(&dest).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("d")).unwrap();
    fs::write(dest.join("stale"), b"s").unwrap();
    let out = run(
        bin("unpack"),
        &["-G", "-C", dest.to_str().unwrap()],
        &archive,
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing entry ./d/"),
        "{}",
        stderr(&out)
    );
    assert!(
        outside.join("precious").exists(),
        "nothing deleted outside -C"
    );
    assert!(
        !dest.join("stale").exists(),
        "the top directory's listing applied"
    );

    // Without -G nothing is deleted (tar -x of an incremental archive).
    fs::write(dest.join("stale"), b"s").unwrap();
    fs::remove_file(dest.join("d")).unwrap();
    let out = run(bin("unpack"), &["-C", dest.to_str().unwrap()], &archive);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(dest.join("stale").exists() && dest.join("d/kept").exists());
}
