//! The backup-set rule, in one place: what a backup is, when it was made,
//! which series it belongs to, and whether it is complete. s3prune (through
//! [`crate::retention`]), `s3ls --latest`/`--backups` and, through
//! `s3ls --backups`, the job's scripts all decide by it — it decides what
//! is deleted and what is restored.
//!
//! - A backup's time is the first timestamp in its key's file name
//!   (`YYYY-MM-DD-HH-MM-SS`, `YYYY-MM-DDTHH:MM:SSZ` or `YYYYMMDDTHHMMSSZ`);
//!   the text before it is its prefix, after it its suffix.
//! - The objects scripts/backup.sh stores for one run share prefix and
//!   time; the run is **complete** when `PREFIX-TS.manifest.json` exists
//!   (written last, deleted first).
//! - A series is the name with the timestamp taken out: objects of complete
//!   backups form one series per prefix (`PREFIX*.manifest.json`), any other
//!   timestamped key one per prefix and suffix.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;

/// The suffix of the object that makes a backup complete.
pub const MANIFEST_SUFFIX: &str = ".manifest.json";

/// A key split around its timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// Everything before the timestamp (directory included).
    pub prefix: String,
    /// Everything after it.
    pub suffix: String,
    /// Unix seconds, UTC.
    pub time: i64,
}

const FORMATS: [(&str, usize); 3] = [
    ("%Y-%m-%d-%H-%M-%S", 19),
    ("%Y-%m-%dT%H:%M:%SZ", 20),
    ("%Y%m%dT%H%M%SZ", 16),
];

/// Find the first timestamp in the key's file name.
pub fn stamp(key: &str) -> Option<Stamp> {
    let name_start = key.rfind('/').map_or(0, |i| i + 1);
    let bytes = key.as_bytes();
    for i in name_start..key.len() {
        if !bytes[i].is_ascii_digit() || (i > name_start && bytes[i - 1].is_ascii_digit()) {
            continue;
        }
        for (format, len) in FORMATS {
            let Some(text) = key.get(i..i + len) else {
                continue;
            };
            if key.as_bytes().get(i + len).is_some_and(u8::is_ascii_digit) {
                continue;
            }
            if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
                return Some(Stamp {
                    prefix: key[..i].to_string(),
                    suffix: key[i + len..].to_string(),
                    time: t.and_utc().timestamp(),
                });
            }
        }
    }
    None
}

/// The (prefix, time) of every backup with a manifest among `stamps`
/// (each with the time to use for it, if not the stamp's own).
pub fn manifested<'a>(
    stamps: impl IntoIterator<Item = (&'a Stamp, Option<i64>)>,
) -> BTreeSet<(String, i64)> {
    stamps
        .into_iter()
        .filter(|(s, _)| s.suffix == MANIFEST_SUFFIX)
        .map(|(s, time)| (s.prefix.clone(), time.unwrap_or(s.time)))
        .collect()
}

/// The series a stamped key belongs to: every key of a name that has
/// complete backups (`NAME*`: their objects, archives an older tool made
/// under the same name, failed runs' leftovers), else the name and suffix
/// (`NAME*SUFFIX`), so unrelated streams under one name (a dump and an
/// archive uploaded by separate jobs) are pruned independently.
pub fn series(s: &Stamp, manifested: &BTreeSet<(String, i64)>) -> String {
    let has_complete = manifested
        .range((s.prefix.clone(), i64::MIN)..)
        .next()
        .is_some_and(|(prefix, _)| *prefix == s.prefix);
    if has_complete {
        format!("{}*", s.prefix)
    } else {
        format!("{}*{}", s.prefix, s.suffix)
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// One complete backup: `base` is its key without the suffix
/// (`backups/host-2026-11-24-03-15-00`), with every object that shares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The key without its suffix.
    pub base: String,
    /// The timestamp as written in the key.
    pub stamp: String,
    /// Unix seconds, UTC.
    pub time: i64,
    /// Every object of the backup, the manifest included.
    pub objects: Vec<Object>,
}

/// The complete backups among `objects`, oldest first.
pub fn complete(objects: &[Object]) -> Vec<Backup> {
    let stamps: Vec<Option<Stamp>> = objects.iter().map(|o| stamp(&o.key)).collect();
    let done = manifested(stamps.iter().flatten().map(|s| (s, None)));
    let mut sets: BTreeMap<(i64, String), Backup> = BTreeMap::new();
    for (object, s) in objects.iter().zip(&stamps) {
        let Some(s) = s else { continue };
        if !done.contains(&(s.prefix.clone(), s.time)) {
            continue;
        }
        let stamp_len = object.key.len() - s.prefix.len() - s.suffix.len();
        let base = object.key[..s.prefix.len() + stamp_len].to_string();
        sets.entry((s.time, base.clone()))
            .or_insert_with(|| Backup {
                stamp: base[s.prefix.len()..].to_string(),
                base,
                time: s.time,
                objects: Vec::new(),
            })
            .objects
            .push(object.clone());
    }
    sets.into_values().collect()
}

/// The newest complete backup, if any.
pub fn latest(objects: &[Object]) -> Option<Backup> {
    complete(objects).pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_all_three_formats() {
        let want = 1_795_490_102; // 2026-11-24 03:15:02 UTC
        for name in [
            "backups/host-2026-11-24-03-15-02.tar.gz",
            "backups/host-2026-11-24T03:15:02Z.tar.gz",
            "backups/host-20261124T031502Z.tar.gz",
        ] {
            let s = stamp(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(s.time, want, "{name}");
            assert_eq!(s.prefix, "backups/host-");
            assert_eq!(s.suffix, ".tar.gz");
        }
        assert_eq!(
            stamp("backups/2026-11-24-03-15-02/notes.txt"),
            None,
            "only the file name counts"
        );
        assert_eq!(stamp("backups/host-latest.tar.gz"), None);
        assert_eq!(
            stamp("backups/x12026-11-24-03-15-02.tar.gz"),
            None,
            "no digits glued on"
        );
        assert_eq!(
            stamp("backups/h-2026-13-40-03-15-02.tar.gz"),
            None,
            "not a real date"
        );
    }

    fn objects(keys: &[&str]) -> Vec<Object> {
        keys.iter()
            .map(|k| Object {
                key: k.to_string(),
                size: k.len() as u64,
            })
            .collect()
    }

    #[test]
    fn complete_backups_are_those_with_a_manifest() {
        let listing = objects(&[
            "b/host-2026-11-23-03-15-00.db.archive.gz",
            "b/host-2026-11-23-03-15-00.files.tar.gz",
            "b/host-2026-11-23-03-15-00.manifest.json",
            // cut short: no manifest
            "b/host-2026-11-24-03-15-00.files.tar.gz",
            "b/other-2026-11-22-03-15-00.tar.gz",
            "b/other-2026-11-22-03-15-00.manifest.json",
            "b/README",
        ]);
        let sets = complete(&listing);
        let bases: Vec<_> = sets.iter().map(|b| b.base.as_str()).collect();
        assert_eq!(
            bases,
            ["b/other-2026-11-22-03-15-00", "b/host-2026-11-23-03-15-00"]
        );
        assert_eq!(sets[1].objects.len(), 3);
        assert_eq!(sets[1].stamp, "2026-11-23-03-15-00");
        assert_eq!(latest(&listing).unwrap().base, "b/host-2026-11-23-03-15-00");
        assert_eq!(latest(&objects(&["b/x-2026-11-23-03-15-00.tar.gz"])), None);
    }

    #[test]
    fn series_follow_the_manifest() {
        let m = stamp("b/h-2026-11-23-03-15-00.manifest.json").unwrap();
        let f = stamp("b/h-2026-11-23-03-15-00.files.tar.gz").unwrap();
        let old = stamp("b/h-2026-11-20-03-15-00.tar.gz").unwrap();
        let done = manifested([(&m, None), (&f, None), (&old, None)]);
        assert_eq!(series(&f, &done), "b/h-*");
        assert_eq!(
            series(&old, &done),
            "b/h-*",
            "an older tool's archive of the same name"
        );
        let other = stamp("b/db-2026-11-20-03-15-00.dump").unwrap();
        assert_eq!(series(&other, &done), "b/db-*.dump");
    }
}
