//! Incremental backups restore only on top of the backups before them, so
//! retention never breaks a chain: a backup kept keeps every backup it
//! depends on (its *base*, the base's base, … down to the full one), and
//! the incrementals of a full that is removed go with it — no rule keeps
//! them, since keeping one would have kept the full. Pure, table-tested;
//! `s3prune` reads the bases from the kept backups' manifests.

use std::collections::{BTreeMap, BTreeSet};

use crate::backups::{self, MANIFEST_SUFFIX};
use crate::retention::{Item, Verdict};

/// A backup: its name (the key up to its timestamp) and its time.
pub type BackupId = (String, i64);

/// The kept backups that may be incremental (they have a `.snar`, as
/// `BACKUP_INCREMENTAL` stores one) and whose base is not known yet: their
/// manifests' keys, to read (each once: `read` holds those read). Other
/// backups' manifests are never read.
pub fn manifests_to_read(
    items: &[Item],
    verdicts: &[Verdict],
    read: &BTreeSet<BackupId>,
) -> Vec<(BackupId, String)> {
    let incremental: BTreeSet<BackupId> = (items.iter())
        .filter(|i| i.key.ends_with(SNAPSHOT_SUFFIX))
        .filter_map(|i| id_of(&i.key))
        .collect();
    let mut out = Vec::new();
    for (item, verdict) in items.iter().zip(verdicts) {
        if !verdict.is_kept() || !item.key.ends_with(MANIFEST_SUFFIX) {
            continue;
        }
        if let Some(id) = id_of(&item.key)
            && incremental.contains(&id)
            && !read.contains(&id)
        {
            out.push((id, item.key.clone()));
        }
    }
    out
}

/// The suffix of an incremental backup's snapshot (GNU tar's `.snar`).
pub const SNAPSHOT_SUFFIX: &str = ".snar";

/// Keep the base of every kept backup whose base is in `bases`, and so on
/// down its chain: each key of a base the policy removes is kept as
/// `BaseOf(the backup that needs it)`.
pub fn keep_bases(items: &[Item], verdicts: &mut [Verdict], bases: &BTreeMap<BackupId, i64>) {
    let stamps: Vec<Option<backups::Stamp>> =
        items.iter().map(|i| backups::stamp(&i.key)).collect();
    let ids: Vec<Option<BackupId>> = items.iter().map(|i| id_of(&i.key)).collect();
    let mut changed = true;
    while changed {
        changed = false;
        // base → the backup that needs it (its key without the suffix).
        let needed: BTreeMap<BackupId, String> = (items.iter().zip(&stamps).zip(verdicts.iter()))
            .filter(|(_, v)| v.is_kept())
            .filter_map(|((item, stamp), _)| {
                let stamp = stamp.as_ref()?;
                let base = *bases.get(&(stamp.prefix.clone(), stamp.time))?;
                let name = &item.key[..item.key.len() - stamp.suffix.len()];
                Some(((stamp.prefix.clone(), base), name.to_string()))
            })
            .collect();
        for (id, verdict) in ids.iter().zip(verdicts.iter_mut()) {
            if let (Some(id), Verdict::Remove) = (id, &*verdict)
                && let Some(of) = needed.get(id)
            {
                *verdict = Verdict::BaseOf(of.clone());
                changed = true;
            }
        }
    }
}

/// Where a backup sits in its chain, as its manifest says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    /// 0 for a full backup, N for the Nth incremental on it; None for a
    /// backup made without `BACKUP_INCREMENTAL`.
    pub level: Option<u64>,
    /// The timestamp of the backup it was made on, as written.
    pub base: Option<String>,
}

/// A manifest's [`Link`]. A manifest that cannot be read is an error: a
/// chain through it could not be kept.
pub fn link_of(manifest: &[u8]) -> Result<Link, String> {
    let json: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| format!("not JSON ({e})"))?;
    let base = match json.get("base") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(ts)) if backups::stamp(ts).is_some() => Some(ts.clone()),
        Some(other) => return Err(format!("base {other} is not a timestamp")),
    };
    let level = json.get("level").and_then(serde_json::Value::as_u64);
    Ok(Link { level, base })
}

fn id_of(key: &str) -> Option<BackupId> {
    backups::stamp(key).map(|s| (s.prefix, s.time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::{Policy, decide};

    /// A month of nightly backups, a full every Sunday (Dec 6, 13, 20, 27),
    /// each other night an incremental on the night before.
    fn december() -> (Vec<Item>, BTreeMap<BackupId, i64>) {
        let mut items = Vec::new();
        let mut bases = BTreeMap::new();
        let day = |d: u32| format!("backups/host-2026-12-{d:02}-03-00-00");
        for d in 1..=31u32 {
            for suffix in [".files.tar.gz", ".manifest.json", ".snar"] {
                let key = format!("{}{suffix}", day(d));
                let time = backups::stamp(&key).unwrap().time;
                items.push(Item {
                    key,
                    time: Some(time),
                });
            }
            let full = d >= 6 && (d - 6) % 7 == 0;
            if d > 1 && !full {
                let at = |d: u32| backups::stamp(&format!("{}.manifest.json", day(d))).unwrap();
                bases.insert((at(d).prefix, at(d).time), at(d - 1).time);
            }
        }
        (items, bases)
    }

    /// The days kept, and by what, after the chains are followed.
    fn kept_days(policy: Policy) -> Vec<(u32, String)> {
        let (items, bases) = december();
        let mut verdicts = decide(&items, &policy, None);
        keep_bases(&items, &mut verdicts, &bases);
        (items.iter().zip(&verdicts))
            .filter(|(i, _)| i.key.ends_with(MANIFEST_SUFFIX))
            .filter_map(|(i, v)| {
                let d: u32 = i.key[21..23].parse().unwrap();
                match v {
                    Verdict::Keep(rules) => Some((d, rules.join(","))),
                    Verdict::BaseOf(of) => Some((d, format!("base of {}", &of[of.len() - 14..]))),
                    _ => None,
                }
            })
            .collect()
    }

    #[test]
    fn keeping_a_backup_keeps_its_chain_down_to_the_full() {
        let kept = kept_days(Policy {
            daily: 2,
            ..Policy::default()
        });
        let days: Vec<u32> = kept.iter().map(|(d, _)| *d).collect();
        assert_eq!(days, [27, 28, 29, 30, 31], "{kept:?}");
        assert_eq!(kept[0].1, "base of 12-28-03-00-00");
        assert_eq!(kept[3].1, "daily");
    }

    #[test]
    fn a_weekly_keep_keeps_the_weeks_chain_and_fulls_no_one_needs_go() {
        // The newest of each ISO week: Sun 6, 13, 20, 27 (fulls) and Thu 31.
        let kept = kept_days(Policy {
            weekly: 5,
            ..Policy::default()
        });
        let days: Vec<u32> = kept.iter().map(|(d, _)| *d).collect();
        assert_eq!(days, [6, 13, 20, 27, 28, 29, 30, 31], "{kept:?}");
        // Nights 1–5 depend on nothing kept: removed (no full before them
        // is needed, and none of them is).
        let kept = kept_days(Policy {
            last: 1,
            ..Policy::default()
        });
        assert_eq!(
            kept.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
            [27, 28, 29, 30, 31]
        );
    }

    #[test]
    fn a_manifest_names_its_base_or_none() {
        assert_eq!(
            link_of(br#"{"level":0}"#),
            Ok(Link {
                level: Some(0),
                base: None
            })
        );
        let base = link_of(br#"{"level":2,"base":"2026-12-28-03-00-00"}"#)
            .unwrap()
            .base;
        let base = base.and_then(|ts| backups::stamp(&ts)).map(|s| s.time);
        assert_eq!(base, Some(1798426800));
        assert!(
            link_of(br#"{"base":"yesterday"}"#)
                .unwrap_err()
                .contains("not a timestamp")
        );
        let link = link_of(br#"{"level":2,"base":"2026-12-28-03-00-00"}"#).unwrap();
        assert_eq!(
            (link.level, link.base.as_deref()),
            (Some(2), Some("2026-12-28-03-00-00"))
        );
        assert!(link_of(b"{cut").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn only_kept_manifests_are_read_and_each_once() {
        let (mut items, _) = december();
        // A backup without a snapshot is not incremental: not read.
        items.retain(|i| !i.key.contains("12-30-03-00-00.snar"));
        let verdicts = decide(
            &items,
            &Policy {
                last: 2,
                ..Policy::default()
            },
            None,
        );
        let mut read = BTreeSet::new();
        let first = manifests_to_read(&items, &verdicts, &read);
        let keys: Vec<&str> = first.iter().map(|(_, k)| &k[13..23]).collect();
        assert_eq!(keys, ["2026-12-31"]);
        read.extend(first.into_iter().map(|(id, _)| id));
        assert!(manifests_to_read(&items, &verdicts, &read).is_empty());
    }
}
