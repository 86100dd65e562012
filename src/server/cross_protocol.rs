//! The cross-protocol guard: a connection that sends `POST` or `Host:` as a command is closed
//! at once, as Redis closes it.
//!
//! A web page can make a victim's browser send an HTTP request to any address, the database's
//! included. The request's lines arrive as inline commands (`POST / HTTP/1.1`, then
//! `Host: ...`), and the body after them could hold real commands. No Redis client ever sends
//! a command of either name, so the first one ends the connection before anything after it
//! runs, and before the replies of what came before it in the same read are sent (what ran,
//! ran; a web page gets nothing back to read). Redis does this wherever the command stands in
//! the stream, and so does Concord.
//!
//! Each refusal is logged at WARN with the client's address, at most once a minute so that a
//! page reloaded in a loop cannot flood the log; the line counts those not logged.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The least time between two warnings.
const WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// Whether a command name is the start of an HTTP request: `POST` or `Host:`, in any case.
pub fn is_http_request(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
}

/// When the guard last warned, and how many connections it closed since without a warning.
#[derive(Debug, Default)]
pub struct Warnings {
    state: Mutex<WarningState>,
}

#[derive(Debug, Default)]
struct WarningState {
    last_warned: Option<Instant>,
    closed_since: u64,
}

impl Warnings {
    /// Records that the connection from `address` was closed, warning if none was logged for
    /// a minute.
    pub fn closed(&self, address: &str, now: Instant) {
        let mut state = self.state.lock();
        let due = state.last_warned.is_none_or(|last| now.duration_since(last) >= WARNING_INTERVAL);
        if !due {
            state.closed_since += 1;
            return;
        }
        let closed_since = std::mem::take(&mut state.closed_since);
        state.last_warned = Some(now);
        drop(state);
        tracing::warn!(
            client = address,
            closed_without_warning = closed_since,
            "closed a connection that sent POST or Host: as a command: most likely a web page \
             making a browser send HTTP to this port (a cross-protocol attack)"
        );
    }

    /// How many connections were closed since the last warning without one of their own.
    #[cfg(test)]
    fn closed_without_warning(&self) -> u64 {
        self.state.lock().closed_since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_post_and_host_in_any_case_are_http() {
        for name in ["POST", "post", "Host:", "HOST:", "host:"] {
            assert!(is_http_request(name.as_bytes()), "{name}");
        }
        for name in ["GET", "HOST", "postx", "host"] {
            assert!(!is_http_request(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn one_warning_a_minute_counts_the_closes_it_did_not_log() {
        let warnings = Warnings::default();
        let start = Instant::now();
        warnings.closed("127.0.0.1:1", start);
        warnings.closed("127.0.0.1:2", start + Duration::from_secs(1));
        warnings.closed("127.0.0.1:3", start + Duration::from_secs(2));
        assert_eq!(warnings.closed_without_warning(), 2);
        warnings.closed("127.0.0.1:4", start + WARNING_INTERVAL);
        assert_eq!(warnings.closed_without_warning(), 0, "the warning a minute later counts them");
    }
}
