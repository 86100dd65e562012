//! A user and the table of users: flags, password hashes, selectors, and Redis 7.0's rules
//! for changing them (`ACLSetUser` in acl.c).
//!
//! The table is replicated state: it changes only when apply runs an [`AclWrite`](super::AclWrite)
//! from the log, so every member holds the same users at the same log index, and it is carried
//! by snapshots as each user's description (the rules ACL LIST prints), which re-applied to a
//! fresh user gives the same user back (docs/format.md).
//!
//! Invariants:
//! - The `default` user always exists; it cannot be deleted.
//! - Passwords are kept only as SHA-256 hex digests, in the order they were added, each once.
//! - A user has exactly one root selector; `selectors` are the ones in parentheses, in order.
//! - Users are listed in byte order of their names (Redis keeps them in a radix tree).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::selector::{CommandAccess, Selector};
use super::RuleError;

/// The name of the user every connection starts as.
pub const DEFAULT_USER: &[u8] = b"default";

/// Redis's `sanitize-payload` flags: neither, or the one set last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PayloadSanitizing {
    /// Neither flag was given.
    #[default]
    Unset,
    /// `skip-sanitize-payload`.
    Skip,
    /// `sanitize-payload`.
    Sanitize,
}

/// One user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    name: Bytes,
    enabled: bool,
    no_password: bool,
    payload: PayloadSanitizing,
    /// SHA-256 digests in lowercase hex.
    passwords: Vec<String>,
    root: Selector,
    selectors: Vec<Selector>,
}

/// Why a command was denied: Redis's `ACL_DENIED_*`, in its order of relevance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denial {
    /// The command itself.
    Command,
    /// A key, at this argument position.
    Key(usize),
    /// A channel, at this argument position.
    Channel(usize),
}

impl User {
    /// A new user as `ACL SETUSER` creates it: off, no passwords, nothing allowed.
    pub fn new(name: Bytes) -> User {
        User {
            name,
            enabled: false,
            no_password: false,
            payload: PayloadSanitizing::Unset,
            passwords: Vec::new(),
            root: Selector::default(),
            selectors: Vec::new(),
        }
    }

    /// The `default` user of a fresh node: on, no password, everything.
    pub fn default_user() -> User {
        User {
            enabled: true,
            no_password: true,
            root: Selector::everything(),
            ..User::new(Bytes::from_static(DEFAULT_USER))
        }
    }

    /// The user's name.
    pub fn name(&self) -> &Bytes {
        &self.name
    }

    /// Whether the user may authenticate (`on`).
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Whether any password authenticates the user (`nopass`).
    pub fn needs_no_password(&self) -> bool {
        self.no_password
    }

    /// Whether a connection of this user starts authenticated (Redis: the default user when it
    /// is `on` and `nopass`).
    pub fn admits_without_password(&self) -> bool {
        self.enabled && self.no_password
    }

    /// The password digests, as ACL GETUSER lists them.
    pub fn password_hashes(&self) -> &[String] {
        &self.passwords
    }

    /// The root selector.
    pub fn root(&self) -> &Selector {
        &self.root
    }

    /// The selectors in parentheses.
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// Whether the user may run everything: every command, present and future, on every key
    /// and channel (the `default` user of a fresh node). Such a user's check is one comparison.
    pub fn is_unrestricted(&self) -> bool {
        self.selectors.is_empty()
            && self.root.allows_every_command()
            && self.root.allows_all_keys()
            && self.root.allows_all_channels()
    }

    /// The flags ACL GETUSER lists, in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.no_password {
            flags.push("nopass");
        }
        match self.payload {
            PayloadSanitizing::Unset => {}
            PayloadSanitizing::Skip => flags.push("skip-sanitize-payload"),
            PayloadSanitizing::Sanitize => flags.push("sanitize-payload"),
        }
        flags
    }

    /// Whether `password` authenticates this user (Redis's `ACLCheckUserCredentials`); the
    /// comparison takes the same time wherever the digests differ.
    pub fn password_matches(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.no_password {
            return true;
        }
        let hashed = hash_password(password);
        self.passwords.iter().any(|known| same_text(known.as_bytes(), hashed.as_bytes()))
    }

    /// Applies one rule (Redis's `ACLSetUser`). Selectors in parentheses arrive whole.
    pub fn apply(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        if rule.is_empty() {
            return Ok(());
        }
        match rule.to_ascii_lowercase().as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => self.payload = PayloadSanitizing::Skip,
            b"sanitize-payload" => self.payload = PayloadSanitizing::Sanitize,
            b"nopass" => {
                self.no_password = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.no_password = false;
                self.passwords.clear();
            }
            b"clearselectors" => self.selectors.clear(),
            b"reset" => self.reset(),
            _ => return self.apply_other(rule),
        }
        Ok(())
    }

    fn apply_other(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        match rule {
            [b'>', password @ ..] => self.add_password(hash_password(password)),
            [b'#', hash @ ..] => self.add_password(checked_hash(hash)?),
            [b'<', password @ ..] => self.remove_password(&hash_password(password))?,
            [b'!', hash @ ..] => self.remove_password(&checked_hash(hash)?)?,
            [b'(', inner @ .., b')'] => {
                let mut selector = Selector::default();
                for part in inner.split(|byte| *byte == b' ').filter(|part| !part.is_empty()) {
                    selector.apply(part)?;
                }
                self.selectors.push(selector);
            }
            _ => self.root.apply(rule)?,
        }
        Ok(())
    }

    fn add_password(&mut self, hash: String) {
        if !self.passwords.contains(&hash) {
            self.passwords.push(hash);
        }
        self.no_password = false;
    }

    fn remove_password(&mut self, hash: &str) -> Result<(), RuleError> {
        let position = self.passwords.iter().position(|known| known == hash);
        let position = position.ok_or(RuleError::NoSuchPassword)?;
        self.passwords.remove(position);
        Ok(())
    }

    /// `reset`: as the user was just created (with Redis 7.0's `acl-pubsub-default
    /// resetchannels`), plus `sanitize-payload`.
    fn reset(&mut self) {
        self.no_password = false;
        self.passwords.clear();
        self.enabled = false;
        self.payload = PayloadSanitizing::Sanitize;
        self.selectors.clear();
        self.root = Selector::default();
    }

    /// The user as ACL LIST shows it, without the leading `user <name> `.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for flag in self.flags() {
            out.extend_from_slice(flag.as_bytes());
            out.push(b' ');
        }
        for hash in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(hash.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&self.root.describe());
        for selector in &self.selectors {
            out.extend_from_slice(b" (");
            out.extend_from_slice(&selector.describe());
            out.push(b')');
        }
        out
    }

    /// Redis's `ACLCheckAllUserCommandPerm`: allowed when one selector allows the command and
    /// all its keys and channels; otherwise the most relevant denial over all selectors (a
    /// channel over a key over the command, a later position over an earlier one).
    pub fn check(
        &self,
        access: &CommandAccess,
        keys: &[KeyUse],
        channels: &[ChannelUse],
    ) -> Result<(), Denial> {
        let mut relevant = Denial::Command;
        for selector in std::iter::once(&self.root).chain(&self.selectors) {
            match check_selector(selector, access, keys, channels) {
                Ok(()) => return Ok(()),
                Err(denial) => relevant = relevant.max(denial),
            }
        }
        Err(relevant)
    }
}

/// A key a command uses: its position and how (from its key specification).
#[derive(Clone, Copy, Debug)]
pub struct KeyUse<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Its argument position.
    pub position: usize,
    /// How the command uses it.
    pub flags: crate::command::KeySpecFlags,
}

/// A channel a command names: its position and whether it is a pattern (PSUBSCRIBE).
#[derive(Clone, Copy, Debug)]
pub struct ChannelUse<'a> {
    /// The channel or pattern.
    pub channel: &'a [u8],
    /// Its argument position.
    pub position: usize,
    /// Whether it is a pattern, matched literally against the user's patterns.
    pub is_pattern: bool,
}

fn check_selector(
    selector: &Selector,
    access: &CommandAccess,
    keys: &[KeyUse],
    channels: &[ChannelUse],
) -> Result<(), Denial> {
    if !selector.allows_command(access) {
        return Err(Denial::Command);
    }
    if let Some(key) = keys.iter().find(|key| !selector.allows_key(key.key, key.flags)) {
        return Err(Denial::Key(key.position));
    }
    if let Some(channel) = channels
        .iter()
        .find(|channel| !selector.allows_channel(channel.channel, channel.is_pattern))
    {
        return Err(Denial::Channel(channel.position));
    }
    Ok(())
}

/// SHA-256 of `password`, in lowercase hex, as Redis stores passwords.
pub fn hash_password(password: &[u8]) -> String {
    let digest = Sha256::digest(password);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A `#hash` or `!hash` must be 64 lowercase hex digits.
fn checked_hash(hash: &[u8]) -> Result<String, RuleError> {
    let valid =
        hash.len() == 64 && hash.iter().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8(hash.to_vec()).expect("hex digits are ASCII"))
}

/// Compares two texts in time that does not depend on where they differ.
fn same_text(left: &[u8], right: &[u8]) -> bool {
    let mut difference = left.len() ^ right.len();
    for (index, byte) in left.iter().enumerate() {
        difference |= usize::from(byte ^ right.get(index).copied().unwrap_or(0));
    }
    difference == 0
}

/// Every user, by name: replicated state (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Users {
    users: BTreeMap<Bytes, Arc<User>>,
}

impl Default for Users {
    /// A fresh node's table: only `default`, with every permission and no password.
    fn default() -> Users {
        let default = User::default_user();
        Users { users: BTreeMap::from([(default.name.clone(), Arc::new(default))]) }
    }
}

impl Users {
    /// The user named `name`.
    pub fn get(&self, name: &[u8]) -> Option<&Arc<User>> {
        self.users.get(name)
    }

    /// The `default` user.
    pub fn default_user(&self) -> &Arc<User> {
        self.users.get(DEFAULT_USER).expect("the default user always exists")
    }

    /// Every user, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<User>> {
        self.users.values()
    }

    /// `ACL SETUSER name rules...`: all the rules or none (Redis applies them to a copy).
    /// Selectors spread over several rules are joined first, as Redis does.
    pub fn set_user(&mut self, name: &Bytes, rules: &[Bytes]) -> Result<(), SetUserError> {
        let rules = merge_selector_arguments(rules)?;
        let mut user = match self.users.get(name) {
            Some(user) => User::clone(user),
            None => User::new(name.clone()),
        };
        for rule in &rules {
            user.apply(rule).map_err(|error| SetUserError::Rule { rule: rule.clone(), error })?;
        }
        self.users.insert(name.clone(), Arc::new(user));
        Ok(())
    }

    /// `ACL DELUSER`: how many of `names` existed; `default` cannot be removed (checked by the
    /// caller before, so that nothing is deleted when it is named).
    pub fn delete_users(&mut self, names: &[Bytes]) -> usize {
        names
            .iter()
            .filter(|name| name.as_ref() != DEFAULT_USER)
            .filter(|name| self.users.remove(*name).is_some())
            .count()
    }

    /// Each user's name and description, for a snapshot (docs/format.md).
    pub fn to_descriptions(&self) -> Vec<(Bytes, Bytes)> {
        self.iter().map(|user| (user.name.clone(), Bytes::from(user.describe()))).collect()
    }

    /// The table a snapshot's descriptions give back.
    pub fn from_descriptions(descriptions: &[(Bytes, Bytes)]) -> Result<Users, SetUserError> {
        let mut users = Users::default();
        for (name, description) in descriptions {
            // Each user is made afresh, the default one too (it is replaced, not changed).
            users.users.insert(name.clone(), Arc::new(User::new(name.clone())));
            let rules: Vec<Bytes> = description
                .split(|byte| *byte == b' ')
                .filter(|rule| !rule.is_empty())
                .map(Bytes::copy_from_slice)
                .collect();
            users.set_user(name, &rules)?;
        }
        Ok(users)
    }
}

/// Why ACL SETUSER failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetUserError {
    /// A `(` without its `)`: the argument where it began.
    UnmatchedParenthesis(Bytes),
    /// A rule that could not be applied.
    Rule {
        /// The rule as given.
        rule: Bytes,
        /// Why.
        error: RuleError,
    },
}

impl SetUserError {
    /// Redis's error text.
    pub fn message(&self) -> String {
        match self {
            SetUserError::UnmatchedParenthesis(start) => format!(
                "ERR Unmatched parenthesis in acl selector starting at '{}'.",
                String::from_utf8_lossy(start)
            ),
            SetUserError::Rule { rule, error } => format!(
                "ERR Error in ACL SETUSER modifier '{}': {}",
                String::from_utf8_lossy(rule),
                error.text()
            ),
        }
    }
}

/// Redis's `ACLMergeSelectorArguments`: an argument that opens a parenthesis without closing
/// it is joined, with spaces, to the following ones up to the one that closes it.
pub fn merge_selector_arguments(rules: &[Bytes]) -> Result<Vec<Bytes>, SetUserError> {
    let mut merged = Vec::with_capacity(rules.len());
    let mut open: Option<(Bytes, Vec<u8>)> = None;
    for rule in rules {
        if let Some((start, selector)) = open.as_mut() {
            selector.push(b' ');
            selector.extend_from_slice(rule);
            if rule.last() == Some(&b')') {
                merged.push(Bytes::from(std::mem::take(selector)));
                let _ = start;
                open = None;
            }
            continue;
        }
        if rule.first() == Some(&b'(') && rule.last() != Some(&b')') {
            open = Some((rule.clone(), rule.to_vec()));
            continue;
        }
        merged.push(rule.clone());
    }
    match open {
        Some((start, _)) => Err(SetUserError::UnmatchedParenthesis(start)),
        None => Ok(merged),
    }
}
