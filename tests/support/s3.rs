//! A real S3 server on 127.0.0.1 for the tests: Garage (primary) or
//! s3s-fs (second implementation). One per test binary, started on first
//! use on free ports in a temp dir. It is stopped, and its dir removed, when
//! the test process exits: a shell watchdog holds the server and waits on a
//! pipe whose write end only this process has.

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{bin, path_with_bins};

pub const ACCESS_KEY: &str = "GK31c2f218a2e44f485b94239e";
pub const SECRET_KEY: &str = "b892c0665f0ada8a4755dae98baa3b133590e11dae3bcc1f9d769d67f16c3835";
pub const BUCKET: &str = "s3pipe-test";

pub struct Server {
    pub name: &'static str,
    pub endpoint: String,
    pub bucket: &'static str,
    /// The private CA an HTTPS endpoint needs (`AWS_CA_BUNDLE`).
    pub ca_bundle: Option<PathBuf>,
    /// Dropping this (at exit) stops the server; None when someone else
    /// runs it (a cluster's node).
    _watchdog: Option<Mutex<(Child, ChildStdin)>>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tool(env: &str, default: &str, install: &str) -> PathBuf {
    let path = std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap())
            .join(".cache/s3pipe")
            .join(default)
    });
    assert!(
        path.exists(),
        "S3 test server not found at {}: run `make servers` (or: {install}); tests need a real server and never skip",
        path.display()
    );
    path
}

/// Start `script` (a shell command that runs the server in the
/// foreground) under a watchdog that kills it when our stdin pipe closes.
fn watchdog(script: &str, dir: &std::path::Path) -> (Child, ChildStdin) {
    let wrapper = format!(
        "({script}) > '{d}/server.log' 2>&1 & pid=$!; read -r _; kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf '{d}'",
        d = dir.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &wrapper])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

/// The pinned Garage build `make servers` installs.
pub fn garage_binary() -> PathBuf {
    tool(
        "S3PIPE_GARAGE",
        "garage-2.5.0/bin/garage",
        "cargo install --locked --root ~/.cache/s3pipe/garage-2.5.0 garage@2.5.0 --no-default-features --features bundled-libs,lmdb",
    )
}

/// A Garage node's configuration: data under `dir`, loopback ports, the
/// cluster's `secret`, `replication` copies of every block.
pub fn garage_toml(
    dir: &std::path::Path,
    rpc: u16,
    api: u16,
    secret: &str,
    replication: u8,
) -> String {
    format!(
        "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"lmdb\"\n\
         replication_factor = {replication}\ncompression_level = \"none\"\n\
         rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\
         [s3_api]\ns3_region = \"us-east-1\"\napi_bind_addr = \"127.0.0.1:{api}\"\nroot_domain = \".s3.localhost\"\n",
        d = dir.display()
    )
}

impl Server {
    /// Garage, single node, with a default key and bucket.
    pub fn garage() -> &'static Server {
        static GARAGE: OnceLock<Server> = OnceLock::new();
        GARAGE.get_or_init(|| {
            let garage = garage_binary();
            let dir = tempfile::Builder::new().prefix("s3pipe-garage-").tempdir().unwrap().keep();
            let (rpc, api) = (free_port(), free_port());
            let secret: String = super::random_bytes(32, u64::from(std::process::id())).iter().map(|b| format!("{b:02x}")).collect();
            std::fs::write(dir.join("garage.toml"), garage_toml(&dir, rpc, api, &secret, 1)).unwrap();
            let script = format!(
                "GARAGE_DEFAULT_ACCESS_KEY={ACCESS_KEY} GARAGE_DEFAULT_SECRET_KEY={SECRET_KEY} GARAGE_DEFAULT_BUCKET={BUCKET} \
                 exec '{}' -c '{}/garage.toml' server --single-node --default-bucket",
                garage.display(),
                dir.display()
            );
            Server::started("garage", format!("http://127.0.0.1:{api}"), watchdog(&script, &dir), &dir)
        })
    }

    /// s3s-fs: a bucket is a directory under its root.
    pub fn s3s_fs() -> &'static Server {
        static S3S: OnceLock<Server> = OnceLock::new();
        S3S.get_or_init(|| {
            let s3s = tool(
                "S3PIPE_S3S_FS",
                "s3s-fs-0.14.1/bin/s3s-fs",
                "cargo install --locked --root ~/.cache/s3pipe/s3s-fs-0.14.1 s3s-fs@0.14.1 --features binary",
            );
            let dir = tempfile::Builder::new().prefix("s3pipe-s3s-").tempdir().unwrap().keep();
            std::fs::create_dir_all(dir.join("root").join(BUCKET)).unwrap();
            let port = free_port();
            let script = format!(
                "exec '{}' --host 127.0.0.1 --port {port} --access-key {ACCESS_KEY} --secret-key {SECRET_KEY} '{}/root'",
                s3s.display(),
                dir.display()
            );
            Server::started("s3s-fs", format!("http://127.0.0.1:{port}"), watchdog(&script, &dir), &dir)
        })
    }

    /// moto's server, the emulator users test their scripts against: any
    /// keys, the bucket created here (PyPI `moto[server]`, `make py-deps`).
    pub fn moto() -> &'static Server {
        static MOTO: OnceLock<Server> = OnceLock::new();
        MOTO.get_or_init(|| {
            let dir = tempfile::Builder::new().prefix("s3pipe-moto-").tempdir().unwrap().keep();
            let port = free_port();
            let script = format!("exec moto_server -H 127.0.0.1 -p {port}");
            let guard = watchdog(&script, &dir);
            let endpoint = format!("http://127.0.0.1:{port}");
            // moto checks no signature: an unsigned PUT creates the bucket.
            let create = format!(
                "import time, urllib.request\n\
                 for _ in range(300):\n\
                 \x20   try:\n\
                 \x20       urllib.request.urlopen(urllib.request.Request('{endpoint}/{BUCKET}', method='PUT')); break\n\
                 \x20   except OSError: time.sleep(0.1)\n"
            );
            let out = Command::new("python3").args(["-c", &create]).output().unwrap();
            assert!(out.status.success(), "moto: {}", String::from_utf8_lossy(&out.stderr));
            Server::started("moto", endpoint, guard, &dir)
        })
    }

    /// Ceph RGW 16 from Debian's packages (`make ceph-deps`): a
    /// single-node cluster started by tests/support/ceph.sh (~5 s), a user
    /// with the test keys, the bucket created with boto3 (path-style, no
    /// LocationConstraint).
    pub fn ceph() -> &'static Server {
        static CEPH: OnceLock<Server> = OnceLock::new();
        CEPH.get_or_init(|| {
            let dir = tempfile::Builder::new().prefix("s3pipe-ceph-").tempdir().unwrap().keep();
            // Two ports asked of the system: port + 1 was once taken.
            let (port, mon) = (free_port(), free_port());
            let start = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/ceph.sh");
            let script = format!("exec bash '{}' '{}/c' {port} {mon} {ACCESS_KEY} {SECRET_KEY}", start.display(), dir.display());
            let guard = watchdog(&script, &dir);
            let endpoint = format!("http://127.0.0.1:{port}");
            // Polled for at most 90 s of wall time (one try each, short
            // timeouts: boto3's own retries made a cluster that never came
            // up cost hours), then the log says why.
            let create = format!(
                "import sys, time, boto3, botocore.config\n\
                 cfg = botocore.config.Config(retries={{'max_attempts': 1}}, connect_timeout=2, read_timeout=10)\n\
                 c = boto3.client('s3', endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='{ACCESS_KEY}', aws_secret_access_key='{SECRET_KEY}', config=cfg)\n\
                 deadline = time.time() + 90\n\
                 while True:\n\
                 \x20   try:\n\
                 \x20       c.create_bucket(Bucket='{BUCKET}'); break\n\
                 \x20   except Exception as e:\n\
                 \x20       if time.time() > deadline: sys.exit('no bucket after 90 s: %s' % e)\n\
                 \x20       time.sleep(0.1)\n"
            );
            let out = Command::new("python3").args(["-c", &create]).env("HOME", "/nonexistent").output().unwrap();
            if !out.status.success() {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                panic!("ceph: {}\n{log}", String::from_utf8_lossy(&out.stderr));
            }
            Server::started("ceph", endpoint, guard, &dir)
        })
    }

    /// Ceph RGW behind HTTPS with a private CA, as on-premises stores are
    /// reached: tests/support/tls.rs's CA and socat, under a watchdog.
    pub fn ceph_tls() -> &'static Server {
        static CEPH_TLS: OnceLock<Server> = OnceLock::new();
        CEPH_TLS.get_or_init(|| {
            let ceph = Server::ceph();
            let dir = tempfile::Builder::new()
                .prefix("s3pipe-tls-")
                .tempdir()
                .unwrap()
                .keep();
            super::tls::private_ca(&dir);
            let port = free_port();
            let [listen, to] = super::tls::socat_args(port, &dir, &ceph.endpoint);
            let guard = watchdog(&format!("exec socat '{listen}' '{to}'"), &dir);
            Server {
                name: "ceph over TLS",
                endpoint: format!("https://127.0.0.1:{port}"),
                bucket: BUCKET,
                ca_bundle: Some(dir.join("ca.pem")),
                _watchdog: Some(Mutex::new(guard)),
            }
            .answering(&dir)
        })
    }

    /// Wait until the bucket answers a listing (polling a condition, with a
    /// deadline), or fail with the server's log.
    fn started(
        name: &'static str,
        endpoint: String,
        guard: (Child, ChildStdin),
        dir: &std::path::Path,
    ) -> Server {
        let server = Server {
            name,
            endpoint,
            bucket: BUCKET,
            ca_bundle: None,
            _watchdog: Some(Mutex::new(guard)),
        };
        server.answering(dir)
    }

    /// `self`, once its bucket answers a listing.
    fn answering(self, dir: &std::path::Path) -> Server {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.cmd("s3ls").arg(self.url("")).output().unwrap();
            if out.status.success() {
                return self;
            }
            if Instant::now() > deadline {
                let mut log = String::new();
                let _ = std::fs::File::open(dir.join("server.log"))
                    .and_then(|mut f| f.read_to_string(&mut log));
                panic!(
                    "{} did not start: {}\n{log}",
                    self.name,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A server someone else runs, at `endpoint`, with the test key.
    pub fn at(name: &'static str, endpoint: String) -> Server {
        Server {
            name,
            endpoint,
            bucket: BUCKET,
            ca_bundle: None,
            _watchdog: None,
        }
    }

    /// `s3://bucket/key` on this server.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// One of our binaries, configured for this server through the
    /// environment (as a user would), with no ~/.aws to interfere.
    pub fn cmd(&self, tool: &str) -> Command {
        let mut c = Command::new(bin(tool));
        c.env_clear()
            .env("PATH", path_with_bins())
            .env("HOME", "/nonexistent")
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        if let Some(ca) = &self.ca_bundle {
            c.env("AWS_CA_BUNDLE", ca);
        }
        c
    }

    /// Give `cmd` exactly the environment [`Server::cmd`] sets, for
    /// commands that wrap our tools (scripts, strace, GNU time).
    pub fn env_into(&self, cmd: &mut Command) {
        cmd.env_clear();
        for (k, v) in self.cmd("s3put").get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
    }

    /// The keys under `prefix` (s3ls --recursive --json), sorted.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let out = self.run("s3ls", &["--recursive", "--json", &self.url(prefix)], b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["key"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        keys.sort();
        keys
    }

    /// `s3put URL EXTRA…` of `data` in 5 MiB parts, 3 in flight: the
    /// smallest parts a store takes, so a few MiB make a multipart upload.
    pub fn put(&self, key: &str, data: &[u8], extra: &[&str]) -> Output {
        let url = self.url(key);
        let mut args = vec![url.as_str(), "--part-size", "5MiB", "--concurrency", "3"];
        args.extend_from_slice(extra);
        self.run("s3put", &args, data)
    }

    /// Run `tool args…` with `stdin` bytes.
    pub fn run(&self, tool: &str, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = self.cmd(tool);
        cmd.args(args);
        super::run_command(cmd, stdin)
    }

    /// In-progress multipart uploads under `prefix` (s3ls --uploads).
    pub fn uploads(&self, prefix: &str) -> usize {
        let out = self.run("s3ls", &["--uploads", &self.url(prefix)], b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).lines().count()
    }

    /// Start `s3put URL --part-size 5MiB EXTRA…` on a stream it cannot
    /// finish, wait until its multipart upload exists here, then signal it.
    pub fn interrupted_upload(
        &self,
        key: &str,
        extra: &[&str],
        signal: nix::sys::signal::Signal,
    ) -> Output {
        use std::io::Write;
        let mut cmd = self.cmd("s3put");
        cmd.args([&self.url(key), "--part-size", "5MiB"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&super::random_bytes(11 << 20, 3)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.uploads(key) == 0 {
            assert!(Instant::now() < deadline, "the upload never started");
            std::thread::sleep(Duration::from_millis(50));
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        out
    }
}

/// Run one of the job's scripts (scripts/NAME) with `s`'s environment, the
/// tools and PostgreSQL's client tools on PATH, and `env` on top.
pub fn script(s: &Server, name: &str, env: &[(&str, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts")
            .join(name),
    )
    .args(args);
    s.env_into(&mut cmd);
    cmd.env(
        "PATH",
        format!("{}:/usr/lib/postgresql/15/bin", super::path_with_bins()),
    );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}
