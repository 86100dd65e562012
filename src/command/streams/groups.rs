//! The consumer-group commands: XGROUP's subcommands, XREADGROUP, XACK, XCLAIM, XAUTOCLAIM.
//! All of them write (XREADGROUP changes the PEL), so they go through the log.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{
    block, parse_interval, parse_loose_id, parse_read_options, parse_strict_id, write, BlockingPop,
    StreamWrite,
};
use super::{ReadFrom, StreamId};
use crate::command::{is_keyword, parse_i64, redis_metadata};
use crate::command::{Args, Command, CommandError, CommandSpec, Key};

/// The group writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StreamGroupWrite {
    /// `XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n]`.
    Create {
        /// The stream.
        key: Key,
        /// The new group's name.
        group: Bytes,
        /// Its last delivered id, or the error the id earned (reported after the key).
        start: Result<GroupStart, CommandError>,
        /// MKSTREAM: create a missing stream, empty.
        make_stream: bool,
        /// ENTRIESREAD (`None` for unknown, Redis's -1).
        entries_read: Option<u64>,
    },
    /// `XGROUP SETID key group id|$ [ENTRIESREAD n]`.
    SetId {
        /// The stream.
        key: Key,
        /// The group.
        group: Bytes,
        /// The new last delivered id and ENTRIESREAD (`None` for unknown), or the error they
        /// earned (reported after the key and the group).
        settings: Result<(GroupStart, Option<u64>), CommandError>,
    },
    /// `XGROUP DESTROY key group`.
    Destroy {
        /// The stream.
        key: Key,
        /// The group.
        group: Bytes,
    },
    /// `XGROUP CREATECONSUMER key group consumer`.
    CreateConsumer {
        /// The stream.
        key: Key,
        /// The group.
        group: Bytes,
        /// The consumer.
        consumer: Bytes,
    },
    /// `XGROUP DELCONSUMER key group consumer`.
    DeleteConsumer {
        /// The stream.
        key: Key,
        /// The group.
        group: Bytes,
        /// The consumer.
        consumer: Bytes,
    },
    /// XREADGROUP without BLOCK.
    ReadGroup {
        /// The group.
        group: Bytes,
        /// The consumer, created on first use.
        consumer: Bytes,
        /// COUNT per stream, 0 for all.
        count: u64,
        /// NOACK: deliver without adding to the PEL.
        no_ack: bool,
        /// Each stream and what to read, or the error its id earned.
        streams: Vec<(Key, Result<ReadGroupFrom, CommandError>)>,
    },
    /// `XACK key group id [id ...]`.
    Ack {
        /// The stream.
        key: Key,
        /// The group.
        group: Bytes,
        /// The ids, or the error one earned (reported after the key and group).
        ids: Result<Vec<StreamId>, CommandError>,
    },
    /// XCLAIM.
    Claim {
        /// The stream.
        key: Key,
        /// The group.
        group: Bytes,
        /// The consumer the entries go to.
        consumer: Bytes,
        /// Everything else, or the error it earned (reported after the key and group).
        options: Result<ClaimOptions, CommandError>,
    },
    /// `XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID]`.
    AutoClaim {
        /// The stream.
        key: Key,
        /// The group.
        group: Bytes,
        /// The consumer the entries go to.
        consumer: Bytes,
        /// Only entries idle at least this long.
        min_idle_ms: u64,
        /// Where the scan of the PEL starts.
        start: StreamId,
        /// The most entries claimed (deleted ones count).
        count: u64,
        /// JUSTID: reply with ids only, and leave delivery counts alone.
        just_id: bool,
    },
}

/// Where XGROUP CREATE and SETID put a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupStart {
    /// `$`: the stream's last id when the command runs.
    Last,
    /// This id.
    Id(StreamId),
}

/// What XREADGROUP reads from one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadGroupFrom {
    /// `>`: entries never delivered to the group.
    New,
    /// The consumer's own pending entries above this id.
    History(StreamId),
}

/// XCLAIM's ids and options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClaimOptions {
    /// Only entries idle at least this long.
    pub min_idle_ms: u64,
    /// The ids to claim.
    pub ids: Vec<StreamId>,
    /// IDLE or TIME: the delivery time to record, as IDLE (relative) or TIME (absolute).
    pub delivery: Option<ClaimDelivery>,
    /// RETRYCOUNT.
    pub retry_count: Option<i64>,
    /// FORCE: create pending entries for ids not pending.
    pub force: bool,
    /// JUSTID.
    pub just_id: bool,
    /// LASTID: raise the group's last delivered id to this.
    pub last_id: Option<StreamId>,
}

/// XCLAIM's IDLE or TIME.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClaimDelivery {
    /// IDLE ms: delivered this long before the command's time.
    Idle(i64),
    /// TIME ms: delivered at this Unix time.
    Time(i64),
}

/// The lines of `XGROUP HELP`, as Redis 7.0 prints them.
pub const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

/// The lines of `XINFO HELP`, as Redis 7.0 prints them.
pub const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

/// XGROUP's subcommands.
pub(super) static XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::XGROUP_CREATE, parse_create),
    CommandSpec::new(&redis_metadata::XGROUP_CREATECONSUMER, parse_create_consumer),
    CommandSpec::new(&redis_metadata::XGROUP_DELCONSUMER, parse_delete_consumer),
    CommandSpec::new(&redis_metadata::XGROUP_DESTROY, parse_destroy),
    CommandSpec::new(&redis_metadata::XGROUP_SETID, parse_set_id),
    CommandSpec::new(&redis_metadata::XGROUP_HELP, parse_help),
];

fn group_write(write_: StreamGroupWrite) -> Result<Command, CommandError> {
    write(StreamWrite::Group(write_))
}

/// Never called: `command::parse` dispatches a container to its subcommands, and a bare
/// XGROUP or XINFO fails the container's arity first.
pub(super) fn parse_container(_args: &mut Args) -> Result<Command, CommandError> {
    Err(CommandError::Syntax)
}

fn misused() -> CommandError {
    CommandError::SubcommandMisused { command: "xgroup", subcommand: None }
}

/// ENTRIESREAD's value: a count, or -1 for unknown.
fn parse_entries_read(text: &[u8]) -> Result<Option<u64>, CommandError> {
    let value = parse_i64(text).ok_or(CommandError::NotInteger)?;
    match value {
        -1 => Ok(None),
        value if value < 0 => {
            Err(CommandError::other("ERR value for ENTRIESREAD must be positive or -1"))
        }
        value => Ok(Some(value as u64)),
    }
}

fn parse_start(text: &[u8], strict: bool) -> Result<GroupStart, CommandError> {
    if text == b"$" {
        return Ok(GroupStart::Last);
    }
    let id = if strict { parse_strict_id(text)? } else { parse_loose_id(text)? };
    Ok(GroupStart::Id(id))
}

fn parse_create(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let group = args.next_bytes()?;
    let start = args.next_bytes()?;
    let (mut make_stream, mut entries_read) = (false, None);
    let options = args.rest();
    if options.len() > 3 {
        return Err(misused());
    }
    let mut options = options.iter();
    while let Some(option) = options.next() {
        if is_keyword(option, "mkstream") {
            make_stream = true;
        } else if is_keyword(option, "entriesread") && options.len() > 0 {
            entries_read = parse_entries_read(options.next().expect("checked"))?;
        } else {
            return Err(misused());
        }
    }
    // Redis reads the id only once the key is found a stream: an error waits for apply.
    let start = parse_start(&start, true);
    group_write(StreamGroupWrite::Create { key, group, start, make_stream, entries_read })
}

fn parse_set_id(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let group = args.next_bytes()?;
    let start = args.next_bytes()?;
    let rest = args.rest();
    // Redis reads the id and ENTRIESREAD's value once the key and the group are found, and
    // refuses a malformed option then too; here the option's shape is checked first, so that
    // the error names the subcommand as the client spelled it.
    if !matches!(&rest[..], [] | [_, _])
        || rest.first().is_some_and(|o| !is_keyword(o, "entriesread"))
    {
        return Err(misused());
    }
    let settings = parse_start(&start, false).and_then(|start| match &rest[..] {
        [_, value] => Ok((start, parse_entries_read(value)?)),
        _ => Ok((start, None)),
    });
    group_write(StreamGroupWrite::SetId { key, group, settings })
}

fn parse_destroy(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    group_write(StreamGroupWrite::Destroy { key, group: args.next_bytes()? })
}

fn parse_create_consumer(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let group = args.next_bytes()?;
    group_write(StreamGroupWrite::CreateConsumer { key, group, consumer: args.next_bytes()? })
}

fn parse_delete_consumer(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let group = args.next_bytes()?;
    group_write(StreamGroupWrite::DeleteConsumer { key, group, consumer: args.next_bytes()? })
}

fn parse_help(_args: &mut Args) -> Result<Command, CommandError> {
    Ok(Command::Read(crate::command::Read::Stream(super::StreamRead::GroupHelp)))
}

pub(super) fn parse_xreadgroup(args: &mut Args) -> Result<Command, CommandError> {
    let options = parse_read_options(args, true)?;
    let (group, consumer) = options.group.expect("parse_read_options requires GROUP");
    let streams = options
        .keys
        .into_iter()
        .zip(options.ids)
        .map(|(key, id)| {
            let from = match &id[..] {
                b">" => Ok(ReadGroupFrom::New),
                b"$" => Err(CommandError::other(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                )),
                id => parse_strict_id(id).map(ReadGroupFrom::History),
            };
            (key, from)
        })
        .collect::<Vec<_>>();
    // Redis serves a consumer's history (an explicit id) at once, even when it is empty, so
    // BLOCK can only ever wait when every stream asks for new entries (`>`); an id error is
    // replied by apply in Redis's order before any waiting could start.
    let waits = streams.iter().all(|(_, from)| matches!(from, Ok(ReadGroupFrom::New)));
    if let (Some(timeout_ms), true) = (options.block_ms, waits) {
        let streams = streams.into_iter().map(|(key, _)| (key, ReadFrom::Last)).collect();
        let count = options.count;
        let pop =
            BlockingPop::StreamGroup { group, consumer, count, no_ack: options.no_ack, streams };
        return block(pop, timeout_ms);
    }
    group_write(StreamGroupWrite::ReadGroup {
        group,
        consumer,
        count: options.count,
        no_ack: options.no_ack,
        streams,
    })
}

pub(super) fn parse_xack(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let group = args.next_bytes()?;
    let ids = args.rest().iter().map(|id| parse_strict_id(id)).collect();
    group_write(StreamGroupWrite::Ack { key, group, ids })
}

pub(super) fn parse_xclaim(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let group = args.next_bytes()?;
    let consumer = args.next_bytes()?;
    let options = parse_claim_options(args.rest());
    group_write(StreamGroupWrite::Claim { key, group, consumer, options })
}

/// XCLAIM's arguments after the consumer: the idle time, the ids (up to the first argument
/// that is not one), then the options.
fn parse_claim_options(rest: Vec<Bytes>) -> Result<ClaimOptions, CommandError> {
    let mut rest = rest.into_iter().peekable();
    let min_idle = rest.next().expect("XCLAIM's arity guarantees the idle time");
    let min_idle_ms = parse_i64(&min_idle)
        .ok_or(CommandError::other("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0) as u64;
    let mut options = ClaimOptions {
        min_idle_ms,
        ids: Vec::new(),
        delivery: None,
        retry_count: None,
        force: false,
        just_id: false,
        last_id: None,
    };
    while let Some(id) = rest.peek().and_then(|id| parse_strict_id(id).ok()) {
        options.ids.push(id);
        rest.next();
    }
    let integer = |value: Option<Bytes>, text: &'static str| {
        value.and_then(|value| parse_i64(&value)).ok_or(CommandError::other(text))
    };
    while let Some(option) = rest.next() {
        let more = rest.len() > 0;
        if is_keyword(&option, "force") {
            options.force = true;
        } else if is_keyword(&option, "justid") {
            options.just_id = true;
        } else if is_keyword(&option, "idle") && more {
            let idle = integer(rest.next(), "ERR Invalid IDLE option argument for XCLAIM")?;
            options.delivery = Some(ClaimDelivery::Idle(idle));
        } else if is_keyword(&option, "time") && more {
            let time = integer(rest.next(), "ERR Invalid TIME option argument for XCLAIM")?;
            options.delivery = Some(ClaimDelivery::Time(time));
        } else if is_keyword(&option, "retrycount") && more {
            let count = integer(rest.next(), "ERR Invalid RETRYCOUNT option argument for XCLAIM")?;
            options.retry_count = Some(count);
        } else if is_keyword(&option, "lastid") && more {
            options.last_id = Some(parse_strict_id(&rest.next().expect("checked"))?);
        } else {
            return Err(CommandError::Other(
                format!("ERR Unrecognized XCLAIM option '{}'", String::from_utf8_lossy(&option))
                    .into(),
            ));
        }
    }
    Ok(options)
}

/// The largest COUNT XAUTOCLAIM takes: Redis's `LONG_MAX / max(sizeof(streamID), 10)`.
const AUTOCLAIM_COUNT_MAX: i64 = i64::MAX / 16;

pub(super) fn parse_xautoclaim(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let group = args.next_bytes()?;
    let consumer = args.next_bytes()?;
    let min_idle_ms = parse_i64(&args.next_bytes()?)
        .ok_or(CommandError::other("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0) as u64;
    let start = parse_interval(&args.next_bytes()?, false)?;
    let (mut count, mut just_id) = (100, false);
    while let Some(option) = args.try_next() {
        if is_keyword(&option, "count") && !args.is_empty() {
            count = parse_i64(&args.next_bytes()?)
                .filter(|count| (1..=AUTOCLAIM_COUNT_MAX).contains(count))
                .ok_or(CommandError::other("ERR COUNT must be > 0"))? as u64;
        } else if is_keyword(&option, "justid") {
            just_id = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    group_write(StreamGroupWrite::AutoClaim {
        key,
        group,
        consumer,
        min_idle_ms,
        start,
        count,
        just_id,
    })
}
