//! DUMP and RESTORE's arguments: `DUMP key` is a read; `RESTORE key ttl serialized-value
//! [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]` is a write.
//!
//! RESTORE's options are read here, left to right, with Redis's errors, because Redis reads
//! them before it looks at the keyspace. The TTL and the payload are carried as the client sent
//! them and checked in apply, because Redis checks them only after `BUSYKEY` (a key that exists
//! without `REPLACE`), which only apply can decide; the payload is decoded there too, into
//! the value stored (docs/decisions.md says why the log carries the payload's bytes rather
//! than the decoded value). Nothing is changed before the payload has decoded.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{is_keyword, read, write, KeyRead, KeyWrite};
use crate::command::{parse_i64, Args, Command, CommandError, Key};

/// Redis's reply to RESTORE of a key that exists, without `REPLACE`.
pub const BUSY_KEY: CommandError = CommandError::other("BUSYKEY Target key name already exists.");
/// Redis's reply to a negative TTL.
pub const INVALID_TTL: CommandError = CommandError::other("ERR Invalid TTL value, must be >= 0");
const INVALID_IDLETIME: CommandError =
    CommandError::other("ERR Invalid IDLETIME value, must be >= 0");
const INVALID_FREQ: CommandError =
    CommandError::other("ERR Invalid FREQ value, must be >= 0 and <= 255");

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreCommand {
    /// The key to create.
    pub key: Key,
    /// The TTL argument as sent: milliseconds from the entry's time, or with `absolute_ttl`
    /// a Unix time in milliseconds; 0 is no expiry. Parsed in apply, after the BUSYKEY check.
    pub ttl: Bytes,
    /// The DUMP payload as sent, checked and decoded in apply.
    pub payload: Bytes,
    /// `REPLACE`: overwrite the key if it exists.
    pub replace: bool,
    /// `ABSTTL`: `ttl` is a Unix time in milliseconds.
    pub absolute_ttl: bool,
    /// `IDLETIME seconds`: the idle time OBJECT IDLETIME starts from.
    pub idle_seconds: Option<u64>,
    /// `FREQ frequency`: checked as Redis checks it; under Redis's default eviction policy,
    /// which is Concord's, Redis keeps no access frequency and ignores it, and so does Concord.
    pub frequency: Option<u8>,
}

pub(super) fn parse_dump(args: &mut Args) -> Result<Command, CommandError> {
    read(KeyRead::Dump { key: args.next_bytes()? })
}

/// The options in Redis's loop: IDLETIME and FREQ each need a value and exclude each other
/// (the later one is a syntax error), and a repeated option is allowed, the last value kept.
pub(super) fn parse_restore(args: &mut Args) -> Result<Command, CommandError> {
    let (key, ttl, payload) = (args.next_bytes()?, args.next_bytes()?, args.next_bytes()?);
    let mut restore = RestoreCommand {
        key,
        ttl,
        payload,
        replace: false,
        absolute_ttl: false,
        idle_seconds: None,
        frequency: None,
    };
    while let Some(option) = args.try_next() {
        let has_value = !args.is_empty();
        if is_keyword(&option, "REPLACE") {
            restore.replace = true;
        } else if is_keyword(&option, "ABSTTL") {
            restore.absolute_ttl = true;
        } else if is_keyword(&option, "IDLETIME") && has_value && restore.frequency.is_none() {
            let seconds = parse_i64(&args.next_bytes()?).ok_or(CommandError::NotInteger)?;
            restore.idle_seconds = Some(u64::try_from(seconds).map_err(|_| INVALID_IDLETIME)?);
        } else if is_keyword(&option, "FREQ") && has_value && restore.idle_seconds.is_none() {
            let frequency = parse_i64(&args.next_bytes()?).ok_or(CommandError::NotInteger)?;
            restore.frequency = Some(u8::try_from(frequency).map_err(|_| INVALID_FREQ)?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    write(KeyWrite::Restore(restore))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{parse, Write};

    fn parsed(arguments: &[&str]) -> Result<Command, CommandError> {
        let arguments = arguments.iter().map(|text| Bytes::copy_from_slice(text.as_bytes()));
        parse(arguments.collect()).unwrap().command
    }

    fn restore(arguments: &[&str]) -> Result<RestoreCommand, CommandError> {
        match parsed(arguments)? {
            Command::Write(Write::Key(KeyWrite::Restore(restore))) => Ok(restore),
            other => panic!("not a RESTORE: {other:?}"),
        }
    }

    #[test]
    fn options_are_read_left_to_right_with_redis_errors() {
        let plain = restore(&["RESTORE", "k", "0", "p"]).unwrap();
        assert_eq!((plain.replace, plain.absolute_ttl, plain.idle_seconds), (false, false, None));
        let all =
            restore(&["restore", "k", "5", "p", "replace", "AbsTtl", "idletime", "7"]).unwrap();
        assert_eq!((all.replace, all.absolute_ttl, all.idle_seconds), (true, true, Some(7)));
        assert_eq!(
            restore(&["RESTORE", "k", "0", "p", "FREQ", "255"]).unwrap().frequency,
            Some(255)
        );
        let twice = restore(&["RESTORE", "k", "0", "p", "IDLETIME", "1", "IDLETIME", "2"]);
        assert_eq!(twice.unwrap().idle_seconds, Some(2));
        for (arguments, error) in [
            (&["RESTORE", "k", "0", "p", "IDLETIME", "-1"][..], INVALID_IDLETIME),
            (&["RESTORE", "k", "0", "p", "IDLETIME", "x"], CommandError::NotInteger),
            (&["RESTORE", "k", "0", "p", "FREQ", "256"], INVALID_FREQ),
            (&["RESTORE", "k", "0", "p", "FREQ", "-1"], INVALID_FREQ),
            (&["RESTORE", "k", "0", "p", "IDLETIME"], CommandError::Syntax),
            (&["RESTORE", "k", "0", "p", "FREQ", "1", "IDLETIME", "1"], CommandError::Syntax),
            (&["RESTORE", "k", "0", "p", "IDLETIME", "1", "FREQ", "1"], CommandError::Syntax),
            (&["RESTORE", "k", "0", "p", "NOPE"], CommandError::Syntax),
        ] {
            assert_eq!(restore(arguments), Err(error), "{arguments:?}");
        }
        // The TTL is parsed in apply, after the BUSYKEY check, as in Redis.
        assert_eq!(restore(&["RESTORE", "k", "x", "p"]).unwrap().ttl, Bytes::from_static(b"x"));
    }
}
