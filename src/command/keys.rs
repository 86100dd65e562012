//! The keyspace family: commands that work on keys of any type (DEL, EXISTS, EXPIRE, SCAN,
//! ...) and on whole databases (DBSIZE, FLUSHDB, SWAPDB, ...).

use serde::{Deserialize, Serialize};

use super::{Args, Command, CommandError, CommandSpec, Key, Read, Write};

#[derive(Clone, Debug, PartialEq)]
pub enum KeyRead {
    Exists { keys: Vec<Key> },
    DbSize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum KeyWrite {
    Del {
        keys: Vec<Key>,
    },
    /// Active expiry, proposed by the node and never by a client: deletes each key that has
    /// expired by the entry's time. A key whose expiry was extended since the proposal was made
    /// is left alone, so the proposer's clock never decides what exists.
    DeleteExpired {
        keys: Vec<Key>,
    },
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, parse_del)
        .flags(&["write"])
        .keys(1, -1, 1)
        .categories(&["@keyspace", "@write", "@slow"])
        .docs(
            "generic",
            "Deletes one or more keys.",
            "1.0.0",
            "O(N) where N is the number of keys that will be removed.",
        ),
    CommandSpec::new("exists", -2, parse_exists)
        .flags(&["readonly", "fast"])
        .keys(1, -1, 1)
        .categories(&["@keyspace", "@read", "@fast"])
        .docs(
            "generic",
            "Determines whether one or more keys exist.",
            "1.0.0",
            "O(N) where N is the number of keys to check.",
        ),
    CommandSpec::new("dbsize", 1, parse_dbsize)
        .flags(&["readonly", "fast"])
        .categories(&["@keyspace", "@read", "@fast"])
        .docs("server", "Returns the number of keys in the database.", "1.0.0", "O(1)"),
];

fn parse_del(args: &mut Args) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::Key(KeyWrite::Del { keys: args.rest() })))
}

fn parse_exists(args: &mut Args) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::Key(KeyRead::Exists { keys: args.rest() })))
}

fn parse_dbsize(_args: &mut Args) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::Key(KeyRead::DbSize)))
}
