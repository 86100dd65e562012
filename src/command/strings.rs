//! The string family: GET, SET and the other commands on string values.
//!
//! Relative expiry times (`EX`, `PX`) stay relative in the typed command: the state machine
//! turns them into absolute times with the entry's `leader_time_ms`, so that every replica
//! computes the same deadline.

use serde::{Deserialize, Serialize};

use super::{is_keyword, Args, Command, CommandError, CommandSpec, Key, Read, Write};
use bytes::Bytes;

#[derive(Clone, Debug, PartialEq)]
pub enum StringRead {
    Get { key: Key },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StringWrite {
    Set(SetCommand),
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetCommand {
    pub key: Key,
    pub value: Bytes,
    pub condition: Option<SetCondition>,
    pub expiry: Option<Expiry>,
    /// Reply with the previous value instead of `OK` (`SET ... GET`, and GETSET).
    pub get: bool,
}

/// When SET writes: only if the key is absent (`NX`) or only if it is present (`XX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetCondition {
    IfAbsent,
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

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, parse_get)
        .flags(&["readonly", "fast"])
        .keys(1, 1, 1)
        .categories(&["@read", "@string", "@fast"])
        .docs("string", "Returns the string value of a key.", "1.0.0", "O(1)"),
    CommandSpec::new("set", -3, parse_set)
        .flags(&["write", "denyoom"])
        .keys(1, 1, 1)
        .categories(&["@write", "@string", "@slow"])
        .docs(
            "string",
            "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
            "1.0.0",
            "O(1)",
        ),
];

fn parse_get(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    Ok(Command::Read(Read::String(StringRead::Get { key })))
}

fn parse_set(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    let mut set = SetCommand { key, value, condition: None, expiry: None, get: false };
    while let Some(option) = args.try_next() {
        if is_keyword(&option, "NX") && set.condition.is_none() {
            set.condition = Some(SetCondition::IfAbsent);
        } else if is_keyword(&option, "XX") && set.condition.is_none() {
            set.condition = Some(SetCondition::IfPresent);
        } else if is_keyword(&option, "GET") {
            set.get = true;
        } else if is_keyword(&option, "KEEPTTL") && set.expiry.is_none() {
            set.expiry = Some(Expiry::KeepTtl);
        } else if set.expiry.is_none() {
            set.expiry = Some(parse_expiry_option(&option, args, "set")?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(Command::Write(Write::String(StringWrite::Set(set))))
}

/// Parses `EX s`, `PX ms`, `EXAT s` or `PXAT ms` (the option already read), rejecting times
/// Redis rejects: zero, negative, or too large to express in milliseconds.
pub fn parse_expiry_option(
    option: &[u8],
    args: &mut Args,
    command: &'static str,
) -> Result<Expiry, CommandError> {
    let make: fn(i64) -> Expiry = if is_keyword(option, "EX") {
        Expiry::Seconds
    } else if is_keyword(option, "PX") {
        Expiry::Milliseconds
    } else if is_keyword(option, "EXAT") {
        Expiry::UnixSeconds
    } else if is_keyword(option, "PXAT") {
        Expiry::UnixMilliseconds
    } else {
        return Err(CommandError::Syntax);
    };
    let Some(amount) = args.try_next() else {
        return Err(CommandError::Syntax);
    };
    let amount = super::parse_i64(&amount).ok_or(CommandError::NotInteger)?;
    let in_seconds = matches!(make(0), Expiry::Seconds(_) | Expiry::UnixSeconds(_));
    if amount <= 0 || (in_seconds && amount > i64::MAX / 1000) {
        return Err(invalid_expire_time(command));
    }
    Ok(make(amount))
}

/// `ERR invalid expire time in 'set' command`, for the command named.
pub fn invalid_expire_time(command: &str) -> CommandError {
    CommandError::Other(format!("ERR invalid expire time in '{command}' command").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse;

    fn parse_words(words: &[&str]) -> Result<Command, CommandError> {
        parse(words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect())
            .unwrap()
            .command
    }

    #[test]
    fn set_accepts_options_in_any_order() {
        let Command::Write(Write::String(StringWrite::Set(set))) =
            parse_words(&["SET", "k", "v", "get", "px", "100", "nx"]).unwrap()
        else {
            panic!("SET must parse as a string write");
        };
        assert_eq!(set.condition, Some(SetCondition::IfAbsent));
        assert_eq!(set.expiry, Some(Expiry::Milliseconds(100)));
        assert!(set.get);
    }

    #[test]
    fn set_rejects_conflicting_options_as_syntax_errors() {
        for words in [
            &["SET", "k", "v", "NX", "XX"][..],
            &["SET", "k", "v", "EX", "1", "PX", "1"],
            &["SET", "k", "v", "KEEPTTL", "EX", "1"],
            &["SET", "k", "v", "EX"],
            &["SET", "k", "v", "BOGUS"],
        ] {
            assert_eq!(parse_words(words).unwrap_err(), CommandError::Syntax, "{words:?}");
        }
    }

    #[test]
    fn set_rejects_non_positive_expiry_with_redis_text() {
        let error = parse_words(&["SET", "k", "v", "EX", "0"]).unwrap_err();
        assert_eq!(error.to_string(), "ERR invalid expire time in 'set' command");
        let error = parse_words(&["SET", "k", "v", "EX", "x"]).unwrap_err();
        assert_eq!(error, CommandError::NotInteger);
    }
}
