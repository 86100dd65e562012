//! The node: where the write path, the state machine and the read path meet.
//!
//! Front ends (the Redis server, later Maelstrom) talk to a [`Node`] only: they submit writes
//! with [`Node::write`] and get replies once the writes were applied, and they obtain read views
//! with [`Node::read_view`]. Nothing above this module knows how an entry becomes committed.
//!
//! The commit pipeline, as a loop with numbered steps:
//! 1. Wait for at least one proposal (a connection's run of pipelined writes), then take every
//!    proposal already waiting, up to `entry_requests_max` requests: group commit. A connection
//!    never waits for a timer; batching only collects what is already there.
//! 2. Stamp the batch with the node's clock (`leader_time_ms`) into one [`Entry`].
//! 3. Commit the entry. This node is a single member whose log is in memory, so committing is
//!    assigning the next index; the durability issue replaces this step with openraft and the
//!    write-ahead log, and nothing outside this module changes.
//! 4. Apply the entry to the state machine, which publishes the view at the new index.
//! 5. Hand each proposal its replies, in order. A reply leaves only after step 4.
//!
//! Active expiry runs beside the pipeline: every `active_expire_interval_ms` it looks at the
//! newest view for keys whose deadline passed by the node's clock and proposes their deletion
//! as an ordinary write, bounded per cycle. Apply deletes only keys that have expired by the
//! entry's time, so the proposer's clock never decides what exists on a replica.
//!
//! Invariant: the state machine is owned by the pipeline task; nothing else mutates it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use crate::command::keys::KeyWrite;
use crate::command::Write;
use crate::config::Config;
use crate::resp::Frame;
use crate::state_machine::{Entry, LogIndex, StateMachine, View, Views, WriteRequest};

/// Why the node could not serve a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The node is stopping; the request was not proposed.
    #[error("the node is shutting down")]
    Stopped,
}

impl NodeError {
    /// The error line a client gets.
    pub fn to_frame(&self) -> Frame {
        match self {
            NodeError::Stopped => Frame::error("ERR the node is shutting down"),
        }
    }
}

/// A view to read from, with the time reads on it use for expiry.
#[derive(Clone, Debug)]
pub struct ReadView {
    pub view: Arc<View>,
    /// The node's clock, but never earlier than the view's entry time.
    pub now_ms: u64,
}

struct Proposal {
    requests: Vec<WriteRequest>,
    reply: oneshot::Sender<Vec<Frame>>,
}

/// A handle on the running node; cheap to clone, one per connection.
#[derive(Clone)]
pub struct Node {
    proposals: mpsc::Sender<Proposal>,
    views: Views,
}

impl Node {
    /// Starts the commit pipeline and active expiry on the current Tokio runtime.
    pub fn start(config: &Config) -> Node {
        let state_machine = StateMachine::new();
        let views = state_machine.views();
        let (proposals, receiver) = mpsc::channel(config.proposal_queue_max);
        tokio::spawn(run_pipeline(state_machine, receiver, config.entry_requests_max));
        let node = Node { proposals, views };
        tokio::spawn(run_active_expiry(
            node.clone(),
            Duration::from_millis(config.active_expire_interval_ms),
            config.active_expire_keys_per_cycle,
        ));
        node
    }

    /// Proposes writes and returns their replies, in order, once they were applied.
    pub async fn write(&self, requests: Vec<WriteRequest>) -> Result<Vec<Frame>, NodeError> {
        let (reply, receiver) = oneshot::channel();
        self.proposals.send(Proposal { requests, reply }).await.map_err(|_| NodeError::Stopped)?;
        receiver.await.map_err(|_| NodeError::Stopped)
    }

    /// A view that reflects every write acknowledged before this call began (linearizable on a
    /// single node: a write is acknowledged only after its view was published).
    pub async fn read_view(&self) -> Result<ReadView, NodeError> {
        let view = self.views.load();
        let now_ms = clock_ms().max(view.time_ms);
        Ok(ReadView { view, now_ms })
    }

    /// The index of the newest applied entry.
    pub fn applied_index(&self) -> LogIndex {
        self.views.load().index
    }
}

async fn run_pipeline(
    mut state_machine: StateMachine,
    mut proposals: mpsc::Receiver<Proposal>,
    entry_requests_max: usize,
) {
    let mut batch: Vec<Proposal> = Vec::new();
    let mut index = state_machine.applied_index();
    // recv_many waits for one proposal and takes the others already queued (step 1).
    while proposals.recv_many(&mut batch, entry_requests_max).await > 0 {
        let counts: Vec<usize> = batch.iter().map(|proposal| proposal.requests.len()).collect();
        let requests = batch.iter_mut().flat_map(|proposal| proposal.requests.drain(..)).collect();
        let entry = Entry { leader_time_ms: clock_ms(), requests };
        index += 1;
        let mut replies = state_machine.apply(index, &entry).into_iter();
        for (proposal, count) in batch.drain(..).zip(counts) {
            // A client that disconnected no longer waits; its writes were applied regardless.
            let _ = proposal.reply.send(replies.by_ref().take(count).collect());
        }
    }
}

async fn run_active_expiry(node: Node, interval: Duration, keys_per_cycle: usize) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let view = node.views.load();
        let now_ms = clock_ms();
        let requests: Vec<WriteRequest> = view
            .keyspace
            .databases()
            .filter_map(|(db, keys)| {
                let keys = keys.expired_keys(now_ms, keys_per_cycle);
                (!keys.is_empty()).then(|| WriteRequest {
                    db,
                    write: Write::Key(KeyWrite::DeleteExpired { keys }),
                })
            })
            .collect();
        if !requests.is_empty() && node.write(requests).await.is_err() {
            return;
        }
    }
}

/// The node's wall clock in Unix milliseconds. Only the node reads it; the state machine gets
/// time from entries.
pub fn clock_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}
