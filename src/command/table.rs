//! The command table: one [`CommandSpec`] per command, gathered from the families.
//!
//! The table pairs each command's metadata (a [`CommandMeta`]: arity, flags, key
//! specifications, ACL categories, documentation; see `metadata`) with its parser. `COMMAND
//! INFO` and `COMMAND DOCS` report the metadata, the parser checks arity with it, and the
//! server reads its flags to decide, for example, which commands a subscribed RESP2
//! connection may still send.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::{
    acl, bitmaps, blocking, control, geo, hashes, hyperloglog, keys, lists, pubsub, scripting,
    sets, sort, streams, strings, transactions, zsets, Args, Command, CommandError, CommandFlags,
    CommandMeta,
};

/// Builds a typed command from the arguments after the name (and subcommand).
pub type Parser = fn(&mut Args) -> Result<Command, CommandError>;

/// One command of the table: its metadata, its parser, and its subcommands.
#[derive(Debug)]
pub struct CommandSpec {
    /// The lowercase name (the metadata's); a subcommand's is `container|subcommand`, as
    /// Redis 7 names it in errors, COMMAND INFO and INFO commandstats.
    pub name: &'static str,
    /// What COMMAND INFO and COMMAND DOCS report, and the arity and flags the server checks.
    pub meta: &'static CommandMeta,
    /// Builds the typed command from the arguments after the name (and subcommand).
    pub parse: Parser,
    /// The subcommands of a container command (`CONFIG GET`, ...) that Concord implements;
    /// empty otherwise.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// A command without subcommands; `const` so that each family's table is a plain `static`.
    pub const fn new(meta: &'static CommandMeta, parse: Parser) -> CommandSpec {
        CommandSpec { name: meta.name, meta, parse, subcommands: &[] }
    }

    /// The same command with these subcommands, chosen by `command::parse` from the first argument.
    pub const fn subcommands(self, subcommands: &'static [CommandSpec]) -> CommandSpec {
        CommandSpec { subcommands, ..self }
    }

    /// Redis's arity: exact count if positive, minimum if negative, the name included.
    pub fn arity(&self) -> i32 {
        self.meta.arity
    }

    /// Whether the command carries all these flags (`write`, `readonly`, `noscript`, ...).
    pub fn has_flag(&self, flags: CommandFlags) -> bool {
        self.meta.flags.contains(flags)
    }
}

/// The longest command name Redis has is well under this; a longer name is simply unknown.
const NAME_BYTES_MAX: usize = 32;

static TABLE: LazyLock<HashMap<&'static [u8], &'static CommandSpec>> = LazyLock::new(|| {
    let families: [&'static [CommandSpec]; 19] = [
        acl::COMMANDS,
        control::COMMANDS,
        control::cluster::COMMANDS,
        keys::COMMANDS,
        strings::COMMANDS,
        lists::COMMANDS,
        hashes::COMMANDS,
        sets::COMMANDS,
        sort::COMMANDS,
        zsets::COMMANDS,
        transactions::COMMANDS,
        pubsub::COMMANDS,
        blocking::COMMANDS,
        bitmaps::COMMANDS,
        hyperloglog::COMMANDS,
        geo::COMMANDS,
        scripting::COMMANDS,
        scripting::functions::COMMANDS,
        streams::COMMANDS,
    ];
    let mut table = HashMap::new();
    for spec in families.into_iter().flatten() {
        let previous = table.insert(spec.name.as_bytes(), spec);
        assert!(previous.is_none(), "command {} is defined twice", spec.name);
    }
    table
});

/// Every top-level command, in a stable order (by name).
pub fn all_commands() -> Vec<&'static CommandSpec> {
    let mut specs: Vec<&'static CommandSpec> = TABLE.values().copied().collect();
    specs.sort_by_key(|spec| spec.name);
    specs
}

/// Finds a command by name, in any case, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > NAME_BYTES_MAX {
        return None;
    }
    let mut lowercase = [0u8; NAME_BYTES_MAX];
    let lowercase = &mut lowercase[..name.len()];
    lowercase.copy_from_slice(name);
    lowercase.make_ascii_lowercase();
    TABLE.get(&*lowercase).copied()
}

/// Finds a command or, with Redis's `container|subcommand` notation, a subcommand, in any
/// case (`COMMAND INFO config|get`).
pub fn lookup_full_name(name: &[u8]) -> Option<&'static CommandSpec> {
    match name.iter().position(|byte| *byte == b'|') {
        None => lookup(name),
        Some(bar) => lookup_subcommand(lookup(&name[..bar])?, &name[bar + 1..]),
    }
}

/// Finds a subcommand of a container command by name, in any case.
pub fn lookup_subcommand(
    container: &'static CommandSpec,
    name: &[u8],
) -> Option<&'static CommandSpec> {
    container.subcommands.iter().find(|spec| {
        let subcommand = spec.name.rsplit('|').next().unwrap_or(spec.name);
        subcommand.as_bytes().eq_ignore_ascii_case(name)
    })
}
