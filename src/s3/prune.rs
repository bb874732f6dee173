//! `s3prune`: list a prefix, let [`crate::retention`] decide (a pure
//! function), then delete what it did not keep, in batches.

use super::client::{S3Error, Store};
use super::url::S3Url;
use crate::backups;
use crate::retention::{self, Item, Policy, Verdict};

/// What `s3prune` decided and did.
#[derive(Debug, Default)]
pub struct PruneReport {
    /// One line per key: `keep KEY (rules)`, `remove KEY`, or why kept.
    pub lines: Vec<String>,
    pub removed: usize,
    pub failed: Vec<(String, String)>,
}

/// Apply `policy` to every object under `url` (a prefix): list, decide
/// (a pure function), then delete in batches unless `dry_run`.
pub async fn prune(
    store: &Store,
    url: &S3Url,
    policy: &Policy,
    by_mtime: bool,
    dry_run: bool,
    now: i64,
) -> Result<PruneReport, S3Error> {
    let listing = store.list(&url.bucket, &url.key, None).await?;
    let items: Vec<Item> = listing
        .objects
        .iter()
        .map(|o| Item {
            key: o.key.clone(),
            time: if by_mtime {
                Some(o.last_modified)
            } else {
                backups::stamp(&o.key).map(|s| s.time)
            },
        })
        .collect();
    let verdicts = retention::decide(&items, policy, now);
    let mut report = PruneReport::default();
    let mut doomed = Vec::new();
    for (item, verdict) in items.iter().zip(&verdicts) {
        let line = match verdict {
            Verdict::Keep(rules) => format!("keep    {}  ({})", item.key, rules.join(", ")),
            Verdict::NoTimestamp => format!(
                "keep    {}  (no timestamp in the name: never removed)",
                item.key
            ),
            Verdict::Remove => {
                doomed.push(item.key.clone());
                format!("remove  {}", item.key)
            }
        };
        report.lines.push(line);
    }
    if !dry_run && !doomed.is_empty() {
        report.failed = store.delete(&url.bucket, &doomed).await?;
    }
    report.removed = doomed.len() - report.failed.len();
    Ok(report)
}
