//! `s3prune`: list a prefix, let [`crate::retention`] decide (a pure
//! function), then delete what it did not keep, in batches, manifests
//! first.

use regex::Regex;

use super::client::Store;
use super::error::S3Error;
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

/// What to prune and how.
#[derive(Debug, Default)]
pub struct PruneOptions {
    pub policy: Policy,
    /// Every key this matches is one series (`--series`).
    pub series: Option<Regex>,
    /// LastModified instead of the time in the key.
    pub by_mtime: bool,
    pub dry_run: bool,
}

/// Apply the policy to every object under `url` (a prefix): list, decide
/// (a pure function), then delete unless `dry_run`.
pub async fn prune(
    store: &Store,
    url: &S3Url,
    opts: &PruneOptions,
) -> Result<PruneReport, S3Error> {
    let listing = store.list(&url.bucket, &url.key, None).await?;
    let items: Vec<Item> = listing
        .objects
        .iter()
        .map(|o| Item {
            key: o.key.clone(),
            time: if opts.by_mtime {
                Some(o.last_modified)
            } else {
                backups::stamp(&o.key).map(|s| s.time)
            },
        })
        .collect();
    let verdicts = retention::decide(&items, &opts.policy, opts.series.as_ref());
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
    let doomed_count = doomed.len();
    if !opts.dry_run && !doomed.is_empty() {
        report.failed = delete_manifests_first(store, &url.bucket, doomed).await?;
    }
    report.removed = doomed_count - report.failed.len();
    Ok(report)
}

/// Delete the manifests of doomed backups first, so that a run cut short
/// leaves backups that are no longer "complete" rather than a manifest
/// naming objects that are gone; the objects of a backup whose manifest
/// could not be deleted stay (reported as failed too).
async fn delete_manifests_first(
    store: &Store,
    bucket: &str,
    doomed: Vec<String>,
) -> Result<Vec<(String, String)>, S3Error> {
    let (manifests, rest): (Vec<String>, Vec<String>) = doomed
        .into_iter()
        .partition(|k| k.ends_with(backups::MANIFEST_SUFFIX));
    let mut failed = store.delete(bucket, &manifests).await?;
    let still_complete: Vec<String> = failed
        .iter()
        .map(|(k, _)| k.trim_end_matches(backups::MANIFEST_SUFFIX).to_string())
        .collect();
    let (kept, rest): (Vec<String>, Vec<String>) = rest.into_iter().partition(|k| {
        still_complete
            .iter()
            .any(|base| k.starts_with(base.as_str()))
    });
    for key in kept {
        failed.push((key, "its manifest could not be deleted".to_string()));
    }
    if !rest.is_empty() {
        failed.extend(store.delete(bucket, &rest).await?);
    }
    Ok(failed)
}
