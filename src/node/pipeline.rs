//! The commit pipeline: a leader's writes, batched into entries, proposed, and answered.
//!
//! The loop and its numbered steps are described in the module doc of `node`. This file holds
//! [`Node::propose`] (a write's way in on the leader), the pipeline task itself, and the reply
//! side: the waiting map by ticket, apply's [`raft::DeliverReplies`] hook, and the answers for
//! writes held by a full disk. A `PendingWrite` is one connection's run of writes waiting to
//! enter an entry; a [`raft::Proposed`] is the entry made from them, with its ticket.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};

use super::time::Time;
use super::{disk_full_error, Node, NodeError};
use crate::raft::{self, Proposed, Raft, Ticket};
use crate::resp::Frame;
use crate::state_machine::{Entry, WriteRequest};

/// How many entries may be proposed and not yet answered at once (see step 4 of the module
/// doc). Only one is ever being made durable (openraft 0.9 appends one at a time); the others
/// are durable and being applied and answered.
const ENTRIES_IN_FLIGHT_MAX: usize = 8;

/// A run of writes waiting to be committed, and where their replies go.
pub(super) struct PendingWrite {
    requests: Vec<WriteRequest>,
    reply: oneshot::Sender<Result<Vec<Frame>, NodeError>>,
}

impl Node {
    /// Proposes writes on this node's own commit pipeline (it must lead) and returns their
    /// replies once committed and applied. In a cluster the wait for the commit is bounded by
    /// `commit_wait_ms`: a leader cut off from its majority cannot tell whether it will commit.
    pub(super) async fn propose(
        &self,
        requests: Vec<WriteRequest>,
    ) -> Result<Vec<Frame>, NodeError> {
        if let Some(error) = self.disk_full_error() {
            return Err(error);
        }
        let (reply, receiver) = oneshot::channel();
        let proposal = PendingWrite { requests, reply };
        self.proposals.send(proposal).await.map_err(|_| NodeError::Stopped)?;
        let stopped = |_| {
            NodeError::OutcomeUnknown(
                "the commit pipeline stopped while the write was in it".into(),
            )
        };
        if !self.has_peers() {
            return receiver.await.map_err(stopped)?;
        }
        match tokio::time::timeout(self.routing.commit_wait, receiver).await {
            Ok(outcome) => outcome.map_err(stopped)?,
            Err(_) => Err(NodeError::OutcomeUnknown(format!(
                "not committed within {} ms; a majority may be unreachable",
                self.routing.commit_wait.as_millis()
            ))),
        }
    }
}

/// Proposals waiting for their entry's replies, by ticket.
pub(super) type Waiting = Arc<Mutex<HashMap<Ticket, Answer>>>;

/// Where one entry's replies go: each proposal's share of them, in order.
pub(super) struct Answer {
    counts: Vec<usize>,
    replies: Vec<oneshot::Sender<Result<Vec<Frame>, NodeError>>>,
    /// Held until the entry is answered: bounds the entries in flight.
    _permit: OwnedSemaphorePermit,
}

/// Apply's side of reply delivery (see [`raft::DeliverReplies`]): answers the proposals
/// waiting under the ticket, or gives the frames back if none wait.
pub(super) fn deliver_replies(waiting: Waiting) -> raft::DeliverReplies {
    Arc::new(move |ticket, frames| match waiting.lock().remove(&ticket) {
        Some(answer) => {
            send_replies(Ok(frames), answer);
            None
        }
        None => Some(frames),
    })
}

/// What the pipeline watches besides its proposals.
pub(super) struct Signals {
    /// The highest ticket openraft was told is flushed.
    pub(super) flushed: watch::Receiver<Ticket>,
    /// Raised while the log waits for disk space.
    pub(super) disk_full: watch::Receiver<Option<String>>,
    pub(super) data_directory: String,
    /// The time each entry is stamped with, and how long to wait for it at a term's start.
    pub(super) time: Arc<Time>,
    pub(super) term_wait: Duration,
}

/// The commit pipeline (steps 1 to 4 of the module doc).
pub(super) async fn run_pipeline(
    raft: Raft,
    mut proposals: mpsc::Receiver<PendingWrite>,
    entry_proposals_max: usize,
    waiting: Waiting,
    signals: Signals,
) {
    let Signals { mut flushed, mut disk_full, data_directory, time, term_wait } = signals;
    let in_flight = Arc::new(Semaphore::new(ENTRIES_IN_FLIGHT_MAX));
    let mut batch: Vec<PendingWrite> = Vec::new();
    let mut next_ticket: Ticket = 1;
    // The previous entry's ticket, and a signal that its outcome is known.
    let mut previous: Option<(Ticket, oneshot::Receiver<()>)> = None;
    loop {
        // Step 1, late: openraft 0.9 appends one entry at a time and waits for its flush, so an
        // entry handed over earlier would only wait in openraft's queue while writes that
        // arrive meanwhile miss it. Waiting for the previous entry's flush first makes each
        // entry carry every write that arrived during the previous fsync.
        if let Some((ticket, settled)) = previous.take() {
            wait_for_previous(ticket, settled, &mut flushed, &mut disk_full, &waiting).await;
        }
        if proposals.recv_many(&mut batch, entry_proposals_max).await == 0 {
            return;
        }
        // Writes queued before the disk filled up: refused, never proposed.
        let full = disk_full.borrow().clone();
        if let Some(reason) = full {
            let error = disk_full_error(&data_directory, &reason);
            for proposal in batch.drain(..) {
                let _ = proposal.reply.send(Err(error.clone()));
            }
            continue;
        }
        let Some(leader_time_ms) = stamp(&raft, &time, term_wait, &mut batch).await else {
            continue;
        };
        let permit = Arc::clone(&in_flight).acquire_owned().await.expect("never closed");
        let (settled_sender, settled) = oneshot::channel();
        let ticket = next_ticket;
        next_ticket += 1;
        let entry = make_entry(&waiting, ticket, batch.drain(..), permit, leader_time_ms);
        // Sending to openraft here, in the loop, keeps entries in the order proposals came.
        let receiver = match raft.client_write_ff(entry).await {
            Ok(receiver) => receiver,
            Err(fatal) => {
                // Never reached openraft: definitely not applied.
                let error = match fatal {
                    openraft::error::Fatal::StorageError(error) => {
                        NodeError::StorageFailed(error.to_string())
                    }
                    _ => NodeError::Stopped,
                };
                if let Some(answer) = waiting.lock().remove(&ticket) {
                    send_replies(Err(error), answer);
                }
                continue;
            }
        };
        previous = Some((ticket, settled));
        tokio::spawn(answer_from_openraft(receiver, ticket, Arc::clone(&waiting), settled_sender));
    }
}

/// What `client_write_ff` hands back: openraft's reply to one entry, once it is applied or
/// refused.
type WriteReceiver = <<raft::TypeConfig as openraft::RaftTypeConfig>::Responder as
    openraft::raft::responder::Responder<raft::TypeConfig>>::Receiver;

/// Step 1's wait: until the previous entry (`ticket`) is flushed or settled, or the disk
/// fills up under it, in which case the writes it holds are answered now.
async fn wait_for_previous(
    ticket: Ticket,
    settled: oneshot::Receiver<()>,
    flushed: &mut watch::Receiver<Ticket>,
    disk_full: &mut watch::Receiver<Option<String>>,
    waiting: &Waiting,
) {
    let held = tokio::select! {
        _ = flushed.wait_for(|&flushed| flushed >= ticket) => false,
        _ = settled => false,
        full = disk_full.wait_for(Option::is_some) => full.is_ok(),
    };
    if held {
        answer_held_writes(waiting, *flushed.borrow());
    }
}

/// The fallback path: openraft's own reply, used when apply found nobody waiting (the entry
/// was read back from disk without its ticket) and for every error. Dropping
/// `settled_sender` at the end tells the pipeline this entry's outcome is known.
async fn answer_from_openraft(
    receiver: WriteReceiver,
    ticket: Ticket,
    waiting: Waiting,
    settled_sender: oneshot::Sender<()>,
) {
    let outcome = match receiver.await {
        Ok(Ok(response)) => Ok(response.data.0),
        // openraft answers "forward to the leader" both when it refused the entry
        // (not the leader when it arrived) and when it removed the appended entry
        // from this node's log for a new leader's. The second is no proof that the
        // entry is gone: another member may hold it and lead later, committing it.
        // The two look alike here, so both are "outcome unknown": retrying on the
        // new leader could apply the write twice.
        Ok(Err(_)) => Err(NodeError::OutcomeUnknown(
            "the leader changed before the write was committed; it may still be \
             applied"
                .into(),
        )),
        Err(_) => {
            Err(NodeError::OutcomeUnknown("consensus stopped before the write was applied".into()))
        }
    };
    let answer = waiting.lock().remove(&ticket);
    if let Some(answer) = answer {
        send_replies(outcome, answer);
    }
    drop(settled_sender);
}

/// The disk filled up under an entry that is not flushed: its writes (every ticket above
/// `flushed`) wait in the log thread until there is space, and are applied then, unless the
/// node is restarted first. Their clients are told so rather than kept waiting.
fn answer_held_writes(waiting: &Waiting, flushed: Ticket) {
    let held: Vec<Answer> = {
        let mut waiting = waiting.lock();
        let tickets: Vec<Ticket> =
            waiting.keys().copied().filter(|&ticket| ticket > flushed).collect();
        tickets.into_iter().filter_map(|ticket| waiting.remove(&ticket)).collect()
    };
    for answer in held {
        let reason = "the disk filled up while it was being written; it is applied once space \
                      is freed, unless the node restarts first";
        send_replies(Err(NodeError::OutcomeUnknown(reason.into())), answer);
    }
}

/// The leader's time for the next entry (see `node::time`); when this node cannot have one
/// (it has not applied its term's first entry in time), the batch is refused, never proposed.
async fn stamp(
    raft: &Raft,
    time: &Time,
    term_wait: Duration,
    batch: &mut Vec<PendingWrite>,
) -> Option<u64> {
    let term = raft.metrics().borrow().current_term;
    match time.leader_time_ms(term, term_wait).await {
        Ok(time_ms) => Some(time_ms),
        Err(error) => {
            for proposal in batch.drain(..) {
                let _ = proposal.reply.send(Err(error.clone()));
            }
            None
        }
    }
}

/// Step 2: registers the proposals' reply channels under `ticket` and makes their entry,
/// stamped with the leader's time.
fn make_entry(
    waiting: &Waiting,
    ticket: Ticket,
    proposals: impl ExactSizeIterator<Item = PendingWrite>,
    permit: OwnedSemaphorePermit,
    leader_time_ms: u64,
) -> Proposed {
    let mut counts = Vec::with_capacity(proposals.len());
    let mut replies = Vec::with_capacity(proposals.len());
    let mut requests = Vec::new();
    for proposal in proposals {
        counts.push(proposal.requests.len());
        if requests.is_empty() {
            // The common single-proposal case reuses the proposal's vector.
            requests = proposal.requests;
        } else {
            requests.extend(proposal.requests);
        }
        replies.push(proposal.reply);
    }
    waiting.lock().insert(ticket, Answer { counts, replies, _permit: permit });
    Proposed { entry: Entry { leader_time_ms, requests }, ticket }
}

/// Step 4: each proposal gets its own replies (or the entry's error).
fn send_replies(outcome: Result<Vec<Frame>, NodeError>, answer: Answer) {
    match outcome {
        Ok(frames) => {
            let mut frames = frames.into_iter();
            for (count, reply) in answer.counts.into_iter().zip(answer.replies) {
                // A client that disconnected no longer waits; its writes were applied anyway.
                let _ = reply.send(Ok(frames.by_ref().take(count).collect()));
            }
        }
        Err(error) => {
            for reply in answer.replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
