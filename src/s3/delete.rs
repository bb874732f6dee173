//! `s3rm`: delete objects (keys, or with `recursive` every key under a
//! prefix) or abort multipart uploads (the clean-up for uploads a SIGKILL
//! or OOM left behind).

use chrono::Utc;

use super::client::Store;
use super::error::S3Error;
use super::url::S3Url;
use super::versions::Keys;

#[derive(Debug, Clone, Default)]
pub struct RmOptions {
    pub recursive: bool,
    pub dry_run: bool,
    /// Abort multipart uploads instead of deleting objects.
    pub uploads: bool,
    /// With `uploads`: only those initiated longer ago than this (seconds).
    pub older_than: Option<u64>,
    /// Delete every version and delete marker of each key, for good
    /// (`--versions`): what a versioned or Object Lock bucket needs for
    /// the data to go. A key a lock still holds is not deleted at all.
    pub versions: bool,
}

/// What `s3rm` did: lines for stdout, and the failures.
#[derive(Debug, Default)]
pub(crate) struct RmReport {
    pub done: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Said once on stderr (unless `-q`).
    pub warnings: Vec<String>,
}

/// Delete objects (each URL a key, or with `recursive` a prefix), or abort
/// uploads under a prefix.
pub(crate) async fn rm(
    store: &Store,
    urls: &[S3Url],
    opts: &RmOptions,
) -> Result<RmReport, S3Error> {
    let mut report = RmReport::default();
    for url in urls {
        match (opts.uploads, opts.versions) {
            (true, _) => abort_uploads(store, url, opts, &mut report).await?,
            (false, true) => delete_versions(store, url, opts, &mut report).await?,
            (false, false) => delete_keys(store, url, opts, &mut report).await?,
        }
    }
    Ok(report)
}

fn verb(opts: &RmOptions) -> &'static str {
    if opts.dry_run { "(dry run) " } else { "" }
}

async fn abort_uploads(
    store: &Store,
    url: &S3Url,
    opts: &RmOptions,
    report: &mut RmReport,
) -> Result<(), S3Error> {
    let now = Utc::now().timestamp();
    for u in store.list_uploads(&url.bucket, &url.key).await? {
        if opts
            .older_than
            .is_some_and(|age| now - u.initiated < age as i64)
        {
            continue;
        }
        let name = format!("s3://{}/{} (upload {})", url.bucket, u.key, u.upload_id);
        let aborted = match opts.dry_run {
            true => Ok(()),
            false => store.abort(&url.bucket, &u.key, &u.upload_id).await,
        };
        match aborted {
            Ok(()) => report.done.push(format!("{}aborted {name}", verb(opts))),
            // Listed, then gone (completed or aborted meanwhile; a Garage
            // cluster lists a completed upload for a while): what the
            // clean-up wants is already true.
            Err(S3Error::NoSuchUpload(_)) => {
                report.done.push(format!("aborted {name} (already gone)"))
            }
            Err(e) => report.failed.push((name, e.to_string())),
        }
    }
    Ok(())
}

/// Delete keys as `aws s3 rm` does: on a versioned bucket each gets a
/// delete marker and its data stays, which on a bucket with Object Lock
/// is said once (`--versions` removes it).
async fn delete_keys(
    store: &Store,
    url: &S3Url,
    opts: &RmOptions,
    report: &mut RmReport,
) -> Result<(), S3Error> {
    let keys: Vec<String> = if opts.recursive {
        (store.list(&url.bucket, &url.key, None).await?.objects)
            .into_iter()
            .map(|o| o.key)
            .collect()
    } else {
        // Like `aws s3 rm`: deleting a key that is not there is an error.
        store.head(&url.bucket, &url.key, None, false).await?;
        vec![url.key.clone()]
    };
    // Only a warning: a key not allowed to ask still deletes.
    let warning = format!(
        "bucket {} has Object Lock: a delete only adds a delete marker, the data stays stored (and billed) as an older version; --versions deletes every version of a key no lock holds",
        url.bucket
    );
    if !report.warnings.contains(&warning)
        && store
            .lock_config(&url.bucket)
            .await
            .is_ok_and(|c| c.enabled)
    {
        report.warnings.push(warning);
    }
    let failed = if opts.dry_run {
        Vec::new()
    } else {
        store.delete(&url.bucket, &keys).await?
    };
    for key in keys {
        let name = format!("s3://{}/{key}", url.bucket);
        match failed.iter().find(|(k, _)| *k == key) {
            Some((_, why)) => report.failed.push((name, why.clone())),
            None => report.done.push(format!("{}deleted {name}", verb(opts))),
        }
    }
    Ok(())
}

/// `--versions`: every version and delete marker of each key, for good;
/// a key one of whose versions a lock holds is left whole, and says why.
async fn delete_versions(
    store: &Store,
    url: &S3Url,
    opts: &RmOptions,
    report: &mut RmReport,
) -> Result<(), S3Error> {
    let listed = Keys::list(store, &url.bucket, &url.key).await?;
    let names: Vec<String> = match opts.recursive {
        true => listed.names().map(String::from).collect(),
        false => listed
            .names()
            .filter(|k| *k == url.key)
            .map(String::from)
            .collect(),
    };
    if names.is_empty() && !opts.recursive {
        return Err(S3Error::NoSuchKey(url.to_string()));
    }
    let now = Utc::now().timestamp();
    for key in names {
        let name = format!("s3://{}/{key}", url.bucket);
        let one = [key];
        if let Some(hold) = listed.hold(store, &url.bucket, &one, now).await? {
            report.failed.push((name, format!("not deleted: {hold}")));
            continue;
        }
        let versions = listed.every_version(&one);
        let failed = match opts.dry_run {
            true => Vec::new(),
            false => store.delete_versions(&url.bucket, &versions).await?,
        };
        match failed.first() {
            Some((_, why)) => report.failed.push((name, why.clone())),
            None => report.done.push(format!(
                "{}deleted {name} (every version: {})",
                verb(opts),
                versions.len()
            )),
        }
    }
    Ok(())
}
