//! CLIENT PAUSE on the connection: which of its commands a pause holds, and holding it (see
//! `server::pause` for the pause itself).
//!
//! A held command waits before it is queued or run, with the replies of the requests before it
//! already written, and then goes through the connection's usual path as if it had just
//! arrived. Meanwhile the connection watches its client (a close, CLIENT KILL, shutdown) and
//! reads no further than the query buffer limit, as it does while blocked.

use super::{watching_client, Connection};
use crate::command::scripting::functions::FunctionWrite;
use crate::command::scripting::{shebang, ScriptSource, ScriptWrite};
use crate::command::{Command, CommandError, CommandSpec, Write};
use crate::server::pause::{class_of, PauseClass};
use crate::server::Waiting;
use crate::state_machine::function_declares_no_writes;

impl Connection {
    /// Holds the request while a pause holds it. Returns false when the client went away
    /// meanwhile, and the connection then closes without running it.
    pub(super) async fn wait_out_pause(
        &mut self,
        spec: &'static CommandSpec,
        command: &Result<Command, CommandError>,
    ) -> bool {
        // Any pause in force holds writes, so outside one this is the only check.
        if self.shared.pause.holds(PauseClass::Write).is_none() {
            return true;
        }
        let class = self.pause_class(spec, command);
        if self.shared.pause.holds(class).is_none() {
            return true;
        }
        self.commit_pending().await;
        // Redis writes the replies of the requests before a held one; so does Concord.
        let flushed = self.flush().await.is_ok();
        self.client.start_waiting(Waiting::Paused);
        let ended = flushed && {
            let (stream, input) = (&mut self.stream, &mut self.input);
            let ended = self.shared.pause.ended(class);
            watching_client(stream, input, &self.shared, &self.client, ended).await.is_some()
        };
        self.client.stop_waiting();
        if !ended {
            self.session.close_after_reply = true;
        }
        ended
    }

    /// What the request is to a pause. EXEC is a write when its queue holds one.
    fn pause_class(
        &self,
        spec: &'static CommandSpec,
        command: &Result<Command, CommandError>,
    ) -> PauseClass {
        if spec.name == "exec" {
            let holds_a_write = self.transaction.queued().any(|(spec, write)| {
                let declares_no_writes = write.is_none_or(|write| self.declares_no_writes(write));
                class_of(spec, declares_no_writes) == PauseClass::Write
            });
            return if holds_a_write { PauseClass::Write } else { PauseClass::Other };
        }
        let declares_no_writes = match command {
            Ok(Command::Read(_)) => true,
            Ok(Command::Write(write)) => self.declares_no_writes(write),
            _ => false,
        };
        class_of(spec, declares_no_writes)
    }

    /// Whether `write` runs a script or a function declared `no-writes`, by the newest local
    /// view (an EVAL of such a script is parsed as a read, so only EVALSHA and FCALL are left).
    fn declares_no_writes(&self, write: &Write) -> bool {
        match write {
            Write::Script(ScriptWrite::Run { source: ScriptSource::Sha(sha), .. }) => {
                let view = self.shared.node.latest_view();
                let body = view.keyspace.scripts().get(sha).cloned();
                body.is_some_and(|body| shebang(&body).is_ok_and(|(flags, _)| flags.no_writes))
            }
            // A function that does not exist declares nothing: Redis holds its FCALL too.
            Write::Script(ScriptWrite::Function(FunctionWrite::Call(call))) => {
                let view = self.shared.node.latest_view();
                function_declares_no_writes(&view.keyspace, &call.function)
            }
            _ => false,
        }
    }
}
