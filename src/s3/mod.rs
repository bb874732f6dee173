//! S3 transfers as streams: [`url`] parses `s3://bucket/key`, [`client`]
//! is the only module that sees aws-sdk-s3, [`upload`] and [`download`]
//! move streams in and out, [`list`] lists objects, backups and uploads,
//! [`delete`] removes objects and aborts uploads, [`prune`] applies a
//! retention policy, [`versions`] deletes on a bucket with Object Lock,
//! [`parts`] holds the part-layout rules both directions obey,
//! [`concurrency`] how many transfers are in flight within the memory
//! budget, [`rate`] the `--limit-rate` token bucket.

pub(crate) mod buffers;
pub(crate) mod classify;
pub(crate) mod client;
pub(crate) mod concurrency;
pub(crate) mod delete;
pub(crate) mod download;
pub(crate) mod error;
pub(crate) mod list;
pub(crate) mod pages;
pub(crate) mod parts;
pub(crate) mod prune;
pub mod rate;
pub(crate) mod upload;
pub mod url;
pub(crate) mod versions;

pub(crate) use client::{Connection, Store};
pub use url::S3Url;
