//! A connection's blocking pop: propose it, then wait for its deferred reply.
//!
//! The pop is proposed as a write that names this connection as the waiter. Whether apply
//! popped at once or registered the waiter, the answer comes as a served reply through the
//! connection's mailbox (see `node::deliveries`). While it waits, the connection measures the
//! timeout and watches its socket: when the timeout passes, or the client goes away, it
//! proposes the unblock, and apply decides whether the waiter times out or was served first.
//! Either way exactly one served reply arrives, and the connection answers with it (a client
//! that went away gets nothing; it was unblocked before any later push could serve it).
//!
//! Like Redis, the connection reads nothing else while it is blocked: requests pipelined
//! after a blocking command wait in the input buffer until it is answered.

use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::connection::Connection;
use super::subscriptions;
use crate::command::blocking::{Block, BlockingWrite};
use crate::command::Write;
use crate::resp::Frame;
use crate::state_machine::{WaiterId, WriteRequest};

/// Runs a blocking pop outside MULTI and returns its reply.
pub(super) async fn execute(connection: &mut Connection, mut block: Block) -> Frame {
    let waiter = connection.shared.node.waiter(connection.client.id);
    block.waiter = waiter;
    let timeout = (block.timeout_ms > 0).then(|| Duration::from_millis(block.timeout_ms));
    subscriptions::mailbox(connection);
    let request = WriteRequest {
        db: connection.session.db,
        write: Write::Blocking(BlockingWrite::Block(block)),
    };
    if let Err(error) = connection.shared.node.write(vec![request]).await {
        return error.to_frame();
    }
    connection.forget_view();
    let deadline = timeout.map(|timeout| tokio::time::Instant::now() + timeout);
    match wait(connection, waiter, deadline).await {
        Waited::Served(reply) => reply,
        Waited::TimedOut => {
            if let Err(error) = unblock(connection, waiter).await {
                return error;
            }
            served(connection, waiter).await
        }
        Waited::Disconnected => {
            // Nobody reads the reply; unblock so that no later push is given to this client.
            let _ = unblock(connection, waiter).await;
            connection.session.close_after_reply = true;
            Frame::NullArray
        }
    }
}

enum Waited {
    Served(Frame),
    TimedOut,
    Disconnected,
}

async fn wait(
    connection: &mut Connection,
    waiter: WaiterId,
    deadline: Option<tokio::time::Instant>,
) -> Waited {
    let mailbox = connection.mailbox.as_ref().expect("opened before the pop was proposed");
    let timer = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(timer);
    loop {
        tokio::select! {
            reply = mailbox.served(waiter) => return Waited::Served(reply),
            () = &mut timer => return Waited::TimedOut,
            read = connection.stream.read_buf(&mut connection.input) => {
                if !matches!(read, Ok(read) if read > 0) {
                    return Waited::Disconnected;
                }
                // More requests: they wait in the buffer, as in Redis.
            }
        }
    }
}

async fn unblock(connection: &mut Connection, waiter: WaiterId) -> Result<(), Frame> {
    let request = WriteRequest { db: 0, write: Write::Blocking(BlockingWrite::Unblock { waiter }) };
    connection.shared.node.write(vec![request]).await.map(drop).map_err(|error| error.to_frame())
}

async fn served(connection: &mut Connection, waiter: WaiterId) -> Frame {
    let mailbox = connection.mailbox.as_ref().expect("opened before the pop was proposed");
    mailbox.served(waiter).await
}
