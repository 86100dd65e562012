//! The hash family: HSET, HGET and every other command on hash values.
//!
//! Parsing finds the errors Redis finds before it looks at the key (arity, pairs, integers,
//! HRANDFIELD's count and WITHVALUES, HSCAN's cursor). Where Redis looks at the key first
//! (HSCAN's options: a missing key answers an empty page even with bad options, a key of
//! another type answers WRONGTYPE), the typed command carries the options' error and the state
//! machine reports it after the key, as LCS does in the string family.
//! HINCRBYFLOAT's increment is the exception: Redis reads it before the key, but reading it
//! needs the store's exact long double, which this layer does not use; the state machine reads
//! it first thing, so the order of errors is Redis's.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{is_keyword, parse_i64, Args, Command, CommandError, CommandSpec, Key, Read, Write};
use crate::command::redis_metadata;

/// The hash commands that only read; outside a transaction they never enter the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HashRead {
    /// `HGET key field`.
    Get {
        /// The key of the hash it reads.
        key: Key,
        /// The field whose value it replies with.
        field: Bytes,
    },
    /// `HMGET key field [field ...]`.
    MGet {
        /// The key of the hash it reads.
        key: Key,
        /// The fields in argument order; the reply keeps that order, nil for a missing one.
        fields: Vec<Bytes>,
    },
    /// `HLEN key`.
    Len {
        /// The key of the hash whose field count it replies with.
        key: Key,
    },
    /// `HEXISTS key field`.
    Exists {
        /// The key of the hash it reads.
        key: Key,
        /// The field it looks for.
        field: Bytes,
    },
    /// `HKEYS key`.
    Keys {
        /// The key of the hash whose fields it replies with.
        key: Key,
    },
    /// `HVALS key`.
    Values {
        /// The key of the hash whose values it replies with.
        key: Key,
    },
    /// `HGETALL key`.
    GetAll {
        /// The key of the hash whose fields and values it replies with.
        key: Key,
    },
    /// `HSTRLEN key field`.
    StrLen {
        /// The key of the hash it reads.
        key: Key,
        /// The field whose value's length it replies with.
        field: Bytes,
    },
    /// HRANDFIELD: without a count, one field or nil.
    RandomField {
        /// The key of the hash it draws from.
        key: Key,
        /// `None` when no count was given; otherwise the count and WITHVALUES.
        count: Option<RandomCount>,
    },
    /// `HSCAN key cursor [MATCH pattern] [COUNT count]`.
    Scan {
        /// The key of the hash it scans.
        key: Key,
        /// The cursor the client sent; 0 starts a new scan.
        cursor: u64,
        /// MATCH and COUNT, or the error they earned, reported after the key's type check.
        options: Result<ScanOptions, CommandError>,
    },
}

/// HRANDFIELD's count: positive for distinct fields, negative for `|count|` draws that may
/// repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RandomCount {
    /// The count as given: positive for distinct fields, negative for draws that may repeat.
    pub count: i64,
    /// `WITHVALUES`: reply with each field's value too.
    pub with_values: bool,
}

pub use super::keys::ScanOptions;
use super::keys::{parse_cursor, parse_scan_options, INVALID_CURSOR};

/// The hash commands that write, as they are stored in the log and applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HashWrite {
    /// HSET and HMSET (which replies `OK` rather than the number of new fields).
    Set {
        /// The key of the hash it writes; an absent key starts as an empty hash.
        key: Key,
        /// The field-value pairs in argument order; a field given twice keeps its last value.
        pairs: Vec<(Bytes, Bytes)>,
        /// HMSET: reply `OK`; `false` for HSET, which replies with the number of fields added.
        reply_ok: bool,
    },
    /// `HSETNX key field value`.
    SetNx {
        /// The key of the hash it writes.
        key: Key,
        /// The field it sets, only if the hash does not have it yet.
        field: Bytes,
        /// The value it sets.
        value: Bytes,
    },
    /// `HDEL key field [field ...]`.
    Del {
        /// The key of the hash it deletes from; the key goes when its last field does.
        key: Key,
        /// The fields to delete in argument order; a missing one is not counted.
        fields: Vec<Bytes>,
    },
    /// `HINCRBY key field increment`.
    IncrBy {
        /// The key of the hash it writes.
        key: Key,
        /// The field whose integer value changes; a missing one starts at 0.
        field: Bytes,
        /// The amount added, negative to decrement.
        increment: i64,
    },
    /// The increment as the client sent it: it is read with the store's long double, so the
    /// state machine checks it, before it looks at the key, as Redis does.
    IncrByFloat {
        /// The key of the hash it writes.
        key: Key,
        /// The field whose float value changes; a missing one starts at 0.
        field: Bytes,
        /// The increment's bytes, unparsed (see above).
        increment: Bytes,
    },
}

const COUNT_OUT_OF_RANGE: CommandError = CommandError::other(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);
const VALUE_OUT_OF_RANGE: CommandError = CommandError::other("ERR value is out of range");

/// The hash family's commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::HSET, parse_hset),
    CommandSpec::new(&redis_metadata::HSETNX, parse_hsetnx),
    CommandSpec::new(&redis_metadata::HGET, parse_hget),
    CommandSpec::new(&redis_metadata::HMGET, parse_hmget),
    CommandSpec::new(&redis_metadata::HMSET, parse_hmset),
    CommandSpec::new(&redis_metadata::HDEL, parse_hdel),
    CommandSpec::new(&redis_metadata::HLEN, parse_hlen),
    CommandSpec::new(&redis_metadata::HEXISTS, parse_hexists),
    CommandSpec::new(&redis_metadata::HKEYS, parse_hkeys),
    CommandSpec::new(&redis_metadata::HVALS, parse_hvals),
    CommandSpec::new(&redis_metadata::HGETALL, parse_hgetall),
    CommandSpec::new(&redis_metadata::HINCRBY, parse_hincrby),
    CommandSpec::new(&redis_metadata::HINCRBYFLOAT, parse_hincrbyfloat),
    CommandSpec::new(&redis_metadata::HSTRLEN, parse_hstrlen),
    CommandSpec::new(&redis_metadata::HRANDFIELD, parse_hrandfield),
    CommandSpec::new(&redis_metadata::HSCAN, parse_hscan),
];

fn read(read: HashRead) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::Hash(read)))
}

fn write(write: HashWrite) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::Hash(write)))
}

fn parse_hset(args: &mut Args) -> Result<Command, CommandError> {
    parse_set_pairs(args, "hset", false)
}

fn parse_hmset(args: &mut Args) -> Result<Command, CommandError> {
    parse_set_pairs(args, "hmset", true)
}

fn parse_set_pairs(
    args: &mut Args,
    command: &str,
    reply_ok: bool,
) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    if args.remaining() % 2 != 0 {
        return Err(CommandError::WrongArity(command.to_owned()));
    }
    let mut pairs = Vec::with_capacity(args.remaining() / 2);
    while let Some(field) = args.try_next() {
        pairs.push((field, args.next_bytes()?));
    }
    write(HashWrite::Set { key, pairs, reply_ok })
}

fn parse_hsetnx(args: &mut Args) -> Result<Command, CommandError> {
    let (key, field, value) = (args.next_bytes()?, args.next_bytes()?, args.next_bytes()?);
    write(HashWrite::SetNx { key, field, value })
}

fn parse_hget(args: &mut Args) -> Result<Command, CommandError> {
    read(HashRead::Get { key: args.next_bytes()?, field: args.next_bytes()? })
}

fn parse_hmget(args: &mut Args) -> Result<Command, CommandError> {
    read(HashRead::MGet { key: args.next_bytes()?, fields: args.rest() })
}

fn parse_hdel(args: &mut Args) -> Result<Command, CommandError> {
    write(HashWrite::Del { key: args.next_bytes()?, fields: args.rest() })
}

fn parse_hlen(args: &mut Args) -> Result<Command, CommandError> {
    read(HashRead::Len { key: args.next_bytes()? })
}

fn parse_hexists(args: &mut Args) -> Result<Command, CommandError> {
    read(HashRead::Exists { key: args.next_bytes()?, field: args.next_bytes()? })
}

fn parse_hkeys(args: &mut Args) -> Result<Command, CommandError> {
    read(HashRead::Keys { key: args.next_bytes()? })
}

fn parse_hvals(args: &mut Args) -> Result<Command, CommandError> {
    read(HashRead::Values { key: args.next_bytes()? })
}

fn parse_hgetall(args: &mut Args) -> Result<Command, CommandError> {
    read(HashRead::GetAll { key: args.next_bytes()? })
}

fn parse_hstrlen(args: &mut Args) -> Result<Command, CommandError> {
    read(HashRead::StrLen { key: args.next_bytes()?, field: args.next_bytes()? })
}

fn parse_hincrby(args: &mut Args) -> Result<Command, CommandError> {
    let (key, field) = (args.next_bytes()?, args.next_bytes()?);
    write(HashWrite::IncrBy { key, field, increment: args.next_i64()? })
}

fn parse_hincrbyfloat(args: &mut Args) -> Result<Command, CommandError> {
    let (key, field, increment) = (args.next_bytes()?, args.next_bytes()?, args.next_bytes()?);
    write(HashWrite::IncrByFloat { key, field, increment })
}

/// `HRANDFIELD key [count [WITHVALUES]]`: the count's range, then the keyword, then (with
/// values) the halved range that keeps `count * 2` replies countable, all before the key.
fn parse_hrandfield(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    if args.is_empty() {
        return read(HashRead::RandomField { key, count: None });
    }
    let count = parse_random_count(&args.next_bytes()?)?;
    let with_values = match args.try_next() {
        None => false,
        Some(keyword) if args.is_empty() && is_keyword(&keyword, "WITHVALUES") => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(VALUE_OUT_OF_RANGE);
    }
    read(HashRead::RandomField { key, count: Some(RandomCount { count, with_values }) })
}

/// A count for HRANDFIELD and SRANDMEMBER: an integer whose negation is also one.
pub fn parse_random_count(argument: &[u8]) -> Result<i64, CommandError> {
    match parse_i64(argument) {
        None => Err(CommandError::NotInteger),
        Some(i64::MIN) => Err(COUNT_OUT_OF_RANGE),
        Some(count) => Ok(count),
    }
}

fn parse_hscan(args: &mut Args) -> Result<Command, CommandError> {
    let (key, cursor, options) = parse_scan_arguments(args)?;
    read(HashRead::Scan { key, cursor, options })
}

/// HSCAN's and SSCAN's `key cursor [MATCH pattern] [COUNT count]`: the cursor is checked now,
/// the options' error is kept for after the key (see the module docs).
pub fn parse_scan_arguments(
    args: &mut Args,
) -> Result<(Key, u64, Result<ScanOptions, CommandError>), CommandError> {
    let key = args.next_bytes()?;
    let cursor = parse_cursor(&args.next_bytes()?).ok_or(INVALID_CURSOR)?;
    Ok((key, cursor, parse_scan_options(args, false).map(|(options, _)| options)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse;
    use crate::command::CommandFlags;

    fn parse_words(words: &[&str]) -> Result<Command, CommandError> {
        parse(words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect())
            .unwrap()
            .command
    }

    fn error_text(words: &[&str]) -> String {
        parse_words(words).unwrap_err().to_string()
    }

    #[test]
    fn hset_and_hmset_need_pairs_and_name_themselves() {
        assert_eq!(
            error_text(&["HSET", "h", "f"]),
            "ERR wrong number of arguments for 'hset' command"
        );
        assert_eq!(
            error_text(&["HMSET", "h", "f", "v", "g"]),
            "ERR wrong number of arguments for 'hmset' command"
        );
    }

    #[test]
    fn hincrby_increments_are_checked_before_the_key() {
        assert_eq!(
            error_text(&["HINCRBY", "h", "f", "1.5"]),
            "ERR value is not an integer or out of range"
        );
    }

    #[test]
    fn hrandfield_checks_count_and_keyword_before_the_key() {
        assert_eq!(
            error_text(&["HRANDFIELD", "h", "-9223372036854775808"]),
            "ERR value is out of range, value must between -9223372036854775807 and \
             9223372036854775807"
        );
        assert_eq!(
            error_text(&["HRANDFIELD", "h", "x"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(error_text(&["HRANDFIELD", "h", "1", "withvalue"]), "ERR syntax error");
        assert_eq!(error_text(&["HRANDFIELD", "h", "1", "withvalues", "x"]), "ERR syntax error");
        assert_eq!(
            error_text(&["HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"]),
            "ERR value is out of range"
        );
        assert!(parse_words(&["HRANDFIELD", "h", "9223372036854775807"]).is_ok());
    }

    #[test]
    fn hscan_checks_the_cursor_now_and_keeps_option_errors_for_later() {
        assert_eq!(error_text(&["HSCAN", "h", "x"]), "ERR invalid cursor");
        let options = |words: &[&str]| match parse_words(words).unwrap() {
            Command::Read(Read::Hash(HashRead::Scan { options, .. })) => options,
            other => panic!("HSCAN must parse as a hash read, got {other:?}"),
        };
        assert_eq!(options(&["HSCAN", "h", "0", "COUNT", "0"]), Err(CommandError::Syntax));
        assert_eq!(options(&["HSCAN", "h", "0", "TYPE", "hash"]), Err(CommandError::Syntax));
        assert_eq!(options(&["HSCAN", "h", "0", "COUNT", "x"]), Err(CommandError::NotInteger));
        assert_eq!(options(&["HSCAN", "h", "0", "MATCH"]), Err(CommandError::Syntax));
        assert_eq!(
            options(&["HSCAN", "h", "0", "match", "*", "count", "5"]),
            Ok(ScanOptions { pattern: None, count: 5 })
        );
    }

    #[test]
    fn the_table_marks_reads_and_writes_as_redis_does() {
        for spec in COMMANDS {
            assert_eq!(spec.meta.docs.group, "hash", "{}", spec.name);
            assert!(
                spec.has_flag(CommandFlags::WRITE) != spec.has_flag(CommandFlags::READONLY),
                "{}",
                spec.name
            );
            let words = [spec.name, "k", "f", "1"];
            let arity = spec.arity().unsigned_abs() as usize;
            let parsed = parse_words(&words[..arity.max(2)]);
            let is_write = matches!(parsed, Ok(Command::Write(_)));
            assert_eq!(is_write, spec.has_flag(CommandFlags::WRITE), "{}: {parsed:?}", spec.name);
        }
    }
}
