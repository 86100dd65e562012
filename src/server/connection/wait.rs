//! WAIT: blocks the connection until enough other members hold its writes.
//!
//! Every write Concord acknowledged is on a majority already, so WAIT adds no durability; it
//! tells a client how far replication has gone, as Redis's does. The index waited for is the
//! leader's commit index when WAIT starts (on the leader, its own), which is at least the
//! index of every write this connection was answered for: a forwarded write is answered after
//! the leader applied it, possibly before this follower did. The count comes from the leader's
//! replication progress (`server::replication::holders`), polled until it is reached, the
//! timeout passes or the client goes away. Only this node and the leader are asked, so a
//! member that is down or cut off does not slow the polling.

use std::time::Duration;

use super::{watching_client, Connection};
use crate::command::control::{UnblockReason, Wait, UNBLOCKED};
use crate::resp::Frame;
use crate::server::replication;
use crate::server::Waiting;

/// The first and the longest pause between two looks at the members' progress. A WAIT for
/// fewer members than hold the write answers at the first look; one for more than exist polls
/// until its timeout, so the pause grows to keep such a client cheap.
const POLL_FIRST: Duration = Duration::from_millis(1);
const POLL_LONGEST: Duration = Duration::from_millis(100);

impl Connection {
    /// Answers `WAIT` with the number of other members holding this connection's writes.
    /// Meanwhile the client is blocked: CLIENT UNBLOCK ends the wait, with the count as it
    /// stands (`TIMEOUT`) or Redis's `-UNBLOCKED` error.
    pub(super) async fn execute_wait(&mut self, wait: Wait) -> Frame {
        self.client.start_waiting(Waiting::Blocked { unblocked: None });
        let frame = self.wait_for_replicas(wait).await;
        self.client.stop_waiting();
        frame
    }

    async fn wait_for_replicas(&mut self, wait: Wait) -> Frame {
        let mut unblocked = None;
        let deadline = wait.timeout.map(|timeout| tokio::time::Instant::now() + timeout);
        let mut target = None;
        let mut pause = POLL_FIRST;
        loop {
            let statuses = self.shared.node.own_and_leader_statuses().await;
            let index = *target.get_or_insert_with(|| replication::index_to_hold(&statuses));
            let holders = replication::holders(&statuses, index);
            let expired = deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline);
            match unblocked {
                Some(UnblockReason::Error) => return UNBLOCKED.to_frame(),
                Some(UnblockReason::Timeout) => return Frame::Integer(holders as i64),
                None if holders as i64 >= wait.replicas || expired => {
                    return Frame::Integer(holders as i64);
                }
                None => {}
            }
            let wake = tokio::time::Instant::now() + pause;
            let wake = deadline.map_or(wake, |deadline| wake.min(deadline));
            pause = (pause * 2).min(POLL_LONGEST);
            let (stream, input, client) = (&mut self.stream, &mut self.input, &self.client);
            let slept_or_unblocked = async {
                tokio::select! {
                    () = tokio::time::sleep_until(wake) => None,
                    reason = client.unblocked() => Some(reason),
                }
            };
            match watching_client(stream, input, &self.shared, client, slept_or_unblocked).await {
                Some(reason) => unblocked = reason,
                // Gone: the reply is written to no one.
                None => return Frame::Null,
            }
        }
    }
}
