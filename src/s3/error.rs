//! What an S3 call can fail with, named by cause so the one-line message
//! can say what to fix. [`super::classify`] fills it from a store's
//! answer; [`super::client::Store`] returns it.

use std::path::PathBuf;

use super::pages::Incomplete;

/// Failures, named by cause so the one-line message can say what to fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum S3Error {
    #[error(
        "no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or use --no-sign-request): {0}"
    )]
    NoCredentials(String),
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("signature mismatch: the secret key is wrong for this access key")]
    SignatureMismatch,
    #[error("no such bucket: {0}")]
    NoSuchBucket(String),
    #[error("no such key: {0}")]
    NoSuchKey(String),
    #[error("no such upload: {0}")]
    NoSuchUpload(String),
    #[error("endpoint unreachable ({endpoint}): {message}")]
    Unreachable { endpoint: String, message: String },
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("{code}: {message}")]
    Service {
        code: String,
        message: String,
        status: u16,
    },
    #[error("the store's answer (HTTP {0}) could not be read: malformed or cut short")]
    Malformed(u16),
    #[error("incomplete listing: {0}")]
    Listing(Incomplete),
    #[error("CA bundle {path}: {why}")]
    CaBundle { path: PathBuf, why: String },
    #[error("{0}")]
    Other(String),
}
