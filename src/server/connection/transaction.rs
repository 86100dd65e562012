//! A connection's transaction: its watched keys, its MULTI queue, and EXEC.
//!
//! After MULTI, every command is queued and answered `+QUEUED`, except the ones Redis runs at
//! once (EXEC, DISCARD, MULTI and WATCH, which answer for themselves, and QUIT and RESET). A
//! command refused while queueing (unknown, wrong argument count, flagged `no_multi`, over the
//! queue's bounds) is answered with its error at once and makes EXEC fail with EXECABORT. Any
//! other argument error Concord finds at parse is queued as the command's reply, because Redis
//! finds those only when the command runs: it becomes that command's element of EXEC's array.
//!
//! EXEC sends the whole transaction through the log as one request ([`Transaction`]): the
//! queued reads and writes, each with the database it runs in, and the watched keys with what
//! WATCH saw. The state machine decides the watches and runs the steps atomically at one log
//! index, so even a transaction of reads alone goes through the log: that is what makes its
//! reads see one state, and it keeps EXEC to one path. Connection commands queued in the
//! transaction (PING, SELECT, CLIENT, CONFIG, INFO, ...) run here after the log request
//! returns, each answered in its place in the array; a queued SELECT already chose the database
//! of the steps after it when they were queued. The array is encoded one element at a time, in
//! the protocol in force at that point, so a HELLO in the transaction changes the encoding of
//! the elements after it, as in Redis.
//!
//! WATCH records each key's version from a read view (after this connection's own pending
//! writes). A write by anyone after that, this connection included, stamps a newer version,
//! which makes EXEC reply with the null array. EXEC, DISCARD, UNWATCH and RESET forget the
//! watched keys.
//!
//! Caveats: connection commands in a transaction run after its reads and writes, not between
//! them (INFO keyspace inside MULTI sees the state after the transaction). Statistics count
//! each queued command when EXEC runs it, and a refused EXEC, as Redis does.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Connection;
use crate::command::control::{ClientCommand, Control};
use crate::command::transactions::{
    exec_refused, Operation, Step, Transaction, TransactionCommand, WatchedKey,
    DISCARD_WITHOUT_MULTI, EXEC_ABORTED, EXEC_WITHOUT_MULTI, NESTED_MULTI, NOT_ALLOWED_IN_MULTI,
    WATCH_INSIDE_MULTI,
};
use crate::command::{
    fits_arity, Command, CommandError, CommandFlags, CommandSpec, DbIndex, Key, Write,
};
use crate::resp::Frame;
use crate::state_machine::{watch, WriteRequest};

/// A connection's watched keys and, between MULTI and EXEC or DISCARD, its queue.
#[derive(Debug, Default)]
pub(super) struct TransactionState {
    watched: Vec<WatchedKey>,
    /// The watched keys by database and name, so that watching a key twice keeps the first
    /// observation (as Redis does) without a scan of `watched`.
    watched_names: HashSet<(DbIndex, Key)>,
    queue: Option<Queue>,
}

#[derive(Debug)]
struct Queue {
    commands: Vec<Queued>,
    /// The argument bytes of the queued commands, for `transaction_bytes_max`.
    bytes: usize,
    /// The database the next queued command runs in: the connection's at MULTI, changed by
    /// each queued SELECT.
    db: DbIndex,
    /// Set by the first command refused while queueing: EXEC replies with it. Nothing more is
    /// stored once it is set, since the transaction can no longer run.
    refused: Option<CommandError>,
}

#[derive(Debug)]
struct Queued {
    spec: &'static CommandSpec,
    /// The request as sent, for SLOWLOG at EXEC.
    arguments: Vec<Bytes>,
    action: Action,
}

#[derive(Debug)]
enum Action {
    /// A read or write, run by the state machine inside the transaction's log request.
    Step(Step),
    /// A connection command, run here at EXEC.
    Control(Control),
    /// An argument error found at parse, which Redis would find only at EXEC: the command's
    /// reply in EXEC's array.
    Error(CommandError),
}

/// A queued command's part in EXEC's reply.
enum Planned {
    /// The next reply of the transaction's log request.
    Step,
    Control(Control),
    Error(CommandError),
}

/// What to do with a command sent inside MULTI.
pub(super) enum Intercepted {
    /// It was queued or refused; this is its reply.
    Answered(Frame),
    /// It runs now, as outside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    RunNow(Result<Command, CommandError>),
}

impl TransactionState {
    /// Whether a MULTI is open: commands are being queued.
    pub(super) fn is_queueing(&self) -> bool {
        self.queue.is_some()
    }

    /// Makes the open transaction's EXEC fail, for a command refused before it was parsed
    /// (unknown command or subcommand, NOAUTH). Does nothing outside MULTI.
    pub(super) fn refuse(&mut self) {
        if let Some(queue) = &mut self.queue {
            queue.refuse(EXEC_ABORTED);
        }
    }

    /// Drops the queue and the watched keys: DISCARD, EXEC and RESET.
    pub(super) fn clear(&mut self) {
        *self = TransactionState::default();
    }

    /// The queued commands, each with its write if it is one (what CLIENT PAUSE looks at).
    pub(super) fn queued(&self) -> impl Iterator<Item = (&'static CommandSpec, Option<&Write>)> {
        let commands = self.queue.as_ref().map_or(&[][..], |queue| &queue.commands[..]);
        commands.iter().map(|queued| match &queued.action {
            Action::Step(Step { operation: Operation::Write(write), .. }) => {
                (queued.spec, Some(write))
            }
            _ => (queued.spec, None),
        })
    }

    fn unwatch(&mut self) {
        self.watched = Vec::new();
        self.watched_names = HashSet::new();
    }
}

impl Queue {
    fn new(db: DbIndex) -> Queue {
        Queue { commands: Vec::new(), bytes: 0, db, refused: None }
    }

    /// Records the first reason EXEC must fail, and frees what was queued.
    fn refuse(&mut self, reason: CommandError) {
        if self.refused.is_none() {
            self.refused = Some(reason);
        }
        self.commands = Vec::new();
    }
}

impl Connection {
    /// Decides what happens to a parsed command while a MULTI is open. `argument_count` counts the
    /// name; `argument_bytes` is the size of all arguments.
    pub(super) fn intercept(
        &mut self,
        spec: &'static CommandSpec,
        arguments: &[Bytes],
        argument_bytes: usize,
        command: Result<Command, CommandError>,
    ) -> Intercepted {
        let intercepted = self.queue_command(spec, arguments, argument_bytes, command);
        self.note_queue_length();
        intercepted
    }

    /// Shows the queue's length in CLIENT LIST (`multi=`, flag `x`); -1 outside MULTI.
    pub(super) fn note_queue_length(&self) {
        let queue = self.transaction.queue.as_ref();
        let length = queue.map_or(-1, |queue| queue.commands.len() as i64);
        self.client.queued_commands.store(length, Ordering::Relaxed);
    }

    fn queue_command(
        &mut self,
        spec: &'static CommandSpec,
        arguments: &[Bytes],
        argument_bytes: usize,
        command: Result<Command, CommandError>,
    ) -> Intercepted {
        let argument_count = arguments.len();
        let commands_max = self.shared.config.transaction_commands_max;
        let bytes_max = self.shared.config.transaction_bytes_max;
        let state = &mut self.transaction;
        let queue = state.queue.as_mut().expect("intercept is called only inside MULTI");
        if !fits_arity(spec, argument_count) {
            let error = CommandError::WrongArity(spec.name.to_string());
            if spec.name == "exec" {
                state.clear();
                return Intercepted::Answered(exec_refused(&error).to_frame());
            }
            queue.refuse(EXEC_ABORTED);
            return Intercepted::Answered(error.to_frame());
        }
        if runs_at_once(&command) {
            return Intercepted::RunNow(command);
        }
        if spec.has_flag(CommandFlags::NO_MULTI) {
            queue.refuse(EXEC_ABORTED);
            return Intercepted::Answered(NOT_ALLOWED_IN_MULTI.to_frame());
        }
        if queue.refused.is_some() {
            return Intercepted::Answered(Frame::simple("QUEUED"));
        }
        if queue.commands.len() >= commands_max || queue.bytes + argument_bytes > bytes_max {
            let (reply, reason) = too_large(commands_max, bytes_max);
            queue.refuse(reason);
            return Intercepted::Answered(reply.to_frame());
        }
        let action = match command {
            Ok(Command::Read(read)) => {
                Action::Step(Step { db: queue.db, operation: Operation::Read(read) })
            }
            Ok(Command::Write(write)) => {
                Action::Step(Step { db: queue.db, operation: Operation::Write(write) })
            }
            Ok(Command::Control(control)) => {
                if let Control::Select { db } = control {
                    queue.db = db;
                }
                Action::Control(control)
            }
            Err(error) => Action::Error(error),
        };
        queue.bytes += argument_bytes;
        queue.commands.push(Queued { spec, arguments: arguments.to_vec(), action });
        Intercepted::Answered(Frame::simple("QUEUED"))
    }

    /// Runs a transaction command. `None` means the reply was already written (EXEC writes its
    /// array one element at a time).
    pub(super) async fn execute_transaction(
        &mut self,
        command: TransactionCommand,
    ) -> Option<Frame> {
        let reply = self.run_transaction_command(command).await;
        self.note_queue_length();
        reply
    }

    async fn run_transaction_command(&mut self, command: TransactionCommand) -> Option<Frame> {
        let state = &mut self.transaction;
        let frame = match command {
            TransactionCommand::Multi if state.is_queueing() => NESTED_MULTI.to_frame(),
            TransactionCommand::Multi => {
                state.queue = Some(Queue::new(self.session.db));
                Frame::ok()
            }
            TransactionCommand::Discard if !state.is_queueing() => DISCARD_WITHOUT_MULTI.to_frame(),
            TransactionCommand::Discard => {
                state.clear();
                Frame::ok()
            }
            TransactionCommand::Watch { .. } if state.is_queueing() => {
                WATCH_INSIDE_MULTI.to_frame()
            }
            TransactionCommand::Watch { keys } => self.execute_watch(keys).await,
            TransactionCommand::Unwatch => {
                state.unwatch();
                Frame::ok()
            }
            TransactionCommand::Exec => return self.execute_exec().await,
        };
        Some(frame)
    }

    /// Records what a view shows of each key not yet watched. The caller has committed this
    /// connection's pending writes, so the view includes them.
    async fn execute_watch(&mut self, keys: Vec<Key>) -> Frame {
        let view = match self.read_view().await {
            Ok(view) => view,
            Err(error) => return error.to_frame(),
        };
        let db = self.session.db;
        let state = &mut self.transaction;
        for key in keys {
            if state.watched_names.insert((db, key.clone())) {
                state.watched.push(watch(&view.view.keyspace, db, key, view.now_ms));
            }
        }
        Frame::ok()
    }

    /// EXEC: proposes the transaction, then writes the array of replies, running the queued
    /// connection commands in their places.
    async fn execute_exec(&mut self) -> Option<Frame> {
        let state = std::mem::take(&mut self.transaction);
        let Some(queue) = state.queue else {
            self.transaction = state;
            return Some(EXEC_WITHOUT_MULTI.to_frame());
        };
        if let Some(reason) = queue.refused {
            return Some(reason.to_frame());
        }
        // The steps go to the log; the plan keeps every command's place in the reply.
        let mut steps = Vec::new();
        let mut plan = Vec::with_capacity(queue.commands.len());
        for Queued { spec, arguments, action } in queue.commands {
            let planned = match action {
                Action::Step(step) => {
                    steps.push(step);
                    Planned::Step
                }
                // WAIT answers at once inside a transaction, as in Redis.
                Action::Control(Control::Wait(wait)) => {
                    Planned::Control(Control::Wait(wait.at_once()))
                }
                Action::Control(control) => Planned::Control(control),
                Action::Error(error) => Planned::Error(error),
            };
            plan.push((spec, arguments, planned));
        }
        let step_count = steps.len().max(1) as u32;
        let transaction = Transaction { watched: state.watched, steps };
        let write = self.as_user(Write::Transaction(Box::new(transaction)));
        let as_user = matches!(write, Write::AsUser(_));
        let request = WriteRequest { db: self.session.db, write };
        let started = Instant::now();
        let result = self.shared.node.write(vec![request]).await;
        let result = result.map(|frames| {
            let frames = frames.into_iter();
            frames
                .map(|frame| if as_user { self.open_envelope(frame) } else { frame })
                .collect::<Vec<_>>()
        });
        // Each step is charged an equal share of the transaction's commit, as a pipelined
        // batch's writes are.
        let share = started.elapsed() / step_count;
        self.forget_view();
        let replies = match result.map(|mut frames| frames.pop()) {
            Ok(Some(Frame::Array(replies))) => replies,
            Ok(Some(other)) => return Some(other),
            Ok(None) => return Some(Frame::error("ERR the transaction got no reply")),
            Err(error) => return Some(error.to_frame()),
        };
        self.reply_array_header(plan.len());
        let mut replies = replies.into_iter();
        for (spec, arguments, planned) in plan {
            let (frame, elapsed) = match planned {
                Planned::Step => (replies.next().expect("apply replies once per step"), share),
                // Queued connection commands never include transaction commands or SHUTDOWN (which
                // has no reply), so a reply always comes; null keeps the array whole regardless.
                // Inside EXEC, CLIENT REPLY answers OK in its place and takes effect after the
                // EXEC reply, which is written whole. (Redis 7.0 drops the elements after it but
                // not the header, which leaves a stream no client can parse.)
                Planned::Control(Control::Client(ClientCommand::Reply(mode))) => {
                    self.session.replies.set(mode);
                    (Frame::ok(), Duration::ZERO)
                }
                Planned::Control(control) => {
                    let started = Instant::now();
                    let frame =
                        Box::pin(self.execute_control(control)).await.unwrap_or(Frame::Null);
                    (frame, started.elapsed())
                }
                Planned::Error(error) => (error.to_frame(), Duration::ZERO),
            };
            self.record(spec, &arguments, elapsed, &frame);
            self.reply(&frame);
        }
        None
    }
}

/// The commands Redis runs at once inside MULTI instead of queueing them.
fn runs_at_once(command: &Result<Command, CommandError>) -> bool {
    matches!(
        command,
        Ok(Command::Control(
            Control::Quit
                | Control::Reset
                | Control::Transaction(
                    TransactionCommand::Multi
                        | TransactionCommand::Exec
                        | TransactionCommand::Discard
                        | TransactionCommand::Watch { .. }
                )
        ))
    )
}

/// The error the command over a bound gets, and the one EXEC then gets.
fn too_large(commands_max: usize, bytes_max: usize) -> (CommandError, CommandError) {
    let limits = format!(
        "more than transaction-commands-max ({commands_max}) commands or \
         transaction-bytes-max ({bytes_max}) bytes queued"
    );
    (
        CommandError::Other(format!("ERR Transaction too large: {limits}").into()),
        CommandError::Other(
            format!("EXECABORT Transaction discarded because it is too large: {limits}").into(),
        ),
    )
}
