//! `s3ls` and `s3rm`: list objects (grouped like `aws s3 ls`, or all, or
//! just the latest), list in-progress multipart uploads, delete objects and
//! abort uploads (the clean-up for uploads a SIGKILL or OOM left behind).

use std::io::Write;

use chrono::{TimeZone, Utc};

use super::client::{ListedObject, S3Error, Store};
use super::url::S3Url;
use crate::retention::{self, Item, Policy, Verdict};

#[derive(Debug, Clone, Default)]
pub struct LsOptions {
    pub recursive: bool,
    pub human: bool,
    pub json: bool,
    /// Only the newest key: by key order (timestamped names), or by mtime.
    pub latest: bool,
    pub by_mtime: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error("writing output")]
    Output(#[source] std::io::Error),
    #[error("nothing under {0}")]
    Empty(String),
}

/// Print the listing of `url` (a prefix) to `out`.
pub async fn ls<W: Write>(
    store: &Store,
    url: &S3Url,
    opts: &LsOptions,
    out: &mut W,
) -> Result<(), ListError> {
    let grouped = !opts.recursive && !opts.latest;
    let listing = store
        .list(&url.bucket, &url.key, grouped.then_some("/"))
        .await?;
    let w = |e| ListError::Output(e);
    if opts.latest {
        let complete = complete_backups(&listing.objects);
        let candidates = listing
            .objects
            .iter()
            .filter(|o| complete.as_ref().is_none_or(|c| c(o)));
        let newest = if opts.by_mtime {
            candidates.max_by(|a, b| (a.last_modified, &a.key).cmp(&(b.last_modified, &b.key)))
        } else {
            candidates.max_by(|a, b| a.key.cmp(&b.key))
        };
        let newest = newest.ok_or_else(|| ListError::Empty(url.to_string()))?;
        return print_object(newest, opts, out).map_err(w);
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

/// When backups under the prefix carry manifests (scripts/backup.sh), only
/// objects of a backup whose `NAME-TS.manifest.json` exists count as
/// complete: a filter for them, or None when there are no manifests.
fn complete_backups(objects: &[ListedObject]) -> Option<impl Fn(&ListedObject) -> bool> {
    let done: std::collections::BTreeSet<(String, i64)> = objects
        .iter()
        .filter_map(|o| retention::stamp(&o.key))
        .filter(|s| s.suffix == ".manifest.json")
        .map(|s| (s.prefix, s.time))
        .collect();
    let any = !done.is_empty();
    any.then_some(move |o: &ListedObject| {
        retention::stamp(&o.key).is_some_and(|s| done.contains(&(s.prefix, s.time)))
    })
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
pub fn human(bytes: u64) -> String {
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
pub async fn uploads<W: Write>(
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

#[derive(Debug, Clone, Default)]
pub struct RmOptions {
    pub recursive: bool,
    pub dry_run: bool,
    /// Abort multipart uploads instead of deleting objects.
    pub uploads: bool,
    /// With `uploads`: only those initiated longer ago than this (seconds).
    pub older_than: Option<u64>,
}

/// What `s3rm` did: lines for stdout, and the failures.
#[derive(Debug, Default)]
pub struct RmReport {
    pub done: Vec<String>,
    pub failed: Vec<(String, String)>,
}

/// Delete objects (each URL a key, or with `recursive` a prefix), or abort
/// uploads under a prefix.
pub async fn rm(store: &Store, urls: &[S3Url], opts: &RmOptions) -> Result<RmReport, S3Error> {
    let mut report = RmReport::default();
    let verb = if opts.dry_run { "(dry run) " } else { "" };
    for url in urls {
        if opts.uploads {
            let now = Utc::now().timestamp();
            for u in store.list_uploads(&url.bucket, &url.key).await? {
                if opts
                    .older_than
                    .is_some_and(|age| now - u.initiated < age as i64)
                {
                    continue;
                }
                let name = format!("s3://{}/{} (upload {})", url.bucket, u.key, u.upload_id);
                if !opts.dry_run
                    && let Err(e) = store.abort(&url.bucket, &u.key, &u.upload_id).await
                {
                    report.failed.push((name, e.to_string()));
                    continue;
                }
                report.done.push(format!("{verb}aborted {name}"));
            }
            continue;
        }
        let keys: Vec<String> = if opts.recursive {
            store
                .list(&url.bucket, &url.key, None)
                .await?
                .objects
                .into_iter()
                .map(|o| o.key)
                .collect()
        } else {
            // Like `aws s3 rm`: deleting a key that is not there is an error.
            store.head(&url.bucket, &url.key, None, false).await?;
            vec![url.key.clone()]
        };
        let failed = if opts.dry_run {
            Vec::new()
        } else {
            store.delete(&url.bucket, &keys).await?
        };
        for key in keys {
            let name = format!("s3://{}/{key}", url.bucket);
            match failed.iter().find(|(k, _)| *k == key) {
                Some((_, why)) => report.failed.push((name, why.clone())),
                None => report.done.push(format!("{verb}deleted {name}")),
            }
        }
    }
    Ok(report)
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
                retention::stamp(&o.key).map(|s| s.time)
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
