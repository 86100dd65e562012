//! The string family: GET, SET and every other command on string values.
//!
//! Parsing finds every error Redis finds before it looks at the key (syntax, integers, expire
//! times), in Redis's order, so that a malformed write never costs a log entry. Where Redis
//! checks the key first and the arguments after (GETEX's expire time, INCRBYFLOAT's increment,
//! LCS's options), the typed command carries the unchecked argument and the state machine checks
//! it at the same point Redis does: a WRONGTYPE key must win over a bad argument.
//!
//! Relative expiry times (`EX`, `PX`, SETEX, PSETEX) stay relative in the typed command: the
//! state machine turns them into absolute times with the entry's `leader_time_ms`, so that every
//! replica computes the same deadline.

use serde::{Deserialize, Serialize};

use super::{is_keyword, parse_i64, Args, Command, CommandError, CommandSpec, Key, Read, Write};
use crate::command::concord_metadata;
use crate::command::redis_metadata;
use bytes::Bytes;

/// The string commands that only read; outside a transaction they never enter the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StringRead {
    /// `GET key`.
    Get {
        /// The key it reads.
        key: Key,
    },
    /// `MGET key [key ...]`.
    MGet {
        /// The keys in the order given; the reply keeps that order.
        keys: Vec<Key>,
    },
    /// `STRLEN key`.
    StrLen {
        /// The key whose value's length it replies with.
        key: Key,
    },
    /// GETRANGE and SUBSTR.
    GetRange {
        /// The key it reads.
        key: Key,
        /// The first byte's index, inclusive; negative counts from the end.
        start: i64,
        /// The last byte's index, inclusive; negative counts from the end.
        end: i64,
    },
    /// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]`.
    Lcs(LcsCommand),
}

/// The string commands that write, as they are stored in the log and applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StringWrite {
    /// SET, SETNX, SETEX, PSETEX and GETSET.
    Set(SetCommand),
    /// `GETDEL key`.
    GetDel {
        /// The key it reads and then deletes.
        key: Key,
    },
    /// `GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]`.
    GetEx {
        /// The key it reads.
        key: Key,
        /// The change to the time to live; `None` without an option (GETEX then acts as GET).
        change: Option<TtlChange>,
    },
    /// MSET, and MSETNX when `only_if_none_exist`.
    MSet {
        /// The key-value pairs in argument order; a key given twice keeps its last value.
        pairs: Vec<(Key, Bytes)>,
        /// MSETNX: write nothing unless every key is absent.
        only_if_none_exist: bool,
    },
    /// `APPEND key value`.
    Append {
        /// The key whose value grows; an absent key starts as the empty string.
        key: Key,
        /// The bytes added at the end.
        suffix: Bytes,
    },
    /// `SETRANGE key offset value`.
    SetRange {
        /// The key it overwrites part of.
        key: Key,
        /// The byte offset where `patch` starts; the parser refused a negative one.
        offset: u64,
        /// The bytes written at `offset`, padding with zero bytes past the end.
        patch: Bytes,
    },
    /// INCR, DECR, INCRBY and DECRBY, as one signed increment.
    IncrBy {
        /// The key whose integer value changes.
        key: Key,
        /// The amount added: 1 for INCR, -1 for DECR, the negated argument for DECRBY.
        increment: i64,
    },
    /// The increment as the client sent it: Redis reads it only after the stored value.
    IncrByFloat {
        /// The key whose value changes.
        key: Key,
        /// The increment's bytes, unparsed: apply checks it is a float after the key's type.
        increment: Bytes,
    },
    /// `CONCORD.CAS key expected new`: sets `new` only if the key holds exactly `expected`,
    /// in one step of apply, so that no write lands between the comparison and the set.
    /// With `create_if_absent` an absent key is set as well (Maelstrom's `lin-kv` service
    /// offers that option; the command does not). Appended last: log entries name variants
    /// by position, so older logs still decode.
    CompareAndSet {
        /// The key it compares and sets.
        key: Key,
        /// The value the key must hold for the set to happen.
        expected: Bytes,
        /// The value it sets.
        new: Bytes,
        /// Also set an absent key; always `false` from the command, which leaves it absent.
        create_if_absent: bool,
    },
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]`, and the older
/// commands that are special cases of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetCommand {
    /// The key it writes.
    pub key: Key,
    /// The value it stores.
    pub value: Bytes,
    /// `NX` or `XX`; `None` writes whatever the key holds.
    pub condition: Option<SetCondition>,
    /// The expiry option, still relative for `EX`/`PX`; `None` removes any time to live.
    pub expiry: Option<Expiry>,
    /// Reply with the previous value instead of `OK` (`SET ... GET`, and GETSET).
    pub get: bool,
    /// Which command this is: it names the command in errors and shapes SETNX's reply.
    pub variant: SetVariant,
}

/// The commands that [`SetCommand`] expresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetVariant {
    /// `SET`.
    Set,
    /// Replies 1 or 0 rather than `OK` or nil.
    SetNx,
    /// `SETEX key seconds value`.
    SetEx,
    /// `PSETEX key milliseconds value`.
    PSetEx,
    /// `GETSET key value`.
    GetSet,
}

impl SetVariant {
    /// The name Redis puts in this command's errors.
    pub fn name(self) -> &'static str {
        match self {
            SetVariant::Set => "set",
            SetVariant::SetNx => "setnx",
            SetVariant::SetEx => "setex",
            SetVariant::PSetEx => "psetex",
            SetVariant::GetSet => "getset",
        }
    }
}

/// When SET writes: only if the key is absent (`NX`) or only if it is present (`XX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetCondition {
    /// `NX`: only if the key does not exist.
    IfAbsent,
    /// `XX`: only if the key exists.
    IfPresent,
}

/// An expiry as the client gave it. Relative forms are resolved against the entry time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiry {
    /// `EX`: seconds from the entry time.
    Seconds(i64),
    /// `PX`: milliseconds from the entry time.
    Milliseconds(i64),
    /// `EXAT`: a Unix time in seconds.
    UnixSeconds(i64),
    /// `PXAT`: a Unix time in milliseconds.
    UnixMilliseconds(i64),
    /// `KEEPTTL`: keep the key's current time to live.
    KeepTtl,
}

/// The unit of an expiry option: `EX`, `PX`, `EXAT` or `PXAT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpiryUnit {
    /// `EX`: seconds from the entry time.
    Seconds,
    /// `PX`: milliseconds from the entry time.
    Milliseconds,
    /// `EXAT`: a Unix time in seconds.
    UnixSeconds,
    /// `PXAT`: a Unix time in milliseconds.
    UnixMilliseconds,
}

impl ExpiryUnit {
    fn from_keyword(option: &[u8]) -> Option<ExpiryUnit> {
        [
            ("EX", ExpiryUnit::Seconds),
            ("PX", ExpiryUnit::Milliseconds),
            ("EXAT", ExpiryUnit::UnixSeconds),
            ("PXAT", ExpiryUnit::UnixMilliseconds),
        ]
        .into_iter()
        .find(|(keyword, _)| is_keyword(option, keyword))
        .map(|(_, unit)| unit)
    }

    fn is_seconds(self) -> bool {
        matches!(self, ExpiryUnit::Seconds | ExpiryUnit::UnixSeconds)
    }

    fn with_amount(self, amount: i64) -> Expiry {
        match self {
            ExpiryUnit::Seconds => Expiry::Seconds(amount),
            ExpiryUnit::Milliseconds => Expiry::Milliseconds(amount),
            ExpiryUnit::UnixSeconds => Expiry::UnixSeconds(amount),
            ExpiryUnit::UnixMilliseconds => Expiry::UnixMilliseconds(amount),
        }
    }
}

/// What GETEX does to the key's time to live.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TtlChange {
    /// `PERSIST`: remove it.
    Persist,
    /// `EX`/`PX`/`EXAT`/`PXAT` with the amount as sent: Redis checks it after the key's type.
    Expire {
        /// Which option it was: `EX`, `PX`, `EXAT` or `PXAT`.
        unit: ExpiryUnit,
        /// The amount's bytes, unparsed until apply has checked the key.
        amount: Bytes,
    },
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LcsCommand {
    /// The first key, `key1`.
    pub first: Key,
    /// The second key, `key2`.
    pub second: Key,
    /// The options, or the error they earned. Redis reports a key of the wrong type before a
    /// bad option, so the error waits for the keys to be looked at.
    pub options: Result<LcsOptions, CommandError>,
}

/// The LCS options once they parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LcsOptions {
    /// What to reply with: `LEN`, `IDX` or the subsequence.
    pub reply: LcsReply,
    /// Matches shorter than this are left out of the `IDX` reply.
    pub min_match_length: u64,
    /// Each match in the `IDX` reply also gives its length.
    pub with_match_length: bool,
}

/// What LCS replies with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LcsReply {
    /// The longest common subsequence itself.
    Subsequence,
    /// `LEN`: its length.
    Length,
    /// `IDX`: the ranges of each match, and the length.
    Indexes,
}

/// The string family's commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::GET, parse_get),
    CommandSpec::new(&redis_metadata::SET, parse_set),
    CommandSpec::new(&redis_metadata::SETNX, parse_setnx),
    CommandSpec::new(&redis_metadata::SETEX, parse_setex),
    CommandSpec::new(&redis_metadata::PSETEX, parse_psetex),
    CommandSpec::new(&redis_metadata::GETSET, parse_getset),
    CommandSpec::new(&redis_metadata::GETDEL, parse_getdel),
    CommandSpec::new(&redis_metadata::GETEX, parse_getex),
    CommandSpec::new(&redis_metadata::MGET, parse_mget),
    CommandSpec::new(&redis_metadata::MSET, parse_mset),
    CommandSpec::new(&redis_metadata::MSETNX, parse_msetnx),
    CommandSpec::new(&redis_metadata::APPEND, parse_append),
    CommandSpec::new(&redis_metadata::STRLEN, parse_strlen),
    CommandSpec::new(&redis_metadata::GETRANGE, parse_getrange),
    CommandSpec::new(&redis_metadata::SUBSTR, parse_getrange),
    CommandSpec::new(&redis_metadata::SETRANGE, parse_setrange),
    CommandSpec::new(&redis_metadata::INCR, parse_incr),
    CommandSpec::new(&redis_metadata::DECR, parse_decr),
    CommandSpec::new(&redis_metadata::INCRBY, parse_incrby),
    CommandSpec::new(&redis_metadata::DECRBY, parse_decrby),
    CommandSpec::new(&redis_metadata::INCRBYFLOAT, parse_incrbyfloat),
    CommandSpec::new(&redis_metadata::LCS, parse_lcs),
    // Concord's own: Redis has no compare-and-set on a value short of WATCH/MULTI/EXEC.
    CommandSpec::new(&concord_metadata::CONCORD_CAS, parse_compare_and_set),
];

fn read(read: StringRead) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::String(read)))
}

fn write(write: StringWrite) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::String(write)))
}

fn parse_get(args: &mut Args) -> Result<Command, CommandError> {
    read(StringRead::Get { key: args.next_bytes()? })
}

fn parse_mget(args: &mut Args) -> Result<Command, CommandError> {
    read(StringRead::MGet { keys: args.rest() })
}

fn parse_strlen(args: &mut Args) -> Result<Command, CommandError> {
    read(StringRead::StrLen { key: args.next_bytes()? })
}

fn parse_getrange(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let start = args.next_i64()?;
    let end = args.next_i64()?;
    read(StringRead::GetRange { key, start, end })
}

fn parse_set(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    let options = parse_extended_options(args, OptionsOf::Set)?;
    let expiry = match options.expiry {
        Some((unit, amount)) => Some(expiry_from_argument(unit, &amount, "set")?),
        None if options.keep_ttl => Some(Expiry::KeepTtl),
        None => None,
    };
    let condition = options.condition;
    let (get, variant) = (options.get, SetVariant::Set);
    write(StringWrite::Set(SetCommand { key, value, condition, expiry, get, variant }))
}

fn parse_setnx(args: &mut Args) -> Result<Command, CommandError> {
    let (key, value) = (args.next_bytes()?, args.next_bytes()?);
    write(StringWrite::Set(SetCommand {
        key,
        value,
        condition: Some(SetCondition::IfAbsent),
        expiry: None,
        get: false,
        variant: SetVariant::SetNx,
    }))
}

fn parse_setex(args: &mut Args) -> Result<Command, CommandError> {
    parse_set_with_expiry(args, ExpiryUnit::Seconds, SetVariant::SetEx)
}

fn parse_psetex(args: &mut Args) -> Result<Command, CommandError> {
    parse_set_with_expiry(args, ExpiryUnit::Milliseconds, SetVariant::PSetEx)
}

/// `SETEX key seconds value` and `PSETEX key milliseconds value`.
fn parse_set_with_expiry(
    args: &mut Args,
    unit: ExpiryUnit,
    variant: SetVariant,
) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let expiry = expiry_from_argument(unit, &args.next_bytes()?, variant.name())?;
    let value = args.next_bytes()?;
    write(StringWrite::Set(SetCommand {
        key,
        value,
        condition: None,
        expiry: Some(expiry),
        get: false,
        variant,
    }))
}

fn parse_getset(args: &mut Args) -> Result<Command, CommandError> {
    let (key, value) = (args.next_bytes()?, args.next_bytes()?);
    write(StringWrite::Set(SetCommand {
        key,
        value,
        condition: None,
        expiry: None,
        get: true,
        variant: SetVariant::GetSet,
    }))
}

fn parse_getdel(args: &mut Args) -> Result<Command, CommandError> {
    write(StringWrite::GetDel { key: args.next_bytes()? })
}

fn parse_getex(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let options = parse_extended_options(args, OptionsOf::GetEx)?;
    let change = match options.expiry {
        Some((unit, amount)) => Some(TtlChange::Expire { unit, amount }),
        None if options.persist => Some(TtlChange::Persist),
        None => None,
    };
    write(StringWrite::GetEx { key, change })
}

fn parse_mset(args: &mut Args) -> Result<Command, CommandError> {
    parse_pairs(args, "mset", false)
}

fn parse_msetnx(args: &mut Args) -> Result<Command, CommandError> {
    parse_pairs(args, "msetnx", true)
}

fn parse_pairs(
    args: &mut Args,
    command: &str,
    only_if_none_exist: bool,
) -> Result<Command, CommandError> {
    if args.remaining() % 2 != 0 {
        return Err(CommandError::WrongArity(command.to_owned()));
    }
    let mut pairs = Vec::with_capacity(args.remaining() / 2);
    while let Some(key) = args.try_next() {
        pairs.push((key, args.next_bytes()?));
    }
    write(StringWrite::MSet { pairs, only_if_none_exist })
}

fn parse_compare_and_set(args: &mut Args) -> Result<Command, CommandError> {
    let (key, expected, new) = (args.next_bytes()?, args.next_bytes()?, args.next_bytes()?);
    write(StringWrite::CompareAndSet { key, expected, new, create_if_absent: false })
}

fn parse_append(args: &mut Args) -> Result<Command, CommandError> {
    let (key, suffix) = (args.next_bytes()?, args.next_bytes()?);
    write(StringWrite::Append { key, suffix })
}

fn parse_setrange(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let offset = args.next_i64()?;
    let offset =
        u64::try_from(offset).map_err(|_| CommandError::other("ERR offset is out of range"))?;
    let patch = args.next_bytes()?;
    write(StringWrite::SetRange { key, offset, patch })
}

fn parse_incr(args: &mut Args) -> Result<Command, CommandError> {
    write(StringWrite::IncrBy { key: args.next_bytes()?, increment: 1 })
}

fn parse_decr(args: &mut Args) -> Result<Command, CommandError> {
    write(StringWrite::IncrBy { key: args.next_bytes()?, increment: -1 })
}

fn parse_incrby(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    write(StringWrite::IncrBy { key, increment: args.next_i64()? })
}

fn parse_decrby(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    // The one decrement whose negation is not an i64; Redis refuses it with its own text.
    let increment = args
        .next_i64()?
        .checked_neg()
        .ok_or(CommandError::other("ERR decrement would overflow"))?;
    write(StringWrite::IncrBy { key, increment })
}

fn parse_incrbyfloat(args: &mut Args) -> Result<Command, CommandError> {
    let (key, increment) = (args.next_bytes()?, args.next_bytes()?);
    write(StringWrite::IncrByFloat { key, increment })
}

fn parse_lcs(args: &mut Args) -> Result<Command, CommandError> {
    let (first, second) = (args.next_bytes()?, args.next_bytes()?);
    let options = parse_lcs_options(args);
    read(StringRead::Lcs(LcsCommand { first, second, options }))
}

fn parse_lcs_options(args: &mut Args) -> Result<LcsOptions, CommandError> {
    let (mut length, mut indexes) = (false, false);
    let mut options =
        LcsOptions { reply: LcsReply::Subsequence, min_match_length: 0, with_match_length: false };
    while let Some(option) = args.try_next() {
        if is_keyword(&option, "IDX") {
            indexes = true;
        } else if is_keyword(&option, "LEN") {
            length = true;
        } else if is_keyword(&option, "WITHMATCHLEN") {
            options.with_match_length = true;
        } else if is_keyword(&option, "MINMATCHLEN") && !args.is_empty() {
            // A negative minimum means no minimum.
            options.min_match_length = args.next_i64()?.max(0) as u64;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    options.reply = match (length, indexes) {
        (true, true) => {
            return Err(CommandError::other(
                "ERR If you want both the length and indexes, please just use IDX.",
            ))
        }
        (true, false) => LcsReply::Length,
        (false, true) => LcsReply::Indexes,
        (false, false) => LcsReply::Subsequence,
    };
    Ok(options)
}

/// Which command's options [`parse_extended_options`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionsOf {
    Set,
    GetEx,
}

/// The options of SET and GETEX, as given.
#[derive(Default)]
struct ExtendedOptions {
    condition: Option<SetCondition>,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expiry: Option<(ExpiryUnit, Bytes)>,
}

/// Reads SET's or GETEX's options in any order, as Redis does: an option may repeat (the last
/// expiry amount wins), options that contradict each other are a syntax error, and so is an
/// option the command does not take. The expiry amount is checked by the caller, after all
/// options were read.
fn parse_extended_options(
    args: &mut Args,
    command: OptionsOf,
) -> Result<ExtendedOptions, CommandError> {
    let mut options = ExtendedOptions::default();
    let is_set = command == OptionsOf::Set;
    while let Some(option) = args.try_next() {
        let unit = ExpiryUnit::from_keyword(&option);
        if is_set && is_keyword(&option, "NX") && options.condition != Some(SetCondition::IfPresent)
        {
            options.condition = Some(SetCondition::IfAbsent);
        } else if is_set
            && is_keyword(&option, "XX")
            && options.condition != Some(SetCondition::IfAbsent)
        {
            options.condition = Some(SetCondition::IfPresent);
        } else if is_set && is_keyword(&option, "GET") {
            options.get = true;
        } else if is_set && is_keyword(&option, "KEEPTTL") && options.expiry.is_none() {
            options.keep_ttl = true;
        } else if !is_set && is_keyword(&option, "PERSIST") && options.expiry.is_none() {
            options.persist = true;
        } else if let Some(unit) = unit.filter(|&unit| {
            !options.keep_ttl
                && !options.persist
                && options.expiry.as_ref().is_none_or(|(current, _)| *current == unit)
                && !args.is_empty()
        }) {
            options.expiry = Some((unit, args.next_bytes()?));
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(options)
}

/// Checks an expiry amount as Redis does: an integer, positive, and (for seconds) small enough
/// to express in milliseconds. `command` names the command in the error.
pub fn expiry_from_argument(
    unit: ExpiryUnit,
    amount: &[u8],
    command: &str,
) -> Result<Expiry, CommandError> {
    let amount = parse_i64(amount).ok_or(CommandError::NotInteger)?;
    if amount <= 0 || (unit.is_seconds() && amount > i64::MAX / 1000) {
        return Err(invalid_expire_time(command));
    }
    Ok(unit.with_amount(amount))
}

/// `ERR invalid expire time in 'set' command`, for the command named.
pub fn invalid_expire_time(command: &str) -> CommandError {
    CommandError::Other(format!("ERR invalid expire time in '{command}' command").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse;
    use crate::command::{AclCategories, CommandFlags};

    fn parse_words(words: &[&str]) -> Result<Command, CommandError> {
        parse(words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect())
            .unwrap()
            .command
    }

    fn parse_set_words(words: &[&str]) -> SetCommand {
        match parse_words(words) {
            Ok(Command::Write(Write::String(StringWrite::Set(set)))) => set,
            other => panic!("{words:?} must parse as a SET, got {other:?}"),
        }
    }

    fn error_text(words: &[&str]) -> String {
        parse_words(words).unwrap_err().to_string()
    }

    #[test]
    fn set_accepts_options_in_any_order() {
        let set = parse_set_words(&["SET", "k", "v", "get", "px", "100", "nx"]);
        assert_eq!(set.condition, Some(SetCondition::IfAbsent));
        assert_eq!(set.expiry, Some(Expiry::Milliseconds(100)));
        assert!(set.get);
    }

    #[test]
    fn set_options_may_repeat_and_the_last_expiry_wins() {
        let set =
            parse_set_words(&["SET", "k", "v", "EX", "0", "ex", "5", "NX", "NX", "GET", "GET"]);
        assert_eq!(set.expiry, Some(Expiry::Seconds(5)));
        let set = parse_set_words(&["SET", "k", "v", "KEEPTTL", "KEEPTTL"]);
        assert_eq!(set.expiry, Some(Expiry::KeepTtl));
    }

    #[test]
    fn set_rejects_conflicting_options_as_syntax_errors() {
        for words in [
            &["SET", "k", "v", "NX", "XX"][..],
            &["SET", "k", "v", "EX", "1", "PX", "1"],
            &["SET", "k", "v", "EX", "abc", "PX", "1"],
            &["SET", "k", "v", "KEEPTTL", "EX", "1"],
            &["SET", "k", "v", "EX", "1", "KEEPTTL"],
            &["SET", "k", "v", "EX"],
            &["SET", "k", "v", "PERSIST"],
            &["SET", "k", "v", "BOGUS"],
        ] {
            assert_eq!(parse_words(words).unwrap_err(), CommandError::Syntax, "{words:?}");
        }
    }

    #[test]
    fn set_rejects_bad_expire_times_with_redis_text() {
        assert_eq!(
            error_text(&["SET", "k", "v", "EX", "0"]),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            error_text(&["SET", "k", "v", "PX", "-1"]),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            error_text(&["SET", "k", "v", "EX", "9223372036854776"]),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            error_text(&["SET", "k", "v", "EX", "x"]),
            "ERR value is not an integer or out of range"
        );
    }

    #[test]
    fn setex_and_psetex_name_themselves_in_expire_errors() {
        assert_eq!(
            error_text(&["SETEX", "k", "0", "v"]),
            "ERR invalid expire time in 'setex' command"
        );
        assert_eq!(
            error_text(&["PSETEX", "k", "-5", "v"]),
            "ERR invalid expire time in 'psetex' command"
        );
        assert_eq!(
            error_text(&["SETEX", "k", "1.5", "v"]),
            "ERR value is not an integer or out of range"
        );
        let set = parse_set_words(&["SETEX", "k", "10", "v"]);
        assert_eq!((set.expiry, set.variant), (Some(Expiry::Seconds(10)), SetVariant::SetEx));
    }

    #[test]
    fn getex_takes_only_expiry_options_and_persist() {
        for words in [
            &["GETEX", "k", "NX"][..],
            &["GETEX", "k", "GET"],
            &["GETEX", "k", "KEEPTTL"],
            &["GETEX", "k", "PERSIST", "EX", "1"],
            &["GETEX", "k", "EX", "1", "PERSIST"],
            &["GETEX", "k", "EX"],
        ] {
            assert_eq!(parse_words(words).unwrap_err(), CommandError::Syntax, "{words:?}");
        }
        let parsed = parse_words(&["GETEX", "k", "PERSIST", "PERSIST"]).unwrap();
        let Command::Write(Write::String(StringWrite::GetEx { change, .. })) = parsed else {
            panic!("GETEX must parse as a string write");
        };
        assert_eq!(change, Some(TtlChange::Persist));
    }

    #[test]
    fn getex_leaves_the_expire_amount_for_after_the_type_check() {
        let parsed = parse_words(&["GETEX", "k", "EX", "abc"]).unwrap();
        let Command::Write(Write::String(StringWrite::GetEx { change, .. })) = parsed else {
            panic!("GETEX must parse as a string write");
        };
        let amount = Bytes::from_static(b"abc");
        assert_eq!(change, Some(TtlChange::Expire { unit: ExpiryUnit::Seconds, amount }));
    }

    #[test]
    fn mset_and_msetnx_need_pairs() {
        assert_eq!(
            error_text(&["MSET", "a", "1", "b"]),
            "ERR wrong number of arguments for 'mset' command"
        );
        assert_eq!(
            error_text(&["MSETNX", "a", "1", "b"]),
            "ERR wrong number of arguments for 'msetnx' command"
        );
        assert_eq!(error_text(&["MSET", "a"]), "ERR wrong number of arguments for 'mset' command");
    }

    #[test]
    fn integer_arguments_are_checked_before_the_key() {
        let not_integer = "ERR value is not an integer or out of range";
        assert_eq!(error_text(&["INCRBY", "k", "+1"]), not_integer);
        assert_eq!(error_text(&["DECRBY", "k", "1.0"]), not_integer);
        assert_eq!(error_text(&["GETRANGE", "k", "a", "1"]), not_integer);
        assert_eq!(error_text(&["SETRANGE", "k", "a", "v"]), not_integer);
        assert_eq!(
            error_text(&["DECRBY", "k", "-9223372036854775808"]),
            "ERR decrement would overflow"
        );
        assert_eq!(error_text(&["SETRANGE", "k", "-1", "v"]), "ERR offset is out of range");
    }

    #[test]
    fn lcs_option_errors_wait_for_the_type_check() {
        let options = |words: &[&str]| match parse_words(words).unwrap() {
            Command::Read(Read::String(StringRead::Lcs(lcs))) => lcs.options,
            other => panic!("LCS must parse as a string read, got {other:?}"),
        };
        assert_eq!(options(&["LCS", "a", "b", "BOGUS"]), Err(CommandError::Syntax));
        assert_eq!(options(&["LCS", "a", "b", "MINMATCHLEN"]), Err(CommandError::Syntax));
        assert_eq!(options(&["LCS", "a", "b", "MINMATCHLEN", "x"]), Err(CommandError::NotInteger));
        let both = options(&["LCS", "a", "b", "LEN", "IDX"]).unwrap_err();
        assert_eq!(
            both.to_string(),
            "ERR If you want both the length and indexes, please just use IDX."
        );
        let parsed =
            options(&["LCS", "a", "b", "idx", "minmatchlen", "-5", "withmatchlen"]).unwrap();
        assert_eq!(
            parsed,
            LcsOptions { reply: LcsReply::Indexes, min_match_length: 0, with_match_length: true }
        );
    }

    #[test]
    fn read_only_commands_are_reads_and_the_rest_writes() {
        let reads = [
            &["GET", "k"][..],
            &["MGET", "k", "j"],
            &["STRLEN", "k"],
            &["GETRANGE", "k", "0", "1"],
            &["SUBSTR", "k", "0", "1"],
            &["LCS", "k", "j"],
        ];
        for words in reads {
            assert!(matches!(parse_words(words), Ok(Command::Read(_))), "{words:?}");
        }
        let writes = [
            &["SET", "k", "v"][..],
            &["SETNX", "k", "v"],
            &["SETEX", "k", "1", "v"],
            &["PSETEX", "k", "1", "v"],
            &["GETSET", "k", "v"],
            &["GETDEL", "k"],
            &["GETEX", "k"],
            &["MSET", "k", "v"],
            &["MSETNX", "k", "v"],
            &["APPEND", "k", "v"],
            &["SETRANGE", "k", "0", "v"],
            &["INCR", "k"],
            &["DECR", "k"],
            &["INCRBY", "k", "1"],
            &["DECRBY", "k", "1"],
            &["INCRBYFLOAT", "k", "1"],
        ];
        for words in writes {
            assert!(matches!(parse_words(words), Ok(Command::Write(_))), "{words:?}");
        }
    }

    #[test]
    fn the_table_carries_redis_flags_and_key_positions() {
        let spec = |name: &str| crate::command::lookup(name.as_bytes()).unwrap();
        assert_eq!(
            (spec("mset").meta.first_key, spec("mset").meta.last_key, spec("mset").meta.key_step),
            (1, -1, 2)
        );
        assert_eq!(
            (spec("lcs").meta.first_key, spec("lcs").meta.last_key, spec("lcs").meta.key_step),
            (1, 2, 1)
        );
        assert!(
            spec("getdel").has_flag(CommandFlags::WRITE)
                && !spec("getdel").has_flag(CommandFlags::DENYOOM)
        );
        assert!(
            spec("getrange").has_flag(CommandFlags::READONLY)
                && !spec("getrange").has_flag(CommandFlags::FAST)
        );
        for spec in COMMANDS {
            assert_eq!(spec.meta.docs.group, "string", "{}", spec.name);
            assert!(spec.meta.categories.contains(AclCategories::STRING), "{}", spec.name);
            assert!(
                spec.has_flag(CommandFlags::WRITE) != spec.has_flag(CommandFlags::READONLY),
                "{}",
                spec.name
            );
        }
    }
}
