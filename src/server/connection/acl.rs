//! A connection's ACL: who it is authenticated as, the permission check of each command, and
//! the ACL subcommands the connection answers itself.
//!
//! The users are the replicated table as this node applied it (`Node::users`); the check reads
//! it once per command, lock-free, and a user with every permission (the `default` user of a
//! fresh node) costs one comparison. A denial is answered with Redis's NOPERM text and
//! recorded in ACL LOG before anything is proposed, so a denied write never reaches the log.
//! A connection whose user was deleted is closed (by `server::acl` on every change, and here
//! should a command arrive first).
//!
//! What a script calls is known only when it runs, so the connection proposes a script of a
//! user who may not run everything as that user (`Write::AsUser`), and opens the reply's
//! envelope to record, in this node's ACL LOG, the denials of the script's calls; a script
//! on a view is checked here against the view's users (see `command::acl::script`). The
//! check of a command uses the users as this node applied them when the command arrived: a
//! change of the user proposed meanwhile elsewhere may not hold for it yet.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Connection;
use crate::command::acl::script::{self, DeniedObject, ScriptDenial, ScriptUser, UserWrite};
use crate::command::acl::{
    self, table, AclControl, AclWrite, Denial, LogRequest, User, Users, DEFAULT_USER,
    HELP as ACL_HELP, NO_ACL_FILE,
};
use crate::command::transactions::exec_refused;
use crate::command::{
    lookup, lookup_subcommand, AclCategories, Command, CommandError, CommandSpec, Read, Write,
};
use crate::metrics::Outcome;
use crate::node::ReadView;
use crate::resp::Frame;
use crate::server::acl::{LogContext, LogEntry, LogReason};
use crate::server::help::help;
use crate::server::Shared;
use crate::state_machine::{execute_read, execute_read_as, WriteRequest};

/// Redis's reply to a failed login.
const WRONG_PASSWORD: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Whether a new connection starts authenticated: the default user is `on` and `nopass`
/// (judged by a pending `requirepass` while there is one).
pub(super) fn starts_authenticated(shared: &Shared) -> bool {
    match shared.settings.pending_password() {
        Some(pending) => {
            pending.is_none() && shared.node.users().load().default_user().is_enabled()
        }
        None => shared.node.users().load().default_user().admits_without_password(),
    }
}

impl Connection {
    /// Whether the client must authenticate before running anything but `no_auth` commands.
    pub(super) fn must_authenticate(&self) -> bool {
        !self.session.authenticated && !starts_authenticated(&self.shared)
    }

    /// AUTH and HELLO AUTH, as Redis 7.0's `authCommand`: `AUTH password` is the default user,
    /// and is a mistake while the default user needs no password.
    pub(super) fn authenticate(
        &mut self,
        username: Option<&[u8]>,
        password: &[u8],
    ) -> Result<(), Frame> {
        let users = Arc::clone(&self.shared.node.users().load());
        if username.is_none() && starts_authenticated(&self.shared) {
            return Err(Frame::error(
                "ERR AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?",
            ));
        }
        let name = username.unwrap_or(DEFAULT_USER);
        let matches = users.get(name).is_some_and(|user| self.password_matches(user, password));
        if !matches {
            self.log_denial(
                LogReason::Auth,
                Bytes::from_static(b"AUTH"),
                Bytes::copy_from_slice(name),
            );
            return Err(Frame::error(WRONG_PASSWORD));
        }
        self.session.authenticated = true;
        self.session.user = Bytes::copy_from_slice(name);
        *self.client.user.lock() = self.session.user.clone();
        Ok(())
    }

    /// The default user's password is judged by a pending `requirepass` while there is one.
    fn password_matches(&self, user: &User, password: &[u8]) -> bool {
        if user.name().as_ref() == DEFAULT_USER {
            if let Some(pending) = self.shared.settings.pending_password() {
                let typed = acl::hash_password(password);
                return user.is_enabled()
                    && pending.is_none_or(|pending| acl::hash_password(&pending) == typed);
            }
        }
        user.password_matches(password)
    }

    /// Back to the default user, authenticated if it needs no password (RESET).
    pub(super) fn reset_user(&mut self) {
        self.session.user = Bytes::from_static(DEFAULT_USER);
        *self.client.user.lock() = self.session.user.clone();
        self.session.authenticated = starts_authenticated(&self.shared);
    }

    /// Redis's ACL check of a command the client sent (`request` is the whole request): `Err`
    /// with the NOPERM error text, after recording the denial in ACL LOG.
    pub(super) fn check_permission(
        &mut self,
        spec: &'static CommandSpec,
        request: &[Bytes],
    ) -> Result<(), String> {
        let users = self.shared.node.users().load();
        let Some(user) = users.get(&self.session.user) else {
            // Deleted while this command was on its way; `server::acl` closes the connection.
            self.session.close_after_reply = true;
            return Err("NOPERM this user was deleted".into());
        };
        let Err(denial) = acl::check(user, spec, request) else {
            return Ok(());
        };
        let (reason, object) = match denial {
            Denial::Command => (LogReason::Command, Bytes::from_static(spec.name.as_bytes())),
            Denial::Key(position) => (LogReason::Key, request[position].clone()),
            Denial::Channel(position) => (LogReason::Channel, request[position].clone()),
        };
        let username = self.session.user.clone();
        self.log_denial(reason, object, username);
        Err(acl::denial_error(denial, spec.name))
    }

    /// A write that runs a script, from a user who may not run everything, runs as that user:
    /// apply checks the script's calls (see `acl::script`), and its reply is an envelope for
    /// [`Connection::open_envelope`]. Any other write is proposed as it is.
    pub(super) fn as_user(&self, write: Write) -> Write {
        let users = self.shared.node.users().load();
        let unrestricted = users.get(&self.session.user).is_some_and(|user| user.is_unrestricted());
        if unrestricted || !script::runs_a_script(&write) {
            return write;
        }
        Write::AsUser(Box::new(UserWrite { user: self.session.user.clone(), write }))
    }

    /// The reply of a write proposed as a user: its denials go to ACL LOG, with the context
    /// `lua` (as Redis logs a denial inside a script), before the reply is answered.
    pub(super) fn open_envelope(&mut self, frame: Frame) -> Frame {
        let (reply, denials) = script::open_envelope(frame);
        self.log_script_denials(denials);
        reply
    }

    /// Runs a read on a view. A script's calls are checked against the connection's user as
    /// the view's users have it, the same users its entry would have had.
    pub(super) fn read_on_view(&mut self, view: &ReadView, read: &Read) -> Frame {
        let keyspace = &view.view.keyspace;
        if !matches!(read, Read::Script(_)) {
            return execute_read(keyspace, self.session.db, view.now_ms, read);
        }
        let users = Arc::clone(keyspace.users());
        let script_user = ScriptUser::new(users.get(&self.session.user).map(AsRef::as_ref));
        let frame =
            execute_read_as(keyspace, self.session.db, view.now_ms, read, Some(&script_user));
        self.log_script_denials(script_user.into_denials());
        frame
    }

    fn log_script_denials(&mut self, denials: Vec<ScriptDenial>) {
        for denial in denials {
            let reason = match denial.denied {
                DeniedObject::Command => LogReason::Command,
                DeniedObject::Key => LogReason::Key,
                DeniedObject::Channel => LogReason::Channel,
            };
            let username = self.session.user.clone();
            self.record_denial(LogContext::Lua, reason, denial.object, username, denial.count);
        }
    }

    /// Refuses a command its user may not run (arity errors come first, as in Redis): true
    /// when it was refused.
    pub(super) async fn refuse_if_denied(
        &mut self,
        spec: &'static CommandSpec,
        request: &[Bytes],
        command: &Result<Command, CommandError>,
    ) -> bool {
        if matches!(command, Err(CommandError::WrongArity(_))) {
            return false;
        }
        let Err(message) = self.check_permission(spec, request) else {
            return false;
        };
        self.stats.record(spec.name, Duration::ZERO, Outcome::Rejected);
        // A refused EXEC ends any transaction, naming why (Redis's `execCommandAbort`, which
        // answers so even outside MULTI).
        if spec.name == "exec" {
            self.transaction.clear();
            let reason = CommandError::Other(message.into());
            self.refuse(&exec_refused(&reason).to_frame()).await;
        } else {
            self.refuse(&Frame::Error(message.into())).await;
        }
        true
    }

    /// A write joins the pending writes; ACL SETUSER only once this node's users accept it
    /// (see `check_set_user`), its error being the reply otherwise.
    pub(super) async fn queue_write(
        &mut self,
        spec: &'static CommandSpec,
        arguments: Vec<Bytes>,
        write: Write,
        started: Instant,
    ) {
        match self.check_set_user(&write) {
            Ok(()) => {
                let request = WriteRequest { db: self.session.db, write: self.as_user(write) };
                self.pending_writes.push(super::PendingWrite { spec, arguments, request });
            }
            Err(frame) => {
                self.commit_pending().await;
                self.record(spec, &arguments, started.elapsed(), &frame);
                self.reply(&frame);
            }
        }
    }

    fn log_denial(&mut self, reason: LogReason, object: Bytes, username: Bytes) {
        let context =
            if self.transaction.is_queueing() { LogContext::Multi } else { LogContext::TopLevel };
        self.record_denial(context, reason, object, username, 1);
    }

    /// Records `count` equal denials in ACL LOG.
    fn record_denial(
        &mut self,
        context: LogContext,
        reason: LogReason,
        object: Bytes,
        username: Bytes,
        count: u64,
    ) {
        self.publish_activity();
        self.shared.acl_log.record(LogEntry {
            count,
            reason,
            context,
            object,
            username,
            at: Instant::now(),
            client_info: self.client.line(),
        });
    }

    /// ACL SETUSER is tried on this node's users before it is proposed, so that a bad rule
    /// costs no log entry and its error names the rule as typed (the log holds passwords
    /// hashed). Apply decides again, on the users as of its entry.
    fn check_set_user(&self, write: &Write) -> Result<(), Frame> {
        let Write::Acl(AclWrite::SetUser { name, typed, .. }) = write else {
            return Ok(());
        };
        let mut users = Users::clone(&self.shared.node.users().load());
        users.set_user(name, typed).map_err(|error| Frame::Error(error.message().into()))
    }

    /// The ACL subcommands the connection answers (SETUSER and DELUSER are writes).
    pub(super) fn execute_acl(&mut self, command: AclControl) -> Frame {
        let users = Arc::clone(&self.shared.node.users().load());
        match command {
            AclControl::Cat { category } => category_reply(category.as_deref()),
            AclControl::GenPass { bits } => generate_password(bits),
            AclControl::GetUser { name } => match users.get(&name) {
                Some(user) => describe_user(user),
                None => Frame::Null,
            },
            AclControl::List => Frame::Array(
                users
                    .iter()
                    .map(|user| {
                        let mut line = b"user ".to_vec();
                        line.extend_from_slice(user.name());
                        line.push(b' ');
                        line.extend_from_slice(&user.describe());
                        Frame::Bulk(Bytes::from(line))
                    })
                    .collect(),
            ),
            AclControl::Users => {
                Frame::Array(users.iter().map(|user| Frame::Bulk(user.name().clone())).collect())
            }
            AclControl::WhoAmI => Frame::Bulk(self.session.user.clone()),
            AclControl::Log(LogRequest::Reset) => {
                self.shared.acl_log.clear();
                Frame::ok()
            }
            AclControl::Log(LogRequest::Newest(count)) => {
                let now = Instant::now();
                let entries = self.shared.acl_log.newest(count);
                Frame::Array(entries.iter().map(|entry| entry.to_frame(now)).collect())
            }
            AclControl::DryRun { user, request } => dry_run(&users, &user, &request),
            AclControl::File => Frame::error(NO_ACL_FILE),
            AclControl::Help => help(ACL_HELP),
        }
    }
}

/// ACL CAT: the categories, or the commands of one (Redis's whole table, in name order; Redis
/// lists them in the order of its hash table).
fn category_reply(category: Option<&[u8]>) -> Frame {
    let Some(category) = category else {
        return Frame::Array(AclCategories::each().map(|(_, name)| Frame::bulk(name)).collect());
    };
    let Some(flag) = std::str::from_utf8(category).ok().and_then(AclCategories::from_name) else {
        return Frame::Error(
            format!("ERR Unknown category '{}'", String::from_utf8_lossy(category)).into(),
        );
    };
    Frame::Array(
        table::all()
            .map(table::command)
            .filter(|command| command.categories.contains(flag))
            .map(|command| Frame::bulk(command.name))
            .collect(),
    )
}

/// ACL GENPASS: `bits` random bits as hex digits, rounded up to a whole digit.
fn generate_password(bits: u32) -> Frame {
    let digits = bits.div_ceil(4) as usize;
    let mut random = vec![0u8; digits.div_ceil(2)];
    if let Err(error) = getrandom::fill(&mut random) {
        return Frame::Error(format!("ERR no randomness available: {error}").into());
    }
    let mut text: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
    text.truncate(digits);
    Frame::bulk(text)
}

/// ACL GETUSER's reply: a map in RESP3, a flat array in RESP2, as Redis.
fn describe_user(user: &User) -> Frame {
    let field = |name: &'static str| Frame::Bulk(Bytes::from_static(name.as_bytes()));
    let mut fields = vec![
        (field("flags"), Frame::Set(user.flags().into_iter().map(Frame::bulk).collect())),
        (
            field("passwords"),
            Frame::Array(user.password_hashes().iter().map(Frame::bulk).collect()),
        ),
    ];
    let root = user.root();
    fields.push((field("commands"), Frame::Bulk(Bytes::from(root.describe_commands()))));
    fields.push((field("keys"), Frame::Bulk(Bytes::from(root.describe_keys()))));
    fields.push((field("channels"), Frame::Bulk(Bytes::from(root.describe_channels()))));
    let selectors = user
        .selectors()
        .iter()
        .map(|selector| {
            Frame::Map(vec![
                (field("commands"), Frame::Bulk(Bytes::from(selector.describe_commands()))),
                (field("keys"), Frame::Bulk(Bytes::from(selector.describe_keys()))),
                (field("channels"), Frame::Bulk(Bytes::from(selector.describe_channels()))),
            ])
        })
        .collect();
    fields.push((field("selectors"), Frame::Array(selectors)));
    Frame::Map(fields)
}

/// ACL DRYRUN: OK, or the verbose denial as a bulk string, as Redis 7.0.
fn dry_run(users: &Users, name: &[u8], request: &[Bytes]) -> Frame {
    let Some(user) = users.get(name) else {
        return Frame::Error(
            format!("ERR User '{}' not found", String::from_utf8_lossy(name)).into(),
        );
    };
    let not_found = || {
        Frame::Error(
            format!("ERR Command '{}' not found", String::from_utf8_lossy(&request[0])).into(),
        )
    };
    let Some(mut spec) = lookup(&request[0]) else {
        return not_found();
    };
    if !spec.subcommands.is_empty() && request.len() > 1 {
        match lookup_subcommand(spec, &request[1]) {
            Some(subcommand) => spec = subcommand,
            None => return not_found(),
        }
    }
    if !crate::command::fits_arity(spec, request.len()) {
        return Frame::Error(
            format!("ERR wrong number of arguments for '{}' command", spec.name).into(),
        );
    }
    match acl::check(user, spec, request) {
        Ok(()) => Frame::ok(),
        Err(Denial::Command) => {
            Frame::bulk(format!("This user has no permissions to run the '{}' command", spec.name))
        }
        Err(Denial::Key(position)) => Frame::bulk(format!(
            "This user has no permissions to access the '{}' key",
            String::from_utf8_lossy(&request[position])
        )),
        Err(Denial::Channel(position)) => Frame::bulk(format!(
            "This user has no permissions to access the '{}' channel",
            String::from_utf8_lossy(&request[position])
        )),
    }
}
