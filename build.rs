//! Puts the commit into `--version` (`pack 0.1.0 (1a2b3c4d5e6f)`): which
//! build a backup was made with matters when one has to be explained. A
//! build outside a git checkout (a source tarball, an image build without
//! `.git`) says `unknown`, or what `S3PIPE_COMMIT` says.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=S3PIPE_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-changed=.git/packed-refs");
    let commit = std::env::var("S3PIPE_COMMIT").ok().or_else(git_commit);
    let commit = commit.unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=S3PIPE_COMMIT={commit}");
}

fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}
