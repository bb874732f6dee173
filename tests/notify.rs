//! The job's notifications (NOTIFY_URL, healthchecks.io-style) and its
//! Pushgateway push, sent by `s3pipe post`: /start then success or /fail
//! with the summary line as the body, basic authentication from the URL,
//! HTTPS with a private CA, and a receiver that accepts and never answers
//! costing at most NOTIFY_TIMEOUT, never the backup. The receiver is
//! Python's own HTTP server (http.server), standing for healthchecks.io.

mod support;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use support::s3::{Server, free_port, script};
use support::tls::TlsFront;
use support::*;

/// Every POST it receives becomes a file in `dir`: path, Authorization
/// header, body — written before it answers 200, so a finished `s3pipe
/// post` has been recorded.
const RECEIVER: &str = r#"
import http.server, itertools, os, sys
port, out = int(sys.argv[1]), sys.argv[2]
count = itertools.count()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(os.path.join(out, "%03d" % next(count)), "w") as f:
            f.write("%s\n%s\n%s" % (self.path, self.headers.get("Authorization", ""), body.decode()))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

struct Receiver {
    child: Child,
    url: String,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Receiver {
    fn start() -> Receiver {
        let tmp = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("python3")
            .args(["-c", RECEIVER, &port.to_string()])
            .arg(tmp.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let receiver = Receiver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir: tmp.path().to_path_buf(),
            _tmp: tmp,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return receiver;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("the receiver did not start");
    }

    /// (path, authorization, body) of every request, in order.
    fn requests(&self) -> Vec<(String, String, String)> {
        let mut names: Vec<PathBuf> = fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let text = fs::read_to_string(p).unwrap();
                let mut parts = text.splitn(3, '\n').map(String::from);
                (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap_or_default(),
                )
            })
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn job(s: &Server, tmp: &Path, paths: &str) -> Vec<(&'static str, String)> {
    fs::create_dir_all(tmp.join("data")).unwrap();
    fs::write(tmp.join("data/a.txt"), b"hello").unwrap();
    vec![
        ("BACKUP_URL", s.url("notify")),
        ("BACKUP_NAME", "web".to_string()),
        ("BACKUP_BASE", tmp.display().to_string()),
        ("BACKUP_PATHS", paths.to_string()),
    ]
}

fn parsed(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"))
}

#[test]
fn a_run_pings_start_then_success_or_fail_with_its_summary() {
    let s = Server::garage();
    let hc = Receiver::start();
    let tmp = tempfile::tempdir().unwrap();
    let url = hc.url.replace("http://", "http://ops:s%40cret@") + "/ping/uuid";
    let mut env = job(s, tmp.path(), "data");
    env.push(("NOTIFY_URL", url));
    let ok = script(s, "backup.sh", &env, &[]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let requests = hc.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].0, "/ping/uuid/start");
    assert_eq!(requests[0].2, "");
    assert_eq!(requests[1].0, "/ping/uuid");
    // base64("ops:s@cret"): the password percent-decoded, never logged.
    assert_eq!(requests[1].1, "Basic b3BzOnNAY3JldA==");
    let line = String::from_utf8_lossy(&ok.stdout).trim().to_string();
    assert_eq!(parsed(&requests[1].2), parsed(&line));
    assert_eq!(parsed(&line)["result"], "success");

    env[3].1 = "missing".to_string();
    let failed = script(s, "backup.sh", &env, &[]);
    assert_eq!(code(&failed), 1, "{}", stderr(&failed));
    let requests = hc.requests();
    assert_eq!(requests.len(), 4, "{requests:?}");
    assert_eq!(requests[2].0, "/ping/uuid/start");
    assert_eq!(requests[3].0, "/ping/uuid/fail");
    assert_eq!(parsed(&requests[3].2)["result"], "failure");
    assert!(!stderr(&failed).contains("s%40cret"), "{}", stderr(&failed));
}

#[test]
fn https_with_a_private_ca_works_and_a_silent_receiver_costs_only_the_timeout() {
    let s = Server::garage();
    let hc = Receiver::start();
    let front = TlsFront::start(&hc.url);
    let tmp = tempfile::tempdir().unwrap();
    let mut env = job(s, tmp.path(), "data");
    env.push(("NOTIFY_URL", format!("{}/ping/tls", front.endpoint)));
    env.push(("NOTIFY_CA_BUNDLE", front.ca.display().to_string()));
    let ok = script(s, "backup.sh", &env, &[]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let paths: Vec<String> = hc.requests().into_iter().map(|r| r.0).collect();
    assert_eq!(paths, ["/ping/tls/start", "/ping/tls"]);

    // Without the CA: refused, logged, and the backup still succeeds.
    env.pop();
    let untrusted = script(s, "backup.sh", &env, &[]);
    assert_eq!(code(&untrusted), 0, "{}", stderr(&untrusted));
    assert!(
        stderr(&untrusted).contains("UnknownIssuer"),
        "{}",
        stderr(&untrusted)
    );
    assert!(
        stderr(&untrusted).contains("notifying /start failed; the run goes on"),
        "{}",
        stderr(&untrusted)
    );
    assert_eq!(hc.requests().len(), 2);

    // A receiver (and a Pushgateway) that accept and never answer: each
    // post gives up after NOTIFY_TIMEOUT; the backup is stored, exit 0.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let mut env = job(s, tmp.path(), "data");
    env.push(("NOTIFY_URL", format!("{silent_url}/ping")));
    env.push(("PUSHGATEWAY_URL", silent_url.clone()));
    env.push(("NOTIFY_TIMEOUT", "2s".to_string()));
    let out = script(s, "backup.sh", &env, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("no answer within 2s").count(), 3, "{err}");
    assert!(err.contains("pushing metrics to"), "{err}");
    assert_eq!(
        parsed(String::from_utf8_lossy(&out.stdout).trim())["result"],
        "success"
    );
}
