//! When a listing is complete: the rule every paged S3 listing
//! (ListObjectsV2, ListMultipartUploads) follows before s3ls, s3prune or
//! `--latest` may decide anything on it. A page that says there is more
//! must say where it continues, a continuation never repeats, and a page
//! that counts its keys must hold that many — a body cut short, a store
//! that loops, or a middlebox that truncates must be an error, never a
//! shorter list (s3prune would delete on it).

use std::collections::HashSet;

/// What a listing page says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    /// `IsTruncated`; None when the page did not say (a cut body).
    pub truncated: Option<bool>,
    /// Where the next page starts (the continuation token, or the
    /// key/upload-id markers joined), when there is one.
    pub next: Option<String>,
    /// `KeyCount`, when the page carries it.
    pub key_count: Option<i64>,
    /// Keys and common prefixes the page held.
    pub entries: usize,
}

/// Why a listing is not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Incomplete {
    #[error("a listing page does not say whether more follows (IsTruncated missing: cut short?)")]
    Unsaid,
    #[error("a listing page says more follows but not where (no continuation)")]
    NoContinuation,
    #[error("the listing's continuation {0:?} came twice (the store loops)")]
    Repeated(String),
    #[error("a listing page counts {count} keys but holds {entries}")]
    Miscounted { count: i64, entries: usize },
}

/// The continuations seen so far in one listing.
#[derive(Debug, Default)]
pub(crate) struct Pages {
    seen: HashSet<String>,
}

impl Pages {
    /// Where to continue after `page` (None: the listing is complete), or
    /// why it cannot be trusted.
    pub(crate) fn next(&mut self, page: Page) -> Result<Option<String>, Incomplete> {
        if let Some(count) = page.key_count
            && usize::try_from(count).ok() != Some(page.entries)
        {
            return Err(Incomplete::Miscounted {
                count,
                entries: page.entries,
            });
        }
        match (page.truncated, page.next) {
            (None, _) => Err(Incomplete::Unsaid),
            (Some(false), _) => Ok(None),
            (Some(true), None) => Err(Incomplete::NoContinuation),
            (Some(true), Some(next)) if !self.seen.insert(next.clone()) => {
                Err(Incomplete::Repeated(next))
            }
            (Some(true), Some(next)) => Ok(Some(next)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(
        truncated: Option<bool>,
        next: Option<&str>,
        key_count: Option<i64>,
        entries: usize,
    ) -> Page {
        Page {
            truncated,
            next: next.map(String::from),
            key_count,
            entries,
        }
    }

    #[test]
    fn a_listing_is_complete_or_an_error() {
        let mut pages = Pages::default();
        assert_eq!(
            pages.next(page(Some(true), Some("a"), Some(2), 2)),
            Ok(Some("a".into()))
        );
        assert_eq!(
            pages.next(page(Some(true), Some("b"), None, 7)),
            Ok(Some("b".into()))
        );
        assert_eq!(pages.next(page(Some(false), None, Some(1), 1)), Ok(None));
        // The last page may still carry a token: it is not followed.
        assert_eq!(pages.next(page(Some(false), Some("a"), None, 0)), Ok(None));
        assert_eq!(
            pages.next(page(None, None, None, 6)),
            Err(Incomplete::Unsaid)
        );
        assert_eq!(
            pages.next(page(Some(true), None, None, 2)),
            Err(Incomplete::NoContinuation)
        );
        assert_eq!(
            pages.next(page(Some(true), Some("b"), None, 2)),
            Err(Incomplete::Repeated("b".into()))
        );
        assert_eq!(
            pages.next(page(Some(false), None, Some(12), 6)),
            Err(Incomplete::Miscounted {
                count: 12,
                entries: 6
            })
        );
    }
}
