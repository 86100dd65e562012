//! Execution of control commands: the ones about the connection or the node.
//!
//! Connection commands (AUTH, HELLO, SELECT, RESET, CLIENT ...) change the connection's
//! [`Session`](super::connection::Session) and its registry entry; server commands read the
//! shared state. INFO is built in `info`, CONFIG and COMMAND replies in `introspection`.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::connection::Connection;
use super::{info, introspection, REDIS_VERSION};
use crate::command::control::{
    is_valid_client_name, ClientCommand, ClientFilter, ClientKill, ClientType, Control, Hello,
    LibraryAttribute, Shutdown,
};
use crate::resp::{Frame, Protocol};

/// Runs one control command. `None` means no reply at all (SHUTDOWN, which closes instead) or
/// a reply already written (EXEC).
pub(super) async fn execute(connection: &mut Connection, control: Control) -> Option<Frame> {
    let frame = match control {
        Control::Ping { message } if super::subscriptions::in_subscribed_mode(connection) => {
            super::subscriptions::subscribed_ping(message)
        }
        Control::Ping { message: None } => Frame::simple("PONG"),
        Control::Ping { message: Some(message) } => Frame::Bulk(message),
        Control::Echo { message } => Frame::Bulk(message),
        Control::Select { db } => {
            connection.session.db = db;
            connection.client.db.store(db, Ordering::Relaxed);
            Frame::ok()
        }
        Control::Quit => {
            connection.session.close_after_reply = true;
            Frame::ok()
        }
        Control::Hello(hello) => execute_hello(connection, hello),
        Control::Auth { username, password } => {
            match authenticate(connection, username.as_deref(), &password) {
                Ok(()) => Frame::ok(),
                Err(frame) => frame,
            }
        }
        Control::Reset => execute_reset(connection),
        Control::Time => execute_time(),
        Control::LastSave => {
            Frame::Integer(connection.shared.node.persistence().last_save_unix_seconds as i64)
        }
        Control::Save => match connection.shared.node.save().await {
            Ok(()) => Frame::ok(),
            Err(error) => {
                tracing::error!(%error, "SAVE failed");
                error.to_frame()
            }
        },
        Control::BgSave { schedule } => execute_background_save(connection, schedule).await,
        Control::Shutdown(shutdown) => return execute_shutdown(connection, shutdown).await,
        Control::Info { sections } => {
            verbatim_text(info::render(&connection.shared, &sections).await)
        }
        Control::Client(command) => execute_client(connection, command),
        Control::Config(command) => introspection::execute_config(&connection.shared, command),
        Control::Command(command) => introspection::execute_command(command),
        Control::Transaction(command) => {
            return super::transaction::execute(connection, command).await;
        }
        Control::PubSub(command) => return super::subscriptions::execute(connection, command),
        Control::Cluster(command) => super::cluster::execute(connection, command).await,
    };
    Some(frame)
}

/// Redis's rules for AUTH and HELLO AUTH: the only user is `default`; without a configured
/// password it accepts any password (and a bare `AUTH password` is a configuration mistake).
fn authenticate(
    connection: &mut Connection,
    username: Option<&[u8]>,
    password: &[u8],
) -> Result<(), Frame> {
    let settings = &connection.shared.settings;
    let wrong = Frame::error("WRONGPASS invalid username-password pair or user is disabled.");
    let default_user = username.is_none_or(|username| username == b"default");
    if !settings.password_required() {
        return match username {
            None => Err(Frame::error(
                "ERR AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?",
            )),
            Some(_) if default_user => {
                connection.session.authenticated = true;
                Ok(())
            }
            Some(_) => Err(wrong),
        };
    }
    if default_user && settings.password_matches(password) {
        connection.session.authenticated = true;
        Ok(())
    } else {
        Err(wrong)
    }
}

/// HELLO authenticates, names the connection, then switches the protocol, so that its own
/// reply already uses the new protocol.
fn execute_hello(connection: &mut Connection, hello: Hello) -> Frame {
    let must_authenticate =
        !connection.session.authenticated && connection.shared.settings.password_required();
    if must_authenticate && hello.auth.is_none() {
        return Frame::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time",
        );
    }
    if let Some((username, password)) = &hello.auth {
        if let Err(frame) = authenticate(connection, Some(username), password) {
            return frame;
        }
    }
    if let Some(name) = hello.name {
        if let Err(frame) = set_name(connection, name) {
            return frame;
        }
    }
    if let Some(version) = hello.protocol {
        let protocol = if version == 3 { Protocol::Resp3 } else { Protocol::Resp2 };
        connection.session.protocol = protocol;
        connection.client.protocol.store(version, Ordering::Relaxed);
    }
    let field = |name: &'static str| Frame::Bulk(Bytes::from_static(name.as_bytes()));
    Frame::Map(vec![
        (field("server"), field("redis")),
        (field("version"), field(REDIS_VERSION)),
        (field("proto"), Frame::Integer(connection.session.protocol.version())),
        (field("id"), Frame::Integer(connection.client.id as i64)),
        (field("mode"), field("standalone")),
        (field("role"), field("master")),
        (field("modules"), Frame::Array(Vec::new())),
    ])
}

/// Sets or (with an empty name) clears the connection's name.
fn set_name(connection: &mut Connection, name: Bytes) -> Result<(), Frame> {
    if !is_valid_client_name(&name) {
        return Err(Frame::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    *connection.client.name.lock() = (!name.is_empty()).then_some(name);
    Ok(())
}

/// RESET: back to the state of a new connection (database 0, RESP2, no name, no transaction
/// and no watched keys, and unauthenticated if a password is configured).
fn execute_reset(connection: &mut Connection) -> Frame {
    connection.transaction.clear();
    // Leaves subscribed mode: dropping the mailbox drops every subscription.
    connection.mailbox = None;
    super::transaction::note_queue_length(connection);
    connection.session.db = 0;
    connection.session.protocol = Protocol::Resp2;
    connection.session.authenticated = !connection.shared.settings.password_required();
    connection.client.db.store(0, Ordering::Relaxed);
    connection.client.protocol.store(2, Ordering::Relaxed);
    connection.client.no_evict.store(false, Ordering::Relaxed);
    *connection.client.name.lock() = None;
    Frame::simple("RESET")
}

fn execute_time() -> Frame {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Frame::Array(vec![
        Frame::bulk(now.as_secs().to_string()),
        Frame::bulk(now.subsec_micros().to_string()),
    ])
}

/// BGSAVE: Redis's replies, including for a save already running (SCHEDULE asks to run one
/// after it; Concord's next log-size or explicit snapshot covers those writes anyway).
async fn execute_background_save(connection: &mut Connection, schedule: bool) -> Frame {
    match connection.shared.node.background_save().await {
        Ok(true) => Frame::simple("Background saving started"),
        Ok(false) if schedule => Frame::simple("Background saving scheduled"),
        Ok(false) => Frame::error("ERR Background save already in progress"),
        Err(error) => error.to_frame(),
    }
}

/// Concord stops at once, so there is never a shutdown in progress to abort. Every
/// acknowledged write is already durable in the log; SAVE additionally writes a snapshot
/// first (so the next start replays less), and refuses to stop if that fails, as Redis does,
/// unless FORCE is given.
async fn execute_shutdown(connection: &mut Connection, shutdown: Shutdown) -> Option<Frame> {
    if shutdown.abort {
        return Some(Frame::error("ERR No shutdown in progress."));
    }
    if shutdown.save == Some(true) {
        if let Err(error) = connection.shared.node.save().await {
            tracing::warn!(%error, "SHUTDOWN SAVE: the snapshot failed");
            if !shutdown.force {
                return Some(Frame::error("ERR Errors trying to SHUTDOWN. Check logs."));
            }
        }
    }
    tracing::info!(client = connection.client.id, "SHUTDOWN requested, stopping");
    let _ = connection.shared.shutdown.send(true);
    connection.session.close_after_reply = true;
    None
}

fn execute_client(connection: &mut Connection, command: ClientCommand) -> Frame {
    let client = &connection.client;
    match command {
        ClientCommand::Id => Frame::Integer(client.id as i64),
        ClientCommand::SetName { name } => match set_name(connection, name) {
            Ok(()) => Frame::ok(),
            Err(frame) => frame,
        },
        ClientCommand::GetName => Frame::bulk_or_null(client.name.lock().clone()),
        ClientCommand::Info => verbatim_text(format!("{}\n", client.line())),
        ClientCommand::List { filter } => client_list(connection, filter.as_ref()),
        ClientCommand::Kill(kill) => client_kill(connection, kill),
        ClientCommand::SetInfo { attribute, value } => {
            let slot = match attribute {
                LibraryAttribute::Name => &client.library_name,
                LibraryAttribute::Version => &client.library_version,
            };
            *slot.lock() = (!value.is_empty()).then_some(value);
            Frame::ok()
        }
        ClientCommand::NoEvict { enabled } => {
            client.no_evict.store(enabled, Ordering::Relaxed);
            Frame::ok()
        }
        ClientCommand::Help => help(CLIENT_HELP),
    }
}

fn client_list(connection: &Connection, filter: Option<&ClientFilter>) -> Frame {
    let mut text = String::new();
    for client in connection.shared.clients.list() {
        let listed = match filter {
            None | Some(ClientFilter::Type(ClientType::Normal)) => true,
            Some(ClientFilter::Type(_)) => false,
            Some(ClientFilter::Ids(ids)) => ids.contains(&client.id),
        };
        if listed {
            text.push_str(&client.line());
            text.push('\n');
        }
    }
    verbatim_text(text)
}

/// Redis answers CLIENT INFO and CLIENT LIST with a verbatim `txt` string (a bulk string in
/// RESP2), as it does INFO.
fn verbatim_text(text: String) -> Frame {
    Frame::Verbatim { format: *b"txt", text: Bytes::from(text) }
}

/// The old form answers OK or "No such client"; the new form counts the clients it killed.
/// Killing oneself closes the connection after the reply.
fn client_kill(connection: &mut Connection, kill: ClientKill) -> Frame {
    let own_id = connection.client.id;
    let mut killed = 0;
    for client in connection.shared.clients.list() {
        let matches = match &kill {
            ClientKill::Address(address) => client.peer.to_string().as_bytes() == &address[..],
            ClientKill::Filters { id, client_type, address, local_address, user, skip_me } => {
                id.is_none_or(|id| id == client.id)
                    && client_type.is_none_or(|kind| kind == ClientType::Normal)
                    && address.as_ref().is_none_or(|a| client.peer.to_string().as_bytes() == &a[..])
                    && local_address
                        .as_ref()
                        .is_none_or(|a| client.local.to_string().as_bytes() == &a[..])
                    && user.as_ref().is_none_or(|user| &user[..] == b"default")
                    && !(*skip_me && client.id == own_id)
            }
        };
        if !matches {
            continue;
        }
        killed += 1;
        if client.id == own_id {
            connection.session.close_after_reply = true;
        } else {
            client.kill();
        }
    }
    match kill {
        ClientKill::Address(_) if killed == 0 => Frame::error("ERR No such client"),
        ClientKill::Address(_) => Frame::ok(),
        ClientKill::Filters { .. } => Frame::Integer(killed),
    }
}

/// A HELP reply: one status line per entry, as Redis formats its help.
pub(super) fn help(lines: &[&'static str]) -> Frame {
    Frame::Array(lines.iter().map(|line| Frame::Simple((*line).into())).collect())
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of this connection.",
    "ID",
    "    Return the id of this connection.",
    "INFO",
    "    Return this connection's line, as CLIENT LIST shows it.",
    "KILL <ip:port>",
    "    Close the connection from that address.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Close every connection matching all the filters: ID <id>, TYPE <type>, ADDR <ip:port>,",
    "    LADDR <ip:port>, USER <username>, SKIPME (YES|NO). SKIPME YES (the default) spares",
    "    this connection.",
    "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
    "    Describe the connections, one line each.",
    "NO-EVICT (ON|OFF)",
    "    Accepted for compatibility; Concord never evicts clients.",
    "SETINFO (LIB-NAME|LIB-VER) <value>",
    "    Record the client library's name or version for CLIENT LIST.",
    "SETNAME <name>",
    "    Name this connection (no spaces); an empty name clears it.",
    "HELP",
    "    Print this help.",
];
