//! The node's side of ACL: ACL LOG, `requirepass` as the default user's password, and closing
//! the connections of users that were deleted.
//!
//! Users themselves are replicated (`command::acl`, applied by the state machine); what is
//! here is each node's own, as each Redis has its own:
//! - [`AclLog`]: the denials and failed logins of this node's clients, newest first, bounded
//!   by Redis's `acllog-max-len` default (128), an entry repeated within 60 s counted in place.
//! - [`propose_pending_passwords`]: `requirepass` (at start-up and on CONFIG SET) becomes the
//!   default user's password through the log, retried until it is applied. Until then this
//!   node judges the default user by the pending value (`RuntimeSettings::pending_password`),
//!   so a password holds on this node from the moment it is set, as in Redis.
//! - [`close_connections_of_deleted_users`]: after every change of the users, the connections
//!   of a user that no longer exists are closed, on every member, as Redis closes them on
//!   ACL DELUSER.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use super::Shared;
use crate::command::acl::script::DENIALS_MAX;
use crate::command::acl::{hash_password, AclWrite};
use crate::command::Write;
use crate::state_machine::WriteRequest;

/// The most entries ACL LOG keeps (Redis's `acllog-max-len` default). A script's reply carries
/// as many distinct denials of its calls, so that none ACL LOG would show is left out: one
/// number for both.
pub const LOG_ENTRIES_MAX: usize = DENIALS_MAX;
/// A denial equal to an entry at most this old counts in that entry (Redis's grouping time).
const GROUPING_WINDOW: Duration = Duration::from_secs(60);
/// How long to wait before proposing a pending `requirepass` again after a failure.
const PROPOSE_RETRY: Duration = Duration::from_millis(200);

/// Why an ACL LOG entry was made, as Redis names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogReason {
    /// The command was denied.
    Command,
    /// A key was denied.
    Key,
    /// A channel was denied.
    Channel,
    /// A login failed.
    Auth,
}

impl LogReason {
    fn name(self) -> &'static str {
        match self {
            LogReason::Command => "command",
            LogReason::Key => "key",
            LogReason::Channel => "channel",
            LogReason::Auth => "auth",
        }
    }
}

/// Where the denied command ran, as Redis names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogContext {
    /// Sent by the client.
    TopLevel,
    /// Queued in MULTI.
    Multi,
    /// Called by a script or function.
    Lua,
}

impl LogContext {
    fn name(self) -> &'static str {
        match self {
            LogContext::TopLevel => "toplevel",
            LogContext::Multi => "multi",
            LogContext::Lua => "lua",
        }
    }
}

/// One ACL LOG entry.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// How many equal denials it stands for.
    pub count: u64,
    /// Why.
    pub reason: LogReason,
    /// Where.
    pub context: LogContext,
    /// The command's name, the key, the channel, or `AUTH`.
    pub object: Bytes,
    /// The user (for a failed login, the name tried).
    pub username: Bytes,
    /// When it was made or last counted.
    pub at: Instant,
    /// The client's CLIENT LIST line at that moment.
    pub client_info: String,
}

/// The node's ACL LOG (see the module doc).
#[derive(Debug, Default)]
pub struct AclLog {
    entries: Mutex<VecDeque<LogEntry>>,
}

impl AclLog {
    /// Records a denial (`entry.count` equal ones), or counts it in an equal recent entry,
    /// which moves to the front.
    pub fn record(&self, mut entry: LogEntry) {
        let mut entries = self.entries.lock();
        let equal = entries.iter().position(|known| {
            known.reason == entry.reason
                && known.context == entry.context
                && known.object == entry.object
                && known.username == entry.username
                && entry.at.duration_since(known.at) <= GROUPING_WINDOW
        });
        if let Some(position) = equal {
            let known = entries.remove(position).expect("the position was just found");
            entry.count += known.count;
        }
        entries.push_front(entry);
        entries.truncate(LOG_ENTRIES_MAX);
    }

    /// The newest `count` entries, newest first.
    pub fn newest(&self, count: usize) -> Vec<LogEntry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    /// ACL LOG RESET.
    pub fn clear(&self) {
        self.entries.lock().clear();
    }
}

impl LogEntry {
    /// The entry as ACL LOG replies with it: a map in RESP3, a flat array in RESP2.
    pub fn to_frame(&self, now: Instant) -> crate::resp::Frame {
        use crate::resp::Frame;
        let field = |name: &'static str| Frame::Bulk(Bytes::from_static(name.as_bytes()));
        let age_seconds = now.saturating_duration_since(self.at).as_millis() as f64 / 1000.0;
        Frame::Map(vec![
            (field("count"), Frame::Integer(self.count as i64)),
            (field("reason"), field(self.reason.name())),
            (field("context"), field(self.context.name())),
            (field("object"), Frame::Bulk(self.object.clone())),
            (field("username"), Frame::Bulk(self.username.clone())),
            (field("age-seconds"), Frame::Double(age_seconds)),
            (field("client-info"), Frame::bulk(&self.client_info)),
        ])
    }
}

/// Proposes each pending `requirepass` as the default user's password until it is applied
/// (see the module doc). Runs for the life of the server.
pub async fn propose_pending_passwords(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        if let Some(password) = shared.settings.pending_password() {
            let hash = password.as_deref().map(hash_password);
            let write = Write::Acl(AclWrite::DefaultPassword { hash });
            match shared.node.write(vec![WriteRequest { db: 0, write }]).await {
                Ok(_) => {
                    shared.settings.password_applied(&password);
                    continue;
                }
                Err(error) => {
                    tracing::debug!(%error, "requirepass not applied yet; trying again");
                    tokio::select! {
                        () = tokio::time::sleep(PROPOSE_RETRY) => continue,
                        _ = shutdown.wait_for(|stopping| *stopping) => return,
                    }
                }
            }
        }
        tokio::select! {
            () = shared.settings.password_changed.notified() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
    }
}

/// Closes the connections whose user was deleted, after every change of the users.
pub async fn close_connections_of_deleted_users(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let users = shared.node.users().clone();
    loop {
        tokio::select! {
            () = users.changed() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        let table = users.load();
        for client in shared.clients.list() {
            let user = client.user.lock().clone();
            if table.get(&user).is_none() {
                tracing::info!(client = client.id, user = %String::from_utf8_lossy(&user), "closing the connection of a deleted user");
                client.kill();
            }
        }
    }
}
