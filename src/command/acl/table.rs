//! Redis 7.0's whole command table as ACL rules see it: names, subcommands and categories.
//!
//! Rules name commands Concord may not implement (`-migrate`), and ACL LIST describes a
//! selector by counting, per category, the commands of Redis's table it allows. So this table
//! is Redis's, generated into `redis_commands.rs` by `scripts/gen-acl-commands.py`, not
//! Concord's own command table. A command's id is its position in it, which is also its bit
//! in a selector's [`CommandSet`].
//!
//! Concord's own commands (`CONCORD.*`) are not in Redis's table: like Redis's module
//! commands, a selector allows them only when it was built from `+@all` (see `selector`).

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::command::AclCategories;
use redis_commands::COMMANDS;

#[rustfmt::skip]
mod redis_commands;

/// One command or subcommand of Redis's table.
#[derive(Debug)]
pub struct RedisCommand {
    /// Lowercase; a subcommand's is `container|subcommand`.
    pub name: &'static str,
    /// The container's id, for a subcommand.
    pub parent: Option<u16>,
    /// How many subcommands follow this entry in the table.
    pub subcommands: u16,
    /// The ACL categories COMMAND INFO lists for it.
    pub categories: AclCategories,
}

/// A command's position in Redis's table.
pub type CommandId = u16;

/// Words of a [`CommandSet`]: room for every command of the table (a test checks it).
const WORDS: usize = 6;

/// A set of commands by id: one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommandSet([u64; WORDS]);

impl CommandSet {
    /// Every command of the table.
    pub fn full() -> CommandSet {
        let mut set = CommandSet::default();
        for id in 0..COMMANDS.len() {
            set.set(id as CommandId, true);
        }
        set
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: CommandId) -> bool {
        self.0[usize::from(id) / 64] & (1 << (id % 64)) != 0
    }

    /// Puts `id` in the set or takes it out.
    pub fn set(&mut self, id: CommandId, value: bool) {
        let word = &mut self.0[usize::from(id) / 64];
        if value {
            *word |= 1 << (id % 64);
        } else {
            *word &= !(1 << (id % 64));
        }
    }
}

static BY_NAME: LazyLock<HashMap<&'static str, CommandId>> = LazyLock::new(|| {
    assert!(COMMANDS.len() <= WORDS * 64, "CommandSet must have a bit for every command");
    COMMANDS.iter().enumerate().map(|(id, command)| (command.name, id as CommandId)).collect()
});

/// The command named `name` (`get`, `client|list`), in any case: Redis's `ACLLookupCommand`.
pub fn lookup(name: &[u8]) -> Option<CommandId> {
    let name = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
    BY_NAME.get(name.as_str()).copied()
}

/// The command with this id.
pub fn command(id: CommandId) -> &'static RedisCommand {
    &COMMANDS[usize::from(id)]
}

/// The ids of a command's subcommands (empty for a command without).
pub fn subcommands(id: CommandId) -> impl Iterator<Item = CommandId> {
    let count = command(id).subcommands;
    (id + 1..id + 1 + count).map(|id| id as CommandId)
}

/// The ids of the top-level commands, in table order (subcommands are reached through them).
pub fn top_level() -> impl Iterator<Item = CommandId> {
    (0..COMMANDS.len() as CommandId).filter(|id| command(*id).parent.is_none())
}

/// Every id, commands and subcommands.
pub fn all() -> impl Iterator<Item = CommandId> {
    0..COMMANDS.len() as CommandId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_bit_and_subcommands_follow_their_container() {
        assert!(COMMANDS.len() <= WORDS * 64);
        for id in top_level() {
            for sub in subcommands(id) {
                assert_eq!(command(sub).parent, Some(id), "{}", command(sub).name);
                assert!(command(sub).name.starts_with(&format!("{}|", command(id).name)));
            }
        }
        assert_eq!(lookup(b"CLIENT|List").map(|id| command(id).name), Some("client|list"));
        assert_eq!(lookup(b"get|x"), None);
    }
}
