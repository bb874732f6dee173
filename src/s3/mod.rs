//! S3 transfers as streams: [`url`] parses `s3://bucket/key`, [`client`]
//! is the only module that sees aws-sdk-s3, [`upload`] and [`download`]
//! move streams in and out, [`list`] lists objects, backups and uploads,
//! [`delete`] removes objects and aborts uploads, [`prune`] applies a
//! retention policy, [`versions`] deletes on a bucket with Object Lock,
//! [`parts`] holds the part-layout rules both directions obey,
//! [`concurrency`] how many transfers are in flight within the memory
//! budget, [`rate`] the `--limit-rate` token bucket.

pub mod classify;
pub mod client;
pub mod concurrency;
pub mod delete;
pub mod download;
pub mod error;
pub mod list;
pub mod pages;
pub mod parts;
pub mod prune;
pub mod rate;
pub mod upload;
pub mod url;
pub mod versions;

pub use client::{Connection, Store};
pub use error::S3Error;
pub use url::S3Url;
