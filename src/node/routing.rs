//! Routing: where a write or a read is carried out, how often it is tried, and forwarding.
//!
//! [`Node::write`] and [`Node::read_view`], the two entry points every front end uses, live
//! here because a lone node runs them too: on a lone node or the leader a write enters the
//! commit pipeline (`pipeline`), and a read round confirms without any network.
//!
//! Writes: a client's writes go to whoever leads now. On the leader they enter the commit
//! pipeline; on a follower they travel to the leader as one [`PeerRequest::Forward`] and its
//! replies come back to the client's own connection. With no leader known (an election, a
//! partition) the writes wait for one, up to `leader_wait_ms`, and are then refused as not
//! applied. A write is retried on another leader only when the first attempt certainly did not
//! apply it (the peer was unreachable, or answered "not the leader"); a forwarded write whose
//! answer was lost is reported as "outcome unknown", never retried, so nothing is applied
//! twice.
//!
//! Reads (ReadIndex): a read must observe every write acknowledged before it began. The node
//! asks the leader for its commit index after the leader confirmed with a quorum that it still
//! leads (openraft's `get_read_log_id`, one heartbeat round), waits until its own state
//! machine applied that index, and reads on a view at or after it. One task runs these rounds
//! one at a time, and every read that arrives while a round is running waits for the next one,
//! so all the reads waiting on a node share one round (a round that began before a read
//! arrived could miss a write acknowledged just before the read). On the leader the round
//! needs no forwarding; a lone node confirms without any network.
//!
//! Read time: expiry is judged by the leader's clock on every member, as writes are (each
//! entry carries `leader_time_ms`). The round's answer carries the leader's clock, taken once
//! it confirmed its leadership ([`ReadPoint`]); the reading node advances it by its own
//! monotonic time since the answer arrived, never by its wall clock, within the bounds
//! `node::time` sets (at most a fixed lead past the newest entry in its view, so that a later
//! leader starts above it). So a member whose clock runs ahead does not call acknowledged keys
//! gone, one whose clock runs behind does not show keys the leader expired, and neither a
//! leader whose clock steps back nor a change of leader hands out an earlier time. Counting
//! from the answer's arrival rather than from the request makes the read's time at most the
//! leader's clock at the moment it reads (for equal clock rates), so no write proposed after
//! the read is stamped earlier than it. docs/architecture.md states what drift remains.
//!
//!
//! Caveat: openraft 0.9 has no leader step-down on lost quorum, so a leader cut off from the
//! majority keeps the role until it hears a higher term; its clients' writes wait for their
//! commit up to `commit_wait_ms` and are then reported as "outcome unknown", and its reads
//! fail, since a read round needs a quorum.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use openraft::error::RaftError;
use tokio::sync::{mpsc, oneshot};

use super::{Node, NodeError, ReadView};
use crate::command::keys::KeyWrite;
use crate::command::Write;
use crate::logging::{Episode, Report};
use crate::raft::peer::{CallError, PeerRequest, PeerResponse, ReadPoint};
use crate::raft::NodeId;
use crate::resp::Frame;
use crate::state_machine::WriteRequest;

/// The most reads that wait for one read round; more wait for the next (bounded queue).
pub(super) const READ_WAITERS_MAX: usize = 65_536;

/// How long a node waits between attempts to reach a leader that did not answer.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// How long a forwarded membership change may take (a learner copying a large data set).
const ADMIN_TIMEOUT: Duration = Duration::from_secs(3600);

/// A read waiting for its read round.
pub(super) type ReadWaiter = oneshot::Sender<Result<ReadRound, NodeError>>;

/// What one read round told its reads.
#[derive(Clone, Copy, Debug)]
pub(super) struct ReadRound {
    point: ReadPoint,
    /// When the answer arrived on this node: the leader's time is advanced from here.
    answered: Instant,
}

impl Node {
    /// Proposes writes and returns their replies, in order, once they were committed (durable
    /// on a majority) and applied; on a follower, through the leader.
    pub async fn write(&self, requests: Vec<WriteRequest>) -> Result<Vec<Frame>, NodeError> {
        if let Some(reason) = self.fatal.borrow().clone() {
            return Err(NodeError::StorageFailed(reason));
        }
        if !self.has_peers() {
            return self.propose(requests).await;
        }
        self.on_leader(|leader| {
            let requests = requests.clone();
            async move {
                if leader != self.routing.id {
                    return match self.forward(leader, PeerRequest::Forward(requests)).await? {
                        PeerResponse::Forward(result) => result,
                        other => Err(mismatch(leader, &other)),
                    };
                }
                if self.is_transferring() {
                    return Err(NodeError::NotLeader);
                }
                self.propose(requests).await
            }
        })
        .await
    }

    /// A view that reflects every write acknowledged before this call began (see the module
    /// doc: one read round, then this node's apply catches up), with the leader's time.
    pub async fn read_view(&self) -> Result<ReadView, NodeError> {
        let (waiter, receiver) = oneshot::channel();
        self.routing.read_rounds.send(waiter).await.map_err(|_| NodeError::Stopped)?;
        let round = receiver.await.map_err(|_| NodeError::Stopped)??;
        let required = round.point.index;
        if self.applied_index() < required {
            let waited = self
                .raft
                .wait(Some(self.routing.leader_wait))
                .applied_index_at_least(Some(required), "read index")
                .await;
            if waited.is_err() {
                return Err(NodeError::Unavailable(format!(
                    "this node did not apply entry {required} within {} ms",
                    self.routing.leader_wait.as_millis()
                )));
            }
        }
        let mut view = self.shared.views.load();
        if view.index < required {
            self.shared.progress.views_wanted.store(true, Ordering::Relaxed);
            self.shared.publish();
            view = self.shared.views.load();
            assert!(view.index >= required, "a view was published below the read index");
        }
        let since_answer_ms = u64::try_from(round.answered.elapsed().as_millis()).unwrap_or(0);
        let leader_now_ms = round.point.leader_time_ms.saturating_add(since_answer_ms);
        let now_ms = self.routing.time.read_time_ms(leader_now_ms, view.time_ms);
        Ok(ReadView { view, now_ms })
    }

    /// One read round: the index every read waiting now must observe, and the leader's time.
    async fn read_index(&self) -> Result<ReadPoint, NodeError> {
        self.on_leader(|leader| async move {
            if leader != self.routing.id {
                return match self.forward(leader, PeerRequest::ReadIndex).await {
                    Ok(PeerResponse::ReadIndex(result)) => result,
                    Ok(other) => Err(mismatch(leader, &other)),
                    // A read changes nothing, so a lost round is simply tried again.
                    Err(NodeError::OutcomeUnknown(_)) => Err(NodeError::NotLeader),
                    Err(error) => Err(error),
                };
            }
            self.leader_read_index().await
        })
        .await
    }

    /// The leader's side of a read round, for its own reads and for its followers'
    /// (`PeerRequest::ReadIndex`): confirms leadership with a quorum (one heartbeat round) and
    /// returns the index every read that began before this call must observe, with this
    /// leader's time once confirmed.
    ///
    /// The index is never below this node's last log index, taken before the check. A new
    /// leader's read index is the first entry of its term or the commit index, which is not
    /// persisted; before the log store stopped openraft from restoring a restarted leader in
    /// its old term (see `raft::log_store`'s `read_vote`), either could lie below entries
    /// committed and acknowledged before the crash, and the floor stays as a second guard.
    /// The leader's log holds every committed entry, so its last index covers them; waiting
    /// for it costs at most the commit of entries already appended.
    ///
    /// The time is the leader's time (`node::time`): its clock, but never below the start of
    /// its term plus the read-time lead, and never going back. When no entry applied here
    /// for half the lead, the round first commits a tick, so that the reads it answers,
    /// capped at the lead past their views, run at the clock; a tick that fails costs only
    /// that freshness.
    ///
    /// A leader handing over its leadership runs no round: the heartbeats would renew the
    /// followers' leases, and they would refuse the target's vote.
    pub(super) async fn leader_read_index(&self) -> Result<ReadPoint, NodeError> {
        if self.is_transferring() {
            return Err(NodeError::NotLeader);
        }
        let floor = self.raft.metrics().borrow().last_log_index.unwrap_or(0);
        match self.raft.get_read_log_id().await {
            Ok((read_log_id, _)) => {
                let mut index = read_log_id.map_or(0, |log_id| log_id.index).max(floor);
                if self.routing.time.lags(self.applied_time_ms()) && self.tick().await {
                    index = index.max(self.applied_index());
                }
                let term = self.raft.metrics().borrow().current_term;
                let leader_time_ms =
                    self.routing.time.leader_time_ms(term, self.routing.leader_wait).await?;
                Ok(ReadPoint { index, leader_time_ms })
            }
            Err(RaftError::APIError(_)) => Err(NodeError::NotLeader),
            Err(RaftError::Fatal(fatal)) => Err(super::fatal_error(fatal)),
        }
    }

    /// The read round's answer while this node's log waits for disk space (openraft's core
    /// waits with it, so the round itself would wait); never resolves while the disk is not
    /// full. A lone node reads at its applied index: nothing can commit without its log, and
    /// a write is acknowledged only after it was applied, so that index covers every write
    /// acknowledged before the read. A cluster member cannot apply what the others commit
    /// meanwhile, so its reads fail, and the client reads through another member.
    async fn read_point_on_a_full_disk(&self) -> Result<ReadPoint, NodeError> {
        let mut disk_full = self.disk_full.clone();
        if disk_full.wait_for(Option::is_some).await.is_err() {
            return std::future::pending().await;
        }
        if self.has_peers() {
            return Err(NodeError::Unavailable(format!(
                "this member cannot write its log in {} (the disk is full), so it cannot \
                 catch up; read through another member",
                self.data_directory.path().display()
            )));
        }
        let leader_time_ms = self.routing.time.leader_time_now();
        Ok(ReadPoint { index: self.applied_index(), leader_time_ms })
    }

    /// Commits a tick (see `node::time`): an empty `DELETE_EXPIRED` that changes nothing but
    /// the time. Whether it was applied.
    async fn tick(&self) -> bool {
        let tick = Write::Key(KeyWrite::DeleteExpired { keys: Vec::new() });
        self.write(vec![WriteRequest { db: 0, write: tick }]).await.is_ok()
    }

    /// The time of the newest entry this node applied (its newest view's).
    fn applied_time_ms(&self) -> u64 {
        self.shared.views.load().time_ms
    }

    /// Runs `attempt` with the leader's id until it gives an answer other than "not the
    /// leader", which means certainly not done: then the leader may have changed, so the
    /// attempt is made again, on whichever node leads, until `leader_wait` is up.
    pub(super) async fn on_leader<T, Attempt, Outcome>(
        &self,
        mut attempt: Attempt,
    ) -> Result<T, NodeError>
    where
        Attempt: FnMut(NodeId) -> Outcome,
        Outcome: std::future::Future<Output = Result<T, NodeError>>,
    {
        let deadline = Instant::now() + self.routing.leader_wait;
        loop {
            let leader = self.leader_before(deadline).await?;
            match attempt(leader).await {
                Err(NodeError::NotLeader) if Instant::now() < deadline => {
                    tokio::time::sleep(RETRY_PAUSE).await
                }
                Err(NodeError::NotLeader) => return Err(self.no_leader()),
                other => return other,
            }
        }
    }

    /// This node's id in its cluster.
    pub fn id(&self) -> NodeId {
        self.routing.id
    }

    /// Whether other members exist: at start, or added since (a lone node grows into a
    /// cluster without a restart). Then writes are routed to whoever leads.
    pub(super) fn has_peers(&self) -> bool {
        self.routing.had_peers_at_start
            || self.raft.metrics().borrow().membership_config.membership().nodes().nth(1).is_some()
    }

    fn is_transferring(&self) -> bool {
        self.routing.transferring.load(Ordering::Acquire)
    }

    /// The leader this node knows of now, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// The leader, once one is known; waits for one until `deadline`.
    async fn leader_before(&self, deadline: Instant) -> Result<NodeId, NodeError> {
        let mut metrics = self.raft.metrics();
        loop {
            if let Some(leader) = metrics.borrow_and_update().current_leader {
                return Ok(leader);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, metrics.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(NodeError::Stopped),
                Err(_) => return Err(self.no_leader()),
            }
        }
    }

    fn no_leader(&self) -> NodeError {
        NodeError::Unavailable(format!(
            "no leader could be reached within {} ms (an election is under way or a majority is \
             unreachable)",
            self.routing.leader_wait.as_millis()
        ))
    }

    /// Sends `request` to `leader`. Unreachable means certainly not delivered: "not the
    /// leader", so the caller may try again; a lost answer is "outcome unknown".
    pub(super) async fn forward(
        &self,
        leader: NodeId,
        request: PeerRequest,
    ) -> Result<PeerResponse, NodeError> {
        // A membership change waits for a learner to catch up, which takes as long as copying
        // the data set; everything else answers within a commit.
        let timeout = match request {
            PeerRequest::Admin(_) => ADMIN_TIMEOUT,
            _ => self.routing.commit_wait,
        };
        match self.routing.transport.call(leader, request, timeout).await {
            Ok(response) => Ok(response),
            Err(CallError::Unreachable { .. }) => Err(NodeError::NotLeader),
            Err(error @ CallError::Lost { .. }) => {
                Err(NodeError::OutcomeUnknown(error.to_string()))
            }
        }
    }
}

/// Runs read rounds one after another; each answers every read that was waiting when it began.
pub(super) async fn run_read_rounds(node: Node, mut waiters: mpsc::Receiver<ReadWaiter>) {
    let mut batch = Vec::new();
    let mut failing = Episode::default();
    while waiters.recv_many(&mut batch, READ_WAITERS_MAX).await > 0 {
        let result = tokio::select! {
            result = node.read_index() => result,
            result = node.read_point_on_a_full_disk() => result,
        };
        let result = result.map(|point| ReadRound { point, answered: Instant::now() });
        report_read_round(&mut failing, &result);
        for waiter in batch.drain(..) {
            let _ = waiter.send(result.clone());
        }
    }
}

/// Read rounds fail while no quorum answers (a partition, an election): an expected fault,
/// logged once per episode, with its count when rounds succeed again.
fn report_read_round<T>(failing: &mut Episode, result: &Result<T, NodeError>) {
    let now = Instant::now();
    match result {
        Ok(_) => {
            if let Some(report) = failing.recovered(now) {
                let summary = report.summary();
                tracing::warn!("read rounds succeed again: they failed {summary}");
            }
        }
        Err(error) => match failing.fault(now) {
            Some(Report::Began) => {
                tracing::warn!(%error, "a read round failed; reads fail until one succeeds")
            }
            Some(report) => {
                let summary = report.summary();
                tracing::warn!(%error, "read rounds still fail: failed {summary}");
            }
            None => {}
        },
    }
}

/// The error for a peer that answered with a response of the wrong kind.
pub(super) fn mismatch(peer: NodeId, response: &PeerResponse) -> NodeError {
    NodeError::OutcomeUnknown(format!("node {peer} answered with a {} response", response.kind()))
}
