//! Pub/sub inside apply: the replicated subscriber table, and PUBLISH against it.
//!
//! Every SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE and PUNSUBSCRIBE is a log request
//! ([`SubscriptionWrite`]) naming its subscriber (node, run, connection), so every replica
//! holds the same [`Subscriptions`]: which subscriber listens to which channels and patterns.
//! A PUBLISH applied here counts its receivers in that table, as a single Redis 7.0 counts
//! them (each channel subscriber once, plus each pattern subscriber once per matching
//! pattern), so its reply is the cluster-wide count and the same on every replica. Its
//! message becomes an [`Output::Message`] naming those receivers; each node delivers it to the
//! ones that are its own connections of its current run (`node::deliveries`).
//!
//! A subscriber receives exactly the messages whose PUBLISH comes after its subscription in
//! the log, whichever member either went through: the connection confirms a subscription
//! only once its entry was applied.
//!
//! Messages are collected after each request from the request itself, so PUBLISH needs no
//! path of its own through the families: a PUBLISH inside an EXEC that ran (its reply is an
//! array) is counted and delivered, one inside an EXEC that WATCH aborted is not.
//!
//! Subscribers leave the table when their connection unsubscribes, closes, is killed or
//! RESET (`UnsubscribeAll`), when their node starts again (`ForgetEarlierRuns`) or when their
//! node is removed from the cluster (`ForgetNode`). Until one of those is applied, a
//! subscriber whose connection is gone is still counted (see docs/decisions.md for the bound).
//!
//! Invariant: the two indexes (`channels`, `patterns`) hold exactly the pairs `subscribers`
//! holds, and no subscriber, channel or pattern with an empty set stays in any of them.
//! Snapshots carry `subscribers` only; the indexes are rebuilt when one is loaded.
//!
//! Caveats: an `Unsubscribe` without names takes the subscriber's names in byte order (the
//! connection names its own, in the order it subscribed, so this only happens when it knows
//! of none); a message is delivered to matching patterns in byte order, where Redis 7.0 goes
//! in its hash table's order, which no client can rely on.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::command::pubsub::{SubscriberId, SubscriptionKind, SubscriptionWrite};
use crate::command::transactions::Operation;
use crate::command::Write;
use crate::resp::Frame;
use crate::store::glob_match;

use super::outputs::{Output, Receiver};

/// The replicated subscriber table: every subscriber of the cluster and what it listens to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "SubscriptionsRecord", into = "SubscriptionsRecord")]
pub struct Subscriptions {
    subscribers: BTreeMap<SubscriberId, Subscribed>,
    /// For each channel, its subscribers.
    channels: BTreeMap<Bytes, BTreeSet<SubscriberId>>,
    /// For each pattern, its subscribers.
    patterns: BTreeMap<Bytes, BTreeSet<SubscriberId>>,
}

/// One subscriber's channels and patterns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Subscribed {
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
}

impl Subscribed {
    fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    fn names(&self, kind: SubscriptionKind) -> &BTreeSet<Bytes> {
        match kind {
            SubscriptionKind::Channel => &self.channels,
            SubscriptionKind::Pattern => &self.patterns,
        }
    }

    fn names_mut(&mut self, kind: SubscriptionKind) -> &mut BTreeSet<Bytes> {
        match kind {
            SubscriptionKind::Channel => &mut self.channels,
            SubscriptionKind::Pattern => &mut self.patterns,
        }
    }
}

/// What a snapshot holds of the table (snapshot format version 4): the subscribers alone.
#[derive(Serialize, Deserialize)]
struct SubscriptionsRecord {
    subscribers: BTreeMap<SubscriberId, Subscribed>,
}

impl From<SubscriptionsRecord> for Subscriptions {
    fn from(record: SubscriptionsRecord) -> Subscriptions {
        let mut table = Subscriptions::default();
        for (subscriber, subscribed) in record.subscribers {
            for channel in subscribed.channels {
                table.add(subscriber, SubscriptionKind::Channel, channel);
            }
            for pattern in subscribed.patterns {
                table.add(subscriber, SubscriptionKind::Pattern, pattern);
            }
        }
        table
    }
}

impl From<Subscriptions> for SubscriptionsRecord {
    fn from(table: Subscriptions) -> SubscriptionsRecord {
        SubscriptionsRecord { subscribers: table.subscribers }
    }
}

impl Subscriptions {
    /// `PUBSUB CHANNELS`: the channels with at least one subscriber, in byte order.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels
            .keys()
            .filter(|channel| pattern.is_none_or(|pattern| glob_match(pattern, channel, false)))
            .cloned()
            .collect()
    }

    /// `PUBSUB NUMSUB`: the subscribers of each channel (pattern subscribers not counted).
    pub fn subscriber_counts(&self, channels: &[Bytes]) -> Vec<usize> {
        channels.iter().map(|channel| self.channels.get(channel).map_or(0, BTreeSet::len)).collect()
    }

    /// `PUBSUB NUMPAT`: the distinct patterns someone is subscribed to.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// How many subscribers there are, on every node.
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.len()
    }

    fn index_mut(
        &mut self,
        kind: SubscriptionKind,
    ) -> &mut BTreeMap<Bytes, BTreeSet<SubscriberId>> {
        match kind {
            SubscriptionKind::Channel => &mut self.channels,
            SubscriptionKind::Pattern => &mut self.patterns,
        }
    }

    fn count(&self, subscriber: SubscriberId) -> usize {
        self.subscribers.get(&subscriber).map_or(0, Subscribed::count)
    }

    fn add(&mut self, subscriber: SubscriberId, kind: SubscriptionKind, name: Bytes) {
        let subscribed = self.subscribers.entry(subscriber).or_default();
        if subscribed.names_mut(kind).insert(name.clone()) {
            self.index_mut(kind).entry(name).or_default().insert(subscriber);
        }
    }

    /// Removes one subscription; whether it was there.
    fn remove(&mut self, subscriber: SubscriberId, kind: SubscriptionKind, name: &Bytes) -> bool {
        let Some(subscribed) = self.subscribers.get_mut(&subscriber) else { return false };
        if !subscribed.names_mut(kind).remove(name) {
            return false;
        }
        if subscribed.count() == 0 {
            self.subscribers.remove(&subscriber);
        }
        let index = self.index_mut(kind);
        if let Some(members) = index.get_mut(name) {
            members.remove(&subscriber);
            if members.is_empty() {
                index.remove(name);
            }
        }
        true
    }

    /// Removes every subscription of the subscribers `which` selects; how many there were.
    fn remove_subscribers(&mut self, which: impl Fn(&SubscriberId) -> bool) -> usize {
        let gone: Vec<SubscriberId> =
            self.subscribers.keys().filter(|subscriber| which(subscriber)).copied().collect();
        let mut removed = 0;
        for subscriber in gone {
            let subscribed = self.subscribers.get(&subscriber).cloned().unwrap_or_default();
            for channel in &subscribed.channels {
                removed += usize::from(self.remove(subscriber, SubscriptionKind::Channel, channel));
            }
            for pattern in &subscribed.patterns {
                removed += usize::from(self.remove(subscriber, SubscriptionKind::Pattern, pattern));
            }
        }
        removed
    }

    /// Who receives a message on `channel`: its subscribers, then each matching pattern's, in
    /// pattern order (a subscriber of several matching patterns receives it once per pattern).
    fn receivers(&self, channel: &Bytes) -> Vec<Receiver> {
        let mut receivers: Vec<Receiver> = self
            .channels
            .get(channel)
            .into_iter()
            .flatten()
            .map(|&subscriber| Receiver { subscriber, pattern: None })
            .collect();
        for (pattern, subscribers) in &self.patterns {
            if glob_match(pattern, channel, false) {
                receivers.extend(
                    subscribers
                        .iter()
                        .map(|&subscriber| Receiver { subscriber, pattern: Some(pattern.clone()) }),
                );
            }
        }
        receivers
    }
}

/// Applies a change of the subscriber table and returns its reply (see [`SubscriptionWrite`]).
pub(super) fn apply(table: &mut Subscriptions, write: &SubscriptionWrite) -> Frame {
    match write {
        SubscriptionWrite::Subscribe { subscriber, kind, names } => {
            let pairs = names.iter().map(|name| {
                table.add(*subscriber, *kind, name.clone());
                confirmation(Some(name.clone()), table.count(*subscriber))
            });
            Frame::Array(pairs.collect())
        }
        SubscriptionWrite::Unsubscribe { subscriber, kind, names } => {
            let names = match names.is_empty() {
                false => names.clone(),
                true => table.subscribers.get(subscriber).map_or_else(Vec::new, |subscribed| {
                    subscribed.names(*kind).iter().cloned().collect()
                }),
            };
            if names.is_empty() {
                return Frame::Array(vec![confirmation(None, table.count(*subscriber))]);
            }
            let pairs = names.into_iter().map(|name| {
                table.remove(*subscriber, *kind, &name);
                confirmation(Some(name), table.count(*subscriber))
            });
            Frame::Array(pairs.collect())
        }
        SubscriptionWrite::UnsubscribeAll { subscriber } => {
            count_frame(table.remove_subscribers(|id| id == subscriber))
        }
        SubscriptionWrite::ForgetEarlierRuns { node, incarnation } => count_frame(
            table.remove_subscribers(|id| id.node == *node && id.incarnation != *incarnation),
        ),
        SubscriptionWrite::ForgetNode { node } => {
            count_frame(table.remove_subscribers(|id| id.node == *node))
        }
    }
}

fn confirmation(name: Option<Bytes>, count: usize) -> Frame {
    Frame::Array(vec![Frame::bulk_or_null(name), Frame::Integer(count as i64)])
}

fn count_frame(count: usize) -> Frame {
    Frame::Integer(count as i64)
}

/// Counts and collects the messages `write` (answered `reply`) published: each PUBLISH's
/// reply becomes its count of receivers, and its message an output naming them.
pub(super) fn collect(
    table: &Subscriptions,
    write: &Write,
    reply: &mut Frame,
    outputs: &mut Vec<Output>,
) {
    match (write, reply) {
        (Write::Publish(publish), reply) => {
            *reply = publish_one(table, &publish.channel, &publish.message, outputs);
        }
        (Write::Transaction(transaction), Frame::Array(replies)) => {
            for (step, reply) in transaction.steps.iter().zip(replies.iter_mut()) {
                if let Operation::Write(Write::Publish(publish)) = &step.operation {
                    *reply = publish_one(table, &publish.channel, &publish.message, outputs);
                }
            }
        }
        _ => {}
    }
}

fn publish_one(
    table: &Subscriptions,
    channel: &Bytes,
    message: &Bytes,
    outputs: &mut Vec<Output>,
) -> Frame {
    let receivers = table.receivers(channel);
    let count = receivers.len();
    if count > 0 {
        outputs.push(Output::Message {
            channel: channel.clone(),
            message: message.clone(),
            receivers,
        });
    }
    Frame::Integer(count as i64)
}

#[cfg(test)]
mod tests;
