//! Deleting on a bucket with S3 Object Lock, where every version stays: a
//! DeleteObject without a version id only adds a delete marker (the data
//! stays, and is billed), and a delete by version id is refused while the
//! version is locked. So s3prune and `s3rm --versions` remove a key
//! version by version, its delete markers too, once no version of it is
//! held; a key one of whose versions is still held is kept, and says
//! until when. Never with the GOVERNANCE bypass (see
//! [`Store::delete_versions`]).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{TimeZone, Utc};

use super::client::{Store, Version};
use super::error::S3Error;

/// Every version and delete marker under a prefix, by key.
#[derive(Debug, Default)]
pub(crate) struct Keys(BTreeMap<String, Vec<Version>>);

impl Keys {
    pub(crate) async fn list(store: &Store, bucket: &str, prefix: &str) -> Result<Keys, S3Error> {
        let mut keys = Keys::default();
        for v in store.list_versions(bucket, prefix).await? {
            keys.0.entry(v.key.clone()).or_default().push(v);
        }
        Ok(keys)
    }

    /// Every key that has a version or a delete marker.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Keys with a current version (what a plain listing shows), with it.
    pub(crate) fn current(&self) -> impl Iterator<Item = &Version> {
        self.0
            .values()
            .filter_map(|vs| vs.iter().find(|v| v.latest && !v.delete_marker))
    }

    /// Keys hidden by a delete marker: deleted, their data still stored.
    pub(crate) fn deleted(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(|(_, vs)| vs.iter().any(|v| v.latest && v.delete_marker))
            .map(|(k, _)| k.as_str())
    }

    /// Every (key, version id) of `names`, markers included: what deletes
    /// them for good.
    pub(crate) fn every_version(&self, names: &[String]) -> Vec<(String, Option<String>)> {
        names
            .iter()
            .flat_map(|k| self.0.get(k).into_iter().flatten())
            .map(|v| (v.key.clone(), Some(v.version_id.clone())))
            .collect()
    }

    /// What holds any version of `names` at `now`: a HEAD of each version
    /// that is not a delete marker (markers are never locked). None: every
    /// version can be deleted.
    pub(crate) async fn hold(
        &self,
        store: &Store,
        bucket: &str,
        names: &[String],
        now: i64,
    ) -> Result<Option<Hold>, S3Error> {
        let mut hold: Option<Hold> = None;
        for v in names
            .iter()
            .flat_map(|k| self.0.get(k).into_iter().flatten())
        {
            if v.delete_marker {
                continue;
            }
            let r = store.retention(bucket, &v.key, Some(&v.version_id)).await?;
            if r.holds_at(now) {
                let h = hold.get_or_insert_with(Hold::default);
                h.legal_hold |= r.legal_hold;
                h.until = h.until.max(r.until.filter(|&t| t > now));
            }
        }
        Ok(hold)
    }
}

/// Why a key cannot be deleted yet: the latest retain-until date among its
/// versions, and whether one has a legal hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Hold {
    pub until: Option<i64>,
    pub legal_hold: bool,
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = self
            .until
            .and_then(|t| Utc.timestamp_opt(t, 0).single())
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        match (when, self.legal_hold) {
            (Some(w), false) => write!(f, "locked until {w}"),
            (Some(w), true) => write!(f, "locked until {w}, and a legal hold"),
            (None, _) => write!(f, "a legal hold, until it is lifted"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Hold;

    #[test]
    fn a_hold_says_until_when() {
        let until = Some(1_796_000_000);
        let h = |until, legal_hold| Hold { until, legal_hold }.to_string();
        assert_eq!(h(until, false), "locked until 2026-11-30T00:53:20Z");
        assert_eq!(
            h(until, true),
            "locked until 2026-11-30T00:53:20Z, and a legal hold"
        );
        assert_eq!(h(None, true), "a legal hold, until it is lifted");
    }
}
