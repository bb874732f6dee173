//! Shared by the unpack targets: unpack into a fresh directory inside a
//! sandbox and check that nothing beside it changed.

use std::fs;
use std::path::Path;

use s3pipe::archive::unpack::{UnpackOptions, unpack};
use s3pipe::progress::Progress;

/// Everything under `root`, as (path, is_dir, size, content if small).
fn listing(root: &Path) -> Vec<(String, bool, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let md = fs::symlink_metadata(&p).unwrap();
            out.push((p.display().to_string(), md.is_dir(), md.len()));
            if md.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn unpack_in_sandbox(input: Vec<u8>) {
    let sandbox = tempfile::tempdir().unwrap();
    let outside = sandbox.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), b"original").unwrap();
    let dest = sandbox.path().join("dest");
    fs::create_dir(&dest).unwrap();
    let before = listing(&outside);
    let mut opts = UnpackOptions::new(&dest);
    opts.same_owner = false;
    let _ = unpack(std::io::Cursor::new(input), &opts, &Progress::silent("unpack"));
    assert_eq!(before, listing(&outside), "something outside the destination changed");
    assert_eq!(fs::read(outside.join("secret")).unwrap(), b"original");
    let top: Vec<_> = fs::read_dir(sandbox.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(top.len(), 2, "a file appeared beside the destination: {top:?}");
}
