//! The bytes of a Raft entry in a log record's payload, and of the saved vote.
//!
//! The log stores `(index, term, payload)`; with openraft's `single-term-leader` feature a log
//! id is exactly `(term, index)`, so the record's own index and term are the entry's log id
//! and the payload holds only what openraft's `EntryPayload` adds:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | codec version, `1` |
//! | 1 | 1 | kind: `0` blank, `1` normal (client writes), `2` membership |
//! | 2 | n | for normal, the `postcard` encoding of `state_machine::Entry`; for membership, the `postcard` encoding of [`MembershipRecord`]; nothing for blank |
//!
//! postcard (varint integers, length-prefixed sequences, enum variants by index) is compact
//! and its wire format is specified and stable across its 1.x releases; `docs/decisions.md`
//! records why it was chosen. The version byte lets a later build read old records and makes a
//! record from a newer build an explicit error rather than garbage.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use openraft::{BasicNode, EntryPayload, Membership, Vote};
use serde::{Deserialize, Serialize};

use super::{LogId, NodeId, Proposed, RaftEntry, TypeConfig};
use crate::log::Record;
use crate::state_machine::Entry;

/// The codec version this build writes and reads.
pub const CODEC_VERSION: u8 = 1;

const KIND_BLANK: u8 = 0;
const KIND_NORMAL: u8 = 1;
const KIND_MEMBERSHIP: u8 = 2;

/// Why stored bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The record was written by a codec version this build does not read.
    #[error("record {index}: codec version {version}, but this build reads only version 1")]
    UnsupportedVersion {
        /// The record's log index (0 for the vote).
        index: u64,
        /// The version its first byte declares.
        version: u8,
    },
    /// The bytes do not decode as what they claim to be.
    #[error("record {index}: {reason}")]
    Malformed {
        /// The record's log index (0 for the vote).
        index: u64,
        /// What was wrong.
        reason: String,
    },
}

/// A membership configuration as stored: the voter sets (one, or two during a joint change)
/// and every node's address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MembershipRecord {
    /// The voter sets: one, or the old and the new during a joint change.
    pub configs: Vec<Vec<NodeId>>,
    /// Every member (voter or learner) with its peer address.
    pub nodes: Vec<(NodeId, String)>,
}

impl MembershipRecord {
    /// The stored form of openraft's membership.
    pub fn from_membership(membership: &Membership<NodeId, BasicNode>) -> MembershipRecord {
        MembershipRecord {
            configs: membership
                .get_joint_config()
                .iter()
                .map(|config| config.iter().copied().collect())
                .collect(),
            nodes: membership.nodes().map(|(id, node)| (*id, node.addr.clone())).collect(),
        }
    }

    /// Openraft's membership, rebuilt from the stored form.
    pub fn to_membership(&self) -> Membership<NodeId, BasicNode> {
        let configs: Vec<BTreeSet<NodeId>> =
            self.configs.iter().map(|config| config.iter().copied().collect()).collect();
        let nodes: BTreeMap<NodeId, BasicNode> =
            self.nodes.iter().map(|(id, addr)| (*id, BasicNode::new(addr))).collect();
        Membership::new(configs, nodes)
    }
}

/// The log record of an openraft entry.
pub fn encode_entry(entry: &RaftEntry) -> Record {
    let mut payload = vec![CODEC_VERSION];
    match &entry.payload {
        EntryPayload::Blank => payload.push(KIND_BLANK),
        EntryPayload::Normal(data) => {
            payload.push(KIND_NORMAL);
            // Only the entry: the ticket names waiters on this node and means nothing on disk.
            payload =
                postcard::to_extend(&data.entry, payload).expect("writing to a Vec cannot fail");
        }
        EntryPayload::Membership(membership) => {
            payload.push(KIND_MEMBERSHIP);
            let record = MembershipRecord::from_membership(membership);
            payload = postcard::to_extend(&record, payload).expect("writing to a Vec cannot fail");
        }
    }
    Record {
        index: entry.log_id.index,
        term: entry.log_id.leader_id.term,
        payload: Bytes::from(payload),
    }
}

/// The openraft entry a log record holds.
pub fn decode_entry(record: &Record) -> Result<RaftEntry, CodecError> {
    let index = record.index;
    let malformed = |reason: String| CodecError::Malformed { index, reason };
    let (&version, rest) =
        record.payload.split_first().ok_or_else(|| malformed("empty payload".into()))?;
    if version != CODEC_VERSION {
        return Err(CodecError::UnsupportedVersion { index, version });
    }
    let (&kind, body) = rest.split_first().ok_or_else(|| malformed("no entry kind".into()))?;
    let payload = match kind {
        KIND_BLANK if body.is_empty() => EntryPayload::Blank,
        KIND_NORMAL => {
            let entry: Entry =
                postcard::from_bytes(body).map_err(|error| malformed(error.to_string()))?;
            EntryPayload::Normal(Proposed { entry, ticket: 0 })
        }
        KIND_MEMBERSHIP => {
            let membership: MembershipRecord =
                postcard::from_bytes(body).map_err(|error| malformed(error.to_string()))?;
            EntryPayload::Membership(membership.to_membership())
        }
        other => return Err(malformed(format!("unknown entry kind {other}"))),
    };
    Ok(openraft::Entry::<TypeConfig> { log_id: log_id(record.term, index), payload })
}

/// The log id of the entry at `index` created in `term`.
pub fn log_id(term: u64, index: u64) -> LogId {
    openraft::LogId::new(openraft::CommittedLeaderId::new(term, 0), index)
}

/// A vote as stored in the log's `vote` file.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct VoteRecord {
    version: u8,
    term: u64,
    voted_for: Option<NodeId>,
    committed: bool,
}

/// The bytes of the vote file's payload: codec version, term, voted-for and committed.
pub fn encode_vote(vote: &Vote<NodeId>) -> Vec<u8> {
    let record = VoteRecord {
        version: CODEC_VERSION,
        term: vote.leader_id.term,
        voted_for: vote.leader_id.voted_for,
        committed: vote.committed,
    };
    postcard::to_stdvec(&record).expect("writing to a Vec cannot fail")
}

/// Reads a vote written by `encode_vote`; errors name index 0, as a vote is not a record.
pub fn decode_vote(bytes: &[u8]) -> Result<Vote<NodeId>, CodecError> {
    let malformed = |reason: String| CodecError::Malformed { index: 0, reason };
    let record: VoteRecord =
        postcard::from_bytes(bytes).map_err(|error| malformed(format!("vote: {error}")))?;
    if record.version != CODEC_VERSION {
        return Err(CodecError::UnsupportedVersion { index: 0, version: record.version });
    }
    let mut vote = Vote::new(record.term, record.voted_for.unwrap_or_default());
    vote.leader_id.voted_for = record.voted_for;
    vote.committed = record.committed;
    Ok(vote)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::strings::StringWrite;
    use crate::command::Write;
    use crate::state_machine::WriteRequest;
    use crate::tests::golden::hex;

    fn entry(payload: EntryPayload<TypeConfig>) -> RaftEntry {
        openraft::Entry { log_id: log_id(3, 7), payload }
    }

    #[test]
    fn every_entry_kind_survives_a_round_trip() {
        let write = Entry {
            leader_time_ms: 1_700_000_000_000,
            requests: vec![WriteRequest {
                db: 2,
                write: Write::String(StringWrite::Append {
                    key: Bytes::from_static(b"key"),
                    suffix: Bytes::from_static(b"value"),
                }),
            }],
        };
        let membership = MembershipRecord { configs: vec![vec![1]], nodes: vec![(1, "a".into())] };
        for payload in [
            EntryPayload::Blank,
            EntryPayload::Normal(Proposed { entry: write, ticket: 0 }),
            EntryPayload::Membership(membership.to_membership()),
        ] {
            let original = entry(payload);
            let record = encode_entry(&original);
            assert_eq!((record.index, record.term), (7, 3));
            let decoded = decode_entry(&record).unwrap();
            assert_eq!(format!("{decoded:?}"), format!("{original:?}"));
        }
    }

    #[test]
    fn a_record_of_an_unknown_version_is_refused_by_name() {
        let record = Record { index: 5, term: 1, payload: Bytes::from_static(&[9, 0]) };
        let error = decode_entry(&record).unwrap_err().to_string();
        assert!(error.contains("codec version 9"), "{error}");
    }

    /// Golden bytes: what main wrote before tags were frozen. These lines never change; a test
    /// that fails here means a variant or field was reordered, which changes the log format.
    #[test]
    fn entry_kinds_and_the_vote_keep_their_bytes() {
        let write = Entry {
            leader_time_ms: 1_700_000_000_000,
            requests: vec![WriteRequest {
                db: 2,
                write: Write::String(StringWrite::Append {
                    key: Bytes::from_static(b"key"),
                    suffix: Bytes::from_static(b"value"),
                }),
            }],
        };
        let membership = MembershipRecord { configs: vec![vec![1]], nodes: vec![(1, "a".into())] };
        let golden = [
            (EntryPayload::Blank, "0100"),
            (
                EntryPayload::Normal(Proposed { entry: write, ticket: 0 }),
                "010180d095ffbc3101020004036b65790576616c7565",
            ),
            (EntryPayload::Membership(membership.to_membership()), "010201010101010161"),
        ];
        for (payload, expected) in golden {
            let record = encode_entry(&entry(payload));
            assert_eq!(hex(&record.payload), expected, "a log record's bytes changed");
        }
        let mut vote = Vote::new(4, 1);
        vote.committed = true;
        assert_eq!(hex(&encode_vote(&vote)), "0104010101", "the vote's bytes changed");
    }

    #[test]
    fn a_vote_survives_a_round_trip() {
        let mut vote = Vote::new(4, 1);
        vote.committed = true;
        assert_eq!(decode_vote(&encode_vote(&vote)).unwrap(), vote);
    }
}
