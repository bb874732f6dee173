//! A 3-node Garage cluster on loopback: replication factor 3, one zone per
//! node, the layout assigned and applied with the `garage` CLI as an
//! operator would. Clients talk to node 0; the tests kill (SIGKILL) and
//! restart the others. Nodes die with the test (PDEATHSIG) or when the
//! cluster is dropped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::s3::{ACCESS_KEY, BUCKET, SECRET_KEY, Server};

pub struct Cluster {
    /// Node 0's S3 API, with every helper of a test server.
    pub s3: Server,
    garage: PathBuf,
    dir: PathBuf,
    nodes: Vec<Option<Child>>,
    /// Each node's `id@127.0.0.1:rpc`, as `garage node connect` takes it.
    peers: Vec<String>,
}

impl Cluster {
    pub fn start() -> Cluster {
        let garage = super::s3::garage_binary();
        let dir = tempfile::Builder::new()
            .prefix("s3pipe-cluster-")
            .tempdir()
            .unwrap()
            .keep();
        let secret: String = super::random_bytes(32, 11)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut api0 = 0;
        let mut rpcs = Vec::new();
        for i in 0..3 {
            let (rpc, api) = (super::s3::free_port(), super::s3::free_port());
            api0 = if i == 0 { api } else { api0 };
            rpcs.push(rpc);
            std::fs::write(config(&dir, i), node_config(&dir, i, rpc, api, &secret)).unwrap();
        }
        let endpoint = format!("http://127.0.0.1:{api0}");
        let mut cluster = Cluster {
            s3: Server::at("garage cluster", endpoint),
            garage,
            dir,
            nodes: Vec::new(),
            peers: Vec::new(),
        };
        for i in 0..3 {
            let node = cluster.spawn(i);
            cluster.nodes.push(Some(node));
        }
        cluster.form(&rpcs);
        cluster
    }

    /// Connect the nodes, give each a zone, apply the layout, add the key
    /// and the bucket; wait until the bucket answers through node 0.
    fn form(&mut self, rpcs: &[u16]) {
        let ids: Vec<String> = (0..3)
            .map(|i| self.until_ok(i, &["node", "id", "-q"]).trim().to_string())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let short = id.split('@').next().unwrap();
            self.peers.push(format!("{short}@127.0.0.1:{}", rpcs[i]));
        }
        for i in 1..3 {
            self.until_ok(0, &["node", "connect", &self.peers[i]]);
        }
        for (i, id) in ids.iter().enumerate() {
            let short = &id[..16];
            self.garage_ok(
                0,
                &[
                    "layout",
                    "assign",
                    "-z",
                    &format!("zone{i}"),
                    "-c",
                    "1G",
                    short,
                ],
            );
        }
        self.garage_ok(0, &["layout", "apply", "--version", "1"]);
        self.until_ok(0, &["key", "import", "--yes", ACCESS_KEY, SECRET_KEY]);
        self.until_ok(0, &["bucket", "create", BUCKET]);
        self.garage_ok(
            0,
            &[
                "bucket", "allow", "--read", "--write", "--owner", BUCKET, "--key", ACCESS_KEY,
            ],
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self
            .s3
            .cmd("s3ls")
            .arg(self.s3.url(""))
            .output()
            .unwrap()
            .status
            .success()
        {
            assert!(
                Instant::now() < deadline,
                "the cluster's bucket never answered"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn spawn(&self, i: usize) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("node{i}.log")))
            .unwrap();
        let mut cmd = Command::new(&self.garage);
        cmd.args(["-c", config(&self.dir, i).to_str().unwrap(), "server"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        cmd.spawn().unwrap()
    }

    /// SIGKILL node `i` (not 0: the clients' endpoint) and reap it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut node) = self.nodes[i].take() {
            node.kill().unwrap();
            node.wait().unwrap();
        }
    }

    /// Start node `i` again on its data; returns once node 0 is connected
    /// to it. Answering its own CLI is not enough: node 0 redials a lost
    /// peer only every few seconds, and a test that kills another node in
    /// that window has taken two down (a clean-clone run failed so, with
    /// "Could not reach quorum of 2 … Not connected" from both peers).
    pub fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].is_none(), "node {i} is running");
        self.nodes[i] = Some(self.spawn(i));
        self.until_ok(i, &["node", "id", "-q"]);
        self.until_ok(0, &["node", "connect", &self.peers[i]]);
    }

    /// `garage -c node-i.toml ARGS…`, which must succeed; its stdout.
    fn garage_ok(&self, i: usize, args: &[&str]) -> String {
        let out = self.garage_cli(i, args).output().unwrap();
        assert!(
            out.status.success(),
            "garage {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The same, polled until it succeeds (a node still starting).
    fn until_ok(&self, i: usize, args: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.garage_cli(i, args).output().unwrap();
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            assert!(
                Instant::now() < deadline,
                "garage {args:?} never succeeded: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn garage_cli(&self, i: usize, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.garage);
        cmd.args(["-c", config(&self.dir, i).to_str().unwrap()])
            .args(args);
        cmd
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("node{i}.toml"))
}

fn node_config(dir: &Path, i: usize, rpc: u16, api: u16, secret: &str) -> String {
    super::s3::garage_toml(&dir.join(format!("node{i}")), rpc, api, secret, 3)
}
