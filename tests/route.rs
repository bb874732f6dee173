//! `unpack --route PREFIX=CMD`: entries under PREFIX stream into a command
//! (GNU tar on the receiving side, standing for `kubectl exec -i … tar xf
//! -`), with the prefix stripped; failures anywhere stop the commands
//! before they see an ending.

mod support;

use std::fs;
use std::path::Path;

use support::*;

/// The Combine's archive, made the way their Python job makes it
/// (tarfile, `w:gz`, PAX headers with fractional mtimes): a mongodump
/// directory under dump/ and the application's files under .CombineFiles/.
fn combine_archive(root: &Path) -> Vec<u8> {
    let src = root.join("src");
    let db = src.join("dump/CombineDatabase");
    fs::create_dir_all(&db).unwrap();
    for collection in ["Words", "Projects", "Users"] {
        fs::write(
            db.join(format!("{collection}.bson.gz")),
            random_bytes(150_000, collection.len() as u64),
        )
        .unwrap();
        fs::write(db.join(format!("{collection}.metadata.json.gz")), b"{}").unwrap();
    }
    let files = src.join(".CombineFiles/proj1/Import/ExtractedLocation");
    fs::create_dir_all(&files).unwrap();
    fs::write(files.join("audio.webm"), random_bytes(400_000, 5)).unwrap();
    fs::create_dir_all(src.join(".CombineFiles/lost+found")).unwrap();
    python_tar_gz(
        &src,
        &["dump", ".CombineFiles"],
        &root.join("combine.tar.gz"),
    );
    fs::read(root.join("combine.tar.gz")).unwrap()
}

fn unpack_routes(dir: &Path, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut all = vec!["-C", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    run(bin("unpack"), &all, input)
}

#[test]
fn routes_send_each_part_of_their_archive_to_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = combine_archive(tmp.path());
    let (dump, files, rest) = (
        tmp.path().join("database-pod/dump"),
        tmp.path().join("backend-pod/.CombineFiles"),
        tmp.path().join("rest"),
    );
    for d in [&dump, &files, &rest] {
        fs::create_dir_all(d).unwrap();
    }
    let out = unpack_routes(
        &rest,
        &[
            "--routes-only",
            "--route",
            &format!("dump=tar xf - -C {}", dump.display()),
            "--route",
            &format!("./.CombineFiles/=tar xf - -C {}", files.display()),
        ],
        &archive,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let src = tmp.path().join("src");
    assert_same_tree(&src.join("dump"), &dump);
    assert_same_tree(&src.join(".CombineFiles"), &files);
    assert!(
        fs::read_dir(&rest).unwrap().next().is_none(),
        "--routes-only"
    );

    // Without --routes-only what no route takes goes to -C as usual; a
    // route that matched nothing is reported.
    let out = unpack_routes(
        &rest,
        &[
            "--route",
            &format!("dump=tar xf - -C {}", dump.display()),
            "--route",
            "nothing=cat",
        ],
        &archive,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_same_tree(&src.join(".CombineFiles"), &rest.join(".CombineFiles"));
    assert!(!rest.join("dump").exists());
    assert!(
        stderr(&out).contains("--route nothing: no entry of the archive is under it"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_failing_route_command_fails_unpack() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = combine_archive(tmp.path());
    let late = unpack_routes(
        tmp.path(),
        &["--route", "dump=cat > /dev/null; exit 3"],
        &archive,
    );
    assert_eq!(code(&late), 2);
    assert_eq!(
        stderr(&late),
        "unpack: --route dump: `cat > /dev/null; exit 3` exited with status 3\n"
    );
    // One that stops reading early: its status, or that it stopped, is named.
    let early = unpack_routes(tmp.path(), &["--route", "dump=exit 4"], &archive);
    assert_eq!(code(&early), 2);
    assert!(
        stderr(&early).contains("--route dump: `exit 4` exited with status 4"),
        "{}",
        stderr(&early)
    );
}

/// A cut or corrupt input: the command is killed, never given an ending,
/// so what it would do after a whole stream (restore the database) never
/// happens.
#[test]
fn a_truncated_archive_never_lets_a_route_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = combine_archive(tmp.path());
    let target = tmp.path().join("target");
    fs::create_dir(&target).unwrap();
    let command = format!(
        "dump=tar xf - -C {0} && touch {0}/RESTORED",
        target.display()
    );
    let cut = &archive[..archive.len() * 2 / 3];
    let out = unpack_routes(tmp.path(), &["--route", &command], cut);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("input ended early"),
        "{}",
        stderr(&out)
    );
    assert!(!target.join("RESTORED").exists());
}

#[test]
fn route_names_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["dump", "=cmd", "../x=cat", "a/./b=cat"] {
        let out = unpack_routes(tmp.path(), &["--route", bad], b"");
        assert_eq!(code(&out), 2, "{bad}");
        assert!(stderr(&out).contains("--route"), "{bad}: {}", stderr(&out));
    }
    // A hard link from inside a route to outside it cannot be routed.
    let archive = RawTar::default()
        .file("outside.txt", b"x")
        .hardlink("dump/link", "outside.txt")
        .finish();
    let out = unpack_routes(tmp.path(), &["--route", "dump=cat > /dev/null"], &archive);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("dump/link: a hard link to outside.txt, outside route dump"),
        "{}",
        stderr(&out)
    );
}

/// A file named exactly like a route's prefix is not under it: it is
/// extracted as usual, and the route saw nothing.
#[test]
fn a_file_named_like_the_prefix_is_not_routed() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = RawTar::default().file("dump", b"not a directory").finish();
    let out = unpack_routes(tmp.path(), &["--route", "dump=cat > /dev/null"], &archive);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        fs::read(tmp.path().join("dump")).unwrap(),
        b"not a directory"
    );
    assert!(
        stderr(&out).contains("--route dump: no entry of the archive is under it"),
        "{}",
        stderr(&out)
    );
}
