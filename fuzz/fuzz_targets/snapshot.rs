//! GNU tar snapshot files (`pack -g`) as a damaged or hostile disk or
//! bucket hands them over: no panic; what parses writes back and parses
//! to the same snapshot.
#![no_main]

use s3pipe::archive::snapshot::Snapshot;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(snapshot) = Snapshot::read(data) else { return };
    let mut again = Vec::new();
    snapshot.write(&mut again).unwrap();
    assert_eq!(Snapshot::read(&again[..]).unwrap(), snapshot);
});
