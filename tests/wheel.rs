//! The pip-installable wheel (wheel/, `make wheel`): built here by maturin
//! (the dev profile, so the suite reuses its build; `make wheel` builds
//! the release one), installed with pip into a fresh venv, and run from
//! that venv's bin alone against the test Garage: pack | s3put and
//! s3get | unpack, byte-identical; the tools by their own names and as
//! `s3pipe TOOL`; exit status and stderr passed through; the wheel's tag
//! names a glibc that Debian 12 and Ubuntu 24.04 have.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::s3::Server;
use support::*;

const TOOLS: [&str; 7] = [
    "pack", "unpack", "s3put", "s3get", "s3ls", "s3rm", "s3prune",
];

/// `maturin build` into `out`; the one wheel it wrote.
fn build_wheel(out: &Path) -> PathBuf {
    let build = Command::new("maturin")
        .args(["build", "--quiet", "--profile", "dev", "-m"])
        .arg(root().join("wheel/Cargo.toml"))
        .arg("-o")
        .arg(out)
        .output()
        .expect("maturin (make test installs it: pip install maturin)");
    assert!(build.status.success(), "maturin: {}", stderr(&build));
    let wheels: Vec<PathBuf> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    wheels.into_iter().next().unwrap()
}

/// The glibc minor version a `…-manylinux_2_N_ARCH.whl` name asks for.
fn manylinux_minor(wheel: &str) -> u32 {
    let prefix = format!(
        "s3pipe_tools-{}-py3-none-manylinux_2_",
        env!("CARGO_PKG_VERSION")
    );
    let rest = wheel
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{wheel} is not {prefix}…"));
    let arch = format!("_{}.whl", std::env::consts::ARCH);
    let minor = rest
        .strip_suffix(&arch)
        .unwrap_or_else(|| panic!("{wheel} is not for {arch}"));
    minor.parse().unwrap()
}

/// This machine's glibc minor version (`getconf GNU_LIBC_VERSION`: "glibc 2.36").
fn host_glibc_minor() -> u32 {
    let out = run("getconf", &["GNU_LIBC_VERSION"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().rsplit('.').next().unwrap().parse().unwrap()
}

/// A shell pipeline run with the server's credentials and the venv's bin
/// as the only place our tools can come from.
fn in_venv(s: &Server, venv: &Path, script: &str) -> Output {
    let mut cmd = Command::new("bash");
    s.env_into(&mut cmd);
    cmd.env(
        "PATH",
        format!("{}:/usr/bin:/bin", venv.join("bin").display()),
    )
    .args(["-o", "pipefail", "-c", script]);
    cmd.output().unwrap()
}

#[test]
fn pip_installs_the_tools_into_a_fresh_venv_and_they_round_trip() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let wheel = build_wheel(&tmp.path().join("dist"));
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let minor = manylinux_minor(&name);
    // Built on this machine: it runs here, and on Ubuntu 24.04 (glibc 2.39).
    assert!(minor <= host_glibc_minor() && minor <= 39, "{name}");

    let venv = tmp.path().join("venv");
    let made = run("python3", &["-m", "venv", venv.to_str().unwrap()], b"");
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    let pip = venv.join("bin/pip");
    let install = run(
        &pip,
        &["install", "--no-index", "--quiet", wheel.to_str().unwrap()],
        b"",
    );
    assert_eq!(code(&install), 0, "{}", stderr(&install));
    for tool in TOOLS.iter().chain(&["s3pipe"]) {
        assert!(
            venv.join("bin").join(tool).is_file(),
            "{tool} is not in the venv"
        );
    }

    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    rich_tree(&src);
    fs::create_dir(&dst).unwrap();
    let url = s.url(&format!("wheel-{}/tree.tar.gz", std::process::id()));
    let put = in_venv(
        s,
        &venv,
        &format!("pack -C '{}' . | s3put -q {url}", src.display()),
    );
    assert_eq!(code(&put), 0, "{}", stderr(&put));
    let get = in_venv(
        s,
        &venv,
        &format!("s3get -q {url} | unpack -C '{}'", dst.display()),
    );
    assert_eq!(code(&get), 0, "{}", stderr(&get));
    assert_same_tree(&src, &dst);

    // `s3pipe TOOL` is the same tool; a link to a script still finds the
    // binary; a failure keeps its exit status and its tool's name.
    let listed = in_venv(s, &venv, &format!("s3pipe s3ls {url}"));
    assert_eq!(code(&listed), 0, "{}", stderr(&listed));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("tree.tar.gz"));
    let linked = tmp.path().join("s3ls-link");
    std::os::unix::fs::symlink(venv.join("bin/s3ls"), &linked).unwrap();
    let via_link = in_venv(s, &venv, &format!("'{}' {url}", linked.display()));
    assert_eq!(via_link.stdout, listed.stdout, "{}", stderr(&via_link));
    let missing = in_venv(s, &venv, &format!("s3get {url}.missing > /dev/null"));
    assert_eq!(code(&missing), 1, "{}", stderr(&missing));
    assert!(
        stderr(&missing).starts_with("s3get: "),
        "{}",
        stderr(&missing)
    );
}
