//! The keyspace family: commands that work on keys of any type (DEL, EXISTS, EXPIRE, SCAN,
//! RENAME, OBJECT, DUMP, RESTORE, ...) and on whole databases (DBSIZE, FLUSHDB, FLUSHALL,
//! SWAPDB). DUMP and RESTORE's arguments are read in the child `restore`.
//!
//! Everything Redis checks before it looks at the keyspace is checked here, in Redis's order,
//! so that a malformed write never costs a log entry. Two kinds of check must wait for apply,
//! because they depend on what only apply knows:
//! - whether a target database is the client's own (MOVE and COPY's `source and destination
//!   objects are the same`): the connection's database travels beside the write, not in it;
//! - whether a relative expiry time overflows once the entry's time is added to it.
//!
//! Relative expiry times stay relative in the typed command, as in the string family: the
//! state machine adds the entry's `leader_time_ms`, so every replica computes the same deadline.
//!
//! TOUCH is a write here although Redis flags it `readonly`: its whole effect is to refresh the
//! key's idle time, which is replicated state in Concord (see `store::Entry::idle_ms`). Its
//! table entry keeps Redis's flags so that COMMAND INFO reports what clients expect.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{is_keyword, parse_i64, Args, Command, CommandError, CommandSpec, DbIndex, Key};
use super::{Read, Write, DATABASES};
use crate::command::redis_metadata;

mod restore;

pub use restore::{RestoreCommand, BUSY_KEY, INVALID_TTL};

/// The commands that read keys of any type, or a whole database; outside a transaction they
/// never enter the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum KeyRead {
    /// EXISTS: how many of the keys exist, counting a repeated key each time.
    Exists {
        /// The keys in argument order, repeats kept.
        keys: Vec<Key>,
    },
    /// TYPE: the name of the value's type, or `none`.
    Type {
        /// The key whose type it replies with.
        key: Key,
    },
    /// KEYS: every key that matches the glob pattern.
    Keys {
        /// The glob pattern (`*`, `?`, `[...]`, `\` escapes) keys must match.
        pattern: Bytes,
    },
    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
    Scan(ScanCommand),
    /// `RANDOMKEY`: a random existing key of the client's database, or nil.
    RandomKey,
    /// TTL, PTTL, EXPIRETIME and PEXPIRETIME.
    TimeToLive {
        /// The key whose expiry it replies with.
        key: Key,
        /// Which of the four commands, so the unit and whether the time is left or absolute.
        form: TimeToLiveForm,
    },
    /// OBJECT ENCODING, FREQ, IDLETIME and REFCOUNT.
    Object {
        /// The key it asks about.
        key: Key,
        /// Which subcommand: ENCODING, FREQ, IDLETIME or REFCOUNT.
        question: ObjectQuestion,
    },
    /// `OBJECT HELP`: the lines of `OBJECT_HELP`.
    ObjectHelp,
    /// `DBSIZE`: the number of keys in the client's database.
    DbSize,
    // New variants go last: the log stores a variant (of a read inside EXEC) by its position.
    /// `DUMP key`: the key's value as Redis 7.0's DUMP payload, or nil.
    Dump {
        /// The key to dump.
        key: Key,
    },
}

/// How TTL-like commands report a key's expiry time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeToLiveForm {
    /// TTL: seconds left, rounded to the nearest second.
    RemainingSeconds,
    /// PTTL: milliseconds left.
    RemainingMilliseconds,
    /// EXPIRETIME: the Unix time in seconds, rounded to the nearest second.
    UnixSeconds,
    /// PEXPIRETIME: the Unix time in milliseconds.
    UnixMilliseconds,
}

/// What OBJECT asks about a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectQuestion {
    /// `OBJECT ENCODING key`: the name of the value's internal representation.
    Encoding,
    /// `OBJECT FREQ key`: refused with `FREQUENCY_NOT_TRACKED`, as Redis does without LFU.
    Frequency,
    /// `OBJECT IDLETIME key`: seconds since the key was last used.
    IdleTime,
    /// `OBJECT REFCOUNT key`: how many references the value has.
    ReferenceCount,
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanCommand {
    /// The cursor the client sent (0 starts a new scan), read as Redis's `strtoul` does.
    pub cursor: u64,
    /// The glob pattern keys must match; `None` when absent or `*` (which matches every key,
    /// even the empty one that the glob `*` would not).
    pub pattern: Option<Bytes>,
    /// How many keys to visit, at least (Redis's default is 10).
    pub count: usize,
    /// The type name (as TYPE reports it) keys must have, compared ignoring case.
    pub type_name: Option<Bytes>,
}

/// The commands that write keys of any type, or whole databases, as they are stored in the
/// log and applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum KeyWrite {
    /// DEL and UNLINK: deletes the keys, replying how many existed.
    Del {
        /// The keys to delete in argument order; the reply counts only those that existed.
        keys: Vec<Key>,
    },
    /// TOUCH: marks the existing keys as used now (for OBJECT IDLETIME), replying how many
    /// existed. Not a change for WATCH.
    Touch {
        /// The keys to touch in argument order.
        keys: Vec<Key>,
    },
    /// RENAME, and RENAMENX when `only_if_absent`.
    Rename {
        /// The key to rename; it must exist.
        source: Key,
        /// The key's new name, replaced whatever it held (unless `only_if_absent`).
        destination: Key,
        /// RENAMENX: rename only if `destination` does not exist; `false` for RENAME.
        only_if_absent: bool,
    },
    /// `COPY source destination [DB db] [REPLACE]`; `db` is the client's own when `None`.
    Copy {
        /// The key to copy; the copy is of its value and its expiry.
        source: Key,
        /// The key to copy to, in the database `db`.
        destination: Key,
        /// The database index from `DB db`, checked to be below `DATABASES`.
        db: Option<DbIndex>,
        /// `REPLACE`: overwrite `destination` if it exists; without it COPY then does nothing.
        replace: bool,
    },
    /// `MOVE key db`.
    Move {
        /// The key to move from the client's database.
        key: Key,
        /// The database to move it to, below `DATABASES`; the key must not exist there.
        db: DbIndex,
    },
    /// `EXPIRE key seconds`, `PEXPIRE key ms`, `EXPIREAT key unix-s`, `PEXPIREAT key unix-ms`,
    /// each with `[NX | XX | GT | LT]`.
    Expire(ExpireCommand),
    /// `PERSIST key`.
    Persist {
        /// The key whose expiry it removes.
        key: Key,
    },
    /// `FLUSHDB [ASYNC | SYNC]`: deletes every key of the client's database; both modes mean the
    /// same.
    FlushDb,
    /// `FLUSHALL [ASYNC | SYNC]`: deletes every key of every database; both modes mean the same.
    FlushAll,
    /// `SWAPDB index1 index2`.
    SwapDb {
        /// The first database index, checked to be below `DATABASES`.
        first: DbIndex,
        /// The second database index, checked likewise; it may equal `first`.
        second: DbIndex,
    },
    /// Active expiry, proposed by the node and never by a client: deletes each key that has
    /// expired by the entry's time. A key whose expiry was extended since the proposal was made
    /// is left alone, so the proposer's clock never decides what exists.
    DeleteExpired {
        /// The keys the proposer saw as expired.
        keys: Vec<Key>,
    },
    // New variants go last: the log stores a variant by its position.
    /// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`.
    Restore(RestoreCommand),
}

/// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT, with their `NX | XX | GT | LT` conditions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireCommand {
    /// The key whose expiry it changes.
    pub key: Key,
    /// The time as given, converted to milliseconds (the seconds forms were checked not to
    /// overflow the conversion).
    pub time_ms: i64,
    /// Whether the client gave the time in seconds (EXPIRE, EXPIREAT).
    pub in_seconds: bool,
    /// Whether `time_ms` counts from the entry time (EXPIRE, PEXPIRE) rather than from the
    /// Unix epoch (EXPIREAT, PEXPIREAT).
    pub relative: bool,
    /// `NX`, `XX`, `GT` and `LT`, as given; the parser refused the combinations Redis refuses.
    pub condition: ExpireCondition,
}

impl ExpireCommand {
    /// The command's name, as its errors spell it.
    pub fn name(&self) -> &'static str {
        match (self.relative, self.in_seconds) {
            (true, true) => "expire",
            (true, false) => "pexpire",
            (false, true) => "expireat",
            (false, false) => "pexpireat",
        }
    }
}

/// When an EXPIRE-like command changes the expiry. A key without an expiry counts as expiring
/// at infinity for `GT` and `LT`. The allowed combinations are none, one of them, and `XX` with
/// `GT` or `LT`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireCondition {
    /// `NX`: only if the key has no expiry.
    pub if_none: bool,
    /// `XX`: only if the key has an expiry.
    pub if_some: bool,
    /// `GT`: only if the new expiry is later than the current one.
    pub if_later: bool,
    /// `LT`: only if the new expiry is earlier than the current one.
    pub if_earlier: bool,
}

/// Redis's reply to MOVE or COPY onto the key itself.
pub const SAME_OBJECT: CommandError =
    CommandError::other("ERR source and destination objects are the same");

/// Redis's reply to OBJECT FREQ under its default eviction policy, which Concord always has.
pub const FREQUENCY_NOT_TRACKED: CommandError = CommandError::other(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that \
     when switching between policies at runtime LRU and LFU data will take some time to adjust.",
);

pub(super) const INVALID_CURSOR: CommandError = CommandError::other("ERR invalid cursor");
const INT_OUT_OF_RANGE: CommandError =
    CommandError::other("ERR value is out of range, value must between -2147483648 and 2147483647");
const NOT_COMPATIBLE_NX: CommandError =
    CommandError::other("ERR NX and XX, GT or LT options at the same time are not compatible");
const NOT_COMPATIBLE_GT_LT: CommandError =
    CommandError::other("ERR GT and LT options at the same time are not compatible");

/// SCAN's page size when the client gives no COUNT, as Redis's.
const SCAN_COUNT_DEFAULT: usize = 10;

/// The keyspace family's commands, each with its metadata and parser; OBJECT with its
/// subcommands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::DEL, parse_del),
    CommandSpec::new(&redis_metadata::UNLINK, parse_del),
    CommandSpec::new(&redis_metadata::EXISTS, parse_exists),
    CommandSpec::new(&redis_metadata::TYPE, parse_type),
    CommandSpec::new(&redis_metadata::RENAME, parse_rename),
    CommandSpec::new(&redis_metadata::RENAMENX, parse_renamenx),
    CommandSpec::new(&redis_metadata::COPY, parse_copy),
    CommandSpec::new(&redis_metadata::MOVE, parse_move),
    CommandSpec::new(&redis_metadata::KEYS, parse_keys),
    CommandSpec::new(&redis_metadata::SCAN, parse_scan),
    CommandSpec::new(&redis_metadata::RANDOMKEY, parse_randomkey),
    CommandSpec::new(&redis_metadata::TOUCH, parse_touch),
    CommandSpec::new(&redis_metadata::EXPIRE, parse_expire),
    CommandSpec::new(&redis_metadata::PEXPIRE, parse_pexpire),
    CommandSpec::new(&redis_metadata::EXPIREAT, parse_expireat),
    CommandSpec::new(&redis_metadata::PEXPIREAT, parse_pexpireat),
    CommandSpec::new(&redis_metadata::TTL, parse_ttl),
    CommandSpec::new(&redis_metadata::PTTL, parse_pttl),
    CommandSpec::new(&redis_metadata::EXPIRETIME, parse_expiretime),
    CommandSpec::new(&redis_metadata::PEXPIRETIME, parse_pexpiretime),
    CommandSpec::new(&redis_metadata::PERSIST, parse_persist),
    CommandSpec::new(&redis_metadata::OBJECT, parse_object_container)
        .subcommands(OBJECT_SUBCOMMANDS),
    CommandSpec::new(&redis_metadata::DBSIZE, parse_dbsize),
    CommandSpec::new(&redis_metadata::FLUSHDB, parse_flushdb),
    CommandSpec::new(&redis_metadata::FLUSHALL, parse_flushall),
    CommandSpec::new(&redis_metadata::SWAPDB, parse_swapdb),
    CommandSpec::new(&redis_metadata::DUMP, restore::parse_dump),
    CommandSpec::new(&redis_metadata::RESTORE, restore::parse_restore),
];

/// OBJECT's subcommands, in the order Redis lists them.
static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::OBJECT_HELP, parse_object_help),
    CommandSpec::new(&redis_metadata::OBJECT_FREQ, parse_object_freq),
    CommandSpec::new(&redis_metadata::OBJECT_ENCODING, parse_object_encoding),
    CommandSpec::new(&redis_metadata::OBJECT_IDLETIME, parse_object_idletime),
    CommandSpec::new(&redis_metadata::OBJECT_REFCOUNT, parse_object_refcount),
];

/// The lines of `OBJECT HELP`, as Redis 7.0 prints them (clients and tests compare them).
pub const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn read(read: KeyRead) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::Key(read)))
}

fn write(write: KeyWrite) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::Key(write)))
}

fn parse_del(args: &mut Args) -> Result<Command, CommandError> {
    write(KeyWrite::Del { keys: args.rest() })
}

fn parse_touch(args: &mut Args) -> Result<Command, CommandError> {
    write(KeyWrite::Touch { keys: args.rest() })
}

fn parse_exists(args: &mut Args) -> Result<Command, CommandError> {
    read(KeyRead::Exists { keys: args.rest() })
}

fn parse_type(args: &mut Args) -> Result<Command, CommandError> {
    read(KeyRead::Type { key: args.next_bytes()? })
}

fn parse_rename(args: &mut Args) -> Result<Command, CommandError> {
    let (source, destination) = (args.next_bytes()?, args.next_bytes()?);
    write(KeyWrite::Rename { source, destination, only_if_absent: false })
}

fn parse_renamenx(args: &mut Args) -> Result<Command, CommandError> {
    let (source, destination) = (args.next_bytes()?, args.next_bytes()?);
    write(KeyWrite::Rename { source, destination, only_if_absent: true })
}

/// COPY checks its options left to right, then the database's range, as Redis does.
fn parse_copy(args: &mut Args) -> Result<Command, CommandError> {
    let (source, destination) = (args.next_bytes()?, args.next_bytes()?);
    let (mut db, mut replace) = (None, false);
    while let Some(option) = args.try_next() {
        if is_keyword(&option, "REPLACE") {
            replace = true;
        } else if is_keyword(&option, "DB") && !args.is_empty() {
            db = Some(parse_i32(&args.next_bytes()?)?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let db = db.map(db_index).transpose()?;
    write(KeyWrite::Copy { source, destination, db, replace })
}

fn parse_move(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let db = db_index(parse_i32(&args.next_bytes()?)?)?;
    write(KeyWrite::Move { key, db })
}

fn parse_keys(args: &mut Args) -> Result<Command, CommandError> {
    read(KeyRead::Keys { pattern: args.next_bytes()? })
}

/// SCAN reads the cursor first, then its options left to right; a later MATCH, COUNT or TYPE
/// replaces an earlier one, as in Redis.
fn parse_scan(args: &mut Args) -> Result<Command, CommandError> {
    let cursor = parse_cursor(&args.next_bytes()?).ok_or(INVALID_CURSOR)?;
    let (options, type_name) = parse_scan_options(args, true)?;
    let ScanOptions { pattern, count } = options;
    read(KeyRead::Scan(ScanCommand { cursor, pattern, count, type_name }))
}

/// The MATCH and COUNT options of SCAN, HSCAN, SSCAN and ZSCAN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanOptions {
    /// `None` for no MATCH or `MATCH *` (which matches everything).
    pub pattern: Option<Bytes>,
    /// How many elements to visit, at least: `COUNT`, or 10; the parser refused less than 1.
    pub count: usize,
}

/// Reads scan options left to right, as Redis does: a later MATCH or COUNT replaces an earlier
/// one, and TYPE (SCAN only, where `accepts_type`) is returned beside them.
pub(crate) fn parse_scan_options(
    args: &mut Args,
    accepts_type: bool,
) -> Result<(ScanOptions, Option<Bytes>), CommandError> {
    let mut options = ScanOptions { pattern: None, count: SCAN_COUNT_DEFAULT };
    let mut type_name = None;
    while let Some(option) = args.try_next() {
        if args.is_empty() {
            return Err(CommandError::Syntax);
        }
        let value = args.next_bytes()?;
        if is_keyword(&option, "COUNT") {
            let count = parse_i64(&value).ok_or(CommandError::NotInteger)?;
            if count < 1 {
                return Err(CommandError::Syntax);
            }
            options.count = usize::try_from(count).unwrap_or(usize::MAX);
        } else if is_keyword(&option, "MATCH") {
            options.pattern = (value.as_ref() != b"*").then_some(value);
        } else if accepts_type && is_keyword(&option, "TYPE") {
            type_name = Some(value);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok((options, type_name))
}

/// Reads a SCAN cursor as Redis 7.0 does, with C's `strtoul`: an optional sign, decimal digits
/// that must fit in 64 bits, nothing after them and no leading space. A minus sign negates
/// modulo 2^64 (so `-1` is the largest cursor), and an empty cursor is 0.
pub(crate) fn parse_cursor(bytes: &[u8]) -> Option<u64> {
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.is_empty() {
        // strtoul reads nothing from "", "+" or "-": the cursor is 0 if nothing follows, and
        // after a lone sign something (the sign) follows.
        return bytes.is_empty().then_some(0);
    }
    let mut value: u64 = 0;
    for digit in digits {
        value = value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
    }
    Some(if negative { value.wrapping_neg() } else { value })
}

fn parse_randomkey(_args: &mut Args) -> Result<Command, CommandError> {
    read(KeyRead::RandomKey)
}

fn parse_expire(args: &mut Args) -> Result<Command, CommandError> {
    parse_expire_family(args, true, true)
}

fn parse_pexpire(args: &mut Args) -> Result<Command, CommandError> {
    parse_expire_family(args, false, true)
}

fn parse_expireat(args: &mut Args) -> Result<Command, CommandError> {
    parse_expire_family(args, true, false)
}

fn parse_pexpireat(args: &mut Args) -> Result<Command, CommandError> {
    parse_expire_family(args, false, false)
}

/// Redis checks the options (and their conflicts) before the time, then whether the time in
/// seconds can be expressed in milliseconds.
fn parse_expire_family(
    args: &mut Args,
    in_seconds: bool,
    relative: bool,
) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let time = args.next_bytes()?;
    let condition = parse_expire_condition(args)?;
    let time = parse_i64(&time).ok_or(CommandError::NotInteger)?;
    let mut expire = ExpireCommand { key, time_ms: time, in_seconds, relative, condition };
    if in_seconds {
        expire.time_ms = time.checked_mul(1000).ok_or_else(|| invalid_expire_time(&expire))?;
    }
    write(KeyWrite::Expire(expire))
}

fn parse_expire_condition(args: &mut Args) -> Result<ExpireCondition, CommandError> {
    let mut condition = ExpireCondition::default();
    for option in args.rest() {
        if is_keyword(&option, "NX") {
            condition.if_none = true;
        } else if is_keyword(&option, "XX") {
            condition.if_some = true;
        } else if is_keyword(&option, "GT") {
            condition.if_later = true;
        } else if is_keyword(&option, "LT") {
            condition.if_earlier = true;
        } else {
            let option = String::from_utf8_lossy(&option).replace(['\r', '\n'], " ");
            return Err(CommandError::Other(format!("ERR Unsupported option {option}").into()));
        }
    }
    if condition.if_none && (condition.if_some || condition.if_later || condition.if_earlier) {
        return Err(NOT_COMPATIBLE_NX);
    }
    if condition.if_later && condition.if_earlier {
        return Err(NOT_COMPATIBLE_GT_LT);
    }
    Ok(condition)
}

/// `ERR invalid expire time in 'expire' command`, naming the command the client sent.
pub fn invalid_expire_time(expire: &ExpireCommand) -> CommandError {
    CommandError::Other(format!("ERR invalid expire time in '{}' command", expire.name()).into())
}

fn parse_ttl(args: &mut Args) -> Result<Command, CommandError> {
    parse_time_to_live(args, TimeToLiveForm::RemainingSeconds)
}

fn parse_pttl(args: &mut Args) -> Result<Command, CommandError> {
    parse_time_to_live(args, TimeToLiveForm::RemainingMilliseconds)
}

fn parse_expiretime(args: &mut Args) -> Result<Command, CommandError> {
    parse_time_to_live(args, TimeToLiveForm::UnixSeconds)
}

fn parse_pexpiretime(args: &mut Args) -> Result<Command, CommandError> {
    parse_time_to_live(args, TimeToLiveForm::UnixMilliseconds)
}

fn parse_time_to_live(args: &mut Args, form: TimeToLiveForm) -> Result<Command, CommandError> {
    read(KeyRead::TimeToLive { key: args.next_bytes()?, form })
}

fn parse_persist(args: &mut Args) -> Result<Command, CommandError> {
    write(KeyWrite::Persist { key: args.next_bytes()? })
}

/// Never called: `command::parse` dispatches a container to its subcommands, and a bare
/// `OBJECT` fails the container's arity first.
fn parse_object_container(_args: &mut Args) -> Result<Command, CommandError> {
    Err(CommandError::WrongArity("object".into()))
}

fn parse_object_help(_args: &mut Args) -> Result<Command, CommandError> {
    read(KeyRead::ObjectHelp)
}

fn parse_object_freq(args: &mut Args) -> Result<Command, CommandError> {
    read(KeyRead::Object { key: args.next_bytes()?, question: ObjectQuestion::Frequency })
}

fn parse_object_encoding(args: &mut Args) -> Result<Command, CommandError> {
    read(KeyRead::Object { key: args.next_bytes()?, question: ObjectQuestion::Encoding })
}

fn parse_object_idletime(args: &mut Args) -> Result<Command, CommandError> {
    read(KeyRead::Object { key: args.next_bytes()?, question: ObjectQuestion::IdleTime })
}

fn parse_object_refcount(args: &mut Args) -> Result<Command, CommandError> {
    read(KeyRead::Object { key: args.next_bytes()?, question: ObjectQuestion::ReferenceCount })
}

fn parse_dbsize(_args: &mut Args) -> Result<Command, CommandError> {
    read(KeyRead::DbSize)
}

fn parse_flushdb(args: &mut Args) -> Result<Command, CommandError> {
    parse_flush_mode(args)?;
    write(KeyWrite::FlushDb)
}

fn parse_flushall(args: &mut Args) -> Result<Command, CommandError> {
    parse_flush_mode(args)?;
    write(KeyWrite::FlushAll)
}

/// `SYNC` and `ASYNC` are accepted and mean the same in Concord: the emptied database is
/// replaced at once and its old contents freed off the apply path either way.
fn parse_flush_mode(args: &mut Args) -> Result<(), CommandError> {
    if let Some(mode) = args.try_next() {
        if !is_keyword(&mode, "SYNC") && !is_keyword(&mode, "ASYNC") {
            return Err(CommandError::Syntax);
        }
    }
    args.finish()
}

/// SWAPDB names a bad index by its position before checking either index's range.
fn parse_swapdb(args: &mut Args) -> Result<Command, CommandError> {
    let first = parse_i32(&args.next_bytes()?)
        .map_err(|_| CommandError::other("ERR invalid first DB index"))?;
    let second = parse_i32(&args.next_bytes()?)
        .map_err(|_| CommandError::other("ERR invalid second DB index"))?;
    write(KeyWrite::SwapDb { first: db_index(first)?, second: db_index(second)? })
}

/// Redis's `getIntFromObject`: an integer that must also fit in 32 bits, each failure with its
/// own text.
fn parse_i32(bytes: &[u8]) -> Result<i32, CommandError> {
    let value = parse_i64(bytes).ok_or(CommandError::NotInteger)?;
    i32::try_from(value).map_err(|_| INT_OUT_OF_RANGE)
}

fn db_index(db: i32) -> Result<DbIndex, CommandError> {
    usize::try_from(db).ok().filter(|db| *db < DATABASES).ok_or(CommandError::DbIndexOutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse;
    use crate::command::{AclCategories, CommandFlags};

    fn parse_words(words: &[&str]) -> Result<Command, CommandError> {
        parse(words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect())
            .expect("the command is known")
            .command
    }

    fn error_text(words: &[&str]) -> String {
        parse_words(words).expect_err("the command must be refused").to_string()
    }

    #[test]
    fn scan_cursors_are_read_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"007"), Some(7));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"-18446744073709551615"), Some(1));
        for rejected in [&b"x"[..], b" 1", b"1 ", b"18446744073709551616", b"-", b"+", b"0x1"] {
            assert_eq!(parse_cursor(rejected), None, "{}", String::from_utf8_lossy(rejected));
        }
    }

    #[test]
    fn scan_options_are_checked_in_order_with_redis_text() {
        assert_eq!(error_text(&["SCAN", "x"]), "ERR invalid cursor");
        assert_eq!(error_text(&["SCAN", "0", "COUNT", "0"]), "ERR syntax error");
        assert_eq!(error_text(&["SCAN", "0", "COUNT", "-1"]), "ERR syntax error");
        assert_eq!(
            error_text(&["SCAN", "0", "COUNT", "x"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(error_text(&["SCAN", "0", "MATCH"]), "ERR syntax error");
        assert_eq!(error_text(&["SCAN", "0", "TYPE"]), "ERR syntax error");
        assert_eq!(error_text(&["SCAN", "0", "FOO", "bar"]), "ERR syntax error");
    }

    #[test]
    fn scan_match_star_means_no_pattern_and_later_options_win() {
        let Ok(Command::Read(Read::Key(KeyRead::Scan(scan)))) =
            parse_words(&["scan", "5", "match", "a*", "count", "3", "MATCH", "*", "count", "7"])
        else {
            panic!("SCAN must parse as a key read");
        };
        assert_eq!(scan, ScanCommand { cursor: 5, pattern: None, count: 7, type_name: None });
    }

    #[test]
    fn expire_conflicts_get_redis_text() {
        let nx = "ERR NX and XX, GT or LT options at the same time are not compatible";
        assert_eq!(error_text(&["EXPIRE", "k", "1", "NX", "XX"]), nx);
        assert_eq!(error_text(&["EXPIRE", "k", "1", "nx", "gt"]), nx);
        assert_eq!(error_text(&["PEXPIRE", "k", "1", "LT", "NX"]), nx);
        assert_eq!(error_text(&["EXPIRE", "k", "1", "GT", "LT", "NX"]), nx);
        let gt_lt = "ERR GT and LT options at the same time are not compatible";
        assert_eq!(error_text(&["EXPIREAT", "k", "1", "gt", "lt"]), gt_lt);
        assert_eq!(error_text(&["EXPIRE", "k", "1", "XX", "LT", "GT"]), gt_lt);
    }

    #[test]
    fn expire_checks_options_before_the_time() {
        assert_eq!(error_text(&["EXPIRE", "k", "abc", "foo"]), "ERR Unsupported option foo");
        assert_eq!(
            error_text(&["EXPIRE", "k", "abc"]),
            "ERR value is not an integer or out of range"
        );
        assert!(parse_words(&["EXPIRE", "k", "1", "XX", "GT", "nx"]).is_err());
        assert!(parse_words(&["EXPIRE", "k", "1", "NX", "NX"]).is_ok());
        assert!(parse_words(&["EXPIRE", "k", "1", "XX", "LT"]).is_ok());
    }

    #[test]
    fn expire_seconds_that_overflow_milliseconds_are_invalid_at_parse() {
        assert_eq!(
            error_text(&["EXPIRE", "k", "9223372036854775807"]),
            "ERR invalid expire time in 'expire' command"
        );
        assert_eq!(
            error_text(&["EXPIREAT", "k", "-9223372036854776"]),
            "ERR invalid expire time in 'expireat' command"
        );
        // Milliseconds only overflow once the entry time is added, in apply.
        assert!(parse_words(&["PEXPIRE", "k", "9223372036854775807"]).is_ok());
    }

    #[test]
    fn database_arguments_get_redis_text_for_each_failure() {
        assert_eq!(error_text(&["MOVE", "k", "16"]), "ERR DB index is out of range");
        assert_eq!(error_text(&["MOVE", "k", "-1"]), "ERR DB index is out of range");
        assert_eq!(error_text(&["MOVE", "k", "x"]), "ERR value is not an integer or out of range");
        assert_eq!(
            error_text(&["MOVE", "k", "99999999999"]),
            "ERR value is out of range, value must between -2147483648 and 2147483647"
        );
        assert_eq!(error_text(&["COPY", "a", "b", "DB", "16"]), "ERR DB index is out of range");
        assert_eq!(error_text(&["COPY", "a", "b", "DB"]), "ERR syntax error");
        assert_eq!(error_text(&["COPY", "a", "b", "DB", "16", "x"]), "ERR syntax error");
        assert_eq!(error_text(&["SWAPDB", "x", "1"]), "ERR invalid first DB index");
        assert_eq!(error_text(&["SWAPDB", "1", "x"]), "ERR invalid second DB index");
        assert_eq!(error_text(&["SWAPDB", "99999999999", "x"]), "ERR invalid first DB index");
        assert_eq!(error_text(&["SWAPDB", "0", "16"]), "ERR DB index is out of range");
        assert_eq!(error_text(&["SWAPDB", "-1", "0"]), "ERR DB index is out of range");
    }

    #[test]
    fn flush_accepts_one_mode_and_nothing_else() {
        assert_eq!(parse_words(&["FLUSHALL"]), write(KeyWrite::FlushAll));
        assert_eq!(parse_words(&["flushall", "async"]), write(KeyWrite::FlushAll));
        assert_eq!(parse_words(&["FLUSHDB", "SYNC"]), write(KeyWrite::FlushDb));
        assert_eq!(error_text(&["FLUSHALL", "foo"]), "ERR syntax error");
        assert_eq!(error_text(&["FLUSHALL", "SYNC", "ASYNC"]), "ERR syntax error");
        assert_eq!(error_text(&["FLUSHDB", "ASYNC", "x"]), "ERR syntax error");
    }

    #[test]
    fn object_subcommands_have_their_own_arity_and_names() {
        assert_eq!(error_text(&["OBJECT"]), "ERR wrong number of arguments for 'object' command");
        assert_eq!(error_text(&["OBJECT", "ENCODING"]), {
            "ERR wrong number of arguments for 'object|encoding' command"
        });
        assert_eq!(error_text(&["OBJECT", "HELP", "x"]), {
            "ERR wrong number of arguments for 'object|help' command"
        });
        let unknown = parse(vec![Bytes::from_static(b"object"), Bytes::from_static(b"foo")])
            .expect_err("an unknown subcommand is refused");
        assert_eq!(unknown.to_string(), "ERR unknown subcommand 'foo'. Try OBJECT HELP.");
        let parsed = parse(vec![Bytes::from_static(b"OBJECT"), Bytes::from_static(b"Freq")])
            .expect("FREQ is a subcommand");
        assert_eq!(parsed.spec.name, "object|freq");
    }

    #[test]
    fn table_entries_carry_redis_key_positions() {
        let spec = |name: &str| crate::command::lookup(name.as_bytes()).expect("known command");
        assert_eq!(
            (spec("del").meta.first_key, spec("del").meta.last_key, spec("del").meta.key_step),
            (1, -1, 1)
        );
        assert_eq!((spec("rename").meta.first_key, spec("rename").meta.last_key), (1, 2));
        assert_eq!((spec("keys").meta.first_key, spec("scan").meta.first_key), (0, 0));
        assert!(spec("touch").has_flag(CommandFlags::READONLY), "TOUCH keeps Redis's flags");
        assert!(spec("swapdb").meta.categories.contains(AclCategories::DANGEROUS));
    }
}
