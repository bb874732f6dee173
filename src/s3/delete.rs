//! `s3rm`: delete objects (keys, or with `recursive` every key under a
//! prefix) or abort multipart uploads (the clean-up for uploads a SIGKILL
//! or OOM left behind).

use chrono::Utc;

use super::client::Store;
use super::error::S3Error;
use super::url::S3Url;

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
                let aborted = match opts.dry_run {
                    true => Ok(()),
                    false => store.abort(&url.bucket, &u.key, &u.upload_id).await,
                };
                match aborted {
                    Ok(()) => report.done.push(format!("{verb}aborted {name}")),
                    // Listed, then gone (completed or aborted meanwhile; a
                    // Garage cluster lists a completed upload for a while):
                    // what the clean-up wants is already true.
                    Err(S3Error::NoSuchUpload(_)) => {
                        report.done.push(format!("aborted {name} (already gone)"))
                    }
                    Err(e) => report.failed.push((name, e.to_string())),
                }
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
