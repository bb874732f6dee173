//! The container image, built from the Dockerfile's runtime stage and run
//! here: no registry is reachable and `podman run` cannot start containers
//! on these machines, so the test feeds the build stage from this build
//! (`--build-context build=DIR`), mounts the image (`podman image mount`)
//! and runs its entrypoint inside it with `chroot`, as uid 10001, with the
//! root filesystem read-only, against the test Garage: backup, list,
//! restore latest, byte-identical. The base image comes from `make
//! image-base` (Debian's packages via mmdebstrap, tagged as the FROM name).

mod support;

#[allow(dead_code)]
#[path = "../examples/gen_docs.rs"]
mod gen_docs;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::s3::{ACCESS_KEY, SECRET_KEY, Server};
use support::*;

const TAG: &str = "localhost/s3pipe-test:latest";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn podman(args: &[&str]) -> Output {
    let out = Command::new("podman").args(args).output().unwrap();
    assert!(out.status.success(), "podman {args:?}: {}", stderr(&out));
    out
}

/// Stage what the Dockerfile's build stage would produce (scripts/install.sh
/// into /out/usr/local) and build the image from it.
fn build_image(stage: &Path) {
    gen_docs::write_all(&stage.join("docs")).unwrap();
    let install = run(
        root().join("scripts/install.sh"),
        &[
            stage.join("out/usr/local").to_str().unwrap(),
            env!("CARGO_BIN_EXE_s3pipe"),
            stage.join("docs").to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code(&install), 0, "{}", stderr(&install));
    let context = format!("build={}", stage.display());
    podman(&[
        "build",
        "--quiet",
        "--isolation",
        "chroot",
        "--network",
        "host",
        "--pull=never",
        "--build-context",
        &context,
        "--build-arg",
        "VERSION=test",
        "-t",
        TAG,
        root().to_str().unwrap(),
    ]);
}

/// The image's root, mounted for as long as the value lives.
struct Mounted(PathBuf);

impl Mounted {
    fn new() -> Mounted {
        let out = podman(&["image", "mount", TAG]);
        Mounted(PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()))
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["image", "unmount", TAG])
            .output();
    }
}

/// Run `args` inside the image as uid 10001 with its root read-only, the
/// data to back up at /srv (read-only) and `mnt` (writable) at /mnt, in a
/// private mount namespace that vanishes with the command.
fn in_image(
    image: &Path,
    view: &Path,
    srv: &Path,
    mnt: &Path,
    env: &[(&str, String)],
    args: &[&str],
) -> Output {
    let script = r#"set -eu
root=$1 view=$2 srv=$3 mnt=$4; shift 4
mount --bind "$root" "$view"
mount --rbind /dev "$view/dev"
mount --bind /proc "$view/proc"
mount --bind "$srv" "$view/srv" && mount -o remount,bind,ro "$view/srv"
mount --bind "$mnt" "$view/mnt"
mount -o remount,bind,ro "$view"
exec /usr/sbin/chroot --userspec=10001:10001 "$view" "$@""#;
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "bash",
        "-c",
        script,
        "bash",
    ])
    .args([image, view, srv, mnt])
    .args(args)
    .env_clear()
    .env("PATH", "/usr/local/bin:/usr/bin:/bin")
    .env("HOME", "/nonexistent")
    .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// A small tree the image's user can read: nested files, an empty file, a
/// symlink and a hard link.
fn source_tree(srv: &Path) {
    let data = srv.join("data");
    fs::create_dir_all(data.join("uploads/2026")).unwrap();
    fs::write(
        data.join("uploads/2026/photo.bin"),
        random_bytes(3_000_017, 10),
    )
    .unwrap();
    fs::write(data.join("notes.txt"), b"hello from the image\n").unwrap();
    fs::write(data.join("empty"), b"").unwrap();
    std::os::unix::fs::symlink("notes.txt", data.join("current")).unwrap();
    fs::hard_link(data.join("notes.txt"), data.join("notes-again.txt")).unwrap();
    fs::set_permissions(srv, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_image_backs_up_lists_and_restores_as_uid_10001_read_only() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let (stage, view, srv, mnt) = (
        tmp.path().join("stage"),
        tmp.path().join("view"),
        tmp.path().join("srv"),
        tmp.path().join("mnt"),
    );
    for dir in [&view, &srv, &mnt] {
        fs::create_dir_all(dir).unwrap();
    }
    nix::unistd::chown(&mnt, Some(10001.into()), Some(10001.into())).unwrap();
    source_tree(&srv);
    build_image(&stage);

    let config = podman(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.User}} {{json .Config.Entrypoint}} {{index .Config.Labels \"org.opencontainers.image.version\"}} {{index .Config.Labels \"org.opencontainers.image.licenses\"}}",
        TAG,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&config.stdout).trim(),
        r#"10001:10001 ["/usr/local/share/s3pipe/scripts/entrypoint.sh"] test MIT OR Apache-2.0"#
    );

    let image = Mounted::new();
    // The tools are links to one binary; man pages and completions ship.
    let local = image.0.join("usr/local");
    for tool in [
        "pack", "unpack", "s3put", "s3get", "s3ls", "s3rm", "s3prune",
    ] {
        assert_eq!(
            fs::read_link(local.join("bin").join(tool)).unwrap(),
            Path::new("s3pipe")
        );
        for file in [
            format!("share/man/man1/{tool}.1"),
            format!("share/bash-completion/completions/{tool}"),
            format!("share/zsh/site-functions/_{tool}"),
            format!("share/fish/vendor_completions.d/{tool}.fish"),
        ] {
            assert!(local.join(&file).is_file(), "{file} is not in the image");
        }
    }
    let prefix = format!("image-{}", std::process::id());
    let env = [
        ("AWS_ENDPOINT_URL", s.endpoint.clone()),
        ("BACKUP_URL", s.url(&prefix)),
        ("BACKUP_NAME", "web".to_string()),
        ("BACKUP_BASE", "/srv".to_string()),
        ("BACKUP_PATHS", "data".to_string()),
        ("RESTORE_DIR", "/mnt/restore".to_string()),
    ];
    let run = |args: &[&str]| in_image(&image.0, &view, &srv, &mnt, &env, args);

    // The root really is read-only for what follows, and the tools are links.
    let write = run(&["bash", "-c", "touch /tmp/x"]);
    assert_ne!(code(&write), 0);
    assert!(
        stderr(&write).contains("Read-only file system"),
        "{}",
        stderr(&write)
    );
    let version = run(&["pack", "--version"]);
    assert_eq!(code(&version), 0, "{}", stderr(&version));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("pack "));

    let entrypoint = "/usr/local/share/s3pipe/scripts/entrypoint.sh";
    let backup = run(&[entrypoint, "backup"]);
    assert_eq!(code(&backup), 0, "{}", stderr(&backup));
    let list = run(&[entrypoint, "list"]);
    assert_eq!(code(&list), 0, "{}", stderr(&list));
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(
        listed.contains(&s.url(&format!("{prefix}/web-"))),
        "{listed}"
    );
    let restore = run(&[entrypoint, "restore", "latest"]);
    assert_eq!(code(&restore), 0, "{}", stderr(&restore));
    assert_same_tree(&srv.join("data"), &mnt.join("restore/data"));
}
