//! One client connection: read, decode, execute in order, reply in one write.
//!
//! `Connection` is one type whose `impl` is filed by job: this file has the connection loop,
//! the dispatch of each command and the reply buffer; the child modules add the commands that
//! belong to a connection rather than to the keyspace. They never import each other: each
//! reaches the others only through `Connection`'s methods.
//!
//! | module | what |
//! |---|---|
//! | `control` | AUTH, HELLO, SELECT, RESET, CLIENT, SAVE, SHUTDOWN, INFO, CONFIG, COMMAND |
//! | `transaction` | WATCH and the MULTI queue, EXEC |
//! | `subscriptions` | (P)(UN)SUBSCRIBE, PUBSUB, subscribed mode, message delivery |
//! | `blocking` | blocking pops (BLPOP and the others) |
//! | `admin` | the `CONCORD.*` commands |
//! | `slow_commands` | SLOWLOG, and what enters it |

mod acl;
mod admin;
mod blocking;
mod control;
mod monitoring;
mod pausing;
mod slow_commands;
mod subscriptions;
mod transaction;
mod wait;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::stream::ClientStream;

use self::monitoring::{next_monitor_line, MonitorLine, MONITOR_KEYSPACE};
use self::subscriptions::next_message;
use self::transaction::{Intercepted, TransactionState};
use super::{cross_protocol, protected_mode, BufferUsage, ClientInfo, Shared};
use crate::command::blocking::BlockingWrite;
use crate::command::control::{Control, ReplyMode};
use crate::command::scripting::functions::{FunctionCall, FunctionRead, FunctionWrite};
use crate::command::scripting::{ScriptRead, ScriptWrite};
use crate::command::{
    self, pubsub, Command, CommandError, CommandFlags, CommandSpec, DbIndex, Parsed, Read, Write,
};
use crate::metrics::{LocalCommandStats, Outcome};
use crate::node::{Mailbox, ReadView};
use crate::resp::{self, Decoder, Frame, Protocol};
use crate::state_machine::{function_runs_on_view, WriteRequest};

/// The initial size of a connection's read and write buffers; they grow as needed up to the
/// configured limits.
const BUFFER_BYTES_INITIAL: usize = 16 * 1024;

/// The most buffer space reserved ahead of one read for a large bulk still arriving.
const READ_RESERVE_BYTES_MAX: usize = 1024 * 1024;

/// A write buffer larger than this is sent before executing more of the batch, so that a
/// pipeline of large replies does not pile up in memory.
const OUTPUT_FLUSH_BYTES: usize = 1024 * 1024;

/// Accepts one connection (on TLS, once its handshake is done): registers it, serves it until
/// it closes, unregisters it.
pub(super) async fn serve(mut stream: ClientStream, peer: SocketAddr, shared: Arc<Shared>) {
    let local = stream.tcp().local_addr().unwrap_or(peer);
    let max_clients = shared.settings.max_clients();
    let descriptor = raw_fd(stream.tcp());
    let Some(client) = shared.clients.register(peer, local, descriptor, max_clients) else {
        // Best effort, as Redis: the client may not read it before the close.
        let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
        stream.close().await;
        return;
    };
    if protected_mode::refuses(&shared, peer.ip()) {
        // Best effort too; the close follows at once.
        let _ = stream.write_all(protected_mode::DENIED).await;
        stream.close().await;
        shared.clients.unregister(client.id);
        return;
    }
    let _ = stream.tcp().set_nodelay(true);
    if let Some(idle) = shared.settings.tcp_keepalive() {
        set_keepalive(stream.tcp(), idle);
    }
    let id = client.id;
    let mut connection = Connection::new(stream, Arc::clone(&shared), client);
    if let Err(error) = connection.run().await {
        tracing::debug!(client = id, %error, "connection closed with an error");
    }
    connection.leave_subscriptions();
    connection.stream.close().await;
    shared.clients.unregister(id);
}

/// `tcp-keepalive` as Redis sets it: probes start after `idle` without traffic, then come
/// every third of it, and three unanswered ones close the connection. Best effort: a socket
/// that refuses keeps working without.
fn set_keepalive(stream: &TcpStream, idle: Duration) {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval((idle / 3).max(Duration::from_secs(1)))
        .with_retries(3);
    if let Err(error) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(%error, "cannot set TCP keepalive");
    }
}

/// The socket's file descriptor where the platform has one (CLIENT LIST `fd=`), else -1.
fn raw_fd(stream: &TcpStream) -> i64 {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        i64::from(stream.as_raw_fd())
    }
    #[cfg(not(unix))]
    {
        let _ = stream;
        -1
    }
}

/// The per-connection state that commands can change.
#[derive(Debug)]
struct Session {
    db: DbIndex,
    protocol: Protocol,
    /// Whether the client may run commands other than AUTH, HELLO, QUIT and RESET. Set at
    /// connect time when no password is configured, as in Redis: a password set later does
    /// not lock out clients already connected.
    authenticated: bool,
    /// The ACL user the connection runs as: `default` until AUTH.
    user: Bytes,
    /// Set by QUIT (and protocol errors): close once the pending replies are written.
    close_after_reply: bool,
    /// A blocking command of this connection ended in an error whose outcome may be unknown,
    /// so the log may still register its waiter or serve it; the next blocking command
    /// settles that first (see `blocking`).
    blocking_unsettled: bool,
    /// The connection's number in the replicated waiter table: its id, until a blocking
    /// command ended unsettled, then a fresh one each time (see `node::deliveries`). Kept here
    /// rather than in the mailbox, which RESET drops.
    waiter_number: u64,
    /// A subscription change of this connection ended in an error whose outcome may be
    /// unknown, so the replicated table may hold subscriptions the connection does not know
    /// of; its close or RESET removes them (see `subscriptions`).
    subscriptions_unsettled: bool,
    /// Which replies are written (CLIENT REPLY).
    replies: Replies,
}

/// CLIENT REPLY's state: which of the connection's replies are written. A reply is one
/// command's, however it is written: an EXEC's header and the elements after it are one.
#[derive(Debug, Default)]
struct Replies {
    mode: ReplyMode,
    /// Parts of a reply whose header was already decided: how many are still to come, and
    /// whether they are written.
    parts_left: usize,
    parts_written: bool,
}

impl Replies {
    /// Redis's rules: ON clears OFF and SKIP, OFF holds until ON, and SKIP counts only while
    /// replies are on.
    fn set(&mut self, mode: ReplyMode) {
        if mode != ReplyMode::Skip || self.mode != ReplyMode::Off {
            self.mode = mode;
        }
    }

    /// Whether the next whole reply is written; SKIP is spent on it.
    fn next_written(&mut self) -> bool {
        if self.parts_left > 0 {
            self.parts_left -= 1;
            return self.parts_written;
        }
        match self.mode {
            ReplyMode::On => true,
            ReplyMode::Off => false,
            ReplyMode::Skip => {
                self.mode = ReplyMode::On;
                false
            }
        }
    }

    /// Whether an aggregate reply's header is written, deciding its next `parts` with it.
    fn header_written(&mut self, parts: usize) -> bool {
        let written = self.next_written();
        self.parts_left = parts;
        self.parts_written = written;
        written
    }
}

struct Connection {
    stream: ClientStream,
    shared: Arc<Shared>,
    client: Arc<ClientInfo>,
    session: Session,
    decoder: Decoder,
    /// The settings generation the decoder's limits come from.
    limits_generation: u64,
    /// The most bytes the read buffer ever held (CLIENT LIST `rbp`).
    input_peak: usize,
    input: BytesMut,
    output: BytesMut,
    /// Writes parsed but not yet proposed; always the tail of the batch, after every reply
    /// already in `output`.
    pending_writes: Vec<PendingWrite>,
    /// The view reads in this batch use; dropped whenever this connection's writes commit.
    view: Option<ReadView>,
    stats: LocalCommandStats,
    /// What CLIENT LIST shows about this client, kept here while a batch runs and copied to
    /// the shared `ClientInfo` once per batch and before each control command (the only
    /// commands that read it), so that the hot path takes no lock per command.
    activity: Activity,
    /// Watched keys and the MULTI queue (see `transaction`).
    transaction: TransactionState,
    /// Subscriptions and deferred replies, once the connection subscribed or blocked (see
    /// `subscriptions`).
    mailbox: Option<Mailbox>,
    /// The node's command lines, once the connection ran MONITOR (see `monitoring`).
    monitor: Option<crate::server::monitor::Monitor>,
}

/// What arrived for the connection other than its client's bytes.
enum Push {
    /// A pub/sub message, or `None` when the connection was cut off for falling behind.
    Message(Option<crate::node::Delivery>),
    /// A MONITOR line.
    Monitor(MonitorLine),
}

/// A write waiting for the batch's proposal, with the request as sent for SLOWLOG.
#[derive(Debug)]
struct PendingWrite {
    spec: &'static CommandSpec,
    arguments: Vec<Bytes>,
    request: WriteRequest,
}

/// A connection's recent activity, not yet copied to its `ClientInfo`.
#[derive(Debug, Default)]
struct Activity {
    last_command: Option<&'static CommandSpec>,
    commands: u64,
    argument_bytes: usize,
}

impl Connection {
    fn new(stream: ClientStream, shared: Arc<Shared>, client: Arc<ClientInfo>) -> Connection {
        let limits_generation = shared.settings.limits_generation();
        let decoder = Decoder::new(shared.settings.resp_limits());
        let authenticated = acl::starts_authenticated(&shared);
        let waiter_number = client.id;
        Connection {
            stream,
            shared,
            client,
            session: Session {
                db: 0,
                protocol: Protocol::Resp2,
                authenticated,
                user: Bytes::from_static(crate::command::acl::DEFAULT_USER),
                close_after_reply: false,
                blocking_unsettled: false,
                replies: Replies::default(),
                waiter_number,
                subscriptions_unsettled: false,
            },
            decoder,
            limits_generation,
            input_peak: 0,
            input: BytesMut::with_capacity(BUFFER_BYTES_INITIAL),
            output: BytesMut::with_capacity(BUFFER_BYTES_INITIAL),
            pending_writes: Vec::new(),
            view: None,
            stats: LocalCommandStats::default(),
            activity: Activity::default(),
            transaction: TransactionState::default(),
            mailbox: None,
            monitor: None,
        }
    }

    async fn run(&mut self) -> std::io::Result<()> {
        let client = Arc::clone(&self.client);
        let mut shutdown = self.shared.shutdown.subscribe();
        loop {
            // Room for the rest of a large bulk being received, in steps, so that a client that
            // only claims a huge bulk does not get the memory for it.
            let missing = self.decoder.missing_bytes(&self.input);
            self.input.reserve(missing.clamp(BUFFER_BYTES_INITIAL, READ_RESERVE_BYTES_MAX));
            let idle_limit = self.idle_limit();
            let read = tokio::select! {
                read = self.stream.read_buf(&mut self.input) => Ok(read?),
                () = sleep_or_never(idle_limit) => {
                    tracing::debug!(client = client.id, "closing idle client");
                    return Ok(());
                }
                _ = client.kill_signal.notified() => return Ok(()),
                _ = shutdown.wait_for(|stopping| *stopping) => return Ok(()),
                delivery = next_message(&mut self.mailbox) => Err(Push::Message(delivery)),
                line = next_monitor_line(&mut self.monitor) => Err(Push::Monitor(line)),
            };
            let read = match read {
                Ok(read) => read,
                // Cut off for falling behind (see `node::deliveries`).
                Err(Push::Message(None)) => return Ok(()),
                Err(Push::Message(Some(delivery))) => {
                    self.push(&delivery.to_frame());
                    self.write_queued_messages();
                    self.flush().await?;
                    continue;
                }
                Err(Push::Monitor(MonitorLine::Line(line))) => {
                    self.write_monitor_lines(line);
                    self.flush().await?;
                    continue;
                }
                Err(Push::Monitor(MonitorLine::FellBehind)) => {
                    tracing::warn!(
                        client = client.id,
                        "closing monitor that fell {} lines behind",
                        crate::server::monitor::LINES_QUEUED_MAX
                    );
                    return Ok(());
                }
            };
            if read == 0 {
                return Ok(());
            }
            self.execute_buffered().await?;
            if self.session.close_after_reply || client.is_killed() {
                return Ok(());
            }
            if self.input.len() > self.shared.settings.client_query_buffer_limit() {
                tracing::warn!(
                    client = client.id,
                    "closing client that reached max query buffer length"
                );
                return Ok(());
            }
        }
    }

    /// How long this connection may wait for its next request (`timeout`): forever when it
    /// is 0 or the client is subscribed, as in Redis (a blocked client is not waiting here).
    fn idle_limit(&self) -> Option<Duration> {
        let subscribed =
            self.mailbox.as_ref().is_some_and(|mailbox| mailbox.subscription_count() > 0);
        self.shared.settings.idle_timeout().filter(|_| !subscribed)
    }

    /// Executes every complete request in the input buffer, then writes the replies.
    async fn execute_buffered(&mut self) -> std::io::Result<()> {
        self.input_peak = self.input_peak.max(self.input.len());
        // A view serves one batch only: a read in a later batch must see every write
        // acknowledged (to any client) before that batch arrived.
        self.view = None;
        self.refresh_decoder_limits();
        loop {
            // Before login, Redis holds requests to tighter limits; AUTH earlier in this very
            // batch lifts them for the requests after it.
            self.decoder.set_authentication_required(!self.session.authenticated);
            match self.decoder.decode(&mut self.input) {
                Ok(Some(arguments)) if arguments.is_empty() => continue,
                Ok(Some(arguments)) if cross_protocol::is_http_request(&arguments[0]) => {
                    return self.close_cross_protocol().await;
                }
                Ok(Some(arguments)) => self.execute(arguments).await,
                Ok(None) => break,
                Err(error) => {
                    // The stream can no longer be framed: answer, then close, as Redis does.
                    self.commit_pending().await;
                    tracing::debug!(client = self.client.id, %error, "protocol error");
                    self.reply(&error.to_frame());
                    self.session.close_after_reply = true;
                    break;
                }
            }
            if self.session.close_after_reply {
                break;
            }
            if self.output.len() >= OUTPUT_FLUSH_BYTES {
                self.commit_pending().await;
                self.flush().await?;
            }
        }
        self.commit_pending().await;
        self.shared.command_stats.merge(&mut self.stats);
        self.publish_activity();
        self.flush().await
    }

    /// Closes a connection that sent HTTP (see `server::cross_protocol`): what came before ran
    /// (its writes are committed), but no reply is sent.
    async fn close_cross_protocol(&mut self) -> std::io::Result<()> {
        self.commit_pending().await;
        self.output.clear();
        self.session.close_after_reply = true;
        let address = self.client.peer.to_string();
        self.shared.cross_protocol_warnings.closed(&address, Instant::now());
        Ok(())
    }

    /// CONFIG SET may have changed a decoder limit. A fresh decoder re-reads the partial
    /// request at the front of the buffer from its start, so nothing is lost by replacing it.
    fn refresh_decoder_limits(&mut self) {
        let generation = self.shared.settings.limits_generation();
        if generation != self.limits_generation {
            self.limits_generation = generation;
            self.decoder = Decoder::new(self.shared.settings.resp_limits());
        }
    }

    /// Executes one request: refuses it, queues it (inside MULTI or as a pending write), or
    /// runs it now.
    async fn execute(&mut self, arguments: Vec<Bytes>) {
        let started = Instant::now();
        self.activity.argument_bytes = arguments.iter().map(Bytes::len).sum();
        let argument_bytes = self.activity.argument_bytes;
        let Parsed { spec, command } = match command::parse_request(&arguments) {
            Ok(parsed) => parsed,
            Err(error) => return self.refuse(&error.to_frame()).await,
        };
        self.activity.last_command = Some(spec);
        self.activity.commands += 1;
        if self.requires_authentication(spec, &command) {
            self.stats.record(spec.name, Duration::ZERO, Outcome::Rejected);
            return self.refuse(&Frame::error("NOAUTH Authentication required.")).await;
        }
        if self.refuse_if_denied(spec, &arguments, &command).await {
            return;
        }
        if self.in_subscribed_mode() && !pubsub::allowed_in_subscribed_mode(spec.name) {
            return self.refuse(&pubsub::subscribed_mode_error(spec.name).to_frame()).await;
        }
        if self.monitor.is_some() && matches!(command, Ok(Command::Read(_) | Command::Write(_))) {
            return self.refuse(&Frame::error(MONITOR_KEYSPACE)).await;
        }
        if !self.wait_out_pause(spec, &command).await {
            return;
        }
        // Inside MULTI, commands are queued for EXEC rather than run (see `transaction`).
        let command = if self.transaction.is_queueing() {
            match self.intercept(spec, &arguments, argument_bytes, command) {
                Intercepted::Answered(frame) => return self.reply(&frame),
                Intercepted::RunNow(command) => command,
            }
        } else {
            command
        };
        match command {
            Ok(Command::Write(Write::Blocking(BlockingWrite::Block(block)))) => {
                self.commit_pending().await;
                // Monitors see a blocking command when it blocks, as in Redis.
                self.feed_monitors(spec, &arguments);
                let started = Instant::now();
                let (frame, blocked_for) = self.execute_blocking(block).await;
                // Redis counts a blocking command's work, not its wait, and does not log one
                // that timed out (the only way it replies null).
                let elapsed = started.elapsed().saturating_sub(blocked_for);
                self.record_stats(spec, elapsed, &frame);
                if !frame.is_null() {
                    self.log_if_slow(spec, &arguments, elapsed);
                }
                if !self.session.close_after_reply {
                    self.reply(&frame);
                }
            }
            Ok(Command::Write(Write::Script(ScriptWrite::Function(FunctionWrite::Call(call)))))
                if self.function_runs_on_view(&call.function) =>
            {
                self.run_function_call(spec, arguments, call).await;
            }
            Ok(Command::Write(write)) => self.queue_write(spec, arguments, write, started).await,
            Ok(Command::Read(read)) => self.run_read(spec, &arguments, &read).await,
            Ok(Command::Control(control)) => {
                self.execute_connection_command(spec, &arguments, control).await;
            }
            // An arity error refuses the command before it runs, as in Redis, so it is not
            // timed; any other argument error is the command's own reply.
            Err(error @ CommandError::WrongArity(_)) => {
                self.commit_pending().await;
                self.stats.record(spec.name, Duration::ZERO, Outcome::Rejected);
                self.reply(&error.to_frame());
            }
            Err(error) => {
                let frame = error.to_frame();
                self.commit_pending().await;
                self.record(spec, &arguments, started.elapsed(), &frame);
                self.reply(&frame);
            }
        }
    }

    /// Answers a request refused before it could run. Inside MULTI, that makes EXEC fail.
    async fn refuse(&mut self, frame: &Frame) {
        self.commit_pending().await;
        self.transaction.refuse();
        self.reply(frame);
    }

    /// Runs a read on the batch's view, after this connection's pending writes.
    async fn run_read(&mut self, spec: &'static CommandSpec, arguments: &[Bytes], read: &Read) {
        self.commit_pending().await;
        let started = Instant::now();
        let frame = match self.read_view().await {
            Ok(view) => self.read_on_view(&view, read),
            Err(error) => error.to_frame(),
        };
        self.record(spec, arguments, started.elapsed(), &frame);
        self.reply(&frame);
    }

    /// Whether the newest local view says FCALL of `function` cannot write (it is flagged
    /// `no-writes`), so that it may run on a view rather than through the log. The view may be
    /// behind; `run_function_call` checks again on the linearizable view it reads.
    fn function_runs_on_view(&self, function: &[u8]) -> bool {
        function_runs_on_view(&self.shared.node.latest_view().keyspace, function)
    }

    /// FCALL of a function that the newest local view says cannot write: run on a
    /// linearizable view, as FCALL_RO would be, unless that view says it may write after all
    /// (its library was replaced meanwhile), in which case it goes through the log.
    async fn run_function_call(
        &mut self,
        spec: &'static CommandSpec,
        arguments: Vec<Bytes>,
        call: FunctionCall,
    ) {
        self.commit_pending().await;
        let started = Instant::now();
        let view = match self.read_view().await {
            Ok(view) => view,
            Err(error) => return self.reply(&error.to_frame()),
        };
        if !function_runs_on_view(&view.view.keyspace, &call.function) {
            let write =
                self.as_user(Write::Script(ScriptWrite::Function(FunctionWrite::Call(call))));
            let request = WriteRequest { db: self.session.db, write };
            self.pending_writes.push(PendingWrite { spec, arguments, request });
            return;
        }
        let read = Read::Script(ScriptRead::Function(FunctionRead::Call {
            call,
            read_only_command: false,
        }));
        let frame = self.read_on_view(&view, &read);
        self.record(spec, &arguments, started.elapsed(), &frame);
        self.reply(&frame);
    }

    /// Runs a control command (see `control`), after this connection's pending writes.
    async fn execute_connection_command(
        &mut self,
        spec: &'static CommandSpec,
        arguments: &[Bytes],
        control: Control,
    ) {
        self.commit_pending().await;
        self.publish_activity();
        let started = Instant::now();
        // SHUTDOWN has no reply (the connection closes when the process stops), and EXEC
        // writes its own, one element at a time.
        match self.execute_control(control).await {
            Some(frame) => {
                self.record(spec, arguments, started.elapsed(), &frame);
                self.reply(&frame);
            }
            None => {
                self.stats.record(spec.name, started.elapsed(), Outcome::Succeeded);
                // An EXEC that ran wrote its own reply; monitors see it after its commands.
                if spec.name == "exec" {
                    self.feed_exec(arguments);
                } else {
                    self.feed_monitors(spec, arguments);
                }
            }
        }
    }

    /// Proposes the pending writes as one batch and encodes their replies.
    async fn commit_pending(&mut self) {
        if self.pending_writes.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending_writes);
        let mut requests = Vec::with_capacity(pending.len());
        let mut commands = Vec::with_capacity(pending.len());
        for PendingWrite { spec, arguments, request } in pending {
            let as_user = matches!(request.write, Write::AsUser(_));
            requests.push(request);
            commands.push((spec, arguments, as_user));
        }
        let started = Instant::now();
        let result = self.shared.node.write(requests).await;
        // Reads after these writes must see them: take a fresh view next time.
        self.view = None;
        // Messages delivered while these writes were applied come first, as in Redis.
        self.write_queued_messages();
        let share = started.elapsed() / commands.len() as u32;
        match result {
            Ok(frames) => {
                for ((spec, arguments, as_user), frame) in commands.into_iter().zip(frames) {
                    let frame = if as_user { self.open_envelope(frame) } else { frame };
                    self.record(spec, &arguments, share, &frame);
                    self.reply(&frame);
                }
            }
            Err(error) => {
                let frame = error.to_frame();
                for _ in commands {
                    self.reply(&frame);
                }
            }
        }
    }

    /// Drops the batch's view: this connection's writes committed, and reads after them must
    /// see them.
    fn forget_view(&mut self) {
        self.view = None;
    }

    async fn read_view(&mut self) -> Result<ReadView, crate::node::NodeError> {
        if let Some(view) = &self.view {
            return Ok(view.clone());
        }
        let view = self.shared.node.read_view().await?;
        self.view = Some(view.clone());
        Ok(view)
    }

    /// Redis checks authentication after the name and the arity, before anything else: a
    /// client that must authenticate gets NOAUTH for every command not flagged `no_auth`.
    fn requires_authentication(
        &self,
        spec: &CommandSpec,
        command: &Result<Command, CommandError>,
    ) -> bool {
        let arity_error = matches!(command, Err(CommandError::WrongArity(_)));
        !arity_error && !spec.has_flag(CommandFlags::NO_AUTH) && self.must_authenticate()
    }

    /// Copies the activity CLIENT LIST shows (last command, idle time, buffer sizes as of the
    /// last command) to the shared `ClientInfo`.
    fn publish_activity(&mut self) {
        let Some(spec) = self.activity.last_command else {
            return;
        };
        *self.client.buffers.lock() = BufferUsage {
            query_buffer: self.input.len(),
            query_buffer_free: self.input.capacity() - self.input.len(),
            arguments: self.activity.argument_bytes,
            read_buffer_size: self.input.capacity(),
            read_buffer_peak: self.input_peak,
            output: self.output.len(),
            output_capacity: self.output.capacity(),
        };
        let elapsed_ms = self.client.connected_at.elapsed().as_millis() as u64;
        self.client.last_command_ms.store(elapsed_ms, Ordering::Relaxed);
        let commands = std::mem::take(&mut self.activity.commands);
        self.client.commands_processed.fetch_add(commands, Ordering::Relaxed);
        *self.client.last_command.lock() = spec.name;
    }

    /// Counts a command that ran in INFO commandstats, as failed if its reply is an error,
    /// and logs it in SLOWLOG if it took long enough. `arguments` is the request as sent.
    fn record(
        &mut self,
        spec: &'static CommandSpec,
        arguments: &[Bytes],
        elapsed: Duration,
        frame: &Frame,
    ) {
        self.record_stats(spec, elapsed, frame);
        self.log_if_slow(spec, arguments, elapsed);
        self.feed_monitors(spec, arguments);
    }

    /// Writes `line` and every other monitor line already there into the output.
    fn write_monitor_lines(&mut self, line: Bytes) {
        self.output.extend_from_slice(&line);
        let Some(monitor) = self.monitor.as_mut() else { return };
        // Lines that arrive meanwhile wait for the next turn; falling behind shows there.
        while let Ok(line) = monitor.lines.try_recv() {
            self.output.extend_from_slice(&line);
            if self.output.len() >= OUTPUT_FLUSH_BYTES {
                break;
            }
        }
    }

    /// Counts a command in INFO commandstats only, as failed if its reply is an error.
    fn record_stats(&mut self, spec: &'static CommandSpec, elapsed: Duration, frame: &Frame) {
        let outcome = if frame.is_error() { Outcome::Failed } else { Outcome::Succeeded };
        self.stats.record(spec.name, elapsed, outcome);
    }

    /// Encodes one reply in the connection's protocol, unless CLIENT REPLY turned it off. An
    /// error counts in INFO errorstats either way, as in Redis.
    fn reply(&mut self, frame: &Frame) {
        if let Frame::Error(message) = frame {
            self.stats.record_error(message);
        }
        if self.session.replies.next_written() {
            resp::encode(frame, self.session.protocol, &mut self.output);
        }
    }

    /// Encodes a push (a subscription's confirmation, a message): written whatever CLIENT
    /// REPLY says, as in Redis, and not counted as a reply.
    fn push(&mut self, frame: &Frame) {
        resp::encode(frame, self.session.protocol, &mut self.output);
    }

    /// Starts an array reply of `length` elements, to be followed by that many `reply` calls.
    /// The header is the same in RESP2 and RESP3.
    fn reply_array_header(&mut self, length: usize) {
        if !self.session.replies.header_written(length) {
            return;
        }
        self.output.extend_from_slice(b"*");
        self.output.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
        self.output.extend_from_slice(b"\r\n");
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.output.is_empty() {
            self.stream.write_all(&self.output).await?;
            self.output.clear();
            // A TLS session may hold encrypted bytes the socket had no room for.
            self.stream.flush().await?;
        }
        Ok(())
    }
}

/// Waits for `until` while the connection waits for something other than its client's next
/// request (a blocking pop to be served, WAIT's count): `None` as soon as the client is gone,
/// killed (CLIENT KILL), the server stopping, or its socket closed. Requests that arrive
/// meanwhile wait in the input buffer, as in Redis; once it holds more than the query buffer
/// limit the socket is left unread, so a client cannot grow the buffer while it waits.
async fn watching_client<T>(
    stream: &mut ClientStream,
    input: &mut BytesMut,
    shared: &Shared,
    client: &ClientInfo,
    until: impl std::future::Future<Output = T>,
) -> Option<T> {
    let mut shutdown = shared.shutdown.subscribe();
    if client.is_killed() || *shutdown.borrow() {
        return None;
    }
    let input_limit = shared.settings.client_query_buffer_limit();
    tokio::pin!(until);
    loop {
        // Biased, so that a client known to be gone is never handed what it waited for.
        tokio::select! {
            biased;
            _ = client.kill_signal.notified() => return None,
            _ = shutdown.wait_for(|stopping| *stopping) => return None,
            read = stream.read_buf(input), if input.len() <= input_limit => {
                if !matches!(read, Ok(read) if read > 0) {
                    return None;
                }
            }
            done = &mut until => return Some(done),
        }
    }
}

/// Sleeps for `limit`, or forever when there is none.
async fn sleep_or_never(limit: Option<Duration>) {
    match limit {
        Some(limit) => tokio::time::sleep(limit).await,
        None => std::future::pending().await,
    }
}
