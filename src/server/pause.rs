//! CLIENT PAUSE and CLIENT UNPAUSE: holding this node's clients' commands for a while.
//!
//! A pause has a mode and an end. `WRITE` holds the commands that change the keyspace or
//! may replicate (those flagged `write`, and EVAL, EVALSHA, FCALL, PFCOUNT, PUBLISH and
//! SPUBLISH unless the script or function is declared `no-writes`), and an EXEC whose queue
//! holds one; `ALL` holds every command, CLIENT UNPAUSE included, as in Redis. A held command
//! waits, in order with the rest of its connection's requests, until no pause holds it; then
//! it runs as if it had just arrived. Its client shows flag `b` and counts in INFO's
//! `blocked_clients` meanwhile.
//!
//! Pauses combine as Redis 7.0 combines them: a new pause while one is in force keeps the
//! stricter mode and the later end, and CLIENT UNPAUSE ends both. The end is a Unix time in
//! milliseconds computed with wrapping arithmetic, as Redis computes it, so a timeout so
//! large that the end overflows pauses nothing.
//!
//! Invariants:
//! - A connection checks one relaxed atomic per command while no pause was ever set since the
//!   last one ended; only a pause in force takes the lock.
//! - A waiting connection wakes when the pause ends or changes, never by polling.
//!
//! Caveats: a pause holds this member's clients only. Writes that other members' clients send
//! go on, as does expiry, which the cluster applies through the log (a Redis primary also
//! stops expiring keys during a pause). Every member takes writes, so a pause that should stop
//! all writes must be set on every member (docs/decisions.md).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::command::control::PauseMode;
use crate::command::{CommandFlags, CommandSpec};

/// Which commands the pause in force holds. The order is strictness: `All` holds all that
/// `Writes` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    /// None: no pause.
    #[default]
    Nothing,
    /// Commands that may change the keyspace or replicate.
    Writes,
    /// Every command.
    All,
}

/// What a command is, as far as a pause is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseClass {
    /// A command that may write or replicate: held by `WRITE` and `ALL`.
    Write,
    /// Any other command: held by `ALL` only.
    Other,
}

/// The pause in force, if any: what it holds and the Unix time in milliseconds it lasts until.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pause {
    held: Held,
    until_ms: i64,
}

impl Pause {
    /// How long it still holds a command of `class` at `now_ms`; `None` when it does not.
    fn remaining(&self, class: PauseClass, now_ms: i64) -> Option<Duration> {
        let holds = match class {
            PauseClass::Write => self.held >= Held::Writes,
            PauseClass::Other => self.held == Held::All,
        };
        let left_ms = self.until_ms.saturating_sub(now_ms);
        (holds && left_ms > 0).then(|| Duration::from_millis(left_ms as u64))
    }

    fn is_over(&self, now_ms: i64) -> bool {
        self.held == Held::Nothing || self.until_ms <= now_ms
    }
}

/// The node's client pause, shared by every connection.
#[derive(Debug)]
pub struct ClientPause {
    state: watch::Sender<Pause>,
    /// Set by every CLIENT PAUSE and cleared once the pause is seen over, so that commands
    /// outside a pause read one atomic and nothing else.
    maybe_paused: AtomicBool,
}

impl Default for ClientPause {
    fn default() -> ClientPause {
        ClientPause {
            state: watch::Sender::new(Pause::default()),
            maybe_paused: AtomicBool::new(false),
        }
    }
}

impl ClientPause {
    /// CLIENT PAUSE `timeout_ms` `mode`: combined with a pause in force, if any.
    pub fn pause(&self, timeout_ms: i64, mode: PauseMode) {
        let now_ms = unix_time_ms();
        let until_ms = now_ms.wrapping_add(timeout_ms);
        let held = match mode {
            PauseMode::Write => Held::Writes,
            PauseMode::All => Held::All,
        };
        self.state.send_modify(|pause| {
            if pause.is_over(now_ms) {
                *pause = Pause::default();
            }
            pause.held = pause.held.max(held);
            pause.until_ms = pause.until_ms.max(until_ms);
        });
        self.maybe_paused.store(true, Ordering::SeqCst);
    }

    /// CLIENT UNPAUSE: ends the pause, and every held command goes on.
    pub fn unpause(&self) {
        self.state.send_replace(Pause::default());
    }

    /// How long a command of `class` would be held now; `None` when it runs at once.
    pub fn holds(&self, class: PauseClass) -> Option<Duration> {
        if !self.maybe_paused.load(Ordering::Relaxed) {
            return None;
        }
        let now_ms = unix_time_ms();
        let pause = *self.state.borrow();
        if pause.is_over(now_ms) {
            // Cleared under the state's lock: a CLIENT PAUSE changes the state under that lock
            // and sets the flag after it, so it either comes first (and the state is not over
            // here) or sets the flag again after this clears it.
            self.state.send_if_modified(|pause| {
                if pause.is_over(now_ms) {
                    self.maybe_paused.store(false, Ordering::SeqCst);
                }
                false
            });
            return None;
        }
        pause.remaining(class, now_ms)
    }

    /// Returns once no pause holds a command of `class`: when the pause ends, is lifted by
    /// CLIENT UNPAUSE, or is changed to one that does not hold it.
    pub async fn ended(&self, class: PauseClass) {
        let mut changes = self.state.subscribe();
        loop {
            let pause = *changes.borrow_and_update();
            let Some(remaining) = pause.remaining(class, unix_time_ms()) else {
                return;
            };
            tokio::select! {
                () = tokio::time::sleep(remaining) => {}
                // The sender lives in `Shared` as long as any connection does.
                _ = changes.changed() => {}
            }
        }
    }
}

/// What a command is to a pause, by Redis's rule: `Write` for the commands flagged `write` and
/// the ones Redis flags `may_replicate` (hidden from COMMAND INFO), unless it is a script or
/// function call that `declares_no_writes` (its `no-writes` flag), whose flags then are the
/// script's own.
pub fn class_of(spec: &CommandSpec, declares_no_writes: bool) -> PauseClass {
    let writes = spec.has_flag(CommandFlags::WRITE)
        || match spec.name {
            "pfcount" | "publish" | "spublish" => true,
            "eval" | "evalsha" | "fcall" => !declares_no_writes,
            _ => false,
        };
    if writes {
        PauseClass::Write
    } else {
        PauseClass::Other
    }
}

fn unix_time_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_pauses_hold_writes_and_all_pauses_hold_everything() {
        let pause = ClientPause::default();
        assert_eq!(pause.holds(PauseClass::Write), None);
        pause.pause(60_000, PauseMode::Write);
        assert!(pause.holds(PauseClass::Write).is_some());
        assert_eq!(pause.holds(PauseClass::Other), None);
        pause.pause(10, PauseMode::All);
        assert!(pause.holds(PauseClass::Other).is_some(), "the stricter mode wins");
        assert!(
            pause.holds(PauseClass::Other).unwrap() > Duration::from_secs(50),
            "the later end wins"
        );
        pause.unpause();
        assert_eq!(pause.holds(PauseClass::Write), None);
        assert_eq!(pause.holds(PauseClass::Other), None);
    }

    #[test]
    fn an_ended_pause_is_forgotten_before_the_next_combines() {
        let pause = ClientPause::default();
        pause.pause(0, PauseMode::All);
        assert_eq!(pause.holds(PauseClass::Other), None, "a zero timeout is over at once");
        pause.pause(60_000, PauseMode::Write);
        assert_eq!(pause.holds(PauseClass::Other), None, "the ended ALL does not linger");
        assert!(pause.holds(PauseClass::Write).is_some());
    }

    #[test]
    fn an_end_that_overflows_pauses_nothing_as_in_redis() {
        let pause = ClientPause::default();
        pause.pause(i64::MAX, PauseMode::All);
        assert_eq!(pause.holds(PauseClass::Other), None);
    }

    #[test]
    fn writes_and_the_commands_that_may_replicate_are_held_by_write_pauses() {
        let class = |name: &str, declares_no_writes| {
            let spec = crate::command::lookup(name.as_bytes()).expect("a command Concord has");
            class_of(spec, declares_no_writes)
        };
        for name in ["set", "del", "flushall", "publish", "pfcount", "eval", "evalsha", "fcall"] {
            assert_eq!(class(name, false), PauseClass::Write, "{name}");
        }
        for name in ["get", "eval_ro", "fcall_ro", "wait", "ping", "script"] {
            assert_eq!(class(name, false), PauseClass::Other, "{name}");
        }
        assert_eq!(class("eval", true), PauseClass::Other, "a no-writes script");
        assert_eq!(class("set", true), PauseClass::Write, "only scripts declare flags");
    }

    #[tokio::test]
    async fn a_held_command_goes_on_at_unpause() {
        let pause = std::sync::Arc::new(ClientPause::default());
        pause.pause(60_000, PauseMode::Write);
        let waiting = tokio::spawn({
            let pause = std::sync::Arc::clone(&pause);
            async move { pause.ended(PauseClass::Write).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        pause.unpause();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the held command goes on once the pause is lifted")
            .unwrap();
    }
}
