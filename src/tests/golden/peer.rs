//! The enums of peer frames (`raft::tcp`): the handshake's answer, every request and response,
//! the administrative requests, the errors a response carries and the RESP frames of a
//! forwarded write's replies. openraft's own messages inside them are openraft's serde derives;
//! the peer protocol version (`raft::tcp::PROTOCOL_VERSION`) changes with openraft's version.

use bytes::Bytes;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{EntryPayload, SnapshotMeta, Vote};

use super::{check, Checked};
use crate::command::Write;
use crate::raft::codec::{log_id, MembershipRecord};
use crate::raft::peer::{AdminRequest, NodeStatus, PeerRequest, PeerResponse, ReadPoint};
use crate::raft::tcp::{DialerProof, Hello, Welcome};
use crate::raft::{NodeError, Proposed, TypeConfig};
use crate::resp::Frame;
use crate::state_machine::{Entry, WriteRequest};

fn vote() -> Vote<u64> {
    Vote::new_committed(3, 1)
}

pub(super) fn enums(failures: &mut Vec<String>) -> Vec<Checked> {
    let forward =
        vec![WriteRequest { db: 0, write: Write::Key(crate::command::keys::KeyWrite::FlushDb) }];
    let requests = vec![
        (
            PeerRequest::AppendEntries(AppendEntriesRequest {
                vote: vote(),
                prev_log_id: None,
                entries: Vec::new(),
                leader_commit: None,
            }),
            "0003010101000000",
        ),
        (PeerRequest::Vote(VoteRequest::new(vote(), None)), "010301010100"),
        (
            PeerRequest::InstallSnapshot(InstallSnapshotRequest {
                vote: vote(),
                meta: SnapshotMeta::default(),
                offset: 0,
                data: vec![1, 2],
                done: true,
            }),
            "020301010100000000000002010201",
        ),
        (PeerRequest::Forward(forward.clone()), "0301000107"),
        (PeerRequest::ReadIndex, "04"),
        (PeerRequest::TimeoutNow, "05"),
        (PeerRequest::Admin(AdminRequest::RemoveNode { id: 2 }), "060102"),
        (PeerRequest::Status, "07"),
        (PeerRequest::Incarnation, "08"),
    ];
    let request_tag = |request: &PeerRequest| match request {
        PeerRequest::AppendEntries(_) => 0,
        PeerRequest::Vote(_) => 1,
        PeerRequest::InstallSnapshot(_) => 2,
        PeerRequest::Forward(_) => 3,
        PeerRequest::ReadIndex => 4,
        PeerRequest::TimeoutNow => 5,
        PeerRequest::Admin(_) => 6,
        PeerRequest::Status => 7,
        PeerRequest::Incarnation => 8,
    };
    let status = NodeStatus {
        id: 1,
        role: "leader".into(),
        term: 3,
        leader: Some(1),
        last_log_index: 9,
        commit_index: 8,
        applied_index: 7,
        snapshot_index: 6,
        voters: vec![1],
        members: vec![(1, "a:1".into())],
        matched: vec![(2, 5)],
        client_port: 6379,
    };
    let responses = vec![
        (PeerResponse::AppendEntries(Ok(AppendEntriesResponse::Success)), "000000"),
        (
            PeerResponse::Vote(Ok(VoteResponse {
                vote: vote(),
                vote_granted: true,
                last_log_id: None,
            })),
            "0100030101010100",
        ),
        (
            PeerResponse::InstallSnapshot(Ok(InstallSnapshotResponse { vote: vote() })),
            "020003010101",
        ),
        (PeerResponse::Forward(Ok(vec![Frame::Integer(1)])), "0300010202"),
        (
            PeerResponse::ReadIndex(Ok(ReadPoint { index: 5, leader_time_ms: 1_700_000_000_000 })),
            "04000580d095ffbc31",
        ),
        (PeerResponse::TimeoutNow(Err(NodeError::NotLeader)), "050101"),
        (PeerResponse::Admin(Ok("OK".into())), "0600024f4b"),
        (
            PeerResponse::Status(Ok(status)),
            "070001066c6561646572030101090807060101010103613a31010205eb31",
        ),
        (PeerResponse::Incarnation(0x0123_4567_89ab_cdef), "08ef9bafcdf8acd19101"),
    ];
    let response_tag = |response: &PeerResponse| match response {
        PeerResponse::AppendEntries(_) => 0,
        PeerResponse::Vote(_) => 1,
        PeerResponse::InstallSnapshot(_) => 2,
        PeerResponse::Forward(_) => 3,
        PeerResponse::ReadIndex(_) => 4,
        PeerResponse::TimeoutNow(_) => 5,
        PeerResponse::Admin(_) => 6,
        PeerResponse::Status(_) => 7,
        PeerResponse::Incarnation(_) => 8,
    };
    let admin = vec![
        (AdminRequest::AddNode { id: 2, address: "b:2".into() }, "000203623a32"),
        (AdminRequest::RemoveNode { id: 2 }, "0102"),
        (AdminRequest::TransferLeader { to: 3 }, "0203"),
    ];
    let admin_tag = |request: &AdminRequest| match request {
        AdminRequest::AddNode { .. } => 0,
        AdminRequest::RemoveNode { .. } => 1,
        AdminRequest::TransferLeader { .. } => 2,
    };
    let prove = format!("03{}00", "01".repeat(32));
    let proof = format!("0001{}", "02".repeat(32));
    let welcomes = vec![
        (Welcome::Accepted { incarnation: 7 }, "0007"),
        (Welcome::Refused("no".into()), "01026e6f"),
        (Welcome::Replaced { cluster_id: "c".into() }, "020163"),
        (Welcome::Prove { challenge: [1; 32], proof: None }, prove.as_str()),
        (Welcome::Unauthenticated("no".into()), "04026e6f"),
    ];
    let welcome_tag = |welcome: &Welcome| match welcome {
        Welcome::Accepted { .. } => 0,
        Welcome::Refused(_) => 1,
        Welcome::Replaced { .. } => 2,
        Welcome::Prove { .. } => 3,
        Welcome::Unauthenticated(_) => 4,
    };
    let proofs = vec![
        (DialerProof::Proof(Some([2; 32])), proof.as_str()),
        (DialerProof::Refused("no".into()), "01026e6f"),
    ];
    let proof_tag = |proof: &DialerProof| match proof {
        DialerProof::Proof(_) => 0,
        DialerProof::Refused(_) => 1,
    };
    let errors = vec![
        (NodeError::Stopped, "00"),
        (NodeError::NotLeader, "01"),
        (NodeError::Unavailable("u".into()), "020175"),
        (NodeError::Refused("r".into()), "030172"),
        (NodeError::OutcomeUnknown("o".into()), "04016f"),
        (NodeError::StorageFailed("s".into()), "050173"),
        (NodeError::DiskFull { data_directory: "d".into(), cause: "c".into() }, "0601640163"),
        (NodeError::SnapshotFailed("f".into()), "070166"),
    ];
    let error_tag = |error: &NodeError| match error {
        NodeError::Stopped => 0,
        NodeError::NotLeader => 1,
        NodeError::Unavailable(_) => 2,
        NodeError::Refused(_) => 3,
        NodeError::OutcomeUnknown(_) => 4,
        NodeError::StorageFailed(_) => 5,
        NodeError::DiskFull { .. } => 6,
        NodeError::SnapshotFailed(_) => 7,
    };
    let pair = (Frame::Integer(1), Frame::Bulk(Bytes::from_static(b"v")));
    let frames = vec![
        (Frame::Simple("OK".into()), "00024f4b"),
        (Frame::Error("ERR e".into()), "01054552522065"),
        (Frame::Integer(-1), "0201"),
        (Frame::Bulk(Bytes::from_static(b"v")), "030176"),
        (Frame::Null, "04"),
        (Frame::NullArray, "05"),
        (Frame::Array(vec![Frame::Null]), "060104"),
        (Frame::Map(vec![pair.clone()]), "07010202030176"),
        (Frame::Set(vec![Frame::Integer(2)]), "08010204"),
        (Frame::Pairs(vec![pair.clone()]), "09010202030176"),
        (Frame::Double(1.5), "0a000000000000f83f"),
        (Frame::Boolean(true), "0b01"),
        (Frame::Verbatim { format: *b"txt", text: Bytes::from_static(b"t") }, "0c7478740174"),
        (Frame::Push(vec![Frame::Null]), "0d0104"),
        (Frame::LongDouble(1.5), "0e000000000000f83f"),
        (Frame::KeyedArrays(vec![pair]), "0f010202030176"),
        (Frame::BigNumber(Bytes::from_static(b"12")), "10023132"),
    ];
    let frame_tag = |frame: &Frame| match frame {
        Frame::Simple(_) => 0,
        Frame::Error(_) => 1,
        Frame::Integer(_) => 2,
        Frame::Bulk(_) => 3,
        Frame::Null => 4,
        Frame::NullArray => 5,
        Frame::Array(_) => 6,
        Frame::Map(_) => 7,
        Frame::Set(_) => 8,
        Frame::Pairs(_) => 9,
        Frame::Double(_) => 10,
        Frame::Boolean(_) => 11,
        Frame::Verbatim { .. } => 12,
        Frame::Push(_) => 13,
        Frame::LongDouble(_) => 14,
        Frame::KeyedArrays(_) => 15,
        Frame::BigNumber(_) => 16,
    };
    let appended = vec![
        (AppendEntriesResponse::Success, "00"),
        (AppendEntriesResponse::PartialSuccess(Some(log_id(3, 9))), "01010309"),
        (AppendEntriesResponse::Conflict, "02"),
        (AppendEntriesResponse::HigherVote(vote()), "0303010101"),
    ];
    let appended_tag = |response: &AppendEntriesResponse<u64>| match response {
        AppendEntriesResponse::Success => 0,
        AppendEntriesResponse::PartialSuccess(_) => 1,
        AppendEntriesResponse::Conflict => 2,
        AppendEntriesResponse::HigherVote(_) => 3,
    };
    let normal =
        Proposed { entry: Entry { leader_time_ms: 5, requests: forward.clone() }, ticket: 4 };
    let membership = MembershipRecord { configs: vec![vec![1]], nodes: vec![(1, "a".into())] };
    let payloads = vec![
        (EntryPayload::<TypeConfig>::Blank, "00"),
        (EntryPayload::Normal(normal), "010501000107"),
        (EntryPayload::Membership(membership.to_membership()), "0201010101010161"),
    ];
    let payload_tag = |payload: &EntryPayload<TypeConfig>| match payload {
        EntryPayload::Blank => 0,
        EntryPayload::Normal(_) => 1,
        EntryPayload::Membership(_) => 2,
    };
    vec![
        check("PeerRequest", requests, request_tag, failures),
        check("PeerResponse", responses, response_tag, failures),
        check("AdminRequest", admin, admin_tag, failures),
        check("Welcome", welcomes, welcome_tag, failures),
        check("DialerProof", proofs, proof_tag, failures),
        check("NodeError", errors, error_tag, failures),
        check("Frame", frames, frame_tag, failures),
        check("AppendEntriesResponse", appended, appended_tag, failures),
        check("EntryPayload", payloads, payload_tag, failures),
    ]
}

/// The dialer's `Hello`: every version's begins with the protocol version, which is how a
/// listener names a dialer's version even when the rest does not decode (`raft::tcp`).
#[test]
fn the_hello_keeps_its_bytes_and_begins_with_the_protocol_version() {
    // Version 7 written out, so that a version bump alone does not touch these bytes.
    let hello = Hello {
        protocol_version: 7,
        cluster_id: "c".into(),
        from: 2,
        to: 1,
        incarnation: 7,
        challenge: [9; 32],
    };
    let bytes = postcard::to_allocvec(&hello).unwrap();
    let expected = format!("070163020107{}", "09".repeat(32));
    assert_eq!(super::hex(&bytes), expected, "the Hello's bytes changed");
    assert_eq!(postcard::take_from_bytes::<u32>(&bytes).unwrap().0, 7);
}
