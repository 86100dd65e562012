//! Blocking pops inside apply: the replicated table of blocked clients, and serving them.
//!
//! A blocking pop ([`Block`]) pops at once when one of its keys has data. Otherwise its
//! waiter joins the [`Waiters`] table: at the back of the queue of each key it waits on, so
//! that the first blocked is the first served. The table is state machine state, so every
//! replica holds the same one and makes the same choices.
//!
//! After every request of an entry (an EXEC counts as one, as in Redis, which serves blocked
//! clients after the whole transaction), apply looks at each key someone waits on, and while
//! the key has data of the right type serves the waiter at the front of its queue, with the
//! same pop and reply as the non-blocking form. Serving may create data for others (BLMOVE
//! pushes to its destination), so this repeats until nothing more can be served. A served
//! waiter leaves every queue it was in. Because it only looks at the keys' state, any write
//! that makes data available serves waiters: LPUSH, LMOVE's destination, ZADD, RENAME onto
//! the key, a transaction holding any of these.
//!
//! A waiter's reply is an [`Output::Served`] of the entry. The node the waiter is connected
//! to routes it to the connection; the others ignore it. [`BlockingWrite::Unblock`] (timeout
//! or disconnect, proposed by the waiting node) removes a waiter still in the table and
//! answers it with the timeout reply, or does nothing if it was served first.
//!
//! Inside a transaction a blocking pop never blocks: it is its non-blocking form, and
//! answers the null array (BLMOVE and BRPOPLPUSH: the null bulk) when there is nothing.
//!
//! Caveats:
//! - Keys are examined in key order, not in the order they became ready within one request:
//!   a waiter on several keys that all became ready in one transaction is served from the
//!   first of them in key order, where Redis takes the first one written.
//! - A waiter stays blocked while its key holds another type, as in Redis 7.0; for BLMOVE a
//!   destination of another type also keeps it waiting.
//! - Each request that leaves waiters in the table costs a look at every waited-on key.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::command::blocking::{Block, BlockingPop, BlockingWrite, WaiterId};
use crate::command::{CommandError, DbIndex, Key};
use crate::resp::Frame;
use crate::store::list::{self, list_at};
use crate::store::{Db, Keyspace};

use super::outputs::Output;
use super::zsets::pop_first_nonempty;

/// The blocked clients, by id and by the keys they wait on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Waiters {
    waiters: BTreeMap<WaiterId, Waiter>,
    /// For each key someone waits on, the waiters in the order they blocked.
    queues: BTreeMap<(DbIndex, Key), VecDeque<WaiterId>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Waiter {
    db: DbIndex,
    pop: BlockingPop,
}

impl Waiters {
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    fn insert(&mut self, id: WaiterId, db: DbIndex, pop: BlockingPop) {
        for key in pop.keys() {
            let queue = self.queues.entry((db, key.clone())).or_default();
            if !queue.contains(&id) {
                queue.push_back(id);
            }
        }
        self.waiters.insert(id, Waiter { db, pop });
    }

    fn remove(&mut self, id: WaiterId) -> Option<Waiter> {
        let waiter = self.waiters.remove(&id)?;
        for key in waiter.pop.keys() {
            let name = (waiter.db, key.clone());
            if let Some(queue) = self.queues.get_mut(&name) {
                queue.retain(|queued| *queued != id);
                if queue.is_empty() {
                    self.queues.remove(&name);
                }
            }
        }
        Some(waiter)
    }
}

/// Applies a blocking request made outside a transaction. The request's own reply is a
/// placeholder: a blocking command's answer is always an [`Output::Served`].
pub(super) fn apply(
    keyspace: &mut Keyspace,
    waiters: &mut Waiters,
    db: DbIndex,
    now_ms: u64,
    write: &BlockingWrite,
    outputs: &mut Vec<Output>,
) -> Frame {
    match write {
        BlockingWrite::Block(Block { waiter, pop, .. }) => {
            if waiters.waiters.contains_key(waiter) {
                let reply = Frame::error("ERR this connection is already blocked");
                outputs.push(Output::Served { waiter: *waiter, reply });
                return Frame::Null;
            }
            match pop_any(keyspace.db_mut(db), now_ms, pop) {
                Ok(Some(reply)) => outputs.push(Output::Served { waiter: *waiter, reply }),
                Ok(None) => waiters.insert(*waiter, db, pop.clone()),
                Err(error) => outputs.push(Output::Served { waiter: *waiter, reply: error.into() }),
            }
            Frame::Null
        }
        BlockingWrite::Unblock { waiter } => match waiters.remove(*waiter) {
            Some(_) => {
                outputs.push(Output::Served { waiter: *waiter, reply: Frame::NullArray });
                Frame::Integer(1)
            }
            None => Frame::Integer(0),
        },
        BlockingWrite::ForgetEarlierRuns { node, incarnation } => {
            let stale: Vec<WaiterId> = waiters
                .waiters
                .keys()
                .filter(|id| id.node == *node && id.incarnation != *incarnation)
                .copied()
                .collect();
            for id in &stale {
                waiters.remove(*id);
            }
            Frame::Integer(stale.len() as i64)
        }
    }
}

/// A blocking request inside a transaction: the non-blocking form.
pub(super) fn apply_in_transaction(
    keyspace: &mut Keyspace,
    db: DbIndex,
    now_ms: u64,
    write: &BlockingWrite,
) -> Frame {
    let BlockingWrite::Block(Block { pop, .. }) = write else {
        return Frame::error("ERR unblocking is not allowed inside a transaction");
    };
    match pop_any(keyspace.db_mut(db), now_ms, pop) {
        Ok(Some(reply)) => reply,
        Ok(None) if matches!(pop, BlockingPop::Move { .. }) => Frame::Null,
        Ok(None) => Frame::NullArray,
        Err(error) => error.into(),
    }
}

/// Serves every waiter that can be served now, first blocked first, until none can.
pub(super) fn serve(
    keyspace: &mut Keyspace,
    waiters: &mut Waiters,
    now_ms: u64,
    outputs: &mut Vec<Output>,
) {
    loop {
        let mut served_any = false;
        let keys: Vec<(DbIndex, Key)> = waiters.queues.keys().cloned().collect();
        for (db, key) in keys {
            while let Some(&id) = waiters.queues.get(&(db, key.clone())).and_then(VecDeque::front) {
                let waiter = waiters.waiters.get(&id).expect("queued waiters are in the table");
                let Some(reply) = pop_from(keyspace.db_mut(db), now_ms, &waiter.pop, &key) else {
                    break;
                };
                waiters.remove(id);
                outputs.push(Output::Served { waiter: id, reply });
                served_any = true;
            }
        }
        if !served_any {
            return;
        }
    }
}

/// The pop of a blocking command on the first of its keys with data, as its non-blocking
/// form does it; `None` when no key has any.
fn pop_any(db: &mut Db, now_ms: u64, pop: &BlockingPop) -> Result<Option<Frame>, CommandError> {
    Ok(match pop {
        BlockingPop::List { keys, end } => {
            let mut reply = None;
            for key in keys {
                if let Some(mut popped) = list::pop(db, key, *end, 1, now_ms)? {
                    let element = popped.pop().expect("a live list is never empty");
                    reply =
                        Some(Frame::Array(vec![Frame::Bulk(key.clone()), Frame::Bulk(element)]));
                    break;
                }
            }
            reply
        }
        BlockingPop::Move { source, destination, from, to } => {
            list::move_element(db, source, destination, *from, *to, now_ms)?.map(Frame::Bulk)
        }
        BlockingPop::ListMany { keys, end, count } => {
            let mut reply = None;
            for key in keys {
                if let Some(popped) = list::pop(db, key, *end, *count, now_ms)? {
                    reply = Some(list_many_reply(key, popped));
                    break;
                }
            }
            reply
        }
        BlockingPop::Zset { keys, from_max } => {
            pop_first_nonempty(db, now_ms, keys, *from_max, 1)?.map(zset_reply)
        }
        BlockingPop::ZsetMany { keys, from_max, count } => {
            pop_first_nonempty(db, now_ms, keys, *from_max, *count)?.map(zset_many_reply)
        }
    })
}

/// Serving a waiter from one key that became ready: `None` if the key has no data of the
/// right type (or, for BLMOVE, the destination is of another type), and the waiter waits on.
fn pop_from(db: &mut Db, now_ms: u64, pop: &BlockingPop, key: &Key) -> Option<Frame> {
    let keys = std::slice::from_ref(key);
    let result = match pop {
        BlockingPop::List { end, .. } => {
            pop_any(db, now_ms, &BlockingPop::List { keys: keys.to_vec(), end: *end })
        }
        BlockingPop::Move { destination, .. } if list_at(db, destination, now_ms).is_err() => {
            Ok(None)
        }
        BlockingPop::Move { .. } => pop_any(db, now_ms, pop),
        BlockingPop::ListMany { end, count, .. } => pop_any(
            db,
            now_ms,
            &BlockingPop::ListMany { keys: keys.to_vec(), end: *end, count: *count },
        ),
        BlockingPop::Zset { from_max, .. } => {
            pop_first_nonempty(db, now_ms, keys, *from_max, 1).map(|popped| popped.map(zset_reply))
        }
        BlockingPop::ZsetMany { from_max, count, .. } => {
            pop_first_nonempty(db, now_ms, keys, *from_max, *count)
                .map(|popped| popped.map(zset_many_reply))
        }
    };
    // Another type on the key: Redis leaves the client blocked.
    result.ok().flatten()
}

fn list_many_reply(key: &Key, popped: Vec<Bytes>) -> Frame {
    Frame::Array(vec![
        Frame::Bulk(key.clone()),
        Frame::Array(popped.into_iter().map(Frame::Bulk).collect()),
    ])
}

fn zset_reply((key, mut popped): (Key, Vec<(Bytes, f64)>)) -> Frame {
    let (member, score) = popped.pop().expect("a live sorted set is never empty");
    Frame::Array(vec![Frame::Bulk(key), Frame::Bulk(member), Frame::Double(score)])
}

fn zset_many_reply((key, popped): (Key, Vec<(Bytes, f64)>)) -> Frame {
    let pairs = popped
        .into_iter()
        .map(|(member, score)| Frame::Array(vec![Frame::Bulk(member), Frame::Double(score)]));
    Frame::Array(vec![Frame::Bulk(key), Frame::Array(pairs.collect())])
}

#[cfg(test)]
mod tests;
