//! Which backups to keep: a pure function, no I/O, table-tested.
//!
//! Semantics are restic `forget`'s: for each policy, walk a series'
//! backups newest first and keep the newest backup of each of the N most
//! recent days (weeks, months, years) that have one; `--keep-last N` keeps
//! the N newest, `--keep-within D` everything within D of the **newest**
//! backup (restic counts from the latest snapshot, not from now, so a
//! series whose backups stopped keeps its history). The union of all
//! policies is kept, and the newest complete backup of a series is kept
//! whatever the policy. `--keep-monthly-first N` (not restic's) keeps the
//! *first* backup of each of the N newest months that have one: "the one
//! made on the 1st", or the next one when the 1st failed. All calendar
//! arithmetic is in UTC.
//!
//! A backup's time comes from its key (`YYYY-MM-DD-HH-MM-SS`,
//! `YYYY-MM-DDTHH:MM:SSZ` or `YYYYMMDDTHHMMSSZ` in the file name) or, with
//! `--by-mtime`, from LastModified. A key without a time is never removed.
//!
//! Series ([`crate::backups::series`]): keys are grouped by their name with
//! the timestamp taken out; a name that has complete backups (a
//! `…<ts>.manifest.json`) gathers every key of that name, whatever its
//! suffix, so archives made before s3pipe (`host-<ts>.tar.gz`, no manifest)
//! and s3pipe's backups of the same host are one series; `--series REGEX`
//! puts every key it matches into one series. In a series with complete
//! backups, a time without a manifest is an older tool's backup when it is
//! older than the oldest complete one (a full member), a run still in
//! progress when newer than the newest (kept, not counted), and a failed
//! run's leftover in between (removed, not counted). All keys of one time
//! share its verdict, so a backup is kept or removed whole.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Utc};
use regex::Regex;

use crate::backups::{self, Stamp, stamp};

/// How many of each to keep. All zero (and no `within`) keeps nothing, so
/// callers refuse to run with an empty policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// `--keep-last N`: the N newest.
    pub last: usize,
    /// The newest of each of the N most recent days that have one.
    pub daily: usize,
    /// … of each ISO week.
    pub weekly: usize,
    /// … of each month.
    pub monthly: usize,
    /// The first (not the newest) backup of each of the N newest months.
    pub monthly_first: usize,
    /// … of each year.
    pub yearly: usize,
    /// Keep everything within this many seconds of the newest backup.
    pub within: Option<i64>,
}

impl Policy {
    /// Keeps nothing: callers refuse to run with it.
    pub fn is_empty(&self) -> bool {
        self.last + self.daily + self.weekly + self.monthly + self.monthly_first + self.yearly == 0
            && self.within.is_none()
    }
}

/// What to do with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Kept, and by which rules ("last", "daily", …, "newest", "in progress").
    Keep(Vec<&'static str>),
    /// No rule keeps it, but a kept incremental backup (named) is made on
    /// top of it: removing it would break that chain ([`crate::chains`]).
    BaseOf(String),
    /// No rule keeps it.
    Remove,
    /// No time could be read from the key: never removed.
    NoTimestamp,
}

/// One key to judge: its name and, if known, its time. `time` is usually
/// `stamp(key)`'s; with `--by-mtime` the caller passes LastModified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The object's key.
    pub key: String,
    /// Its time, seconds since the epoch, if known.
    pub time: Option<i64>,
}

impl Verdict {
    /// Kept, by a rule or as the base of a kept backup.
    pub fn is_kept(&self) -> bool {
        matches!(self, Verdict::Keep(_) | Verdict::BaseOf(_))
    }
}

/// Why a time of a series is (not) a backup the policy counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Complete, or made by another tool before the first complete one.
    Backup,
    /// No manifest and newer than the newest complete backup.
    InProgress,
    /// No manifest, between complete backups: a failed run's leftover.
    Leftover,
}

/// Judge every item (verdicts in the same order). `series` puts every key
/// it matches into one series.
pub fn decide(items: &[Item], policy: &Policy, series: Option<&Regex>) -> Vec<Verdict> {
    let stamps: Vec<Option<Stamp>> = items.iter().map(|i| stamp(&i.key)).collect();
    let manifests = backups::manifested(
        items
            .iter()
            .zip(&stamps)
            .filter_map(|(item, s)| Some((s.as_ref()?, item.time))),
    );
    let names: Vec<Option<String>> = items
        .iter()
        .zip(&stamps)
        .map(|(item, s)| {
            item.time?;
            Some(match (series, s) {
                (Some(re), _) if re.is_match(&item.key) => format!("/{re}/"),
                (_, Some(s)) => backups::series(s, &manifests),
                // --by-mtime on a key without a timestamp: its own series.
                (_, None) => item.key.clone(),
            })
        })
        .collect();
    // series → time → complete?
    let mut times: BTreeMap<&str, BTreeMap<i64, bool>> = BTreeMap::new();
    for ((item, s), name) in items.iter().zip(&stamps).zip(&names) {
        if let (Some(time), Some(name)) = (item.time, name) {
            let complete = s
                .as_ref()
                .is_some_and(|s| manifests.contains(&(s.prefix.clone(), time)));
            *times.entry(name).or_default().entry(time).or_default() |= complete;
        }
    }
    let kept: BTreeMap<&str, BTreeMap<i64, Vec<&'static str>>> = times
        .iter()
        .map(|(name, t)| (*name, keep_series(t, policy)))
        .collect();
    items
        .iter()
        .zip(&names)
        .map(|(item, name)| match (item.time, name) {
            (Some(time), Some(name)) => match kept[name.as_str()].get(&time) {
                Some(rules) => Verdict::Keep(rules.clone()),
                None => Verdict::Remove,
            },
            _ => Verdict::NoTimestamp,
        })
        .collect()
}

/// The times of one series (each: has a manifest?) to keep, with the rules
/// that kept them.
fn keep_series(times: &BTreeMap<i64, bool>, policy: &Policy) -> BTreeMap<i64, Vec<&'static str>> {
    let complete: Vec<i64> = times.iter().filter(|(_, c)| **c).map(|(t, _)| *t).collect();
    let kind = |t: i64| match (complete.first(), complete.last()) {
        _ if times[&t] => Kind::Backup,
        (Some(&oldest), _) if t < oldest => Kind::Backup,
        (_, Some(&newest)) if t > newest => Kind::InProgress,
        (Some(_), _) => Kind::Leftover,
        (None, _) => Kind::Backup,
    };
    let backups: BTreeSet<i64> = times
        .keys()
        .copied()
        .filter(|&t| kind(t) == Kind::Backup)
        .collect();
    let mut kept = keep_times(&backups, policy);
    let newest = complete.last().or(backups.last());
    if let Some(&newest) = newest {
        let rules = kept.entry(newest).or_default();
        if rules.is_empty() {
            rules.push("newest, kept whatever the policy");
        }
    }
    for &t in times.keys().filter(|&&t| kind(t) == Kind::InProgress) {
        kept.entry(t)
            .or_default()
            .push("in progress: newer than the newest complete backup");
    }
    kept
}

/// The calendar period a time falls in, for one of the bucketed rules.
type Period = fn(DateTime<Utc>) -> (i32, u32);

fn month(d: DateTime<Utc>) -> (i32, u32) {
    (d.year(), d.month())
}

/// The backup times of one series to keep, each with the rules that kept it.
fn keep_times(times: &BTreeSet<i64>, policy: &Policy) -> BTreeMap<i64, Vec<&'static str>> {
    let newest_first: Vec<i64> = times.iter().rev().copied().collect();
    let mut kept: BTreeMap<i64, Vec<&'static str>> = BTreeMap::new();
    for &t in newest_first.iter().take(policy.last) {
        kept.entry(t).or_default().push("last");
    }
    if let (Some(within), Some(&newest)) = (policy.within, newest_first.first()) {
        for &t in newest_first.iter().filter(|&&t| t >= newest - within) {
            kept.entry(t).or_default().push("within");
        }
    }
    let buckets: [(&'static str, usize, Period); 4] = [
        ("daily", policy.daily, |d| (d.year(), d.ordinal())),
        ("weekly", policy.weekly, |d| {
            (d.iso_week().year(), d.iso_week().week())
        }),
        ("monthly", policy.monthly, month),
        ("yearly", policy.yearly, |d| (d.year(), 0)),
    ];
    for (rule, n, bucket) in buckets {
        for t in firsts_of_buckets(newest_first.iter().copied(), bucket, n) {
            kept.entry(t).or_default().push(rule);
        }
    }
    // The first of each month: walk each month's backups oldest first.
    let mut months: BTreeMap<(i32, u32), i64> = BTreeMap::new();
    for &t in times {
        if let Some(d) = DateTime::from_timestamp(t, 0) {
            months.entry(month(d)).or_insert(t);
        }
    }
    for &t in months.values().rev().take(policy.monthly_first) {
        kept.entry(t).or_default().push("monthly-first");
    }
    kept
}

/// The first time of each new bucket along `times`, for the first `n`
/// buckets met.
fn firsts_of_buckets(times: impl Iterator<Item = i64>, bucket: Period, n: usize) -> Vec<i64> {
    let mut out = Vec::new();
    let mut last_bucket = None;
    for t in times {
        if out.len() == n {
            break;
        }
        let Some(d) = DateTime::from_timestamp(t, 0) else {
            continue;
        };
        let b = bucket(d);
        if last_bucket != Some(b) {
            last_bucket = Some(b);
            out.push(t);
        }
    }
    out
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
    fn kept(times: &[i64], policy: &Policy) -> Vec<String> {
        let items = items(times);
        let mut out: Vec<String> = items
            .iter()
            .zip(decide(&items, policy, None))
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
        let policy = Policy {
            daily: 7,
            weekly: 4,
            monthly: 12,
            yearly: 3,
            ..Default::default()
        };
        let kept = kept(&times, &policy);
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
            kept(&times, &policy),
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
        assert_eq!(kept(&times, &policy), vec![key(times[3]), key(times[1])]);
        let last = Policy {
            last: 3,
            ..Default::default()
        };
        assert_eq!(
            kept(&times, &last),
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
            kept(&times, &monthly),
            vec![key(times[3]), key(times[2]), key(times[0])]
        );
        let yearly = Policy {
            yearly: 2,
            ..Default::default()
        };
        assert_eq!(kept(&times, &yearly), vec![key(times[3]), key(times[0])]);
        // ISO weeks: 2025-12-31 (Wed) and 2026-01-01 (Thu) share week 1 of
        // 2026; 2026-01-31 (Sat) and 2026-02-01 (Sun) share week 5.
        let weekly = Policy {
            weekly: 10,
            ..Default::default()
        };
        assert_eq!(kept(&times, &weekly), vec![key(times[3]), key(times[1])]);
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
        let verdicts = decide(&items, &policy, None);
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
            None,
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
            None,
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

    // The Combine's policy: every backup within 7 days of the newest, plus
    // the backup made on the 1st of each of the last 3 months. Their keys:
    // backups/<host>-YYYY-MM-DD-HH-MM-SS.tar.gz, no manifest, QA and
    // production in one bucket.
    fn combine() -> Policy {
        Policy {
            within: Some(7 * 86_400),
            monthly_first: 3,
            ..Default::default()
        }
    }

    fn named(host: &str, t: i64, suffix: &str) -> Item {
        let d = DateTime::from_timestamp(t, 0).unwrap();
        Item {
            key: format!("backups/{host}-{}{suffix}", d.format("%Y-%m-%d-%H-%M-%S")),
            time: Some(t),
        }
    }

    fn at_s(y: i32, m: u32, d: u32, h: u32) -> i64 {
        at(y, m, d, h) + 7 // their jobs start at hh:15:07
    }

    /// The keys kept, in listing order.
    fn kept_keys(items: &[Item], policy: &Policy, series: Option<&Regex>) -> Vec<String> {
        items
            .iter()
            .zip(decide(items, policy, series))
            .filter(|(_, v)| !matches!(v, Verdict::Remove))
            .map(|(i, _)| i.key.clone())
            .collect()
    }

    /// A year of their nightly keys for two hosts, with the 1st of October
    /// failed, two backups a day on the 1st of September and through the
    /// last week, and a key without a date.
    fn their_year(last: (u32, u32)) -> Vec<Item> {
        let mut items = Vec::new();
        let mut day = at_s(2025, 11, 20, 3);
        let end = at_s(2026, last.0, last.1, 3);
        while day <= end {
            let d = DateTime::from_timestamp(day, 0).unwrap();
            if (d.month(), d.day()) != (10, 1) {
                items.push(named("thecombine-app", day, ".tar.gz"));
                items.push(named("qa-kubernetes", day + 1800, ".tar.gz"));
            }
            if (d.month(), d.day()) == (9, 1) || day >= end - 7 * 86_400 {
                items.push(named("thecombine-app", day + 12 * 3600, ".tar.gz"));
            }
            day += 86_400;
        }
        items.push(Item {
            key: "backups/thecombine-app-manual.tar.gz".into(),
            time: None,
        });
        items
    }

    #[test]
    fn their_policy_over_their_year_with_a_failed_first_and_two_a_day() {
        let items = their_year((11, 24));
        let kept = kept_keys(&items, &combine(), None);
        let app: Vec<&str> = kept
            .iter()
            .filter(|k| k.contains("thecombine-app"))
            .map(String::as_str)
            .collect();
        let mut want = vec![
            // the 1st of September (the first of its two that day),
            // October's 1st failed: the 2nd; the 1st of November
            "backups/thecombine-app-2026-09-01-03-15-07.tar.gz".to_string(),
            "backups/thecombine-app-2026-10-02-03-15-07.tar.gz".to_string(),
            "backups/thecombine-app-2026-11-01-03-15-07.tar.gz".to_string(),
        ];
        // within 7 days of the newest (Nov 24 15:15:07): from Nov 17 15:15:07,
        // the boundary included; Nov 17 03:15:07 is older
        want.push("backups/thecombine-app-2026-11-17-15-15-07.tar.gz".into());
        for day in 18..=24 {
            want.push(format!(
                "backups/thecombine-app-2026-11-{day}-03-15-07.tar.gz"
            ));
            want.push(format!(
                "backups/thecombine-app-2026-11-{day}-15-15-07.tar.gz"
            ));
        }
        want.push("backups/thecombine-app-manual.tar.gz".into());
        let mut app_sorted: Vec<String> = app.iter().map(|s| s.to_string()).collect();
        app_sorted.sort();
        want.sort();
        assert_eq!(app_sorted, want);
        // QA is its own series: its own 8 days (Nov 17-24, once a day at
        // 03:45:07, all within 7 days of its newest) + 3 firsts.
        let qa = kept.iter().filter(|k| k.contains("qa-kubernetes")).count();
        assert_eq!(qa, 8 + 3);
    }

    #[test]
    fn backups_that_stopped_ten_days_ago_keep_their_history() {
        // The last backup was Nov 14; pruning on Nov 24 deletes nothing a
        // "7 days + 3 monthly" user would miss: the week before the newest.
        let items = their_year((11, 14));
        let kept = kept_keys(&items, &combine(), None);
        for day in 8..=14 {
            for hour in [3, 15] {
                let key = format!("backups/thecombine-app-2026-11-{day:02}-{hour:02}-15-07.tar.gz");
                assert!(kept.contains(&key), "{key}");
            }
        }
        assert!(!kept.contains(&"backups/thecombine-app-2026-11-06-03-15-07.tar.gz".to_string()));
        // keep-within alone, backups stopped: never everything deleted.
        let within = Policy {
            within: Some(7 * 86_400),
            ..Default::default()
        };
        assert!(kept_keys(&items, &within, None).len() > 7);
        // keep-monthly-first alone still keeps the newest.
        let firsts = Policy {
            monthly_first: 1,
            ..Default::default()
        };
        let kept = kept_keys(&items, &firsts, None);
        assert!(kept.contains(&"backups/thecombine-app-2026-11-01-03-15-07.tar.gz".to_string()));
        assert!(kept.contains(&"backups/thecombine-app-2026-11-14-15-15-07.tar.gz".to_string()));
    }

    /// Migration: their archives (no manifest) until Nov 10, then s3pipe's
    /// single-archive backups (same key shape + a manifest), a failed run
    /// on Nov 13 (an archive, no manifest) and a run in progress.
    #[test]
    fn their_archives_and_s3pipes_are_one_series_during_migration() {
        let mut items = Vec::new();
        for day in 1..=20 {
            let t = at_s(2026, 11, day, 3);
            items.push(named("thecombine-app", t, ".tar.gz"));
            if day > 10 && day != 13 {
                items.push(named("thecombine-app", t, ".manifest.json"));
            }
        }
        items.push(named("thecombine-app", at_s(2026, 11, 21, 3), ".tar.gz"));
        for t in [at_s(2026, 9, 1, 3), at_s(2026, 10, 1, 3)] {
            items.push(named("thecombine-app", t, ".tar.gz"));
        }
        let v = decide(&items, &combine(), None);
        let verdict = |key: &str| {
            let i = items.iter().position(|i| i.key.ends_with(key)).unwrap();
            v[i].clone()
        };
        assert_eq!(
            verdict("2026-11-13-03-15-07.tar.gz"),
            Verdict::Remove,
            "a failed run"
        );
        assert_eq!(
            verdict("2026-11-12-03-15-07.manifest.json"),
            Verdict::Remove
        );
        assert_eq!(verdict("2026-11-12-03-15-07.tar.gz"), Verdict::Remove);
        for day in 14..=20 {
            let key = format!("2026-11-{day}-03-15-07.manifest.json");
            assert!(matches!(verdict(&key), Verdict::Keep(_)), "{key}");
        }
        assert_eq!(verdict("2026-11-05-03-15-07.tar.gz"), Verdict::Remove);
        for first in ["2026-09-01", "2026-10-01", "2026-11-01"] {
            let key = format!("{first}-03-15-07.tar.gz");
            assert_eq!(verdict(&key), Verdict::Keep(vec!["monthly-first"]), "{key}");
        }
        assert!(
            matches!(verdict("2026-11-21-03-15-07.tar.gz"), Verdict::Keep(r) if r[0].starts_with("in progress"))
        );
    }

    #[test]
    fn a_series_regex_joins_a_renamed_host() {
        let mut items = Vec::new();
        for day in 1..=10 {
            items.push(named("combine-app", at_s(2026, 11, day, 3), ".tar.gz"));
        }
        for day in 11..=20 {
            items.push(named("thecombine-app", at_s(2026, 11, day, 3), ".tar.gz"));
        }
        let last = Policy {
            last: 3,
            ..Default::default()
        };
        assert_eq!(
            kept_keys(&items, &last, None).len(),
            6,
            "two series without it"
        );
        let re = Regex::new("^backups/(the)?combine-app-").unwrap();
        let kept = kept_keys(&items, &last, Some(&re));
        assert_eq!(kept.len(), 3);
        assert!(
            kept.iter().all(|k| k.contains("thecombine-app-2026-11-")),
            "{kept:?}"
        );
    }
}
