//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted, limited, and optionally
//! replaced by the values of other keys (GET) or stored as a list (STORE).
//!
//! The options are read left to right as Redis 7.0 reads them, and every syntax error is found
//! here, before the key is looked at: a keyword missing its arguments is `ERR syntax error`, a
//! LIMIT that is not two integers `ERR value is not an integer or out of range`, and SORT_RO
//! does not know STORE at all (syntax error). A repeated option takes its last value, except
//! one quirk kept on purpose: once a BY pattern without `*` has turned sorting off, a later BY
//! with `*` does not turn it back on (Redis's `dontsort` flag is never reset).
//!
//! Redis refuses BY and GET patterns with `*` in cluster mode and for users without access to
//! every key. Concord has neither cluster mode nor ACLs yet, so every pattern is accepted, as
//! Redis accepts it for the default user of a standalone server.
//!
//! SORT is a [`Write`] even without STORE: Redis's command table flags it `write` (COMMAND INFO
//! on redis-server 7.0.15), so it goes through the log and runs at its place in it. SORT_RO,
//! the same command without STORE, is a [`Read`].

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{is_keyword, Args, Command, CommandError, CommandSpec, Key, Read, Write};
use crate::command::redis_metadata;

/// One SORT or SORT_RO, its options resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortCommand {
    /// The key whose list, set or sorted set it sorts.
    pub key: Key,
    /// The BY pattern, as sent (last one wins).
    pub by: Option<Bytes>,
    /// Whether a BY pattern without `*` (such as `nosort`) was given: the elements then keep
    /// the order they have in their value (see the module docs for why this is sticky).
    pub unsorted: bool,
    /// The GET patterns, in order; `#` stands for the element itself.
    pub gets: Vec<Bytes>,
    /// LIMIT's offset and count, as sent.
    pub limit: Option<(i64, i64)>,
    /// `DESC`: largest first; `false` for `ASC`, the default.
    pub descending: bool,
    /// ALPHA: compare as byte strings instead of as numbers.
    pub alpha: bool,
    /// STORE's destination (SORT only).
    pub store: Option<Key>,
}

/// SORT and SORT_RO, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::SORT, parse_sort),
    CommandSpec::new(&redis_metadata::SORT_RO, parse_sort_ro),
];

fn parse_sort(args: &mut Args) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::Sort(parse_options(args, true)?)))
}

fn parse_sort_ro(args: &mut Args) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::Sort(parse_options(args, false)?)))
}

/// Reads `key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
/// [STORE destination]` in any order. A keyword without enough arguments after it is not a
/// keyword (syntax error), as in Redis.
fn parse_options(args: &mut Args, may_store: bool) -> Result<SortCommand, CommandError> {
    let key = args.next_bytes()?;
    let mut command = SortCommand {
        key,
        by: None,
        unsorted: false,
        gets: Vec::new(),
        limit: None,
        descending: false,
        alpha: false,
        store: None,
    };
    while let Some(option) = args.try_next() {
        let left = args.remaining();
        if is_keyword(&option, "ASC") {
            command.descending = false;
        } else if is_keyword(&option, "DESC") {
            command.descending = true;
        } else if is_keyword(&option, "ALPHA") {
            command.alpha = true;
        } else if is_keyword(&option, "LIMIT") && left >= 2 {
            command.limit = Some((args.next_i64()?, args.next_i64()?));
        } else if may_store && is_keyword(&option, "STORE") && left >= 1 {
            command.store = Some(args.next_bytes()?);
        } else if is_keyword(&option, "BY") && left >= 1 {
            let pattern = args.next_bytes()?;
            if star_position(&pattern).is_none() {
                command.unsorted = true;
            }
            command.by = Some(pattern);
        } else if is_keyword(&option, "GET") && left >= 1 {
            command.gets.push(args.next_bytes()?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(command)
}

/// The pattern as C reads it: up to its first NUL byte. Redis looks for `*` and `->` with C
/// string functions, so nothing after a NUL byte counts for either.
pub fn c_string(pattern: &[u8]) -> &[u8] {
    &pattern[..memchr::memchr(0, pattern).unwrap_or(pattern.len())]
}

/// Where the `*` of a pattern is, as Redis's `strchr` finds it.
pub fn star_position(pattern: &[u8]) -> Option<usize> {
    memchr::memchr(b'*', c_string(pattern))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse;

    fn parse_words(words: &[&str]) -> Result<Command, CommandError> {
        let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
        parse(arguments).expect("a known command").command
    }

    fn sort(words: &[&str]) -> SortCommand {
        match parse_words(words) {
            Ok(Command::Write(Write::Sort(command))) => command,
            Ok(Command::Read(Read::Sort(command))) => command,
            other => panic!("{words:?} must parse as SORT, got {other:?}"),
        }
    }

    fn error_text(words: &[&str]) -> String {
        parse_words(words).expect_err("an error").to_string()
    }

    #[test]
    fn options_come_in_any_order_and_the_last_one_wins() {
        let command = sort(&[
            "SORT", "k", "desc", "LIMIT", "1", "2", "get", "#", "ALPHA", "GET", "o_*", "asc",
            "store", "a", "STORE", "b", "LIMIT", "-1", "5",
        ]);
        assert_eq!(command.gets, [Bytes::from_static(b"#"), Bytes::from_static(b"o_*")]);
        assert_eq!(
            (command.limit, command.descending, command.alpha),
            (Some((-1, 5)), false, true)
        );
        assert_eq!(command.store, Some(Bytes::from_static(b"b")));
    }

    #[test]
    fn a_by_pattern_without_a_star_turns_sorting_off_for_good() {
        assert!(sort(&["SORT", "k", "BY", "nosort"]).unsorted);
        assert!(!sort(&["SORT", "k", "BY", "w_*"]).unsorted);
        assert!(sort(&["SORT", "k", "BY", "nosort", "BY", "w_*"]).unsorted);
        let nul_before_star = sort(&["SORT", "k", "BY", "w_\0*"]);
        assert!(nul_before_star.unsorted);
    }

    #[test]
    fn keywords_without_their_arguments_are_syntax_errors() {
        for words in [
            &["SORT", "k", "LIMIT", "1"][..],
            &["SORT", "k", "BY"],
            &["SORT", "k", "GET"],
            &["SORT", "k", "STORE"],
            &["SORT", "k", "BOGUS"],
            &["SORT_RO", "k", "STORE", "d"],
        ] {
            assert_eq!(error_text(words), "ERR syntax error", "{words:?}");
        }
        assert_eq!(
            error_text(&["SORT", "k", "LIMIT", "x", "1"]),
            "ERR value is not an integer or out of range"
        );
    }

    #[test]
    fn sort_is_a_write_and_sort_ro_a_read() {
        assert!(matches!(parse_words(&["SORT", "k"]), Ok(Command::Write(_))));
        assert!(matches!(parse_words(&["SORT_RO", "k"]), Ok(Command::Read(_))));
    }
}
