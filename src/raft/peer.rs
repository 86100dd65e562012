//! What nodes say to each other, independent of how the bytes travel.
//!
//! A node talks to a peer with requests ([`PeerRequest`]) and gets one response per request
//! ([`PeerResponse`]). Three requests are openraft's own RPCs (append entries, vote, install a
//! snapshot chunk); the others serve clients on followers:
//! - [`PeerRequest::Forward`]: a follower hands a run of client writes to the leader, which
//!   proposes them as its own and answers with their replies (or the error that stopped them);
//! - [`PeerRequest::ReadIndex`]: a follower asks the leader for the index a linearizable read
//!   must observe; the leader confirms its leadership with a heartbeat round first, and answers
//!   with that index and its clock ([`ReadPoint`]), so that the follower judges expiry by the
//!   leader's time, not its own;
//! - [`PeerRequest::TimeoutNow`]: the leader asks a caught-up follower to start an election at
//!   once (leadership transfer).
//!
//! A [`Transport`] carries requests to a peer and brings the response back; [`PeerHandler`]
//! answers requests that arrive. TCP between processes is one transport (`tcp`), Maelstrom's
//! stdin/stdout another, and the in-process test network a third: all three share the request
//! vocabulary and the handler, so consensus code is the same whatever carries it.
//!
//! Invariant: a transport reports [`CallError::Unreachable`] only when the request certainly
//! did not reach the peer; anything that may have been delivered is [`CallError::Lost`], so
//! that a forwarded write whose connection broke is reported as "outcome unknown".

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use super::identity::Incarnation;
use super::{NodeError, NodeId, Raft, TypeConfig};
use crate::resp::Frame;
use crate::state_machine::WriteRequest;

/// How long [`status`] waits for openraft's core to name the commit index.
const CORE_ANSWER_WAIT: Duration = Duration::from_millis(250);

/// A boxed future, as the transport and handler traits return (they are used as objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A request from one node to another.
#[derive(Debug, Serialize, Deserialize)]
pub enum PeerRequest {
    /// Openraft's replication of entries (and heartbeats), leader to follower.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Openraft's request for a vote, candidate to voter.
    Vote(VoteRequest<NodeId>),
    /// One chunk of a snapshot, leader to a follower that is too far behind for the log.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Client writes for the leader to propose.
    Forward(Vec<WriteRequest>),
    /// The read index of a linearizable read, from the leader.
    ReadIndex,
    /// Start an election now (leadership transfer).
    TimeoutNow,
    /// A membership change or leadership transfer, for the leader to carry out.
    Admin(AdminRequest),
    /// The peer's own view of itself (`CONCORD.STATUS` gathers every member's).
    Status,
    /// The incarnation of the peer's data directory (see `raft::identity`), which the leader
    /// records in the membership when it adds the peer.
    Incarnation,
}

/// An administrative change, carried out by the leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminRequest {
    /// Add a node: first as a learner that catches up from a snapshot and the log, then as a
    /// voter.
    AddNode {
        /// The new node's id.
        id: NodeId,
        /// The new node's peer address.
        address: String,
    },
    /// Remove a node from the membership (voter or learner).
    RemoveNode {
        /// The node to remove.
        id: NodeId,
    },
    /// Hand leadership to a caught-up voter.
    TransferLeader {
        /// The voter to become leader.
        to: NodeId,
    },
}

/// What a read round gives a read: the index it must observe, and the leader's time then.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadPoint {
    /// The log index the reading node must have applied before it reads.
    pub index: u64,
    /// The leader's clock (Unix milliseconds) once it confirmed its leadership, never below
    /// any time it handed out or applied before. The reading node advances it by its own
    /// monotonic time since the answer arrived and judges expiry by that.
    pub leader_time_ms: u64,
}

/// One node's view of itself, as `CONCORD.STATUS` and INFO replication show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node's id.
    pub id: NodeId,
    /// `leader`, `follower`, `candidate`, `learner` or `shutdown`.
    pub role: String,
    /// The node's current term.
    pub term: u64,
    /// The leader the node knows of, or `None` during an election.
    pub leader: Option<NodeId>,
    /// The index of the last entry in the node's log.
    pub last_log_index: u64,
    /// The highest index the node knows to be committed.
    pub commit_index: u64,
    /// The highest index the node has applied.
    pub applied_index: u64,
    /// The index the node's latest snapshot covers (0 if none).
    pub snapshot_index: u64,
    /// The voters of the current membership (two sets during a joint change, merged).
    pub voters: Vec<NodeId>,
    /// Every member and its address, as the membership carries it.
    pub members: Vec<(NodeId, String)>,
    /// On a leader: each other member's matched index.
    pub matched: Vec<(NodeId, u64)>,
    /// The port the node serves Redis clients on, 0 if it has none (a Maelstrom node), so
    /// that INFO and ROLE can name the leader a Redis tool would connect to: its host is the
    /// one in the member's peer address.
    pub client_port: u16,
}

/// The answer to a [`PeerRequest`], variant by variant.
#[derive(Debug, Serialize, Deserialize)]
pub enum PeerResponse {
    /// Answers `PeerRequest::AppendEntries`.
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// Answers `PeerRequest::Vote`.
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// Answers `PeerRequest::InstallSnapshot`.
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// The forwarded writes' replies, in request order, or why the peer could not propose them.
    Forward(Result<Vec<Frame>, NodeError>),
    /// The index to wait for and the leader's time, or why the peer cannot give them (it is
    /// not the leader).
    ReadIndex(Result<ReadPoint, NodeError>),
    /// Whether the peer started an election.
    TimeoutNow(Result<(), NodeError>),
    /// The leader's text for the change made, or why it was not made.
    Admin(Result<String, NodeError>),
    /// The peer's view of itself.
    Status(Result<NodeStatus, NodeError>),
    /// The peer's data directory incarnation.
    Incarnation(Incarnation),
}

impl PeerResponse {
    /// The variant's name, for errors about a response that does not match its request.
    pub fn kind(&self) -> &'static str {
        match self {
            PeerResponse::AppendEntries(_) => "append-entries",
            PeerResponse::Vote(_) => "vote",
            PeerResponse::InstallSnapshot(_) => "install-snapshot",
            PeerResponse::Forward(_) => "forward",
            PeerResponse::ReadIndex(_) => "read-index",
            PeerResponse::TimeoutNow(_) => "timeout-now",
            PeerResponse::Admin(_) => "admin",
            PeerResponse::Status(_) => "status",
            PeerResponse::Incarnation(_) => "incarnation",
        }
    }
}

/// Why a call to a peer brought no response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The request certainly did not reach the peer (no connection, refused handshake).
    #[error("node {target} is unreachable: {reason}")]
    Unreachable {
        /// The peer called.
        target: NodeId,
        /// Why it could not be reached.
        reason: String,
    },
    /// The request may or may not have reached the peer (connection lost, timed out).
    #[error("no answer from node {target}: {reason}")]
    Lost {
        /// The peer called.
        target: NodeId,
        /// Why no answer came.
        reason: String,
    },
}

/// Carries requests to peers. Implementations must bound what they queue and must time out
/// every call at `timeout`.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` to `target` and waits at most `timeout` for its response.
    fn call(
        &self,
        target: NodeId,
        request: PeerRequest,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<PeerResponse, CallError>>;

    /// Tells the transport where the cluster membership says `target` listens; a transport
    /// that has its own address for `target` keeps it.
    fn learn_address(&self, _target: NodeId, _address: &str) {}

    /// Forgets the incarnation the transport knows for `target` (see `raft::identity`): the
    /// operator is adding it again, maybe on a new data directory. A transport that checks no
    /// incarnations has nothing to forget.
    fn forget_incarnation(&self, _target: NodeId) -> crate::error::Result<()> {
        Ok(())
    }

    /// Whether a peer refused this node because it knows this node's id with another data
    /// directory (see `raft::identity`).
    fn refused_as_replaced(&self) -> bool {
        false
    }
}

/// What only the node can answer: forwarded writes (the node owns the commit pipeline) and
/// administrative changes.
pub trait NodeService: Send + Sync + 'static {
    /// Proposes writes on this node, which must be the leader (never forwards again).
    fn write(
        &self,
        requests: Vec<WriteRequest>,
    ) -> BoxFuture<'static, Result<Vec<Frame>, NodeError>>;
    /// Carries out an administrative change on this node, which must be the leader.
    fn admin(&self, request: AdminRequest) -> BoxFuture<'static, Result<String, NodeError>>;
    /// The read index of a linearizable read, confirmed by this node as leader with a quorum,
    /// and this leader's time.
    fn read_index(&self) -> BoxFuture<'static, Result<ReadPoint, NodeError>>;
    /// The incarnation of this node's data directory.
    fn incarnation(&self) -> Incarnation;
    /// The port this node serves Redis clients on (0 if none), for [`NodeStatus::client_port`].
    fn client_port(&self) -> u16;
}

/// Answers the requests peers send: openraft's RPCs go to openraft, the others to the node.
#[derive(Clone)]
pub struct PeerHandler {
    raft: Raft,
    service: Arc<dyn NodeService>,
}

impl PeerHandler {
    /// Serves peers' requests to `raft` and to the node through `service`.
    pub fn new(raft: Raft, service: Arc<dyn NodeService>) -> PeerHandler {
        PeerHandler { raft, service }
    }

    /// Answers one request; runs as long as the request takes (a forwarded write waits for its
    /// commit), so transports run each request on its own task.
    pub async fn handle(&self, request: PeerRequest) -> PeerResponse {
        match request {
            PeerRequest::AppendEntries(request) => {
                PeerResponse::AppendEntries(self.raft.append_entries(request).await)
            }
            PeerRequest::Vote(request) => PeerResponse::Vote(self.raft.vote(request).await),
            PeerRequest::InstallSnapshot(request) => {
                PeerResponse::InstallSnapshot(self.raft.install_snapshot(request).await)
            }
            PeerRequest::Forward(requests) => {
                PeerResponse::Forward(self.service.write(requests).await)
            }
            PeerRequest::ReadIndex => PeerResponse::ReadIndex(self.service.read_index().await),
            PeerRequest::TimeoutNow => PeerResponse::TimeoutNow(
                self.raft.trigger().elect().await.map_err(|fatal| NodeError::Stopped.or(fatal)),
            ),
            PeerRequest::Admin(request) => PeerResponse::Admin(self.service.admin(request).await),
            PeerRequest::Status => {
                PeerResponse::Status(status(&self.raft, false, self.service.client_port()).await)
            }
            PeerRequest::Incarnation => PeerResponse::Incarnation(self.service.incarnation()),
        }
    }
}

impl NodeError {
    /// The error of a consensus engine that stopped.
    fn or(self, fatal: openraft::error::Fatal<NodeId>) -> NodeError {
        match fatal {
            openraft::error::Fatal::Stopped => self,
            other => NodeError::OutcomeUnknown(other.to_string()),
        }
    }
}

/// This node's [`NodeStatus`], from openraft's metrics and state.
///
/// The commit index comes from openraft's core, which does not answer while it waits for an
/// append to a full disk (`raft::log_store`); after `CORE_ANSWER_WAIT` the applied index,
/// never above the commit index, stands in for it, at once if `core_waits` says the caller
/// knows the core waits (the question would only be answered, late, into the void). The
/// question goes as a bare `external_request`, not openraft's `with_raft_state`, which logs an
/// ERROR when it answers a caller that stopped waiting: here that is expected, not a fault.
pub async fn status(
    raft: &Raft,
    core_waits: bool,
    client_port: u16,
) -> Result<NodeStatus, NodeError> {
    let committed = if core_waits {
        Err(())
    } else {
        let (answer, committed) = tokio::sync::oneshot::channel();
        raft.external_request(move |state| {
            // Fails only when the caller gave up waiting, which it may.
            let _ = answer.send(state.committed.map_or(0, |log_id| log_id.index));
        });
        tokio::time::timeout(CORE_ANSWER_WAIT, committed).await.map_err(drop)
    };
    let metrics = raft.metrics().borrow().clone();
    let commit_index = match committed {
        // The core dropped the question unanswered: it stopped.
        Ok(answer) => answer.map_err(|_| NodeError::Stopped)?,
        Err(()) => metrics.last_applied.map_or(0, |log_id| log_id.index),
    };
    let membership = metrics.membership_config.membership();
    let voters: Vec<NodeId> = membership.voter_ids().collect();
    let role = match metrics.state {
        openraft::ServerState::Leader => "leader",
        openraft::ServerState::Candidate => "candidate",
        openraft::ServerState::Follower if voters.contains(&metrics.id) => "follower",
        openraft::ServerState::Follower | openraft::ServerState::Learner => "learner",
        openraft::ServerState::Shutdown => "shutdown",
    };
    let matched = metrics
        .replication
        .as_ref()
        .map(|replication| {
            replication
                .iter()
                .filter(|(id, _)| **id != metrics.id)
                .map(|(id, log_id)| (*id, log_id.map_or(0, |log_id| log_id.index)))
                .collect()
        })
        .unwrap_or_default();
    Ok(NodeStatus {
        id: metrics.id,
        role: role.to_string(),
        term: metrics.current_term,
        leader: metrics.current_leader,
        last_log_index: metrics.last_log_index.unwrap_or(0),
        commit_index,
        applied_index: metrics.last_applied.map_or(0, |log_id| log_id.index),
        snapshot_index: metrics.snapshot.map_or(0, |log_id| log_id.index),
        voters,
        members: membership
            .nodes()
            .map(|(id, node)| {
                (*id, super::identity::parse_member_address(&node.addr).0.to_string())
            })
            .collect(),
        matched,
        client_port,
    })
}
