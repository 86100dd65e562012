//! Requests to typed commands: the command table, argument parsing, and client-facing errors.
//!
//! A request is an argument vector of byte strings. [`parse`] looks its name up in the command
//! table, checks the arity, and hands the remaining arguments to the command's parser, which
//! builds a typed [`Command`]. Each command is exactly one of three kinds, and the kind decides
//! where it runs:
//!
//! - [`Write`]: changes the keyspace. It becomes part of a log entry, is applied by the state
//!   machine on every replica, and is answered only after it was applied. Its type therefore
//!   holds everything apply needs and nothing apply must not depend on (no clock, no node-local
//!   state), and it is serializable for the log.
//! - [`Read`]: only reads the keyspace. It runs on an MVCC view of the applied state, on the node
//!   the client is connected to, and never enters the log.
//! - [`Control`](control::Control): acts on the connection or the node (PING, SELECT, HELLO, CLIENT, CONFIG, INFO,
//!   ...). The server executes it; it never reaches the state machine.
//!
//! The transaction commands (MULTI, EXEC, WATCH, ...) are control commands too; an EXEC reaches
//! the log as one [`Write::Transaction`] that carries the queued reads and writes (see
//! [`transactions`]).
//!
//! Commands are grouped in families, one file each (`strings`, `lists`, `keys`, `hashes`,
//! `sets`, `sort`, `geo`, `streams`, `control`), each with its typed commands, their parsers, and its part of the command
//! table, which pairs each parser with the command's metadata (generated from Redis 7.0, see
//! [`metadata`]). Syntax errors are found here, before anything is proposed, so a malformed write never
//! costs a log entry.
//!
//! Deliberately absent: execution. This module never touches the keyspace, the log or the
//! network; it only turns bytes into types and errors into Redis's text.

pub mod acl;
mod args;
pub mod bitmaps;
pub mod blocking;
pub mod control;
mod error;
pub mod geo;
mod glob;
pub mod key_extraction;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod scripting;
pub mod sets;
pub mod sort;
pub mod stream_ids;
pub mod streams;
pub(crate) mod strtod;
pub mod strings;
pub mod concord_metadata;
pub mod metadata;
#[rustfmt::skip]
pub mod redis_metadata;
mod table;
pub mod zsets;
pub mod transactions;

pub use args::{is_keyword, parse_f64, parse_i64, Args};
pub use error::CommandError;
pub use glob::glob_match;
pub use metadata::{
    AclCategories, Argument, ArgumentFlags, ArgumentKind, BeginSearch, CommandFlags, CommandMeta,
    DocFlags, Docs, FindKeys, KeySpec, KeySpecFlags,
};
pub use table::{all_commands, lookup, lookup_full_name, lookup_subcommand, CommandSpec, Parser};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A key: arbitrary bytes.
pub type Key = Bytes;

/// The index of one of the numbered databases (`SELECT n`).
pub type DbIndex = usize;

/// How many numbered databases a node has, as Redis's default `databases 16`.
pub const DATABASES: usize = 16;

/// A request whose command is known: the table entry it matched (for stats and flags) and
/// either its typed form or the error its arguments earned.
#[derive(Debug)]
pub struct Parsed {
    /// The table entry the name matched: its flags, arity and stats name.
    pub spec: &'static CommandSpec,
    /// The typed command, or the error its arguments earned.
    pub command: Result<Command, CommandError>,
}

/// A parsed command, of the kind that decides where it runs (see the module doc).
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Acts on the connection or the node; the server runs it, never the state machine.
    Control(control::Control),
    /// Only reads the keyspace, on the node the client is connected to.
    Read(Read),
    /// Changes the keyspace, through the log.
    Write(Write),
}

/// A command that only reads the keyspace. Serializable because a transaction carries its
/// reads through the log, to run them at its place in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Read {
    /// GET, MGET, STRLEN, GETRANGE, LCS.
    String(strings::StringRead),
    /// EXISTS, TTL, TYPE, SCAN and the other reads of keys whatever their type.
    Key(keys::KeyRead),
    /// LLEN, LRANGE, LINDEX, LPOS.
    List(lists::ListRead),
    /// ZSCORE, ZRANGE, ZCARD and the other sorted-set reads.
    Zset(zsets::ZsetRead),
    /// HGET, HGETALL, HSCAN and the other hash reads.
    Hash(hashes::HashRead),
    /// SISMEMBER, SMEMBERS, SINTER and the other set reads.
    Set(sets::SetRead),
    /// SORT_RO.
    Sort(sort::SortCommand),
    // New variants go last: a transaction's log entry stores a read by its position.
    /// GETBIT, BITCOUNT, BITPOS, BITFIELD_RO.
    Bitmap(bitmaps::BitmapRead),
    /// PFCOUNT, PFSELFTEST.
    HyperLogLog(hyperloglog::HyperLogLogRead),
    /// EVAL_RO, EVALSHA_RO, EVAL of a `no-writes` script, SCRIPT EXISTS (see `scripting`).
    Script(scripting::ScriptRead),
    /// GEOPOS, GEOHASH, GEODIST, and the geo searches that do not store.
    Geo(geo::GeoRead),
    /// XLEN, XRANGE, XREVRANGE, XREAD, XPENDING, XINFO.
    Stream(streams::StreamRead),
}

/// A command that changes the keyspace, applied through the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Write {
    /// SET, INCR, APPEND and the other string writes.
    String(strings::StringWrite),
    /// DEL, EXPIRE, RENAME and the other writes of keys whatever their type.
    Key(keys::KeyWrite),
    /// LPUSH, LPOP, LSET and the other list writes.
    List(lists::ListWrite),
    /// ZADD, ZREM, ZINCRBY and the other sorted-set writes.
    Zset(zsets::ZsetWrite),
    /// HSET, HDEL, HINCRBY and the other hash writes.
    Hash(hashes::HashWrite),
    /// SADD, SREM, SPOP and the other set writes.
    Set(sets::SetWrite),
    /// SORT, with or without STORE (Redis flags it `write`).
    Sort(sort::SortCommand),
    /// An EXEC: never parsed from a request, built by the server from a connection's queue.
    Transaction(Box<transactions::Transaction>),
    // New variants go last: the log stores a variant by its position.
    /// BLPOP and the other blocking pops, and their unblocking (see `blocking`).
    Blocking(blocking::BlockingWrite),
    /// PUBLISH: its message is an output of its entry, delivered by every node.
    Publish(pubsub::Publish),
    /// A change of the replicated subscriber table: (P)(UN)SUBSCRIBE, a subscriber that went
    /// away, a node's earlier runs (see `pubsub`). Built by the connection, never parsed.
    Subscriptions(pubsub::SubscriptionWrite),
    /// SETBIT, BITOP, BITFIELD.
    Bitmap(bitmaps::BitmapWrite),
    /// PFADD, PFMERGE, PFDEBUG.
    HyperLogLog(hyperloglog::HyperLogLogWrite),
    /// EVAL and EVALSHA of a script that may write, SCRIPT LOAD, SCRIPT FLUSH: one request of
    /// one entry, run by apply on every replica (see `scripting`).
    Script(scripting::ScriptWrite),
    /// GEOADD, and the geo searches that store (GEORADIUS ... STORE, GEOSEARCHSTORE).
    Geo(geo::GeoWrite),
    /// XADD, XDEL, XTRIM, XSETID, and the consumer-group commands, XREADGROUP included.
    Stream(streams::StreamWrite),
    /// ACL SETUSER and ACL DELUSER, and `requirepass` as the default user's password: the
    /// replicated users (see `acl`).
    Acl(acl::AclWrite),
    /// A scripting write, or a transaction with a script among its steps, from a user who may
    /// not run everything: the script's calls are checked against that user inside apply, and
    /// the reply is an envelope with their denials (see `acl::script`). Built by the
    /// connection, never parsed.
    AsUser(Box<acl::script::UserWrite>),
}

/// Parses one non-empty request. `arguments[0]` is the command name, in any case. An unknown
/// command (or subcommand) is an `Err`; a known one with bad arguments is a [`Parsed`] whose
/// `command` is the error, so that the caller can count it against the command.
pub fn parse(arguments: Vec<Bytes>) -> Result<Parsed, CommandError> {
    parse_request(&arguments)
}

/// [`parse`] of a request the caller keeps, as the server does for SLOWLOG: the command takes
/// its own handles on the argument buffers, which share their bytes with the request's.
pub fn parse_request(arguments: &[Bytes]) -> Result<Parsed, CommandError> {
    let (name, rest) = arguments.split_first().ok_or(CommandError::Syntax)?;
    let rest = rest.to_vec();
    let Some(spec) = lookup(name) else {
        return Err(CommandError::UnknownCommand { name: name.clone(), arguments: rest });
    };
    if let Err(error) = check_arity(spec, rest.len() + 1) {
        return Ok(Parsed { spec, command: Err(error) });
    }
    // A container called alone runs its own parser (COMMAND, whose arity is -1); CONFIG and
    // CLIENT alone already failed their arity (-2) above.
    if spec.subcommands.is_empty() || rest.is_empty() {
        return Ok(Parsed { spec, command: (spec.parse)(&mut Args::new(rest)) });
    }
    parse_subcommand(spec, rest)
}

/// Container commands (CONFIG, CLIENT, OBJECT, COMMAND) dispatch on their first argument; each
/// subcommand has its own arity and its own name in errors and stats (`config|get`).
/// A container called with no subcommand fails its own arity check (-2) before this runs.
fn parse_subcommand(
    container: &'static CommandSpec,
    arguments: Vec<Bytes>,
) -> Result<Parsed, CommandError> {
    let mut arguments = arguments.into_iter();
    let subcommand =
        arguments.next().ok_or_else(|| CommandError::WrongArity(container.name.into()))?;
    let Some(spec) = lookup_subcommand(container, &subcommand) else {
        return Err(CommandError::UnknownSubcommand { command: container.name, subcommand });
    };
    let rest: Vec<Bytes> = arguments.collect();
    let command = check_arity(spec, rest.len() + 2)
        .and_then(|()| (spec.parse)(&mut Args::new(rest)))
        .map_err(|error| match error {
            CommandError::SubcommandMisused { command, subcommand: None } => {
                CommandError::SubcommandMisused { command, subcommand: Some(subcommand) }
            }
            error => error,
        });
    Ok(Parsed { spec, command })
}

/// Redis's arity rule: a positive arity is the exact argument count (name included), a
/// negative one the minimum.
fn check_arity(spec: &CommandSpec, count: usize) -> Result<(), CommandError> {
    if fits_arity(spec, count) {
        Ok(())
    } else {
        Err(CommandError::WrongArity(spec.name.to_string()))
    }
}

/// Whether `count` arguments (the name, and the subcommand if any, included) fit the
/// command's arity. Inside MULTI an arity error refuses the command at once, while other
/// argument errors wait for EXEC, as in Redis: the server tells the two apart with this.
pub fn fits_arity(spec: &CommandSpec, count: usize) -> bool {
    let arity = spec.arity();
    if arity >= 0 {
        count == arity as usize
    } else {
        count >= arity.unsigned_abs() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect()
    }

    #[test]
    fn names_match_in_any_case() {
        let parsed = parse(request(&["gEt", "k"])).unwrap();
        assert_eq!(parsed.spec.name, "get");
    }

    #[test]
    fn unknown_commands_and_wrong_arity_get_redis_text() {
        let error = parse(request(&["nope", "a"])).unwrap_err();
        assert_eq!(error.to_string(), "ERR unknown command 'nope', with args beginning with: 'a' ");
        let error = parse(request(&["get"])).unwrap().command.unwrap_err();
        assert_eq!(error.to_string(), "ERR wrong number of arguments for 'get' command");
    }

    #[test]
    fn every_table_entry_is_unique_and_lowercase() {
        let mut names = std::collections::HashSet::new();
        for spec in all_commands() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(names.insert(spec.name), "duplicate command {}", spec.name);
        }
    }
}
