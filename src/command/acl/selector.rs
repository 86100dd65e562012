//! A selector: one set of permissions of a user (commands, key patterns, channel patterns).
//!
//! A user has a root selector (the rules outside parentheses) and any number of further
//! selectors (`(...)`); a command is allowed when one selector allows all of it: the command
//! and every key and channel it names. The rules are Redis 7.0's (`ACLSetSelector` in acl.c)
//! and so is the description ACL LIST gives (`describe`): the fewest categories that fit,
//! then single commands, worked out from the command bits, not the rules as typed.
//!
//! Invariants:
//! - Commands are decided on Redis's whole table (`table`), by id; a container's rule applies
//!   to its subcommands too, as in Redis.
//! - `future_commands` is set only by `+@all` (`allcommands`) and cleared only by `-@all`: it
//!   is Redis's reserved bit, saying the description starts from `+@all`. It also admits
//!   Concord's own commands, which are not in Redis's table, as Redis admits module commands.
//! - `all_commands` (Redis's `SELECTOR_FLAG_ALLCOMMANDS`) is a shortcut that is cleared by any
//!   rule taking a command away, so it never allows more than the bits do.
//! - A description applied to a fresh selector gives the same bits back (checked, as Redis
//!   checks it, with an assertion kept in release builds).
//!
//! Caveat: Redis emits single-command rules in the order of its command hash table, which
//! changes between two runs of redis-server; Concord emits them in name order.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::table::{self, CommandId, CommandSet};
use super::RuleError;
use crate::command::{glob_match, AclCategories, KeySpecFlags};

/// A key pattern with the access it grants (`~p` both, `%R~p` read, `%W~p` write).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    /// The glob pattern.
    pub pattern: Bytes,
    /// Whether it grants reads.
    pub read: bool,
    /// Whether it grants writes.
    pub write: bool,
}

/// One set of permissions (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    commands: CommandSet,
    all_commands: bool,
    future_commands: bool,
    /// `+select|0`: first arguments allowed for a command whose bit is off, in rule order.
    first_arguments: BTreeMap<CommandId, Vec<Bytes>>,
    all_keys: bool,
    keys: Vec<KeyPattern>,
    all_channels: bool,
    channels: Vec<Bytes>,
}

/// What a command needs from a selector: its id in Redis's table (none for Concord's own
/// commands), whether it is exempt from command rules (`no_auth`), and its arguments.
#[derive(Clone, Copy, Debug)]
pub struct CommandAccess<'a> {
    /// The command's id in Redis's table, or `None` for a command Redis does not have.
    pub id: Option<CommandId>,
    /// Whether the command is flagged `no_auth` (AUTH, HELLO): no command rule applies.
    pub no_auth: bool,
    /// The request: the name, then the subcommand if any, then the arguments.
    pub arguments: &'a [Bytes],
}

impl Selector {
    /// The root selector of the `default` user: everything.
    pub fn everything() -> Selector {
        let mut selector = Selector::default();
        for rule in ["+@all", "~*", "&*"] {
            selector.apply(rule.as_bytes()).expect("the default user's rules are valid");
        }
        selector
    }

    /// Applies one rule (Redis's `ACLSetSelector`).
    pub fn apply(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_slice() {
            b"allkeys" | b"~*" => {
                self.all_keys = true;
                self.keys.clear();
            }
            b"resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            b"allchannels" | b"&*" => {
                self.all_channels = true;
                self.channels.clear();
            }
            b"resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            b"allcommands" | b"+@all" => {
                self.commands = CommandSet::full();
                self.all_commands = true;
                self.future_commands = true;
                self.first_arguments.clear();
            }
            b"nocommands" | b"-@all" => {
                self.commands = CommandSet::default();
                self.all_commands = false;
                self.future_commands = false;
                self.first_arguments.clear();
            }
            _ => return self.apply_pattern_or_command(rule),
        }
        Ok(())
    }

    fn apply_pattern_or_command(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        match rule {
            [b'~' | b'%', ..] => self.add_key_pattern(rule),
            [b'&', pattern @ ..] => self.add_channel_pattern(pattern),
            [b'+' | b'-', b'@', category @ ..] => {
                let category = std::str::from_utf8(category)
                    .ok()
                    .and_then(AclCategories::from_name)
                    .ok_or(RuleError::UnknownName)?;
                self.set_category(category, rule[0] == b'+');
                Ok(())
            }
            [b'+', name @ ..] => self.allow_command(name),
            [b'-', name @ ..] => {
                let id = table::lookup(name).ok_or(RuleError::UnknownName)?;
                self.change_command(id, false);
                Ok(())
            }
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key_pattern(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAllKeys);
        }
        let (read, write, pattern) = match rule {
            [b'~', pattern @ ..] => (true, true, pattern),
            [b'%', rest @ ..] => parse_access(rest)?,
            _ => return Err(RuleError::Syntax),
        };
        if pattern.contains(&b' ') {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|known| known.pattern == pattern) {
            Some(known) => {
                known.read |= read;
                known.write |= write;
            }
            None => {
                self.keys.push(KeyPattern { pattern: Bytes::copy_from_slice(pattern), read, write })
            }
        }
        Ok(())
    }

    fn add_channel_pattern(&mut self, pattern: &[u8]) -> Result<(), RuleError> {
        if self.all_channels {
            return Err(RuleError::ChannelAfterAllChannels);
        }
        if pattern.contains(&b' ') {
            return Err(RuleError::Syntax);
        }
        if !self.channels.iter().any(|known| known == pattern) {
            self.channels.push(Bytes::copy_from_slice(pattern));
        }
        Ok(())
    }

    /// `+name`, `+container|subcommand` or `+command|first-argument`.
    fn allow_command(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|byte| *byte == b'|') else {
            let id = table::lookup(name).ok_or(RuleError::UnknownName)?;
            self.change_command(id, true);
            return Ok(());
        };
        let (base, first_argument) = (&name[..bar], &name[bar + 1..]);
        let base_id = table::lookup(base).ok_or(RuleError::UnknownName)?;
        if table::command(base_id).parent.is_some() {
            return Err(RuleError::FirstArgumentOfSubcommand);
        }
        if first_argument.is_empty() {
            return Err(RuleError::Syntax);
        }
        if table::command(base_id).subcommands > 0 {
            let id = table::lookup(name).ok_or(RuleError::UnknownName)?;
            self.change_command(id, true);
            return Ok(());
        }
        let allowed = self.first_arguments.entry(base_id).or_default();
        if !allowed.iter().any(|known| known.eq_ignore_ascii_case(first_argument)) {
            allowed.push(Bytes::copy_from_slice(first_argument));
        }
        Ok(())
    }

    /// Redis's `ACLChangeSelectorPerm`: the command, its first arguments and its subcommands.
    fn change_command(&mut self, id: CommandId, allow: bool) {
        self.set_bit(id, allow);
        self.first_arguments.remove(&id);
        for sub in table::subcommands(id) {
            self.set_bit(sub, allow);
        }
    }

    fn set_bit(&mut self, id: CommandId, allow: bool) {
        self.commands.set(id, allow);
        if !allow {
            self.all_commands = false;
        }
    }

    /// `+@category` or `-@category`: a container in the category carries its subcommands,
    /// and each subcommand in it counts on its own too (Redis's recursion).
    fn set_category(&mut self, category: AclCategories, allow: bool) {
        for id in table::top_level() {
            if table::command(id).categories.contains(category) {
                self.change_command(id, allow);
            }
            for sub in table::subcommands(id) {
                if table::command(sub).categories.contains(category) {
                    self.change_command(sub, allow);
                }
            }
        }
    }

    /// How many commands of `category` this selector allows and denies.
    fn count_category(&self, category: AclCategories) -> (usize, usize) {
        let in_category =
            table::all().filter(|id| table::command(*id).categories.contains(category));
        in_category.fold((0, 0), |(on, off), id| {
            if self.commands.contains(id) {
                (on + 1, off)
            } else {
                (on, off + 1)
            }
        })
    }

    /// The rules that give this selector again, as ACL LIST shows them: keys, channels,
    /// commands.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.all_keys {
            out.extend_from_slice(b"~* ");
        } else {
            for pattern in &self.keys {
                out.extend_from_slice(&describe_key_pattern(pattern));
                out.push(b' ');
            }
        }
        if self.all_channels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for channel in &self.channels {
                out.push(b'&');
                out.extend_from_slice(channel);
                out.push(b' ');
            }
        }
        out.extend_from_slice(&self.describe_commands());
        out
    }

    /// The key patterns as ACL GETUSER lists them, space-separated.
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.all_keys {
            return b"~*".to_vec();
        }
        let patterns: Vec<Vec<u8>> = self.keys.iter().map(describe_key_pattern).collect();
        patterns.join(&b' ')
    }

    /// The channel patterns as ACL GETUSER lists them, space-separated.
    pub fn describe_channels(&self) -> Vec<u8> {
        if self.all_channels {
            return b"&*".to_vec();
        }
        let patterns: Vec<Vec<u8>> =
            self.channels.iter().map(|channel| [b"&", &channel[..]].concat()).collect();
        patterns.join(&b' ')
    }

    /// Redis's `ACLDescribeSelectorCommandRules`: `+@all` or `-@all`, then the best-fitting
    /// categories one at a time, then single commands and first arguments for what is left.
    pub fn describe_commands(&self) -> Vec<u8> {
        let additive = !self.future_commands;
        let mut rules: Vec<u8> = if additive { b"-@all ".to_vec() } else { b"+@all ".to_vec() };
        let mut fake = Selector::default();
        fake.apply(if additive { b"-@all" } else { b"+@all" }).expect("a valid rule");
        let mut temporary = self.clone();
        let mut applied = Vec::new();
        loop {
            let mut best: Option<(AclCategories, &str)> = None;
            let (mut fewest_differences, mut most_same) = (usize::MAX, 0);
            for (category, name) in AclCategories::each() {
                if applied.contains(&name) {
                    continue;
                }
                let (on, off) = temporary.count_category(category);
                let (differences, same) = if additive { (off, on) } else { (on, off) };
                let better = differences < fewest_differences
                    || (differences == fewest_differences && same > most_same);
                if same > differences && better {
                    best = Some((category, name));
                    fewest_differences = differences;
                    most_same = same;
                }
            }
            let Some((category, name)) = best else { break };
            fake.set_category(category, additive);
            temporary.set_category(category, !additive);
            rules.extend_from_slice(if additive { b"+@" } else { b"-@" });
            rules.extend_from_slice(name.as_bytes());
            rules.push(b' ');
            applied.push(name);
        }
        for id in table::top_level() {
            self.describe_single(id, &mut fake, &mut rules);
            for sub in table::subcommands(id) {
                self.describe_single(sub, &mut fake, &mut rules);
            }
        }
        rules.pop();
        assert_eq!(fake.commands, self.commands, "ACL description does not give the same bits");
        rules
    }

    fn describe_single(&self, id: CommandId, fake: &mut Selector, rules: &mut Vec<u8>) {
        let allowed = self.commands.contains(id);
        if allowed != fake.commands.contains(id) {
            rules.push(if allowed { b'+' } else { b'-' });
            rules.extend_from_slice(table::command(id).name.as_bytes());
            rules.push(b' ');
            fake.change_command(id, allowed);
        }
        if allowed {
            return;
        }
        for first_argument in self.first_arguments.get(&id).into_iter().flatten() {
            rules.push(b'+');
            rules.extend_from_slice(table::command(id).name.as_bytes());
            rules.push(b'|');
            rules.extend_from_slice(first_argument);
            rules.push(b' ');
        }
    }

    /// Whether the selector allows the command itself (Redis's first check in
    /// `ACLSelectorCheckCmd`), keys and channels aside.
    pub fn allows_command(&self, access: &CommandAccess) -> bool {
        if self.all_commands || access.no_auth {
            return true;
        }
        let Some(id) = access.id else {
            return self.future_commands;
        };
        if self.commands.contains(id) {
            return true;
        }
        let position = if table::command(id).parent.is_some() { 2 } else { 1 };
        let Some(first_argument) = access.arguments.get(position) else {
            return false;
        };
        self.first_arguments.get(&id).is_some_and(|allowed| {
            allowed.iter().any(|known| known.eq_ignore_ascii_case(first_argument))
        })
    }

    /// Whether the selector grants every access `flags` asks of `key` (Redis's
    /// `ACLSelectorCheckKey`: `access` needs read, `insert`, `delete` and `update` need write).
    pub fn allows_key(&self, key: &[u8], flags: KeySpecFlags) -> bool {
        if self.all_keys {
            return true;
        }
        let (read, write) = needed_access(flags);
        self.keys.iter().any(|pattern| {
            (pattern.read || !read)
                && (pattern.write || !write)
                && glob_match(&pattern.pattern, key, false)
        })
    }

    /// Whether the selector allows `channel`; a pattern (PSUBSCRIBE's) must equal one of the
    /// selector's patterns, a channel must match one.
    pub fn allows_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|pattern| {
                if is_pattern {
                    pattern == channel
                } else {
                    glob_match(pattern, channel, false)
                }
            })
    }

    /// Whether the selector allows every channel (ACL LOG and the killing of subscribers
    /// whose channels were taken away look at it).
    pub fn allows_all_channels(&self) -> bool {
        self.all_channels
    }

    /// The channel patterns, when not all channels.
    pub fn channel_patterns(&self) -> &[Bytes] {
        &self.channels
    }

    /// Whether the selector allows every command, present and future, with no exception.
    pub fn allows_every_command(&self) -> bool {
        self.all_commands
    }

    /// Whether the selector allows every key.
    pub fn allows_all_keys(&self) -> bool {
        self.all_keys
    }
}

/// The read and write access a key specification's flags ask for.
fn needed_access(flags: KeySpecFlags) -> (bool, bool) {
    let read = flags.contains(KeySpecFlags::ACCESS);
    let write = [KeySpecFlags::INSERT, KeySpecFlags::DELETE, KeySpecFlags::UPDATE]
        .into_iter()
        .any(|flag| flags.contains(flag));
    (read, write)
}

/// `R`, `W` (each at most once, at least one) then `~` and the pattern: what follows `%`.
fn parse_access(rest: &[u8]) -> Result<(bool, bool, &[u8]), RuleError> {
    let (mut read, mut write) = (false, false);
    for (offset, byte) in rest.iter().enumerate() {
        match byte.to_ascii_uppercase() {
            b'R' if !read => read = true,
            b'W' if !write => write = true,
            b'~' if read || write => return Ok((read, write, &rest[offset + 1..])),
            _ => return Err(RuleError::Syntax),
        }
    }
    // As Redis: the flags may run to the end, for an empty pattern.
    if read || write {
        Ok((read, write, &[]))
    } else {
        Err(RuleError::Syntax)
    }
}

fn describe_key_pattern(pattern: &KeyPattern) -> Vec<u8> {
    let prefix: &[u8] = match (pattern.read, pattern.write) {
        (true, true) => b"~",
        (true, false) => b"%R~",
        _ => b"%W~",
    };
    [prefix, &pattern.pattern[..]].concat()
}
