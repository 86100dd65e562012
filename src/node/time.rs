//! The cluster's time: what a leader stamps on its entries and hands out with read rounds, and
//! the time a reading member judges expiry by. Time comes from the leader's clock, but every
//! time any member hands out is tied to the log, so that no later operation, on any member,
//! runs at an earlier time:
//!
//! - **A read's time** is the round's leader time advanced by this node's monotonic time since
//!   the answer arrived, but never more than [`READ_TIME_LEAD_MS`] past the newest entry time
//!   in the view it reads, never below that entry time, and never below a read time this node
//!   used before ([`Time::read_time_ms`]).
//! - **A leader's time**, stamped on its entries and handed out with its read rounds, is its
//!   clock, but never below the start of its term (the time applied before the term's first
//!   entry, see `raft::TermStart`) plus the lead, and never below the last time it used
//!   advanced by its monotonic clock since ([`Time::leader_time_ms`]). So it never goes back
//!   and never stands still: readers advance a round's time by their own monotonic time, and
//!   the leader's time must run at least as fast, even while its clock is behind its floor.
//!
//! Why this holds across leaders: every read time is at most its view's newest entry time
//! plus the lead; those entries all come before a later leader's first entry, so that leader
//! starts at or above every read time handed out before it, and its entries, which apply no
//! earlier than their predecessors, too. A key one read saw expired therefore never shows up
//! again, whichever members the reads ran on and whatever their clocks say. The cost: time may
//! jump forward by up to the lead when leadership changes, so a key may expire that much early
//! then; and while no entry is applied, read time runs at most the lead past the last one.
//!
//! **Ticks** keep read time with the clock when reads come but no writes do: a read round on a
//! leader whose clock runs more than half the lead past its newest applied entry first
//! commits an empty entry ([`Time::lags`]), so in practice the cap never holds a read back;
//! it only bounds what a member hands out when ticks cannot be written.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;

use super::{clock_ms, NodeError};
use crate::raft::TermStart;

/// How far a read's time may run past the newest entry time in its view (milliseconds), and
/// so how far time may jump forward at a change of leader.
pub(super) const READ_TIME_LEAD_MS: u64 = 250;

/// One node's share of the cluster's time (see the module doc).
pub(super) struct Time {
    /// Where the newest term this node applied an entry of began.
    term_start: watch::Receiver<TermStart>,
    /// A time this node stamped or handed out as leader, and when: its time since runs on
    /// from there at the monotonic rate, at least.
    leader_anchor: Mutex<(u64, Instant)>,
    /// The latest read time this node used.
    read_floor_ms: AtomicU64,
}

impl Time {
    pub(super) fn new(term_start: watch::Receiver<TermStart>) -> Time {
        Time {
            term_start,
            leader_anchor: Mutex::new((0, Instant::now())),
            read_floor_ms: AtomicU64::new(0),
        }
    }

    /// The time this node, leading in `term`, stamps or hands out now. Waits, at most `wait`,
    /// until this node applied the term's first entry, whose start bounds every time handed
    /// out under earlier leaders; a node that cannot apply it in time is refused, as one that
    /// cannot serve.
    pub(super) async fn leader_time_ms(&self, term: u64, wait: Duration) -> Result<u64, NodeError> {
        let start = *self.term_start.borrow();
        if start.term >= term {
            return Ok(self.leader_time_from(start));
        }
        let mut starts = self.term_start.clone();
        let started = tokio::time::timeout(wait, starts.wait_for(|start| start.term >= term)).await;
        let start = match started {
            Ok(Ok(start)) => *start,
            _ => {
                return Err(NodeError::Unavailable(format!(
                    "this leader did not apply the first entry of its term {term} within {} ms",
                    wait.as_millis()
                )))
            }
        };
        Ok(self.leader_time_from(start))
    }

    /// The leader time given the term's start, without waiting (a node whose log cannot be
    /// written answers its own reads with it).
    pub(super) fn leader_time_now(&self) -> u64 {
        self.leader_time_from(*self.term_start.borrow())
    }

    fn leader_time_from(&self, start: TermStart) -> u64 {
        // The anchor moves only when the clock or the term's floor passes the running time, so
        // that calls less than a millisecond apart still let the running time advance.
        let mut anchor = self.leader_anchor.lock();
        let (anchor_ms, at) = *anchor;
        let since_ms = u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX);
        let running_ms = anchor_ms.saturating_add(since_ms);
        let term_floor_ms = start.time_ms.saturating_add(READ_TIME_LEAD_MS);
        let time_ms = clock_ms().max(term_floor_ms);
        if time_ms > running_ms {
            *anchor = (time_ms, Instant::now());
            return time_ms;
        }
        running_ms
    }

    /// The time a read on a view whose newest entry time is `view_time_ms` runs at, given
    /// `leader_now_ms`, the leader's time as its round brought it, advanced to now.
    pub(super) fn read_time_ms(&self, leader_now_ms: u64, view_time_ms: u64) -> u64 {
        let cap = view_time_ms.saturating_add(READ_TIME_LEAD_MS);
        raise(&self.read_floor_ms, leader_now_ms.min(cap).max(view_time_ms))
    }

    /// Whether a leader whose newest applied entry has time `applied_time_ms` should propose a
    /// tick: its clock runs more than half the lead past it.
    pub(super) fn lags(&self, applied_time_ms: u64) -> bool {
        clock_ms() > applied_time_ms.saturating_add(READ_TIME_LEAD_MS / 2)
    }
}

/// Raises `floor` to `time_ms` if it is lower; returns the floor's new value.
fn raise(floor: &AtomicU64, time_ms: u64) -> u64 {
    floor.fetch_max(time_ms, Ordering::AcqRel).max(time_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time_at(term: u64, time_ms: u64) -> (watch::Sender<TermStart>, Time) {
        let (sender, receiver) = watch::channel(TermStart { term, time_ms });
        (sender, Time::new(receiver))
    }

    #[test]
    fn a_read_runs_at_most_the_lead_past_its_view_and_never_goes_back() {
        let (_starts, time) = time_at(1, 0);
        assert_eq!(time.read_time_ms(10_000, 1_000), 1_000 + READ_TIME_LEAD_MS);
        assert_eq!(time.read_time_ms(1_100, 1_000), 1_000 + READ_TIME_LEAD_MS, "never back");
        assert_eq!(time.read_time_ms(900, 2_000), 2_000, "never below its view");
        assert_eq!(time.read_time_ms(2_100, 2_000), 2_100);
    }

    #[tokio::test]
    async fn a_leader_starts_its_term_above_every_read_time_handed_out_before() {
        // The term began after entries up to a time far ahead of this leader's clock.
        let ahead = clock_ms() + 60_000;
        let (_starts, time) = time_at(5, ahead);
        let wait = Duration::from_millis(10);
        let leader = time.leader_time_ms(5, wait).await.expect("the term started");
        assert!(leader >= ahead + READ_TIME_LEAD_MS);
        // Any read under an earlier leader ran at most the lead past that entry time.
        let earlier_read =
            Time::new(watch::channel(TermStart::default()).1).read_time_ms(u64::MAX, ahead);
        assert!(leader >= earlier_read);
        assert!(time.leader_time_ms(5, wait).await.expect("again") >= leader, "never back");
        // Its clock is a minute behind its floor, yet its time runs on.
        std::thread::sleep(Duration::from_millis(20));
        let later = time.leader_time_ms(5, wait).await.expect("again");
        assert!(
            later >= leader + 20,
            "a leader's time runs at least as fast as its monotonic clock"
        );
    }

    #[tokio::test]
    async fn a_leader_that_has_not_applied_its_terms_first_entry_hands_out_no_time() {
        let (starts, time) = time_at(4, 0);
        let wait = Duration::from_millis(10);
        assert!(matches!(time.leader_time_ms(5, wait).await, Err(NodeError::Unavailable(_))));
        starts.send_replace(TermStart { term: 5, time_ms: 7 });
        assert!(time.leader_time_ms(5, wait).await.is_ok());
    }

    #[test]
    fn a_leader_lags_once_its_clock_is_half_the_lead_past_its_entries() {
        let (_starts, time) = time_at(1, 0);
        assert!(time.lags(clock_ms() - READ_TIME_LEAD_MS));
        assert!(!time.lags(clock_ms() + 1_000));
    }
}
