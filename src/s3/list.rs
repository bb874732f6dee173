//! `s3ls`: list objects (grouped like `aws s3 ls`, or all, or just the
//! latest), the complete backups under a prefix (`--backups`: the
//! structured listing scripts read), or in-progress multipart uploads.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{TimeZone, Utc};

use super::client::{ListedObject, Retention, Store};
use super::error::S3Error;
use super::url::S3Url;
use crate::backups::{self, Backup, Object};
use crate::chains::{self, Link};

#[derive(Debug, Clone, Default)]
pub struct LsOptions {
    pub recursive: bool,
    pub human: bool,
    pub json: bool,
    /// Only the newest key: by key order (timestamped names), or by mtime.
    pub latest: bool,
    pub by_mtime: bool,
    /// One line per complete backup instead of one per object.
    pub backups: bool,
    /// With `latest`: fail when the newest is older than this many seconds
    /// (its time from its key, else LastModified), measured at `now`.
    pub max_age: Option<i64>,
    pub now: i64,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ListError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error("writing output")]
    Output(#[source] std::io::Error),
    #[error("nothing under {0}")]
    Empty(String),
    #[error("no complete backup (one with a manifest) under {0}")]
    NoBackup(String),
    #[error("the newest backup, {key}, is {} old: more than --max-age {}", hours(*.age), hours(*.max))]
    TooOld { key: String, age: i64, max: i64 },
}

fn hours(seconds: i64) -> String {
    format!("{:.1}h", seconds as f64 / 3600.0)
}

/// `--max-age`: the newest backup must be younger than `max_age`.
fn check_age(key: &str, time: i64, opts: &LsOptions) -> Result<(), ListError> {
    match opts.max_age {
        Some(max) if opts.now - time > max => Err(ListError::TooOld {
            key: key.to_string(),
            age: opts.now - time,
            max,
        }),
        _ => Ok(()),
    }
}

/// Print the listing of `url` (a prefix) to `out`.
pub(crate) async fn ls<W: Write>(
    store: &Store,
    url: &S3Url,
    opts: &LsOptions,
    out: &mut W,
) -> Result<(), ListError> {
    let grouped = !opts.recursive && !opts.latest && !opts.backups;
    let listing = store
        .list(&url.bucket, &url.key, grouped.then_some("/"))
        .await?;
    let w = |e| ListError::Output(e);
    if opts.backups {
        return print_backups(store, url, &listing.objects, opts, out).await;
    }
    if opts.latest {
        let newest = latest_object(&listing.objects, opts.by_mtime)
            .ok_or_else(|| ListError::Empty(url.to_string()))?;
        print_object(newest, opts, out).map_err(w)?;
        out.flush().map_err(w)?;
        let time = match backups::stamp(&newest.key) {
            Some(s) if !opts.by_mtime => s.time,
            _ => newest.last_modified,
        };
        return check_age(&format!("s3://{}/{}", url.bucket, newest.key), time, opts);
    }
    for prefix in &listing.prefixes {
        if opts.json {
            writeln!(out, "{}", serde_json::json!({ "prefix": prefix })).map_err(w)?;
        } else {
            writeln!(out, "{:>19} {:>10}  {prefix}", "", "PRE").map_err(w)?;
        }
    }
    for object in &listing.objects {
        print_object(object, opts, out).map_err(w)?;
    }
    out.flush().map_err(w)
}

/// The newest object; when backups under the prefix carry manifests
/// (scripts/backup.sh), only objects of complete backups count.
fn latest_object(objects: &[ListedObject], by_mtime: bool) -> Option<&ListedObject> {
    let complete: std::collections::BTreeSet<String> = backups::complete(&as_objects(objects))
        .into_iter()
        .flat_map(|b| b.objects.into_iter().map(|o| o.key))
        .collect();
    let candidates = objects
        .iter()
        .filter(|o| complete.is_empty() || complete.contains(&o.key));
    if by_mtime {
        candidates.max_by(|a, b| (a.last_modified, &a.key).cmp(&(b.last_modified, &b.key)))
    } else {
        candidates.max_by(|a, b| a.key.cmp(&b.key))
    }
}

fn as_objects(listed: &[ListedObject]) -> Vec<Object> {
    listed
        .iter()
        .map(|o| Object {
            key: o.key.clone(),
            size: o.size,
        })
        .collect()
}

/// `--backups`: one line per complete backup, oldest first (the newest
/// only with `--latest`): `STAMP<TAB>s3://BUCKET/BASE<TAB>SUFFIX …`, or
/// with `--json` an object with its name, time and objects — and, on a
/// bucket with Object Lock, each object's lock and the backup's
/// `locked_until`. A format for scripts: it only grows new fields at the
/// end.
async fn print_backups<W: Write>(
    store: &Store,
    url: &S3Url,
    objects: &[ListedObject],
    opts: &LsOptions,
    out: &mut W,
) -> Result<(), ListError> {
    let mut sets = backups::complete(&as_objects(objects));
    if opts.latest {
        sets = sets.pop().into_iter().collect();
    }
    if sets.is_empty() {
        return Err(ListError::NoBackup(url.to_string()));
    }
    let locks = match opts.json {
        true => locks_of(store, &url.bucket, &sets).await?,
        false => None,
    };
    let w = |e| ListError::Output(e);
    for b in &sets {
        let link = link_of(store, &url.bucket, b).await?;
        let line = match opts.json {
            true => backup_json(&url.bucket, b, locks.as_ref(), link.as_ref()),
            false => backup_line(&url.bucket, b, link.as_ref()),
        };
        writeln!(out, "{line}").map_err(w)?;
    }
    out.flush().map_err(w)?;
    match sets.last() {
        Some(newest) if opts.latest => check_age(
            &format!("s3://{}/{}", url.bucket, newest.base),
            newest.time,
            opts,
        ),
        _ => Ok(()),
    }
}

/// An incremental backup's level and base (one with a `.snar`: its
/// manifest is read); None for the others, whose manifests are not.
async fn link_of(store: &Store, bucket: &str, b: &Backup) -> Result<Option<Link>, ListError> {
    if !b
        .objects
        .iter()
        .any(|o| o.key.ends_with(chains::SNAPSHOT_SUFFIX))
    {
        return Ok(None);
    }
    let key = format!("{}{}", b.base, backups::MANIFEST_SUFFIX);
    Ok(Some(manifest_link(store, bucket, &key).await?))
}

/// The chain link of manifest `key`, read whole (a manifest is a few KiB;
/// more than 1 MiB is refused); one that cannot be parsed is an error.
/// Shared by `s3ls --backups` and s3prune's chains.
pub(crate) async fn manifest_link(store: &Store, bucket: &str, key: &str) -> Result<Link, S3Error> {
    const MAX_MANIFEST: u64 = 1 << 20;
    let manifest = store.get_small(bucket, key, MAX_MANIFEST).await?;
    chains::link_of(&manifest)
        .map_err(|why| S3Error::Other(format!("manifest s3://{bucket}/{key}: {why}")))
}

/// Each object's retention, when the bucket has Object Lock (one HEAD
/// per object); None elsewhere, or when the key may not ask.
async fn locks_of(
    store: &Store,
    bucket: &str,
    sets: &[Backup],
) -> Result<Option<BTreeMap<String, Retention>>, ListError> {
    if !store.lock_config(bucket).await.is_ok_and(|c| c.enabled) {
        return Ok(None);
    }
    let mut locks = BTreeMap::new();
    for o in sets.iter().flat_map(|b| &b.objects) {
        locks.insert(o.key.clone(), store.retention(bucket, &o.key, None).await?);
    }
    Ok(Some(locks))
}

fn rfc3339(time: i64) -> Option<String> {
    Utc.timestamp_opt(time, 0).single().map(|t| t.to_rfc3339())
}

fn backup_json(
    bucket: &str,
    b: &Backup,
    locks: Option<&BTreeMap<String, Retention>>,
    link: Option<&Link>,
) -> String {
    let lock_json = |r: &Retention| match r.mode {
        None if !r.legal_hold => serde_json::Value::Null,
        mode => serde_json::json!({
            "mode": mode.map(|m| m.name()),
            "retain_until": r.until.and_then(rfc3339),
            "legal_hold": r.legal_hold,
        }),
    };
    let objects: Vec<_> = b
        .objects
        .iter()
        .map(|o| {
            let mut j = serde_json::json!({ "key": o.key, "size": o.size });
            if let Some(r) = locks.and_then(|l| l.get(&o.key)) {
                j["lock"] = lock_json(r);
            }
            j
        })
        .collect();
    let mut j = serde_json::json!({
        "name": b.base, "url": format!("s3://{bucket}/{}", b.base), "timestamp": b.stamp,
        "time": rfc3339(b.time), "objects": objects,
    });
    if let Some(link) = link {
        j["level"] = link.level.into();
        j["base"] = link.base.clone().into();
    }
    if let Some(locks) = locks {
        // Before this, none of its objects can be deleted.
        let until: Option<Vec<i64>> = (b.objects.iter())
            .map(|o| locks.get(&o.key).and_then(|r| r.until))
            .collect();
        j["locked_until"] = until
            .and_then(|u| u.into_iter().min())
            .and_then(rfc3339)
            .into();
    }
    j.to_string()
}

/// `STAMP<TAB>URL<TAB>SUFFIXES`, and for an incremental backup
/// `<TAB>LEVEL<TAB>BASE` (BASE empty for a full).
fn backup_line(bucket: &str, b: &Backup, link: Option<&Link>) -> String {
    let suffixes: Vec<&str> = b.objects.iter().map(|o| &o.key[b.base.len()..]).collect();
    let mut line = format!(
        "{}\ts3://{bucket}/{}\t{}",
        b.stamp,
        b.base,
        suffixes.join(" ")
    );
    if let Some(link) = link {
        let level = link.level.map(|l| l.to_string()).unwrap_or_default();
        line += &format!("\t{level}\t{}", link.base.as_deref().unwrap_or(""));
    }
    line
}

fn print_object<W: Write>(o: &ListedObject, opts: &LsOptions, out: &mut W) -> std::io::Result<()> {
    let when = Utc
        .timestamp_opt(o.last_modified, 0)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    if opts.json {
        writeln!(
            out,
            "{}",
            serde_json::json!({ "key": o.key, "size": o.size, "last_modified": when })
        )
    } else if opts.latest {
        writeln!(out, "{}", o.key)
    } else if opts.human {
        writeln!(out, "{when} {:>10}  {}", human(o.size), o.key)
    } else {
        writeln!(out, "{when} {:>10}  {}", o.size, o.key)
    }
}

/// `1.5 GiB`-style sizes for `-h`.
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Print in-progress multipart uploads under `url`.
pub(crate) async fn uploads<W: Write>(
    store: &Store,
    url: &S3Url,
    json: bool,
    out: &mut W,
) -> Result<usize, ListError> {
    let uploads = store.list_uploads(&url.bucket, &url.key).await?;
    for u in &uploads {
        let when = Utc
            .timestamp_opt(u.initiated, 0)
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let line = if json {
            serde_json::json!({ "key": u.key, "upload_id": u.upload_id, "initiated": when })
                .to_string()
        } else {
            format!("{when}  {}  {}", u.upload_id, u.key)
        };
        writeln!(out, "{line}").map_err(ListError::Output)?;
    }
    Ok(uploads.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_sizes() {
        assert_eq!(super::human(999), "999 B");
        assert_eq!(super::human(1536), "1.5 KiB");
        assert_eq!(super::human(3 << 30), "3.0 GiB");
    }
}
