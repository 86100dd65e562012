//! The command table: one [`CommandSpec`] per command, gathered from the families.
//!
//! The table is the single source of truth for a command's name, arity, flags and key
//! positions. `COMMAND INFO` and `COMMAND DOCS` report it, the parser checks arity with it,
//! and the server reads `flags` to decide, for example, which commands a subscribed RESP2
//! connection may still send.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::{
    blocking, control, hashes, keys, lists, pubsub, sets, sort, strings, transactions, zsets, Args,
    Command, CommandError,
};

/// Builds a typed command from the arguments after the name (and subcommand).
pub type Parser = fn(&mut Args) -> Result<Command, CommandError>;

/// Everything the node knows about one command.
#[derive(Debug)]
pub struct CommandSpec {
    /// The lowercase name; a subcommand's is `container|subcommand`, as Redis 7 names it in
    /// errors, COMMAND INFO and INFO commandstats.
    pub name: &'static str,
    /// Redis's arity: exact count if positive, minimum if negative, the name included (for a
    /// subcommand, the container's name and the subcommand's both count).
    pub arity: i32,
    /// Redis's command flags as `COMMAND INFO` shows them (`write`, `readonly`, `fast`, ...).
    pub flags: &'static [&'static str],
    /// Position of the first key argument (0 when there is none).
    pub first_key: i32,
    /// Position of the last key argument (negative counts from the end).
    pub last_key: i32,
    /// Step between key arguments.
    pub key_step: i32,
    /// ACL categories as `COMMAND INFO` shows them (`@string`, `@read`, ...).
    pub categories: &'static [&'static str],
    /// The documentation group (`string`, `generic`, `server`, `connection`, ...).
    pub group: &'static str,
    /// One line saying what the command does, for `COMMAND DOCS`.
    pub summary: &'static str,
    /// The Redis version that introduced the command.
    pub since: &'static str,
    /// The time complexity, for `COMMAND DOCS`.
    pub complexity: &'static str,
    /// Redis's command tips as `COMMAND INFO` shows them (`nondeterministic_output`,
    /// `request_policy:all_shards`, ...).
    pub tips: &'static [&'static str],
    /// The flags of the command's key specification (`RO`, `access`, `RW`, `update`, ...), as
    /// `COMMAND INFO` and `COMMAND GETKEYSANDFLAGS` show them; only meaningful with keys.
    pub key_flags: &'static [&'static str],
    /// The documented arguments, for `COMMAND DOCS` (and so for redis-cli's hints).
    pub arguments: &'static [Argument],
    pub parse: Parser,
    /// The subcommands of a container command (`CONFIG GET`, ...); empty otherwise.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// A command with no keys, no flags and no documentation yet; the builder methods below
    /// fill those in, in `const` context, so that each family's table is a plain `static`.
    pub const fn new(name: &'static str, arity: i32, parse: Parser) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags: &[],
            first_key: 0,
            last_key: 0,
            key_step: 0,
            categories: &[],
            group: "",
            summary: "",
            since: "1.0.0",
            complexity: "",
            tips: &[],
            key_flags: &[],
            arguments: &[],
            parse,
            subcommands: &[],
        }
    }

    pub const fn flags(self, flags: &'static [&'static str]) -> CommandSpec {
        CommandSpec { flags, ..self }
    }

    pub const fn keys(self, first_key: i32, last_key: i32, key_step: i32) -> CommandSpec {
        CommandSpec { first_key, last_key, key_step, ..self }
    }

    pub const fn categories(self, categories: &'static [&'static str]) -> CommandSpec {
        CommandSpec { categories, ..self }
    }

    pub const fn docs(
        self,
        group: &'static str,
        summary: &'static str,
        since: &'static str,
        complexity: &'static str,
    ) -> CommandSpec {
        CommandSpec { group, summary, since, complexity, ..self }
    }

    pub const fn tips(self, tips: &'static [&'static str]) -> CommandSpec {
        CommandSpec { tips, ..self }
    }

    pub const fn key_flags(self, key_flags: &'static [&'static str]) -> CommandSpec {
        CommandSpec { key_flags, ..self }
    }

    pub const fn arguments(self, arguments: &'static [Argument]) -> CommandSpec {
        CommandSpec { arguments, ..self }
    }

    pub const fn subcommands(self, subcommands: &'static [CommandSpec]) -> CommandSpec {
        CommandSpec { subcommands, ..self }
    }

    /// Whether the command carries a flag (`write`, `readonly`, `noscript`, ...).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// The type of a documented argument, as `COMMAND DOCS` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgumentKind {
    String,
    Integer,
    Double,
    /// A key; the number is the index of its key specification.
    Key(u32),
    Pattern,
    UnixTime,
    /// A keyword alone (`NOSAVE`); its `token` is the keyword.
    PureToken,
    /// Exactly one of the nested arguments.
    OneOf,
    /// The nested arguments, in order.
    Block,
}

impl ArgumentKind {
    /// The name `COMMAND DOCS` shows.
    pub fn name(self) -> &'static str {
        match self {
            ArgumentKind::String => "string",
            ArgumentKind::Integer => "integer",
            ArgumentKind::Double => "double",
            ArgumentKind::Key(_) => "key",
            ArgumentKind::Pattern => "pattern",
            ArgumentKind::UnixTime => "unix-time",
            ArgumentKind::PureToken => "pure-token",
            ArgumentKind::OneOf => "oneof",
            ArgumentKind::Block => "block",
        }
    }
}

/// One documented argument of a command, for `COMMAND DOCS`. Built with the `const` methods
/// below so that argument lists are plain statics next to the command table.
#[derive(Debug)]
pub struct Argument {
    pub name: &'static str,
    pub kind: ArgumentKind,
    /// The keyword that introduces the argument (`AUTH` in `HELLO 3 AUTH user pass`).
    pub token: Option<&'static str>,
    /// The Redis version that added the argument, when later than the command.
    pub since: Option<&'static str>,
    pub optional: bool,
    pub multiple: bool,
    /// Nested arguments of a `OneOf` or `Block`.
    pub arguments: &'static [Argument],
}

impl Argument {
    pub const fn new(name: &'static str, kind: ArgumentKind) -> Argument {
        Argument {
            name,
            kind,
            token: None,
            since: None,
            optional: false,
            multiple: false,
            arguments: &[],
        }
    }

    pub const fn string(name: &'static str) -> Argument {
        Argument::new(name, ArgumentKind::String)
    }

    pub const fn integer(name: &'static str) -> Argument {
        Argument::new(name, ArgumentKind::Integer)
    }

    /// A keyword alone, named after it in lowercase.
    pub const fn pure_token(name: &'static str, token: &'static str) -> Argument {
        Argument::new(name, ArgumentKind::PureToken).token(token)
    }

    pub const fn one_of(name: &'static str, arguments: &'static [Argument]) -> Argument {
        Argument { arguments, ..Argument::new(name, ArgumentKind::OneOf) }
    }

    pub const fn block(name: &'static str, arguments: &'static [Argument]) -> Argument {
        Argument { arguments, ..Argument::new(name, ArgumentKind::Block) }
    }

    pub const fn token(self, token: &'static str) -> Argument {
        Argument { token: Some(token), ..self }
    }

    pub const fn since(self, since: &'static str) -> Argument {
        Argument { since: Some(since), ..self }
    }

    pub const fn optional(self) -> Argument {
        Argument { optional: true, ..self }
    }

    pub const fn multiple(self) -> Argument {
        Argument { multiple: true, ..self }
    }
}

/// The longest command name Redis has is well under this; a longer name is simply unknown.
const NAME_BYTES_MAX: usize = 32;

static TABLE: LazyLock<HashMap<&'static [u8], &'static CommandSpec>> = LazyLock::new(|| {
    let families: [&'static [CommandSpec]; 12] = [
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
