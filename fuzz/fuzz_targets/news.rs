//! Fuzz target: the news reader never panics and accounts for every record.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let b = farguard_sources::Format::News.parse_bytes("fuzz", data);
    assert_eq!(b.read, (b.events.len() + b.quarantined.len()) as u64);
});
