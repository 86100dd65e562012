//! `CLIENT ...`: the subcommands about connections (ID, SETNAME, GETNAME, LIST, INFO, KILL,
//! SETINFO, NO-EVICT, REPLY, PAUSE, UNPAUSE, UNBLOCK, HELP).
//!
//! CLIENT SETINFO comes from Redis 7.2; client libraries send it on connect (and ignore an
//! error), so Concord accepts it and shows the values in CLIENT LIST. The other 7.0
//! subcommands (TRACKING, CACHING, GETREDIR, TRACKINGINFO) are deliberately unknown until
//! their feature exists: answering OK to them would be a lie.

use bytes::Bytes;

use super::{control, is_valid_client_name, Control};
use crate::command::concord_metadata;
use crate::command::redis_metadata;
use crate::command::{is_keyword, parse_i64, Args, Command, CommandError, CommandSpec};

/// A `CLIENT` subcommand, about the calling connection or the node's other connections.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientCommand {
    /// `CLIENT ID`: the connection's id on this node.
    Id,
    /// `CLIENT SETNAME connection-name`.
    SetName {
        /// The new name, checked to be printable ASCII without spaces.
        name: Bytes,
    },
    /// `CLIENT GETNAME`: the connection's name, or nil.
    GetName,
    /// `CLIENT LIST [TYPE type | ID id [id ...]]`.
    List {
        /// Which connections to list; `None` lists every one.
        filter: Option<ClientFilter>,
    },
    /// `CLIENT INFO`: the calling connection's line of CLIENT LIST.
    Info,
    /// `CLIENT KILL`, in its old or its new form.
    Kill(ClientKill),
    /// `CLIENT SETINFO LIB-NAME name | LIB-VER version` (Redis 7.2).
    SetInfo {
        /// `LIB-NAME` or `LIB-VER`.
        attribute: LibraryAttribute,
        /// The value, checked to be printable ASCII without spaces.
        value: Bytes,
    },
    /// `CLIENT NO-EVICT ON | OFF`.
    NoEvict {
        /// `ON`; `false` for `OFF`.
        enabled: bool,
    },
    /// `CLIENT REPLY ON | OFF | SKIP`: whether the server answers this connection.
    Reply(ReplyMode),
    /// `CLIENT HELP`.
    Help,
    /// `CLIENT PAUSE timeout [WRITE | ALL]`: hold this node's clients' commands (see
    /// `server::pause`).
    Pause {
        /// Milliseconds, checked to be an integer of at least 0.
        timeout_ms: i64,
        /// `ALL` when not given, as in Redis.
        mode: PauseMode,
    },
    /// `CLIENT UNPAUSE`.
    Unpause,
    /// `CLIENT UNBLOCK client-id [TIMEOUT | ERROR]`: end another client's blocking command.
    Unblock {
        /// The client's id; one that no client has (0 or less included) unblocks nobody.
        id: i64,
        /// How the blocked command answers; `TIMEOUT` when not given.
        reason: UnblockReason,
    },
}

/// Which commands CLIENT PAUSE holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseMode {
    /// `WRITE`: the commands that may change the keyspace or replicate.
    Write,
    /// `ALL`: every command.
    All,
}

/// What a blocked command ended by `CLIENT UNBLOCK id ERROR` answers.
pub const UNBLOCKED: CommandError =
    CommandError::other("UNBLOCKED client unblocked via CLIENT UNBLOCK");

/// How a command ended by CLIENT UNBLOCK answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnblockReason {
    /// As if its timeout had passed.
    Timeout,
    /// With Redis's `-UNBLOCKED` error.
    Error,
}

/// Which replies a connection gets, as `CLIENT REPLY` sets it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplyMode {
    /// Every reply (the default).
    #[default]
    On,
    /// None, until `CLIENT REPLY ON`.
    Off,
    /// None for the next command, then every reply again.
    Skip,
}

/// The one filter CLIENT LIST accepts.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientFilter {
    /// `TYPE type`: the connections of that type.
    Type(ClientType),
    /// `ID id [id ...]`: the connections with these ids, each checked to be positive.
    Ids(Vec<u64>),
}

/// Redis's client types. A connection is `PubSub` while it is subscribed to anything and
/// `Normal` otherwise; Concord has no replication connections, so `Master` and `Replica` are
/// accepted as filters that match nobody.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientType {
    /// `normal`: an ordinary client connection.
    Normal,
    /// `master`: the connection a replica keeps to its master.
    Master,
    /// `replica` (or `slave`): a replica's connection to its master, seen from the master.
    Replica,
    /// `pubsub`: a connection in subscribed mode.
    PubSub,
}

impl ClientType {
    fn parse(name: &[u8]) -> Result<ClientType, CommandError> {
        let lowercase = name.to_ascii_lowercase();
        match &lowercase[..] {
            b"normal" => Ok(ClientType::Normal),
            b"master" => Ok(ClientType::Master),
            b"replica" | b"slave" => Ok(ClientType::Replica),
            b"pubsub" => Ok(ClientType::PubSub),
            _ => Err(CommandError::Other(
                format!("ERR Unknown client type '{}'", String::from_utf8_lossy(name)).into(),
            )),
        }
    }
}

/// `CLIENT KILL addr:port` (the old form) or `CLIENT KILL <filter value> ...` (the new one).
#[derive(Clone, Debug, PartialEq)]
pub enum ClientKill {
    /// `CLIENT KILL ip:port`: the one connection from that peer address.
    Address(Bytes),
    /// `CLIENT KILL [ID id] [TYPE type] [USER user] [ADDR ip:port] [LADDR ip:port]
    /// [SKIPME yes | no]`: every connection that matches all the filters given.
    Filters {
        /// `ID`: the connection with this id, checked to be positive.
        id: Option<u64>,
        /// `TYPE`: connections of this type.
        client_type: Option<ClientType>,
        /// `ADDR`: the connection from this peer address, `ip:port`.
        address: Option<Bytes>,
        /// `LADDR`: connections to this local address of the node, `ip:port`.
        local_address: Option<Bytes>,
        /// `USER`: connections logged in as this user, which must exist.
        user: Option<Bytes>,
        /// Whether the calling connection is spared (the default).
        skip_me: bool,
    },
}

/// What CLIENT SETINFO sets: the client library's name or its version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibraryAttribute {
    /// `LIB-NAME`, shown as `lib-name` in CLIENT LIST.
    Name,
    /// `LIB-VER`, shown as `lib-ver` in CLIENT LIST.
    Version,
}

pub(super) const CONTAINER: CommandSpec =
    CommandSpec::new(&redis_metadata::CLIENT, no_subcommand).subcommands(SUBCOMMANDS);

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::CLIENT_ID, parse_id),
    CommandSpec::new(&redis_metadata::CLIENT_SETNAME, parse_setname),
    CommandSpec::new(&redis_metadata::CLIENT_GETNAME, parse_getname),
    CommandSpec::new(&redis_metadata::CLIENT_INFO, parse_info),
    CommandSpec::new(&redis_metadata::CLIENT_LIST, parse_list),
    CommandSpec::new(&redis_metadata::CLIENT_KILL, parse_kill),
    CommandSpec::new(&concord_metadata::CLIENT_SETINFO, parse_setinfo),
    CommandSpec::new(&redis_metadata::CLIENT_NO_EVICT, parse_no_evict),
    CommandSpec::new(&redis_metadata::CLIENT_REPLY, parse_reply),
    CommandSpec::new(&redis_metadata::CLIENT_HELP, parse_help),
    CommandSpec::new(&redis_metadata::CLIENT_PAUSE, parse_pause),
    CommandSpec::new(&redis_metadata::CLIENT_UNPAUSE, parse_unpause),
    CommandSpec::new(&redis_metadata::CLIENT_UNBLOCK, parse_unblock),
];

/// The container alone is caught by its arity (-2) before this could run.
fn no_subcommand(_args: &mut Args) -> Result<Command, CommandError> {
    Err(CommandError::WrongArity("client".into()))
}

fn client(command: ClientCommand) -> Result<Command, CommandError> {
    control(Control::Client(command))
}

fn parse_id(_args: &mut Args) -> Result<Command, CommandError> {
    client(ClientCommand::Id)
}

fn parse_getname(_args: &mut Args) -> Result<Command, CommandError> {
    client(ClientCommand::GetName)
}

fn parse_info(_args: &mut Args) -> Result<Command, CommandError> {
    client(ClientCommand::Info)
}

fn parse_help(_args: &mut Args) -> Result<Command, CommandError> {
    client(ClientCommand::Help)
}

fn parse_setname(args: &mut Args) -> Result<Command, CommandError> {
    let name = args.next_bytes()?;
    if !is_valid_client_name(&name) {
        return Err(CommandError::other(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    client(ClientCommand::SetName { name })
}

fn parse_setinfo(args: &mut Args) -> Result<Command, CommandError> {
    let attribute_name = args.next_bytes()?;
    let value = args.next_bytes()?;
    let attribute = if is_keyword(&attribute_name, "LIB-NAME") {
        LibraryAttribute::Name
    } else if is_keyword(&attribute_name, "LIB-VER") {
        LibraryAttribute::Version
    } else {
        return Err(CommandError::Other(
            format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(&attribute_name))
                .into(),
        ));
    };
    if !is_valid_client_name(&value) {
        let label = match attribute {
            LibraryAttribute::Name => "lib-name",
            LibraryAttribute::Version => "lib-ver",
        };
        return Err(CommandError::Other(
            format!("ERR {label} cannot contain spaces, newlines or special characters.").into(),
        ));
    }
    client(ClientCommand::SetInfo { attribute, value })
}

fn parse_no_evict(args: &mut Args) -> Result<Command, CommandError> {
    let mode = args.next_bytes()?;
    let enabled = if is_keyword(&mode, "ON") {
        true
    } else if is_keyword(&mode, "OFF") {
        false
    } else {
        return Err(CommandError::Syntax);
    };
    client(ClientCommand::NoEvict { enabled })
}

fn parse_reply(args: &mut Args) -> Result<Command, CommandError> {
    let mode = args.next_bytes()?;
    let mode = if is_keyword(&mode, "ON") {
        ReplyMode::On
    } else if is_keyword(&mode, "OFF") {
        ReplyMode::Off
    } else if is_keyword(&mode, "SKIP") {
        ReplyMode::Skip
    } else {
        return Err(CommandError::Syntax);
    };
    client(ClientCommand::Reply(mode))
}

/// `CLIENT PAUSE timeout [WRITE | ALL]`: Redis reads the mode before the timeout, so a bad
/// mode is the error when both are bad.
fn parse_pause(args: &mut Args) -> Result<Command, CommandError> {
    let timeout = args.next_bytes()?;
    let mode = match &args.rest()[..] {
        [] => PauseMode::All,
        [mode] if is_keyword(mode, "WRITE") => PauseMode::Write,
        [mode] if is_keyword(mode, "ALL") => PauseMode::All,
        [_] => return Err(CommandError::other("ERR CLIENT PAUSE mode must be WRITE or ALL")),
        _ => return Err(CommandError::SubcommandMisused { command: "client", subcommand: None }),
    };
    let timeout_ms = match parse_i64(&timeout) {
        Some(timeout_ms) if timeout_ms < 0 => {
            return Err(CommandError::other("ERR timeout is negative"));
        }
        Some(timeout_ms) => timeout_ms,
        None => return Err(CommandError::other("ERR timeout is not an integer or out of range")),
    };
    client(ClientCommand::Pause { timeout_ms, mode })
}

fn parse_unpause(_args: &mut Args) -> Result<Command, CommandError> {
    client(ClientCommand::Unpause)
}

/// `CLIENT UNBLOCK client-id [TIMEOUT | ERROR]`: the reason is read before the id.
fn parse_unblock(args: &mut Args) -> Result<Command, CommandError> {
    let id = args.next_bytes()?;
    let reason = match &args.rest()[..] {
        [] => UnblockReason::Timeout,
        [reason] if is_keyword(reason, "TIMEOUT") => UnblockReason::Timeout,
        [reason] if is_keyword(reason, "ERROR") => UnblockReason::Error,
        [_] => {
            return Err(CommandError::other("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"))
        }
        _ => return Err(CommandError::SubcommandMisused { command: "client", subcommand: None }),
    };
    let id = parse_i64(&id).ok_or(CommandError::NotInteger)?;
    client(ClientCommand::Unblock { id, reason })
}

/// `CLIENT LIST [TYPE type | ID id [id ...]]`: one filter at most, as in Redis 7.0.
fn parse_list(args: &mut Args) -> Result<Command, CommandError> {
    let arguments = args.rest();
    let filter = match &arguments[..] {
        [] => None,
        [keyword, name] if is_keyword(keyword, "TYPE") => {
            Some(ClientFilter::Type(ClientType::parse(name)?))
        }
        [keyword, ids @ ..] if is_keyword(keyword, "ID") && !ids.is_empty() => {
            let ids = ids
                .iter()
                .map(|id| parse_client_id(id, "ERR Invalid client ID"))
                .collect::<Result<_, _>>()?;
            Some(ClientFilter::Ids(ids))
        }
        _ => return Err(CommandError::Syntax),
    };
    client(ClientCommand::List { filter })
}

fn parse_client_id(id: &[u8], error: &'static str) -> Result<u64, CommandError> {
    match parse_i64(id) {
        Some(id) if id > 0 => Ok(id as u64),
        _ => Err(CommandError::other(error)),
    }
}

/// One argument is the old form; more are filter/value pairs, read until the first error.
fn parse_kill(args: &mut Args) -> Result<Command, CommandError> {
    let arguments = args.rest();
    if let [address] = &arguments[..] {
        return client(ClientCommand::Kill(ClientKill::Address(address.clone())));
    }
    let (mut id, mut client_type, mut address, mut local_address, mut user) =
        (None, None, None, None, None);
    let mut skip_me = true;
    for pair in arguments.chunks(2) {
        let [filter, value] = pair else {
            return Err(CommandError::Syntax);
        };
        if is_keyword(filter, "ID") {
            id = Some(parse_client_id(value, "ERR client-id should be greater than 0")?);
        } else if is_keyword(filter, "TYPE") {
            client_type = Some(ClientType::parse(value)?);
        } else if is_keyword(filter, "ADDR") {
            address = Some(value.clone());
        } else if is_keyword(filter, "LADDR") {
            local_address = Some(value.clone());
        } else if is_keyword(filter, "USER") {
            // Whether the user exists is for the server to say, from the replicated users.
            user = Some(value.clone());
        } else if is_keyword(filter, "SKIPME") && is_keyword(value, "yes") {
            skip_me = true;
        } else if is_keyword(filter, "SKIPME") && is_keyword(value, "no") {
            skip_me = false;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    client(ClientCommand::Kill(ClientKill::Filters {
        id,
        client_type,
        address,
        local_address,
        user,
        skip_me,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse;

    fn parse_client(words: &[&str]) -> Result<ClientCommand, String> {
        let arguments = words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect();
        match parse(arguments).map_err(|error| error.to_string())?.command {
            Ok(Command::Control(Control::Client(command))) => Ok(command),
            Ok(other) => panic!("not a CLIENT command: {other:?}"),
            Err(error) => Err(error.to_string()),
        }
    }

    #[test]
    fn kill_filters_parse_with_redis_errors() {
        assert_eq!(
            parse_client(&["CLIENT", "KILL", "ID", "x"]),
            Err("ERR client-id should be greater than 0".into())
        );
        assert_eq!(
            parse_client(&["CLIENT", "KILL", "SKIPME", "maybe"]),
            Err("ERR syntax error".into())
        );
        assert_eq!(
            parse_client(&["CLIENT", "KILL", "TYPE", "foo"]),
            Err("ERR Unknown client type 'foo'".into())
        );
        assert_eq!(
            parse_client(&["client", "kill", "id", "7", "skipme", "no"]),
            Ok(ClientCommand::Kill(ClientKill::Filters {
                id: Some(7),
                client_type: None,
                address: None,
                local_address: None,
                user: None,
                skip_me: false,
            }))
        );
        assert_eq!(
            parse_client(&["client", "kill", "1.2.3.4:5"]),
            Ok(ClientCommand::Kill(ClientKill::Address(Bytes::from("1.2.3.4:5"))))
        );
    }

    #[test]
    fn list_takes_one_filter() {
        assert_eq!(
            parse_client(&["CLIENT", "LIST", "ID", "1", "x"]),
            Err("ERR Invalid client ID".into())
        );
        assert_eq!(parse_client(&["CLIENT", "LIST", "foo"]), Err("ERR syntax error".into()));
        assert_eq!(
            parse_client(&["CLIENT", "LIST", "TYPE", "slave"]),
            Ok(ClientCommand::List { filter: Some(ClientFilter::Type(ClientType::Replica)) })
        );
    }

    #[test]
    fn setname_and_setinfo_validate_their_values() {
        assert_eq!(
            parse_client(&["CLIENT", "SETNAME", "a b"]),
            Err("ERR Client names cannot contain spaces, newlines or special characters.".into())
        );
        assert_eq!(
            parse_client(&["CLIENT", "SETINFO", "lib-color", "x"]),
            Err("ERR Unrecognized option 'lib-color'".into())
        );
        assert_eq!(
            parse_client(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]),
            Ok(ClientCommand::SetInfo {
                attribute: LibraryAttribute::Name,
                value: Bytes::from("redis-py")
            })
        );
    }

    #[test]
    fn unimplemented_subcommands_are_unknown() {
        assert_eq!(
            parse_client(&["CLIENT", "TRACKING", "on"]),
            Err("ERR unknown subcommand 'TRACKING'. Try CLIENT HELP.".into())
        );
    }

    #[test]
    fn pause_takes_all_by_default_and_redis_s_errors() {
        assert_eq!(
            parse_client(&["CLIENT", "PAUSE", "10"]),
            Ok(ClientCommand::Pause { timeout_ms: 10, mode: PauseMode::All })
        );
        assert_eq!(
            parse_client(&["CLIENT", "PAUSE", "abc", "foo"]),
            Err("ERR CLIENT PAUSE mode must be WRITE or ALL".into())
        );
        assert_eq!(parse_client(&["CLIENT", "PAUSE", "-1"]), Err("ERR timeout is negative".into()));
    }
}
