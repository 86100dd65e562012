//! The pub/sub family: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB.
//!
//! PUBLISH is a [`Write`]: it goes through the log, so that a message reaches the subscribers
//! of every node. Subscriptions are replicated state too (the subscriber table of
//! `state_machine::pubsub`): the subscription commands are parsed as
//! [`Control`](super::control::Control) commands, because a connection answers them itself
//! (one confirmation per channel), and the connection turns each into a [`SubscriptionWrite`]
//! naming it as the subscriber. So apply knows every subscriber of the cluster: PUBLISH's
//! count is the cluster-wide one, and PUBSUB's introspection answers for the whole cluster.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Args, Command, CommandError, CommandSpec, Write};
use crate::command::redis_metadata;

/// `PUBLISH channel message`, as it travels through the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Publish {
    /// The channel it publishes to, matched exactly and against subscribed patterns.
    pub channel: Bytes,
    /// The message delivered to every subscriber, as sent.
    pub message: Bytes,
}

/// A subscriber, named the same on every replica: its node, that node's run, its connection.
/// The same name as a blocked client's.
pub type SubscriberId = super::blocking::WaiterId;

/// Which of a connection's two subscription kinds an operation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubscriptionKind {
    /// SUBSCRIBE and UNSUBSCRIBE: a channel by its exact name.
    Channel,
    /// PSUBSCRIBE and PUNSUBSCRIBE: a glob-style pattern of channel names.
    Pattern,
}

/// The log requests that change the replicated subscriber table.
///
/// `Subscribe` and `Unsubscribe` answer an array of `[name, count]` pairs, one per channel or
/// pattern in the order they were handled, `count` being the subscriber's channel and pattern
/// subscriptions after it (Redis's confirmation counts); an `Unsubscribe` that named nothing
/// and found nothing answers one pair with a null name. The others answer how many
/// subscriptions they removed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SubscriptionWrite {
    /// SUBSCRIBE or PSUBSCRIBE; a name already subscribed is confirmed again.
    Subscribe {
        /// The connection that subscribes.
        subscriber: SubscriberId,
        /// Channels or patterns.
        kind: SubscriptionKind,
        /// The names in argument order.
        names: Vec<Bytes>,
    },
    /// UNSUBSCRIBE or PUNSUBSCRIBE.
    Unsubscribe {
        /// The connection that unsubscribes.
        subscriber: SubscriberId,
        /// Channels or patterns.
        kind: SubscriptionKind,
        /// The names in argument order; empty for every one of this kind the subscriber has.
        names: Vec<Bytes>,
    },
    /// The connection closed, was killed or RESET: it leaves every channel and pattern.
    UnsubscribeAll {
        /// The connection that is gone.
        subscriber: SubscriberId,
    },
    /// A node started: the subscribers of its earlier runs lost their connections with it.
    ForgetEarlierRuns {
        /// The Raft id of the node that started.
        node: u64,
        /// Its run now: subscribers of this node with any other are removed.
        incarnation: u64,
    },
    /// A member was removed from the cluster: its subscribers are gone with it.
    ForgetNode {
        /// The Raft id of the removed member.
        node: u64,
    },
}

/// The commands on a connection's subscriptions and the node's subscription tables.
#[derive(Clone, Debug, PartialEq)]
pub enum PubSubCommand {
    /// `SUBSCRIBE channel [channel ...]`.
    Subscribe {
        /// The channels in argument order; each gets its own confirmation reply.
        channels: Vec<Bytes>,
    },
    /// No channels: every channel the connection is subscribed to.
    Unsubscribe {
        /// The channels in argument order; empty for all.
        channels: Vec<Bytes>,
    },
    /// `PSUBSCRIBE pattern [pattern ...]`.
    PatternSubscribe {
        /// The glob patterns in argument order; each gets its own confirmation reply.
        patterns: Vec<Bytes>,
    },
    /// No patterns: every pattern the connection is subscribed to.
    PatternUnsubscribe {
        /// The glob patterns in argument order; empty for all.
        patterns: Vec<Bytes>,
    },
    /// `PUBSUB CHANNELS [pattern]`: the channels with at least one subscriber in the cluster.
    Channels {
        /// The glob pattern channels must match; `None` lists every channel.
        pattern: Option<Bytes>,
    },
    /// `PUBSUB NUMSUB [channel ...]`.
    NumberOfSubscribers {
        /// The channels in argument order; the reply pairs each with its count in the cluster.
        channels: Vec<Bytes>,
    },
    /// `PUBSUB NUMPAT`: the distinct patterns subscribed in the cluster.
    NumberOfPatterns,
    /// `PUBSUB HELP`.
    Help,
}

impl PubSubCommand {
    /// Whether the command is one a RESP2 connection in subscribed mode may still send (with
    /// PING, QUIT and RESET).
    pub fn changes_subscriptions(&self) -> bool {
        matches!(
            self,
            PubSubCommand::Subscribe { .. }
                | PubSubCommand::Unsubscribe { .. }
                | PubSubCommand::PatternSubscribe { .. }
                | PubSubCommand::PatternUnsubscribe { .. }
        )
    }
}

/// The commands a RESP2 connection with subscriptions may send; any other gets
/// [`subscribed_mode_error`].
pub fn allowed_in_subscribed_mode(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// Redis's error for any other command in RESP2 subscribed mode.
pub fn subscribed_mode_error(name: &str) -> CommandError {
    CommandError::Other(
        format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
             RESET are allowed in this context"
        )
        .into(),
    )
}

/// The pub/sub commands, each with its metadata and parser; PUBSUB with its subcommands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::SUBSCRIBE, parse_subscribe),
    CommandSpec::new(&redis_metadata::UNSUBSCRIBE, parse_unsubscribe),
    CommandSpec::new(&redis_metadata::PSUBSCRIBE, parse_psubscribe),
    CommandSpec::new(&redis_metadata::PUNSUBSCRIBE, parse_punsubscribe),
    CommandSpec::new(&redis_metadata::PUBLISH, parse_publish),
    CommandSpec::new(&redis_metadata::PUBSUB, no_subcommand).subcommands(SUBCOMMANDS),
];

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::PUBSUB_CHANNELS, parse_channels),
    CommandSpec::new(&redis_metadata::PUBSUB_NUMSUB, parse_numsub),
    CommandSpec::new(&redis_metadata::PUBSUB_NUMPAT, parse_numpat),
    CommandSpec::new(&redis_metadata::PUBSUB_HELP, parse_help),
];

fn pubsub(command: PubSubCommand) -> Result<Command, CommandError> {
    Ok(command.into())
}

fn no_subcommand(_args: &mut Args) -> Result<Command, CommandError> {
    Err(CommandError::WrongArity("pubsub".into()))
}

fn parse_subscribe(args: &mut Args) -> Result<Command, CommandError> {
    pubsub(PubSubCommand::Subscribe { channels: args.rest() })
}

fn parse_unsubscribe(args: &mut Args) -> Result<Command, CommandError> {
    pubsub(PubSubCommand::Unsubscribe { channels: args.rest() })
}

fn parse_psubscribe(args: &mut Args) -> Result<Command, CommandError> {
    pubsub(PubSubCommand::PatternSubscribe { patterns: args.rest() })
}

fn parse_punsubscribe(args: &mut Args) -> Result<Command, CommandError> {
    pubsub(PubSubCommand::PatternUnsubscribe { patterns: args.rest() })
}

fn parse_publish(args: &mut Args) -> Result<Command, CommandError> {
    let (channel, message) = (args.next_bytes()?, args.next_bytes()?);
    Ok(Command::Write(Write::Publish(Publish { channel, message })))
}

fn parse_channels(args: &mut Args) -> Result<Command, CommandError> {
    if args.remaining() > 1 {
        return Err(CommandError::SubcommandMisused { command: "pubsub", subcommand: None });
    }
    pubsub(PubSubCommand::Channels { pattern: args.try_next() })
}

fn parse_numsub(args: &mut Args) -> Result<Command, CommandError> {
    pubsub(PubSubCommand::NumberOfSubscribers { channels: args.rest() })
}

fn parse_numpat(_args: &mut Args) -> Result<Command, CommandError> {
    pubsub(PubSubCommand::NumberOfPatterns)
}

fn parse_help(_args: &mut Args) -> Result<Command, CommandError> {
    pubsub(PubSubCommand::Help)
}

/// PUBSUB HELP's lines, as Redis 7.0 prints them.
pub const HELP_LINES: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];
