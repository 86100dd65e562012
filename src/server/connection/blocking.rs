//! A connection's blocking pop: propose it, wait for its deferred reply, and take what it was
//! served only if the client is still there.
//!
//! The pop is proposed as `BlockWithReservation`, naming this connection as the waiter.
//! Whether apply popped at once or registered the waiter, the answer comes as a served reply
//! through the connection's mailbox (see `node::deliveries`). While it waits, the connection
//! measures the timeout and watches its socket, CLIENT KILL and shutdown: when the timeout
//! passes it proposes the unblock, and apply decides whether the waiter times out or was
//! served first; when the client goes away it proposes the cancel.
//!
//! What a later push served is only reserved for this client (see
//! `state_machine::blocking`). The connection gives such a reply in three steps:
//! 1. it looks at its socket once more, straight from the kernel (the runtime's readiness may
//!    not have caught up with a close that came before the push): a client that closed, or a
//!    connection that was killed, cancels, and apply puts the element back;
//! 2. it proposes `Delivered`, and waits for it to be applied;
//! 3. only if `Delivered` found the reservation does it write the reply. If it did not (the
//!    reservation expired while this node was cut off), the element went back to its key and
//!    the connection blocks again. If its outcome is unknown, the connection cancels (which
//!    puts the element back if `Delivered` was not applied) and answers the error, which says
//!    the outcome is unknown, as for any write.
//!
//! So whatever the log orders first, a client that went away never takes an element with it,
//! and an element that was put back was never written to anyone. What remains: a client that
//! closes after step 1 and before it reads the reply loses it, as with any reply in flight.
//!
//! A blocking command that ended in an error (its block, unblock or `Delivered` not known to
//! be applied) may still be registered or served by the log later: the next blocking command
//! first settles it, and then blocks under a fresh waiter number, so nothing the earlier one
//! is served can answer it (see [`Connection::settle_waiter`]).
//!
//! CLIENT UNBLOCK ends the wait as the timeout does (apply still decides whether a push served
//! the client first); with `ERROR`, a client that was not served answers Redis's `-UNBLOCKED`
//! error instead of the timeout's reply.
//!
//! Like Redis, the connection reads nothing else while it is blocked: requests pipelined
//! after a blocking command wait in the input buffer until it is answered.

use std::time::{Duration, Instant};

use super::{watching_client, Connection};
use crate::command::blocking::{Block, BlockingWrite};
use crate::command::control::{UnblockReason, UNBLOCKED};
use crate::command::Write;
use crate::node::{NodeError, ServedReply};
use crate::resp::Frame;
use crate::server::Waiting;
use crate::state_machine::{WaiterId, WriteRequest, RESERVATION_MS};

impl Connection {
    /// Runs a blocking pop outside MULTI and returns its reply, with how long it waited to be
    /// served (which INFO commandstats and SLOWLOG leave out of its time, as Redis does).
    pub(super) async fn execute_blocking(&mut self, block: Block) -> (Frame, Duration) {
        let mut blocked_for = Duration::ZERO;
        let frame = self.block_until_answered(block, &mut blocked_for).await;
        (frame, blocked_for)
    }

    async fn block_until_answered(&mut self, block: Block, blocked_for: &mut Duration) -> Frame {
        let timeout = (block.timeout_ms > 0).then(|| Duration::from_millis(block.timeout_ms));
        let deadline = timeout.map(|timeout| tokio::time::Instant::now() + timeout);
        self.publish_activity();
        if self.session.blocking_unsettled {
            self.settle_waiter().await;
        }
        let waiter = self.mailbox().waiter();
        loop {
            let write = BlockingWrite::BlockWithReservation(Block { waiter, ..block.clone() });
            if let Err(error) = self.propose_blocking(write).await {
                self.session.blocking_unsettled = true;
                return error;
            }
            self.forget_view();
            self.client.start_waiting(Waiting::Blocked { unblocked: None });
            let answer = self.answer_blocked(waiter, deadline, blocked_for).await;
            self.client.stop_waiting();
            match answer {
                Answer::Reply(frame) => return frame,
                Answer::BlockAgain => {}
                Answer::Gone => {
                    self.session.close_after_reply = true;
                    return Frame::NullArray;
                }
            }
        }
    }

    /// Waits for the served reply, adding the wait to `blocked_for`, and decides what the
    /// client gets.
    async fn answer_blocked(
        &mut self,
        waiter: WaiterId,
        deadline: Option<tokio::time::Instant>,
        blocked_for: &mut Duration,
    ) -> Answer {
        let waiting_since = Instant::now();
        let waited = self.wait_until_served(waiter, deadline).await;
        *blocked_for += waiting_since.elapsed();
        let served = match waited {
            Waited::Served(served) => served,
            Waited::TimedOut(unblocked) => {
                if let Err(error) = self.propose_blocking(BlockingWrite::Unblock { waiter }).await {
                    self.session.blocking_unsettled = true;
                    return Answer::Reply(error);
                }
                // The unblock's entry was applied, so the reply is in the mailbox: the timeout's,
                // or what a push served first.
                let mailbox = self.mailbox.as_ref().expect("opened before the pop was proposed");
                let served = mailbox.served(waiter).await;
                if unblocked == Some(UnblockReason::Error)
                    && !served.reserved
                    && served.reply.is_null()
                {
                    return Answer::Reply(UNBLOCKED.to_frame());
                }
                served
            }
            Waited::Gone => {
                self.cancel_waiter(waiter).await;
                return Answer::Gone;
            }
        };
        if !served.reserved {
            return Answer::Reply(served.reply);
        }
        if self.client_gone() {
            self.cancel_waiter(waiter).await;
            return Answer::Gone;
        }
        match self.shared.node.write(vec![request(BlockingWrite::Delivered { waiter })]).await {
            Ok(replies) if replies == [Frame::Integer(1)] => Answer::Reply(served.reply),
            Ok(_) => Answer::BlockAgain,
            Err(error) => {
                self.cancel_waiter(waiter).await;
                self.session.blocking_unsettled = true;
                Answer::Reply(error.to_frame())
            }
        }
    }

    async fn wait_until_served(
        &mut self,
        waiter: WaiterId,
        deadline: Option<tokio::time::Instant>,
    ) -> Waited {
        let mailbox = self.mailbox.as_ref().expect("opened before the pop was proposed");
        let client = &self.client;
        let served_or_timed_out = async {
            let timer = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                served = mailbox.served(waiter) => Waited::Served(served),
                () = timer => Waited::TimedOut(None),
                reason = client.unblocked() => Waited::TimedOut(Some(reason)),
            }
        };
        let (stream, input) = (&mut self.stream, &mut self.input);
        watching_client(stream, input, &self.shared, &self.client, served_or_timed_out)
            .await
            .unwrap_or(Waited::Gone)
    }

    /// Whether the client is gone: killed, the server stopping, or its socket closed. The socket
    /// is looked at without waiting; whatever requests it holds are kept in the input buffer
    /// for after the reply (see `ClientStream::client_gone`).
    fn client_gone(&mut self) -> bool {
        if self.client.is_killed() || *self.shared.shutdown.borrow() {
            return true;
        }
        let limit = self.shared.settings.client_query_buffer_limit();
        self.stream.client_gone(&mut self.input, limit)
    }

    /// Proposes the cancel of a client that went away, again and again while it fails (no leader
    /// now, an outcome unknown), until it is applied, the node stops, or the reservation would
    /// have expired anyway. A cancel applied twice does nothing the second time.
    async fn cancel_waiter(&mut self, waiter: WaiterId) {
        let started = tokio::time::Instant::now();
        let give_up_after = Duration::from_millis(RESERVATION_MS);
        loop {
            let write = request(BlockingWrite::Cancel { waiter });
            match self.shared.node.write(vec![write]).await {
                Ok(_) | Err(NodeError::Stopped) => return,
                Err(error) if started.elapsed() >= give_up_after => {
                    tracing::warn!(%error, client = waiter.connection, "could not cancel a blocked \
                        client that went away; its reservation expires instead");
                    return;
                }
                Err(_) => tokio::time::sleep(CANCEL_RETRY_INTERVAL).await,
            }
        }
    }

    /// Clears what an earlier blocking command of this connection that ended in an error may
    /// have left: its waiter could still be registered (and take a later push), and its served
    /// reply could still be in the mailbox's slot. The cancel removes the waiter or puts back
    /// its reservation; it is applied after every entry of the earlier command that is ever
    /// applied, except one whose forward still waits on a live leader. A read round then makes
    /// this node apply up to the cancel, so the slot holds whatever the earlier command was
    /// served, and that is dropped. Last, the connection takes a fresh waiter number, so that
    /// an entry of the earlier command applied even later (that delayed forward) registers a
    /// waiter no reply of the next command can come from: what it is served is reserved for a
    /// number no one answers to, and goes back to its key when the reservation expires.
    async fn settle_waiter(&mut self) {
        let waiter = self.mailbox().waiter();
        self.cancel_waiter(waiter).await;
        // Without a round (no leader now) a reply of the earlier command may still arrive after
        // the slot is emptied, and the fresh number turns it away. A reply dropped here was
        // answered to the client as an error of unknown outcome: a reserved element went back
        // with the cancel, and one popped at once counts as that write's unknown outcome.
        let _ = self.shared.node.read_view().await;
        self.session.waiter_number = self.shared.clients.fresh_id();
        let number = self.session.waiter_number;
        let mailbox = self.mailbox();
        mailbox.discard_served();
        mailbox.answer_as(number);
        self.session.blocking_unsettled = false;
    }

    /// Proposes one blocking request; an error comes back as the client's error reply.
    async fn propose_blocking(&mut self, write: BlockingWrite) -> Result<(), Frame> {
        let db = self.session.db;
        let request = WriteRequest { db, write: Write::Blocking(write) };
        self.shared.node.write(vec![request]).await.map(drop).map_err(|error| error.to_frame())
    }
}

enum Answer {
    /// Give this reply.
    Reply(Frame),
    /// What was reserved went back to its key before this node confirmed it: wait again.
    BlockAgain,
    /// The client went away (or was killed, or the server is stopping); the waiter was
    /// cancelled.
    Gone,
}

enum Waited {
    Served(ServedReply),
    /// The timeout passed, or CLIENT UNBLOCK ended the wait (with its reason).
    TimedOut(Option<UnblockReason>),
    Gone,
}

/// How long a failed cancel waits before it is proposed again.
const CANCEL_RETRY_INTERVAL: Duration = Duration::from_millis(100);

fn request(write: BlockingWrite) -> WriteRequest {
    WriteRequest { db: 0, write: Write::Blocking(write) }
}
