//! `s3://bucket/key` URLs. The key is everything after the first `/` after
//! the bucket, byte for byte: `//`, `./`, `../`, `%41`, `+`, spaces and a
//! trailing `/` are all part of it and sent unchanged.

use std::fmt;
use std::str::FromStr;

/// Why a command-line URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("invalid URL {0:?}: expected s3://bucket/key")]
    /// Not `s3://`.
    Scheme(String),
    #[error("invalid URL {url:?}: bucket name {bucket:?} is not valid (3-63 of a-z 0-9 . -)")]
    /// A bucket name S3 does not allow.
    Bucket {
        /// The URL as given.
        url: String,
        /// The bucket part.
        bucket: String,
    },
    #[error("invalid URL {0:?}: no object key (expected s3://bucket/key)")]
    /// No key where one is needed.
    NoKey(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// `s3://bucket/key`, parsed.
pub struct S3Url {
    /// The bucket.
    pub bucket: String,
    /// May be empty (a whole bucket, for listings).
    pub key: String,
}

impl S3Url {
    /// Parse a URL that must name an object (non-empty key).
    pub fn object(text: &str) -> Result<S3Url, UrlError> {
        let url: S3Url = text.parse()?;
        if url.key.is_empty() {
            return Err(UrlError::NoKey(text.into()));
        }
        Ok(url)
    }
}

impl FromStr for S3Url {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<S3Url, UrlError> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| UrlError::Scheme(text.into()))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !valid {
            return Err(UrlError::Bucket {
                url: text.into(),
                bucket: bucket.into(),
            });
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kept_byte_for_byte() {
        for key in [
            "a b",
            "ünï/✓",
            "a+b=c&d",
            "%41",
            "x//y",
            "./x",
            "../x",
            "dir/",
            "a/./b/../c",
        ] {
            let url = S3Url::object(&format!("s3://my-bucket/{key}")).unwrap();
            assert_eq!(url.bucket, "my-bucket");
            assert_eq!(url.key, key);
            assert_eq!(url.to_string(), format!("s3://my-bucket/{key}"));
        }
    }

    #[test]
    fn bad_urls_are_refused() {
        for (text, why) in [
            ("bucket/key", "expected s3://"),
            ("s3://", "not valid"),
            ("s3://Bad_Bucket/k", "not valid"),
            ("https://b/k", "expected s3://"),
        ] {
            let err = text.parse::<S3Url>().unwrap_err();
            assert!(err.to_string().contains(why), "{text}: {err}");
        }
        assert!(
            S3Url::object("s3://bucket")
                .unwrap_err()
                .to_string()
                .contains("no object key")
        );
        assert!(
            S3Url::object("s3://bucket/")
                .unwrap_err()
                .to_string()
                .contains("no object key")
        );
        assert_eq!("s3://bucket".parse::<S3Url>().unwrap().key, "");
    }
}
