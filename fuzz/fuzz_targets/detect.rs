//! Fuzz target: the detect reader never panics and accounts for every record.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, b)) = farguard_sources::parse_auto("fuzz", data, None) {
        assert_eq!(b.read, (b.events.len() + b.quarantined.len()) as u64);
    }
});
