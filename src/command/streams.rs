//! The stream family: XADD, XRANGE, XREAD, the consumer-group commands and XINFO.
//!
//! Parsing finds the errors Redis finds before it looks at the key. Where Redis looks at the
//! key (and the group) first and parses the rest afterwards (XDEL's and XACK's ids, XCLAIM's
//! idle time, ids and options, XREAD's ids stream by stream), the typed command carries the
//! parse's result and the state machine reports its error after the key, in Redis's order.
//!
//! Ids are parsed as Redis's `streamGenericParseIDOrReply` does: `ms` or `ms-seq`, each part
//! as `string2ull` reads it (which falls back to `strtoull`, so `+5` and ` 6` are accepted),
//! at most 127 bytes; `-` and `+` only where an interval allows them, `ms-*` only in XADD.
//!
//! XREADGROUP is a write (it changes the group's PEL), as Redis flags it; XREAD, XPENDING and
//! XINFO are reads. With BLOCK, XREAD, and XREADGROUP when every id is `>`, are blocking
//! commands ([`BlockingPop::Streams`], [`BlockingPop::StreamGroup`]): they go through the log
//! and wait in the replicated waiter table as BLPOP does (see `state_machine::blocking`).

mod groups;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::blocking::{block, BlockingPop};
pub use super::stream_ids::{ReadFrom, StreamId};
use super::{is_keyword, parse_i64, Args, Command, CommandError, CommandSpec, Key, Read, Write};
use crate::command::redis_metadata;

pub use groups::{
    ClaimDelivery, ClaimOptions, GroupStart, ReadGroupFrom, StreamGroupWrite, XGROUP_HELP,
    XINFO_HELP,
};

/// How a trim chooses what goes: XADD's and XTRIM's MAXLEN or MINID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrimStrategy {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Remove the entries below this id.
    MinId(StreamId),
}

/// A trim as XADD and XTRIM give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trim {
    /// What goes.
    pub strategy: TrimStrategy,
    /// `~`: remove whole nodes only, stopping at the first that cannot go whole.
    pub approximate: bool,
    /// With `~`, the most entries removed (0: no limit).
    pub limit: u64,
}

/// LIMIT's default with `~`: Redis's `100 * stream-node-max-entries` (100 entries a node).
const APPROXIMATE_TRIM_LIMIT_DEFAULT: u64 = 10_000;

/// The stream commands that only read; outside a transaction they never enter the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StreamRead {
    /// `XLEN key`.
    Len {
        /// The stream.
        key: Key,
    },
    /// XRANGE and XREVRANGE, with the bounds already made inclusive.
    Range {
        /// The stream.
        key: Key,
        /// The lowest id included.
        start: StreamId,
        /// The highest id included.
        end: StreamId,
        /// COUNT: `None` for all, `Some(0)` answers a null array, as Redis does.
        count: Option<u64>,
        /// XREVRANGE: highest first.
        reverse: bool,
    },
    /// XREAD without BLOCK (with it, [`BlockingPop::Streams`]).
    Read {
        /// COUNT per stream, 0 for all.
        count: u64,
        /// Each stream and where to read after, or the error its id earned.
        streams: Vec<(Key, Result<ReadFrom, CommandError>)>,
    },
    /// XPENDING, summary or extended.
    Pending {
        /// The stream.
        key: Key,
        /// The group.
        group: Bytes,
        /// The extended form's range, `None` for the summary.
        range: Option<PendingRange>,
    },
    /// `XINFO STREAM key [FULL [COUNT count]]`.
    InfoStream {
        /// The stream.
        key: Key,
        /// FULL's COUNT (0 for all), `None` without FULL.
        full: Option<u64>,
    },
    /// `XINFO GROUPS key`.
    InfoGroups {
        /// The stream.
        key: Key,
    },
    /// `XINFO CONSUMERS key group`.
    InfoConsumers {
        /// The stream.
        key: Key,
        /// The group.
        group: Bytes,
    },
    /// `XINFO HELP`.
    InfoHelp,
    /// `XGROUP HELP`: a read, though its container's other subcommands write.
    GroupHelp,
}

/// XPENDING's extended form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingRange {
    /// IDLE: only entries idle at least this long (0: all).
    pub min_idle_ms: i64,
    /// The lowest id included.
    pub start: StreamId,
    /// The highest id included.
    pub end: StreamId,
    /// The most entries listed.
    pub count: u64,
    /// Only this consumer's entries.
    pub consumer: Option<Bytes>,
}

/// How XADD names its entry's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddId {
    /// `*`: from the entry's time.
    Auto,
    /// `ms-*`: this millisecond, the next sequence number.
    Partial(u64),
    /// A whole id.
    Explicit(StreamId),
}

/// The stream commands that write, as they are stored in the log and applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StreamWrite {
    /// XADD.
    Add {
        /// The stream, created unless NOMKSTREAM.
        key: Key,
        /// NOMKSTREAM: a missing stream answers nil and stays missing.
        no_make_stream: bool,
        /// MAXLEN or MINID, applied after the entry is added.
        trim: Option<Trim>,
        /// The entry's id.
        id: AddId,
        /// The field-value pairs.
        pairs: Vec<(Bytes, Bytes)>,
    },
    /// `XDEL key id [id ...]`: the ids, or the error one of them earned (reported after the
    /// key's type check).
    Delete {
        /// The stream.
        key: Key,
        /// The ids to delete.
        ids: Result<Vec<StreamId>, CommandError>,
    },
    /// XTRIM.
    Trim {
        /// The stream.
        key: Key,
        /// What goes.
        trim: Trim,
    },
    /// `XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]`.
    SetId {
        /// The stream, which must exist.
        key: Key,
        /// The new last id.
        last_id: StreamId,
        /// ENTRIESADDED.
        entries_added: Option<u64>,
        /// MAXDELETEDID (0-0 leaves it as it is, as in Redis).
        max_deleted_entry_id: Option<StreamId>,
    },
    /// XGROUP, XREADGROUP, XACK, XCLAIM, XAUTOCLAIM (see `groups`).
    Group(StreamGroupWrite),
}

const INVALID_ID: CommandError =
    CommandError::other("ERR Invalid stream ID specified as stream command argument");
const INVALID_START: CommandError = CommandError::other("ERR invalid start ID for the interval");
const INVALID_END: CommandError = CommandError::other("ERR invalid end ID for the interval");

/// The stream family's commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::XADD, parse_xadd),
    CommandSpec::new(&redis_metadata::XRANGE, parse_xrange),
    CommandSpec::new(&redis_metadata::XREVRANGE, parse_xrevrange),
    CommandSpec::new(&redis_metadata::XLEN, parse_xlen),
    CommandSpec::new(&redis_metadata::XDEL, parse_xdel),
    CommandSpec::new(&redis_metadata::XTRIM, parse_xtrim),
    CommandSpec::new(&redis_metadata::XREAD, parse_xread),
    CommandSpec::new(&redis_metadata::XSETID, parse_xsetid),
    CommandSpec::new(&redis_metadata::XPENDING, parse_xpending),
    CommandSpec::new(&redis_metadata::XREADGROUP, groups::parse_xreadgroup),
    CommandSpec::new(&redis_metadata::XACK, groups::parse_xack),
    CommandSpec::new(&redis_metadata::XCLAIM, groups::parse_xclaim),
    CommandSpec::new(&redis_metadata::XAUTOCLAIM, groups::parse_xautoclaim),
    CommandSpec::new(&redis_metadata::XGROUP, groups::parse_container)
        .subcommands(groups::XGROUP_SUBCOMMANDS),
    CommandSpec::new(&redis_metadata::XINFO, groups::parse_container)
        .subcommands(XINFO_SUBCOMMANDS),
];

static XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::XINFO_CONSUMERS, parse_xinfo_consumers),
    CommandSpec::new(&redis_metadata::XINFO_GROUPS, parse_xinfo_groups),
    CommandSpec::new(&redis_metadata::XINFO_STREAM, parse_xinfo_stream),
    CommandSpec::new(&redis_metadata::XINFO_HELP, parse_xinfo_help),
];

fn read(read: StreamRead) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::Stream(read)))
}

fn write(write: StreamWrite) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::Stream(write)))
}

/// Redis's `string2ull`: `string2ll` when it accepts the text (and then no negative), else
/// `strtoull`'s reading: leading spaces, a sign, digits, nothing after, no overflow.
fn parse_u64(text: &[u8]) -> Option<u64> {
    if let Some(value) = parse_i64(text) {
        return u64::try_from(value).ok();
    }
    let start = text.iter().position(|byte| !matches!(byte, b' ' | b'\t'..=b'\r'))?;
    let text = &text[start..];
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: u64 = 0;
    for digit in digits {
        value = value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
    }
    Some(if negative { value.wrapping_neg() } else { value })
}

/// A parsed id: the id, and whether its sequence was given (`ms-*` leaves it out).
struct ParsedId {
    id: StreamId,
    sequence_given: bool,
}

/// Redis's `streamGenericParseIDOrReply`. `strict` refuses `-` and `+`; `missing_sequence`
/// is the sequence of a bare `ms`; `partial` allows `ms-*`.
fn parse_id_with(
    text: &[u8],
    strict: bool,
    missing_sequence: u64,
    partial: bool,
) -> Result<ParsedId, CommandError> {
    if text.len() > 127 || (strict && (text == b"-" || text == b"+")) {
        return Err(INVALID_ID);
    }
    if text == b"-" {
        return Ok(ParsedId { id: StreamId::MIN, sequence_given: true });
    }
    if text == b"+" {
        return Ok(ParsedId { id: StreamId::MAX, sequence_given: true });
    }
    let (ms_text, sequence_text) = match text.iter().position(|byte| *byte == b'-') {
        Some(dash) => (&text[..dash], Some(&text[dash + 1..])),
        None => (text, None),
    };
    let ms = parse_u64(ms_text).ok_or(INVALID_ID)?;
    match sequence_text {
        Some(b"*") if partial => {
            Ok(ParsedId { id: StreamId { ms, seq: 0 }, sequence_given: false })
        }
        Some(sequence) => {
            let seq = parse_u64(sequence).ok_or(INVALID_ID)?;
            Ok(ParsedId { id: StreamId { ms, seq }, sequence_given: true })
        }
        None => Ok(ParsedId { id: StreamId { ms, seq: missing_sequence }, sequence_given: true }),
    }
}

/// A whole id, `-` and `+` refused (`streamParseStrictIDOrReply`).
pub(crate) fn parse_strict_id(text: &[u8]) -> Result<StreamId, CommandError> {
    parse_id_with(text, true, 0, false).map(|parsed| parsed.id)
}

/// An id where `-` and `+` are allowed and a bare `ms` means `ms-0` (XGROUP SETID).
pub(crate) fn parse_loose_id(text: &[u8]) -> Result<StreamId, CommandError> {
    parse_id_with(text, false, 0, false).map(|parsed| parsed.id)
}

/// An interval bound as XRANGE and XPENDING read it: `(` makes it exclusive (and then strict),
/// a bare `ms` means `ms-0` for a start and `ms-<max>` for an end. Returns the inclusive bound.
pub(crate) fn parse_interval(text: &[u8], is_end: bool) -> Result<StreamId, CommandError> {
    let missing_sequence = if is_end { u64::MAX } else { 0 };
    if text.len() > 1 && text[0] == b'(' {
        let id = parse_id_with(&text[1..], true, missing_sequence, false)?.id;
        return if is_end {
            id.previous().ok_or(INVALID_END)
        } else {
            id.next().ok_or(INVALID_START)
        };
    }
    Ok(parse_id_with(text, false, missing_sequence, false)?.id)
}

fn parse_xadd(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let mut options = TrimOptions::default();
    let mut no_make_stream = false;
    let mut id = None;
    while let Some(argument) = args.try_next() {
        if &argument[..] == b"*" {
            id = Some(AddId::Auto);
            break;
        }
        if is_keyword(&argument, "nomkstream") {
            no_make_stream = true;
            continue;
        }
        if options.parse_option(&argument, args)? {
            continue;
        }
        let parsed = parse_id_with(&argument, true, 0, true)?;
        id = Some(if parsed.sequence_given {
            AddId::Explicit(parsed.id)
        } else {
            AddId::Partial(parsed.id.ms)
        });
        break;
    }
    let trim = options.finish(true)?;
    let rest = args.rest();
    let Some(id) = id.filter(|_| rest.len() >= 2 && rest.len() % 2 == 0) else {
        return Err(CommandError::WrongArity("xadd".into()));
    };
    if id == AddId::Explicit(StreamId::MIN) {
        return Err(CommandError::other("ERR The ID specified in XADD must be greater than 0-0"));
    }
    let pairs = rest.chunks_exact(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect();
    write(StreamWrite::Add { key, no_make_stream, trim, id, pairs })
}

/// MAXLEN, MINID and LIMIT as XADD and XTRIM read them (`streamParseAddOrTrimArgsOrReply`).
#[derive(Default)]
struct TrimOptions {
    strategy: Option<TrimStrategy>,
    approximate: bool,
    limit: Option<u64>,
}

impl TrimOptions {
    /// Reads `argument` (and what follows it) if it is one of the trim options; returns
    /// whether it was. An option needs at least one argument after it to be one.
    fn parse_option(&mut self, argument: &[u8], args: &mut Args) -> Result<bool, CommandError> {
        if args.is_empty() {
            return Ok(false);
        }
        let maxlen = is_keyword(argument, "maxlen");
        if maxlen || is_keyword(argument, "minid") {
            if self.strategy.is_some() {
                return Err(CommandError::other(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            let mut threshold = args.next_bytes()?;
            self.approximate = false;
            if !args.is_empty() && (&threshold[..] == b"~" || &threshold[..] == b"=") {
                self.approximate = &threshold[..] == b"~";
                threshold = args.next_bytes()?;
            }
            self.strategy = Some(if maxlen {
                let max = parse_i64(&threshold).ok_or(CommandError::NotInteger)?;
                let max = u64::try_from(max)
                    .map_err(|_| CommandError::other("ERR The MAXLEN argument must be >= 0."))?;
                TrimStrategy::MaxLen(max)
            } else {
                TrimStrategy::MinId(parse_strict_id(&threshold)?)
            });
            return Ok(true);
        }
        if is_keyword(argument, "limit") {
            let limit = args.next_i64()?;
            let limit = u64::try_from(limit)
                .map_err(|_| CommandError::other("ERR The LIMIT argument must be >= 0."))?;
            self.limit = Some(limit);
            return Ok(true);
        }
        Ok(false)
    }

    /// The trim the options make, with Redis's checks and LIMIT's default for `~` (100 times
    /// `stream-node-max-entries`).
    fn finish(self, xadd: bool) -> Result<Option<Trim>, CommandError> {
        if self.limit.is_some_and(|limit| limit != 0) && self.strategy.is_none() {
            return Err(CommandError::other(
                "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
            ));
        }
        if self.strategy.is_none() && !xadd {
            return Err(CommandError::other(
                "ERR syntax error, XTRIM must be called with a trimming strategy",
            ));
        }
        let limit = match self.limit {
            Some(_) if !self.approximate => {
                return Err(CommandError::other(
                    "ERR syntax error, LIMIT cannot be used without the special ~ option",
                ))
            }
            Some(limit) => limit,
            None if self.approximate => APPROXIMATE_TRIM_LIMIT_DEFAULT,
            None => 0,
        };
        let Some(strategy) = self.strategy else {
            return Ok(None);
        };
        Ok(Some(Trim { strategy, approximate: self.approximate, limit }))
    }
}

fn parse_xtrim(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let mut options = TrimOptions::default();
    while let Some(argument) = args.try_next() {
        if !options.parse_option(&argument, args)? {
            return Err(CommandError::Syntax);
        }
    }
    let trim = options.finish(false)?.expect("XTRIM's finish refuses no strategy");
    write(StreamWrite::Trim { key, trim })
}

fn parse_xrange(args: &mut Args) -> Result<Command, CommandError> {
    parse_range(args, false)
}

fn parse_xrevrange(args: &mut Args) -> Result<Command, CommandError> {
    parse_range(args, true)
}

fn parse_range(args: &mut Args, reverse: bool) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let first = args.next_bytes()?;
    let second = args.next_bytes()?;
    let (start, end) = if reverse { (second, first) } else { (first, second) };
    let start = parse_interval(&start, false)?;
    let end = parse_interval(&end, true)?;
    let mut count = None;
    while let Some(argument) = args.try_next() {
        if is_keyword(&argument, "count") && !args.is_empty() {
            count = Some(args.next_i64()?.max(0) as u64);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    read(StreamRead::Range { key, start, end, count, reverse })
}

fn parse_xlen(args: &mut Args) -> Result<Command, CommandError> {
    read(StreamRead::Len { key: args.next_bytes()? })
}

fn parse_xdel(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let ids = args.rest().iter().map(|id| parse_strict_id(id)).collect();
    write(StreamWrite::Delete { key, ids })
}

fn parse_xsetid(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let last_id = parse_strict_id(&args.next_bytes()?)?;
    let (mut entries_added, mut max_deleted_entry_id) = (None, None);
    while let Some(option) = args.try_next() {
        if is_keyword(&option, "entriesadded") && !args.is_empty() {
            let added = args.next_i64()?;
            let added = u64::try_from(added)
                .map_err(|_| CommandError::other("ERR entries_added must be positive"))?;
            entries_added = Some(added);
        } else if is_keyword(&option, "maxdeletedid") && !args.is_empty() {
            let id = parse_strict_id(&args.next_bytes()?)?;
            if last_id < id {
                return Err(CommandError::other(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            max_deleted_entry_id = Some(id).filter(|id| *id != StreamId::MIN);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    write(StreamWrite::SetId { key, last_id, entries_added, max_deleted_entry_id })
}

/// XREAD's and XREADGROUP's options before STREAMS, as Redis reads them.
pub(crate) struct ReadOptions {
    pub(crate) count: u64,
    /// BLOCK's timeout in milliseconds (0: forever), `None` without BLOCK.
    pub(crate) block_ms: Option<u64>,
    pub(crate) group: Option<(Bytes, Bytes)>,
    pub(crate) no_ack: bool,
    pub(crate) keys: Vec<Key>,
    pub(crate) ids: Vec<Bytes>,
}

/// Redis's answer to XREAD or XREADGROUP with BLOCK called from a script (or a function),
/// `None` for any other call. Redis refuses BLOCK there when it reads the option, so errors of
/// the options before it come first, and it names the command as the script spelled it.
pub fn refusal_in_script(arguments: &[Bytes]) -> Option<CommandError> {
    let (name, rest) = arguments.split_first()?;
    let group = match () {
        () if is_keyword(name, "xread") => false,
        () if is_keyword(name, "xreadgroup") => true,
        () => return None,
    };
    let refusal = script_refusal(name);
    let parsed = parse_options(&mut Args::new(rest.to_vec()), group, Some(name));
    matches!(parsed, Err(ref error) if *error == refusal).then_some(refusal)
}

fn script_refusal(name: &Bytes) -> CommandError {
    let name = String::from_utf8_lossy(name);
    CommandError::Other(
        format!("ERR {name} command is not allowed with BLOCK option from scripts").into(),
    )
}

/// Reads `[COUNT n] [BLOCK ms] [GROUP g c] [NOACK] STREAMS key ... id ...`.
pub(crate) fn parse_read_options(
    args: &mut Args,
    group: bool,
) -> Result<ReadOptions, CommandError> {
    parse_options(args, group, None)
}

/// [`parse_read_options`], refusing BLOCK as a script's call named `script_call` is refused.
fn parse_options(
    args: &mut Args,
    group: bool,
    script_call: Option<&Bytes>,
) -> Result<ReadOptions, CommandError> {
    let mut options = ReadOptions {
        count: 0,
        block_ms: None,
        group: None,
        no_ack: false,
        keys: vec![],
        ids: vec![],
    };
    let mut streams = None;
    while let Some(option) = args.try_next() {
        let more = args.remaining();
        if is_keyword(&option, "block") && more > 0 {
            if let Some(name) = script_call {
                return Err(script_refusal(name));
            }
            let timeout = parse_i64(&args.next_bytes()?)
                .ok_or(CommandError::other("ERR timeout is not an integer or out of range"))?;
            if timeout < 0 {
                return Err(CommandError::other("ERR timeout is negative"));
            }
            options.block_ms = Some(timeout as u64);
        } else if is_keyword(&option, "count") && more > 0 {
            options.count = args.next_i64()?.max(0) as u64;
        } else if is_keyword(&option, "streams") && more > 0 {
            let rest = args.rest();
            if rest.len() % 2 != 0 {
                // Redis 7.0 names XREAD and `$` in this error for XREADGROUP too.
                return Err(CommandError::other(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            streams = Some(rest);
            break;
        } else if is_keyword(&option, "group") && more >= 2 {
            if !group {
                return Err(CommandError::other(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            options.group = Some((args.next_bytes()?, args.next_bytes()?));
        } else if is_keyword(&option, "noack") {
            if !group {
                return Err(CommandError::other(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            options.no_ack = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let Some(mut streams) = streams else {
        return Err(CommandError::Syntax);
    };
    if group && options.group.is_none() {
        return Err(CommandError::other("ERR Missing GROUP option for XREADGROUP"));
    }
    options.ids = streams.split_off(streams.len() / 2);
    options.keys = streams;
    Ok(options)
}

fn parse_xread(args: &mut Args) -> Result<Command, CommandError> {
    let options = parse_read_options(args, false)?;
    let streams: Vec<_> = options
        .keys
        .into_iter()
        .zip(options.ids)
        .map(|(key, id)| {
            let from = match &id[..] {
                b"$" => Ok(ReadFrom::Last),
                b">" => Err(CommandError::other(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                )),
                id => parse_strict_id(id).map(ReadFrom::After),
            };
            (key, from)
        })
        .collect();
    match options.block_ms {
        Some(timeout_ms) => {
            block(BlockingPop::Streams { count: options.count, streams }, timeout_ms)
        }
        None => read(StreamRead::Read { count: options.count, streams }),
    }
}

fn parse_xpending(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let group = args.next_bytes()?;
    let rest = args.rest();
    if !rest.is_empty() && !(3..=6).contains(&rest.len()) {
        return Err(CommandError::Syntax);
    }
    if rest.is_empty() {
        return read(StreamRead::Pending { key, group, range: None });
    }
    let mut position = 0;
    let mut min_idle_ms = 0;
    if is_keyword(&rest[0], "idle") {
        min_idle_ms = parse_i64(&rest[1]).ok_or(CommandError::NotInteger)?;
        if rest.len() < 5 {
            return Err(CommandError::Syntax);
        }
        position = 2;
    }
    let count = parse_i64(&rest[position + 2]).ok_or(CommandError::NotInteger)?.max(0) as u64;
    let start = parse_interval(&rest[position], false)?;
    let end = parse_interval(&rest[position + 1], true)?;
    let consumer = rest.get(position + 3).cloned();
    let range = PendingRange { min_idle_ms, start, end, count, consumer };
    read(StreamRead::Pending { key, group, range: Some(range) })
}

fn parse_xinfo_stream(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let rest = args.rest();
    let misused = || CommandError::SubcommandMisused { command: "xinfo", subcommand: None };
    let full = match &rest[..] {
        [] => None,
        [full] if is_keyword(full, "full") => Some(10),
        [full, count, value] if is_keyword(full, "full") && is_keyword(count, "count") => {
            let count = parse_i64(value).ok_or(CommandError::NotInteger)?;
            Some(if count < 0 { 10 } else { count as u64 })
        }
        _ => return Err(misused()),
    };
    read(StreamRead::InfoStream { key, full })
}

fn parse_xinfo_groups(args: &mut Args) -> Result<Command, CommandError> {
    read(StreamRead::InfoGroups { key: args.next_bytes()? })
}

fn parse_xinfo_consumers(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    read(StreamRead::InfoConsumers { key, group: args.next_bytes()? })
}

fn parse_xinfo_help(_args: &mut Args) -> Result<Command, CommandError> {
    read(StreamRead::InfoHelp)
}

#[cfg(test)]
mod tests;
