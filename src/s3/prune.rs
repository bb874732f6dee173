//! `s3prune`: list a prefix, let [`crate::retention`] decide (a pure
//! function), then delete what it did not keep, in batches, manifests
//! first; on a bucket with Object Lock, as [`super::versions`] says.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use super::client::Store;
use super::error::S3Error;
use super::url::S3Url;
use super::versions::{Hold, Keys};
use crate::retention::{self, Item, Policy, Verdict};
use crate::{backups, chains};

/// What `s3prune` decided and did.
#[derive(Debug, Default)]
pub(crate) struct PruneReport {
    /// One line per key: `keep KEY (rules)`, `remove KEY`, or why kept.
    pub lines: Vec<String>,
    pub removed: usize,
    pub failed: Vec<(String, String)>,
    /// Said once on stderr (unless `-q`): what could not be known.
    pub warnings: Vec<String>,
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
/// (a pure function), then delete unless `dry_run`. On a bucket with
/// Object Lock ([`versions`]): a doomed backup any of whose versions is
/// still locked is kept (`keep KEY (locked until …)`), the others lose
/// every version, and keys an earlier delete only hid behind a marker
/// are removed for good once nothing holds them.
pub(crate) async fn prune(
    store: &Store,
    url: &S3Url,
    opts: &PruneOptions,
) -> Result<PruneReport, S3Error> {
    let mut report = PruneReport::default();
    let keys = match lock_enabled(store, &url.bucket, &mut report).await? {
        true => Some(Keys::list(store, &url.bucket, &url.key).await?),
        false => None,
    };
    let objects: Vec<(String, i64)> = match &keys {
        Some(keys) => keys
            .current()
            .map(|v| (v.key.clone(), v.last_modified))
            .collect(),
        None => (store.list(&url.bucket, &url.key, None).await?.objects)
            .into_iter()
            .map(|o| (o.key, o.last_modified))
            .collect(),
    };
    let items: Vec<Item> = objects
        .into_iter()
        .map(|(key, mtime)| Item {
            time: match opts.by_mtime {
                true => Some(mtime),
                false => backups::stamp(&key).map(|s| s.time),
            },
            key,
        })
        .collect();
    let mut verdicts = retention::decide(&items, &opts.policy, opts.series.as_ref());
    keep_chains(store, &url.bucket, &items, &mut verdicts).await?;
    let now = chrono::Utc::now().timestamp();
    let held = match &keys {
        Some(keys) => holds(store, &url.bucket, keys, &items, &verdicts, now).await?,
        None => BTreeMap::new(),
    };
    let mut doomed = Vec::new();
    for (item, verdict) in items.iter().zip(&verdicts) {
        let line = match verdict {
            Verdict::Keep(rules) => format!("keep    {}  ({})", item.key, rules.join(", ")),
            Verdict::BaseOf(of) => format!("keep    {}  (base of {of})", item.key),
            Verdict::NoTimestamp => format!(
                "keep    {}  (no timestamp in the name: never removed)",
                item.key
            ),
            Verdict::Remove => match held.get(&item.key) {
                Some(hold) => format!("keep    {}  ({hold})", item.key),
                None => {
                    doomed.push(item.key.clone());
                    format!("remove  {}", item.key)
                }
            },
        };
        report.lines.push(line);
    }
    if let Some(keys) = &keys {
        purge_deleted(store, &url.bucket, keys, now, &mut doomed, &mut report).await?;
    }
    let doomed_count = doomed.len();
    if !opts.dry_run && !doomed.is_empty() {
        let expand = |names: &[String]| match &keys {
            Some(keys) => keys.every_version(names),
            None => names.iter().map(|k| (k.clone(), None)).collect(),
        };
        report.failed = delete_manifests_first(store, &url.bucket, doomed, expand).await?;
    }
    report.removed = doomed_count - report.failed.len();
    Ok(report)
}

/// Follow the kept backups' chains: each kept manifest that names a
/// `base` (an incremental backup) keeps that base, whose manifest is read
/// in turn, down to the full one. Only kept manifests are read.
async fn keep_chains(
    store: &Store,
    bucket: &str,
    items: &[Item],
    verdicts: &mut [Verdict],
) -> Result<(), S3Error> {
    let mut read = BTreeSet::new();
    let mut bases = BTreeMap::new();
    loop {
        let unread = chains::manifests_to_read(items, verdicts, &read);
        if unread.is_empty() {
            return Ok(());
        }
        for ((name, time), key) in unread {
            let link = super::list::manifest_link(store, bucket, &key).await?;
            if let Some(base) = link.base.as_deref().and_then(backups::stamp) {
                bases.insert((name.clone(), time), base.time);
            }
            read.insert((name, time));
        }
        chains::keep_bases(items, verdicts, &bases);
    }
}

/// Does the bucket have Object Lock? A key not allowed to ask
/// (s3:GetBucketObjectLockConfiguration) deletes as on any bucket, which
/// only adds delete markers where there is a lock: nothing is lost, and
/// the warning says so.
async fn lock_enabled(
    store: &Store,
    bucket: &str,
    report: &mut PruneReport,
) -> Result<bool, S3Error> {
    match store.lock_config(bucket).await {
        Ok(config) => Ok(config.enabled),
        Err(S3Error::AccessDenied(why)) => {
            report.warnings.push(format!(
                "cannot tell whether bucket {bucket} has Object Lock ({why}): deleting without version ids, which on a locked bucket only adds delete markers"
            ));
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Of the backups the policy removes, those a lock still holds: every key
/// of such a backup (one name and time) → the hold. A backup is kept or
/// removed whole.
async fn holds(
    store: &Store,
    bucket: &str,
    keys: &Keys,
    items: &[Item],
    verdicts: &[Verdict],
    now: i64,
) -> Result<BTreeMap<String, Hold>, S3Error> {
    let mut backups: BTreeMap<(String, i64), Vec<String>> = BTreeMap::new();
    for (item, verdict) in items.iter().zip(verdicts) {
        if *verdict == Verdict::Remove {
            let id = match backups::stamp(&item.key) {
                Some(s) => (s.prefix, s.time),
                None => (item.key.clone(), 0),
            };
            backups.entry(id).or_default().push(item.key.clone());
        }
    }
    let mut held = BTreeMap::new();
    for names in backups.values() {
        if let Some(hold) = keys.hold(store, bucket, names, now).await? {
            held.extend(names.iter().map(|k| (k.clone(), hold)));
        }
    }
    Ok(held)
}

/// Keys an earlier plain delete hid behind a marker (a failed run's
/// clean-up, an `s3rm` without `--versions`): their data is still stored
/// and billed. Those with a timestamp in the name are removed for good
/// once no version is held; the others are left alone.
async fn purge_deleted(
    store: &Store,
    bucket: &str,
    keys: &Keys,
    now: i64,
    doomed: &mut Vec<String>,
    report: &mut PruneReport,
) -> Result<(), S3Error> {
    for key in keys.deleted().filter(|k| backups::stamp(k).is_some()) {
        let name = [key.to_string()];
        let line = match keys.hold(store, bucket, &name, now).await? {
            Some(hold) => format!("keep    {key}  (deleted, its data {hold})"),
            None => {
                doomed.push(key.to_string());
                format!("remove  {key}  (deleted earlier: every version)")
            }
        };
        report.lines.push(line);
    }
    Ok(())
}

/// Delete the manifests of doomed backups first, so that a run cut short
/// leaves backups that are no longer "complete" rather than a manifest
/// naming objects that are gone; the objects of a backup whose manifest
/// could not be deleted stay (reported as failed too). `expand` names
/// what to delete for keys: themselves, or every version of them.
async fn delete_manifests_first(
    store: &Store,
    bucket: &str,
    doomed: Vec<String>,
    expand: impl Fn(&[String]) -> Vec<(String, Option<String>)>,
) -> Result<Vec<(String, String)>, S3Error> {
    let (manifests, rest): (Vec<String>, Vec<String>) = doomed
        .into_iter()
        .partition(|k| k.ends_with(backups::MANIFEST_SUFFIX));
    let mut failed = once_per_key(store.delete_versions(bucket, &expand(&manifests)).await?);
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
        let more = store.delete_versions(bucket, &expand(&rest)).await?;
        failed.extend(once_per_key(more));
    }
    Ok(failed)
}

/// A key whose versions failed to delete, once (with the first reason).
fn once_per_key(failed: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut seen = std::collections::BTreeSet::new();
    failed
        .into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect()
}
