//! The node's log: where its lines go and what they look like, and how expected faults are
//! reported without flooding it.
//!
//! Lines go to stderr, as text (with colours only when stderr is a terminal and `NO_COLOR` is
//! not set, so that a log file holds no escape codes) or as JSON objects, one a line, for log
//! shippers (`--log-format json`): each has `timestamp`, `level`, `message`, `target` and the
//! event's own fields at the top level.
//!
//! Expected faults are not errors. A peer that cannot be reached, read rounds that fail while a
//! majority is cut off, a cluster without a leader during an election: each is an
//! [`Episode`], logged once at WARN when it begins, with a reminder at most every
//! [`EPISODE_REMINDER`] while it lasts, and once when it ends, with how many more times it
//! happened and how long it lasted ("... again 57 times; recovered after 3.2 s"). ERROR is kept
//! for what needs an operator: a disk that failed, a snapshot that could not be written.
//! openraft logs every failed attempt of these faults itself, at WARN or ERROR, many times a
//! second; those lines are dropped here ([`ExpectedFaults`]) unless the filter asks for
//! openraft's debug output, since the episodes say the same once.
//!
//! Deliberately absent: log files and rotation. The node writes to stderr; where it goes is the
//! service manager's business.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::config::LogFormat;

/// How often a lasting episode is logged again, with its count so far.
pub const EPISODE_REMINDER: Duration = Duration::from_secs(60);

/// Installs the process's subscriber: `filter` is a `tracing` filter directive (`info`,
/// `warn,concord::raft=debug`); openraft's lines are kept at `warn` and above unless the
/// filter names openraft. An invalid filter falls back to `info`.
pub fn init(filter: &str, format: LogFormat) {
    let filter = if filter.contains("openraft") {
        filter.to_string()
    } else {
        format!("{filter},openraft=warn")
    };
    let openraft_debug = filter.contains("openraft=debug") || filter.contains("openraft=trace");
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let faults = ExpectedFaults { keep: openraft_debug };
    let registry = tracing_subscriber::registry().with(filter).with(faults);
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => registry.with(lines.with_ansi(colours_wanted())).try_init(),
        LogFormat::Json => registry.with(lines.json().flatten_event(true)).try_init(),
    };
    // A second call (tests that start several nodes in one process) keeps the first one.
    drop(installed);
}

/// Colours only for a person at a terminal: never into a file or a pipe, and never when the
/// `NO_COLOR` convention asks for none.
fn colours_wanted() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// openraft's lines for one failed attempt of an expected fault, by module and message start.
/// openraft is pinned to one version (Cargo.toml), so these stay what they are; a test below
/// checks that the filter drops them and nothing else.
const OPENRAFT_FAULT_LINES: &[(&str, Level, &str)] = &[
    ("openraft::core::raft_core", Level::ERROR, "timeout while confirming leadership"),
    ("openraft::core::raft_core", Level::ERROR, "timeout"),
    ("openraft::core::raft_core", Level::ERROR, "while requesting vote"),
    ("openraft::replication", Level::WARN, "error replication to target="),
    ("openraft::replication", Level::ERROR, "RPCError"),
];

/// Drops openraft's per-attempt fault lines (`OPENRAFT_FAULT_LINES`); the node's episodes
/// report those faults.
pub struct ExpectedFaults {
    /// Keep them after all: the operator asked for openraft's debug output.
    pub keep: bool,
}

impl<S: Subscriber> Layer<S> for ExpectedFaults {
    fn event_enabled(&self, event: &Event<'_>, _context: Context<'_, S>) -> bool {
        let metadata = event.metadata();
        if self.keep || !metadata.target().starts_with("openraft") {
            return true;
        }
        let candidates: Vec<&str> = OPENRAFT_FAULT_LINES
            .iter()
            .filter(|(target, level, _)| {
                *level == *metadata.level() && metadata.target().starts_with(target)
            })
            .map(|(_, _, message)| *message)
            .collect();
        if candidates.is_empty() {
            return true;
        }
        let mut message = MessageText::default();
        event.record(&mut message);
        let text = message.0;
        !candidates.iter().any(|start| {
            // "timeout" alone must match only the bare message, not any message starting so.
            if *start == "timeout" {
                text == "timeout"
            } else {
                text.starts_with(start)
            }
        })
    }
}

/// The `message` field of an event, as text.
#[derive(Default)]
struct MessageText(String);

impl Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
}

/// One expected fault, such as "node 2 unreachable": whether it is happening now, since when,
/// and how often it happened since it was reported. The caller logs what [`Episode::fault`]
/// and [`Episode::recovered`] return; an episode never logs by itself, so it is tested without
/// a subscriber.
#[derive(Debug, Default)]
pub struct Episode {
    current: Option<Current>,
}

#[derive(Debug)]
struct Current {
    began: Instant,
    last_reported: Instant,
    /// Faults since the episode began, the first one not counted.
    repeats: u64,
    /// Repeats already told in reminders.
    repeats_reported: u64,
}

/// What to log about an episode.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// The first fault of a new episode.
    Began,
    /// The episode lasts: `repeats` more faults since it began, `lasted` so far.
    Lasting {
        /// Faults since the episode began, the first not counted.
        repeats: u64,
        /// How long the episode has lasted so far.
        lasted: Duration,
    },
    /// The episode ended after `repeats` more faults and `lasted`.
    Ended {
        /// Faults after the first, over the whole episode.
        repeats: u64,
        /// How long the episode lasted.
        lasted: Duration,
    },
}

impl Report {
    /// The count and duration in words, for the end of a log line: "again 57 times; recovered
    /// after 3.2 s". Empty for [`Report::Began`].
    pub fn summary(&self) -> String {
        match self {
            Report::Began => String::new(),
            Report::Lasting { repeats, lasted } => {
                format!("again {repeats} times; still going after {:.1} s", lasted.as_secs_f64())
            }
            Report::Ended { repeats, lasted } => {
                format!("again {repeats} times; recovered after {:.1} s", lasted.as_secs_f64())
            }
        }
    }
}

impl Episode {
    /// Records one fault at `now`: [`Report::Began`] for the first of an episode, a
    /// [`Report::Lasting`] reminder when [`EPISODE_REMINDER`] passed since the last report,
    /// otherwise nothing.
    pub fn fault(&mut self, now: Instant) -> Option<Report> {
        let Some(current) = self.current.as_mut() else {
            self.current =
                Some(Current { began: now, last_reported: now, repeats: 0, repeats_reported: 0 });
            return Some(Report::Began);
        };
        current.repeats += 1;
        if now.saturating_duration_since(current.last_reported) < EPISODE_REMINDER {
            return None;
        }
        current.last_reported = now;
        current.repeats_reported = current.repeats;
        Some(Report::Lasting {
            repeats: current.repeats,
            lasted: now.saturating_duration_since(current.began),
        })
    }

    /// Records a success at `now`: [`Report::Ended`] if an episode was going on.
    pub fn recovered(&mut self, now: Instant) -> Option<Report> {
        let current = self.current.take()?;
        Some(Report::Ended {
            repeats: current.repeats,
            lasted: now.saturating_duration_since(current.began),
        })
    }

    /// Whether an episode is going on.
    pub fn is_going_on(&self) -> bool {
        self.current.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_episode_is_reported_when_it_begins_and_when_it_ends_with_its_count() {
        let start = Instant::now();
        let mut episode = Episode::default();
        assert_eq!(episode.recovered(start), None, "a success outside an episode says nothing");
        assert_eq!(episode.fault(start), Some(Report::Began));
        for second in 1..=57 {
            let at = start + Duration::from_millis(50 * second);
            assert_eq!(episode.fault(at), None, "repeat {second} was reported");
        }
        let end = start + Duration::from_millis(3_200);
        let ended = episode.recovered(end).expect("the episode ends");
        assert_eq!(ended, Report::Ended { repeats: 57, lasted: Duration::from_millis(3_200) });
        assert_eq!(ended.summary(), "again 57 times; recovered after 3.2 s");
        assert!(!episode.is_going_on());
        assert_eq!(episode.recovered(end), None, "an episode ends once");
        assert_eq!(episode.fault(end), Some(Report::Began), "the next fault begins a new one");
    }

    #[test]
    fn a_lasting_episode_is_reminded_at_most_once_per_reminder_interval() {
        let start = Instant::now();
        let mut episode = Episode::default();
        episode.fault(start);
        let reports: Vec<Report> = (1..=300)
            .filter_map(|second| episode.fault(start + Duration::from_secs(second)))
            .collect();
        // 300 faults a second apart: a reminder at 60, 120, 180, 240 and 300 s.
        assert_eq!(reports.len(), 5, "{reports:?}");
        assert_eq!(reports[0], Report::Lasting { repeats: 60, lasted: Duration::from_secs(60) });
        let ended = episode.recovered(start + Duration::from_secs(301));
        assert_eq!(ended, Some(Report::Ended { repeats: 300, lasted: Duration::from_secs(301) }));
    }

    /// Sends events through the filter and returns the messages that came out.
    fn kept(events: impl FnOnce()) -> Vec<String> {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Collect(Arc<Mutex<Vec<String>>>);
        impl<S: Subscriber> Layer<S> for Collect {
            fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
                let mut message = MessageText::default();
                event.record(&mut message);
                self.0.lock().unwrap().push(message.0);
            }
        }
        let collect = Collect::default();
        let subscriber = tracing_subscriber::registry()
            .with(ExpectedFaults { keep: false })
            .with(collect.clone());
        tracing::subscriber::with_default(subscriber, events);
        let messages = collect.0.lock().unwrap().clone();
        messages
    }

    #[test]
    fn openraft_lines_for_expected_faults_are_dropped_and_nothing_else() {
        let messages = kept(|| {
            tracing::error!(target: "openraft::core::raft_core", target_node = 2, "timeout while confirming leadership for read request");
            tracing::error!(target: "openraft::core::raft_core", "timeout");
            tracing::error!(target: "openraft::core::raft_core", "while requesting vote");
            tracing::warn!(target: "openraft::replication", "error replication to target={}", 3);
            tracing::error!(target: "openraft::replication", "RPCError");
            // What needs an operator stays, as does anything of our own.
            tracing::error!(target: "openraft::replication", "error replication to target={}", 3);
            tracing::error!(target: "openraft::core::raft_core", "quit RaftCore::main on error");
            tracing::error!(target: "openraft::core::raft_core", "timeout of something else");
            tracing::error!(target: "concord::node", "timeout while confirming leadership");
        });
        assert_eq!(
            messages,
            [
                "error replication to target=3",
                "quit RaftCore::main on error",
                "timeout of something else",
                "timeout while confirming leadership"
            ]
        );
    }
}
