//! A connection's pub/sub: its subscriptions, subscribed mode, and the messages it receives.
//!
//! A connection opens its [`Mailbox`] (the node's registration for messages and deferred
//! replies) the first time it subscribes or blocks, and keeps it until it closes or RESETs.
//!
//! Subscriptions are replicated state (`state_machine::pubsub`): each (P)(UN)SUBSCRIBE is one
//! log write naming this connection, and its confirmations are written once it was applied,
//! with the counts apply computed. So a subscriber receives exactly the messages published
//! after its subscription in log order, and every member counts it. A connection that closes,
//! is killed or cut off proposes the removal of its subscriptions in the background; RESET
//! proposes it before it answers.
//! Messages are written to the client as they arrive while the connection is idle, and,
//! before the replies of a batch of writes, whatever was queued by then: a client that
//! publishes to a channel it listens on gets the message before PUBLISH's reply, as in Redis.
//!
//! In RESP2, a connection with at least one subscription is in subscribed mode: only
//! (P)(UN)SUBSCRIBE, PING, QUIT and RESET are allowed, and PING answers `["pong", message]`.
//! RESP3 connections may send anything, since pushes are told apart from replies by type.
//!
//! Caveat: subscription commands inside MULTI are run by EXEC like other connection
//! commands, but their confirmations are written as separate pushes rather than as one element
//! of EXEC's array.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::Connection;
use crate::command::pubsub::{PubSubCommand, SubscriptionWrite, HELP_LINES};
use crate::command::Write;
use crate::node::{Delivery, Mailbox, SubscriptionKind};
use crate::resp::{Frame, Protocol};
use crate::state_machine::WriteRequest;

impl Connection {
    /// Whether the connection is in RESP2 subscribed mode.
    pub(super) fn in_subscribed_mode(&self) -> bool {
        self.session.protocol == Protocol::Resp2
            && self.mailbox.as_ref().is_some_and(|mailbox| mailbox.subscription_count() > 0)
    }

    /// The connection's mailbox, opened on first use.
    pub(super) fn mailbox(&mut self) -> &mut Mailbox {
        let (id, waiter_number) = (self.client.id, self.session.waiter_number);
        let node = &self.shared.node;
        self.mailbox.get_or_insert_with(|| node.mailbox(id, waiter_number))
    }

    /// Runs a pub/sub command. `None` means the replies were already written: the subscription
    /// commands answer once per channel or pattern.
    pub(super) async fn execute_pubsub(&mut self, command: PubSubCommand) -> Option<Frame> {
        let node = &self.shared.node;
        let answer = match command {
            PubSubCommand::Subscribe { channels } => {
                return self.subscribe(SubscriptionKind::Channel, channels).await;
            }
            PubSubCommand::PatternSubscribe { patterns } => {
                return self.subscribe(SubscriptionKind::Pattern, patterns).await;
            }
            PubSubCommand::Unsubscribe { channels } => {
                return self.unsubscribe(SubscriptionKind::Channel, channels).await;
            }
            PubSubCommand::PatternUnsubscribe { patterns } => {
                return self.unsubscribe(SubscriptionKind::Pattern, patterns).await;
            }
            PubSubCommand::Channels { pattern } => node
                .pubsub_query(|table| table.channels(pattern.as_deref()))
                .await
                .map(|channels| Frame::Array(channels.into_iter().map(Frame::Bulk).collect())),
            PubSubCommand::NumberOfSubscribers { channels } => {
                node.pubsub_query(|table| table.subscriber_counts(&channels)).await.map(|counts| {
                    let pairs = channels.into_iter().zip(counts);
                    Frame::Array(
                        pairs
                            .flat_map(|(channel, count)| {
                                [Frame::Bulk(channel), Frame::Integer(count as i64)]
                            })
                            .collect(),
                    )
                })
            }
            PubSubCommand::NumberOfPatterns => {
                node.pubsub_query(|table| Frame::Integer(table.pattern_count() as i64)).await
            }
            PubSubCommand::Help => {
                Ok(Frame::Array(HELP_LINES.iter().map(|line| Frame::simple(line)).collect()))
            }
        };
        Some(answer.unwrap_or_else(|error| error.to_frame()))
    }

    /// SUBSCRIBE and PSUBSCRIBE: one log write for the names within `subscriptions-max`, then
    /// one confirmation per name, then the error for the first name beyond the bound.
    async fn subscribe(&mut self, kind: SubscriptionKind, mut names: Vec<Bytes>) -> Option<Frame> {
        // The table may still hold what a failed RESET or subscription change left; with no
        // subscription the connection knows of, all of that can go first.
        if self.session.subscriptions_unsettled && self.mailbox().subscription_count() == 0 {
            self.unsubscribe_all().await;
        }
        let room = self.mailbox().room_for(kind, &names);
        let refused = (room < names.len()).then(|| self.mailbox().too_many());
        names.truncate(room);
        if !names.is_empty() {
            let subscriber = self.shared.node.waiter(self.client.id);
            let write = SubscriptionWrite::Subscribe { subscriber, kind, names };
            if !self.change_subscriptions(kind, write).await {
                return None;
            }
        }
        if let Some(error) = refused {
            self.reply(&Frame::Error(error.to_string().into()));
        }
        None
    }

    /// UNSUBSCRIBE and PUNSUBSCRIBE: one log write, then one confirmation per name (per
    /// subscribed name when none were given, or one with a null name when there were none).
    async fn unsubscribe(&mut self, kind: SubscriptionKind, names: Vec<Bytes>) -> Option<Frame> {
        let subscriber = self.shared.node.waiter(self.client.id);
        // Without names, the connection names its own, so that they are confirmed in the
        // order it subscribed to them (Redis 7.0 keeps a client's patterns in a list).
        let names = if names.is_empty() { self.mailbox().subscriptions(kind) } else { names };
        self.change_subscriptions(kind, SubscriptionWrite::Unsubscribe { subscriber, kind, names })
            .await;
        None
    }

    /// Proposes a change of this connection's subscriptions and, once applied, records what
    /// apply decided and writes the confirmations. On an error the client gets it; the
    /// connection then counts as subscribed somewhere for its close (the outcome may be
    /// unknown), which removes whatever the table holds for it. Returns whether it applied.
    async fn change_subscriptions(
        &mut self,
        kind: SubscriptionKind,
        write: SubscriptionWrite,
    ) -> bool {
        let word = match (&write, kind) {
            (SubscriptionWrite::Subscribe { .. }, SubscriptionKind::Channel) => "subscribe",
            (SubscriptionWrite::Subscribe { .. }, SubscriptionKind::Pattern) => "psubscribe",
            (_, SubscriptionKind::Channel) => "unsubscribe",
            (_, SubscriptionKind::Pattern) => "punsubscribe",
        };
        let subscribed = matches!(write, SubscriptionWrite::Subscribe { .. });
        let request = WriteRequest { db: self.session.db, write: Write::Subscriptions(write) };
        let pairs = match self.shared.node.write(vec![request]).await {
            Ok(mut replies) => match replies.pop() {
                Some(Frame::Array(pairs)) => pairs,
                other => {
                    tracing::error!(?other, "a subscription change answered no confirmations");
                    Vec::new()
                }
            },
            Err(error) => {
                self.session.subscriptions_unsettled = true;
                self.reply(&error.to_frame());
                return false;
            }
        };
        self.forget_view();
        // A message published before an unsubscribe was applied comes before its
        // confirmation, as in Redis. Not before a subscribe's: the queue may hold messages
        // on the new channel, which must follow its confirmation.
        if !subscribed {
            self.write_queued_messages();
        }
        for pair in pairs {
            let Frame::Array(pair) = pair else { continue };
            let [name, count] =
                <[Frame; 2]>::try_from(pair).unwrap_or([Frame::Null, Frame::Integer(0)]);
            let name = match name {
                Frame::Bulk(name) => {
                    self.mailbox().note(kind, &name, subscribed);
                    Some(name)
                }
                _ => None,
            };
            let count = match count {
                Frame::Integer(count) => count as usize,
                _ => 0,
            };
            self.push(&confirmation(word, name, count));
        }
        self.note_subscriptions();
        true
    }

    /// Whether the replicated table may hold subscriptions of this connection, which must be
    /// removed when it closes or RESETs.
    pub(super) fn may_hold_subscriptions(&self) -> bool {
        self.session.subscriptions_unsettled
            || self.mailbox.as_ref().is_some_and(|mailbox| mailbox.subscription_count() > 0)
    }

    /// RESET: leaves every channel and pattern, through the log, before RESET answers. If
    /// that fails, RESET answers all the same, as in Redis, and the connection stays
    /// unsettled: its next SUBSCRIBE first tries again, and its close removes them for good.
    pub(super) async fn unsubscribe_all(&mut self) {
        if !self.may_hold_subscriptions() {
            return;
        }
        let subscriber = self.shared.node.waiter(self.client.id);
        let write = Write::Subscriptions(SubscriptionWrite::UnsubscribeAll { subscriber });
        let removed = self.shared.node.write(vec![WriteRequest { db: 0, write }]).await;
        self.session.subscriptions_unsettled = removed.is_err();
        if let Some(mailbox) = self.mailbox.as_mut() {
            mailbox.clear_subscriptions();
        }
        self.note_subscriptions();
        self.forget_view();
    }

    /// The connection is closing: if the table may hold its subscriptions, their removal is
    /// proposed in the background (see `Node::forget_subscriber`).
    pub(super) fn leave_subscriptions(&self) {
        if self.may_hold_subscriptions() {
            self.shared.node.forget_subscriber(self.shared.node.waiter(self.client.id));
        }
    }

    /// Publishes the connection's subscription counts to its entry in the client registry.
    pub(super) fn note_subscriptions(&self) {
        let (channels, patterns) = self.mailbox.as_ref().map_or((0, 0), |mailbox| {
            (mailbox.count(SubscriptionKind::Channel), mailbox.count(SubscriptionKind::Pattern))
        });
        self.client.channel_subscriptions.store(channels, Ordering::Relaxed);
        self.client.pattern_subscriptions.store(patterns, Ordering::Relaxed);
    }

    /// Writes every message already queued for the connection into its output.
    pub(super) fn write_queued_messages(&mut self) {
        let Some(mailbox) = self.mailbox.as_mut() else { return };
        let mut frames = Vec::new();
        while let Some(delivery) = mailbox.try_recv() {
            frames.push(delivery.to_frame());
        }
        for frame in &frames {
            self.push(frame);
        }
    }
}

fn confirmation(word: &'static str, name: Option<Bytes>, count: usize) -> Frame {
    Frame::Push(vec![Frame::bulk(word), Frame::bulk_or_null(name), Frame::Integer(count as i64)])
}

/// Waits for the next message of a connection that has a mailbox; never resolves without
/// one. `None` means the mailbox was cut off because its queue overflowed.
pub(super) async fn next_message(mailbox: &mut Option<Mailbox>) -> Option<Delivery> {
    match mailbox {
        Some(mailbox) => mailbox.recv().await,
        None => std::future::pending().await,
    }
}
