//! Deliveries: the outputs of applied entries, routed to this node's connections.
//!
//! Apply produces, besides each request's reply, outputs for other connections (see
//! `state_machine::outputs`): published messages and the deferred replies of blocked
//! clients. [`Deliveries`] is the node's registry of who receives them. A connection that
//! subscribes or blocks opens a [`Mailbox`], which registers it; dropping the mailbox
//! unregisters it.
//!
//! Invariants:
//! - Delivery never blocks apply: messages go into each mailbox's bounded queue with
//!   `try_send`. A subscriber whose queue is full (`subscriber_queue_messages_max`) is cut
//!   off: its route and subscriptions are removed at once, and its connection, finding the
//!   queue closed, closes (Redis's `client-output-buffer-limit pubsub`). A message is never
//!   dropped for a subscriber that stays connected.
//! - A served reply goes into a slot of its own, one per mailbox: a connection waits for at
//!   most one blocking command at a time, so the slot bounds itself and a flood of messages
//!   never pushes a served reply out.
//! - Deliveries happen in apply order, so a subscriber sees messages in log order, and a
//!   connection that publishes to itself finds the message queued before its reply returns.
//!
//! A served reply whose connection closed before it arrived has nowhere to go. When it is
//! reserved (see `state_machine::blocking`) nothing is lost: the element goes back to its key
//! when the connection's cancel or the reservation's expiry is applied. A reply that was not
//! reserved (a waiter blocked by an older binary, whose entries are replayed) is logged as
//! lost.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

use crate::resp::Frame;
use crate::state_machine::{Output, OutputSink, WaiterId};
use crate::store::glob_match;

/// A message for one subscriber.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// A message on a channel the connection subscribed to.
    Message {
        /// The channel it was published on.
        channel: Bytes,
        /// What PUBLISH sent.
        message: Bytes,
    },
    /// A message on a channel that matches a pattern the connection subscribed to.
    PatternMessage {
        /// The subscribed pattern the channel matched.
        pattern: Bytes,
        /// The channel it was published on.
        channel: Bytes,
        /// What PUBLISH sent.
        message: Bytes,
    },
}

impl Delivery {
    /// The push frame a client receives (an array in RESP2).
    pub fn to_frame(&self) -> Frame {
        let word = |text: &'static str| Frame::Bulk(Bytes::from_static(text.as_bytes()));
        match self {
            Delivery::Message { channel, message } => Frame::Push(vec![
                word("message"),
                Frame::Bulk(channel.clone()),
                Frame::Bulk(message.clone()),
            ]),
            Delivery::PatternMessage { pattern, channel, message } => Frame::Push(vec![
                word("pmessage"),
                Frame::Bulk(pattern.clone()),
                Frame::Bulk(channel.clone()),
                Frame::Bulk(message.clone()),
            ]),
        }
    }
}

/// Why a subscription was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "ERR this connection has reached subscriptions-max ({0}) channel and pattern subscriptions"
)]
pub struct TooManySubscriptions(pub usize);

/// The node's registry of mailboxes and subscriptions.
pub struct Deliveries {
    node: u64,
    incarnation: u64,
    queue_max: usize,
    subscriptions_max: usize,
    registry: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    routes: HashMap<u64, Route>,
    /// Subscribers by channel, and by pattern. Ordered sets, so that delivery order among
    /// subscribers does not depend on hashing.
    channels: HashMap<Bytes, BTreeSet<u64>>,
    patterns: HashMap<Bytes, BTreeSet<u64>>,
}

struct Route {
    sender: mpsc::Sender<Delivery>,
    served: Arc<ServedSlot>,
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
}

/// A blocked client's deferred reply, as apply made it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServedReply {
    /// The reply the blocked command gets (the popped element, or the error apply decided).
    pub reply: Frame,
    /// What the reply carries is only reserved for the client: the connection must have its
    /// `BlockingWrite::Delivered` applied (answering 1) before it gives the reply.
    pub reserved: bool,
}

/// The one deferred reply a mailbox may hold.
#[derive(Default)]
struct ServedSlot {
    reply: Mutex<Option<(WaiterId, ServedReply)>>,
    ready: Notify,
}

impl Deliveries {
    pub fn new(
        node: u64,
        incarnation: u64,
        queue_max: usize,
        subscriptions_max: usize,
    ) -> Deliveries {
        Deliveries {
            node,
            incarnation,
            queue_max,
            subscriptions_max,
            registry: Mutex::new(Registry::default()),
        }
    }

    /// The name a blocked connection of this node has in the replicated waiter table.
    pub fn waiter(&self, connection: u64) -> WaiterId {
        WaiterId { node: self.node, incarnation: self.incarnation, connection }
    }

    /// Registers connection `connection` and returns its mailbox.
    pub fn open(self: &Arc<Deliveries>, connection: u64) -> Mailbox {
        let (sender, receiver) = mpsc::channel(self.queue_max);
        let served = Arc::new(ServedSlot::default());
        let route = Route {
            sender,
            served: Arc::clone(&served),
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
        };
        self.registry.lock().routes.insert(connection, route);
        Mailbox {
            connection,
            deliveries: Arc::clone(self),
            receiver,
            served,
            channels: Vec::new(),
            patterns: Vec::new(),
        }
    }

    /// `PUBSUB CHANNELS`: the channels with a subscriber on this node, sorted.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let registry = self.registry.lock();
        let mut channels: Vec<Bytes> = registry
            .channels
            .keys()
            .filter(|channel| pattern.is_none_or(|pattern| glob_match(pattern, channel, false)))
            .cloned()
            .collect();
        channels.sort();
        channels
    }

    /// `PUBSUB NUMSUB`: the subscribers of each channel on this node.
    pub fn subscriber_counts(&self, channels: &[Bytes]) -> Vec<usize> {
        let registry = self.registry.lock();
        channels
            .iter()
            .map(|channel| registry.channels.get(channel).map_or(0, BTreeSet::len))
            .collect()
    }

    /// `PUBSUB NUMPAT`: the distinct patterns subscribed on this node.
    pub fn pattern_count(&self) -> usize {
        self.registry.lock().patterns.len()
    }

    /// Delivers a message to every local subscriber of the channel and of a matching pattern;
    /// returns how many received it.
    fn deliver_message(&self, registry: &mut Registry, channel: &Bytes, message: &Bytes) -> usize {
        let mut deliveries: Vec<(u64, Delivery)> = Vec::new();
        if let Some(subscribers) = registry.channels.get(channel) {
            for &connection in subscribers {
                let delivery =
                    Delivery::Message { channel: channel.clone(), message: message.clone() };
                deliveries.push((connection, delivery));
            }
        }
        for (pattern, subscribers) in &registry.patterns {
            if glob_match(pattern, channel, false) {
                for &connection in subscribers {
                    let delivery = Delivery::PatternMessage {
                        pattern: pattern.clone(),
                        channel: channel.clone(),
                        message: message.clone(),
                    };
                    deliveries.push((connection, delivery));
                }
            }
        }
        let mut received = 0;
        for (connection, delivery) in deliveries {
            let Some(route) = registry.routes.get(&connection) else { continue };
            match route.sender.try_send(delivery) {
                Ok(()) => received += 1,
                Err(_) => {
                    tracing::warn!(
                        client = connection,
                        queue_max = self.queue_max,
                        "closing a subscriber whose message queue overflowed"
                    );
                    registry.cut_off(connection);
                }
            }
        }
        received
    }

    fn deliver_served(&self, registry: &Registry, waiter: WaiterId, reply: ServedReply) {
        if waiter.node != self.node || waiter.incarnation != self.incarnation {
            return;
        }
        let Some(route) = registry.routes.get(&waiter.connection) else {
            if reply.reserved {
                tracing::debug!(
                    client = waiter.connection,
                    "a blocked client was served after its connection closed; its cancel or \
                     the reservation's expiry puts the element back"
                );
            } else {
                tracing::warn!(
                    client = waiter.connection,
                    "a blocked client was served after its connection closed; its reply is lost"
                );
            }
            return;
        };
        *route.served.reply.lock() = Some((waiter, reply));
        route.served.ready.notify_one();
    }
}

impl OutputSink for Deliveries {
    fn deliver(&self, outputs: Vec<Output>, replies: &mut [Frame]) {
        let mut registry = self.registry.lock();
        for output in outputs {
            match output {
                Output::Message { channel, message, reply } => {
                    let received = self.deliver_message(&mut registry, &channel, &message);
                    reply.replace(replies, Frame::Integer(received as i64));
                }
                Output::Served { waiter, reply, reserved } => {
                    self.deliver_served(&registry, waiter, ServedReply { reply, reserved })
                }
            }
        }
    }
}

impl Registry {
    /// Removes a connection's route and every subscription it held.
    fn cut_off(&mut self, connection: u64) {
        let Some(route) = self.routes.remove(&connection) else { return };
        for channel in &route.channels {
            remove_subscriber(&mut self.channels, channel, connection);
        }
        for pattern in &route.patterns {
            remove_subscriber(&mut self.patterns, pattern, connection);
        }
    }
}

fn remove_subscriber(index: &mut HashMap<Bytes, BTreeSet<u64>>, name: &Bytes, connection: u64) {
    if let Some(subscribers) = index.get_mut(name) {
        subscribers.remove(&connection);
        if subscribers.is_empty() {
            index.remove(name);
        }
    }
}

/// Which of a connection's two subscription kinds an operation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE and UNSUBSCRIBE: a channel by its exact name.
    Channel,
    /// PSUBSCRIBE and PUNSUBSCRIBE: a glob-style pattern of channel names.
    Pattern,
}

/// One connection's registration: its queue of messages, its served-reply slot, and its
/// subscriptions in the order it made them (UNSUBSCRIBE without arguments answers in that
/// order).
pub struct Mailbox {
    connection: u64,
    deliveries: Arc<Deliveries>,
    receiver: mpsc::Receiver<Delivery>,
    served: Arc<ServedSlot>,
    channels: Vec<Bytes>,
    patterns: Vec<Bytes>,
}

impl Mailbox {
    /// Channel and pattern subscriptions together (the count Redis's replies carry).
    pub fn subscription_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// How many channels (or patterns) the connection is subscribed to.
    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel => self.channels.len(),
            Kind::Pattern => self.patterns.len(),
        }
    }

    /// The connection's subscriptions of one kind, oldest first.
    pub fn subscriptions(&self, kind: Kind) -> Vec<Bytes> {
        match kind {
            Kind::Channel => self.channels.clone(),
            Kind::Pattern => self.patterns.clone(),
        }
    }

    /// Subscribes to a channel or pattern; subscribing twice is a no-op. `Ok` carries the
    /// subscription count after it.
    pub fn subscribe(&mut self, kind: Kind, name: Bytes) -> Result<usize, TooManySubscriptions> {
        let list = match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
        };
        if list.contains(&name) {
            return Ok(self.subscription_count());
        }
        let subscriptions_max = self.deliveries.subscriptions_max;
        if self.subscription_count() >= subscriptions_max {
            return Err(TooManySubscriptions(subscriptions_max));
        }
        let mut registry = self.deliveries.registry.lock();
        // A mailbox cut off for overflowing no longer subscribes; its connection is closing.
        if let Some(route) = registry.routes.get_mut(&self.connection) {
            match kind {
                Kind::Channel => route.channels.insert(name.clone()),
                Kind::Pattern => route.patterns.insert(name.clone()),
            };
            let index = match kind {
                Kind::Channel => &mut registry.channels,
                Kind::Pattern => &mut registry.patterns,
            };
            index.entry(name.clone()).or_default().insert(self.connection);
        }
        drop(registry);
        match kind {
            Kind::Channel => self.channels.push(name),
            Kind::Pattern => self.patterns.push(name),
        }
        Ok(self.subscription_count())
    }

    /// Unsubscribes from a channel or pattern (a no-op if not subscribed); returns the
    /// subscription count after it.
    pub fn unsubscribe(&mut self, kind: Kind, name: &Bytes) -> usize {
        let list = match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
        };
        if let Some(position) = list.iter().position(|subscribed| subscribed == name) {
            list.remove(position);
            let mut registry = self.deliveries.registry.lock();
            if let Some(route) = registry.routes.get_mut(&self.connection) {
                match kind {
                    Kind::Channel => route.channels.remove(name),
                    Kind::Pattern => route.patterns.remove(name),
                };
            }
            let index = match kind {
                Kind::Channel => &mut registry.channels,
                Kind::Pattern => &mut registry.patterns,
            };
            remove_subscriber(index, name, self.connection);
        }
        self.subscription_count()
    }

    /// The next message; `None` once the mailbox was cut off for overflowing its queue.
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.receiver.recv().await
    }

    /// A message already queued, if any.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        self.receiver.try_recv().ok()
    }

    /// Drops a deferred reply waiting in the slot, if any: one left by a blocking command
    /// that ended in an error before its reply came.
    pub fn discard_served(&self) {
        if let Some((waiter, _)) = self.served.reply.lock().take() {
            tracing::debug!(?waiter, "discarding the served reply of a command that failed");
        }
    }

    /// Waits for the deferred reply of `waiter` (this connection's blocking command).
    pub async fn served(&self, waiter: WaiterId) -> ServedReply {
        loop {
            let notified = self.served.ready.notified();
            {
                let mut slot = self.served.reply.lock();
                if let Some((served, _)) = slot.as_ref() {
                    if *served == waiter {
                        return slot.take().expect("just seen").1;
                    }
                    // A reply for an earlier command of this connection cannot be waiting,
                    // since each waits for its own; drop it rather than answer with it.
                    tracing::warn!(?served, "discarding a served reply for another command");
                    *slot = None;
                }
            }
            notified.await;
        }
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.deliveries.registry.lock().cut_off(self.connection);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_machine::ReplyPlace;

    fn message(channel: &str, text: &str) -> Output {
        Output::Message {
            channel: Bytes::copy_from_slice(channel.as_bytes()),
            message: Bytes::copy_from_slice(text.as_bytes()),
            reply: ReplyPlace { position: 0, step: 0 },
        }
    }

    fn bytes(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    #[test]
    fn a_message_reaches_channel_and_pattern_subscribers_and_counts_them() {
        let deliveries = Arc::new(Deliveries::new(1, 1, 8, 8));
        let mut first = deliveries.open(1);
        let mut second = deliveries.open(2);
        first.subscribe(Kind::Channel, bytes("news")).unwrap();
        second.subscribe(Kind::Pattern, bytes("n*")).unwrap();
        let mut replies = vec![Frame::Integer(0)];
        deliveries.deliver(vec![message("news", "hi")], &mut replies);
        assert_eq!(replies, vec![Frame::Integer(2)]);
        assert_eq!(
            first.try_recv(),
            Some(Delivery::Message { channel: bytes("news"), message: bytes("hi") })
        );
        assert_eq!(
            second.try_recv(),
            Some(Delivery::PatternMessage {
                pattern: bytes("n*"),
                channel: bytes("news"),
                message: bytes("hi")
            })
        );
        assert_eq!(deliveries.channels(None), vec![bytes("news")]);
        assert_eq!(deliveries.pattern_count(), 1);
    }

    #[test]
    fn a_subscriber_whose_queue_overflows_is_cut_off_not_silently_skipped() {
        let deliveries = Arc::new(Deliveries::new(1, 1, 2, 8));
        let mut slow = deliveries.open(1);
        slow.subscribe(Kind::Channel, bytes("c")).unwrap();
        let mut replies = vec![Frame::Integer(0)];
        for _ in 0..3 {
            deliveries.deliver(vec![message("c", "m")], &mut replies);
        }
        assert_eq!(replies, vec![Frame::Integer(0)], "the third message found no subscriber");
        assert!(slow.try_recv().is_some());
        assert!(slow.try_recv().is_some());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert_eq!(runtime.block_on(slow.recv()), None, "the queue is closed after overflow");
        assert!(deliveries.channels(None).is_empty());
    }

    #[test]
    fn subscriptions_are_bounded_per_connection() {
        let deliveries = Arc::new(Deliveries::new(1, 1, 8, 2));
        let mut mailbox = deliveries.open(1);
        mailbox.subscribe(Kind::Channel, bytes("a")).unwrap();
        mailbox.subscribe(Kind::Pattern, bytes("b*")).unwrap();
        assert_eq!(mailbox.subscribe(Kind::Channel, bytes("a")), Ok(2), "a repeat is free");
        assert_eq!(mailbox.subscribe(Kind::Channel, bytes("c")), Err(TooManySubscriptions(2)));
    }

    #[test]
    fn dropping_a_mailbox_removes_its_subscriptions() {
        let deliveries = Arc::new(Deliveries::new(1, 1, 8, 8));
        let mut mailbox = deliveries.open(1);
        mailbox.subscribe(Kind::Channel, bytes("a")).unwrap();
        drop(mailbox);
        assert_eq!(deliveries.subscriber_counts(&[bytes("a")]), vec![0]);
    }
}
