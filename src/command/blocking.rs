//! The blocking commands: the pops BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX, BZMPOP, and the stream reads XREAD and XREADGROUP with BLOCK (parsed in
//! `command::streams`, which make them [`BlockingPop::Streams`] and
//! [`BlockingPop::StreamGroup`]). "Pop" names all of them below: a stream read takes nothing
//! from its key, but waits and is served the same way.
//!
//! A blocking pop is a [`Write`]: it goes through the log as [`BlockingWrite::Block`]. Apply
//! pops at once when there is data; otherwise it registers the connection as a waiter in the
//! replicated waiter table, and a later write that makes data available serves it inside its
//! own apply (see `state_machine::blocking`). The waiting connection measures its timeout and
//! then proposes [`BlockingWrite::Unblock`]; apply decides whether that times the waiter out
//! or finds it already served, so every replica agrees.
//!
//! The parsers reuse the non-blocking forms' (LMOVE, LMPOP, ZMPOP), so the argument errors come
//! in Redis's order: a blocking pop's timeout is checked first for BLPOP, BRPOP, BZPOPMIN and
//! BZPOPMAX, and last for the others.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::lists::{ListEnd, ListWrite};
use super::stream_ids::ReadFrom;
use super::zsets::{PopCommand, ZsetWrite};
use super::{parse_f64, Args, Command, CommandError, CommandSpec, Key, Write};
use crate::command::redis_metadata;

/// A blocked client, named the same on every replica: the node it is connected to, that
/// node's incarnation (a waiter registered by an earlier run of the node is never confused
/// with a connection of this run), and the connection's id on the node.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct WaiterId {
    /// The Raft id of the node the client is connected to.
    pub node: u64,
    /// That node's incarnation (of its data directory, see `raft::identity`) when the
    /// client blocked.
    pub incarnation: u64,
    /// The connection's id on that node, as CLIENT ID reports it.
    pub connection: u64,
}

/// What a blocking command pops once data is there; the reply shapes are those of the
/// non-blocking forms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BlockingPop {
    /// BLPOP and BRPOP: `[key, element]` from the first non-empty list.
    List {
        /// The keys in argument order; the first that holds a list is popped.
        keys: Vec<Key>,
        /// `Left` for BLPOP, `Right` for BRPOP.
        end: ListEnd,
    },
    /// BLMOVE and BRPOPLPUSH: the element moved.
    Move {
        /// The key it pops from, and waits on.
        source: Key,
        /// The key it pushes to; may be `source` itself.
        destination: Key,
        /// The end of `source` it pops; `Right` for BRPOPLPUSH.
        from: ListEnd,
        /// The end of `destination` it pushes; `Left` for BRPOPLPUSH.
        to: ListEnd,
    },
    /// BLMPOP: `[key, [elements]]`.
    ListMany {
        /// The keys in argument order; the first that holds a list is popped.
        keys: Vec<Key>,
        /// `LEFT` or `RIGHT`: the end it pops.
        end: ListEnd,
        /// How many elements at most: `COUNT`, or 1.
        count: u64,
    },
    /// BZPOPMIN and BZPOPMAX: `[key, member, score]`.
    Zset {
        /// The keys in argument order; the first that holds a sorted set is popped.
        keys: Vec<Key>,
        /// BZPOPMAX: pop the highest score; `false` for BZPOPMIN, the lowest.
        from_max: bool,
    },
    /// BZMPOP: `[key, [[member, score], ...]]`.
    ZsetMany {
        /// The keys in argument order; the first that holds a sorted set is popped.
        keys: Vec<Key>,
        /// `MAX`: pop the highest scores; `false` for `MIN`, the lowest.
        from_max: bool,
        /// How many members at most: `COUNT`, or 1.
        count: u64,
    },
    // The variants below were added after the first five; postcard names a variant by its
    // place, so new ones only ever go at the end.
    /// XREAD with BLOCK: `[[key, entries]]`, as XREAD answers; at once, the entries of every
    /// stream that has some after its id, and once blocked, those of the first stream an
    /// entry is added to.
    Streams {
        /// COUNT per stream, 0 for all; a waiter served after blocking without COUNT gets at
        /// most Redis's 1000.
        count: u64,
        /// Each stream and where to read after, or the error its id earned (reported in
        /// Redis's order, after the key's type). In the log `$` is [`ReadFrom::Last`]; a
        /// waiter in the table has it resolved to the stream's last id when it blocked, so
        /// every one there is `Ok(ReadFrom::After(_))`.
        streams: Vec<(Key, Result<ReadFrom, CommandError>)>,
    },
    /// XREADGROUP with BLOCK when every stream's id is `>` (with an explicit id it never
    /// waits, as in Redis): the entries never delivered to the group, with the PEL bookkeeping
    /// done in apply when it is served.
    StreamGroup {
        /// The group.
        group: Bytes,
        /// The consumer, created when it is first served.
        consumer: Bytes,
        /// COUNT per stream, 0 for all (at most 1000 once blocked, as for [`Self::Streams`]).
        count: u64,
        /// NOACK: deliver without adding to the PEL.
        no_ack: bool,
        /// Each stream. In the log every one is [`ReadFrom::Last`]; a waiter in the table has
        /// `After` the stream's last id when it blocked: it is served once an entry is added
        /// after that one and after the group's last delivered id, as Redis serves it when
        /// XADD signals the key.
        streams: Vec<(Key, ReadFrom)>,
    },
}

impl BlockingPop {
    /// The keys the command waits on, in the order it looks at them.
    pub fn keys(&self) -> Vec<&Key> {
        match self {
            BlockingPop::List { keys, .. }
            | BlockingPop::ListMany { keys, .. }
            | BlockingPop::Zset { keys, .. }
            | BlockingPop::ZsetMany { keys, .. } => keys.iter().collect(),
            BlockingPop::Move { source, .. } => vec![source],
            BlockingPop::Streams { streams, .. } => streams.iter().map(|(key, _)| key).collect(),
            BlockingPop::StreamGroup { streams, .. } => {
                streams.iter().map(|(key, _)| key).collect()
            }
        }
    }
}

/// A blocking command as it travels through the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Who waits; filled in by the connection before it proposes (the parser cannot know).
    pub waiter: WaiterId,
    /// Which pop, from which keys: served at once or when data arrives.
    pub pop: BlockingPop,
    /// How long to wait, in milliseconds; 0 is forever. Only the waiting node uses it.
    pub timeout_ms: u64,
}

/// The log requests of blocking pops.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BlockingWrite {
    /// Pop now, or wait in the table.
    Block(Block),
    /// The waiter's timeout passed, or its connection closed: time it out if still waiting.
    Unblock {
        /// The waiter whose timeout passed.
        waiter: WaiterId,
    },
    /// A node started: forget the waiters of its earlier runs, whose connections are gone,
    /// and put back what was reserved for them and never delivered.
    ForgetEarlierRuns {
        /// The Raft id of the node that started.
        node: u64,
        /// Its incarnation now: waiters of this node with any other one are forgotten.
        incarnation: u64,
    },
    // The variants below were added after the first three; postcard names a variant by its
    // place, so new ones only ever go at the end.
    /// [`BlockingWrite::Block`], except that what a later write serves to the waiter is only
    /// reserved for it: kept as a reservation until the waiting node confirms, with
    /// [`BlockingWrite::Delivered`], that the connection is there to take it, or put back
    /// where it came from by [`BlockingWrite::Cancel`], [`BlockingWrite::ExpireReservations`]
    /// or [`BlockingWrite::ForgetEarlierRuns`]. Entries written before it existed keep
    /// meaning what they meant: a plain `Block` is never reserved.
    BlockWithReservation(Block),
    /// The waiting connection is there to take what was reserved for it: the reservation
    /// ends and the popped elements are the client's. Answers 1, or 0 if nothing was
    /// reserved (it was put back, and the connection must not give the reply).
    Delivered {
        /// The waiter whose connection takes the reply.
        waiter: WaiterId,
    },
    /// The waiting connection closed or was killed: remove the waiter if it still waits, or
    /// put back what was reserved for it. Answers 1 if it did either, else 0.
    Cancel {
        /// The waiter whose connection is gone.
        waiter: WaiterId,
    },
    /// Put back every reservation older than `state_machine::RESERVATION_MS` by this
    /// entry's time: its waiting node is gone or cut off. Answers how many were put back.
    ExpireReservations,
    /// A member was removed from the cluster (`CONCORD.REMOVENODE`): its connections no
    /// longer reach the cluster, so forget every waiter of any of its runs and put back what
    /// was reserved for them. Answers how many waiters were forgotten.
    ForgetNode {
        /// The Raft id of the removed member.
        node: u64,
    },
}

const TIMEOUT_NEGATIVE: CommandError = CommandError::other("ERR timeout is negative");
const TIMEOUT_INVALID: CommandError =
    CommandError::other("ERR timeout is not a float or out of range");

/// Redis's reading of a blocking timeout in seconds, as milliseconds (0 waits forever). Redis
/// rounds up to whole milliseconds, so any positive timeout waits at least one; one too large
/// for its 64-bit milliseconds wraps negative there, and so is "negative" here too.
pub fn parse_timeout(argument: &[u8]) -> Result<u64, CommandError> {
    let seconds = parse_f64(argument).ok_or(TIMEOUT_INVALID)?;
    let milliseconds = (seconds * 1000.0).ceil();
    if milliseconds < 0.0 || milliseconds >= i64::MAX as f64 {
        return Err(TIMEOUT_NEGATIVE);
    }
    // A tiny positive timeout that underflows f64 (1e-400) is still positive for Redis's long
    // double: it waits one millisecond rather than forever.
    if milliseconds == 0.0 && has_nonzero_digit(argument) {
        return Ok(1);
    }
    Ok(milliseconds as u64)
}

fn has_nonzero_digit(argument: &[u8]) -> bool {
    let mantissa = argument.split(|byte| matches!(byte, b'e' | b'E')).next().unwrap_or_default();
    mantissa.iter().any(|byte| matches!(byte, b'1'..=b'9'))
}

/// The blocking pops, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::BLPOP, parse_blpop),
    CommandSpec::new(&redis_metadata::BRPOP, parse_brpop),
    CommandSpec::new(&redis_metadata::BLMOVE, parse_blmove),
    CommandSpec::new(&redis_metadata::BRPOPLPUSH, parse_brpoplpush),
    CommandSpec::new(&redis_metadata::BLMPOP, parse_blmpop),
    CommandSpec::new(&redis_metadata::BZPOPMIN, parse_bzpopmin),
    CommandSpec::new(&redis_metadata::BZPOPMAX, parse_bzpopmax),
    CommandSpec::new(&redis_metadata::BZMPOP, parse_bzmpop),
];

/// A blocking command waiting up to `timeout_ms` (0: forever) for `pop`.
pub(super) fn block(pop: BlockingPop, timeout_ms: u64) -> Result<Command, CommandError> {
    let block = Block { waiter: WaiterId::default(), pop, timeout_ms };
    Ok(Command::Write(Write::Blocking(BlockingWrite::Block(block))))
}

/// The keys before a final timeout argument, and the timeout, which is parsed first.
fn keys_and_timeout(args: &mut Args) -> Result<(Vec<Key>, u64), CommandError> {
    let mut keys = args.rest();
    let timeout = keys.pop().ok_or(CommandError::Syntax)?;
    Ok((keys, parse_timeout(&timeout)?))
}

fn parse_blpop(args: &mut Args) -> Result<Command, CommandError> {
    let (keys, timeout_ms) = keys_and_timeout(args)?;
    block(BlockingPop::List { keys, end: ListEnd::Left }, timeout_ms)
}

fn parse_brpop(args: &mut Args) -> Result<Command, CommandError> {
    let (keys, timeout_ms) = keys_and_timeout(args)?;
    block(BlockingPop::List { keys, end: ListEnd::Right }, timeout_ms)
}

fn parse_bzpopmin(args: &mut Args) -> Result<Command, CommandError> {
    let (keys, timeout_ms) = keys_and_timeout(args)?;
    block(BlockingPop::Zset { keys, from_max: false }, timeout_ms)
}

fn parse_bzpopmax(args: &mut Args) -> Result<Command, CommandError> {
    let (keys, timeout_ms) = keys_and_timeout(args)?;
    block(BlockingPop::Zset { keys, from_max: true }, timeout_ms)
}

/// The arguments but the last, parsed by the non-blocking form's parser, then the timeout.
fn without_last(
    args: &mut Args,
    parse: fn(&mut Args) -> Result<Command, CommandError>,
) -> Result<(Write, u64), CommandError> {
    let mut arguments: Vec<Bytes> = args.rest();
    let timeout = arguments.pop().ok_or(CommandError::Syntax)?;
    let Command::Write(write) = parse(&mut Args::new(arguments))? else {
        unreachable!("the non-blocking pops are writes");
    };
    Ok((write, parse_timeout(&timeout)?))
}

fn parse_blmove(args: &mut Args) -> Result<Command, CommandError> {
    match without_last(args, super::lists::parse_lmove)? {
        (Write::List(ListWrite::Move { source, destination, from, to }), timeout_ms) => {
            block(BlockingPop::Move { source, destination, from, to }, timeout_ms)
        }
        _ => unreachable!("LMOVE parses to a move"),
    }
}

fn parse_brpoplpush(args: &mut Args) -> Result<Command, CommandError> {
    let mut arguments = args.rest();
    let timeout = arguments.pop().ok_or(CommandError::Syntax)?;
    let timeout_ms = parse_timeout(&timeout)?;
    let [source, destination]: [Bytes; 2] =
        arguments.try_into().map_err(|_| CommandError::Syntax)?;
    block(
        BlockingPop::Move { source, destination, from: ListEnd::Right, to: ListEnd::Left },
        timeout_ms,
    )
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`: the timeout comes first
/// but Redis checks it after the rest.
fn parse_blmpop(args: &mut Args) -> Result<Command, CommandError> {
    let timeout = args.next_bytes()?;
    let Command::Write(Write::List(ListWrite::MultiPop { keys, end, count })) =
        super::lists::parse_lmpop(args)?
    else {
        unreachable!("LMPOP parses to a multi-pop");
    };
    block(BlockingPop::ListMany { keys, end, count }, parse_timeout(&timeout)?)
}

fn parse_bzmpop(args: &mut Args) -> Result<Command, CommandError> {
    let timeout = args.next_bytes()?;
    let Command::Write(Write::Zset(ZsetWrite::Pop(PopCommand { keys, from_max, count, .. }))) =
        super::zsets::parse_zmpop(args)?
    else {
        unreachable!("ZMPOP parses to a pop");
    };
    let count = count.unwrap_or(1);
    block(BlockingPop::ZsetMany { keys, from_max, count }, parse_timeout(&timeout)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_read_as_redis_reads_them() {
        assert_eq!(parse_timeout(b"0"), Ok(0));
        assert_eq!(parse_timeout(b"1.5"), Ok(1500));
        assert_eq!(parse_timeout(b"0.0001"), Ok(1), "rounded up to a millisecond");
        assert_eq!(parse_timeout(b"1e-400"), Ok(1));
        assert_eq!(parse_timeout(b"-1"), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"-inf"), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"1e20"), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"abc"), Err(TIMEOUT_INVALID));
        assert_eq!(parse_timeout(b"nan"), Err(TIMEOUT_INVALID));
        assert_eq!(parse_timeout(b""), Err(TIMEOUT_INVALID));
    }
}
