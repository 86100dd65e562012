//! ACL: users, their permissions, the permission check, and the `ACL ...` commands.
//!
//! Users are replicated state. `ACL SETUSER` and `ACL DELUSER` are [`AclWrite`]s: they go
//! through the log and apply changes the [`Users`] table on every member at the same index, so
//! every member enforces the same users, a new member gets them in the snapshot, and they
//! survive restarts. The other subcommands are [`AclControl`]s the connection answers from the
//! table as this node applied it.
//!
//! The pieces, each a child module:
//! - `table`: Redis 7.0's whole command table with its categories (generated), on which rules
//!   are decided, so that `+@string` or `-migrate` mean what they mean in Redis;
//! - `selector`: one set of permissions (commands, keys, channels), its rules and its
//!   description as ACL LIST prints it;
//! - `user`: a user (flags, password digests, selectors), the table of users, ACL SETUSER's
//!   atomic application of rules, and the check of a command against a user;
//! - `script`: the check of each command a script calls, inside the script's run, and how its
//!   denials reach the ACL LOG of the node whose client ran it.
//!
//! Invariants:
//! - A plaintext password never enters the log: the parser turns `>password` into
//!   `#sha256` and `<password` into `!sha256`; only the connection keeps the rules as typed,
//!   to name them in its own error (see [`AclWrite::SetUser`]).
//! - The check is a pure function of the user, the command's metadata and its arguments, so a
//!   member that applies a script's commands decides as the connection would.
//!
//! Deliberately absent: where users are stored and how a connection learns them (the state
//! machine and the server), and ACL LOG, which is each node's own (as each Redis has its own).

pub mod script;
pub mod selector;
pub mod table;
pub mod user;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use selector::{CommandAccess, Selector};
pub use user::{
    hash_password, ChannelUse, Denial, KeyUse, SetUserError, User, Users, DEFAULT_USER,
};

use super::{parse_i64, redis_metadata, Args, Command, CommandError, CommandSpec, Write};

/// Why one ACL rule could not be applied: Redis's `errno` values, with its texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    /// `ENOENT`: a command or category that does not exist.
    UnknownName,
    /// `EINVAL`: a rule that is not understood.
    Syntax,
    /// `EEXIST`: a key pattern after `allkeys`.
    KeyAfterAllKeys,
    /// `EISDIR`: a channel pattern after `allchannels`.
    ChannelAfterAllChannels,
    /// `ENODEV`: `<password` or `!hash` of a password the user does not have.
    NoSuchPassword,
    /// `EBADMSG`: a `#hash` or `!hash` that is not 64 lowercase hex digits.
    BadHash,
    /// `ECHILD`: `+container|subcommand|argument`.
    FirstArgumentOfSubcommand,
}

impl RuleError {
    /// Redis's text (`ACLSetUserStringError`).
    pub fn text(self) -> &'static str {
        match self {
            RuleError::UnknownName => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAllKeys => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and \
                 does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterAllChannels => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid \
                 and does not have any effect. Try 'resetchannels' to start with an empty list of \
                 channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase \
                 hexadecimal characters"
            }
            RuleError::FirstArgumentOfSubcommand => {
                "Allowing first-arg of a subcommand is not supported"
            }
        }
    }
}

/// The ACL commands that change users: log writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AclWrite {
    /// `ACL SETUSER name rule...`, with passwords already hashed.
    SetUser {
        /// The user, created if it does not exist.
        name: Bytes,
        /// The rules in order, `>p` and `<p` replaced by `#sha256(p)` and `!sha256(p)`.
        rules: Vec<Bytes>,
        /// The rules as the client typed them, for the connection's own check before
        /// proposing (its errors name the rule as typed). Never in the log.
        #[serde(skip)]
        typed: Vec<Bytes>,
    },
    /// `ACL DELUSER name...`: how many existed. Refused before the log if it names `default`.
    DelUser {
        /// The users to delete.
        names: Vec<Bytes>,
    },
    /// `CONFIG SET requirepass` (or `requirepass` at start-up): the `default` user's
    /// passwords become this one (`resetpass >password`), or none with `nopass` when empty.
    DefaultPassword {
        /// SHA-256 of the password; `None` for `nopass`.
        hash: Option<String>,
    },
}

/// The ACL commands the connection answers itself.
#[derive(Clone, Debug, PartialEq)]
pub enum AclControl {
    /// `ACL CAT [category]`.
    Cat {
        /// The category whose commands to list; every category's name when `None`.
        category: Option<Bytes>,
    },
    /// `ACL GENPASS [bits]`: that many random bits in hex, rounded up to whole digits.
    GenPass {
        /// 1 to 4096.
        bits: u32,
    },
    /// `ACL GETUSER name`.
    GetUser {
        /// The user.
        name: Bytes,
    },
    /// `ACL LIST`.
    List,
    /// `ACL USERS`.
    Users,
    /// `ACL WHOAMI`.
    WhoAmI,
    /// `ACL LOG [count | RESET]`.
    Log(LogRequest),
    /// `ACL DRYRUN user command [arg...]`.
    DryRun {
        /// The user whose permissions decide.
        user: Bytes,
        /// The command as it would be sent.
        request: Vec<Bytes>,
    },
    /// `ACL SAVE` and `ACL LOAD`: refused, there is no ACL file (see docs/configuration.md).
    File,
    /// `ACL HELP`.
    Help,
}

/// What `ACL LOG` asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogRequest {
    /// The newest entries, at most this many (10 by default; a negative count means all).
    Newest(usize),
    /// `RESET`: empty the log.
    Reset,
}

/// Redis's answer to ACL SAVE and ACL LOAD on a server without `aclfile`.
pub const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You \
     may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE \
     (assuming you have a Redis configuration file set) in order to store users in the Redis \
     configuration.";

/// `ACL HELP`, Redis 7.0's text.
pub const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

/// The ACL container and its subcommands.
pub static COMMANDS: &[CommandSpec] =
    &[CommandSpec::new(&redis_metadata::ACL, no_subcommand).subcommands(SUBCOMMANDS)];

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::ACL_CAT, parse_cat),
    CommandSpec::new(&redis_metadata::ACL_DELUSER, parse_deluser),
    CommandSpec::new(&redis_metadata::ACL_DRYRUN, parse_dryrun),
    CommandSpec::new(&redis_metadata::ACL_GENPASS, parse_genpass),
    CommandSpec::new(&redis_metadata::ACL_GETUSER, parse_getuser),
    CommandSpec::new(&redis_metadata::ACL_HELP, |_| control(AclControl::Help)),
    CommandSpec::new(&redis_metadata::ACL_LIST, |_| control(AclControl::List)),
    CommandSpec::new(&redis_metadata::ACL_LOAD, |_| control(AclControl::File)),
    CommandSpec::new(&redis_metadata::ACL_LOG, parse_log),
    CommandSpec::new(&redis_metadata::ACL_SAVE, |_| control(AclControl::File)),
    CommandSpec::new(&redis_metadata::ACL_SETUSER, parse_setuser),
    CommandSpec::new(&redis_metadata::ACL_USERS, |_| control(AclControl::Users)),
    CommandSpec::new(&redis_metadata::ACL_WHOAMI, |_| control(AclControl::WhoAmI)),
];

/// The container alone is caught by its arity (-2) before this could run.
fn no_subcommand(_args: &mut Args) -> Result<Command, CommandError> {
    Err(CommandError::WrongArity("acl".into()))
}

fn control(command: AclControl) -> Result<Command, CommandError> {
    Ok(Command::Control(command.into()))
}

fn parse_cat(args: &mut Args) -> Result<Command, CommandError> {
    match args.rest().as_slice() {
        [] => control(AclControl::Cat { category: None }),
        [category] => control(AclControl::Cat { category: Some(category.clone()) }),
        _ => Err(CommandError::SubcommandMisused { command: "acl", subcommand: None }),
    }
}

fn parse_genpass(args: &mut Args) -> Result<Command, CommandError> {
    let bits = match args.rest().as_slice() {
        [] => 256,
        [bits] => parse_i64(bits).ok_or(CommandError::NotInteger)?,
        _ => return Err(CommandError::SubcommandMisused { command: "acl", subcommand: None }),
    };
    if !(1..=4096).contains(&bits) {
        return Err(CommandError::other(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a \
             positive number up to 4096",
        ));
    }
    control(AclControl::GenPass { bits: bits as u32 })
}

fn parse_getuser(args: &mut Args) -> Result<Command, CommandError> {
    control(AclControl::GetUser { name: args.next_bytes()? })
}

fn parse_log(args: &mut Args) -> Result<Command, CommandError> {
    let request = match args.rest().as_slice() {
        [] => LogRequest::Newest(10),
        [word] if word.eq_ignore_ascii_case(b"reset") => LogRequest::Reset,
        [count] => {
            let count = parse_i64(count).ok_or(CommandError::NotInteger)?;
            LogRequest::Newest(usize::try_from(count).unwrap_or(usize::MAX))
        }
        _ => return Err(CommandError::SubcommandMisused { command: "acl", subcommand: None }),
    };
    control(AclControl::Log(request))
}

fn parse_dryrun(args: &mut Args) -> Result<Command, CommandError> {
    let user = args.next_bytes()?;
    control(AclControl::DryRun { user, request: args.rest() })
}

/// Usernames may not hold spaces or NUL bytes, as in Redis.
fn parse_setuser(args: &mut Args) -> Result<Command, CommandError> {
    let name = args.next_bytes()?;
    if name.iter().any(|byte| matches!(byte, b' ' | b'\0')) {
        return Err(CommandError::other("ERR Usernames can't contain spaces or null characters"));
    }
    let typed = args.rest();
    let rules = typed.iter().map(hash_typed_password).collect();
    Ok(Command::Write(Write::Acl(AclWrite::SetUser { name, rules, typed })))
}

fn parse_deluser(args: &mut Args) -> Result<Command, CommandError> {
    let names = args.rest();
    if names.iter().any(|name| name.as_ref() == DEFAULT_USER) {
        return Err(CommandError::other("ERR The 'default' user cannot be removed"));
    }
    Ok(Command::Write(Write::Acl(AclWrite::DelUser { names })))
}

/// `>password` becomes `#sha256`, `<password` becomes `!sha256`; other rules are unchanged.
/// A selector cannot hold a password rule (its rules are only selector rules), so only whole
/// arguments are looked at.
fn hash_typed_password(rule: &Bytes) -> Bytes {
    match rule.first() {
        Some(b'>') => Bytes::from(format!("#{}", hash_password(&rule[1..]))),
        Some(b'<') => Bytes::from(format!("!{}", hash_password(&rule[1..]))),
        _ => rule.clone(),
    }
}

/// Applies an [`AclWrite`] to the table and returns its reply: what apply runs on every
/// member, deterministically.
pub fn apply(users: &mut Users, write: &AclWrite) -> Result<i64, String> {
    match write {
        AclWrite::SetUser { name, rules, .. } => {
            users.set_user(name, rules).map_err(|error| error.message())?;
            Ok(0)
        }
        AclWrite::DelUser { names } => {
            if names.iter().any(|name| name.as_ref() == DEFAULT_USER) {
                return Err("ERR The 'default' user cannot be removed".into());
            }
            Ok(users.delete_users(names) as i64)
        }
        AclWrite::DefaultPassword { hash } => {
            let mut rules = vec![Bytes::from_static(b"resetpass")];
            rules.push(match hash {
                Some(hash) => Bytes::from(format!("#{hash}")),
                None => Bytes::from_static(b"nopass"),
            });
            let name = Bytes::from_static(DEFAULT_USER);
            users.set_user(&name, &rules).map_err(|error| error.message())?;
            Ok(0)
        }
    }
}

/// Whether `user` may run `request` (its name, subcommand and arguments, which fit the
/// command's arity), as Redis's `ACLCheckAllUserCommandPerm` decides: the command by its id in
/// Redis's table, its keys by its key specifications (read or write access), its channels for
/// PUBLISH and the subscriptions.
pub fn check(user: &User, spec: &CommandSpec, request: &[Bytes]) -> Result<(), Denial> {
    if user.is_unrestricted() {
        return Ok(());
    }
    let access = CommandAccess {
        id: table::lookup(spec.name.as_bytes()),
        no_auth: spec.has_flag(super::CommandFlags::NO_AUTH),
        arguments: request,
    };
    let positions = if super::key_extraction::has_keys(spec.meta) {
        super::key_extraction::command_keys(spec.meta, request)
    } else {
        Vec::new()
    };
    let keys: Vec<KeyUse> = positions
        .iter()
        .filter_map(|position| {
            let key = request.get(position.position)?;
            Some(KeyUse { key, position: position.position, flags: position.flags })
        })
        .collect();
    let channels = channels_of(spec.name, request);
    user.check(&access, &keys, &channels)
}

/// The channels a command names for publishing or subscribing (Redis's
/// `getChannelsFromCommand`, for the flags ACL checks).
fn channels_of<'a>(name: &str, request: &'a [Bytes]) -> Vec<ChannelUse<'a>> {
    let (first, is_pattern, only_one) = match name {
        "publish" | "spublish" => (1, false, true),
        "subscribe" | "ssubscribe" => (1, false, false),
        "psubscribe" => (1, true, false),
        _ => return Vec::new(),
    };
    let last = if only_one { first + 1 } else { request.len() };
    (first..last.min(request.len()))
        .map(|position| ChannelUse { channel: &request[position], position, is_pattern })
        .collect()
}

/// Redis's NOPERM text for a denial, as a command's reply.
pub fn denial_error(denial: Denial, command_name: &str) -> String {
    match denial {
        Denial::Command => {
            format!("NOPERM this user has no permissions to run the '{command_name}' command")
        }
        Denial::Key(_) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denial::Channel(_) => "NOPERM this user has no permissions to access one of the channels \
                               used as arguments"
            .into(),
    }
}

#[cfg(test)]
mod tests;
