//! Background work: the log-size snapshot trigger and active expiry, each a task beside the
//! commit pipeline that proposes or snapshots through the same paths a client would.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{clock_ms, Node, NodeError};
use crate::command::blocking::BlockingWrite;
use crate::command::keys::KeyWrite;
use crate::command::Write;
use crate::state_machine::WriteRequest;

/// How often the node checks whether the log has grown enough for a snapshot.
const SNAPSHOT_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// How long after a failed log-size snapshot the next is tried: Redis's wait after a failed
/// background save (`CONFIG_BGSAVE_RETRY_DELAY`), so a full disk is not hammered.
const SNAPSHOT_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Takes a snapshot whenever the log grew by `snapshot_log_bytes` since the last one.
/// A failed one is tried again after [`SNAPSHOT_RETRY_DELAY`]; none is tried while the log
/// waits for disk space.
pub(super) async fn run_snapshot_trigger(node: Node, snapshot_log_bytes: u64) {
    let mut ticker = tokio::time::interval(SNAPSHOT_CHECK_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut retry_after: Option<Instant> = None;
    loop {
        ticker.tick().await;
        if node.fatal.borrow().is_some() {
            return;
        }
        if node.disk_full.borrow().is_some() || retry_after.is_some_and(|at| Instant::now() < at) {
            continue;
        }
        let grown = node.log_figures.bytes_since_purge.load(Ordering::Relaxed);
        if grown < snapshot_log_bytes {
            continue;
        }
        retry_after = match node.save().await {
            Ok(()) => None,
            Err(error) => {
                let delay_seconds = SNAPSHOT_RETRY_DELAY.as_secs();
                tracing::warn!(%error, delay_seconds, "the log-size snapshot failed; retrying");
                Some(Instant::now() + SNAPSHOT_RETRY_DELAY)
            }
        };
    }
}

/// Active expiry, on the leader (the time that decides expiry is its own). It reads the live
/// expiry index rather than a view: publishing a view every cycle would make every write
/// after it copy the map paths it touches, and apply re-checks every deadline against the
/// entry's time anyway.
pub(super) async fn run_active_expiry(node: Node, interval: Duration, keys_per_cycle: usize) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if node.raft.metrics().borrow().current_leader != Some(node.routing.id) {
            continue;
        }
        let requests: Vec<WriteRequest> = node
            .shared
            .expired_keys(clock_ms(), keys_per_cycle)
            .into_iter()
            .map(|(db, keys)| WriteRequest {
                db,
                write: Write::Key(KeyWrite::DeleteExpired { keys }),
            })
            .collect();
        if !requests.is_empty() {
            // Whatever failed, the next cycle proposes them again (once there is space, or a
            // leader); only a stopped node ends the task.
            if let Err(NodeError::Stopped) = node.write(requests).await {
                return;
            }
        }
        // A reservation whose node never confirmed nor cancelled it (the node is gone or cut
        // off) goes back to its key; apply decides which are overdue by the entry's time.
        if node.shared.has_expired_reservations(clock_ms()) {
            // Failing is harmless: the next cycle proposes it again.
            let write = Write::Blocking(BlockingWrite::ExpireReservations);
            let _ = node.write(vec![WriteRequest { db: 0, write }]).await;
        }
    }
}
