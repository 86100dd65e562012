//! Freeing large structures off the apply path.
//!
//! Emptying a database is O(1) for the keyspace (its map is replaced), but dropping the old
//! map frees every node of it, O(number of keys). Apply hands such garbage here, and one
//! background thread drops it. Freeing memory has no observable effect on state or replies,
//! so this keeps apply deterministic; it only keeps a FLUSHALL of millions of keys from
//! stalling every write behind it.
//!
//! The queue is bounded. When it is full (or the thread could not be started), the garbage is
//! dropped where it is: slower, never lost or leaked.
//!
//! Caveat: a persistent map is freed by whoever drops its last reference. While a reader or
//! the published view still holds the old version, dropping apply's reference here is only a
//! count decrement; the state machine therefore also hands over the view it replaces after an
//! entry that flushed a database.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;

/// How many pieces of garbage may wait for the background thread.
const QUEUE_MAX: usize = 16;

type Garbage = Box<dyn Send>;

static QUEUE: OnceLock<Option<SyncSender<Garbage>>> = OnceLock::new();

/// Drops `garbage` on the background thread, or here if the queue is full.
pub(super) fn drop_later<T: Send + 'static>(garbage: T) {
    let garbage: Garbage = Box::new(garbage);
    let Some(queue) = QUEUE.get_or_init(start) else {
        return drop(garbage);
    };
    match queue.try_send(garbage) {
        Ok(()) => {}
        Err(TrySendError::Full(garbage) | TrySendError::Disconnected(garbage)) => drop(garbage),
    }
}

fn start() -> Option<SyncSender<Garbage>> {
    let (sender, receiver) = sync_channel::<Garbage>(QUEUE_MAX);
    let spawned = std::thread::Builder::new()
        .name("concord-reclaim".into())
        .spawn(move || receiver.into_iter().for_each(drop));
    match spawned {
        Ok(_) => Some(sender),
        Err(error) => {
            tracing::warn!(%error, "cannot start the reclaim thread; freeing on the apply path");
            None
        }
    }
}
