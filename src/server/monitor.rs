//! MONITOR: every command this node's clients run, as a line to every monitoring client.
//!
//! A line is Redis's: `+<seconds>.<microseconds> [<db> <client address>] "arg" "arg"...`,
//! each argument quoted and escaped as Redis's `sdscatrepr` does, the name as the client typed
//! it. Which commands appear follows Redis: a command is fed when it starts to run (so a
//! blocking command appears when it blocks), never if it was refused before running (unknown,
//! wrong argument count, NOAUTH), never if it is flagged `admin` or `skip_monitor`; the
//! commands of a transaction appear at EXEC, then EXEC; passwords appear as `(redacted)`, as
//! in SLOWLOG.
//!
//! What this node's monitors do not see: commands that other members' clients ran (their
//! entries reach this node as log entries, not as commands), and the commands a Lua script
//! calls, which run inside apply (Redis shows them as `[0 lua]` lines).
//!
//! Memory: lines go through one bounded broadcast ring of [`LINES_QUEUED_MAX`] lines shared
//! by all monitors (the ring keeps the latest lines while anyone monitors, so its memory is
//! that many lines, whatever the monitors read). A monitor that falls that far behind, because
//! it stopped reading and its socket is full, is disconnected when it next looks, so a
//! monitor that does not read cannot grow the server's memory; with no monitor, feeding costs
//! one atomic load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::broadcast;

use crate::command::DbIndex;

/// How many lines a monitor may be behind before it is disconnected.
pub const LINES_QUEUED_MAX: usize = 1024;

/// The node's monitoring clients, as the receivers of one broadcast.
pub struct Monitors {
    lines: broadcast::Sender<Bytes>,
    /// How many receivers there are, kept beside the channel because its own count takes a
    /// lock, and every command asks.
    count: Arc<AtomicUsize>,
}

impl Default for Monitors {
    fn default() -> Monitors {
        Monitors { lines: broadcast::channel(LINES_QUEUED_MAX).0, count: Arc::default() }
    }
}

/// One monitoring client's end of the broadcast; it stops counting when dropped.
pub struct Monitor {
    /// The lines fed since the client started monitoring.
    pub lines: broadcast::Receiver<Bytes>,
    count: Arc<AtomicUsize>,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where a monitored command came from, as Redis's bracket names it.
pub struct Source<'a> {
    /// The database the command runs in.
    pub db: DbIndex,
    /// The client's address (`ip:port`).
    pub client: &'a str,
}

impl Monitors {
    /// A receiver of every line fed from now on.
    pub fn subscribe(&self) -> Monitor {
        self.count.fetch_add(1, Ordering::Relaxed);
        Monitor { lines: self.lines.subscribe(), count: Arc::clone(&self.count) }
    }

    /// Whether anyone monitors: the one check a command pays when no one does.
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Sends the line of one command to every monitor; `redacted` are the positions of the
    /// arguments shown as `(redacted)`.
    pub fn feed(&self, source: &Source<'_>, arguments: &[Bytes], redacted: &[usize]) {
        if !self.any() {
            return;
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let line = line(now.as_secs(), now.subsec_micros(), source, arguments, redacted);
        // Fails only when the last monitor went away meanwhile.
        let _ = self.lines.send(line);
    }
}

/// One MONITOR line, with its `+` and CRLF.
fn line(
    seconds: u64,
    micros: u32,
    source: &Source<'_>,
    arguments: &[Bytes],
    redacted: &[usize],
) -> Bytes {
    let length: usize = arguments.iter().map(|argument| argument.len() + 3).sum();
    let mut line = BytesMut::with_capacity(40 + source.client.len() + length);
    line.put_slice(format!("+{seconds}.{micros:06} [{} {}]", source.db, source.client).as_bytes());
    for (position, argument) in arguments.iter().enumerate() {
        line.put_u8(b' ');
        if redacted.contains(&position) {
            line.put_slice(b"\"(redacted)\"");
        } else {
            quote(argument, &mut line);
        }
    }
    line.put_slice(b"\r\n");
    line.freeze()
}

/// Redis's `sdscatrepr`: the bytes in double quotes, with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`
/// and `\b` escaped, other bytes that are not printable ASCII as `\xHH`.
fn quote(bytes: &[u8], out: &mut BytesMut) {
    out.put_u8(b'"');
    for &byte in bytes {
        match byte {
            b'\\' => out.put_slice(b"\\\\"),
            b'"' => out.put_slice(b"\\\""),
            b'\n' => out.put_slice(b"\\n"),
            b'\r' => out.put_slice(b"\\r"),
            b'\t' => out.put_slice(b"\\t"),
            0x07 => out.put_slice(b"\\a"),
            0x08 => out.put_slice(b"\\b"),
            b' '..=b'~' => out.put_u8(byte),
            _ => out.put_slice(format!("\\x{byte:02x}").as_bytes()),
        }
    }
    out.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(list: &[&[u8]]) -> Vec<Bytes> {
        list.iter().map(|argument| Bytes::copy_from_slice(argument)).collect()
    }

    #[test]
    fn lines_quote_arguments_as_redis_does() {
        let source = Source { db: 3, client: "127.0.0.1:54418" };
        let arguments = arguments(&[b"SeT", b"a\"", b"\x00\n\xff\\ \t\x07\x08\r"]);
        assert_eq!(
            &line(1_796_606_999, 42, &source, &arguments, &[])[..],
            b"+1796606999.000042 [3 127.0.0.1:54418] \"SeT\" \"a\\\"\" \
              \"\\x00\\n\\xff\\\\ \\t\\a\\b\\r\"\r\n"
        );
    }

    #[test]
    fn redacted_arguments_hide_their_bytes() {
        let source = Source { db: 0, client: "127.0.0.1:1" };
        let arguments = arguments(&[b"HELLO", b"2", b"AUTH", b"default", b"secret"]);
        assert_eq!(
            &line(1, 0, &source, &arguments, &[3, 4])[..],
            b"+1.000000 [0 127.0.0.1:1] \"HELLO\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\"\r\n"
        );
    }

    #[test]
    fn nothing_is_queued_without_a_monitor_and_a_monitor_gets_every_line() {
        let monitors = Monitors::default();
        let source = Source { db: 0, client: "c" };
        monitors.feed(&source, &arguments(&[b"GET", b"k"]), &[]);
        assert!(!monitors.any());
        let mut monitor = monitors.subscribe();
        assert!(monitors.any());
        monitors.feed(&source, &arguments(&[b"GET", b"k"]), &[]);
        let line = monitor.lines.try_recv().unwrap();
        assert!(line.ends_with(b" [0 c] \"GET\" \"k\"\r\n"), "{line:?}");
        assert!(monitor.lines.try_recv().is_err());
        drop(monitor);
        assert!(!monitors.any());
    }
}
