//! Outputs of an applied entry that go to connections other than the proposer's requests.
//!
//! Apply answers each request of an entry with one reply, which goes back to the connection
//! that proposed it. Some effects of an entry are for other connections: a PUBLISH's message
//! is for the subscribers of its channel, and a push that serves a blocked client makes that
//! client's deferred reply. Apply collects these, in the order they happened, as [`Output`]s;
//! whoever drives apply takes them with `StateMachine::take_outputs` after each entry and
//! delivers them on its own node (`node::deliveries`).
//!
//! Every replica produces the same outputs for the same entry; what differs between nodes is
//! only who is connected to receive them.

use bytes::Bytes;

pub use crate::command::blocking::WaiterId;
use crate::resp::Frame;

/// Where a reply sits among an entry's replies: the request's position, and inside a
/// transaction the step's place in EXEC's array plus one (0 for a request of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyPlace {
    /// The request's position in its entry.
    pub position: usize,
    /// The step's place in EXEC's array plus one; 0 for a request of its own.
    pub step: usize,
}

impl ReplyPlace {
    /// Replaces the reply at this place in `replies`. A place that does not exist is left
    /// alone: the reply it would have named was not produced (an EXEC that did not run).
    pub fn replace(self, replies: &mut [Frame], frame: Frame) {
        let Some(reply) = replies.get_mut(self.position) else { return };
        match (self.step, reply) {
            (0, reply) => *reply = frame,
            (step, Frame::Array(steps)) => {
                if let Some(reply) = steps.get_mut(step - 1) {
                    *reply = frame;
                }
            }
            _ => {}
        }
    }
}

/// One effect of an entry for connections other than its proposers.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A PUBLISH: every subscriber of `channel` on each node, and every subscriber of a
    /// pattern matching it, gets the message. The PUBLISH's own reply, at `reply`, becomes the
    /// number of subscribers that received it on the node that answers.
    Message {
        /// The channel published to.
        channel: Bytes,
        /// The message's bytes.
        message: Bytes,
        /// Where the PUBLISH's own reply sits among the entry's replies.
        reply: ReplyPlace,
    },
    /// A blocked client's deferred reply: what its blocking command popped, or the timeout
    /// reply once its unblock was applied. When `reserved`, what it popped is only reserved:
    /// the waiting node gives the reply only once its `BlockingWrite::Delivered` answered 1.
    Served {
        /// The blocked client.
        waiter: WaiterId,
        /// The reply it gets.
        reply: Frame,
        /// Whether what it popped is only reserved, pending `BlockingWrite::Delivered`.
        reserved: bool,
    },
}

/// Where the driver of apply hands each entry's outputs: the node's deliveries. It must not
/// block (it runs under the apply lock) and must bound whatever it queues.
pub trait OutputSink: Send + Sync {
    /// Delivers one entry's outputs, in order, and writes into `replies` (that entry's
    /// replies) what delivery decides: each PUBLISH's count of receivers.
    fn deliver(&self, outputs: Vec<Output>, replies: &mut [Frame]);
}
