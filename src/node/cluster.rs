//! The node as one member of several: routing writes to the leader, linearizable reads on any
//! member, membership changes and status.
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
//! Membership: `CONCORD.ADDNODE`, `CONCORD.REMOVENODE` and `CONCORD.TRANSFERLEADER` are carried
//! out by the leader, whichever node received them. A node is added as a learner first and
//! promoted to voter only once it caught up, so a slow newcomer never holds up commits.
//! Leadership transfer: the leader stops proposing, running read rounds and sending
//! heartbeats (all three renew the followers' leader leases, and a follower refuses votes
//! while its lease lasts), waits until the target has every entry, and asks the target to
//! stand for election at once ([`PeerRequest::TimeoutNow`]) until it wins. Requests that
//! arrive meanwhile wait for the new leader, as during an election.
//!
//! Caveat: openraft 0.9 has no leader step-down on lost quorum, so a leader cut off from the
//! majority keeps the role until it hears a higher term; its clients' writes wait for their
//! commit up to `commit_wait_ms` and are then reported as "outcome unknown", and its reads
//! fail, since a read round needs a quorum.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};
use tokio::sync::{mpsc, oneshot};

use super::{Node, NodeError, ReadView};
use crate::command::keys::KeyWrite;
use crate::command::Write;
use crate::logging::{Episode, Report};
use crate::raft::peer::{
    AdminRequest, CallError, NodeStatus, PeerRequest, PeerResponse, ReadPoint,
};
use crate::raft::{identity, NodeId};
use crate::resp::Frame;
use crate::state_machine::WriteRequest;

/// The most reads that wait for one read round; more wait for the next (bounded queue).
pub(super) const READ_WAITERS_MAX: usize = 65_536;

/// How long a node waits between attempts to reach a leader that did not answer.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// How long a member takes to answer a status request before it is shown unreachable.
const STATUS_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a forwarded membership change may take (a learner copying a large data set).
const ADMIN_TIMEOUT: Duration = Duration::from_secs(3600);

/// How long `CONCORD.ADDNODE` keeps asking a starting node for its data directory's
/// incarnation before it gives up, unchanged.
const ADD_NODE_CONTACT_WAIT: Duration = Duration::from_secs(20);

/// How often a node tries again to meet the members it has not talked to yet.
const MEET_INTERVAL: Duration = Duration::from_secs(1);

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
        if !self.is_clustered() {
            return self.propose(requests).await;
        }
        self.on_leader(|leader| {
            let requests = requests.clone();
            async move {
                if leader != self.cluster.id {
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
        self.cluster.read_rounds.send(waiter).await.map_err(|_| NodeError::Stopped)?;
        let round = receiver.await.map_err(|_| NodeError::Stopped)??;
        let required = round.point.index;
        if self.applied_index() < required {
            let waited = self
                .raft
                .wait(Some(self.cluster.leader_wait))
                .applied_index_at_least(Some(required), "read index")
                .await;
            if waited.is_err() {
                return Err(NodeError::Unavailable(format!(
                    "this node did not apply entry {required} within {} ms",
                    self.cluster.leader_wait.as_millis()
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
        let now_ms = self.cluster.time.read_time_ms(leader_now_ms, view.time_ms);
        Ok(ReadView { view, now_ms })
    }

    /// One read round: the index every read waiting now must observe, and the leader's time.
    async fn read_index(&self) -> Result<ReadPoint, NodeError> {
        self.on_leader(|leader| async move {
            if leader != self.cluster.id {
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
    /// its term plus the read-time lead, nor below a time it handed out before. When no
    /// entry applied here for half the lead, the round first commits a tick, so that the
    /// reads it answers, capped at the lead past their views, run at the clock; a tick that
    /// fails costs only that freshness.
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
                if self.cluster.time.lags(self.applied_time_ms()) && self.tick().await {
                    index = index.max(self.applied_index());
                }
                let term = self.raft.metrics().borrow().current_term;
                let leader_time_ms =
                    self.cluster.time.leader_time_ms(term, self.cluster.leader_wait).await?;
                Ok(ReadPoint { index, leader_time_ms })
            }
            Err(RaftError::APIError(_)) => Err(NodeError::NotLeader),
            Err(RaftError::Fatal(fatal)) => Err(super::fatal_error(fatal)),
        }
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
        if self.is_clustered() {
            return Err(NodeError::Unavailable(format!(
                "this member cannot write its log in {} (the disk is full), so it cannot \
                 catch up; read through another member",
                self.data_directory.path().display()
            )));
        }
        let leader_time_ms = self.cluster.time.leader_time_now();
        Ok(ReadPoint { index: self.applied_index(), leader_time_ms })
    }

    /// Runs `attempt` with the leader's id until it gives an answer other than "not the
    /// leader", which means certainly not done: then the leader may have changed, so the
    /// attempt is made again, on whichever node leads, until `leader_wait` is up.
    async fn on_leader<T, Attempt, Outcome>(&self, mut attempt: Attempt) -> Result<T, NodeError>
    where
        Attempt: FnMut(NodeId) -> Outcome,
        Outcome: std::future::Future<Output = Result<T, NodeError>>,
    {
        let deadline = Instant::now() + self.cluster.leader_wait;
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
        self.cluster.id
    }

    /// Whether other members exist: at start, or added since (a lone node grows into a
    /// cluster without a restart). Then writes are routed to whoever leads.
    pub(super) fn is_clustered(&self) -> bool {
        self.cluster.clustered
            || self.raft.metrics().borrow().membership_config.membership().nodes().nth(1).is_some()
    }

    fn is_transferring(&self) -> bool {
        self.cluster.transferring.load(Ordering::Acquire)
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
            self.cluster.leader_wait.as_millis()
        ))
    }

    /// Sends `request` to `leader`. Unreachable means certainly not delivered: "not the
    /// leader", so the caller may try again; a lost answer is "outcome unknown".
    async fn forward(
        &self,
        leader: NodeId,
        request: PeerRequest,
    ) -> Result<PeerResponse, NodeError> {
        // A membership change waits for a learner to catch up, which takes as long as copying
        // the data set; everything else answers within a commit.
        let timeout = match request {
            PeerRequest::Admin(_) => ADMIN_TIMEOUT,
            _ => self.cluster.commit_wait,
        };
        match self.cluster.transport.call(leader, request, timeout).await {
            Ok(response) => Ok(response),
            Err(CallError::Unreachable { .. }) => Err(NodeError::NotLeader),
            Err(error @ CallError::Lost { .. }) => {
                Err(NodeError::OutcomeUnknown(error.to_string()))
            }
        }
    }

    /// Carries out an administrative change on the leader, wherever it is.
    pub async fn admin(&self, request: AdminRequest) -> Result<String, NodeError> {
        self.on_leader(|leader| {
            let request = request.clone();
            async move {
                if leader == self.cluster.id {
                    return self.admin_as_leader(request).await;
                }
                match self.forward(leader, PeerRequest::Admin(request)).await? {
                    PeerResponse::Admin(result) => result,
                    other => Err(mismatch(leader, &other)),
                }
            }
        })
        .await
    }

    /// The leader's side of [`Node::admin`].
    pub(super) async fn admin_as_leader(&self, request: AdminRequest) -> Result<String, NodeError> {
        match request {
            AdminRequest::AddNode { id, address } => {
                let is_learner = self.refuse_adding_a_voter(id)?;
                self.cluster.transport.learn_address(id, &address);
                // The operator adds this node on purpose, maybe on a new data directory: what
                // was known of its old one no longer counts (raft::identity).
                self.cluster.transport.forget_incarnation(id).map_err(|error| {
                    NodeError::Unavailable(format!("forgetting node {id}'s incarnation: {error}"))
                })?;
                let incarnation = self.incarnation_of(id, &address).await?;
                let member = BasicNode::new(identity::member_address(&address, incarnation));
                if is_learner {
                    let nodes = BTreeMap::from([(id, member)]);
                    self.raft
                        .change_membership(ChangeMembers::SetNodes(nodes), false)
                        .await
                        .map_err(membership_error)?;
                } else {
                    self.raft.add_learner(id, member, false).await.map_err(membership_error)?;
                }
                self.wait_for_catch_up(id).await?;
                let voters = BTreeSet::from([id]);
                self.raft
                    .change_membership(ChangeMembers::AddVoterIds(voters), true)
                    .await
                    .map_err(membership_error)?;
                Ok(format!("node {id} at {address} caught up and is a voter"))
            }
            AdminRequest::RemoveNode { id } => {
                let voters = BTreeSet::from([id]);
                self.raft
                    .change_membership(ChangeMembers::RemoveVoters(voters), false)
                    .await
                    .map_err(membership_error)?;
                let nodes = BTreeSet::from([id]);
                self.raft
                    .change_membership(ChangeMembers::RemoveNodes(nodes), false)
                    .await
                    .map_err(membership_error)?;
                Ok(format!("node {id} was removed"))
            }
            AdminRequest::TransferLeader { to } => self.transfer_leadership(to).await,
        }
    }

    /// Refuses to add `id` while it is a voter: a voter on a replaced data directory must be
    /// removed first, so that it is never counted with a vote and a log it forgot. Returns
    /// whether `id` is a learner already (adding it again updates its address).
    fn refuse_adding_a_voter(&self, id: NodeId) -> Result<bool, NodeError> {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership().clone();
        if membership.voter_ids().any(|voter| voter == id) {
            return Err(NodeError::Refused(format!(
                "node {id} is a voter already; to add it on a new data directory, remove it \
                 first with CONCORD.REMOVENODE {id}"
            )));
        }
        let is_member = membership.nodes().any(|(member, _)| *member == id);
        Ok(is_member)
    }

    /// Asks node `id` (at `address`) for its data directory's incarnation, which the
    /// membership records; it may be starting still, so it is asked again for a while.
    async fn incarnation_of(
        &self,
        id: NodeId,
        address: &str,
    ) -> Result<identity::Incarnation, NodeError> {
        let deadline = tokio::time::Instant::now() + ADD_NODE_CONTACT_WAIT;
        loop {
            let reason = match self
                .cluster
                .transport
                .call(id, PeerRequest::Incarnation, self.cluster.leader_wait)
                .await
            {
                Ok(PeerResponse::Incarnation(incarnation)) => return Ok(incarnation),
                Ok(other) => mismatch(id, &other).to_string(),
                Err(error) => error.to_string(),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(NodeError::Unavailable(format!(
                    "node {id} at {address} did not tell its data directory's incarnation \
                     within {} s ({reason}); nothing changed",
                    ADD_NODE_CONTACT_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until learner `id` holds every entry the log held when the wait began, so that
    /// promoting it never adds a voter the quorum would have to wait for. No deadline of its
    /// own: catching up a large data set takes as long as it takes, and stops only if this
    /// node stops leading.
    async fn wait_for_catch_up(&self, id: NodeId) -> Result<(), NodeError> {
        let mut metrics = self.raft.metrics();
        let target = metrics.borrow().last_log_index.unwrap_or(0);
        loop {
            {
                let current = metrics.borrow_and_update();
                if current.current_leader != Some(self.cluster.id) {
                    return Err(NodeError::NotLeader);
                }
                let matched = current
                    .replication
                    .as_ref()
                    .and_then(|replication| replication.get(&id).copied().flatten())
                    .map_or(0, |log_id| log_id.index);
                if matched >= target {
                    return Ok(());
                }
            }
            if metrics.changed().await.is_err() {
                return Err(NodeError::Stopped);
            }
        }
    }

    /// Hands leadership to `to` (see the module doc); returns once `to` leads, or fails.
    async fn transfer_leadership(&self, to: NodeId) -> Result<String, NodeError> {
        if to == self.cluster.id {
            return Ok(format!("node {to} already leads"));
        }
        let is_voter = self
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .any(|id| id == to);
        if !is_voter {
            return Err(NodeError::Refused(format!("node {to} is not a voter of this cluster")));
        }
        self.cluster.transferring.store(true, Ordering::Release);
        self.raft.runtime_config().heartbeat(false);
        let outcome = self.hand_over(to).await;
        self.raft.runtime_config().heartbeat(true);
        self.cluster.transferring.store(false, Ordering::Release);
        outcome
    }

    async fn hand_over(&self, to: NodeId) -> Result<String, NodeError> {
        let deadline = Instant::now() + self.cluster.leader_wait;
        let mut metrics = self.raft.metrics();
        while Instant::now() < deadline {
            let (leader, caught_up) = {
                let current = metrics.borrow_and_update();
                let last = current.last_log_index.unwrap_or(0);
                let matched = current
                    .replication
                    .as_ref()
                    .and_then(|replication| replication.get(&to).copied().flatten())
                    .map_or(0, |log_id| log_id.index);
                (current.current_leader, matched >= last)
            };
            if leader == Some(to) {
                return Ok(format!("node {to} leads"));
            }
            if leader == Some(self.cluster.id) && caught_up {
                // Until the followers' leases expire they refuse the vote; ask again until
                // the target leads.
                let _ =
                    self.cluster.transport.call(to, PeerRequest::TimeoutNow, STATUS_TIMEOUT).await;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), metrics.changed()).await;
        }
        Err(NodeError::Unavailable(format!(
            "node {to} did not take over within {} ms",
            self.cluster.leader_wait.as_millis()
        )))
    }

    /// Every member's status, this node's own first; a member that does not answer in time is
    /// listed with the error.
    pub async fn cluster_status(&self) -> Vec<(NodeId, Result<NodeStatus, NodeError>)> {
        let core_waits = self.disk_full.borrow().is_some();
        let own = crate::raft::peer::status(&self.raft, core_waits).await;
        let mut members: BTreeMap<NodeId, String> = BTreeMap::new();
        if let Ok(status) = &own {
            members.extend(status.members.iter().cloned());
        }
        members.remove(&self.cluster.id);
        let mut statuses = vec![(self.cluster.id, own)];
        // Asked all at once: an unreachable member costs one timeout, not one each.
        let calls: Vec<_> = members
            .keys()
            .map(|id| {
                let id = *id;
                let call = self.cluster.transport.call(id, PeerRequest::Status, STATUS_TIMEOUT);
                tokio::spawn(async move {
                    match call.await {
                        Ok(PeerResponse::Status(result)) => result,
                        Ok(other) => Err(mismatch(id, &other)),
                        Err(error) => Err(NodeError::Unavailable(error.to_string())),
                    }
                })
            })
            .collect();
        for (id, call) in members.keys().zip(calls) {
            let status = call
                .await
                .unwrap_or_else(|error| Err(NodeError::OutcomeUnknown(error.to_string())));
            statuses.push((*id, status));
        }
        statuses
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

/// Logs who leads as it changes (INFO), and a time without a leader after one was known as
/// an expected-fault episode (WARN), counting the elections it took.
pub(super) async fn report_leadership(node: Node) {
    let mut metrics = node.raft.metrics();
    let mut leaderless = Episode::default();
    let mut known_leader: Option<NodeId> = None;
    let mut term_seen = 0;
    loop {
        let (leader, term) = {
            let current = metrics.borrow_and_update();
            (current.current_leader, current.current_term)
        };
        let now = Instant::now();
        match leader {
            Some(leader) if known_leader != Some(leader) => {
                match leaderless.recovered(now) {
                    Some(report) => {
                        let summary = report.summary();
                        tracing::warn!(
                            leader,
                            term,
                            "node {leader} leads: elections ran {summary}"
                        );
                    }
                    None => tracing::info!(leader, term, "node {leader} leads"),
                }
                known_leader = Some(leader);
            }
            Some(_) => {}
            None if known_leader.is_some() || leaderless.is_going_on() => {
                let lost_leader = known_leader.take().is_some();
                let began = (lost_leader || term != term_seen)
                    && matches!(leaderless.fault(now), Some(Report::Began));
                if began {
                    tracing::warn!(term, "no leader is known; requests wait for an election");
                }
            }
            None => {}
        }
        term_seen = term;
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

/// Tells the transport the address of every member the membership names, as it changes.
pub(super) async fn learn_member_addresses(node: Node) {
    let mut metrics = node.raft.metrics();
    loop {
        let members: Vec<(NodeId, String)> = metrics
            .borrow_and_update()
            .membership_config
            .membership()
            .nodes()
            .map(|(id, member)| (*id, member.addr.clone()))
            .collect();
        // The address carries the member's incarnation when the membership records one, and
        // the transport learns both (raft::identity).
        for (id, address) in members {
            node.cluster.transport.learn_address(id, &address);
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

/// Introduces this node to every member it has not talked to in this run, so that each pair
/// of members records the other's data directory incarnation (`raft::identity`) while both
/// are who they were, rather than only when an election first makes two followers talk: a
/// follower that never met another one could not tell it was wiped.
pub(super) async fn meet_members(node: Node) {
    let mut met = BTreeSet::new();
    let metrics = node.raft.metrics();
    loop {
        if metrics.has_changed().is_err()
            || metrics.borrow().state == openraft::ServerState::Shutdown
        {
            return;
        }
        let unmet: Vec<NodeId> = metrics
            .borrow()
            .membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .filter(|id| *id != node.cluster.id && !met.contains(id))
            .collect();
        for id in unmet {
            let call = node.cluster.transport.call(id, PeerRequest::Incarnation, STATUS_TIMEOUT);
            if let Ok(PeerResponse::Incarnation(_)) = call.await {
                met.insert(id);
            }
        }
        tokio::time::sleep(MEET_INTERVAL).await;
    }
}

fn mismatch(peer: NodeId, response: &PeerResponse) -> NodeError {
    NodeError::OutcomeUnknown(format!("node {peer} answered with a {} response", response.kind()))
}

fn membership_error(error: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> NodeError {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => NodeError::NotLeader,
        RaftError::APIError(ClientWriteError::ChangeMembershipError(error)) => {
            NodeError::Refused(error.to_string())
        }
        RaftError::Fatal(fatal) => super::fatal_error(fatal),
    }
}
