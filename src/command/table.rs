//! The command table: one [`CommandSpec`] per command, gathered from the families.
//!
//! The table is the single source of truth for a command's name, arity, flags and key
//! positions. `COMMAND INFO` and `COMMAND DOCS` report it, the parser checks arity with it,
//! and the server reads `flags` to decide, for example, which commands a subscribed RESP2
//! connection may still send.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::{control, keys, strings, Args, Command, CommandError};

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

    pub const fn subcommands(self, subcommands: &'static [CommandSpec]) -> CommandSpec {
        CommandSpec { subcommands, ..self }
    }

    /// Whether the command carries a flag (`write`, `readonly`, `noscript`, ...).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// The longest command name Redis has is well under this; a longer name is simply unknown.
const NAME_BYTES_MAX: usize = 32;

static TABLE: LazyLock<HashMap<&'static [u8], &'static CommandSpec>> = LazyLock::new(|| {
    let families: [&'static [CommandSpec]; 3] =
        [control::COMMANDS, keys::COMMANDS, strings::COMMANDS];
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
