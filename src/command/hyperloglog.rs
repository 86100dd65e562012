//! The HyperLogLog family: PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST.
//!
//! HLLs are strings in Redis's representation (see `store::hyperloglog`). Every check Redis
//! makes happens after it looks the key up (a missing key, WRONGTYPE, an invalid HLL, even
//! PFDEBUG's unknown subcommand), so the typed commands carry their arguments as sent and
//! execution decides.
//!
//! PFCOUNT is a read, as Redis flags it: it runs on a view and never enters the log. Redis's
//! single-key PFCOUNT also stores the cardinality it computed in the value's header cache (a
//! write Redis propagates); Concord's leaves the header as it was, so the count is the same
//! but the bytes GET shows after a PFCOUNT may differ from Redis's in the 8 cache bytes:
//! Concord's keep "not valid", which every Redis reads by recounting (see docs/decisions.md).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Args, Command, CommandError, CommandSpec, Key, Read, Write};
use crate::command::redis_metadata;

/// The HyperLogLog commands that only read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HyperLogLogRead {
    /// `PFCOUNT key [key ...]`: one key's estimate, or the estimate of several keys' union.
    Count {
        /// The keys, at least one.
        keys: Vec<Key>,
    },
    /// `PFSELFTEST`: checks the register access and the estimator's error.
    SelfTest,
}

/// The HyperLogLog commands that write, as they are stored in the log and applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HyperLogLogWrite {
    /// `PFADD key [element ...]`.
    Add {
        /// The HLL; created empty if absent.
        key: Key,
        /// The elements added.
        elements: Vec<Bytes>,
    },
    /// `PFMERGE destkey [sourcekey ...]`: the destination is a source too, as in Redis.
    Merge {
        /// The HLL written.
        destination: Key,
        /// The other sources, in argument order.
        sources: Vec<Key>,
    },
    /// `PFDEBUG subcommand key`: GETREG, DECODE, ENCODING or TODENSE.
    Debug {
        /// The subcommand as sent: Redis names an unknown one only after checking the key.
        subcommand: Bytes,
        /// The HLL it inspects (GETREG and TODENSE turn it dense).
        key: Key,
    },
}

/// The HyperLogLog family's commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::PFADD, parse_pfadd),
    CommandSpec::new(&redis_metadata::PFCOUNT, parse_pfcount),
    CommandSpec::new(&redis_metadata::PFMERGE, parse_pfmerge),
    CommandSpec::new(&redis_metadata::PFDEBUG, parse_pfdebug),
    CommandSpec::new(&redis_metadata::PFSELFTEST, parse_pfselftest),
];

fn write(write: HyperLogLogWrite) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::HyperLogLog(write)))
}

fn read(read: HyperLogLogRead) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::HyperLogLog(read)))
}

fn parse_pfadd(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    write(HyperLogLogWrite::Add { key, elements: args.rest() })
}

fn parse_pfcount(args: &mut Args) -> Result<Command, CommandError> {
    read(HyperLogLogRead::Count { keys: args.rest() })
}

fn parse_pfmerge(args: &mut Args) -> Result<Command, CommandError> {
    let destination = args.next_bytes()?;
    write(HyperLogLogWrite::Merge { destination, sources: args.rest() })
}

fn parse_pfdebug(args: &mut Args) -> Result<Command, CommandError> {
    let subcommand = args.next_bytes()?;
    write(HyperLogLogWrite::Debug { subcommand, key: args.next_bytes()? })
}

fn parse_pfselftest(_args: &mut Args) -> Result<Command, CommandError> {
    read(HyperLogLogRead::SelfTest)
}
