//! Peer frames from arbitrary bytes: whatever a peer (or a stranger on the peer port) sends,
//! decoding a handshake, a request or a response returns a value or an error, and never panics
//! or allocates beyond the input's size.
//!
//! Run with `cargo +nightly fuzz run peer_frame` from the repository root.

#![no_main]

use concord::raft::peer::{PeerRequest, PeerResponse};
use concord::raft::tcp::{decode_payload, DialerProof, Hello, Welcome};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    let _ = decode_payload::<Hello>(payload);
    let _ = decode_payload::<Welcome>(payload);
    let _ = decode_payload::<DialerProof>(payload);
    let _ = decode_payload::<(u64, PeerRequest)>(payload);
    let _ = decode_payload::<(u64, PeerResponse)>(payload);
});
