//! The control family: commands about the connection or the node rather than the keyspace.
//! The server executes them; none of them enters the log.
//!
//! This file holds the connection commands (PING, HELLO, AUTH, SELECT, RESET, ...) and the
//! server commands without subcommands (TIME, LASTSAVE, SHUTDOWN, INFO, MONITOR, ROLE, WAIT). The container
//! commands live in submodules: `client` (CLIENT ...), `introspection` (CONFIG ... and
//! COMMAND ...) and `slowlog` (SLOWLOG ...). Their metadata is Redis 7.0's, generated (see `command::metadata`).

mod client;
pub mod cluster;
mod introspection;
mod slowlog;

pub use client::{
    ClientCommand, ClientFilter, ClientKill, ClientType, LibraryAttribute, PauseMode, ReplyMode,
    UnblockReason, UNBLOCKED,
};
pub use introspection::{CommandListFilter, ConfigCommand, IntrospectionCommand};
pub use slowlog::SlowLogCommand;

use bytes::Bytes;

use super::{is_keyword, parse_i64, Args, Command, CommandError, CommandSpec, DbIndex, DATABASES};
use crate::command::redis_metadata;

/// A command about the connection or the node, executed by the server; it never enters the log.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    /// `PING [message]`.
    Ping {
        /// The message to echo back; `None` replies `PONG`.
        message: Option<Bytes>,
    },
    /// `ECHO message`.
    Echo {
        /// The bytes to reply with.
        message: Bytes,
    },
    /// `SELECT index`.
    Select {
        /// The database the connection uses from now on, checked to be below `DATABASES`.
        db: DbIndex,
    },
    /// `QUIT`: reply `OK` and close the connection; its arguments are ignored.
    Quit,
    /// `HELLO [protover [AUTH username password] [SETNAME name]]`.
    Hello(Hello),
    /// `AUTH [username] password`.
    Auth {
        /// The user to log in as; `None` for the one-argument form, which means `default`.
        username: Option<Bytes>,
        /// The password to check.
        password: Bytes,
    },
    /// `RESET`: the connection back to its state at connect: database 0, RESP2, no MULTI or
    /// watches, no subscriptions, no name, and logged out if a password is required.
    Reset,
    /// `TIME`: the node's clock, as seconds and microseconds.
    Time,
    /// `LASTSAVE`: the Unix time in seconds of the last snapshot.
    LastSave,
    /// `SAVE`: a snapshot, now, before the reply.
    Save,
    /// `BGSAVE [SCHEDULE]`: a snapshot in the background.
    BgSave {
        /// `SCHEDULE`: while a snapshot is running, schedule one rather than refuse.
        schedule: bool,
    },
    /// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`.
    Shutdown(Shutdown),
    /// `MONITOR`: this connection receives every command the node's clients run, from now on
    /// (see `server::monitor`).
    Monitor,
    /// `ROLE`: this node's replication role, as Redis names it (see `server::replication`).
    Role,
    /// `WAIT numreplicas timeout`.
    Wait(Wait),
    /// `INFO [section ...]`, sections lowercased.
    Info {
        /// The section names in argument order, lowercased; empty for the default sections.
        sections: Vec<String>,
    },
    /// `CLIENT ...`: the connection and the node's other connections.
    Client(ClientCommand),
    /// `CONFIG ...`: the node's configuration.
    Config(ConfigCommand),
    /// `COMMAND ...`: the command table.
    Command(IntrospectionCommand),
    /// `ACL ...` but SETUSER and DELUSER, which are writes (see `acl`).
    Acl(super::acl::AclControl),
    /// `SLOWLOG ...`: the node's log of slow commands.
    SlowLog(SlowLogCommand),
    /// MULTI, EXEC, DISCARD, WATCH and UNWATCH (see `transactions`).
    Transaction(super::transactions::TransactionCommand),
    /// SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE and PUBSUB (see `pubsub`).
    PubSub(super::pubsub::PubSubCommand),
    /// `CONCORD.*`: cluster status and membership (see `cluster`).
    Cluster(cluster::ClusterAdmin),
    /// SCRIPT KILL and SCRIPT HELP (see `scripting`).
    Script(super::scripting::ScriptControl),
}

/// A scripting command the connection answers is a control command (so that `scripting`,
/// which parses it, need not know this module).
impl From<super::scripting::ScriptControl> for Control {
    fn from(command: super::scripting::ScriptControl) -> Control {
        Control::Script(command)
    }
}

/// An ACL command the connection answers is a control command (so that `acl`, which parses
/// it, need not know this module).
impl From<super::acl::AclControl> for Control {
    fn from(command: super::acl::AclControl) -> Control {
        Control::Acl(command)
    }
}

/// A subscription command is a control command (so that `pubsub`, which parses it, need not
/// know this module).
impl From<super::pubsub::PubSubCommand> for Command {
    fn from(command: super::pubsub::PubSubCommand) -> Command {
        Command::Control(Control::PubSub(command))
    }
}

/// A transaction command is a control command (so that `transactions`, which parses it, need
/// not know this module).
impl From<super::transactions::TransactionCommand> for Command {
    fn from(command: super::transactions::TransactionCommand) -> Command {
        Command::Control(Control::Transaction(command))
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME name]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Hello {
    /// 2 or 3; absent to keep the connection's protocol.
    pub protocol: Option<u8>,
    /// `AUTH username password`: log in before anything else; `None` when absent.
    pub auth: Option<(Bytes, Bytes)>,
    /// `SETNAME name`: the connection's name; `None` when absent.
    pub name: Option<Bytes>,
}

/// `WAIT numreplicas timeout`: until `replicas` other members hold every write this
/// connection was answered for, or the timeout; replies how many do. Every acknowledged
/// write is on a majority already, so on a healthy cluster a WAIT for fewer than a majority
/// answers at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Wait {
    /// How many other members to wait for; zero or less answers at once.
    pub replicas: i64,
    /// How long to wait at most, `None` for as long as it takes (Redis's timeout 0).
    pub timeout: Option<std::time::Duration>,
}

impl Wait {
    /// The same count, answered at once: WAIT inside a transaction does not block, in Redis.
    pub fn at_once(self) -> Wait {
        Wait { timeout: Some(std::time::Duration::ZERO), ..self }
    }
}

/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shutdown {
    /// `Some(true)` for SAVE, `Some(false)` for NOSAVE, `None` for neither.
    pub save: Option<bool>,
    /// `NOW`: accepted; Concord always stops at once, waiting for no replica.
    pub now: bool,
    /// `FORCE`: stop even if SAVE's snapshot failed.
    pub force: bool,
    /// `ABORT`: cancel a shutdown in progress, of which Concord never has one.
    pub abort: bool,
}

/// The control commands without subcommands, and the CLIENT, CONFIG and COMMAND containers.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::PING, parse_ping),
    CommandSpec::new(&redis_metadata::ECHO, parse_echo),
    CommandSpec::new(&redis_metadata::SELECT, parse_select),
    CommandSpec::new(&redis_metadata::QUIT, parse_quit),
    CommandSpec::new(&redis_metadata::HELLO, parse_hello),
    CommandSpec::new(&redis_metadata::AUTH, parse_auth),
    CommandSpec::new(&redis_metadata::RESET, parse_reset),
    CommandSpec::new(&redis_metadata::TIME, parse_time),
    CommandSpec::new(&redis_metadata::LASTSAVE, parse_lastsave),
    CommandSpec::new(&redis_metadata::SAVE, parse_save),
    CommandSpec::new(&redis_metadata::BGSAVE, parse_bgsave),
    CommandSpec::new(&redis_metadata::SHUTDOWN, parse_shutdown),
    CommandSpec::new(&redis_metadata::INFO, parse_info),
    CommandSpec::new(&redis_metadata::MONITOR, parse_monitor),
    CommandSpec::new(&redis_metadata::ROLE, parse_role),
    CommandSpec::new(&redis_metadata::WAIT, parse_wait),
    client::CONTAINER,
    introspection::CONFIG_CONTAINER,
    introspection::COMMAND_CONTAINER,
    slowlog::CONTAINER,
];

fn control(control: Control) -> Result<Command, CommandError> {
    Ok(Command::Control(control))
}

fn parse_ping(args: &mut Args) -> Result<Command, CommandError> {
    if args.remaining() > 1 {
        return Err(CommandError::WrongArity("ping".into()));
    }
    control(Control::Ping { message: args.try_next() })
}

fn parse_echo(args: &mut Args) -> Result<Command, CommandError> {
    control(Control::Echo { message: args.next_bytes()? })
}

fn parse_select(args: &mut Args) -> Result<Command, CommandError> {
    let db = parse_i64(&args.next_bytes()?).ok_or(CommandError::NotInteger)?;
    if db < 0 || db as usize >= DATABASES {
        return Err(CommandError::DbIndexOutOfRange);
    }
    control(Control::Select { db: db as DbIndex })
}

/// QUIT ignores its arguments, as Redis does.
fn parse_quit(_args: &mut Args) -> Result<Command, CommandError> {
    control(Control::Quit)
}

/// Redis reads the version first, then the options; a version error wins over an option
/// error. An option whose values are missing is a syntax error naming the option.
fn parse_hello(args: &mut Args) -> Result<Command, CommandError> {
    let mut hello = Hello { protocol: None, auth: None, name: None };
    if let Some(version) = args.try_next() {
        let version = parse_i64(&version)
            .ok_or(CommandError::other("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&version) {
            return Err(CommandError::other("NOPROTO unsupported protocol version"));
        }
        hello.protocol = Some(version as u8);
    }
    while let Some(option) = args.try_next() {
        let remaining = args.remaining();
        if is_keyword(&option, "AUTH") && remaining >= 2 {
            hello.auth = Some((args.next_bytes()?, args.next_bytes()?));
        } else if is_keyword(&option, "SETNAME") && remaining >= 1 {
            hello.name = Some(args.next_bytes()?);
        } else {
            return Err(CommandError::Other(
                format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(&option))
                    .into(),
            ));
        }
    }
    control(Control::Hello(hello))
}

fn parse_auth(args: &mut Args) -> Result<Command, CommandError> {
    match args.remaining() {
        1 => control(Control::Auth { username: None, password: args.next_bytes()? }),
        2 => control(Control::Auth {
            username: Some(args.next_bytes()?),
            password: args.next_bytes()?,
        }),
        _ => Err(CommandError::Syntax),
    }
}

fn parse_reset(_args: &mut Args) -> Result<Command, CommandError> {
    control(Control::Reset)
}

fn parse_time(_args: &mut Args) -> Result<Command, CommandError> {
    control(Control::Time)
}

fn parse_lastsave(_args: &mut Args) -> Result<Command, CommandError> {
    control(Control::LastSave)
}

fn parse_save(_args: &mut Args) -> Result<Command, CommandError> {
    control(Control::Save)
}

/// Redis accepts only SCHEDULE after BGSAVE; anything else is a syntax error.
fn parse_bgsave(args: &mut Args) -> Result<Command, CommandError> {
    let schedule = match args.try_next() {
        None => false,
        Some(option) if is_keyword(&option, "SCHEDULE") => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    if args.remaining() > 0 {
        return Err(CommandError::Syntax);
    }
    control(Control::BgSave { schedule })
}

/// NOSAVE and SAVE exclude each other, and ABORT excludes everything else.
fn parse_shutdown(args: &mut Args) -> Result<Command, CommandError> {
    let mut shutdown = Shutdown::default();
    while let Some(option) = args.try_next() {
        if is_keyword(&option, "NOSAVE") && shutdown.save != Some(true) {
            shutdown.save = Some(false);
        } else if is_keyword(&option, "SAVE") && shutdown.save != Some(false) {
            shutdown.save = Some(true);
        } else if is_keyword(&option, "NOW") {
            shutdown.now = true;
        } else if is_keyword(&option, "FORCE") {
            shutdown.force = true;
        } else if is_keyword(&option, "ABORT") {
            shutdown.abort = true;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if shutdown.abort && (shutdown.save.is_some() || shutdown.now || shutdown.force) {
        return Err(CommandError::Syntax);
    }
    control(Control::Shutdown(shutdown))
}

fn parse_info(args: &mut Args) -> Result<Command, CommandError> {
    let sections = args
        .rest()
        .iter()
        .map(|section| String::from_utf8_lossy(section).to_ascii_lowercase())
        .collect();
    control(Control::Info { sections })
}

fn parse_monitor(_args: &mut Args) -> Result<Command, CommandError> {
    control(Control::Monitor)
}

fn parse_role(_args: &mut Args) -> Result<Command, CommandError> {
    control(Control::Role)
}

/// Redis reads the count first, so its error wins; a negative count is allowed (it answers
/// at once), a negative timeout is not.
fn parse_wait(args: &mut Args) -> Result<Command, CommandError> {
    let replicas = parse_i64(&args.next_bytes()?).ok_or(CommandError::NotInteger)?;
    let timeout = parse_i64(&args.next_bytes()?)
        .ok_or(CommandError::other("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CommandError::other("ERR timeout is negative"));
    }
    let timeout = (timeout > 0).then(|| std::time::Duration::from_millis(timeout as u64));
    control(Control::Wait(Wait { replicas, timeout }))
}

/// Redis's rule for client names and library attributes: printable ASCII without spaces
/// (bytes 33 to 126).
pub fn is_valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|byte| (b'!'..=b'~').contains(byte))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::command::parse;

    /// Parses a request that must be a control command; its error text otherwise.
    pub(in crate::command) fn parse_control(words: &[&str]) -> Result<Control, String> {
        let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
        match parse(arguments).map_err(|error| error.to_string())?.command {
            Ok(Command::Control(control)) => Ok(control),
            Ok(other) => panic!("not a control command: {other:?}"),
            Err(error) => Err(error.to_string()),
        }
    }

    #[test]
    fn hello_checks_the_version_before_the_options() {
        assert_eq!(
            parse_control(&["HELLO", "4", "BOGUS"]),
            Err("NOPROTO unsupported protocol version".into())
        );
        assert_eq!(
            parse_control(&["HELLO", "x"]),
            Err("ERR Protocol version is not an integer or out of range".into())
        );
        assert_eq!(
            parse_control(&["HELLO", "3", "SETNAME"]),
            Err("ERR Syntax error in HELLO option 'SETNAME'".into())
        );
        assert_eq!(
            parse_control(&["hello", "3", "auth", "u", "p", "setname", "n"]),
            Ok(Control::Hello(Hello {
                protocol: Some(3),
                auth: Some((Bytes::from("u"), Bytes::from("p"))),
                name: Some(Bytes::from("n")),
            }))
        );
    }

    #[test]
    fn auth_takes_a_password_or_a_user_and_password() {
        assert_eq!(parse_control(&["AUTH", "a", "b", "c"]), Err("ERR syntax error".into()));
        assert_eq!(
            parse_control(&["AUTH", "pw"]),
            Ok(Control::Auth { username: None, password: Bytes::from("pw") })
        );
    }

    #[test]
    fn shutdown_rejects_contradicting_options() {
        for words in [
            &["SHUTDOWN", "NOSAVE", "SAVE"][..],
            &["SHUTDOWN", "ABORT", "NOW"],
            &["SHUTDOWN", "LATER"],
        ] {
            assert_eq!(parse_control(words), Err("ERR syntax error".into()), "{words:?}");
        }
        assert_eq!(
            parse_control(&["shutdown", "nosave", "now", "force"]),
            Ok(Control::Shutdown(Shutdown {
                save: Some(false),
                now: true,
                force: true,
                abort: false
            }))
        );
    }

    #[test]
    fn select_checks_the_range() {
        assert_eq!(parse_control(&["SELECT", "16"]), Err("ERR DB index is out of range".into()));
        assert_eq!(
            parse_control(&["SELECT", "x"]),
            Err("ERR value is not an integer or out of range".into())
        );
    }

    #[test]
    fn client_names_are_printable_ascii_without_spaces() {
        assert!(is_valid_client_name(b"my-app_1"));
        assert!(!is_valid_client_name(b"a b"));
        assert!(!is_valid_client_name("é".as_bytes()));
        assert!(!is_valid_client_name(b"a\nb"));
    }
}
