//! The set family: SADD, SMEMBERS, the set algebra and every other command on set values.
//!
//! Parsing finds the errors Redis finds before it looks at a key: counts (SPOP's must be
//! positive, SRANDMEMBER's negation must exist), SINTERCARD's numkeys and LIMIT, and the SSCAN
//! cursor. SSCAN's options are checked after the key, as in Redis (see `hashes`).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::hashes::{parse_random_count, parse_scan_arguments, ScanOptions};
use super::{is_keyword, parse_i64, Args, Command, CommandError, CommandSpec, Key, Read, Write};
use crate::command::redis_metadata;

/// The set commands that only read; outside a transaction they never enter the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SetRead {
    /// `SISMEMBER key member`.
    IsMember {
        /// The key of the set it reads.
        key: Key,
        /// The member it looks for.
        member: Bytes,
    },
    /// `SMISMEMBER key member [member ...]`.
    MIsMember {
        /// The key of the set it reads.
        key: Key,
        /// The members in argument order; the reply has a 1 or 0 for each, in that order.
        members: Vec<Bytes>,
    },
    /// `SMEMBERS key`.
    Members {
        /// The key of the set whose members it replies with.
        key: Key,
    },
    /// `SCARD key`.
    Card {
        /// The key of the set whose member count it replies with.
        key: Key,
    },
    /// SRANDMEMBER: without a count, one member or nil; with one, as HRANDFIELD's count.
    RandomMember {
        /// The key of the set it draws from.
        key: Key,
        /// The count as given: positive for distinct members, negative for draws that may repeat.
        count: Option<i64>,
    },
    /// SINTER, SUNION and SDIFF.
    Combine {
        /// Which of the three: intersection, union or difference.
        operation: SetOperation,
        /// The keys in argument order; for SDIFF the first minus all the others.
        keys: Vec<Key>,
    },
    /// SINTERCARD; a limit of 0 means none.
    InterCard {
        /// The keys to intersect, as many as `numkeys` said.
        keys: Vec<Key>,
        /// `LIMIT`: stop counting once the intersection reaches it.
        limit: usize,
    },
    /// `SSCAN key cursor [MATCH pattern] [COUNT count]`.
    Scan {
        /// The key of the set it scans.
        key: Key,
        /// The cursor the client sent; 0 starts a new scan.
        cursor: u64,
        /// MATCH and COUNT, or the error they earned, reported after the key's type check.
        options: Result<ScanOptions, CommandError>,
    },
}

/// The set algebra of SINTER, SUNION and SDIFF, and of their STORE forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetOperation {
    /// SINTER: the members in every set; an absent key makes it empty.
    Intersection,
    /// SUNION: the members in any set.
    Union,
    /// SDIFF: the members of the first set that are in none of the others.
    Difference,
}

/// The set commands that write, as they are stored in the log and applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SetWrite {
    /// `SADD key member [member ...]`.
    Add {
        /// The key of the set it adds to; an absent key starts as an empty set.
        key: Key,
        /// The members to add; one already there is not counted.
        members: Vec<Bytes>,
    },
    /// `SREM key member [member ...]`.
    Remove {
        /// The key of the set it removes from; the key goes when its last member does.
        key: Key,
        /// The members to remove; one not there is not counted.
        members: Vec<Bytes>,
    },
    /// SPOP: without a count, one member or nil; with one, a set reply.
    Pop {
        /// The key of the set it pops from.
        key: Key,
        /// How many members to pop; the parser refused a negative one.
        count: Option<u64>,
    },
    /// `SMOVE source destination member`.
    Move {
        /// The key of the set it moves the member out of.
        source: Key,
        /// The key of the set it moves the member into.
        destination: Key,
        /// The member it moves, only if `source` has it.
        member: Bytes,
    },
    /// SINTERSTORE, SUNIONSTORE and SDIFFSTORE.
    Store {
        /// Which of the three: intersection, union or difference.
        operation: SetOperation,
        /// The key that receives the result, whatever it held; deleted if the result is empty.
        destination: Key,
        /// The source keys in argument order.
        keys: Vec<Key>,
    },
}

const COUNT_NOT_POSITIVE: CommandError =
    CommandError::other("ERR value is out of range, must be positive");
const NUMKEYS_NOT_POSITIVE: CommandError =
    CommandError::other("ERR numkeys should be greater than 0");
const TOO_MANY_KEYS: CommandError =
    CommandError::other("ERR Number of keys can't be greater than number of args");
const LIMIT_NEGATIVE: CommandError = CommandError::other("ERR LIMIT can't be negative");

/// The set family's commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::SADD, parse_sadd),
    CommandSpec::new(&redis_metadata::SREM, parse_srem),
    CommandSpec::new(&redis_metadata::SISMEMBER, parse_sismember),
    CommandSpec::new(&redis_metadata::SMISMEMBER, parse_smismember),
    CommandSpec::new(&redis_metadata::SMEMBERS, parse_smembers),
    CommandSpec::new(&redis_metadata::SCARD, parse_scard),
    CommandSpec::new(&redis_metadata::SPOP, parse_spop),
    CommandSpec::new(&redis_metadata::SRANDMEMBER, parse_srandmember),
    CommandSpec::new(&redis_metadata::SMOVE, parse_smove),
    CommandSpec::new(&redis_metadata::SINTER, parse_sinter),
    CommandSpec::new(&redis_metadata::SINTERCARD, parse_sintercard),
    CommandSpec::new(&redis_metadata::SINTERSTORE, parse_sinterstore),
    CommandSpec::new(&redis_metadata::SUNION, parse_sunion),
    CommandSpec::new(&redis_metadata::SUNIONSTORE, parse_sunionstore),
    CommandSpec::new(&redis_metadata::SDIFF, parse_sdiff),
    CommandSpec::new(&redis_metadata::SDIFFSTORE, parse_sdiffstore),
    CommandSpec::new(&redis_metadata::SSCAN, parse_sscan),
];

fn read(read: SetRead) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::Set(read)))
}

fn write(write: SetWrite) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::Set(write)))
}

fn parse_sadd(args: &mut Args) -> Result<Command, CommandError> {
    write(SetWrite::Add { key: args.next_bytes()?, members: args.rest() })
}

fn parse_srem(args: &mut Args) -> Result<Command, CommandError> {
    write(SetWrite::Remove { key: args.next_bytes()?, members: args.rest() })
}

fn parse_sismember(args: &mut Args) -> Result<Command, CommandError> {
    read(SetRead::IsMember { key: args.next_bytes()?, member: args.next_bytes()? })
}

fn parse_smismember(args: &mut Args) -> Result<Command, CommandError> {
    read(SetRead::MIsMember { key: args.next_bytes()?, members: args.rest() })
}

fn parse_smembers(args: &mut Args) -> Result<Command, CommandError> {
    read(SetRead::Members { key: args.next_bytes()? })
}

fn parse_scard(args: &mut Args) -> Result<Command, CommandError> {
    read(SetRead::Card { key: args.next_bytes()? })
}

/// `SPOP key [count]`: the count must be a non-negative integer, and anything after it is a
/// syntax error; both before the key.
fn parse_spop(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let count = match args.try_next() {
        None => None,
        Some(_) if !args.is_empty() => return Err(CommandError::Syntax),
        Some(count) => {
            let count = parse_i64(&count).filter(|count| *count >= 0).ok_or(COUNT_NOT_POSITIVE)?;
            Some(count as u64)
        }
    };
    write(SetWrite::Pop { key, count })
}

fn parse_srandmember(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let count = match args.try_next() {
        None => None,
        Some(_) if !args.is_empty() => return Err(CommandError::Syntax),
        Some(count) => Some(parse_random_count(&count)?),
    };
    read(SetRead::RandomMember { key, count })
}

fn parse_smove(args: &mut Args) -> Result<Command, CommandError> {
    let (source, destination, member) =
        (args.next_bytes()?, args.next_bytes()?, args.next_bytes()?);
    write(SetWrite::Move { source, destination, member })
}

fn parse_sinter(args: &mut Args) -> Result<Command, CommandError> {
    read(SetRead::Combine { operation: SetOperation::Intersection, keys: args.rest() })
}

fn parse_sunion(args: &mut Args) -> Result<Command, CommandError> {
    read(SetRead::Combine { operation: SetOperation::Union, keys: args.rest() })
}

fn parse_sdiff(args: &mut Args) -> Result<Command, CommandError> {
    read(SetRead::Combine { operation: SetOperation::Difference, keys: args.rest() })
}

fn parse_store(args: &mut Args, operation: SetOperation) -> Result<Command, CommandError> {
    write(SetWrite::Store { operation, destination: args.next_bytes()?, keys: args.rest() })
}

fn parse_sinterstore(args: &mut Args) -> Result<Command, CommandError> {
    parse_store(args, SetOperation::Intersection)
}

fn parse_sunionstore(args: &mut Args) -> Result<Command, CommandError> {
    parse_store(args, SetOperation::Union)
}

fn parse_sdiffstore(args: &mut Args) -> Result<Command, CommandError> {
    parse_store(args, SetOperation::Difference)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`, every check before the keys: numkeys
/// positive and not more than the arguments left, then LIMIT (repeatable, the last wins).
fn parse_sintercard(args: &mut Args) -> Result<Command, CommandError> {
    let numkeys = parse_i64(&args.next_bytes()?).filter(|n| *n > 0).ok_or(NUMKEYS_NOT_POSITIVE)?;
    if numkeys as u64 > args.remaining() as u64 {
        return Err(TOO_MANY_KEYS);
    }
    let keys: Vec<Key> = (0..numkeys).map(|_| args.next_bytes()).collect::<Result<_, _>>()?;
    let mut limit = 0;
    while let Some(option) = args.try_next() {
        if !is_keyword(&option, "LIMIT") || args.is_empty() {
            return Err(CommandError::Syntax);
        }
        let value = parse_i64(&args.next_bytes()?).filter(|limit| *limit >= 0);
        limit = usize::try_from(value.ok_or(LIMIT_NEGATIVE)?).unwrap_or(usize::MAX);
    }
    read(SetRead::InterCard { keys, limit })
}

fn parse_sscan(args: &mut Args) -> Result<Command, CommandError> {
    let (key, cursor, options) = parse_scan_arguments(args)?;
    read(SetRead::Scan { key, cursor, options })
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
    fn spop_counts_must_be_non_negative_integers() {
        for count in ["-1", "x", "1.5", "-9223372036854775808"] {
            assert_eq!(
                error_text(&["SPOP", "s", count]),
                "ERR value is out of range, must be positive",
                "{count}"
            );
        }
        assert_eq!(error_text(&["SPOP", "s", "0", "1"]), "ERR syntax error");
        assert!(parse_words(&["SPOP", "s", "0"]).is_ok());
    }

    #[test]
    fn srandmember_counts_are_any_negatable_integer() {
        assert_eq!(
            error_text(&["SRANDMEMBER", "s", "-9223372036854775808"]),
            "ERR value is out of range, value must between -9223372036854775807 and \
             9223372036854775807"
        );
        assert_eq!(
            error_text(&["SRANDMEMBER", "s", "x"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(error_text(&["SRANDMEMBER", "s", "1", "2"]), "ERR syntax error");
    }

    #[test]
    fn sintercard_checks_numkeys_then_limit() {
        for numkeys in ["0", "-1", "x"] {
            assert_eq!(
                error_text(&["SINTERCARD", numkeys, "s"]),
                "ERR numkeys should be greater than 0"
            );
        }
        for numkeys in ["2", "9999999999999"] {
            assert_eq!(
                error_text(&["SINTERCARD", numkeys, "s"]),
                "ERR Number of keys can't be greater than number of args"
            );
        }
        assert_eq!(error_text(&["SINTERCARD", "1", "s", "LIMIT"]), "ERR syntax error");
        assert_eq!(error_text(&["SINTERCARD", "1", "s", "foo", "1"]), "ERR syntax error");
        assert_eq!(error_text(&["SINTERCARD", "1", "s", "b"]), "ERR syntax error");
        for limit in ["-1", "x"] {
            assert_eq!(
                error_text(&["SINTERCARD", "1", "s", "LIMIT", limit]),
                "ERR LIMIT can't be negative"
            );
        }
        let parsed = parse_words(&["SINTERCARD", "2", "a", "b", "limit", "5", "LIMIT", "3"]);
        let keys = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        assert_eq!(parsed, Ok(Command::Read(Read::Set(SetRead::InterCard { keys, limit: 3 }))));
    }

    #[test]
    fn the_table_marks_reads_and_writes_as_redis_does() {
        for spec in COMMANDS {
            assert_eq!(spec.meta.docs.group, "set", "{}", spec.name);
            assert!(
                spec.has_flag(CommandFlags::WRITE) != spec.has_flag(CommandFlags::READONLY),
                "{}",
                spec.name
            );
            let words = if spec.name == "sintercard" {
                vec![spec.name, "1", "k"]
            } else {
                let arity = spec.arity().unsigned_abs() as usize;
                [spec.name, "k", "j", "m"][..arity].to_vec()
            };
            let parsed = parse_words(&words);
            let is_write = matches!(parsed, Ok(Command::Write(_)));
            assert_eq!(is_write, spec.has_flag(CommandFlags::WRITE), "{}: {parsed:?}", spec.name);
        }
    }
}
