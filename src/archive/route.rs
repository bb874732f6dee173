//! `unpack --route PREFIX=CMD`: restore to where the data lives. The
//! entries under PREFIX stream, as a valid tar stream with PREFIX stripped,
//! into the stdin of a shell command (e.g. `kubectl exec -i deploy/backend
//! -- tar xf - -C /home/app/.CombineFiles`), with no scratch disk between.
//!
//! Entries are rewritten through the same code as `pack --splice`, so names
//! stay exact; the input is still read and checked to its end. A command
//! starts at its route's first entry; at the end its stream gets its
//! end-of-archive blocks, and it must exit 0. If anything fails first (a
//! cut or corrupt input, another command), every command still running is
//! killed rather than shown an ending, so `tar xf - && mongorestore …`
//! never restores half a dump.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::process::{Child, ChildStdin, Command, Stdio};

use tar::Builder;

use super::reader::{Entry, Kind, TarReader};
use super::splice::{copy_entry, entry_meta};
use super::{Error, guard, show};
use crate::producer::describe;

/// One `--route PREFIX=CMD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Components, without a leading `./` or `/` and trailing `/`.
    pub prefix: Vec<u8>,
    pub command: String,
}

impl std::str::FromStr for Route {
    type Err = String;

    /// `PREFIX=CMD`, e.g. `.CombineFiles/=kubectl exec -i … tar xf - -C …`.
    fn from_str(text: &str) -> Result<Route, String> {
        let (prefix, command) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not PREFIX=COMMAND"))?;
        let prefix = prefix.trim_start_matches("./").trim_matches('/');
        if prefix.is_empty() || command.trim().is_empty() {
            return Err(format!("{text:?}: both PREFIX and COMMAND are needed"));
        }
        if prefix
            .split('/')
            .any(|p| p == ".." || p == "." || p.is_empty())
        {
            return Err(format!("{text:?}: PREFIX must be a plain relative path"));
        }
        Ok(Route {
            prefix: prefix.as_bytes().to_vec(),
            command: command.to_string(),
        })
    }
}

/// A route's command while its stream is being written.
struct Running {
    child: Child,
    builder: Builder<ChildStdin>,
}

/// Every route, and the commands started so far.
pub(crate) struct Routes {
    routes: Vec<Route>,
    running: Vec<Option<Running>>,
}

impl Routes {
    pub(crate) fn new(routes: Vec<Route>) -> Routes {
        let running = routes.iter().map(|_| None).collect();
        Routes { routes, running }
    }

    /// The entry's name relative to the route it falls under, if any
    /// (empty for the route's own directory).
    fn matching(&self, name: &[u8]) -> Option<(usize, Vec<u8>)> {
        let name = strip_dot(name);
        self.routes.iter().enumerate().find_map(|(i, r)| {
            let rest = name.strip_prefix(r.prefix.as_slice())?;
            match rest.first() {
                None => Some((i, Vec::new())),
                Some(b'/') => Some((i, rest[1..].to_vec())),
                Some(_) => None,
            }
        })
    }

    /// Send the entry to its route's command; false if it has no route.
    pub(crate) fn take<R: Read>(
        &mut self,
        entry: &Entry,
        tar: &mut TarReader<R>,
    ) -> Result<bool, Error> {
        let Some((i, rest)) = self.matching(&entry.name) else {
            return Ok(false);
        };
        if rest.iter().all(|&b| b == b'/') {
            // The route's own directory is the target's business; anything
            // else named exactly PREFIX is not under it.
            return Ok(entry.kind == Kind::Directory);
        }
        guard::clean(&rest, 0).map_err(|violation| Error::Unsafe {
            entry: show(&entry.name),
            violation,
        })?;
        let prefix = self.routes[i].prefix.clone();
        let rename = |n: &[u8]| {
            let n = strip_dot(n);
            match n.strip_prefix(prefix.as_slice()) {
                Some(r) if r.first() == Some(&b'/') => r[1..].to_vec(),
                _ => n.to_vec(),
            }
        };
        let Some(meta) = entry_meta(entry, &rename)? else {
            return Ok(true);
        };
        if let Some(link) = entry.link.as_ref().filter(|_| meta.kind.is_hard_link())
            && self.matching(link).map(|(j, _)| j) != Some(i)
        {
            return Err(Error::Corrupt(format!(
                "{}: a hard link to {}, outside route {}",
                show(&entry.name),
                show(link),
                show(&prefix)
            )));
        }
        let running = self.start(i)?;
        copy_entry(&mut running.builder, tar, entry, &meta).map_err(|e| match e {
            // The command closed its stdin: its own status says why.
            Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe => {
                self.failed(i)
            }
            other => other,
        })?;
        Ok(true)
    }

    fn start(&mut self, i: usize) -> Result<&mut Running, Error> {
        if self.running[i].is_none() {
            let command = &self.routes[i].command;
            let spawned = Command::new("sh")
                .args(["-c", command])
                .stdin(Stdio::piped())
                // Its output is diagnostics: unpack's stdout is data.
                .stdout(stderr_for_child())
                .spawn()
                .map_err(|e| Error::io(format!("--route: starting `{command}`"), e))?;
            let mut child = spawned;
            let stdin = child.stdin.take().expect("stdin is piped");
            self.running[i] = Some(Running {
                child,
                builder: Builder::new(stdin),
            });
        }
        Ok(self.running[i].as_mut().expect("started above"))
    }

    /// Writing to route `i` failed: its command's own status says why.
    fn failed(&mut self, i: usize) -> Error {
        let Some(mut running) = self.running[i].take() else {
            return Error::io("--route", io::Error::other("not running"));
        };
        let why = match running.child.wait() {
            Ok(s) if !s.success() => describe(s),
            _ => "stopped reading its input".to_string(),
        };
        self.route_error(i, why)
    }

    /// The input ended cleanly: end every stream, then every command must
    /// exit 0. Returns the prefixes that matched nothing, to be reported.
    pub(crate) fn finish(mut self) -> Result<Vec<String>, Error> {
        let mut unused = Vec::new();
        for i in 0..self.routes.len() {
            let Some(mut running) = self.running[i].take() else {
                unused.push(show(&self.routes[i].prefix));
                continue;
            };
            if running.builder.finish().is_err() {
                self.running[i] = Some(running);
                return Err(self.failed(i));
            }
            drop(running.builder.into_inner()); // closes its stdin
            let status = running
                .child
                .wait()
                .map_err(|e| Error::io(format!("waiting for `{}`", self.routes[i].command), e))?;
            if !status.success() {
                return Err(self.route_error(i, describe(status)));
            }
        }
        Ok(unused)
    }

    fn route_error(&self, i: usize, why: String) -> Error {
        let route = &self.routes[i];
        Error::io(
            format!("--route {}", show(&route.prefix)),
            io::Error::other(format!("`{}` {why}", route.command)),
        )
    }
}

impl Drop for Routes {
    /// Anything still running was not given a whole stream: kill it.
    fn drop(&mut self) {
        for running in self.running.iter_mut().filter_map(Option::take) {
            let mut child = running.child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn strip_dot(name: &[u8]) -> &[u8] {
    let mut name = name;
    while let Some(rest) = name.strip_prefix(b"./").or_else(|| name.strip_prefix(b"/")) {
        name = rest;
    }
    name
}

/// The child's stdout goes where unpack's diagnostics go.
fn stderr_for_child() -> Stdio {
    io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}
