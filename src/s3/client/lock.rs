//! S3 Object Lock and versions, the SDK side: a bucket's lock
//! configuration, the versions under a prefix, one version's retention,
//! and setting the lock after a multipart upload. What to do with them
//! (keep a locked backup, remove every version of an expired one) is
//! [`crate::s3::versions`]'s.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockRetention,
    ObjectLockRetentionMode,
};

use super::{LockMode, ObjectLock, S3Error, Store};
use crate::s3::pages::{Page, Pages};

/// A bucket's Object Lock configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LockConfig {
    /// The bucket was created with Object Lock (and so has versioning).
    pub enabled: bool,
    /// The retention every new version gets unless its upload names one.
    pub default: Option<DefaultRetention>,
}

/// A bucket's default retention: a mode and a period in days or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DefaultRetention {
    pub mode: LockMode,
    pub days: Option<i32>,
    pub years: Option<i32>,
}

/// One version (or delete marker) of a key, from ListObjectVersions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    pub key: String,
    pub version_id: String,
    /// The key's current version (or the marker that hides it).
    pub latest: bool,
    pub delete_marker: bool,
    pub size: u64,
    /// Unix seconds.
    pub last_modified: i64,
}

/// What protects one version: a retention (mode and date) and a legal
/// hold, as HEAD reports them (AWS omits them without
/// s3:GetObjectRetention / s3:GetObjectLegalHold).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Retention {
    pub mode: Option<LockMode>,
    /// Unix seconds.
    pub until: Option<i64>,
    pub legal_hold: bool,
}

impl Retention {
    /// Would the store refuse to delete this version at `now`?
    pub(crate) fn holds_at(&self, now: i64) -> bool {
        self.legal_hold || self.until.is_some_and(|t| t > now)
    }
}

fn sdk_mode(mode: LockMode) -> ObjectLockRetentionMode {
    match mode {
        LockMode::Governance => ObjectLockRetentionMode::Governance,
        LockMode::Compliance => ObjectLockRetentionMode::Compliance,
    }
}

fn our_mode(mode: &str) -> Option<LockMode> {
    match mode {
        "GOVERNANCE" => Some(LockMode::Governance),
        "COMPLIANCE" => Some(LockMode::Compliance),
        _ => None,
    }
}

impl Store {
    /// `bucket`'s Object Lock configuration. A bucket without one answers
    /// ObjectLockConfigurationNotFoundError; a store without Object Lock
    /// at all (Garage, s3s-fs) answers NotImplemented: both are "not
    /// enabled".
    pub(crate) async fn lock_config(&self, bucket: &str) -> Result<LockConfig, S3Error> {
        let asked = self
            .client
            .get_object_lock_configuration()
            .bucket(bucket)
            .send()
            .await;
        let config = match asked {
            Ok(out) => out.object_lock_configuration,
            Err(e)
                if matches!(
                    e.code(),
                    Some("ObjectLockConfigurationNotFoundError" | "NotImplemented")
                ) =>
            {
                None
            }
            Err(e) => return Err(self.classify(e, bucket, "")),
        };
        let Some(config) = config else {
            return Ok(LockConfig {
                enabled: false,
                default: None,
            });
        };
        let rule = config.rule.and_then(|r| r.default_retention);
        Ok(LockConfig {
            enabled: config.object_lock_enabled == Some(ObjectLockEnabled::Enabled),
            default: rule.and_then(|r| {
                Some(DefaultRetention {
                    mode: our_mode(r.mode?.as_str())?,
                    days: r.days,
                    years: r.years,
                })
            }),
        })
    }

    /// Every version and delete marker under `prefix` (all pages).
    pub(crate) async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<Version>, S3Error> {
        let (mut versions, mut pages) = (Vec::new(), Pages::default());
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let out = self
                .client
                .list_object_versions()
                .bucket(bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(id_marker.take())
                .send()
                .await
                .map_err(|e| self.classify(e, bucket, prefix))?;
            let (listed, markers) = (out.versions.unwrap_or_default(), out.delete_markers);
            let markers = markers.unwrap_or_default();
            let (key, id) = (out.next_key_marker, out.next_version_id_marker);
            let said = Page {
                truncated: out.is_truncated,
                next: key
                    .clone()
                    .map(|k| format!("{k}\n{}", id.clone().unwrap_or_default())),
                key_count: None,
                entries: listed.len() + markers.len(),
            };
            for v in listed {
                versions.push(Version {
                    key: v.key.unwrap_or_default(),
                    version_id: v.version_id.unwrap_or_default(),
                    latest: v.is_latest.unwrap_or(false),
                    delete_marker: false,
                    size: v.size.unwrap_or(0).max(0) as u64,
                    last_modified: v.last_modified.map_or(0, |t| t.secs()),
                });
            }
            for m in markers {
                versions.push(Version {
                    key: m.key.unwrap_or_default(),
                    version_id: m.version_id.unwrap_or_default(),
                    latest: m.is_latest.unwrap_or(false),
                    delete_marker: true,
                    size: 0,
                    last_modified: m.last_modified.map_or(0, |t| t.secs()),
                });
            }
            if pages.next(said).map_err(S3Error::Listing)?.is_none() {
                return Ok(versions);
            }
            (key_marker, id_marker) = (key, id);
        }
    }

    /// The retention and legal hold on one version (None: the current one).
    pub(crate) async fn retention(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Retention, S3Error> {
        let head = (self.client.head_object().bucket(bucket).key(key))
            .set_version_id(version.map(String::from))
            .send()
            .await
            .map_err(|e| self.classify(e, bucket, key))?;
        Ok(Retention {
            mode: head.object_lock_mode.and_then(|m| our_mode(m.as_str())),
            until: head.object_lock_retain_until_date.map(|t| t.secs()),
            legal_hold: head.object_lock_legal_hold_status == Some(ObjectLockLegalHoldStatus::On),
        })
    }

    /// After a multipart upload, the lock the store kept — applied again
    /// with PutObjectRetention and PutObjectLegalHold where it kept none:
    /// Ceph RGW 16 and moto ignore the lock headers of
    /// CreateMultipartUpload (AWS keeps them), and an unlocked backup
    /// reported as locked is what Object Lock exists to prevent.
    pub(crate) async fn ensure_lock(
        &self,
        bucket: &str,
        key: &str,
        lock: &ObjectLock,
    ) -> Result<(), S3Error> {
        let head = (self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await)
            .map_err(|e| self.classify(e, bucket, key))?;
        let version = head.version_id.clone();
        if let (Some(mode), Some(until), None) =
            (lock.mode, lock.retain_until, &head.object_lock_mode)
        {
            let retention = ObjectLockRetention::builder()
                .mode(sdk_mode(mode))
                .retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(until))
                .build();
            let req = self.client.put_object_retention().bucket(bucket).key(key);
            (req.set_version_id(version.clone())
                .retention(retention)
                .send()
                .await)
                .map_err(|e| self.classify(e, bucket, key))?;
        }
        if let (Some(on), None) = (lock.legal_hold, &head.object_lock_legal_hold_status) {
            let status = match on {
                true => ObjectLockLegalHoldStatus::On,
                false => ObjectLockLegalHoldStatus::Off,
            };
            let hold = ObjectLockLegalHold::builder().status(status).build();
            let req = self.client.put_object_legal_hold().bucket(bucket).key(key);
            (req.set_version_id(version).legal_hold(hold).send().await)
                .map_err(|e| self.classify(e, bucket, key))?;
        }
        Ok(())
    }
}
