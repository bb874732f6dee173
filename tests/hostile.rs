//! Hostile archives: one per safety rule in src/archive/guard.rs. Each must
//! be refused with an error naming the entry and a non-zero exit, and leave
//! everything outside the destination exactly as it was.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::*;

/// A sandbox: `dest` to unpack into, `outside` next to it holding a file
/// an attacker would like to overwrite.
struct Sandbox {
    _tmp: tempfile::TempDir,
    dest: PathBuf,
    outside: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("dest");
        let outside = tmp.path().join("outside");
        fs::create_dir(&dest).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), b"original").unwrap();
        Sandbox {
            _tmp: tmp,
            dest,
            outside,
        }
    }

    /// Unpack `archive`, asserting nothing outside `dest` changed.
    fn unpack(&self, archive: &[u8], extra: &[&str]) -> std::process::Output {
        let parent = self.dest.parent().unwrap();
        let before = snapshot_outside(parent, &self.dest);
        let mut args = vec!["-C", self.dest.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = run(bin("unpack"), &args, archive);
        assert_eq!(
            before,
            snapshot_outside(parent, &self.dest),
            "something outside dest changed"
        );
        assert_eq!(fs::read(self.outside.join("secret")).unwrap(), b"original");
        out
    }

    fn refused(&self, archive: &[u8], fragment: &str) {
        let out = self.unpack(archive, &[]);
        assert_eq!(code(&out), 2, "must fail: {}", stderr(&out));
        assert!(
            stderr(&out).contains(fragment),
            "wanted {fragment:?} in: {}",
            stderr(&out)
        );
        // The refused member, then (GNU tar's rule: skip it, go on, exit
        // 2 at the end) the count of members not written.
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{err}");
        assert!(lines[0].contains(fragment), "{err}");
        assert_eq!(
            lines[1],
            "unpack: 1 entries could not be written (see above)"
        );
    }
}

/// Everything under `parent` except `dest`'s contents.
fn snapshot_outside(parent: &Path, dest: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    snapshot(parent)
        .into_iter()
        .filter(|(p, _)| !parent.join(p).starts_with(dest) || parent.join(p) == dest)
        .map(|(p, n)| (p, n.data))
        .collect()
}

#[test]
fn rule1_dotdot_in_the_name() {
    let s = Sandbox::new();
    for name in [
        "../outside/secret",
        "a/../../outside/secret",
        "./../outside/secret",
    ] {
        let archive = RawTar::default().file(name, b"pwned").finish();
        s.refused(
            &archive,
            &format!("refusing entry {name}: path contains a '..' component"),
        );
    }
}

#[test]
fn rule1_dotdot_in_pax_path_and_gnu_long_name() {
    let s = Sandbox::new();
    let pax = RawTar::default()
        .pax(&[("path", "../outside/secret")])
        .file("harmless", b"pwned")
        .finish();
    s.refused(
        &pax,
        "refusing entry ../outside/secret: path contains a '..' component",
    );
    let long = format!("{}/../../../outside/secret", "d/".repeat(60));
    let gnu = RawTar::default()
        .gnu_long_name(&long)
        .file("harmless", b"pwned")
        .finish();
    s.refused(&gnu, "path contains a '..' component");
    let link = RawTar::default()
        .file("ok", b"x")
        .pax(&[("linkpath", "../outside/secret")])
        .hardlink("h", "ok")
        .finish();
    s.refused(&link, "refusing entry h: path contains a '..' component");
}

#[test]
fn rule2_absolute_names_are_stripped_never_written() {
    let s = Sandbox::new();
    let target = s.outside.join("secret");
    let archive = RawTar::default()
        .file(target.to_str().unwrap(), b"pwned")
        .finish();
    let out = s.unpack(&archive, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("Removing leading `/' from member names"));
    let landed = s.dest.join(&target.to_str().unwrap()[1..]);
    assert_eq!(fs::read(landed).unwrap(), b"pwned");
}

#[test]
fn rule3_symlink_from_the_archive_pointing_outside() {
    let s = Sandbox::new();
    for target in [
        s.outside.to_str().unwrap().to_string(),
        "../outside".to_string(),
    ] {
        let archive = RawTar::default()
            .symlink("esc", &target)
            .file("esc/secret", b"pwned")
            .finish();
        s.refused(
            &archive,
            "refusing entry esc/secret: path goes through symlink esc which points outside",
        );
        fs::remove_file(s.dest.join("esc")).unwrap();
    }
    // Deeper: a directory created through the link is refused too.
    let archive = RawTar::default()
        .symlink("esc", "../outside")
        .dir("esc/newdir/")
        .finish();
    s.refused(&archive, "points outside the destination");
    assert!(!s.outside.join("newdir").exists());
}

#[test]
fn rule3_symlink_already_in_dest_pointing_outside() {
    let s = Sandbox::new();
    std::os::unix::fs::symlink(&s.outside, s.dest.join("pre")).unwrap();
    let archive = RawTar::default().file("pre/secret", b"pwned").finish();
    s.refused(
        &archive,
        "refusing entry pre/secret: path goes through symlink pre",
    );
}

#[test]
fn rule3_symlinks_inside_dest_are_followed() {
    let s = Sandbox::new();
    let archive = RawTar::default()
        .dir("real/")
        .symlink("alias", "real")
        .file("alias/f", b"through an inside link")
        .finish();
    let out = s.unpack(&archive, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        fs::read(s.dest.join("real/f")).unwrap(),
        b"through an inside link"
    );
}

#[test]
fn rule4_hard_links_outside_are_refused() {
    let s = Sandbox::new();
    let abs = RawTar::default()
        .hardlink("h", s.outside.join("secret").to_str().unwrap())
        .finish();
    // The leading / is stripped: the target is then looked up inside dest.
    s.refused(&abs, "does not exist");
    let through = RawTar::default()
        .symlink("esc", "../outside")
        .hardlink("h", "esc/secret")
        .finish();
    s.refused(
        &through,
        "refusing entry h: hard link target esc/secret is outside the destination",
    );
    let dotdot = RawTar::default()
        .hardlink("h", "../outside/secret")
        .finish();
    s.refused(&dotdot, "refusing entry h: path contains a '..' component");
    assert_eq!(fs::metadata(s.outside.join("secret")).unwrap().len(), 8);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(s.outside.join("secret")).unwrap().nlink(),
        1,
        "no link made to it"
    );
}

#[test]
fn rule5_device_nodes_need_devices_and_root() {
    let s = Sandbox::new();
    let mut dev = RawTar::default();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Char);
    h.set_path("null").unwrap();
    h.set_mode(0o666);
    h.set_size(0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_cksum();
    dev.bytes.extend_from_slice(h.as_bytes());
    let archive = dev.file("after", b"still extracted").finish();
    // GNU tar's way: the node is skipped with a line naming it, the rest
    // is extracted, and the run ends with a failure status.
    let out = s.unpack(&archive, &["--no-same-owner"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "unpack: refusing entry null: device nodes are extracted only with --devices, as root\n\
         unpack: 1 entries could not be written (see above)\n"
    );
    assert!(!s.dest.join("null").exists());
    assert_eq!(fs::read(s.dest.join("after")).unwrap(), b"still extracted");
    if nix::unistd::geteuid().is_root() {
        let out = s.unpack(&archive, &["--devices"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        use std::os::unix::fs::FileTypeExt;
        assert!(
            fs::symlink_metadata(s.dest.join("null"))
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
}

#[test]
fn rule6_a_symlink_at_the_last_component_is_replaced_not_followed() {
    let s = Sandbox::new();
    let archive = RawTar::default()
        .symlink("victim", s.outside.join("secret").to_str().unwrap())
        .file("victim", b"replaced")
        .finish();
    let out = s.unpack(&archive, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let md = fs::symlink_metadata(s.dest.join("victim")).unwrap();
    assert!(md.is_file(), "the symlink was replaced by the file");
    assert_eq!(fs::read(s.dest.join("victim")).unwrap(), b"replaced");
}
