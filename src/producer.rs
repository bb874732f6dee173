//! A command whose output is a tool's input, with its exit status part of
//! the stream: `s3put --exec -- CMD ARGS…` and `pack --splice-exec CMD`.
//!
//! A producer that writes a complete-looking stream and then exits
//! non-zero (a dump that failed at the end, `kubectl exec` losing its
//! connection after tar's end blocks) must fail the backup. Neither a
//! shell's `pipefail` nor process substitution lets the consumer see that
//! status before it completes its own output, so the tools run the
//! producer themselves (restic's `--stdin-from-command` answered the same
//! request): reading its stdout to the end waits for it, and end-of-input
//! is reported only when it exited 0.
//!
//! With an idle limit ([`crate::idle`]) the producer also runs in a process
//! group of its own, so that a stalled one is killed whole (`sh -c`,
//! `kubectl` and whatever they started), and its stderr passes through us
//! so that talking there counts as being alive.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::idle::Watch;

/// Why a producer failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProducerError {
    #[error("starting `{command}`: {source}")]
    Start {
        command: String,
        #[source]
        source: io::Error,
    },
    #[error("`{command}` {status}")]
    Failed { command: String, status: String },
    #[error(
        "`{command}` wrote nothing on stdout or stderr for {secs}s (--idle-timeout): killed it"
    )]
    Stalled { command: String, secs: u64 },
    #[error("waiting for `{command}`: {source}")]
    Wait {
        command: String,
        #[source]
        source: io::Error,
    },
}

/// A running producer: read its stdout; at its end, [`Read`] returns an
/// error unless the command exited 0.
pub(crate) struct Producer {
    command: String,
    child: Child,
    stdout: ChildStdout,
    done: bool,
    /// With an idle limit: the silence watch (the child leads its group).
    watch: Option<Watch>,
}

impl Producer {
    /// Run `argv` (no shell), its stdin closed, its stderr the tool's;
    /// killed when it writes nothing for `idle`.
    pub(crate) fn spawn(
        argv: &[String],
        idle: Option<Duration>,
    ) -> Result<Producer, ProducerError> {
        let (program, args) = argv.split_first().expect("clap requires a command");
        Producer::start(argv.join(" "), Command::new(program).args(args), idle)
    }

    /// Run a shell command line (`sh -c`).
    pub(crate) fn shell(line: &str, idle: Option<Duration>) -> Result<Producer, ProducerError> {
        Producer::start(
            line.to_string(),
            Command::new("sh").args(["-c", line]),
            idle,
        )
    }

    fn start(
        command: String,
        cmd: &mut Command,
        idle: Option<Duration>,
    ) -> Result<Producer, ProducerError> {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        if idle.is_some() {
            cmd.stderr(Stdio::piped()).process_group(0);
        }
        let mut child = cmd.spawn().map_err(|source| ProducerError::Start {
            command: command.clone(),
            source,
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let watch = idle.map(|limit| Watch::new(limit, child.stderr.take()));
        Ok(Producer {
            command,
            child,
            stdout,
            done: false,
            watch,
        })
    }

    /// Kill the producer: its whole group when it leads one.
    fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            match self.watch {
                Some(_) => {
                    let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
                    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                }
                None => drop(self.child.kill()),
            }
        }
    }

    /// The producer was silent for the limit: kill it, and say so.
    fn stalled(&mut self) -> io::Error {
        self.kill();
        let _ = self.child.wait();
        self.done = true;
        let secs = self.watch.as_ref().map_or(0, |w| w.limit().as_secs());
        let command = self.command.clone();
        io::Error::new(
            io::ErrorKind::TimedOut,
            ProducerError::Stalled { command, secs },
        )
    }

    fn wait(&mut self) -> Result<(), ProducerError> {
        let status = self.child.wait().map_err(|source| ProducerError::Wait {
            command: self.command.clone(),
            source,
        })?;
        self.verdict(status)
    }

    fn verdict(&self, status: ExitStatus) -> Result<(), ProducerError> {
        match status.success() {
            true => Ok(()),
            false => Err(ProducerError::Failed {
                command: self.command.clone(),
                status: describe(status),
            }),
        }
    }
}

/// How a command ended, for a message: "exited with status 3", "was
/// killed by signal 9".
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => format!("ended: {status}"),
    }
}

impl Read for Producer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if let Some(watch) = self.watch.as_mut()
            && !watch.ready(self.stdout.as_fd())?
        {
            return Err(self.stalled());
        }
        let n = self.stdout.read(buf)?;
        if let Some(watch) = self.watch.as_mut() {
            watch.heard();
            if n == 0 && !buf.is_empty() && !watch.drain()? {
                return Err(self.stalled());
            }
        }
        if n == 0 && !buf.is_empty() {
            self.done = true;
            self.wait().map_err(io::Error::other)?;
        }
        Ok(n)
    }
}

impl Drop for Producer {
    /// Never leave a zombie or an orphan writing into a closed pipe.
    fn drop(&mut self) {
        if !self.done {
            self.kill();
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(mut p: Producer) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        p.read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn a_clean_exit_ends_the_stream() {
        let p = Producer::shell("printf hello", None).unwrap();
        assert_eq!(read_all(p).unwrap(), b"hello");
    }

    #[test]
    fn a_failure_after_the_whole_output_is_an_error_at_its_end() {
        let p = Producer::shell("printf hello; exit 3", None).unwrap();
        let err = read_all(p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`printf hello; exit 3` exited with status 3"
        );
        let p = Producer::shell("printf x; kill -9 $$", None).unwrap();
        assert!(
            read_all(p)
                .unwrap_err()
                .to_string()
                .ends_with("was killed by signal 9")
        );
    }

    #[test]
    fn a_command_that_cannot_start_is_named() {
        let missing = Producer::spawn(&["no-such-command-s3pipe".to_string()], None);
        assert!(matches!(missing, Err(ProducerError::Start { .. })));
    }

    /// Dropping a producer kills it and reaps it: no orphan keeps writing,
    /// no zombie stays (the pid is gone); with an idle limit its whole
    /// process group goes.
    #[test]
    fn dropping_it_early_stops_the_command() {
        for idle in [None, Some(Duration::from_secs(60))] {
            let mut p = Producer::shell("yes", idle).unwrap();
            let mut buf = [0u8; 10];
            p.read_exact(&mut buf).unwrap();
            let pid = nix::unistd::Pid::from_raw(p.child.id() as i32);
            drop(p);
            let gone = nix::sys::signal::kill(pid, None);
            assert_eq!(
                gone,
                Err(nix::errno::Errno::ESRCH),
                "{idle:?}: pid {pid} lives on"
            );
        }
    }
}
