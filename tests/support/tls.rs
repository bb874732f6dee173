//! HTTPS in front of a test store, as on-premises Ceph and MinIO are
//! reached: a private CA made with openssl at test time, a leaf for
//! 127.0.0.1 signed by it (rustls refuses a self-signed leaf as
//! `CaUsedAsEndEntity`), and socat terminating TLS and forwarding to the
//! store's plain-HTTP port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::s3::free_port;

pub struct TlsFront {
    /// `https://127.0.0.1:PORT`
    pub endpoint: String,
    /// The private CA's certificate (PEM): what a client must trust.
    pub ca: PathBuf,
    socat: Child,
    _dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a leaf certificate for 127.0.0.1 signed by it, in `dir`.
pub fn private_ca(dir: &Path) {
    let days = ["-days", "2"];
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=s3pipe test CA",
            days[0],
            days[1],
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-extfile",
            "leaf.ext",
            days[0],
            days[1],
        ],
    );
}

/// socat's two addresses: TLS on `port` with `dir`'s leaf, to `upstream`
/// (`http://127.0.0.1:PORT`).
pub fn socat_args(port: u16, dir: &Path, upstream: &str) -> [String; 2] {
    let target = upstream.trim_start_matches("http://");
    [
        format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={d}/leaf.pem,key={d}/leaf.key",
            d = dir.display()
        ),
        format!("TCP:{target}"),
    ]
}

impl TlsFront {
    /// TLS on a free port, forwarding to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> TlsFront {
        let dir = tempfile::tempdir().unwrap();
        private_ca(dir.path());
        let port = free_port();
        let socat = Command::new("socat")
            .args(socat_args(port, dir.path(), upstream))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat (make deps installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "socat never listened on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsFront {
            endpoint: format!("https://127.0.0.1:{port}"),
            ca: dir.path().join("ca.pem"),
            socat,
            _dir: dir,
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.socat.kill();
        let _ = self.socat.wait();
    }
}
