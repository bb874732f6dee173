//! Which backups to keep: a pure function, no I/O, table-tested.
//!
//! Semantics are restic `forget`'s: for each policy, walk a series'
//! backups newest first and keep the newest backup of each of the N most
//! recent days (weeks, months, years) that have one; `--keep-last N` keeps
//! the N newest, `--keep-within D` everything younger than D. The union of
//! all policies is kept. All calendar arithmetic is in UTC.
//!
//! A backup's time comes from its key (`YYYY-MM-DD-HH-MM-SS`,
//! `YYYY-MM-DDTHH:MM:SSZ` or `YYYYMMDDTHHMMSSZ` in the file name) or, with
//! `--by-mtime`, from LastModified. A key without a time is never removed.
//!
//! Series: keys are grouped by their name with the timestamp taken out, so
//! `host-a-<ts>.tar.gz`, `host-b-<ts>.tar.gz` and `host-a-<ts>.db.archive.gz`
//! are pruned independently. The objects of one backup made by
//! scripts/backup.sh share a timestamp and a `…<ts>.manifest.json`: all keys
//! with that name and timestamp follow the manifest's verdict, so a backup
//! is kept or removed whole.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Utc};

use crate::backups::{self, Stamp, stamp};

/// How many of each to keep. All zero (and no `within`) keeps nothing, so
/// callers refuse to run with an empty policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub last: usize,
    pub daily: usize,
    pub weekly: usize,
    pub monthly: usize,
    pub yearly: usize,
    /// Keep everything younger than this many seconds.
    pub within: Option<i64>,
}

impl Policy {
    pub fn is_empty(&self) -> bool {
        self.last + self.daily + self.weekly + self.monthly + self.yearly == 0
            && self.within.is_none()
    }
}

/// What to do with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Kept, and by which rules ("last", "daily", "weekly", …).
    Keep(Vec<&'static str>),
    Remove,
    /// No time could be read from the key: never removed.
    NoTimestamp,
}

/// One key to judge: its name and, if known, its time. `time` is usually
/// `stamp(key)`'s; with `--by-mtime` the caller passes LastModified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub time: Option<i64>,
}

/// Judge every item (verdicts in the same order).
pub fn decide(items: &[Item], policy: &Policy, now: i64) -> Vec<Verdict> {
    // Which (prefix, time) pairs have a manifest: their keys form one set.
    let stamps: Vec<Option<Stamp>> = items.iter().map(|i| stamp(&i.key)).collect();
    let manifests = backups::manifested(
        items
            .iter()
            .zip(&stamps)
            .filter_map(|(item, s)| Some((s.as_ref()?, item.time))),
    );
    // series → the distinct times of its backups.
    let mut series_of: Vec<Option<String>> = Vec::with_capacity(items.len());
    let mut times: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for (item, s) in items.iter().zip(&stamps) {
        let Some(time) = item.time else {
            series_of.push(None);
            continue;
        };
        let series = match s {
            Some(s) => backups::series(s, time, &manifests),
            // --by-mtime on a key without a timestamp: its own series.
            None => item.key.clone(),
        };
        times.entry(series.clone()).or_default().insert(time);
        series_of.push(Some(series));
    }
    let kept: BTreeMap<&String, BTreeMap<i64, Vec<&'static str>>> = times
        .iter()
        .map(|(series, t)| (series, keep_times(t, policy, now)))
        .collect();
    items
        .iter()
        .zip(&series_of)
        .map(|(item, series)| match (item.time, series) {
            (Some(time), Some(series)) => match kept[series].get(&time) {
                Some(rules) => Verdict::Keep(rules.clone()),
                None => Verdict::Remove,
            },
            _ => Verdict::NoTimestamp,
        })
        .collect()
}

/// The calendar period a time falls in, for one of the bucketed rules.
type Period = fn(DateTime<Utc>) -> (i32, u32);

/// The times of one series to keep, each with the rules that kept it.
fn keep_times(
    times: &BTreeSet<i64>,
    policy: &Policy,
    now: i64,
) -> BTreeMap<i64, Vec<&'static str>> {
    let newest_first: Vec<i64> = times.iter().rev().copied().collect();
    let mut kept: BTreeMap<i64, Vec<&'static str>> = BTreeMap::new();
    for &t in newest_first.iter().take(policy.last) {
        kept.entry(t).or_default().push("last");
    }
    if let Some(within) = policy.within {
        for &t in newest_first.iter().filter(|&&t| t >= now - within) {
            kept.entry(t).or_default().push("within");
        }
    }
    let buckets: [(&'static str, usize, Period); 4] = [
        ("daily", policy.daily, |d| (d.year(), d.ordinal())),
        ("weekly", policy.weekly, |d| {
            (d.iso_week().year(), d.iso_week().week())
        }),
        ("monthly", policy.monthly, |d| (d.year(), d.month())),
        ("yearly", policy.yearly, |d| (d.year(), 0)),
    ];
    for (rule, n, bucket) in buckets {
        let mut last_bucket = None;
        let mut count = 0;
        for &t in &newest_first {
            if count == n {
                break;
            }
            let Some(d) = DateTime::from_timestamp(t, 0) else {
                continue;
            };
            let b = bucket(d);
            if last_bucket != Some(b) {
                last_bucket = Some(b);
                count += 1;
                kept.entry(t).or_default().push(rule);
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 15, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    }

    fn key(t: i64) -> String {
        let d = DateTime::from_timestamp(t, 0).unwrap();
        format!("backups/host-{}.tar.gz", d.format("%Y-%m-%d-%H-%M-%S"))
    }

    fn items(times: &[i64]) -> Vec<Item> {
        times
            .iter()
            .map(|&t| Item {
                key: key(t),
                time: Some(t),
            })
            .collect()
    }

    /// Keys kept by `policy` among backups at `times`, newest first.
    fn kept(times: &[i64], policy: &Policy, now: i64) -> Vec<String> {
        let items = items(times);
        let mut out: Vec<String> = items
            .iter()
            .zip(decide(&items, policy, now))
            .filter(|(_, v)| matches!(v, Verdict::Keep(_)))
            .map(|(i, _)| i.key.clone())
            .collect();
        out.sort();
        out.reverse();
        out
    }

    #[test]
    fn a_year_of_dailies() {
        let times: Vec<i64> = (0..365).map(|d| at(2026, 1, 1, 3) + d * 86_400).collect();
        let now = *times.last().unwrap() + 3600;
        let policy = Policy {
            daily: 7,
            weekly: 4,
            monthly: 12,
            yearly: 3,
            ..Default::default()
        };
        let kept = kept(&times, &policy, now);
        // 7 days (Dec 25-31); the newest of 4 ISO weeks: Dec 31 and Dec 27
        // are among those days, Dec 20 and Dec 13 are new; 12 month ends,
        // Dec 31 already counted; the one year's newest, Dec 31 again.
        assert_eq!(kept.len(), 7 + 2 + 11, "{kept:#?}");
        assert!(kept.contains(&key(at(2026, 12, 13, 3))));
        assert_eq!(kept[0], key(at(2026, 12, 31, 3)));
        assert!(
            kept.contains(&key(at(2026, 1, 31, 3))),
            "January's last backup"
        );
        assert!(!kept.contains(&key(at(2026, 1, 30, 3))));
    }

    #[test]
    fn gaps_count_only_days_that_have_a_backup() {
        let times = [
            at(2026, 3, 1, 3),
            at(2026, 3, 5, 3),
            at(2026, 3, 20, 3),
            at(2026, 4, 2, 3),
        ];
        let policy = Policy {
            daily: 3,
            ..Default::default()
        };
        assert_eq!(
            kept(&times, &policy, at(2026, 5, 1, 0)),
            vec![key(times[3]), key(times[2]), key(times[1])],
            "the 3 most recent days WITH a backup, however old"
        );
    }

    #[test]
    fn two_backups_a_day_keep_the_newest_of_each_day() {
        let times = [
            at(2026, 6, 1, 3),
            at(2026, 6, 1, 15),
            at(2026, 6, 2, 3),
            at(2026, 6, 2, 15),
        ];
        let policy = Policy {
            daily: 2,
            ..Default::default()
        };
        assert_eq!(
            kept(&times, &policy, at(2026, 6, 3, 0)),
            vec![key(times[3]), key(times[1])]
        );
        let last = Policy {
            last: 3,
            ..Default::default()
        };
        assert_eq!(
            kept(&times, &last, 0),
            vec![key(times[3]), key(times[2]), key(times[1])]
        );
    }

    #[test]
    fn month_and_year_boundaries() {
        let times = [
            at(2025, 12, 31, 23),
            at(2026, 1, 1, 0),
            at(2026, 1, 31, 23),
            at(2026, 2, 1, 0),
        ];
        let monthly = Policy {
            monthly: 3,
            ..Default::default()
        };
        assert_eq!(
            kept(&times, &monthly, 0),
            vec![key(times[3]), key(times[2]), key(times[0])]
        );
        let yearly = Policy {
            yearly: 2,
            ..Default::default()
        };
        assert_eq!(kept(&times, &yearly, 0), vec![key(times[3]), key(times[0])]);
        // ISO weeks: 2025-12-31 (Wed) and 2026-01-01 (Thu) share week 1 of
        // 2026; 2026-01-31 (Sat) and 2026-02-01 (Sun) share week 5.
        let weekly = Policy {
            weekly: 10,
            ..Default::default()
        };
        assert_eq!(kept(&times, &weekly, 0), vec![key(times[3]), key(times[1])]);
    }

    #[test]
    fn within_and_union_with_reasons() {
        let now = at(2026, 11, 24, 12);
        let times: Vec<i64> = (0..30).map(|d| now - d * 86_400).collect();
        let policy = Policy {
            last: 2,
            within: Some(14 * 86_400),
            ..Default::default()
        };
        let items = items(&times);
        let verdicts = decide(&items, &policy, now);
        assert_eq!(
            verdicts
                .iter()
                .filter(|v| matches!(v, Verdict::Keep(_)))
                .count(),
            15
        );
        assert_eq!(verdicts[0], Verdict::Keep(vec!["last", "within"]));
        assert_eq!(verdicts[5], Verdict::Keep(vec!["within"]));
        assert_eq!(verdicts[20], Verdict::Remove);
    }

    #[test]
    fn series_are_pruned_independently_and_untimed_keys_are_kept() {
        let t = [at(2026, 1, 1, 3), at(2026, 1, 2, 3)];
        let mut items = Vec::new();
        for name in ["host-a-", "host-b-"] {
            for &time in &t {
                let d = DateTime::from_timestamp(time, 0)
                    .unwrap()
                    .format("%Y-%m-%d-%H-%M-%S");
                items.push(Item {
                    key: format!("b/{name}{d}.tar.gz"),
                    time: Some(time),
                });
            }
        }
        let d = DateTime::from_timestamp(t[0], 0)
            .unwrap()
            .format("%Y-%m-%d-%H-%M-%S");
        items.push(Item {
            key: format!("b/host-a-{d}.db.archive.gz"),
            time: Some(t[0]),
        });
        items.push(Item {
            key: "b/README".into(),
            time: None,
        });
        let v = decide(
            &items,
            &Policy {
                last: 1,
                ..Default::default()
            },
            0,
        );
        assert_eq!(v[0], Verdict::Remove);
        assert!(matches!(v[1], Verdict::Keep(_)));
        assert_eq!(v[2], Verdict::Remove);
        assert!(matches!(v[3], Verdict::Keep(_)));
        assert!(
            matches!(v[4], Verdict::Keep(_)),
            "its own series: its newest"
        );
        assert_eq!(v[5], Verdict::NoTimestamp);
    }

    #[test]
    fn objects_of_one_backup_share_its_manifests_verdict() {
        let (old, new) = (at(2026, 1, 1, 3), at(2026, 1, 2, 3));
        let mut items = Vec::new();
        for t in [old, new] {
            let d = DateTime::from_timestamp(t, 0)
                .unwrap()
                .format("%Y-%m-%d-%H-%M-%S");
            for suffix in [".db.dump", ".files.tar.gz", ".manifest.json"] {
                items.push(Item {
                    key: format!("b/web-{d}{suffix}"),
                    time: Some(t),
                });
            }
        }
        // An incomplete newer run: a dump without a manifest.
        let d = DateTime::from_timestamp(new + 86_400, 0)
            .unwrap()
            .format("%Y-%m-%d-%H-%M-%S");
        items.push(Item {
            key: format!("b/web-{d}.db.dump"),
            time: Some(new + 86_400),
        });
        let v = decide(
            &items,
            &Policy {
                last: 1,
                ..Default::default()
            },
            0,
        );
        assert_eq!(
            &v[..3],
            &[Verdict::Remove, Verdict::Remove, Verdict::Remove],
            "the old set goes whole"
        );
        assert!(
            v[3..6].iter().all(|x| matches!(x, Verdict::Keep(_))),
            "the newest complete set stays whole"
        );
        assert!(
            matches!(v[6], Verdict::Keep(_)),
            "a lone object is its own series"
        );
    }

    #[test]
    fn empty_policy_is_detected() {
        assert!(Policy::default().is_empty());
        assert!(
            !Policy {
                within: Some(1),
                ..Default::default()
            }
            .is_empty()
        );
    }
}
