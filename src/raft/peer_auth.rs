//! Peer authentication: members prove to each other that they know the cluster secret.
//!
//! The cluster id names a cluster; it is not a secret (it is in every config file and log). A
//! cluster whose members are given a secret (`cluster-secret-file`) admits a peer connection
//! only after a challenge-response in the handshake ([`super::tcp`]), in which each side proves
//! it knows the secret without sending it:
//!
//! 1. The dialer sends a random 32-byte challenge in its `Hello`.
//! 2. The listener answers with its own challenge and its proof: HMAC-SHA256 under the secret of
//!    the listener's role label and the [`Transcript`] (protocol version, cluster id, both node
//!    ids and both challenges).
//! 3. The dialer checks that proof, and answers with its own, under the dialer's role label.
//! 4. The listener checks it, and only then looks at the dialer's incarnation (so a stranger
//!    cannot make a member record one) and accepts.
//!
//! Both challenges are fresh on every connection, so a recorded proof is worth nothing on the
//! next; the role labels keep a listener's proof from being replayed as a dialer's; the node ids
//! keep a proof made for one pair of members from serving another.
//!
//! Both sides must agree on whether there is a secret: a member with one refuses a peer without,
//! and the other way round, so that a misconfigured member is refused loudly rather than
//! quietly trusted. Every refusal is logged on both sides with its reason and counted
//! ([`PeerAuthentication::refusals`], INFO's `concord_peer_auth_refusals`).
//!
//! Caveat: the secret authenticates the handshake, not the bytes after it. An attacker who can
//! rewrite traffic on the path between two members (not one who can only reach the peer port)
//! could take over a connection after it was accepted; against that, the peer link needs TLS.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use ring::hmac;

use super::NodeId;
use crate::error::{Error, Result};

/// A handshake challenge: random bytes drawn for one connection.
pub type Challenge = [u8; 32];

/// A proof: HMAC-SHA256 of a role label and a [`Transcript`] under the cluster secret.
pub type Proof = [u8; 32];

/// The shortest secret accepted, in bytes.
pub const SECRET_BYTES_MIN: usize = 16;

/// The longest secret file read, in bytes: a secret is a short line, not a document.
const SECRET_FILE_BYTES_MAX: u64 = 4096;

/// Which side of a handshake made a proof; part of what is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The node that opened the connection.
    Dialer,
    /// The node that accepted it.
    Listener,
}

impl Role {
    fn label(self) -> &'static [u8] {
        match self {
            Role::Dialer => b"concord peer handshake: dialer\0",
            Role::Listener => b"concord peer handshake: listener\0",
        }
    }
}

/// What both sides of one handshake agree on, and so what each proof covers.
#[derive(Clone, Copy, Debug)]
pub struct Transcript<'a> {
    /// The peer protocol version both speak.
    pub protocol_version: u32,
    /// The cluster both belong to.
    pub cluster_id: &'a str,
    /// The dialer's node id.
    pub from: NodeId,
    /// The listener's node id.
    pub to: NodeId,
    /// The dialer's challenge.
    pub dialer_challenge: &'a Challenge,
    /// The listener's challenge.
    pub listener_challenge: &'a Challenge,
}

impl Transcript<'_> {
    /// The signed bytes: every field at a fixed width or with its length, so that no two
    /// transcripts share an encoding.
    fn message(&self, role: Role) -> Vec<u8> {
        let mut message = Vec::with_capacity(128 + self.cluster_id.len());
        message.extend_from_slice(role.label());
        message.extend_from_slice(&self.protocol_version.to_be_bytes());
        message.extend_from_slice(&(self.cluster_id.len() as u64).to_be_bytes());
        message.extend_from_slice(self.cluster_id.as_bytes());
        message.extend_from_slice(&self.from.to_be_bytes());
        message.extend_from_slice(&self.to.to_be_bytes());
        message.extend_from_slice(self.dialer_challenge);
        message.extend_from_slice(self.listener_challenge);
        message
    }
}

/// The cluster secret, as a key; its bytes are never logged or sent.
pub struct ClusterSecret {
    key: hmac::Key,
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ClusterSecret(..)")
    }
}

impl ClusterSecret {
    /// A secret of the given bytes; at least [`SECRET_BYTES_MIN`] of them.
    pub fn new(secret: &[u8]) -> Result<ClusterSecret> {
        if secret.len() < SECRET_BYTES_MIN {
            return Err(Error::Config(format!(
                "cluster-secret-file: the secret is {} bytes long, it must be at least \
                 {SECRET_BYTES_MIN} (for example the output of `openssl rand -hex 32`)",
                secret.len()
            )));
        }
        Ok(ClusterSecret { key: hmac::Key::new(hmac::HMAC_SHA256, secret) })
    }

    /// Reads the secret from `path`: the file's bytes without the line ending after them.
    /// A file others may read is accepted, with a warning, as ssh does not.
    pub fn load(path: &Path) -> Result<ClusterSecret> {
        let unreadable = |error: std::io::Error| {
            Error::Config(format!("cluster-secret-file {}: {error}", path.display()))
        };
        let metadata = std::fs::metadata(path).map_err(unreadable)?;
        if metadata.len() > SECRET_FILE_BYTES_MAX {
            return Err(Error::Config(format!(
                "cluster-secret-file {}: {} bytes is too long for a secret (at most \
                 {SECRET_FILE_BYTES_MAX})",
                path.display(),
                metadata.len()
            )));
        }
        warn_if_others_may_read(path, &metadata);
        let bytes = std::fs::read(path).map_err(unreadable)?;
        let secret = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
        ClusterSecret::new(secret)
            .map_err(|error| Error::Config(format!("{error} (in {})", path.display())))
    }

    /// This side's proof for `transcript`.
    pub fn prove(&self, role: Role, transcript: &Transcript<'_>) -> Proof {
        let tag = hmac::sign(&self.key, &transcript.message(role));
        let mut proof = [0u8; 32];
        proof.copy_from_slice(tag.as_ref());
        proof
    }

    /// Whether `proof` is the other side's proof for `transcript`, compared in constant time.
    pub fn verify(&self, role: Role, transcript: &Transcript<'_>, proof: &Proof) -> bool {
        hmac::verify(&self.key, &transcript.message(role), proof).is_ok()
    }
}

#[cfg(unix)]
fn warn_if_others_may_read(path: &Path, metadata: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            "cluster-secret-file {} may be read by other users (mode {:o}); chmod 600 it",
            path.display(),
            mode & 0o777
        );
    }
}

#[cfg(not(unix))]
fn warn_if_others_may_read(_path: &Path, _metadata: &std::fs::Metadata) {}

/// A fresh challenge from the operating system's random source.
pub fn challenge() -> std::io::Result<Challenge> {
    let mut challenge = [0u8; 32];
    getrandom::fill(&mut challenge)
        .map_err(|error| std::io::Error::other(format!("no random challenge: {error}")))?;
    Ok(challenge)
}

/// A node's side of peer authentication: its secret, if it has one, and the count of
/// handshakes refused for want of a proof.
#[derive(Debug, Default)]
pub struct PeerAuthentication {
    secret: Option<ClusterSecret>,
    refusals: AtomicU64,
}

impl PeerAuthentication {
    /// Authentication with `secret`, or none (every peer of the cluster id is admitted).
    pub fn new(secret: Option<ClusterSecret>) -> PeerAuthentication {
        PeerAuthentication { secret, refusals: AtomicU64::new(0) }
    }

    /// Whether this node requires, and gives, proofs.
    pub fn has_secret(&self) -> bool {
        self.secret.is_some()
    }

    /// This node's proof for `transcript` in `role`, if it has a secret.
    pub fn prove(&self, role: Role, transcript: &Transcript<'_>) -> Option<Proof> {
        self.secret.as_ref().map(|secret| secret.prove(role, transcript))
    }

    /// Checks the proof the other side sent, which made it in `role`: `Err` holds why the
    /// other side is refused, for both sides' logs, and is counted.
    pub fn check(
        &self,
        role: Role,
        transcript: &Transcript<'_>,
        proof: Option<&Proof>,
    ) -> std::result::Result<(), String> {
        let peer = match role {
            Role::Dialer => transcript.from,
            Role::Listener => transcript.to,
        };
        let refusal = match (&self.secret, proof) {
            (None, None) => return Ok(()),
            (Some(secret), Some(proof)) if secret.verify(role, transcript, proof) => return Ok(()),
            (Some(_), Some(_)) => format!(
                "node {peer} failed the cluster secret challenge: its cluster-secret-file holds \
                 another secret"
            ),
            (Some(_), None) => format!(
                "node {peer} has no cluster secret, but node {} requires one (set \
                 cluster-secret-file on every member)",
                self_id(role, transcript)
            ),
            (None, Some(_)) => format!(
                "node {peer} requires a cluster secret, but node {} has none (set \
                 cluster-secret-file on every member)",
                self_id(role, transcript)
            ),
        };
        self.refused();
        Err(refusal)
    }

    /// Counts a handshake refused for authentication, by either side.
    pub fn refused(&self) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// How many peer handshakes this node refused, or was refused in, for authentication.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }
}

/// The node id of the side checking a proof made in `role`.
fn self_id(role: Role, transcript: &Transcript<'_>) -> NodeId {
    match role {
        Role::Dialer => transcript.to,
        Role::Listener => transcript.from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript<'a>(dialer: &'a Challenge, listener: &'a Challenge) -> Transcript<'a> {
        Transcript {
            protocol_version: 7,
            cluster_id: "test",
            from: 1,
            to: 2,
            dialer_challenge: dialer,
            listener_challenge: listener,
        }
    }

    fn secret(text: &str) -> PeerAuthentication {
        PeerAuthentication::new(Some(ClusterSecret::new(text.as_bytes()).unwrap()))
    }

    #[test]
    fn a_proof_by_the_same_secret_passes_and_is_bound_to_role_and_transcript() {
        let (dialer, listener) = ([1u8; 32], [2u8; 32]);
        let node = secret("sixteen bytes at least");
        let good = transcript(&dialer, &listener);
        let proof = node.prove(Role::Dialer, &good).unwrap();
        assert_eq!(node.check(Role::Dialer, &good, Some(&proof)), Ok(()));
        // The same proof for the other role, other challenges or other members fails.
        assert!(node.check(Role::Listener, &good, Some(&proof)).is_err());
        let other = [3u8; 32];
        assert!(node.check(Role::Dialer, &transcript(&dialer, &other), Some(&proof)).is_err());
        let swapped = Transcript { from: 2, to: 1, ..good };
        assert!(node.check(Role::Dialer, &swapped, Some(&proof)).is_err());
        let elsewhere = Transcript { cluster_id: "tes", ..good };
        assert!(node.check(Role::Dialer, &elsewhere, Some(&proof)).is_err());
        assert_eq!(node.refusals(), 4);
    }

    #[test]
    fn another_secret_or_a_missing_one_on_either_side_is_refused_with_the_reason() {
        let (dialer, listener) = ([1u8; 32], [2u8; 32]);
        let t = transcript(&dialer, &listener);
        let ours = secret("the secret of this cluster");
        let theirs = secret("the secret of another cluster");
        let none = PeerAuthentication::new(None);

        let wrong = theirs.prove(Role::Dialer, &t);
        let reason = ours.check(Role::Dialer, &t, wrong.as_ref()).unwrap_err();
        assert!(reason.contains("node 1 failed the cluster secret challenge"), "{reason}");

        let reason = ours.check(Role::Dialer, &t, None).unwrap_err();
        assert!(reason.contains("node 1 has no cluster secret, but node 2 requires one"));

        let given = ours.prove(Role::Listener, &t);
        let reason = none.check(Role::Listener, &t, given.as_ref()).unwrap_err();
        assert!(reason.contains("node 2 requires a cluster secret, but node 1 has none"));

        assert_eq!(none.check(Role::Dialer, &t, None), Ok(()));
        assert_eq!((ours.refusals(), none.refusals(), theirs.refusals()), (2, 1, 0));
    }

    #[test]
    fn a_short_secret_is_refused_and_the_file_loses_its_line_ending() {
        let error = ClusterSecret::new(b"short").unwrap_err().to_string();
        assert!(error.contains("5 bytes long, it must be at least 16"), "{error}");

        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("secret");
        std::fs::write(&path, "0123456789abcdef0123\n").unwrap();
        let from_file = PeerAuthentication::new(Some(ClusterSecret::load(&path).unwrap()));
        let given = secret("0123456789abcdef0123");
        let (dialer, listener) = ([7u8; 32], [9u8; 32]);
        let t = transcript(&dialer, &listener);
        let proof = given.prove(Role::Dialer, &t);
        assert_eq!(from_file.check(Role::Dialer, &t, proof.as_ref()), Ok(()));

        let missing = ClusterSecret::load(&directory.path().join("absent")).unwrap_err();
        assert!(missing.to_string().contains("cluster-secret-file"), "{missing}");
        std::fs::write(&path, vec![b'x'; 5000]).unwrap();
        let long = ClusterSecret::load(&path).unwrap_err().to_string();
        assert!(long.contains("too long for a secret"), "{long}");
    }

    #[test]
    fn challenges_are_fresh() {
        assert_ne!(challenge().unwrap(), challenge().unwrap());
    }
}
