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
use std::sync::OnceLock;

use support::postgres::Postgres;
use support::s3::{ACCESS_KEY, SECRET_KEY, Server};
use support::*;

const TAG: &str = "localhost/s3pipe-test:latest";

fn podman(args: &[&str]) -> Output {
    let out = Command::new("podman").args(args).output().unwrap();
    assert!(out.status.success(), "podman {args:?}: {}", stderr(&out));
    out
}

/// Stage what the Dockerfile's build stage would produce (scripts/install.sh
/// into /out/usr/local) and build the image from it.
fn build_image(stage: &Path) {
    gen_docs::write_all(&stage.join("docs")).unwrap();
    // The debug binary without its debug info: layers of ~40 MB, not 500.
    fs::create_dir_all(stage).unwrap();
    let binary = stage.join("s3pipe");
    let strip = run(
        "strip",
        &["-o", binary.to_str().unwrap(), env!("CARGO_BIN_EXE_s3pipe")],
        b"",
    );
    assert_eq!(code(&strip), 0, "{}", stderr(&strip));
    let install = run(
        root().join("scripts/install.sh"),
        &[
            stage.join("out/usr/local").to_str().unwrap(),
            binary.to_str().unwrap(),
            stage.join("docs").to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code(&install), 0, "{}", stderr(&install));
    let context = format!("build={}", stage.display());
    let extra = ["--build-context", &context, "--build-arg", "VERSION=test"];
    podman_build(TAG, &extra, &root());
}

/// The test image, built once for the tests of this file.
fn built() -> &'static str {
    static STAGE: OnceLock<tempfile::TempDir> = OnceLock::new();
    STAGE.get_or_init(|| {
        let stage = tempfile::tempdir().unwrap();
        build_image(stage.path());
        stage
    });
    TAG
}

/// `podman build` as these machines allow it (no registry, no runc
/// namespaces), tagging `tag`; the image the tag named before is removed.
fn podman_build(tag: &str, extra: &[&str], context: &Path) {
    let previous = image_id(tag);
    let mut args = vec![
        "build",
        "--quiet",
        "--isolation",
        "chroot",
        "--network",
        "host",
        "--pull=never",
    ];
    args.extend_from_slice(extra);
    args.extend(["-t", tag, context.to_str().unwrap()]);
    podman(&args);
    forget(previous, tag);
}

/// The image `tag` names now, if any.
fn image_id(tag: &str) -> Option<String> {
    let out = Command::new("podman")
        .args(["image", "inspect", "--format", "{{.Id}}", tag])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Remove the image a rebuild of `tag` left untagged, so test runs do not
/// pile up images (only that one: never other images on the machine).
fn forget(previous: Option<String>, tag: &str) {
    if let Some(old) = previous.filter(|old| image_id(tag).as_ref() != Some(old)) {
        let _ = Command::new("podman").args(["rmi", &old]).output();
    }
}

/// An image's root, mounted for as long as the value lives.
struct Mounted(PathBuf, &'static str);

impl Mounted {
    fn new(tag: &'static str) -> Mounted {
        let out = podman(&["image", "mount", tag]);
        Mounted(
            PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()),
            tag,
        )
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["image", "unmount", self.1])
            .output();
    }
}

/// Run `args` inside the mounted image `root` as uid 10001 with its root
/// read-only and `binds` (host dir, dir in the image, writable) mounted, in
/// a private mount namespace that vanishes with the command.
fn in_image(
    root: &Path,
    view: &Path,
    binds: &[(&Path, &str, bool)],
    env: &[(&str, String)],
    args: &[&str],
) -> Output {
    in_image_as("10001:10001", root, view, binds, env, args)
}

/// [`in_image`] as `user` (`UID:GID`).
fn in_image_as(
    user: &str,
    root: &Path,
    view: &Path,
    binds: &[(&Path, &str, bool)],
    env: &[(&str, String)],
    args: &[&str],
) -> Output {
    let mut script = String::from(
        r#"set -eu
mount --bind "$1" "$2"
mount --rbind /dev "$2/dev"
mount --bind /proc "$2/proc"
"#,
    );
    for (host, guest, writable) in binds {
        script += &format!("mount --bind '{}' \"$2{guest}\"\n", host.display());
        if !writable {
            script += &format!("mount -o remount,bind,ro \"$2{guest}\"\n");
        }
    }
    script += r#"mount -o remount,bind,ro "$2"
view=$2 user=$3; shift 3
exec /usr/sbin/chroot --userspec="$user" "$view" "$@""#;
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "bash",
        "-c",
        &script,
        "bash",
    ])
    .args([root, view])
    .arg(user)
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

/// Under `tmp`: `view` (where the image is mounted), `srv` (the source
/// tree, read-only inside) and `mnt` (writable by `uid`, for restores).
fn guest_dirs(tmp: &Path, uid: u32) -> (PathBuf, PathBuf, PathBuf) {
    let (view, srv, mnt) = (tmp.join("view"), tmp.join("srv"), tmp.join("mnt"));
    for dir in [&view, &srv, &mnt] {
        fs::create_dir_all(dir).unwrap();
    }
    nix::unistd::chown(&mnt, Some(uid.into()), Some(uid.into())).unwrap();
    source_tree(&srv);
    (view, srv, mnt)
}

#[test]
fn the_image_backs_up_lists_and_restores_as_uid_10001_read_only() {
    let s = Server::garage();
    let tmp = tempfile::tempdir().unwrap();
    let (view, srv, mnt) = guest_dirs(tmp.path(), 10001);
    built();

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

    let image = Mounted::new(TAG);
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
    let binds = [
        (srv.as_path(), "/srv", false),
        (mnt.as_path(), "/mnt", true),
    ];
    let run = |args: &[&str]| in_image(&image.0, &view, &binds, &env, args);

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
    drop(image);

    // docs/backup-job.md's way to extend the image, with PostgreSQL's client: the
    // dump and its restore run inside the extended image too.
    extended_with_postgres(s, tmp.path(), &srv, &prefix);
}

const PG_TAG: &str = "localhost/s3pipe-pg-test:latest";

/// The user pages' ```dockerfile example that contains `marker`, its
/// lines unindented (the pages' are inside a list item).
fn readme_dockerfile(marker: &str) -> String {
    let docs = user_docs();
    let example = docs
        .split("```dockerfile\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .find(|block| block.contains(marker))
        .unwrap_or_else(|| panic!("no user page has a ```dockerfile example with {marker:?}"));
    example
        .lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect()
}

/// Build docs/backup-job.md's example of extending the image on top of the test image.
fn build_extension(dir: &Path) {
    let dockerfile: String = readme_dockerfile("postgresql-client")
        .lines()
        .map(|l| match l.strip_prefix("FROM ") {
            Some(_) => format!("FROM {TAG}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    podman_build(PG_TAG, &[], dir);
}

fn extended_with_postgres(s: &Server, tmp: &Path, srv: &Path, prefix: &str) {
    build_extension(&tmp.join("extension"));
    let pg = Postgres::start();
    pg.sql("postgres", "create database app");
    pg.sql(
        "app",
        "create table t as select i, md5(i::text) as v from generate_series(1, 20000) i",
    );
    let rows = || {
        pg.sql(
            "app",
            "select count(*), md5(string_agg(v, ',' order by i)) from t",
        )
    };
    let before = rows();
    // uid 10001 reaches the server's socket (trust authentication).
    fs::set_permissions(&pg.socket_dir, fs::Permissions::from_mode(0o755)).unwrap();
    let conn = format!("-h /opt -p {} -U postgres", pg.port);
    let env = [
        ("AWS_ENDPOINT_URL", s.endpoint.clone()),
        ("BACKUP_URL", s.url(&format!("{prefix}-pg"))),
        ("BACKUP_NAME", "db".to_string()),
        ("DB_DUMP_CMD", format!("pg_dump -Fc {conn} app")),
        (
            "DB_RESTORE_CMD",
            format!("pg_restore --clean --if-exists {conn} -d app"),
        ),
    ];
    let image = Mounted::new(PG_TAG);
    let binds = [
        (srv, "/srv", false),
        (pg.socket_dir.as_path(), "/opt", true),
    ];
    let view = tmp.join("view");
    let entrypoint = "/usr/local/share/s3pipe/scripts/entrypoint.sh";
    let backup = in_image(&image.0, &view, &binds, &env, &[entrypoint, "backup"]);
    assert_eq!(code(&backup), 0, "{}", stderr(&backup));
    pg.sql("app", "drop table t");
    let restore = in_image(
        &image.0,
        &view,
        &binds,
        &env,
        &[entrypoint, "restore", "latest"],
    );
    assert_eq!(code(&restore), 0, "{}", stderr(&restore));
    assert_eq!(rows(), before);
}

const THEIR_BASE: &str = "localhost/s3pipe-foreign-base-test:latest";
const THEIRS: &str = "localhost/s3pipe-foreign-test:latest";

/// An image of someone else's, standing for The Combine's maintenance
/// image: Debian with Python, CA certificates and a user 999 of its own,
/// built FROM Debian, not from s3pipe's image.
fn their_base(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("Dockerfile"),
        "FROM docker.io/library/debian:bookworm-slim\n\
         RUN apt-get update \\\n \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 ca-certificates \\\n \
         && rm -rf /var/lib/apt/lists/* \\\n \
         && groupadd -r -g 999 user && useradd -r -u 999 -g user -d /home/user -s /sbin/nologin app\n\
         USER 999\n",
    )
    .unwrap();
    podman_build(THEIR_BASE, &[], dir);
}

#[test]
fn an_image_of_another_base_gets_the_tools_by_the_readme_recipe_and_runs_them_as_uid_999() {
    let s = Server::garage();
    let ours = built();
    let tmp = tempfile::tempdir().unwrap();
    their_base(&tmp.path().join("base"));
    let dockerfile: String = readme_dockerfile("# Add s3pipe to an image of your own")
        .replace("registry.example/your-image:1.0", THEIR_BASE)
        .replace("registry.example/s3pipe:0.1.0", ours);
    assert!(
        dockerfile.contains(&format!("FROM {THEIR_BASE}")),
        "{dockerfile}"
    );
    let dir = tmp.path().join("theirs");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    podman_build(THEIRS, &[], &dir);
    let user = podman(&["image", "inspect", "--format", "{{.Config.User}}", THEIRS]);
    assert_eq!(String::from_utf8_lossy(&user.stdout).trim(), "999");

    let (view, srv, mnt) = guest_dirs(tmp.path(), 999);
    let image = Mounted::new(THEIRS);
    assert!(
        image.0.join("usr/bin/python3").exists(),
        "their base has Python"
    );
    let binds = [
        (srv.as_path(), "/srv", false),
        (mnt.as_path(), "/mnt", true),
    ];
    let env = [("AWS_ENDPOINT_URL", s.endpoint.clone())];
    let url = s.url(&format!("foreign-{}/data.tar.gz", std::process::id()));
    let run = |script: &str| {
        in_image_as(
            "999:999",
            &image.0,
            &view,
            &binds,
            &env,
            &["sh", "-c", script],
        )
    };
    let put = run(&format!("pack -C /srv data | s3put -q {url}"));
    assert_eq!(code(&put), 0, "{}", stderr(&put));
    let get = run(&format!(
        "mkdir /mnt/restore && s3get -q {url} | unpack -C /mnt/restore && s3pipe s3ls {url}"
    ));
    assert_eq!(code(&get), 0, "{}", stderr(&get));
    assert!(String::from_utf8_lossy(&get.stdout).contains("data.tar.gz"));
    assert_same_tree(&srv.join("data"), &mnt.join("restore/data"));
    let owner = fs::metadata(mnt.join("restore/data/notes.txt")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&owner), 999);
}

/// `docker buildx build --platform linux/amd64,linux/arm64` needs a
/// Dockerfile with nothing tied to one architecture: every image it names
/// is multi-arch, nothing is downloaded per arch, no path names an arch.
/// Only the host's arch can be built here; the test image is that arch.
#[test]
fn the_dockerfile_names_no_architecture_and_the_image_is_the_hosts() {
    let dockerfile = fs::read_to_string(root().join("Dockerfile")).unwrap();
    for arch in [
        "amd64", "x86_64", "x86-64", "arm64", "aarch64", "armv7", "i686", "musl",
    ] {
        let found = dockerfile
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .find(|l| l.contains(arch));
        assert_eq!(found, None, "the Dockerfile names {arch}");
    }
    assert!(!dockerfile.contains("ADD http"), "no per-arch download");
    let arch = podman(&["image", "inspect", "--format", "{{.Architecture}}", built()]);
    let want = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(String::from_utf8_lossy(&arch.stdout).trim(), want);
}
