//! A real PostgreSQL (Debian's) for end-to-end tests: initdb into a temp
//! dir, listening only on a Unix socket in that dir, run as the `postgres`
//! user (the server refuses root), stopped when dropped.

use std::path::PathBuf;
use std::process::Command;

pub struct Postgres {
    pub socket_dir: PathBuf,
    pub port: u16,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

fn as_postgres(args: &[&str]) -> std::process::Output {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .args(args)
        .env(
            "PATH",
            format!(
                "/usr/lib/postgresql/15/bin:{}",
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .expect("runuser (util-linux) is needed to start PostgreSQL as its own user");
    assert!(
        out.status.success(),
        "{args:?} failed (is Debian's postgresql installed? apt-get install postgresql): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Postgres {
    pub fn start() -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("s3pipe-pg-")
            .tempdir()
            .unwrap();
        let pg = nix::unistd::User::from_name("postgres")
            .unwrap()
            .expect("a postgres user");
        nix::unistd::chown(dir.path(), Some(pg.uid), Some(pg.gid)).unwrap();
        let data = dir.path().join("data");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        as_postgres(&[
            "initdb",
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        let options = format!(
            "-p {port} -k {} -c listen_addresses='' -c fsync=off",
            dir.path().display()
        );
        let log = dir.path().join("log");
        as_postgres(&[
            "pg_ctl",
            "-D",
            data.to_str().unwrap(),
            "-w",
            "-o",
            &options,
            "-l",
            log.to_str().unwrap(),
            "start",
        ]);
        Postgres {
            socket_dir: dir.path().to_path_buf(),
            port,
            data,
            _dir: dir,
        }
    }

    /// Connection flags for psql, pg_dump, pg_restore.
    pub fn conn(&self) -> String {
        format!(
            "-h {} -p {} -U postgres",
            self.socket_dir.display(),
            self.port
        )
    }

    /// Run SQL in `db`; returns psql's unaligned output.
    pub fn sql(&self, db: &str, sql: &str) -> Vec<u8> {
        let out = Command::new("psql")
            .args([
                "-h",
                self.socket_dir.to_str().unwrap(),
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", db, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                "/usr/lib/postgresql/15/bin/pg_ctl",
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}
