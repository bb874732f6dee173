//! Every S3 failure a user sees is named here: what the SDK reported
//! (plain data: a service error's code, message and status, or a transport
//! failure's text) → one [`S3Error`]. A pure function, table-tested, so the
//! wording of each message is decided in one place.

use super::error::S3Error;

/// What went wrong, as the SDK said it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failure<'a> {
    /// The store answered with an error.
    Service {
        code: &'a str,
        message: &'a str,
        status: u16,
    },
    /// No answer: connection refused, DNS, timeout (the text of the causes).
    Dispatch(&'a str),
    /// Anything else (credentials, request construction, …).
    Other(&'a str),
}

/// The error a user sees for `failure` on `bucket`/`key` at `endpoint`.
pub(crate) fn classify(failure: Failure, bucket: &str, key: &str, endpoint: &str) -> S3Error {
    match failure {
        Failure::Service {
            code,
            message,
            status,
        } => service(code, message, status, bucket, key),
        Failure::Dispatch(text) | Failure::Other(text) if is_credentials(text) => {
            S3Error::NoCredentials(text.into())
        }
        Failure::Dispatch(text) => S3Error::Unreachable {
            endpoint: endpoint.into(),
            message: text.into(),
        },
        Failure::Other(text) => S3Error::Other(text.into()),
    }
}

fn is_credentials(text: &str) -> bool {
    text.contains("credentials")
        && ["no credentials", "provider", "loading credentials"]
            .iter()
            .any(|hint| text.contains(hint))
}

fn service(code: &str, message: &str, status: u16, bucket: &str, key: &str) -> S3Error {
    match (code, status) {
        ("NoSuchBucket", _) => S3Error::NoSuchBucket(bucket.into()),
        ("NoSuchKey", _) | ("NotFound", 404) | ("", 404) if key.is_empty() => {
            S3Error::NoSuchBucket(bucket.into())
        }
        ("NoSuchKey", _) | ("NotFound", 404) | ("", 404) => {
            S3Error::NoSuchKey(format!("s3://{bucket}/{key}"))
        }
        ("NoSuchUpload", _) => S3Error::NoSuchUpload(message.into()),
        ("SignatureDoesNotMatch", _) => S3Error::SignatureMismatch,
        // Garage: 403 "Forbidden: Invalid signature".
        (_, 403) if message.to_ascii_lowercase().contains("signature") => {
            S3Error::SignatureMismatch
        }
        ("AccessDenied" | "InvalidAccessKeyId" | "Forbidden", _) | ("", 403) => {
            S3Error::AccessDenied(match (message, code) {
                ("", "") => format!("HTTP {status}, no error detail"),
                ("", code) => format!("{code} (HTTP {status})"),
                (message, _) => message.into(),
            })
        }
        // The SDK could not read a successful answer: a body cut short or
        // not S3's XML (a listing cut mid-XML read "HTTP 200: no error
        // detail" before).
        ("", 200..=299) => S3Error::Malformed(status),
        ("PreconditionFailed", _) | (_, 412) => S3Error::PreconditionFailed(message.into()),
        _ => S3Error::Service {
            code: if code.is_empty() {
                format!("HTTP {status}")
            } else {
                code.into()
            },
            message: match message {
                "" => no_detail(status).into(),
                _ => message.into(),
            },
            status,
        },
    }
}

/// What an error without a body (every HEAD's) can still say: a quorum
/// lost behind a 503 read "HTTP 503: " before.
fn no_detail(status: u16) -> &'static str {
    match status {
        500 => "Internal Server Error (no error detail)",
        502 => "Bad Gateway (no error detail)",
        503 => "Service Unavailable (no error detail)",
        504 => "Gateway Timeout (no error detail)",
        _ => "no error detail",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(code: &'static str, message: &'static str, status: u16) -> Failure<'static> {
        Failure::Service {
            code,
            message,
            status,
        }
    }

    #[test]
    fn every_failure_has_its_one_line() {
        let e = "http://127.0.0.1:1";
        let cases: Vec<(Failure, &str, &str)> = vec![
            (svc("NoSuchBucket", "", 404), "k", "no such bucket: b"),
            (svc("NoSuchKey", "", 404), "k", "no such key: s3://b/k"),
            (svc("", "", 404), "k", "no such key: s3://b/k"),
            (svc("", "", 404), "", "no such bucket: b"),
            (
                svc("NoSuchUpload", "gone", 404),
                "k",
                "no such upload: gone",
            ),
            (
                svc("SignatureDoesNotMatch", "", 403),
                "k",
                "signature mismatch: the secret key is wrong for this access key",
            ),
            (
                svc("", "Forbidden: Invalid signature", 403),
                "k",
                "signature mismatch: the secret key is wrong for this access key",
            ),
            (
                svc("AccessDenied", "", 403),
                "k",
                "access denied: AccessDenied (HTTP 403)",
            ),
            (
                svc("", "", 403),
                "k",
                "access denied: HTTP 403, no error detail",
            ),
            (
                svc("", "", 200),
                "k",
                "the store's answer (HTTP 200) could not be read: malformed or cut short",
            ),
            (
                svc("InvalidAccessKeyId", "no such key id", 403),
                "k",
                "access denied: no such key id",
            ),
            (
                svc("PreconditionFailed", "etag", 412),
                "k",
                "precondition failed: etag",
            ),
            (svc("SlowDown", "reduce", 503), "k", "SlowDown: reduce"),
            (
                svc("", "", 500),
                "k",
                "HTTP 500: Internal Server Error (no error detail)",
            ),
            (
                svc("", "", 503),
                "k",
                "HTTP 503: Service Unavailable (no error detail)",
            ),
            (svc("", "", 418), "k", "HTTP 418: no error detail"),
            (
                Failure::Dispatch("dispatch failure: io error: Connection refused (os error 111)"),
                "k",
                "endpoint unreachable (http://127.0.0.1:1): dispatch failure: io error: Connection refused (os error 111)",
            ),
            (
                Failure::Other("the credentials provider was not enabled"),
                "k",
                "no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or use --no-sign-request): the credentials provider was not enabled",
            ),
            (
                Failure::Dispatch(
                    "dispatch failure: other: an error occurred while loading credentials: failed to load IMDS session token",
                ),
                "k",
                "no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or use --no-sign-request): dispatch failure: other: an error occurred while loading credentials: failed to load IMDS session token",
            ),
            (Failure::Other("bad request"), "k", "bad request"),
        ];
        for (failure, key, want) in cases {
            assert_eq!(
                classify(failure, "b", key, e).to_string(),
                want,
                "{failure:?}"
            );
        }
    }
}
