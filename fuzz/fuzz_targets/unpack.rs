//! unpack of arbitrary bytes (plain tar, or whatever the detector makes of
//! them): no panic, nothing created outside the destination.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::unpack_in_sandbox(data.to_vec());
});
