//! Outputs of an applied entry that go to connections other than the proposer's requests.
//!
//! Apply answers each request of an entry with one reply, which goes back to the connection
//! that proposed it. Some effects of an entry are for other connections: a PUBLISH's message
//! is for the subscribers the replicated table names, and a push that serves a blocked client makes that
//! client's deferred reply. Apply collects these, in the order they happened, as [`Output`]s;
//! whoever drives apply takes them with `StateMachine::take_outputs` after each entry and
//! delivers them on its own node (`node::deliveries`).
//!
//! Every replica produces the same outputs for the same entry; what differs between nodes is
//! only who is connected to receive them.

use bytes::Bytes;

pub use crate::command::blocking::WaiterId;
use crate::resp::Frame;

/// One receiver of a published message: a subscriber, and the pattern it matched through
/// (`None` for a subscriber of the channel itself).
#[derive(Clone, Debug, PartialEq)]
pub struct Receiver {
    /// The subscribed connection.
    pub subscriber: WaiterId,
    /// The subscribed pattern the channel matched, for a `pmessage`.
    pub pattern: Option<Bytes>,
}

/// One effect of an entry for connections other than its proposers.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A PUBLISH: every receiver the replicated subscriber table names gets the message, from
    /// the node it is connected to. The PUBLISH's reply already counts them all.
    Message {
        /// The channel published to.
        channel: Bytes,
        /// The message's bytes.
        message: Bytes,
        /// Who receives it, on every node: channel subscribers first, then pattern ones.
        receivers: Vec<Receiver>,
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
    /// Delivers one entry's outputs, in order, to this node's connections.
    fn deliver(&self, outputs: Vec<Output>);
}
