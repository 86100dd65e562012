//! A connection's pub/sub: its subscriptions, subscribed mode, and the messages it receives.
//!
//! A connection opens its [`Mailbox`] (the node's registration for messages and deferred
//! replies) the first time it subscribes or blocks, and keeps it until it closes or RESETs.
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
use crate::command::pubsub::{PubSubCommand, HELP_LINES};
use crate::node::{Delivery, Mailbox, SubscriptionKind};
use crate::resp::{Frame, Protocol};

impl Connection {
    /// Whether the connection is in RESP2 subscribed mode.
    pub(super) fn in_subscribed_mode(&self) -> bool {
        self.session.protocol == Protocol::Resp2
            && self.mailbox.as_ref().is_some_and(|mailbox| mailbox.subscription_count() > 0)
    }

    /// The connection's mailbox, opened on first use.
    pub(super) fn mailbox(&mut self) -> &mut Mailbox {
        let id = self.client.id;
        let node = &self.shared.node;
        self.mailbox.get_or_insert_with(|| node.mailbox(id))
    }

    /// Runs a pub/sub command. `None` means the replies were already written: the subscription
    /// commands answer once per channel or pattern.
    pub(super) fn execute_pubsub(&mut self, command: PubSubCommand) -> Option<Frame> {
        let node = &self.shared.node;
        let frame = match command {
            PubSubCommand::Subscribe { channels } => {
                return self.subscribe(SubscriptionKind::Channel, channels);
            }
            PubSubCommand::PatternSubscribe { patterns } => {
                return self.subscribe(SubscriptionKind::Pattern, patterns);
            }
            PubSubCommand::Unsubscribe { channels } => {
                return self.unsubscribe(SubscriptionKind::Channel, channels);
            }
            PubSubCommand::PatternUnsubscribe { patterns } => {
                return self.unsubscribe(SubscriptionKind::Pattern, patterns);
            }
            PubSubCommand::Channels { pattern } => Frame::Array(
                node.pubsub_channels(pattern.as_deref()).into_iter().map(Frame::Bulk).collect(),
            ),
            PubSubCommand::NumberOfSubscribers { channels } => {
                let counts = node.pubsub_subscriber_counts(&channels);
                let pairs = channels.into_iter().zip(counts);
                Frame::Array(
                    pairs
                        .flat_map(|(channel, count)| {
                            [Frame::Bulk(channel), Frame::Integer(count as i64)]
                        })
                        .collect(),
                )
            }
            PubSubCommand::NumberOfPatterns => Frame::Integer(node.pubsub_pattern_count() as i64),
            PubSubCommand::Help => {
                Frame::Array(HELP_LINES.iter().map(|line| Frame::simple(line)).collect())
            }
        };
        Some(frame)
    }

    fn subscribe(&mut self, kind: SubscriptionKind, names: Vec<Bytes>) -> Option<Frame> {
        let word = match kind {
            SubscriptionKind::Channel => "subscribe",
            SubscriptionKind::Pattern => "psubscribe",
        };
        for name in names {
            let frame = match self.mailbox().subscribe(kind, name.clone()) {
                Ok(count) => confirmation(word, Some(name), count),
                Err(error) => {
                    self.reply(&Frame::Error(error.to_string().into()));
                    return None;
                }
            };
            self.reply(&frame);
            self.note_subscriptions();
        }
        None
    }

    fn unsubscribe(&mut self, kind: SubscriptionKind, names: Vec<Bytes>) -> Option<Frame> {
        let word = match kind {
            SubscriptionKind::Channel => "unsubscribe",
            SubscriptionKind::Pattern => "punsubscribe",
        };
        let mailbox = self.mailbox();
        let names = if names.is_empty() { mailbox.subscriptions(kind) } else { names };
        if names.is_empty() {
            let count = mailbox.subscription_count();
            self.reply(&confirmation(word, None, count));
            return None;
        }
        let frames: Vec<Frame> = names
            .into_iter()
            .map(|name| {
                let count = mailbox.unsubscribe(kind, &name);
                confirmation(word, Some(name), count)
            })
            .collect();
        for frame in &frames {
            self.reply(frame);
        }
        self.note_subscriptions();
        None
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
            self.reply(frame);
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
