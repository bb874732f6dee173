//! Shared by the integration tests: run the real binaries, build trees and
//! hostile archives, and compare directory trees entry by entry.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Path of one of this crate's binaries, built by cargo for the tests.
pub fn bin(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_pack"));
    dir.with_file_name(name)
}

pub mod cluster;
pub mod distant;
pub mod faults;
pub mod liar;
pub mod postgres;
pub mod s3;
pub mod tls;
pub mod wire;

/// Run `program args…` with `stdin` bytes; capture stdout and stderr.
pub fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(program.as_ref());
    cmd.args(args);
    run_command(cmd, stdin)
}

/// Run a prepared command with `stdin` bytes; capture stdout and stderr.
pub fn run_command(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // The program may stop reading early (that is what some tests check).
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

/// The one JSON line a job script (backup.sh, restore.sh --verify-only)
/// prints on stdout when its run ends.
pub fn summary(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    serde_json::from_str(text.trim()).unwrap()
}

/// Run a shell pipeline; panics with its stderr unless it succeeds.
pub fn sh(script: &str) -> Output {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .env("PATH", path_with_bins())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// PATH with this crate's binaries first.
pub fn path_with_bins() -> String {
    format!(
        "{}:{}",
        bin("pack").parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Deterministic pseudo-random bytes (xorshift), `seed` picks the stream.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

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

/// Builds tar streams byte by byte, including the hostile ones the tar
/// crate's safe setters refuse to write.
#[derive(Default)]
pub struct RawTar {
    pub bytes: Vec<u8>,
}

impl RawTar {
    /// One entry with `name` and `link` written raw into the ustar fields.
    pub fn entry(mut self, kind: tar::EntryType, name: &[u8], link: &[u8], data: &[u8]) -> Self {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_mtime(1_600_000_000);
        {
            let u = h.as_ustar_mut().unwrap();
            u.name[..name.len()].copy_from_slice(name);
            u.linkname[..link.len()].copy_from_slice(link);
        }
        h.set_cksum();
        self.bytes.extend_from_slice(h.as_bytes());
        self.bytes.extend_from_slice(data);
        self.bytes.resize(self.bytes.len().div_ceil(512) * 512, 0);
        self
    }

    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(tar::EntryType::Regular, name.as_bytes(), b"", data)
    }

    pub fn dir(self, name: &str) -> Self {
        self.entry(tar::EntryType::Directory, name.as_bytes(), b"", b"")
    }

    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(
            tar::EntryType::Symlink,
            name.as_bytes(),
            target.as_bytes(),
            b"",
        )
    }

    pub fn hardlink(self, name: &str, target: &str) -> Self {
        self.entry(
            tar::EntryType::Link,
            name.as_bytes(),
            target.as_bytes(),
            b"",
        )
    }

    /// A PAX extended header applying to the next entry.
    pub fn pax(self, records: &[(&str, &str)]) -> Self {
        let mut body = Vec::new();
        for (k, v) in records {
            let rest = format!(" {k}={v}\n");
            let mut len = rest.len() + 1;
            while len.to_string().len() + rest.len() != len {
                len += 1;
            }
            body.extend_from_slice(format!("{len}{rest}").as_bytes());
        }
        self.entry(tar::EntryType::XHeader, b"PaxHeaders/x", b"", &body)
    }

    /// A GNU long-name entry applying to the next entry.
    pub fn gnu_long_name(self, name: &str) -> Self {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        self.entry(tar::EntryType::GNULongName, b"././@LongLink", b"", &data)
    }

    /// The two end-of-archive blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0u8; 1024]);
        self.bytes
    }
}

/// Peak RSS in KiB and the output of `script` run under GNU time.
pub fn peak_rss(dir: &Path, script: &str) -> (u64, Output) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "RSS=%M", "bash", "-c", script])
        .current_dir(dir)
        .env("PATH", path_with_bins())
        .output()
        .unwrap();
    let err = stderr(&out);
    let rss = err
        .lines()
        .find_map(|l| l.strip_prefix("RSS="))
        .unwrap_or_else(|| panic!("no RSS in {err}"))
        .parse()
        .unwrap();
    (rss, out)
}

/// An age key pair made by `age-keygen -o path`; returns the public key.
pub fn age_keygen(path: &Path) -> String {
    let out = run("age-keygen", &["-o", path.to_str().unwrap()], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let said = stderr(&out);
    said.trim()
        .strip_prefix("Public key: ")
        .unwrap_or_else(|| panic!("age-keygen said {said}"))
        .to_string()
}

/// A `.tar.gz` of `members` (relative to `dir`) made the way Python jobs
/// make them (tarfile, `w:gz`, PAX headers with fractional mtimes).
pub fn python_tar_gz(dir: &Path, members: &[&str], out: &Path) {
    let made = run(
        "python3",
        &[
            "-c",
            "import sys, tarfile, os\n\
             os.chdir(sys.argv[1])\n\
             with tarfile.open(sys.argv[2], 'w:gz', format=tarfile.PAX_FORMAT) as t:\n\
             \x20   for m in sys.argv[3:]: t.add(m)",
            dir.to_str().unwrap(),
            out.to_str().unwrap(),
        ]
        .into_iter()
        .chain(members.iter().copied())
        .collect::<Vec<_>>(),
        b"",
    );
    assert_eq!(code(&made), 0, "{}", stderr(&made));
}

/// The logical command lines of a Markdown page's ```sh blocks
/// (continuations joined, comments dropped): README's and docs/'s
/// examples, which tests run.
pub fn sh_commands(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    for block in readme.split("```sh\n").skip(1) {
        let body = block.split("```").next().unwrap();
        for line in body.replace("\\\n", " ").lines() {
            let line = strip_comment(line.trim());
            if !line.is_empty() {
                out.push(line.to_string());
            }
        }
    }
    out
}

/// Drop a trailing `# comment` (outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && (i == 0 || line[..i].ends_with(' ')) => {
                return line[..i].trim_end();
            }
            _ => {}
        }
    }
    line
}

/// The pages a user reads, whose examples tests run, in reading order:
/// README.md, then docs/tools.md and docs/backup-job.md, which hold the
/// detail README links to.
pub const USER_DOCS: [&str; 3] = ["README.md", "docs/tools.md", "docs/backup-job.md"];

/// The user pages ([`USER_DOCS`]) as one text, in order.
pub fn user_docs() -> String {
    USER_DOCS
        .iter()
        .map(|page| std::fs::read_to_string(root().join(page)).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The repository: where README, docs/ and scripts/ are.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
