//! Snapshot decoding from arbitrary bytes: whatever the input, decoding returns a keyspace or
//! an error, and never panics, hangs or allocates beyond the input's size.
//!
//! Run with `cargo +nightly fuzz run snapshot_decode` from the repository root.

#![no_main]

use concord::raft::snapshot::{decode_bytes, MAGIC, VERSION};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (bool, Vec<u8>)| {
    let (with_header, body) = input;
    // Half the inputs get a valid header, so that the fuzzer spends its time on the frames
    // rather than on guessing the magic.
    let bytes = if with_header {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&body);
        bytes
    } else {
        body
    };
    if let Ok(decoded) = decode_bytes(&bytes) {
        let keys: usize = decoded.keyspace.databases().map(|(_, db)| db.iter_including_expired().count()).sum();
        assert!(keys as u64 <= decoded.keys, "more keys restored than frames read");
    }
});
