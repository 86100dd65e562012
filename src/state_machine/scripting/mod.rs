//! Execution of Lua scripts: EVAL and EVALSHA inside apply, EVAL_RO and EVALSHA_RO on a view,
//! and the script cache's commands; Redis 7.0 functions (`functions`, `library`) run through
//! the same host and runner.
//!
//! A script that may write is one request of one entry (`Write::Script`). Apply runs it on
//! every replica against the live keyspace: each `redis.call` is parsed as a client's command
//! would be, refused with Redis's text when a script may not call it (unknown, wrong arity,
//! flagged `noscript`, denied to the script's user, a write from a read-only script, in
//! Redis's order), and executed by the same functions
//! that execute a client's reads and writes, at the entry's time and with randomness drawn
//! from the entry's index and the call's place in the script. So the script sees and leaves
//! the same keyspace on every replica, and no reader sees the middle of it (views are
//! published between entries). As in Redis, the writes a script made before an error stay.
//!
//! A read-only script runs on a view, the same way, with writes refused.
//!
//! The user's permissions are checked only for a script run as a user: a request proposed as
//! `Write::AsUser` (its context names the user), or a view's script given a `ScriptUser` by
//! the connection; see `command::acl::script`.
//!
//! Invariants:
//! - Nothing a script can observe depends on the replica: time is the entry's (or the view's
//!   read time), `math.random` is reseeded identically at every run, and the budget
//!   (`environment`) counts instructions and heap bytes, not wall time.
//! - EVAL caches its body before running it (even if the run fails), as Redis does; a body that
//!   does not compile is not cached.
//!
//! Caveats: a read-only EVAL (EVAL_RO, or a `no-writes` shebang) runs on a view and so does not
//! add its body to the replicated cache; PUBLISH from a script is refused (`PUBLISH_REFUSED`); SCRIPT KILL never finds a script to kill, because a script in apply is
//! ended by its budget instead.

mod bit;
mod cjson;
mod cmsgpack;
mod convert;
mod environment;
mod functions;
mod raise;
mod struct_library;

pub use environment::{INSTRUCTIONS_MAX, MEMORY_BYTES_MAX, REDIS_VERSION};
pub use functions::declares_no_writes as function_declares_no_writes;
pub use functions::runs_on_view as function_runs_on_view;

use bytes::Bytes;

use crate::command::acl::script::ScriptUser;
use crate::command::control::Control;
use crate::command::scripting::{
    shebang, Invocation, ScriptRead, ScriptSource, ScriptWrite, NO_SCRIPT,
};
use crate::command::{self, Command, CommandError, CommandFlags, DbIndex, Read, Write};
use crate::resp::Frame;
use crate::store::scripts::sha1_hex;
use crate::store::Keyspace;

use super::{execute_read, execute_write, ApplyContext};
use environment::{Host, Script};

/// Applies a scripting write.
pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &ScriptWrite,
) -> Frame {
    match write {
        ScriptWrite::Load { body } => match compile(body) {
            Ok(_) => Frame::Bulk(keyspace.scripts_mut().insert(body.clone())),
            Err(error) => error,
        },
        ScriptWrite::Flush => {
            keyspace.scripts_mut().clear();
            Frame::ok()
        }
        ScriptWrite::Run { source, invocation } => {
            let body = match source {
                ScriptSource::Body(body) => {
                    if let Err(error) = compile(body) {
                        return error;
                    }
                    keyspace.scripts_mut().insert(body.clone());
                    body.clone()
                }
                ScriptSource::Sha(sha) => match keyspace.scripts().get(sha) {
                    Some(body) => body.clone(),
                    None => return NO_SCRIPT.to_frame(),
                },
            };
            let target = Target::Live { keyspace, context };
            run(&body, invocation, target, db, false)
        }
        ScriptWrite::Function(write) => functions::write(keyspace, db, context, write),
    }
}

/// Runs a scripting read on a view at `now_ms`, a script's calls being checked against
/// `script_user` when there is one.
pub(super) fn read(
    keyspace: &Keyspace,
    db: DbIndex,
    now_ms: u64,
    read: &ScriptRead,
    script_user: Option<&ScriptUser>,
) -> Frame {
    match read {
        ScriptRead::Exists { shas } => Frame::Array(
            shas.iter()
                .map(|sha| Frame::Integer(i64::from(keyspace.scripts().contains(sha))))
                .collect(),
        ),
        ScriptRead::Run { source, invocation } => {
            let body = match source {
                ScriptSource::Body(body) => {
                    if let Err(error) = compile(body) {
                        return error;
                    }
                    body.clone()
                }
                ScriptSource::Sha(sha) => match keyspace.scripts().get(sha) {
                    Some(body) => body.clone(),
                    None => return NO_SCRIPT.to_frame(),
                },
            };
            let target = Target::View { keyspace, now_ms, script_user };
            run(&body, invocation, target, db, true)
        }
        ScriptRead::Function(read) => functions::read(keyspace, db, now_ms, read, script_user),
    }
}

/// Checks a body's shebang and compiles it; `Ok` is how many bytes of shebang to skip.
fn compile(body: &[u8]) -> Result<usize, Frame> {
    let (_, skip) = shebang(body).map_err(|error| error.to_frame())?;
    environment::compile(&body[skip..])?;
    Ok(skip)
}

fn run(
    body: &Bytes,
    invocation: &Invocation,
    target: Target,
    db: DbIndex,
    read_only: bool,
) -> Frame {
    let (flags, skip) = match shebang(body) {
        Ok(shebang) => shebang,
        Err(error) => return error.to_frame(),
    };
    let sha = sha1_hex(body);
    let script = Script {
        source: &body[skip..],
        chunk: environment::Chunk::Script,
        sha: &sha,
        keys: &invocation.keys,
        arguments: &invocation.arguments,
    };
    let mut host = Commands { target, db, read_only: read_only || flags.no_writes, calls: 0 };
    environment::run(&script, &mut host)
}

/// What the script's commands run against, and who runs it.
enum Target<'a> {
    /// The keyspace inside apply, at the entry's place in the log; the context names the
    /// script's user when its calls are checked.
    Live { keyspace: &'a mut Keyspace, context: &'a ApplyContext<'a> },
    /// A read view at its read time, and the user its calls are checked against, if any.
    View { keyspace: &'a Keyspace, now_ms: u64, script_user: Option<&'a ScriptUser<'a>> },
}

impl Target<'_> {
    /// The user the script's calls are checked against, if they are.
    fn script_user(&self) -> Option<&ScriptUser<'_>> {
        match self {
            Target::Live { context, .. } => context.script_user,
            Target::View { script_user, .. } => *script_user,
        }
    }
}

/// The host of one run: executes the script's commands with Redis's refusals.
struct Commands<'a> {
    target: Target<'a>,
    /// The script's database: the caller's, until the script SELECTs another.
    db: DbIndex,
    read_only: bool,
    /// How many commands the script called, to give each its own randomness.
    calls: usize,
}

const NOT_ALLOWED: &str = "ERR This Redis command is not allowed from script";

/// What PUBLISH from a script gets until a script's messages are outputs of its entry.
const PUBLISH_REFUSED: &str =
    "ERR PUBLISH from a script is not supported by Concord yet: publish from the client";

impl Host for Commands<'_> {
    fn call(&mut self, arguments: Vec<Bytes>) -> Frame {
        let parsed = match command::parse_request(&arguments) {
            Ok(parsed) => parsed,
            Err(_) => return Frame::error("ERR Unknown Redis command called from script"),
        };
        if let Err(CommandError::WrongArity(_)) = parsed.command {
            return Frame::error("ERR Wrong number of args calling Redis command from script");
        }
        if parsed.spec.has_flag(CommandFlags::NOSCRIPT) {
            return Frame::error(NOT_ALLOWED);
        }
        // Redis checks permissions after the command's name, arity and `noscript`, and before
        // whether a read-only script may write.
        if let Some(script_user) = self.target.script_user() {
            if let Err(error) = script_user.check(parsed.spec, &arguments) {
                return Frame::error(error);
            }
        }
        if self.read_only && parsed.spec.has_flag(CommandFlags::WRITE) {
            return Frame::error("ERR Write commands are not allowed from read-only scripts.");
        }
        if let Some(refusal) = command::streams::refusal_in_script(&arguments) {
            return refusal.to_frame();
        }
        match parsed.command {
            Ok(command) => self.execute(command),
            Err(error) => error.to_frame(),
        }
    }
}

impl Commands<'_> {
    fn execute(&mut self, command: Command) -> Frame {
        self.calls += 1;
        match (command, &mut self.target) {
            // Scripts never nest (EVAL is `noscript`), whatever the log holds.
            (Command::Write(Write::Script(_)) | Command::Read(Read::Script(_)), _) => {
                Frame::error(NOT_ALLOWED)
            }
            // A message is an output of its entry, collected after apply from the entry's own
            // PUBLISH requests (`pubsub::collect`); a script's would be counted as nobody's
            // and delivered to no one, so it is refused rather than silently dropped.
            (Command::Write(Write::Publish(_)), _) => Frame::error(PUBLISH_REFUSED),
            (Command::Read(read), Target::Live { keyspace, context }) => {
                execute_read(keyspace, self.db, context.now_ms, &read)
            }
            (Command::Read(read), Target::View { keyspace, now_ms, .. }) => {
                execute_read(keyspace, self.db, *now_ms, &read)
            }
            (Command::Write(write), Target::Live { keyspace, context }) => {
                let context = context.for_step(self.calls);
                execute_write(keyspace, self.db, &context, &write)
            }
            (Command::Write(_), Target::View { .. }) => {
                Frame::error("ERR Write commands are not allowed from read-only scripts.")
            }
            (Command::Control(control), _) => self.control(control),
        }
    }

    /// The few connection commands a script may call, answered as Redis does inside a script.
    fn control(&mut self, control: Control) -> Frame {
        match control {
            Control::Ping { message: None } => Frame::simple("PONG"),
            Control::Ping { message: Some(message) } => Frame::Bulk(message),
            Control::Echo { message } => Frame::Bulk(message),
            Control::Select { db } => {
                self.db = db;
                Frame::ok()
            }
            Control::Time => {
                let now_ms = match &self.target {
                    Target::Live { context, .. } => context.now_ms,
                    Target::View { now_ms, .. } => *now_ms,
                };
                Frame::Array(vec![
                    Frame::bulk((now_ms / 1000).to_string()),
                    Frame::bulk(((now_ms % 1000) * 1000).to_string()),
                ])
            }
            _ => Frame::error(NOT_ALLOWED),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::command::acl::script::{
        open_envelope, script_denial_error, DeniedObject, ScriptDenial, UserWrite,
    };
    use crate::command::{parse, Command, Write};
    use crate::resp::Frame;
    use crate::state_machine::test_harness::{bulk, int, Harness};

    /// `EVAL body 0` as the connection proposes it for `user`.
    fn eval_as(user: &'static str, body: &str) -> Write {
        let arguments = ["EVAL", body, "0"].map(|word| Bytes::copy_from_slice(word.as_bytes()));
        let Ok(Command::Write(write)) = parse(arguments.to_vec()).unwrap().command else {
            panic!("EVAL of {body:?} is not a write");
        };
        Write::AsUser(Box::new(UserWrite { user: Bytes::from_static(user.as_bytes()), write }))
    }

    /// Apply checks a script's calls against its user as the users stand at its entry, so a
    /// denied write changes nothing on any replica, and the denial caught by `redis.pcall`
    /// still comes back with the reply, for the client's node to record in ACL LOG.
    #[test]
    fn a_script_run_as_a_user_is_denied_what_the_user_may_not_run() {
        let mut harness = Harness::new();
        harness.given(&[&["ACL", "SETUSER", "u", "on", "nopass", "~a*", "+eval", "+get"]]);
        let body = "redis.pcall('set', 'a', '1') redis.pcall('set', 'a', '2') \
                    return redis.call('get', 'a')";
        let (reply, denials) = open_envelope(harness.apply(eval_as("u", body)));
        assert_eq!(reply, Frame::Null);
        let set = ScriptDenial {
            denied: DeniedObject::Command,
            object: Bytes::from_static(b"set"),
            count: 2,
        };
        assert_eq!(denials, vec![set]);
        harness.check(&["EXISTS", "a"], int(0));
        let (reply, denials) =
            open_envelope(harness.apply(eval_as("u", "return redis.call('get', 'b')")));
        let expected = script_denial_error(DeniedObject::Key);
        assert!(error_text(&reply).starts_with(expected), "expected {expected:?}, got {reply:?}");
        assert_eq!(denials.len(), 1, "{denials:?}");
    }

    /// A user deleted after the connection proposed its script, and before the entry was
    /// applied, may call nothing (its connection is being closed).
    #[test]
    fn a_script_of_a_user_deleted_before_its_entry_may_call_nothing() {
        let mut harness = Harness::new();
        let (reply, _) = open_envelope(harness.apply(eval_as("gone", "return redis.call('ping')")));
        let expected = script_denial_error(DeniedObject::Command);
        assert!(error_text(&reply).starts_with(expected), "expected {expected:?}, got {reply:?}");
    }

    fn error_text(frame: &Frame) -> String {
        match frame {
            Frame::Error(text) => text.to_string(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn a_script_runs_its_commands_in_apply_and_eval_caches_its_body() {
        let mut harness = Harness::new();
        harness.check(
            &["EVAL", "return redis.call('incrby', KEYS[1], ARGV[1])", "1", "k", "5"],
            int(5),
        );
        harness.check(&["GET", "k"], bulk("5"));
        let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";
        harness.check(&["EVAL", "return 1", "0"], int(1));
        harness.check(&["EVALSHA", sha, "0"], int(1));
        harness.check(&["SCRIPT", "EXISTS", sha], Frame::Array(vec![int(1)]));
        harness.check(&["SCRIPT", "FLUSH"], Frame::ok());
        let noscript = harness.run(&["EVALSHA", sha, "0"]);
        assert_eq!(error_text(&noscript), "NOSCRIPT No matching script. Please use EVAL.");
    }

    /// A script's PUBLISH would reach no one (messages are collected from the entry's own
    /// requests), so it is refused, never answered as if it had been sent.
    #[test]
    fn publish_from_a_script_is_refused_not_dropped() {
        let mut harness = Harness::new();
        let reply = harness.run(&["EVAL", "return redis.call('publish', 'c', 'm')", "0"]);
        assert!(error_text(&reply).starts_with(super::PUBLISH_REFUSED), "{reply:?}");
        let caught = "return redis.pcall('publish', 'c', 'm')['err']";
        let reply = harness.run(&["EVAL", caught, "0"]);
        assert!(
            matches!(&reply, Frame::Bulk(text) if text.starts_with(b"PUBLISH from")
            || text.starts_with(b"ERR PUBLISH")),
            "{reply:?}"
        );
    }

    /// Addresses differ between members, so nothing a script sees may depend on them: a
    /// table prints as a number counted in this run, and a traversal whose order is by
    /// address is refused before it starts.
    #[test]
    fn nothing_a_script_sees_depends_on_memory_addresses() {
        let mut harness = Harness::new();
        let printed = "local a, b = {}, {} return {tostring(a), tostring(b), tostring(a)}";
        harness.check(
            &["EVAL", printed, "0"],
            Frame::Array(vec![
                bulk("table: 0x00000001"),
                bulk("table: 0x00000002"),
                bulk("table: 0x00000001"),
            ]),
        );
        let own = "return tostring(setmetatable({}, {__tostring = function() return 'x' end}))";
        harness.check(&["EVAL", own, "0"], bulk("x"));
        harness.check(&["EVAL", "return tostring(12)", "0"], bulk("12"));
        let strings = "local t, n = {a = 1, b = 2, [3] = 3}, 0 \
                       for _, v in pairs(t) do n = n + v end return n";
        harness.check(&["EVAL", strings, "0"], int(6));
        for traversal in [
            "local t = {x = 1} t[{}] = 1 redis.call('set', 'before', '1') \
             for k in pairs(t) do redis.call('incr', 'n') end",
            "local t = {} t[tostring] = 1 return next(t)",
            "local t = {} t[{}] = 1 table.foreach(t, function() end)",
        ] {
            let reply = harness.run(&["EVAL", traversal, "0"]);
            assert!(error_text(&reply).contains("traverse a table keyed by a"), "{reply:?}");
        }
        // The refusal comes before the first step, so no member did any of the loop's work.
        harness.check(&["GET", "n"], Frame::Null);
        let reply = harness.run(&["EVAL", "for k in pairs(nil) do end", "0"]);
        assert!(
            error_text(&reply).starts_with(
                "ERR user_script:1: bad argument #1 to 'pairs' (table expected, got nil)"
            ),
            "{reply:?}"
        );
    }

    #[test]
    fn writes_before_a_runtime_error_stay() {
        let mut harness = Harness::new();
        let reply = harness.run(&["EVAL", "redis.call('set', 'a', '1') return 1 + nil", "0"]);
        assert!(error_text(&reply).contains("attempt to perform arithmetic"), "{reply:?}");
        harness.check(&["GET", "a"], bulk("1"));
    }

    #[test]
    fn a_runaway_script_ends_at_its_budget_and_the_next_one_runs() {
        let mut harness = Harness::new();
        let reply = harness.run(&["EVAL", "redis.call('set', 'a', '1') while true do end", "0"]);
        assert!(error_text(&reply).contains("budget of 10000000 Lua instructions"), "{reply:?}");
        let caught = "while true do pcall(function() while true do end end) end";
        let reply = harness.run(&["EVAL", caught, "0"]);
        assert!(
            error_text(&reply).contains("Lua instructions"),
            "pcall caught the stop: {reply:?}"
        );
        let heap = "local t = {} while true do t[#t + 1] = {1, 2, 3, 4} end";
        let reply = harness.run(&["EVAL", heap, "0"]);
        assert!(error_text(&reply).contains("bytes of Lua memory"), "{reply:?}");
        harness.check(&["GET", "a"], bulk("1"));
        harness.check(&["EVAL", "return 2", "0"], int(2));
    }

    #[test]
    fn two_replicas_reach_the_same_keyspace_and_replies() {
        let script = "redis.call('sadd', 's', 'a', 'b', 'c', 'd', 'e') \
                      local popped = redis.call('spop', 's') \
                      redis.call('set', 'time', redis.call('time')[1]) \
                      return {popped, math.random(1000), redis.call('scard', 's')}";
        let mut first = Harness::new();
        let mut second = Harness::new();
        for _ in 0..5 {
            let a = first.run(&["EVAL", script, "0"]);
            let b = second.run(&["EVAL", script, "0"]);
            assert_eq!(a, b, "two replicas answered the same entry differently");
        }
        assert_eq!(first.run(&["SMEMBERS", "s"]), second.run(&["SMEMBERS", "s"]));
        assert_eq!(first.run(&["GET", "time"]), bulk(&(first.now_ms / 1000).to_string()));
    }

    #[test]
    fn a_read_only_script_refuses_writes() {
        let mut harness = Harness::new();
        let reply = harness.run(&["EVAL_RO", "return redis.call('set', 'a', '1')", "0"]);
        assert!(
            error_text(&reply)
                .starts_with("ERR Write commands are not allowed from read-only scripts."),
            "{reply:?}"
        );
        harness.check(&["EXISTS", "a"], int(0));
    }
}
