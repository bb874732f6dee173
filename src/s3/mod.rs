//! S3 transfers as streams: [`url`] parses `s3://bucket/key`, [`client`]
//! is the only module that sees aws-sdk-s3, [`upload`] and [`download`]
//! move streams in and out, [`list`] lists objects, backups and uploads,
//! [`delete`] removes objects and aborts uploads, [`prune`] applies a
//! retention policy.

pub mod client;
pub mod delete;
pub mod download;
pub mod list;
pub mod prune;
pub mod upload;
pub mod url;

pub use client::{Connection, S3Error, Store};
pub use url::S3Url;

/// Resolves when SIGINT, SIGTERM or SIGHUP arrives: the signal's name and
/// the exit code a shell would show for it (128 + number).
pub async fn interrupted() -> (&'static str, u8) {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut int, mut term, mut hup) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(i), Ok(t), Ok(h)) => (i, t, h),
        // Without handlers the default action (exit) still applies.
        _ => return std::future::pending().await,
    };
    tokio::select! {
        _ = int.recv() => ("SIGINT", 130),
        _ = term.recv() => ("SIGTERM", 143),
        _ = hup.recv() => ("SIGHUP", 129),
    }
}
