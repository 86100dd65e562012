//! MONITOR on the connection: which commands a connection feeds to the node's monitors, and
//! a monitoring connection's own state (see `server::monitor` for the line and the bound).

use bytes::Bytes;
use tokio::sync::broadcast;

use super::slow_commands::redacted_positions;
use super::Connection;
use crate::command::{CommandFlags, CommandSpec};
use crate::resp::Frame;
use crate::server::monitor::{Monitor, Source};

/// The error a monitoring connection gets for a command on the keyspace, as in Redis (where
/// a monitor is a kind of replica).
pub(super) const MONITOR_KEYSPACE: &str = "ERR Replica can't interact with the keyspace";

/// The script commands, which Redis flags `skip_monitor` and feeds from their own code, so
/// that they appear (the commands they call appear after them there, not here).
const SCRIPT_COMMANDS: &[&str] = &["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"];

/// Whether a command that ran appears in MONITOR: not an `admin` command, and not one flagged
/// `skip_monitor` (EXEC is fed after the commands it ran, by [`Connection::feed_exec`]).
pub(super) fn is_monitored(spec: &CommandSpec) -> bool {
    !spec.has_flag(CommandFlags::ADMIN)
        && (!spec.has_flag(CommandFlags::SKIP_MONITOR) || SCRIPT_COMMANDS.contains(&spec.name))
}

impl Connection {
    /// Feeds one command that ran to the node's monitors, if it is monitored and anyone
    /// monitors: with no monitor, one atomic load.
    pub(super) fn feed_monitors(&self, spec: &CommandSpec, arguments: &[Bytes]) {
        let monitors = &self.shared.monitors;
        if !monitors.any() || !is_monitored(spec) {
            return;
        }
        self.feed(arguments, &redacted_positions(spec.name, arguments));
    }

    /// Feeds EXEC itself, after the commands it ran, as Redis does.
    pub(super) fn feed_exec(&self, arguments: &[Bytes]) {
        if self.shared.monitors.any() {
            self.feed(arguments, &[]);
        }
    }

    fn feed(&self, arguments: &[Bytes], redacted: &[usize]) {
        let client = self.client.peer.to_string();
        let source = Source { db: self.session.db, client: &client };
        self.shared.monitors.feed(&source, arguments, redacted);
    }

    /// MONITOR: from now on this connection receives every monitored command. A second
    /// MONITOR is not answered, as in Redis.
    pub(super) fn start_monitoring(&mut self) -> Option<Frame> {
        if self.monitor.is_some() {
            return None;
        }
        self.monitor = Some(self.shared.monitors.subscribe());
        self.client.monitoring.store(true, std::sync::atomic::Ordering::Relaxed);
        Some(Frame::ok())
    }

    /// RESET: the connection monitors no more.
    pub(super) fn stop_monitoring(&mut self) {
        self.monitor = None;
        self.client.monitoring.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What waiting for a monitor line gave.
pub(super) enum MonitorLine {
    /// The next line, ready to write.
    Line(Bytes),
    /// The connection fell more than `monitor::LINES_QUEUED_MAX` lines behind: it is closed.
    FellBehind,
}

/// The next line for a monitoring connection; never ready for one that does not monitor.
pub(super) async fn next_monitor_line(monitor: &mut Option<Monitor>) -> MonitorLine {
    let Some(monitor) = monitor else { return std::future::pending().await };
    match monitor.lines.recv().await {
        Ok(line) => MonitorLine::Line(line),
        Err(broadcast::error::RecvError::Lagged(_)) => MonitorLine::FellBehind,
        // The sender lives as long as the server; a closed channel means it is stopping.
        Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
    }
}
