//! Directory trees: rich ones to pack, and comparing two trees entry by
//! entry (kind, mode, mtime, bytes, link target, hard links).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::inputs::random_bytes;

/// What a tree holds, comparable across two directories.
#[derive(Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    /// Not compared for symlinks (their own mtime is rarely kept by tools).
    pub mtime: Option<i64>,
    pub data: Vec<u8>,
    pub link: Option<PathBuf>,
    /// For files with several names: the first name (sorted) of the inode.
    pub same_as: Option<PathBuf>,
}

/// Everything below `root` (not `root` itself), keyed by relative path.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, PathBuf> = BTreeMap::new();
    walk(root, root, &mut out, &mut inodes);
    out
}

fn walk(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<PathBuf, Node>,
    inodes: &mut BTreeMap<u64, PathBuf>,
) {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        let md = fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(root).unwrap().to_path_buf();
        let ft = md.file_type();
        let mut node = Node {
            kind: "file",
            mode: md.permissions().mode() & 0o7777,
            mtime: Some(md.mtime()),
            data: Vec::new(),
            link: None,
            same_as: None,
        };
        if ft.is_symlink() {
            node.kind = "symlink";
            node.mode = 0;
            node.mtime = None;
            node.link = Some(fs::read_link(&path).unwrap());
        } else if ft.is_dir() {
            node.kind = "dir";
            walk(root, &path, out, inodes);
        } else if ft.is_file() {
            node.data = fs::read(&path).unwrap();
            if md.nlink() > 1 {
                node.same_as = Some(inodes.entry(md.ino()).or_insert(rel.clone()).clone());
            }
        } else {
            use std::os::unix::fs::FileTypeExt;
            node.kind = if ft.is_fifo() { "fifo" } else { "special" };
        }
        out.insert(rel, node);
    }
}

/// Assert two trees are identical, naming the first difference.
pub fn assert_same_tree(a: &Path, b: &Path) {
    assert_same_trees(snapshot(a), snapshot(b), a, b);
}

/// The same for two extractions made at different moments: a directory
/// whose mtime is `since` or later got it from the clock (the archive had
/// none for it), so its mtime is not compared — two extractions a second
/// apart gave 1796222309 and …310 in a clean-clone run.
pub fn assert_same_extraction(a: &Path, b: &Path, since: i64) {
    let settled = |root: &Path| {
        let mut snap = snapshot(root);
        for node in snap.values_mut() {
            if node.kind == "dir" && node.mtime.is_some_and(|t| t >= since) {
                node.mtime = None;
            }
        }
        snap
    };
    assert_same_trees(settled(a), settled(b), a, b);
}

fn assert_same_trees(sa: BTreeMap<PathBuf, Node>, sb: BTreeMap<PathBuf, Node>, a: &Path, b: &Path) {
    let ka: Vec<_> = sa.keys().collect();
    let kb: Vec<_> = sb.keys().collect();
    assert_eq!(
        ka,
        kb,
        "different entries in {} and {}",
        a.display(),
        b.display()
    );
    for (path, node) in &sa {
        assert_eq!(node, &sb[path], "{} differs", path.display());
    }
}

/// Return once the kernel's file clock has moved past every change under
/// `root` (a probe file beside it gets a later ctime): a dump started
/// after this is not in the same clock tick as the tree's last change, so
/// the next incremental does not send the tree again.
pub fn after_last_change(root: &Path) {
    use std::os::unix::fs::MetadataExt;
    let last = snapshot_ctimes(root);
    let probe = root.with_extension("probe");
    loop {
        // Written, then stat'ed: a kernel with multigrain timestamps gives
        // the next write a fine-grained time.
        fs::write(&probe, b"").unwrap();
        let md = fs::metadata(&probe).unwrap();
        if (md.ctime(), md.ctime_nsec()) > last {
            fs::remove_file(&probe).unwrap();
            return;
        }
    }
}

fn snapshot_ctimes(root: &Path) -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let md = fs::symlink_metadata(root).unwrap();
    let mut last = (md.ctime(), md.ctime_nsec());
    if md.is_dir() {
        for entry in fs::read_dir(root).unwrap() {
            last = last.max(snapshot_ctimes(&entry.unwrap().path()));
        }
    }
    last
}

/// Set a path's mtime without following symlinks.
pub fn set_mtime(path: &Path, secs: i64) {
    let t = filetime::FileTime::from_unix_time(secs, 0);
    filetime::set_symlink_file_times(path, t, t).unwrap();
}

pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A tree with every kind of thing pack must keep: nested and empty
/// directories, empty/small/large files, modes, mtimes, relative and
/// dangling symlinks, hard links, a FIFO, long and non-UTF-8 names, a long
/// symlink target.
pub fn rich_tree(root: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let p = |s: &str| root.join(s);
    fs::create_dir_all(p("dir/sub/deeper")).unwrap();
    fs::create_dir_all(p("empty-dir")).unwrap();
    fs::write(p("empty-file"), b"").unwrap();
    fs::write(p("dir/small.txt"), b"hello world\n").unwrap();
    fs::write(p("dir/sub/big.bin"), random_bytes(3 * 1024 * 1024 + 17, 1)).unwrap();
    fs::write(p("dir/sub/deeper/text.log"), "log line\n".repeat(50_000)).unwrap();
    fs::write(p("script.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    chmod(&p("script.sh"), 0o755);
    fs::write(p("private"), b"secret").unwrap();
    chmod(&p("private"), 0o600);
    std::os::unix::fs::symlink("dir/small.txt", p("link-rel")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", p("link-dangling")).unwrap();
    fs::hard_link(p("dir/small.txt"), p("hard-a")).unwrap();
    fs::hard_link(p("dir/small.txt"), p("dir/sub/hard-b")).unwrap();
    nix::unistd::mkfifo(&p("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let long_dir = "long-directory-name-".repeat(6);
    fs::create_dir_all(p(&long_dir)).unwrap();
    let long_file = format!("{long_dir}/{}", "f".repeat(120));
    fs::write(p(&long_file), b"long").unwrap();
    std::os::unix::fs::symlink("t".repeat(150), p("link-long-target")).unwrap();
    let latin1 = root.join(std::ffi::OsStr::from_bytes(b"caf\xe9-latin1"));
    fs::write(&latin1, b"not utf-8 name").unwrap();
    fs::write(p("unicode-ünï©ødé ✓"), b"utf-8 name").unwrap();
    fs::write(long_latin1_path(root), b"long latin-1 name").unwrap();
    // Fixed, distinct mtimes (directories last: writing into them bumps theirs).
    let mut t = 1_600_000_000;
    let snapshot = snapshot(root);
    let mut paths: Vec<_> = snapshot.keys().collect();
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for rel in paths {
        set_mtime(&root.join(rel), t);
        t += 3_601;
    }
}

/// A temp dir holding `src/`, a [`rich_tree`].
pub fn rich_source() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    rich_tree(&src);
    (tmp, src)
}

/// A non-UTF-8 path too long for a ustar name field (needs PAX).
pub fn long_latin1_path(root: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let dir = root.join(std::ffi::OsStr::from_bytes(&b"r\xe9pertoire-".repeat(8)));
    fs::create_dir_all(&dir).unwrap();
    dir.join(std::ffi::OsStr::from_bytes(
        &b"fichier-\xe9t\xe9-".repeat(4),
    ))
}
