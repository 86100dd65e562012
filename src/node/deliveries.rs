//! Deliveries: the outputs of applied entries, routed to this node's connections.
//!
//! Apply produces, besides each request's reply, outputs for other connections (see
//! `state_machine::outputs`): published messages and the deferred replies of blocked
//! clients. [`Deliveries`] is the node's registry of who receives them. A connection that
//! subscribes or blocks opens a [`Mailbox`], which registers it; dropping the mailbox
//! unregisters it.
//!
//! Who subscribes to what is not decided here: apply names the receivers of each message from
//! the replicated subscriber table (`state_machine::pubsub`), and this node delivers to those
//! that are its own connections of its current run. The mailbox keeps the connection's own
//! list of its subscriptions only for its confirmations, RESP2 subscribed mode and CLIENT
//! LIST, and the connection updates it from what apply answered.
//!
//! Invariants:
//! - Delivery never blocks apply: messages go into each mailbox's bounded queue with
//!   `try_send`. A subscriber whose queue is full (`subscriber_queue_messages_max`) is cut
//!   off: its route is removed at once, and its connection, finding the queue closed, closes
//!   and proposes the removal of its subscriptions (Redis's `client-output-buffer-limit
//!   pubsub`). A message is never dropped for a subscriber that stays connected.
//! - A served reply goes into a slot of its own, one per mailbox: a connection waits for at
//!   most one blocking command at a time, so the slot bounds itself and a flood of messages
//!   never pushes a served reply out.
//! - Deliveries happen in apply order, so a subscriber sees messages in log order, and a
//!   connection that publishes to itself finds the message queued before its reply returns.
//!
//! A connection blocks under a waiter number, at first its own id. After a blocking command
//! that ended in an error it takes a fresh one ([`Mailbox::answer_as`]), so that the entries of
//! that command, however late the log applies them, never serve the next one.
//!
//! A served reply whose connection closed before it arrived, or that names a number its
//! connection gave up, has nowhere to go. When it is reserved (see `state_machine::blocking`) nothing is lost: the element goes back to its key
//! when the connection's cancel or the reservation's expiry is applied. A reply that was not
//! reserved (a waiter blocked by an older binary, whose entries are replayed) is logged as
//! lost.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

pub use crate::command::pubsub::SubscriptionKind;
use crate::resp::Frame;
use crate::state_machine::{Output, OutputSink, Receiver, WaiterId};

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
    /// Raised when a connection was cut off (see [`Deliveries::cut_off`]).
    cut_off_signal: Notify,
}

#[derive(Default)]
struct Registry {
    routes: HashMap<u64, Route>,
    /// The connection each blocked-client number stands for: a mailbox answers to one number
    /// at a time (see [`Mailbox::answer_as`]), so a reply served to a number it gave up
    /// reaches no one.
    waiter_numbers: HashMap<u64, u64>,
    /// Connections cut off for overflowing, whose subscriptions the node has yet to propose
    /// to remove. Bounded by the number of connections: a route is cut off once.
    cut_off: Vec<u64>,
}

struct Route {
    sender: mpsc::Sender<Delivery>,
    served: Arc<ServedSlot>,
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
            cut_off_signal: Notify::new(),
        }
    }

    /// The name a blocked connection of this node has in the replicated waiter table.
    pub fn waiter(&self, connection: u64) -> WaiterId {
        WaiterId { node: self.node, incarnation: self.incarnation, connection }
    }

    /// Registers connection `connection`, which is `waiter_number` as a blocked client (see
    /// [`Mailbox::answer_as`]), and returns its mailbox.
    pub fn open(self: &Arc<Deliveries>, connection: u64, waiter_number: u64) -> Mailbox {
        let (sender, receiver) = mpsc::channel(self.queue_max);
        let served = Arc::new(ServedSlot::default());
        let route = Route { sender, served: Arc::clone(&served) };
        let mut registry = self.registry.lock();
        registry.routes.insert(connection, route);
        registry.waiter_numbers.insert(waiter_number, connection);
        drop(registry);
        Mailbox {
            connection,
            waiter_number,
            deliveries: Arc::clone(self),
            receiver,
            served,
            channels: Vec::new(),
            patterns: Vec::new(),
        }
    }

    /// Waits until some connection was cut off for overflowing its queue and returns the
    /// subscriber ids of every one cut off since the last call. Its connection may be stuck
    /// writing to a client that does not read, so the node proposes the removal of its
    /// subscriptions without waiting for it to close.
    pub async fn cut_off(&self) -> Vec<WaiterId> {
        loop {
            let connections = std::mem::take(&mut self.registry.lock().cut_off);
            if !connections.is_empty() {
                return connections.into_iter().map(|connection| self.waiter(connection)).collect();
            }
            self.cut_off_signal.notified().await;
        }
    }

    /// Delivers a message to the receivers apply named that are connections of this run of
    /// this node; the others are some other node's to deliver.
    fn deliver_message(
        &self,
        registry: &mut Registry,
        channel: &Bytes,
        message: &Bytes,
        receivers: Vec<Receiver>,
    ) {
        for Receiver { subscriber, pattern } in receivers {
            if subscriber.node != self.node || subscriber.incarnation != self.incarnation {
                continue;
            }
            // A connection that closed before its removal from the table was applied.
            let Some(route) = registry.routes.get(&subscriber.connection) else { continue };
            let delivery = match pattern {
                None => Delivery::Message { channel: channel.clone(), message: message.clone() },
                Some(pattern) => Delivery::PatternMessage {
                    pattern,
                    channel: channel.clone(),
                    message: message.clone(),
                },
            };
            if route.sender.try_send(delivery).is_err() {
                tracing::warn!(
                    client = subscriber.connection,
                    queue_max = self.queue_max,
                    "closing a subscriber whose message queue overflowed"
                );
                registry.routes.remove(&subscriber.connection);
                registry.cut_off.push(subscriber.connection);
                self.cut_off_signal.notify_one();
            }
        }
    }

    fn deliver_served(&self, registry: &Registry, waiter: WaiterId, reply: ServedReply) {
        if waiter.node != self.node || waiter.incarnation != self.incarnation {
            return;
        }
        let connection = registry.waiter_numbers.get(&waiter.connection);
        let Some(route) = connection.and_then(|connection| registry.routes.get(connection)) else {
            if reply.reserved {
                tracing::debug!(
                    waiter = waiter.connection,
                    "a blocked client was served after its connection closed or gave up that \
                     waiter number; its cancel or the reservation's expiry puts the element back"
                );
            } else {
                tracing::warn!(
                    waiter = waiter.connection,
                    "a blocked client was served after its connection closed or gave up that \
                     waiter number; its reply is lost"
                );
            }
            return;
        };
        *route.served.reply.lock() = Some((waiter, reply));
        route.served.ready.notify_one();
    }
}

impl OutputSink for Deliveries {
    fn deliver(&self, outputs: Vec<Output>) {
        let mut registry = self.registry.lock();
        for output in outputs {
            match output {
                Output::Message { channel, message, receivers } => {
                    self.deliver_message(&mut registry, &channel, &message, receivers);
                }
                Output::Served { waiter, reply, reserved } => {
                    self.deliver_served(&registry, waiter, ServedReply { reply, reserved })
                }
            }
        }
    }
}

/// One connection's registration: its queue of messages, its served-reply slot, and its
/// subscriptions in the order it made them, as apply confirmed them.
pub struct Mailbox {
    connection: u64,
    waiter_number: u64,
    deliveries: Arc<Deliveries>,
    receiver: mpsc::Receiver<Delivery>,
    served: Arc<ServedSlot>,
    channels: Vec<Bytes>,
    patterns: Vec<Bytes>,
}

impl Mailbox {
    /// The connection's name in the replicated waiter table for its next blocking command.
    pub fn waiter(&self) -> WaiterId {
        self.deliveries.waiter(self.waiter_number)
    }

    /// From now on the connection blocks as `number` (an id no connection of this run has),
    /// and a reply served to the number it had reaches no one. A blocking command that ended
    /// in an error may still be registered under the old number later, when its entry was
    /// delayed past the cancel that settled it (a forward queued on a leader), and it must not
    /// take the place of the next command: its reservation expires back to its key instead.
    pub fn answer_as(&mut self, number: u64) {
        let mut registry = self.deliveries.registry.lock();
        registry.waiter_numbers.remove(&self.waiter_number);
        registry.waiter_numbers.insert(number, self.connection);
        self.waiter_number = number;
    }

    /// Channel and pattern subscriptions together (the count Redis's replies carry).
    pub fn subscription_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// How many channels (or patterns) the connection is subscribed to.
    pub fn count(&self, kind: SubscriptionKind) -> usize {
        match kind {
            SubscriptionKind::Channel => self.channels.len(),
            SubscriptionKind::Pattern => self.patterns.len(),
        }
    }

    /// The connection's subscriptions of one kind, oldest first.
    pub fn subscriptions(&self, kind: SubscriptionKind) -> Vec<Bytes> {
        match kind {
            SubscriptionKind::Channel => self.channels.clone(),
            SubscriptionKind::Pattern => self.patterns.clone(),
        }
    }

    /// How many of `names`, taken in order, the connection may subscribe to without going
    /// over `subscriptions-max`; a name it already has, or repeats, costs nothing.
    pub fn room_for(&self, kind: SubscriptionKind, names: &[Bytes]) -> usize {
        let mut count = self.subscription_count();
        let mut added: Vec<&Bytes> = Vec::new();
        for (accepted, name) in names.iter().enumerate() {
            let known = self.list(kind).contains(name) || added.contains(&name);
            if !known {
                if count >= self.deliveries.subscriptions_max {
                    return accepted;
                }
                count += 1;
                added.push(name);
            }
        }
        names.len()
    }

    /// The error for a subscription beyond the bound.
    pub fn too_many(&self) -> TooManySubscriptions {
        TooManySubscriptions(self.deliveries.subscriptions_max)
    }

    /// Records what apply decided for this connection's subscription to `name`: subscribed
    /// (a repeat is a no-op) or not.
    pub fn note(&mut self, kind: SubscriptionKind, name: &Bytes, subscribed: bool) {
        let list = match kind {
            SubscriptionKind::Channel => &mut self.channels,
            SubscriptionKind::Pattern => &mut self.patterns,
        };
        let position = list.iter().position(|listed| listed == name);
        match (position, subscribed) {
            (None, true) => list.push(name.clone()),
            (Some(position), false) => {
                list.remove(position);
            }
            _ => {}
        }
    }

    /// Forgets every subscription: its removal from the table was proposed.
    pub fn clear_subscriptions(&mut self) {
        self.channels.clear();
        self.patterns.clear();
    }

    fn list(&self, kind: SubscriptionKind) -> &[Bytes] {
        match kind {
            SubscriptionKind::Channel => &self.channels,
            SubscriptionKind::Pattern => &self.patterns,
        }
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
        let mut registry = self.deliveries.registry.lock();
        registry.routes.remove(&self.connection);
        registry.waiter_numbers.remove(&self.waiter_number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    fn message(receivers: Vec<Receiver>) -> Output {
        Output::Message { channel: bytes("news"), message: bytes("hi"), receivers }
    }

    fn receiver(node: u64, incarnation: u64, connection: u64, pattern: Option<&str>) -> Receiver {
        let subscriber = WaiterId { node, incarnation, connection };
        Receiver { subscriber, pattern: pattern.map(bytes) }
    }

    #[test]
    fn a_message_reaches_the_receivers_of_this_run_of_this_node_only() {
        let deliveries = Arc::new(Deliveries::new(1, 1, 8, 8));
        let mut first = deliveries.open(1, 1);
        let mut second = deliveries.open(2, 2);
        let mut other_run = deliveries.open(3, 3);
        deliveries.deliver(vec![message(vec![
            receiver(1, 1, 1, None),
            receiver(1, 1, 2, Some("n*")),
            receiver(2, 1, 1, None),
            receiver(1, 0, 3, None),
            receiver(1, 1, 9, None),
        ])]);
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
        assert_eq!(first.try_recv(), None, "node 2's connection 1 is not this one");
        assert_eq!(other_run.try_recv(), None, "an earlier run's connection 3 is not this one");
    }

    #[test]
    fn a_subscriber_whose_queue_overflows_is_cut_off_not_silently_skipped() {
        let deliveries = Arc::new(Deliveries::new(1, 1, 2, 8));
        let mut slow = deliveries.open(1, 1);
        for _ in 0..3 {
            deliveries.deliver(vec![message(vec![receiver(1, 1, 1, None)])]);
        }
        assert!(slow.try_recv().is_some());
        assert!(slow.try_recv().is_some());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert_eq!(runtime.block_on(slow.recv()), None, "the queue is closed after overflow");
    }

    #[test]
    fn subscriptions_are_bounded_per_connection() {
        let deliveries = Arc::new(Deliveries::new(1, 1, 8, 2));
        let mut mailbox = deliveries.open(1, 1);
        mailbox.note(SubscriptionKind::Channel, &bytes("a"), true);
        let names = [bytes("a"), bytes("b"), bytes("b"), bytes("c")];
        assert_eq!(mailbox.room_for(SubscriptionKind::Channel, &names), 3, "repeats are free");
        mailbox.note(SubscriptionKind::Pattern, &bytes("b*"), true);
        assert_eq!(mailbox.room_for(SubscriptionKind::Channel, &[bytes("a")]), 1);
        assert_eq!(mailbox.room_for(SubscriptionKind::Channel, &[bytes("c")]), 0);
        assert_eq!(mailbox.too_many(), TooManySubscriptions(2));
    }

    fn served(waiter: WaiterId, element: &str) -> Output {
        let reply = Frame::Array(vec![Frame::Bulk(bytes("list")), Frame::Bulk(bytes(element))]);
        Output::Served { waiter, reply, reserved: true }
    }

    #[test]
    fn a_reply_served_to_a_waiter_number_given_up_reaches_no_one() {
        let deliveries = Arc::new(Deliveries::new(1, 1, 8, 8));
        let mut mailbox = deliveries.open(7, 7);
        let failed = mailbox.waiter();
        assert_eq!(failed, WaiterId { node: 1, incarnation: 1, connection: 7 });
        mailbox.answer_as(12);
        let next = mailbox.waiter();
        assert_eq!(next.connection, 12);
        // The failed command's block is applied late, and a push serves it while the next
        // command waits: the connection must not take that reply.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        deliveries.deliver(vec![served(failed, "stale")]);
        let waited = runtime.block_on(async {
            tokio::time::timeout(std::time::Duration::from_millis(20), mailbox.served(next)).await
        });
        assert!(waited.is_err(), "the reply served to the given-up number reached the mailbox");
        deliveries.deliver(vec![served(next, "fresh")]);
        let reply = runtime.block_on(mailbox.served(next)).reply;
        assert_eq!(
            reply,
            Frame::Array(vec![Frame::Bulk(bytes("list")), Frame::Bulk(bytes("fresh"))])
        );
        drop(mailbox);
        assert!(deliveries.registry.lock().waiter_numbers.is_empty());
    }
}
