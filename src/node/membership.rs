//! Membership: adding and removing members, leadership transfer, every member's status, and
//! the tasks that keep members acquainted (leadership reports, member addresses, meeting).
//!
//! Membership: `CONCORD.ADDNODE`, `CONCORD.REMOVENODE` and `CONCORD.TRANSFERLEADER` are carried
//! out by the leader, whichever node received them. A node is added as a learner first and
//! promoted to voter only once it caught up, so a slow newcomer never holds up commits.
//! Leadership transfer: the leader stops proposing, running read rounds and sending
//! heartbeats (all three renew the followers' leader leases, and a follower refuses votes
//! while its lease lasts), waits until the target has every entry, and asks the target to
//! stand for election at once ([`PeerRequest::TimeoutNow`]) until it wins. Requests that

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};

use super::routing::mismatch;
use super::{Node, NodeError};
use crate::command::blocking::BlockingWrite;
use crate::command::pubsub::SubscriptionWrite;
use crate::command::Write;
use crate::logging::{Episode, Report};
use crate::raft::peer::{AdminRequest, NodeStatus, PeerRequest, PeerResponse};
use crate::raft::{identity, NodeId};
use crate::state_machine::WriteRequest;

/// How long a member takes to answer a status request before it is shown unreachable.
const STATUS_TIMEOUT: Duration = Duration::from_millis(500);

/// How long `CONCORD.ADDNODE` keeps asking a starting node for its data directory's
/// incarnation before it gives up, unchanged.
const ADD_NODE_CONTACT_WAIT: Duration = Duration::from_secs(20);

/// How long a leader handing over waits between two asks that the target stand for
/// election (a fraction of the election timeout, which is what the followers' leases last).
const TIMEOUT_NOW_PAUSE: Duration = Duration::from_millis(100);

/// How often a node tries again to meet the members it has not talked to yet.
const MEET_INTERVAL: Duration = Duration::from_secs(1);

impl Node {
    /// Carries out an administrative change on the leader, wherever it is.
    pub async fn admin(&self, request: AdminRequest) -> Result<String, NodeError> {
        self.on_leader(|leader| {
            let request = request.clone();
            async move {
                if leader == self.routing.id {
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
                self.routing.transport.learn_address(id, &address);
                // The operator adds this node on purpose, maybe on a new data directory: what
                // was known of its old one no longer counts (raft::identity).
                self.routing.transport.forget_incarnation(id).map_err(|error| {
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
                self.forget_removed_clients(id).await;
                Ok(format!("node {id} was removed"))
            }
            AdminRequest::TransferLeader { to } => self.transfer_leadership(to).await,
        }
    }

    /// A removed member's connections no longer reach the cluster: remove its subscribers
    /// and its blocked clients from the replicated tables, so that PUBLISH stops counting
    /// them and no push is reserved for them (what was goes back to its key). A failure is
    /// logged and left: the member's next start, if it is ever added again, forgets them too,
    /// and a reservation expires on its own.
    async fn forget_removed_clients(&self, id: NodeId) {
        let subscribers = Write::Subscriptions(SubscriptionWrite::ForgetNode { node: id });
        let waiters = Write::Blocking(BlockingWrite::ForgetNode { node: id });
        let writes = [subscribers, waiters].map(|write| WriteRequest { db: 0, write });
        if let Err(error) = self.write(writes.into()).await {
            tracing::warn!(%error, node = id, "could not forget a removed member's clients");
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
                .routing
                .transport
                .call(id, PeerRequest::Incarnation, self.routing.leader_wait)
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
                if current.current_leader != Some(self.routing.id) {
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
        if to == self.routing.id {
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
        self.routing.transferring.store(true, Ordering::Release);
        self.raft.runtime_config().heartbeat(false);
        let outcome = self.hand_over(to).await;
        self.raft.runtime_config().heartbeat(true);
        self.routing.transferring.store(false, Ordering::Release);
        outcome
    }

    async fn hand_over(&self, to: NodeId) -> Result<String, NodeError> {
        let deadline = Instant::now() + self.routing.leader_wait;
        let mut metrics = self.raft.metrics();
        let mut next_ask = Instant::now();
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
            if leader == Some(self.routing.id) && caught_up && Instant::now() >= next_ask {
                // Until the followers' leases expire they refuse the vote; ask again until
                // the target leads, but paced: each ask costs the target a term, and the
                // metrics change with every one of them.
                let _ =
                    self.routing.transport.call(to, PeerRequest::TimeoutNow, STATUS_TIMEOUT).await;
                next_ask = Instant::now() + TIMEOUT_NOW_PAUSE;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), metrics.changed()).await;
        }
        Err(NodeError::Unavailable(format!(
            "node {to} did not take over within {} ms",
            self.routing.leader_wait.as_millis()
        )))
    }

    /// Every member's status, this node's own first; a member that does not answer in time is
    /// listed with the error.
    pub async fn member_statuses(&self) -> Vec<(NodeId, Result<NodeStatus, NodeError>)> {
        self.statuses_of(|_| true).await
    }

    /// This node's status and, when another member leads, the leader's: what the leader's
    /// replication progress says without asking every member (WAIT polls it).
    pub async fn own_and_leader_statuses(&self) -> Vec<(NodeId, Result<NodeStatus, NodeError>)> {
        let leader = self.leader();
        self.statuses_of(|id| Some(id) == leader).await
    }

    /// This node's status first, then those of the other members `ask` picks, asked at once.
    async fn statuses_of(
        &self,
        ask: impl Fn(NodeId) -> bool,
    ) -> Vec<(NodeId, Result<NodeStatus, NodeError>)> {
        let core_waits = self.disk_full.borrow().is_some();
        let own = crate::raft::peer::status(&self.raft, core_waits, self.client_port).await;
        let mut members: BTreeMap<NodeId, String> = BTreeMap::new();
        if let Ok(status) = &own {
            members.extend(status.members.iter().filter(|(id, _)| ask(*id)).cloned());
        }
        members.remove(&self.routing.id);
        let mut statuses = vec![(self.routing.id, own)];
        // Asked all at once: an unreachable member costs one timeout, not one each.
        let calls: Vec<_> = members
            .keys()
            .map(|id| {
                let id = *id;
                let call = self.routing.transport.call(id, PeerRequest::Status, STATUS_TIMEOUT);
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
            node.routing.transport.learn_address(id, &address);
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
            .filter(|id| *id != node.routing.id && !met.contains(id))
            .collect();
        for id in unmet {
            let call = node.routing.transport.call(id, PeerRequest::Incarnation, STATUS_TIMEOUT);
            if let Ok(PeerResponse::Incarnation(_)) = call.await {
                met.insert(id);
            }
        }
        tokio::time::sleep(MEET_INTERVAL).await;
    }
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
