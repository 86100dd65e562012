//! The node: where the write path, the state machine and the read path meet.
//!
//! Front ends (the Redis server, later Maelstrom) talk to a [`Node`] only: they submit writes
//! with [`Node::write`] and get replies once the writes were applied, and they obtain read views
//! with [`Node::read_view`]. Nothing above this module knows how an entry becomes committed.
//!
//! The commit pipeline, as a loop with numbered steps:
//! 1. Wait for at least one request, then take every request already waiting, up to
//!    `entry_requests_max`: group commit. A request is a proposal (a connection's run of
//!    pipelined writes) or a reader asking for a newer view. Nobody waits for a timer;
//!    batching only collects what is already there.
//! 2. Stamp the proposals with the node's clock (`leader_time_ms`) into one [`Entry`].
//! 3. Commit the entry. This node is a single member whose log is in memory, so committing is
//!    assigning the next index; the durability issue replaces this step with openraft and the
//!    write-ahead log, and nothing outside this module changes.
//! 4. Apply the entry to the state machine and record the applied index.
//! 5. Publish a view if a reader asked for one since the last batch (see below).
//! 6. Hand each proposal its replies, in order, and each waiting reader its answer. A reply
//!    leaves only after steps 4 and 5.
//!
//! Reads are linearizable: a read must see every write acknowledged before it began, that is
//! every entry up to the applied index it observes when it starts. If the published view is
//! older, the reader flags that views are wanted and asks the pipeline for one (step 5); while
//! the flag is up, the pipeline publishes after every batch, so in a mixed load readers rarely
//! wait, and in a write-only load no view is published and writes never pay for MVCC.
//!
//! Active expiry runs in the pipeline task: every `active_expire_interval_ms` it looks in the
//! keyspace's expiry index for keys whose deadline passed by the node's clock and commits their
//! deletion as an ordinary entry, bounded per cycle. Apply deletes only keys that have expired by the
//! entry's time, so the proposer's clock never decides what exists on a replica.
//!
//! Invariant: the state machine is owned by the pipeline task; nothing else mutates it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// What the pipeline is asked to do.
enum Request {
    /// Apply these writes and send back their replies.
    Propose { requests: Vec<WriteRequest>, reply: oneshot::Sender<Vec<Frame>> },
    /// Publish a view of everything applied so far, then answer.
    PublishView { reply: oneshot::Sender<()> },
}

/// What the pipeline and the readers share.
#[derive(Debug, Default)]
struct Progress {
    /// The newest applied index; stored before the entry's replies are sent.
    applied_index: AtomicU64,
    /// Raised by a reader that found the published view stale; the pipeline publishes after
    /// its next batch and lowers it.
    views_wanted: AtomicBool,
}

/// A handle on the running node; cheap to clone, one per connection.
#[derive(Clone)]
pub struct Node {
    requests: mpsc::Sender<Request>,
    views: Views,
    progress: Arc<Progress>,
}

impl Node {
    /// Starts the commit pipeline and active expiry on the current Tokio runtime.
    pub fn start(config: &Config) -> Node {
        let state_machine = StateMachine::new();
        let views = state_machine.views();
        let progress = Arc::new(Progress::default());
        let (requests, receiver) = mpsc::channel(config.proposal_queue_max);
        let pipeline = Pipeline {
            state_machine,
            progress: Arc::clone(&progress),
            expire_interval: Duration::from_millis(config.active_expire_interval_ms),
            expire_keys_per_cycle: config.active_expire_keys_per_cycle,
        };
        tokio::spawn(pipeline.run(receiver, config.entry_requests_max));
        Node { requests, views, progress }
    }

    /// Proposes writes and returns their replies, in order, once they were applied.
    pub async fn write(&self, requests: Vec<WriteRequest>) -> Result<Vec<Frame>, NodeError> {
        let (reply, receiver) = oneshot::channel();
        let request = Request::Propose { requests, reply };
        self.requests.send(request).await.map_err(|_| NodeError::Stopped)?;
        receiver.await.map_err(|_| NodeError::Stopped)
    }

    /// A view that reflects every write acknowledged before this call began: linearizable on a
    /// single node, because a write is acknowledged only after the applied index covers it.
    pub async fn read_view(&self) -> Result<ReadView, NodeError> {
        let required = self.progress.applied_index.load(Ordering::Acquire);
        let mut view = self.views.load();
        if view.index < required {
            self.progress.views_wanted.store(true, Ordering::Relaxed);
            let (reply, receiver) = oneshot::channel();
            let request = Request::PublishView { reply };
            self.requests.send(request).await.map_err(|_| NodeError::Stopped)?;
            receiver.await.map_err(|_| NodeError::Stopped)?;
            view = self.views.load();
            assert!(view.index >= required, "the pipeline answered before publishing");
        }
        let now_ms = clock_ms().max(view.time_ms);
        Ok(ReadView { view, now_ms })
    }

    /// The index of the newest applied entry.
    pub fn applied_index(&self) -> LogIndex {
        self.progress.applied_index.load(Ordering::Acquire)
    }
}

/// The commit pipeline's task: the only owner of the state machine.
struct Pipeline {
    state_machine: StateMachine,
    progress: Arc<Progress>,
    expire_interval: Duration,
    expire_keys_per_cycle: usize,
}

impl Pipeline {
    async fn run(mut self, mut requests: mpsc::Receiver<Request>, entry_requests_max: usize) {
        let mut batch: Vec<Request> = Vec::new();
        let mut expire_ticker = tokio::time::interval(self.expire_interval);
        expire_ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // recv_many waits for one request and takes the others already queued (step 1);
            // it is cancel safe, so losing the race to the ticker loses no request.
            tokio::select! {
                received = requests.recv_many(&mut batch, entry_requests_max) => {
                    if received == 0 {
                        return;
                    }
                    self.serve(&mut batch);
                }
                _ = expire_ticker.tick() => self.expire(),
            }
        }
    }

    /// One batch of requests through steps 2 to 6.
    fn serve(&mut self, batch: &mut Vec<Request>) {
        let mut proposals = Vec::new();
        let mut readers = Vec::new();
        for request in batch.drain(..) {
            match request {
                Request::Propose { requests, reply } => proposals.push((requests, reply)),
                Request::PublishView { reply } => readers.push(reply),
            }
        }
        let replies = self.commit(&mut proposals);
        if self.progress.views_wanted.swap(false, Ordering::Relaxed) || !readers.is_empty() {
            self.state_machine.publish();
        }
        for ((_, reply), frames) in proposals.into_iter().zip(replies) {
            // A client that disconnected no longer waits; its writes were applied anyway.
            let _ = reply.send(frames);
        }
        for reader in readers {
            let _ = reader.send(());
        }
    }

    /// Active expiry: proposes the deletion of keys whose deadline passed by the node's clock,
    /// at most `expire_keys_per_cycle` per database. The pipeline reads its own keyspace, so no
    /// view is published for it (a view would make later writes copy the paths they touch).
    fn expire(&mut self) {
        let requests: Vec<WriteRequest> = self
            .state_machine
            .expired_keys(clock_ms(), self.expire_keys_per_cycle)
            .into_iter()
            .map(|(db, keys)| WriteRequest {
                db,
                write: Write::Key(KeyWrite::DeleteExpired { keys }),
            })
            .collect();
        if !requests.is_empty() {
            self.apply(requests);
        }
    }

    /// Steps 2 to 4: one entry for all the proposals, applied; their replies, per proposal.
    fn commit(
        &mut self,
        proposals: &mut [(Vec<WriteRequest>, oneshot::Sender<Vec<Frame>>)],
    ) -> Vec<Vec<Frame>> {
        if proposals.is_empty() {
            return Vec::new();
        }
        let counts: Vec<usize> = proposals.iter().map(|(requests, _)| requests.len()).collect();
        let requests = proposals.iter_mut().flat_map(|(requests, _)| requests.drain(..)).collect();
        let mut frames = self.apply(requests).into_iter();
        counts.into_iter().map(|count| frames.by_ref().take(count).collect()).collect()
    }

    /// Makes one entry of `requests`, commits it at the next index and applies it.
    fn apply(&mut self, requests: Vec<WriteRequest>) -> Vec<Frame> {
        let entry = Entry { leader_time_ms: clock_ms(), requests };
        let index = self.state_machine.applied_index() + 1;
        let frames = self.state_machine.apply(index, &entry);
        self.progress.applied_index.store(index, Ordering::Release);
        frames
    }
}

/// The node's wall clock in Unix milliseconds. Only the node reads it; the state machine gets
/// time from entries.
pub fn clock_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}
