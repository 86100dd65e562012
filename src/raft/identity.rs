//! Member identity: telling a member apart from a node that took its id on a new directory.
//!
//! A Raft member's safety rests on what its data directory remembers: its vote and its log.
//! A node restarted with its old id on a wiped or replaced directory remembers neither; if its
//! peers counted it as the old member, it could vote for a candidate missing acknowledged
//! writes and those writes would be lost. So each data directory carries an identity
//! (`IDENTITY`, see [`super::data_directory`]): the cluster id, the node id and an
//! *incarnation*, a random number drawn when the directory got its identity. Peers exchange
//! incarnations at the TCP handshake ([`super::tcp`]) and each side checks the other's
//! against the one it knows ([`KnownPeers`]); a node whose incarnation differs is refused, on
//! both the dialing and the listening side, so it neither votes nor is counted.
//!
//! Where a node learns a peer's incarnation, in this order of authority:
//! 1. The membership: a node added with `CONCORD.ADDNODE` is recorded with its incarnation,
//!    which the leader asks it for before adding it; the membership carries it in the node's
//!    address as `host:port#<16 hex digits>` ([`member_address`]), so every member learns it
//!    in log order, through the log or a snapshot, and it replaces anything known before.
//! 2. First contact: a member of the initial membership (whose entry at index 0 is written
//!    before anyone knows anyone's incarnation) is recorded at its first successful handshake.
//!
//! What is learned is kept in the node's own `PEERS` file, written durably before the
//! handshake that taught it is accepted, so a restart keeps refusing a replaced member.
//!
//! Invariant: a handshake is accepted only if the peer's incarnation is the one this node
//! knows for its id, or this node knew none (and now knows this one).
//!
//! Caveats:
//! - Trust on first contact: a peer of the initial membership that this node never talked to
//!   before it was wiped is accepted on its new directory. A wiped directory together with a
//!   wiped `PEERS` on another member is not detected either.
//! - The check is in the TCP transport only; the Maelstrom and in-process transports carry no
//!   handshake (each of their nodes lives exactly as long as its directory).
//! - The incarnation is not a secret: it stops accidents (a wiped directory, a restored
//!   backup of another member), not an attacker on the peer network.

use std::collections::BTreeMap;
use std::path::PathBuf;

use parking_lot::Mutex;

use super::data_directory;
use super::NodeId;
use crate::error::Result;

pub use super::data_directory::Incarnation;

/// The address of a member as the membership stores it: its peer address, followed by its
/// incarnation when the membership records one.
pub fn member_address(address: &str, incarnation: Incarnation) -> String {
    format!("{address}#{incarnation:016x}")
}

/// Splits a membership address into the peer address and the incarnation it records, if any
/// (members of the initial membership, and members of data written before identities
/// existed, have none).
pub fn parse_member_address(stored: &str) -> (&str, Option<Incarnation>) {
    match stored.rsplit_once('#') {
        Some((address, incarnation)) if incarnation.len() == 16 => {
            match u64::from_str_radix(incarnation, 16) {
                Ok(incarnation) => (address, Some(incarnation)),
                Err(_) => (stored, None),
            }
        }
        _ => (stored, None),
    }
}

/// Why a peer's handshake was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replaced {
    /// The peer that presented another incarnation.
    pub node_id: NodeId,
    /// The incarnation this node has recorded for that peer.
    pub known: Incarnation,
    /// The incarnation the peer presented in its handshake.
    pub presented: Incarnation,
}

impl std::fmt::Display for Replaced {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "node {} presents data directory incarnation {:016x}, but this node knows it with \
             incarnation {:016x}: its data directory was wiped or replaced, so it forgot its \
             vote and its log and is not counted as a member; remove it with \
             CONCORD.REMOVENODE {} and add it again with CONCORD.ADDNODE",
            self.node_id, self.presented, self.known, self.node_id
        )
    }
}

/// The incarnations this node knows for its peers, kept in its data directory's `PEERS`.
#[derive(Debug)]
pub struct KnownPeers {
    directory: PathBuf,
    known: Mutex<BTreeMap<NodeId, Incarnation>>,
}

impl KnownPeers {
    /// The peers recorded in the data directory at `directory`.
    pub fn open(directory: &data_directory::DataDirectory) -> Result<KnownPeers> {
        let known = directory.read_peers()?;
        Ok(KnownPeers { directory: directory.path().to_path_buf(), known: Mutex::new(known) })
    }

    /// Checks a handshake with `node_id`, which presents `incarnation`: refused if this node
    /// knows another one for it; recorded (durably, before the answer) if it knows none.
    pub fn check(&self, node_id: NodeId, incarnation: Incarnation) -> Result<(), CheckError> {
        let mut known = self.known.lock();
        match known.get(&node_id) {
            Some(&expected) if expected == incarnation => Ok(()),
            Some(&expected) => Err(CheckError::Replaced(Replaced {
                node_id,
                known: expected,
                presented: incarnation,
            })),
            None => {
                known.insert(node_id, incarnation);
                self.save(&known).map_err(CheckError::Storage)?;
                tracing::info!(
                    peer = node_id,
                    "recorded node {node_id}'s data directory incarnation {incarnation:016x}"
                );
                Ok(())
            }
        }
    }

    /// Records the incarnation the membership carries for `node_id`, replacing whatever was
    /// known (the membership is the authority: it changes only through the log).
    pub fn learn(&self, node_id: NodeId, incarnation: Incarnation) -> Result<()> {
        let mut known = self.known.lock();
        if known.get(&node_id) == Some(&incarnation) {
            return Ok(());
        }
        known.insert(node_id, incarnation);
        self.save(&known)?;
        tracing::info!(
            peer = node_id,
            "the membership records node {node_id} with data directory incarnation \
             {incarnation:016x}"
        );
        Ok(())
    }

    /// Forgets `node_id`'s incarnation: the operator is adding it again (`CONCORD.ADDNODE`),
    /// on a directory it may have replaced, and its next handshake teaches the new one.
    pub fn forget(&self, node_id: NodeId) -> Result<()> {
        let mut known = self.known.lock();
        if known.remove(&node_id).is_some() {
            self.save(&known)?;
        }
        Ok(())
    }

    /// The incarnation known for `node_id`.
    pub fn get(&self, node_id: NodeId) -> Option<Incarnation> {
        self.known.lock().get(&node_id).copied()
    }

    fn save(&self, known: &BTreeMap<NodeId, Incarnation>) -> Result<()> {
        // A small file, written on the rare first contact or membership change; blocking the
        // handshake's task for one fsync is simpler than handing it to another thread.
        data_directory::write_peers(&self.directory, known)
    }
}

/// Why [`KnownPeers::check`] refused.
#[derive(Debug)]
pub enum CheckError {
    /// The peer's data directory is not the one recorded for its node id.
    Replaced(Replaced),
    /// The new record could not be made durable; the handshake is refused rather than
    /// accepted unrecorded.
    Storage(crate::error::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_address_carries_its_incarnation_and_an_old_one_none() {
        let stored = member_address("127.0.0.1:7001", 0xabc);
        assert_eq!(stored, "127.0.0.1:7001#0000000000000abc");
        assert_eq!(parse_member_address(&stored), ("127.0.0.1:7001", Some(0xabc)));
        assert_eq!(parse_member_address("127.0.0.1:7001"), ("127.0.0.1:7001", None));
        assert_eq!(parse_member_address("[::1]:7001"), ("[::1]:7001", None));
    }

    #[test]
    fn a_peer_is_recorded_at_first_contact_and_another_incarnation_is_refused_after_restart() {
        let root = tempfile::tempdir().unwrap();
        let directory = data_directory::DataDirectory::open(root.path()).unwrap();
        let peers = KnownPeers::open(&directory).unwrap();
        peers.check(2, 7).unwrap();
        peers.check(2, 7).unwrap();
        drop(peers);
        let peers = KnownPeers::open(&directory).unwrap();
        match peers.check(2, 8) {
            Err(CheckError::Replaced(replaced)) => {
                assert_eq!(replaced, Replaced { node_id: 2, known: 7, presented: 8 });
                assert!(replaced.to_string().contains("CONCORD.REMOVENODE 2"), "{replaced}");
            }
            other => panic!("expected node 2's new incarnation to be refused, got {other:?}"),
        }
        peers.learn(2, 8).unwrap();
        peers.check(2, 8).unwrap();
        peers.forget(2).unwrap();
        peers.check(2, 9).unwrap();
        assert_eq!(KnownPeers::open(&directory).unwrap().get(2), Some(9));
    }
}
