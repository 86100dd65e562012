//! Execution of control commands: the ones about the connection or the node.
//!
//! Connection commands (AUTH, HELLO, SELECT, RESET, CLIENT ...) change the connection's
//! [`Session`](super::Session) and its registry entry; server commands read the
//! shared state. INFO is built in `info`, CONFIG and COMMAND replies in `introspection`.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::Connection;
use crate::command::control::{
    is_valid_client_name, ClientCommand, ClientFilter, ClientKill, ClientType, Control, Hello,
    LibraryAttribute, ReplyMode, Shutdown,
};
use crate::command::scripting::functions::HELP as FUNCTION_HELP;
use crate::command::scripting::{ScriptControl, HELP as SCRIPT_HELP, NOT_BUSY};
use crate::resp::{Frame, Protocol};
use crate::server::clients::ClientInfo;
use crate::server::help::{help, CLIENT_HELP};
use crate::server::{info, introspection, replication, REDIS_VERSION};

impl Connection {
    /// Runs one control command. `None` means no reply at all (SHUTDOWN, which closes instead) or
    /// a reply already written (EXEC).
    pub(super) async fn execute_control(&mut self, control: Control) -> Option<Frame> {
        let frame = match control {
            Control::Ping { message } if self.in_subscribed_mode() => subscribed_ping(message),
            Control::Ping { message: None } => Frame::simple("PONG"),
            Control::Ping { message: Some(message) } => Frame::Bulk(message),
            Control::Echo { message } => Frame::Bulk(message),
            Control::Select { db } => {
                self.session.db = db;
                self.client.db.store(db, Ordering::Relaxed);
                Frame::ok()
            }
            Control::Quit => {
                self.session.close_after_reply = true;
                Frame::ok()
            }
            Control::Hello(hello) => self.execute_hello(hello),
            Control::Auth { username, password } => {
                match self.authenticate(username.as_deref(), &password) {
                    Ok(()) => Frame::ok(),
                    Err(frame) => frame,
                }
            }
            Control::Reset => self.execute_reset().await,
            Control::Time => execute_time(),
            Control::LastSave => {
                Frame::Integer(self.shared.node.persistence().last_save_unix_seconds as i64)
            }
            Control::Save => match self.shared.node.save().await {
                Ok(()) => Frame::ok(),
                Err(error) => {
                    tracing::error!(%error, "SAVE failed");
                    error.to_frame()
                }
            },
            Control::BgSave { schedule } => self.execute_background_save(schedule).await,
            Control::Shutdown(shutdown) => return self.execute_shutdown(shutdown).await,
            Control::Info { sections } => {
                verbatim_text(info::render(&self.shared, &sections).await)
            }
            Control::Monitor => return self.start_monitoring(),
            Control::Role => replication::role(&self.shared).await,
            Control::Wait(wait) => self.execute_wait(wait).await,
            Control::Client(command) => return self.execute_client(command),
            Control::Config(command) => introspection::execute_config(&self.shared, command),
            Control::Command(command) => introspection::execute_command(command),
            Control::SlowLog(command) => self.execute_slowlog(command),
            Control::Transaction(command) => {
                return self.execute_transaction(command).await;
            }
            Control::PubSub(command) => return self.execute_pubsub(command).await,
            Control::Cluster(command) => self.execute_admin(command).await,
            Control::Acl(command) => self.execute_acl(command),
            Control::Script(ScriptControl::Kill) => NOT_BUSY.to_frame(),
            Control::Script(ScriptControl::Help) => help(SCRIPT_HELP),
            Control::Script(ScriptControl::FunctionKill) => NOT_BUSY.to_frame(),
            Control::Script(ScriptControl::FunctionHelp) => help(FUNCTION_HELP),
        };
        Some(frame)
    }

    /// HELLO authenticates, names the connection, then switches the protocol, so that its own
    /// reply already uses the new protocol.
    fn execute_hello(&mut self, hello: Hello) -> Frame {
        if self.must_authenticate() && hello.auth.is_none() {
            return Frame::error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                 HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
                 the RESP protocol version at the same time",
            );
        }
        if let Some((username, password)) = &hello.auth {
            if let Err(frame) = self.authenticate(Some(username), password) {
                return frame;
            }
        }
        if let Some(name) = hello.name {
            if let Err(frame) = self.set_name(name) {
                return frame;
            }
        }
        if let Some(version) = hello.protocol {
            let protocol = if version == 3 { Protocol::Resp3 } else { Protocol::Resp2 };
            self.session.protocol = protocol;
            self.client.protocol.store(version, Ordering::Relaxed);
        }
        let field = |name: &'static str| Frame::Bulk(Bytes::from_static(name.as_bytes()));
        // As INFO and ROLE name it: the leader is the master, every other member a replica.
        let node = &self.shared.node;
        let role = if node.leader() == Some(node.id()) { "master" } else { "replica" };
        Frame::Map(vec![
            (field("server"), field("redis")),
            (field("version"), field(REDIS_VERSION)),
            (field("proto"), Frame::Integer(self.session.protocol.version())),
            (field("id"), Frame::Integer(self.client.id as i64)),
            (field("mode"), field("standalone")),
            (field("role"), field(role)),
            (field("modules"), Frame::Array(Vec::new())),
        ])
    }

    /// Sets or (with an empty name) clears the connection's name.
    fn set_name(&mut self, name: Bytes) -> Result<(), Frame> {
        if !is_valid_client_name(&name) {
            return Err(Frame::error(
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ));
        }
        *self.client.name.lock() = (!name.is_empty()).then_some(name);
        Ok(())
    }

    /// RESET: back to the state of a new connection (database 0, RESP2, no name, no transaction
    /// and no watched keys, and the default user, unauthenticated if it needs a password).
    async fn execute_reset(&mut self) -> Frame {
        self.transaction.clear();
        // Leaves subscribed mode: every subscription leaves the replicated table first.
        self.unsubscribe_all().await;
        self.mailbox = None;
        self.note_subscriptions();
        self.note_queue_length();
        self.session.db = 0;
        self.session.protocol = Protocol::Resp2;
        self.reset_user();
        self.client.db.store(0, Ordering::Relaxed);
        self.client.protocol.store(2, Ordering::Relaxed);
        self.client.no_evict.store(false, Ordering::Relaxed);
        *self.client.name.lock() = None;
        self.session.replies = Default::default();
        self.stop_monitoring();
        Frame::simple("RESET")
    }

    /// BGSAVE: Redis's replies, including for a save already running (SCHEDULE asks to run one
    /// after it; Concord's next log-size or explicit snapshot covers those writes anyway).
    async fn execute_background_save(&mut self, schedule: bool) -> Frame {
        match self.shared.node.background_save().await {
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
    async fn execute_shutdown(&mut self, shutdown: Shutdown) -> Option<Frame> {
        if shutdown.abort {
            return Some(Frame::error("ERR No shutdown in progress."));
        }
        if shutdown.save == Some(true) {
            if let Err(error) = self.shared.node.save().await {
                tracing::warn!(%error, "SHUTDOWN SAVE: the snapshot failed");
                if !shutdown.force {
                    return Some(Frame::error("ERR Errors trying to SHUTDOWN. Check logs."));
                }
            }
        }
        tracing::info!(client = self.client.id, "SHUTDOWN requested, stopping");
        let _ = self.shared.shutdown.send(true);
        self.session.close_after_reply = true;
        None
    }

    /// CLIENT's subcommands; `None` for CLIENT REPLY OFF and SKIP, which are not answered.
    fn execute_client(&mut self, command: ClientCommand) -> Option<Frame> {
        let client = &self.client;
        let frame = match command {
            ClientCommand::Id => Frame::Integer(client.id as i64),
            ClientCommand::SetName { name } => match self.set_name(name) {
                Ok(()) => Frame::ok(),
                Err(frame) => frame,
            },
            ClientCommand::GetName => Frame::bulk_or_null(client.name.lock().clone()),
            ClientCommand::Info => verbatim_text(format!("{}\n", client.line())),
            ClientCommand::List { filter } => self.client_list(filter.as_ref()),
            ClientCommand::Kill(kill) => self.client_kill(kill),
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
            ClientCommand::Reply(mode) => {
                self.session.replies.set(mode);
                if mode != ReplyMode::On {
                    return None;
                }
                Frame::ok()
            }
            ClientCommand::Pause { timeout_ms, mode } => {
                self.shared.pause.pause(timeout_ms, mode);
                Frame::ok()
            }
            ClientCommand::Unpause => {
                self.shared.pause.unpause();
                Frame::ok()
            }
            ClientCommand::Unblock { id, reason } => {
                let target = u64::try_from(id).ok().and_then(|id| self.shared.clients.get(id));
                Frame::Integer(target.is_some_and(|target| target.unblock(reason)).into())
            }
            ClientCommand::Help => help(CLIENT_HELP),
        };
        Some(frame)
    }

    fn client_list(&self, filter: Option<&ClientFilter>) -> Frame {
        let mut text = String::new();
        for client in self.shared.clients.list() {
            let listed = match filter {
                None => true,
                Some(ClientFilter::Type(kind)) => client_type(&client) == *kind,
                Some(ClientFilter::Ids(ids)) => ids.contains(&client.id),
            };
            if listed {
                text.push_str(&client.line());
                text.push('\n');
            }
        }
        verbatim_text(text)
    }

    /// The old form answers OK or "No such client"; the new form counts the clients it killed.
    /// Killing oneself closes the connection after the reply.
    fn client_kill(&mut self, kill: ClientKill) -> Frame {
        if let ClientKill::Filters { user: Some(user), .. } = &kill {
            if self.shared.node.users().load().get(user).is_none() {
                let name = String::from_utf8_lossy(user);
                return Frame::Error(format!("ERR No such user '{name}'").into());
            }
        }
        let own_id = self.client.id;
        let mut killed = 0;
        for client in self.shared.clients.list() {
            let matches = match &kill {
                ClientKill::Address(address) => client.peer.to_string().as_bytes() == &address[..],
                ClientKill::Filters { id, client_type, address, local_address, user, skip_me } => {
                    id.is_none_or(|id| id == client.id)
                        && client_type.is_none_or(|kind| kind == self::client_type(&client))
                        && address
                            .as_ref()
                            .is_none_or(|a| client.peer.to_string().as_bytes() == &a[..])
                        && local_address
                            .as_ref()
                            .is_none_or(|a| client.local.to_string().as_bytes() == &a[..])
                        && user.as_ref().is_none_or(|user| *user == *client.user.lock())
                        && !(*skip_me && client.id == own_id)
                }
            };
            if !matches {
                continue;
            }
            killed += 1;
            if client.id == own_id {
                self.session.close_after_reply = true;
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
}

fn execute_time() -> Frame {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Frame::Array(vec![
        Frame::bulk(now.as_secs().to_string()),
        Frame::bulk(now.subsec_micros().to_string()),
    ])
}

/// Redis answers CLIENT INFO and CLIENT LIST with a verbatim `txt` string (a bulk string in
/// RESP2), as it does INFO.
fn verbatim_text(text: String) -> Frame {
    Frame::Verbatim { format: *b"txt", text: Bytes::from(text) }
}

/// PING's reply in RESP2 subscribed mode.
fn subscribed_ping(message: Option<Bytes>) -> Frame {
    Frame::Array(vec![Frame::bulk("pong"), Frame::Bulk(message.unwrap_or_default())])
}

/// Redis's type of a client: `pubsub` while it is subscribed to anything, `normal` otherwise
/// (Concord has no replica or master connections).
fn client_type(client: &ClientInfo) -> ClientType {
    if client.is_subscribed() {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}
