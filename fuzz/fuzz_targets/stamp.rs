//! The timestamp/series parser behind s3prune and the retention decision
//! over the keys it finds: no panic, one verdict per key.
#![no_main]

use s3pipe::backups::stamp;
use s3pipe::retention::{Item, Policy, decide};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let items: Vec<Item> = text
        .lines()
        .map(|key| Item { key: key.to_string(), time: stamp(key).map(|s| s.time) })
        .collect();
    let policy = Policy {
        last: 2,
        daily: 3,
        weekly: 1,
        monthly: 2,
        monthly_first: 1,
        yearly: 1,
        within: Some(86_400),
    };
    assert_eq!(decide(&items, &policy, None).len(), items.len());
});
