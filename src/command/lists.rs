//! The list family: LPUSH, LPOP, LRANGE and every other non-blocking command on list values.
//!
//! Parsing finds every error Redis finds before it looks at a key, in Redis's order: counts,
//! ranges, LPOS's options, the directions of LMOVE and LMPOP, LINSERT's BEFORE/AFTER. Where
//! Redis looks at the key first (LINDEX and LSET read their index only after the key's type,
//! and LSET after the key's existence), the typed command carries the index as sent and the
//! state machine parses it at the same point, so that WRONGTYPE or `no such key` wins.
//!
//! The blocking variants (BLPOP, BLMOVE, ...) are not here; they will reuse the pops and moves
//! of `store::list`, which are written to be served inside apply.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{is_keyword, parse_i64, Args, Command, CommandError, CommandSpec, Key, Read, Write};
use crate::command::redis_metadata;

/// The list commands that only read; outside a transaction they never enter the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ListRead {
    /// `LLEN key`.
    Len {
        /// The key whose list length it replies with.
        key: Key,
    },
    /// `LRANGE key start stop`.
    Range {
        /// The key it reads.
        key: Key,
        /// The first index, inclusive; negative counts from the tail.
        start: i64,
        /// The last index (`stop`), inclusive; negative counts from the tail.
        end: i64,
    },
    /// The index as sent: Redis parses it only after the key's type check.
    Index {
        /// The key it reads.
        key: Key,
        /// The index's bytes, unparsed: negative counts from the tail.
        index: Bytes,
    },
    /// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`.
    Position(PositionCommand),
}

/// The list commands that write, as they are stored in the log and applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ListWrite {
    /// LPUSH, RPUSH, and LPUSHX/RPUSHX when `only_if_exists`.
    Push {
        /// The key it pushes to.
        key: Key,
        /// The end pushed to: `Left` for LPUSH(X), `Right` for RPUSH(X).
        end: ListEnd,
        /// The elements in argument order, each pushed in turn (so LPUSH reverses them).
        elements: Vec<Bytes>,
        /// LPUSHX/RPUSHX: push only onto an existing list, never create one.
        only_if_exists: bool,
    },
    /// LPOP and RPOP; `count` is `None` without the count argument, which shapes the reply.
    Pop {
        /// The key it pops from.
        key: Key,
        /// The end popped: `Left` for LPOP, `Right` for RPOP.
        end: ListEnd,
        /// How many elements to pop; the parser refused a negative one.
        count: Option<u64>,
    },
    /// The index as sent: Redis parses it only after finding the key and checking its type.
    Set {
        /// The key whose element it replaces.
        key: Key,
        /// The index's bytes, unparsed: negative counts from the tail.
        index: Bytes,
        /// The new element.
        element: Bytes,
    },
    /// LREM: a positive count removes from the head, a negative one from the tail, zero all.
    Remove {
        /// The key it removes from.
        key: Key,
        /// How many matches to remove, and from which end (see above).
        count: i64,
        /// The element removed wherever it equals this.
        element: Bytes,
    },
    /// `LTRIM key start stop`: keeps only the elements from `start` to `end`.
    Trim {
        /// The key it trims.
        key: Key,
        /// The first index kept, inclusive; negative counts from the tail.
        start: i64,
        /// The last index kept (`stop`), inclusive; negative counts from the tail.
        end: i64,
    },
    /// `LINSERT key BEFORE|AFTER pivot element`.
    Insert {
        /// The key it inserts into.
        key: Key,
        /// `BEFORE` or `AFTER` the pivot.
        place: InsertPlace,
        /// The element to insert next to: the first one equal to it, from the head.
        pivot: Bytes,
        /// The element inserted.
        element: Bytes,
    },
    /// LMOVE, and RPOPLPUSH as `from: Right, to: Left`.
    Move {
        /// The key it pops from.
        source: Key,
        /// The key it pushes to; may be `source` itself, which rotates the list.
        destination: Key,
        /// The end of `source` it pops (`wherefrom`).
        from: ListEnd,
        /// The end of `destination` it pushes (`whereto`).
        to: ListEnd,
    },
    /// LMPOP: pops up to `count` elements from the first of `keys` that holds a list.
    MultiPop {
        /// The keys in argument order; the first that holds a non-empty list is popped.
        keys: Vec<Key>,
        /// `LEFT` or `RIGHT`: the end it pops.
        end: ListEnd,
        /// How many elements at most: `COUNT`, 1 when absent; the parser refused less than 1.
        count: u64,
    },
}

/// An end of a list: `LEFT` is the head (index 0), `RIGHT` the tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListEnd {
    /// `LEFT`: the head, index 0.
    Left,
    /// `RIGHT`: the tail, index -1.
    Right,
}

impl ListEnd {
    fn from_keyword(argument: &[u8]) -> Option<ListEnd> {
        if is_keyword(argument, "LEFT") {
            Some(ListEnd::Left)
        } else if is_keyword(argument, "RIGHT") {
            Some(ListEnd::Right)
        } else {
            None
        }
    }
}

/// Where LINSERT puts the new element relative to the pivot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InsertPlace {
    /// `BEFORE`: the new element takes the pivot's index.
    Before,
    /// `AFTER`: the new element follows the pivot.
    After,
}

/// `LPOS key element [RANK rank] [COUNT count] [MAXLEN len]`, with RANK already turned into a
/// direction and a number of matches to skip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionCommand {
    /// The key it searches.
    pub key: Key,
    /// The element whose positions it replies with.
    pub element: Bytes,
    /// The end the search starts from: the head for a positive RANK, the tail for a negative.
    pub from: ListEnd,
    /// Matches to pass over before reporting (`|RANK| - 1`).
    pub skip: u64,
    /// `None` without COUNT (reply with one position or nil); `Some(0)` for every match.
    pub count: Option<u64>,
    /// Elements to compare at most; 0 for no limit.
    pub compared_max: u64,
}

/// The list family's commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::LPUSH, parse_lpush),
    CommandSpec::new(&redis_metadata::RPUSH, parse_rpush),
    CommandSpec::new(&redis_metadata::LPUSHX, parse_lpushx),
    CommandSpec::new(&redis_metadata::RPUSHX, parse_rpushx),
    CommandSpec::new(&redis_metadata::LPOP, parse_lpop),
    CommandSpec::new(&redis_metadata::RPOP, parse_rpop),
    CommandSpec::new(&redis_metadata::LLEN, parse_llen),
    CommandSpec::new(&redis_metadata::LRANGE, parse_lrange),
    CommandSpec::new(&redis_metadata::LINDEX, parse_lindex),
    CommandSpec::new(&redis_metadata::LSET, parse_lset),
    CommandSpec::new(&redis_metadata::LREM, parse_lrem),
    CommandSpec::new(&redis_metadata::LTRIM, parse_ltrim),
    CommandSpec::new(&redis_metadata::LINSERT, parse_linsert),
    CommandSpec::new(&redis_metadata::LPOS, parse_lpos),
    CommandSpec::new(&redis_metadata::LMOVE, parse_lmove),
    CommandSpec::new(&redis_metadata::RPOPLPUSH, parse_rpoplpush),
    CommandSpec::new(&redis_metadata::LMPOP, parse_lmpop),
];

/// LPOP's and RPOP's text for a count that is not a non-negative integer.
const COUNT_NOT_POSITIVE: CommandError =
    CommandError::other("ERR value is out of range, must be positive");
const NUMKEYS_NOT_POSITIVE: CommandError =
    CommandError::other("ERR numkeys should be greater than 0");
const LMPOP_COUNT_NOT_POSITIVE: CommandError =
    CommandError::other("ERR count should be greater than 0");
const RANK_ZERO: CommandError = CommandError::other(concat!(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... ",
    "or use negative to start from the end of the list",
));
const COUNT_NEGATIVE: CommandError = CommandError::other("ERR COUNT can't be negative");
const MAXLEN_NEGATIVE: CommandError = CommandError::other("ERR MAXLEN can't be negative");

fn read(read: ListRead) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::List(read)))
}

fn write(write: ListWrite) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::List(write)))
}

fn parse_lpush(args: &mut Args) -> Result<Command, CommandError> {
    parse_push(args, ListEnd::Left, false)
}

fn parse_rpush(args: &mut Args) -> Result<Command, CommandError> {
    parse_push(args, ListEnd::Right, false)
}

fn parse_lpushx(args: &mut Args) -> Result<Command, CommandError> {
    parse_push(args, ListEnd::Left, true)
}

fn parse_rpushx(args: &mut Args) -> Result<Command, CommandError> {
    parse_push(args, ListEnd::Right, true)
}

fn parse_push(
    args: &mut Args,
    end: ListEnd,
    only_if_exists: bool,
) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    write(ListWrite::Push { key, end, elements: args.rest(), only_if_exists })
}

fn parse_lpop(args: &mut Args) -> Result<Command, CommandError> {
    parse_pop(args, ListEnd::Left, "lpop")
}

fn parse_rpop(args: &mut Args) -> Result<Command, CommandError> {
    parse_pop(args, ListEnd::Right, "rpop")
}

/// `LPOP key [count]`: the arity (-2) allows more arguments than the command takes, and Redis
/// answers those with its arity error.
fn parse_pop(args: &mut Args, end: ListEnd, name: &str) -> Result<Command, CommandError> {
    if args.remaining() > 2 {
        return Err(CommandError::WrongArity(name.to_owned()));
    }
    let key = args.next_bytes()?;
    let count = match args.try_next() {
        None => None,
        Some(count) => Some(non_negative(&count).ok_or(COUNT_NOT_POSITIVE)?),
    };
    write(ListWrite::Pop { key, end, count })
}

fn parse_llen(args: &mut Args) -> Result<Command, CommandError> {
    read(ListRead::Len { key: args.next_bytes()? })
}

fn parse_lrange(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let (start, end) = (args.next_i64()?, args.next_i64()?);
    read(ListRead::Range { key, start, end })
}

fn parse_lindex(args: &mut Args) -> Result<Command, CommandError> {
    let (key, index) = (args.next_bytes()?, args.next_bytes()?);
    read(ListRead::Index { key, index })
}

fn parse_lset(args: &mut Args) -> Result<Command, CommandError> {
    let (key, index, element) = (args.next_bytes()?, args.next_bytes()?, args.next_bytes()?);
    write(ListWrite::Set { key, index, element })
}

fn parse_lrem(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let count = args.next_i64()?;
    write(ListWrite::Remove { key, count, element: args.next_bytes()? })
}

fn parse_ltrim(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let (start, end) = (args.next_i64()?, args.next_i64()?);
    write(ListWrite::Trim { key, start, end })
}

fn parse_linsert(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let place = args.next_bytes()?;
    let place = if is_keyword(&place, "BEFORE") {
        InsertPlace::Before
    } else if is_keyword(&place, "AFTER") {
        InsertPlace::After
    } else {
        return Err(CommandError::Syntax);
    };
    let (pivot, element) = (args.next_bytes()?, args.next_bytes()?);
    write(ListWrite::Insert { key, place, pivot, element })
}

fn parse_lpos(args: &mut Args) -> Result<Command, CommandError> {
    let (key, element) = (args.next_bytes()?, args.next_bytes()?);
    let mut rank: i64 = 1;
    let mut count = None;
    let mut compared_max = 0;
    // Options are read in order and each is checked as it is read, so the first bad one
    // decides the error; a repeated option takes its last value.
    while let Some(option) = args.try_next() {
        let value = |args: &mut Args| args.try_next().ok_or(CommandError::Syntax);
        if is_keyword(&option, "RANK") {
            rank = parse_i64(&value(args)?).ok_or(CommandError::NotInteger)?;
            if rank == 0 {
                return Err(RANK_ZERO);
            }
        } else if is_keyword(&option, "COUNT") {
            count = Some(non_negative(&value(args)?).ok_or(COUNT_NEGATIVE)?);
        } else if is_keyword(&option, "MAXLEN") {
            compared_max = non_negative(&value(args)?).ok_or(MAXLEN_NEGATIVE)?;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let from = if rank > 0 { ListEnd::Left } else { ListEnd::Right };
    // Redis negates a negative rank in a C `long`, and i64::MIN stays negative: every match
    // then counts as reached, so the search reports from the first match on, and a COUNT
    // never stops it. Kept, because clients see it.
    let skip = if rank == i64::MIN {
        count = count.map(|_| 0);
        0
    } else {
        rank.unsigned_abs() - 1
    };
    read(ListRead::Position(PositionCommand { key, element, from, skip, count, compared_max }))
}

pub(super) fn parse_lmove(args: &mut Args) -> Result<Command, CommandError> {
    let (source, destination) = (args.next_bytes()?, args.next_bytes()?);
    let from = ListEnd::from_keyword(&args.next_bytes()?).ok_or(CommandError::Syntax)?;
    let to = ListEnd::from_keyword(&args.next_bytes()?).ok_or(CommandError::Syntax)?;
    write(ListWrite::Move { source, destination, from, to })
}

fn parse_rpoplpush(args: &mut Args) -> Result<Command, CommandError> {
    let (source, destination) = (args.next_bytes()?, args.next_bytes()?);
    write(ListWrite::Move { source, destination, from: ListEnd::Right, to: ListEnd::Left })
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
pub(super) fn parse_lmpop(args: &mut Args) -> Result<Command, CommandError> {
    let key_count =
        parse_i64(&args.next_bytes()?).filter(|count| *count > 0).ok_or(NUMKEYS_NOT_POSITIVE)?;
    // The keys and the direction must all be there.
    if key_count as u64 >= args.remaining() as u64 {
        return Err(CommandError::Syntax);
    }
    let keys: Vec<Key> = (0..key_count).map(|_| args.next_bytes()).collect::<Result<_, _>>()?;
    let end = ListEnd::from_keyword(&args.next_bytes()?).ok_or(CommandError::Syntax)?;
    let mut count = None;
    while let Some(option) = args.try_next() {
        if count.is_none() && is_keyword(&option, "COUNT") {
            let value = args.try_next().ok_or(CommandError::Syntax)?;
            let value =
                parse_i64(&value).filter(|value| *value > 0).ok_or(LMPOP_COUNT_NOT_POSITIVE)?;
            count = Some(value as u64);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    write(ListWrite::MultiPop { keys, end, count: count.unwrap_or(1) })
}

/// A count Redis accepts with `getPositiveLongFromObject`: an integer of at least zero.
fn non_negative(argument: &[u8]) -> Option<u64> {
    parse_i64(argument).and_then(|value| u64::try_from(value).ok())
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

    fn error_text(words: &[&str]) -> String {
        parse_words(words).unwrap_err().to_string()
    }

    fn position(words: &[&str]) -> PositionCommand {
        match parse_words(words) {
            Ok(Command::Read(Read::List(ListRead::Position(position)))) => position,
            other => panic!("{words:?} must parse as LPOS, got {other:?}"),
        }
    }

    #[test]
    fn pop_counts_must_be_non_negative_integers() {
        let positive = "ERR value is out of range, must be positive";
        assert_eq!(error_text(&["LPOP", "k", "-1"]), positive);
        assert_eq!(error_text(&["RPOP", "k", "x"]), positive);
        assert_eq!(
            error_text(&["LPOP", "k", "1", "2"]),
            "ERR wrong number of arguments for 'lpop' command"
        );
        let parsed = parse_words(&["RPOP", "k", "0"]).unwrap();
        let key = Bytes::from_static(b"k");
        let expected = ListWrite::Pop { key, end: ListEnd::Right, count: Some(0) };
        assert_eq!(parsed, Command::Write(Write::List(expected)));
    }

    #[test]
    fn lpos_checks_each_option_as_it_reads_it() {
        let rank_zero = RANK_ZERO.to_string();
        assert_eq!(error_text(&["LPOS", "k", "e", "RANK", "0"]), rank_zero);
        assert_eq!(error_text(&["LPOS", "k", "e", "COUNT", "1", "RANK", "0"]), rank_zero);
        assert_eq!(
            error_text(&["LPOS", "k", "e", "COUNT", "-1", "RANK", "0"]),
            "ERR COUNT can't be negative"
        );
        assert_eq!(error_text(&["LPOS", "k", "e", "COUNT", "x"]), "ERR COUNT can't be negative");
        assert_eq!(error_text(&["LPOS", "k", "e", "MAXLEN", "-1"]), "ERR MAXLEN can't be negative");
        assert_eq!(
            error_text(&["LPOS", "k", "e", "RANK", "x"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(error_text(&["LPOS", "k", "e", "RANK"]), "ERR syntax error");
        assert_eq!(error_text(&["LPOS", "k", "e", "BOGUS", "1"]), "ERR syntax error");
    }

    #[test]
    fn lpos_rank_becomes_a_direction_and_a_skip() {
        let found = position(&["LPOS", "k", "e", "rank", "-3", "count", "0", "maxlen", "9"]);
        assert_eq!(
            (found.from, found.skip, found.count, found.compared_max),
            (ListEnd::Right, 2, Some(0), 9)
        );
        let found = position(&["LPOS", "k", "e", "RANK", "2", "RANK", "1"]);
        assert_eq!((found.from, found.skip, found.count), (ListEnd::Left, 0, None));
        let found = position(&["LPOS", "k", "e", "RANK", "-9223372036854775808", "COUNT", "2"]);
        assert_eq!((found.from, found.skip, found.count), (ListEnd::Right, 0, Some(0)));
    }

    #[test]
    fn lmpop_checks_numkeys_direction_and_count() {
        let numkeys = "ERR numkeys should be greater than 0";
        assert_eq!(error_text(&["LMPOP", "0", "k", "LEFT"]), numkeys);
        assert_eq!(error_text(&["LMPOP", "x", "k", "LEFT"]), numkeys);
        assert_eq!(error_text(&["LMPOP", "2", "k", "LEFT"]), "ERR syntax error");
        assert_eq!(error_text(&["LMPOP", "99999999999", "k", "LEFT"]), "ERR syntax error");
        assert_eq!(error_text(&["LMPOP", "1", "k", "UP"]), "ERR syntax error");
        let count = "ERR count should be greater than 0";
        assert_eq!(error_text(&["LMPOP", "1", "k", "LEFT", "COUNT", "0"]), count);
        assert_eq!(error_text(&["LMPOP", "1", "k", "LEFT", "COUNT", "x"]), count);
        assert_eq!(error_text(&["LMPOP", "1", "k", "LEFT", "COUNT"]), "ERR syntax error");
        assert_eq!(
            error_text(&["LMPOP", "1", "k", "LEFT", "COUNT", "1", "COUNT", "2"]),
            "ERR syntax error"
        );
        let parsed = parse_words(&["LMPOP", "2", "a", "b", "right", "count", "3"]).unwrap();
        let keys = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        let expected = ListWrite::MultiPop { keys, end: ListEnd::Right, count: 3 };
        assert_eq!(parsed, Command::Write(Write::List(expected)));
    }

    #[test]
    fn directions_and_places_are_keywords_in_any_case() {
        assert_eq!(error_text(&["LMOVE", "a", "b", "LEFT", "UP"]), "ERR syntax error");
        assert_eq!(error_text(&["LINSERT", "k", "MIDDLE", "p", "e"]), "ERR syntax error");
        assert!(parse_words(&["LMOVE", "a", "b", "left", "Right"]).is_ok());
        assert!(parse_words(&["LINSERT", "k", "before", "p", "e"]).is_ok());
    }

    #[test]
    fn read_only_commands_are_reads_and_the_rest_writes() {
        for words in [
            &["LLEN", "k"][..],
            &["LRANGE", "k", "0", "1"],
            &["LINDEX", "k", "x"],
            &["LPOS", "k", "e"],
        ] {
            assert!(matches!(parse_words(words), Ok(Command::Read(_))), "{words:?}");
        }
        for spec in COMMANDS {
            assert_eq!(spec.meta.docs.group, "list", "{}", spec.name);
            assert!(spec.meta.categories.contains(AclCategories::LIST), "{}", spec.name);
            assert!(
                spec.has_flag(CommandFlags::WRITE) != spec.has_flag(CommandFlags::READONLY),
                "{}",
                spec.name
            );
        }
    }
}
