//! Recovery from arbitrary files: whatever the bytes, opening the log returns the records or
//! an error, and never panics, hangs or allocates without bound.
//!
//! Run with `cargo +nightly fuzz run log_recovery` from the repository root.

#![no_main]

use concord::log::{format, recover_from_files};
use libfuzzer_sys::fuzz_target;

/// The names a fuzzed file may take: segments that chain and ones that do not, the small
/// files, a leftover temporary file and a stranger.
const NAMES: [&str; 8] = [
    "00000000000000000000.segment",
    "00000000000000000003.segment",
    "00000000000000000010.segment",
    "09223372036854775806.segment",
    "vote",
    "purged",
    "00000000000000000000.segment.tmp",
    "notes.txt",
];

fuzz_target!(|input: Vec<(u8, Vec<u8>)>| {
    let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
    for (selector, body) in input.into_iter().take(8) {
        let name = NAMES[usize::from(selector) % NAMES.len()];
        // With the high bit set, a segment gets a valid header, so that the fuzzer spends its
        // time on record frames rather than on guessing a header checksum.
        let bytes = match format::parse_segment_name(name) {
            Some(first_index) if selector & 0x80 != 0 => {
                let mut bytes = format::encode_segment_header(first_index).to_vec();
                bytes.extend_from_slice(&body);
                bytes
            }
            _ => body,
        };
        files.retain(|(existing, _)| *existing != name);
        files.push((name, bytes));
    }
    let borrowed: Vec<(&str, &[u8])> =
        files.iter().map(|(name, bytes)| (*name, bytes.as_slice())).collect();
    let _ = recover_from_files(&borrowed);
});
