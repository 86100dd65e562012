//! Blocking commands inside apply: the replicated table of blocked clients, and serving them.
//!
//! A blocking command ([`Block`]) is answered at once when one of its keys has data: its pop
//! (BLPOP, BZPOPMIN, ...) or its stream read (XREAD and XREADGROUP with BLOCK) runs as the
//! non-blocking form would. Otherwise its waiter joins the [`Waiters`] table: at the back of
//! the queue of each key it waits on, so that the first blocked is the first served. The table
//! is state machine state, so every replica holds the same one and makes the same choices.
//!
//! After every request of an entry (an EXEC counts as one, as in Redis, which serves blocked
//! clients after the whole transaction), apply looks at each key someone waits on, and serves
//! its waiters in the order they blocked while the key has data for them, with the same pop
//! and reply as the non-blocking form. Serving may create data for others (BLMOVE pushes to
//! its destination), so this repeats until nothing more can be served. A served waiter leaves
//! every queue it was in. Because it only looks at the keys' state, any write that makes data
//! available serves waiters: LPUSH, LMOVE's destination, ZADD, XADD, RENAME onto the key, a
//! transaction holding any of these.
//!
//! Stream reads wait for entries after an id fixed when they block (see
//! `state_machine::streams::waiting`): each waiter on a stream is looked at, not only the
//! first, since one may wait after an id another has passed. An XREADGROUP waiter whose
//! stream or group is gone is answered Redis's error. A stream read takes nothing from its
//! key, so what it is served is never reserved: an entry served to an XREADGROUP client that
//! went away stays in the consumer's PEL, to be claimed, as in Redis when a reply is lost.
//!
//! A waiter's reply is an [`Output::Served`] of the entry. The node the waiter is connected
//! to routes it to the connection; the others ignore it. [`BlockingWrite::Unblock`] (a
//! timeout, proposed by the waiting node) removes a waiter still in the table and answers it
//! with the timeout reply, or does nothing if it was served first.
//!
//! What a waiter blocked with [`BlockingWrite::BlockWithReservation`] is served stays
//! reserved for it until its node confirms the connection is there to take it
//! ([`BlockingWrite::Delivered`]); a disconnect, a CLIENT KILL, a restart of its node or a
//! reservation left too long puts it back instead (see `reservations`). So a client that
//! went away never takes an element with it, however its going is ordered against pushes in
//! the log.
//!
//! Inside a transaction or a script a blocking command never blocks: it is its non-blocking
//! form, and answers the null array (BLMOVE and BRPOPLPUSH: the null bulk) when there is
//! nothing.
//!
//! Caveats:
//! - Keys are examined in key order, not in the order they became ready within one request:
//!   a waiter on several keys that all became ready in one transaction is served from the
//!   first of them in key order, where Redis takes the first one written.
//! - A pop waiter stays blocked while its key holds another type, as in Redis 7.0 (an
//!   XREADGROUP waiter is answered `-UNBLOCKED`, as there). A BLMOVE
//!   waiter whose source has data but whose destination holds another type is answered
//!   WRONGTYPE and leaves the table, the element stays in the source and the next waiter is
//!   served, as in Redis 7.0.
//! - A pop served at once, when the blocking command is applied, is not reserved: it is the
//!   non-blocking pop the client asked for, answered like one.
//! - Each request that leaves waiters in the table costs a look at every waited-on key, and
//!   at every stream reader waiting on one.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::command::blocking::{Block, BlockingPop, BlockingWrite, WaiterId};
use crate::command::streams::ReadFrom;
use crate::command::{CommandError, DbIndex, Key};
use crate::resp::Frame;
use crate::store::list::{self, list_at};
use crate::store::stream::StreamId;
use crate::store::{Db, Keyspace};

use super::outputs::Output;
use super::streams::waiting;
use super::zsets::pop_first_nonempty;

mod reservations;

pub(crate) use reservations::Taken;
pub use reservations::RESERVATION_MS;
use reservations::{put_back, Reservation, Reservations};

/// The blocked clients, by id and by the keys they wait on, and what was reserved for those
/// served but not yet confirmed delivered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Waiters {
    waiters: BTreeMap<WaiterId, Waiter>,
    /// For each key someone waits on, the waiters in the order they blocked.
    queues: BTreeMap<(DbIndex, Key), VecDeque<WaiterId>>,
    /// Snapshot format version 3.
    reservations: Reservations,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Waiter {
    db: DbIndex,
    pop: BlockingPop,
    /// Blocked with `BlockWithReservation`: what it is served is reserved (version 3).
    reserves: bool,
}

/// The waiter table as snapshot format version 2 stored it, without reservations.
#[derive(Deserialize)]
pub struct WaitersVersion2 {
    waiters: BTreeMap<WaiterId, WaiterVersion2>,
    queues: BTreeMap<(DbIndex, Key), VecDeque<WaiterId>>,
}

#[derive(Deserialize)]
struct WaiterVersion2 {
    db: DbIndex,
    pop: BlockingPop,
}

impl From<WaitersVersion2> for Waiters {
    fn from(old: WaitersVersion2) -> Waiters {
        let waiters = old
            .waiters
            .into_iter()
            .map(|(id, old)| (id, Waiter { db: old.db, pop: old.pop, reserves: false }))
            .collect();
        Waiters { waiters, queues: old.queues, reservations: Reservations::new() }
    }
}

impl Waiters {
    /// Whether no client is blocked.
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// The number of blocked clients.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    /// How many served waiters' elements are reserved, awaiting confirmation.
    pub fn reservation_count(&self) -> usize {
        self.reservations.len()
    }

    /// Whether some reservation is older than [`RESERVATION_MS`] at `now_ms`, so that an
    /// `ExpireReservations` would put it back.
    pub fn has_expired_reservations(&self, now_ms: u64) -> bool {
        self.reservations.values().any(|reservation| is_expired(reservation, now_ms))
    }

    fn insert(&mut self, id: WaiterId, db: DbIndex, pop: BlockingPop, reserves: bool) {
        for key in pop.keys() {
            let queue = self.queues.entry((db, key.clone())).or_default();
            if !queue.contains(&id) {
                queue.push_back(id);
            }
        }
        self.waiters.insert(id, Waiter { db, pop, reserves });
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

fn is_expired(reservation: &Reservation, now_ms: u64) -> bool {
    reservation.served_at_ms.saturating_add(RESERVATION_MS) <= now_ms
}

/// Applies a blocking request made outside a transaction. A blocking command's own reply is a
/// placeholder: its answer is always an [`Output::Served`].
pub(super) fn apply(
    keyspace: &mut Keyspace,
    waiters: &mut Waiters,
    db: DbIndex,
    now_ms: u64,
    write: &BlockingWrite,
    outputs: &mut Vec<Output>,
) -> Frame {
    match write {
        BlockingWrite::Block(block) => {
            apply_block(keyspace, waiters, db, now_ms, block, false, outputs)
        }
        BlockingWrite::BlockWithReservation(block) => {
            apply_block(keyspace, waiters, db, now_ms, block, true, outputs)
        }
        BlockingWrite::Unblock { waiter } => match waiters.remove(*waiter) {
            Some(_) => {
                outputs.push(Output::Served {
                    waiter: *waiter,
                    reply: Frame::NullArray,
                    reserved: false,
                });
                Frame::Integer(1)
            }
            None => Frame::Integer(0),
        },
        BlockingWrite::Delivered { waiter } => {
            Frame::Integer(i64::from(waiters.reservations.remove(waiter).is_some()))
        }
        BlockingWrite::Cancel { waiter } => {
            if waiters.remove(*waiter).is_some() {
                return Frame::Integer(1);
            }
            match waiters.reservations.remove(waiter) {
                Some(reservation) => {
                    put_back(keyspace, reservation, now_ms);
                    Frame::Integer(1)
                }
                None => Frame::Integer(0),
            }
        }
        BlockingWrite::ExpireReservations => {
            let expired: Vec<WaiterId> = waiters
                .reservations
                .iter()
                .filter(|(_, reservation)| is_expired(reservation, now_ms))
                .map(|(id, _)| *id)
                .collect();
            put_back_all(keyspace, waiters, &expired, now_ms)
        }
        BlockingWrite::ForgetEarlierRuns { node, incarnation } => {
            let earlier = |id: &WaiterId| id.node == *node && id.incarnation != *incarnation;
            forget(keyspace, waiters, now_ms, earlier)
        }
        BlockingWrite::ForgetNode { node } => {
            forget(keyspace, waiters, now_ms, |id: &WaiterId| id.node == *node)
        }
    }
}

/// Forgets the waiters `gone` picks, whose connections are gone, and puts back what was
/// reserved for them; answers how many were still waiting.
fn forget(
    keyspace: &mut Keyspace,
    waiters: &mut Waiters,
    now_ms: u64,
    gone: impl Fn(&WaiterId) -> bool,
) -> Frame {
    let stale: Vec<WaiterId> = waiters.waiters.keys().filter(|id| gone(id)).copied().collect();
    for id in &stale {
        waiters.remove(*id);
    }
    let reserved: Vec<WaiterId> =
        waiters.reservations.keys().filter(|id| gone(id)).copied().collect();
    put_back_all(keyspace, waiters, &reserved, now_ms);
    Frame::Integer(stale.len() as i64)
}

fn apply_block(
    keyspace: &mut Keyspace,
    waiters: &mut Waiters,
    db: DbIndex,
    now_ms: u64,
    block: &Block,
    reserves: bool,
    outputs: &mut Vec<Output>,
) -> Frame {
    let Block { waiter, pop, .. } = block;
    if waiters.waiters.contains_key(waiter) || waiters.reservations.contains_key(waiter) {
        let reply = Frame::error("ERR this connection is already blocked");
        outputs.push(Output::Served { waiter: *waiter, reply, reserved: false });
        return Frame::Null;
    }
    // Answered at once: the client's own pop, answered as the non-blocking form (not reserved).
    match first_attempt(keyspace.db_mut(db), now_ms, pop) {
        Attempt::Answered(reply) => {
            outputs.push(Output::Served { waiter: *waiter, reply, reserved: false })
        }
        Attempt::Wait(pop) => waiters.insert(*waiter, db, pop, reserves),
    }
    Frame::Null
}

/// What a blocking command does when it is applied.
enum Attempt {
    /// The non-blocking form's reply: what it popped or read, or the error it earned.
    Answered(Frame),
    /// Nothing there: wait with this pop (a stream read's with its ids resolved now).
    Wait(BlockingPop),
}

/// A blocking command's non-blocking form, run when the command is applied.
fn first_attempt(db: &mut Db, now_ms: u64, pop: &BlockingPop) -> Attempt {
    match pop {
        BlockingPop::Streams { count, streams } => match waiting::read(db, now_ms, *count, streams)
        {
            waiting::Attempt::Answered(reply) => Attempt::Answered(reply),
            waiting::Attempt::Wait(ids) => {
                let streams =
                    ids.into_iter().map(|(key, id)| (key, Ok(ReadFrom::After(id)))).collect();
                Attempt::Wait(BlockingPop::Streams { count: *count, streams })
            }
        },
        BlockingPop::StreamGroup { group, consumer, count, no_ack, streams } => {
            let keys: Vec<Key> = streams.iter().map(|(key, _)| key.clone()).collect();
            match waiting::read_group(db, now_ms, group, consumer, *count, *no_ack, &keys) {
                waiting::Attempt::Answered(reply) => Attempt::Answered(reply),
                waiting::Attempt::Wait(ids) => Attempt::Wait(BlockingPop::StreamGroup {
                    group: group.clone(),
                    consumer: consumer.clone(),
                    count: *count,
                    no_ack: *no_ack,
                    streams: ids.into_iter().map(|(key, id)| (key, ReadFrom::After(id))).collect(),
                }),
            }
        }
        pop => match pop_any(db, now_ms, pop) {
            Ok(Some((reply, _))) => Attempt::Answered(reply),
            Ok(None) => Attempt::Wait(pop.clone()),
            Err(error) => Attempt::Answered(error.into()),
        },
    }
}

/// Puts back the reservations of `ids`; returns how many there were.
fn put_back_all(
    keyspace: &mut Keyspace,
    waiters: &mut Waiters,
    ids: &[WaiterId],
    now_ms: u64,
) -> Frame {
    for id in ids {
        if let Some(reservation) = waiters.reservations.remove(id) {
            put_back(keyspace, reservation, now_ms);
        }
    }
    Frame::Integer(ids.len() as i64)
}

/// A blocking request inside a transaction (or a script): the non-blocking form, which
/// answers the null array when there is nothing (BLMOVE and BRPOPLPUSH: the null bulk).
pub(super) fn apply_in_transaction(
    keyspace: &mut Keyspace,
    db: DbIndex,
    now_ms: u64,
    write: &BlockingWrite,
) -> Frame {
    let (BlockingWrite::Block(Block { pop, .. })
    | BlockingWrite::BlockWithReservation(Block { pop, .. })) = write
    else {
        return Frame::error("ERR unblocking is not allowed inside a transaction");
    };
    match first_attempt(keyspace.db_mut(db), now_ms, pop) {
        Attempt::Answered(reply) => reply,
        Attempt::Wait(BlockingPop::Move { .. }) => Frame::Null,
        Attempt::Wait(_) => Frame::NullArray,
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
        let keys: Vec<(DbIndex, Key)> = waiters.queues.keys().cloned().collect();
        let mut served_any = false;
        for (db, key) in keys {
            served_any |= serve_key(keyspace, waiters, now_ms, db, &key, outputs);
        }
        if !served_any {
            return;
        }
    }
}

/// What a waiter waits for on a key: waiters of one kind of pop are served from the same
/// data, so once one of them finds nothing, none after it can be served now. A stream read
/// waits for entries after its own id, so each is looked at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Zset,
    Stream,
}

impl Kind {
    fn of(pop: &BlockingPop) -> Kind {
        match pop {
            BlockingPop::List { .. } | BlockingPop::Move { .. } | BlockingPop::ListMany { .. } => {
                Kind::List
            }
            BlockingPop::Zset { .. } | BlockingPop::ZsetMany { .. } => Kind::Zset,
            BlockingPop::Streams { .. } | BlockingPop::StreamGroup { .. } => Kind::Stream,
        }
    }
}

/// Serves the waiters on one key that can be served, in the order they blocked, and answers
/// whether it served any. As in Redis, a waiter of another kind (a BZPOPMIN waiter on a key
/// that is a list now) does not hold up those behind it.
fn serve_key(
    keyspace: &mut Keyspace,
    waiters: &mut Waiters,
    now_ms: u64,
    db: DbIndex,
    key: &Key,
    outputs: &mut Vec<Output>,
) -> bool {
    let queued: Vec<WaiterId> = waiters
        .queues
        .get(&(db, key.clone()))
        .map(|queue| queue.iter().copied().collect())
        .unwrap_or_default();
    let mut exhausted: Vec<Kind> = Vec::new();
    let mut served_any = false;
    for id in queued {
        let waiter = waiters.waiters.get(&id).expect("queued waiters are in the table");
        let kind = Kind::of(&waiter.pop);
        if exhausted.contains(&kind) {
            continue;
        }
        let Some(served) = pop_from(keyspace.db_mut(db), now_ms, &waiter.pop, key) else {
            if kind != Kind::Stream {
                exhausted.push(kind);
            }
            continue;
        };
        let waiter = waiters.remove(id).expect("just found in the table");
        let reserved = match served.taken {
            Some(taken) if waiter.reserves => {
                let reservation = Reservation { db, served_at_ms: now_ms, taken };
                waiters.reservations.insert(id, reservation);
                true
            }
            _ => false,
        };
        outputs.push(Output::Served { waiter: id, reply: served.reply, reserved });
        served_any = true;
    }
    served_any
}

/// A waiter's answer from one key, and what it took from the keyspace (nothing for an error).
struct Served {
    reply: Frame,
    taken: Option<Taken>,
}

/// The pop of a blocking command on the first of its keys with data, as its non-blocking
/// form does it, with what it took; `None` when no key has any.
fn pop_any(
    db: &mut Db,
    now_ms: u64,
    pop: &BlockingPop,
) -> Result<Option<(Frame, Taken)>, CommandError> {
    Ok(match pop {
        BlockingPop::List { keys, end } => {
            let mut served = None;
            for key in keys {
                if let Some(mut popped) = list::pop(db, key, *end, 1, now_ms)? {
                    let element = popped.pop().expect("a live list is never empty");
                    let reply =
                        Frame::Array(vec![Frame::Bulk(key.clone()), Frame::Bulk(element.clone())]);
                    let taken =
                        Taken::List { key: key.clone(), end: *end, elements: vec![element] };
                    served = Some((reply, taken));
                    break;
                }
            }
            served
        }
        BlockingPop::Move { source, destination, from, to } => {
            list::move_element(db, source, destination, *from, *to, now_ms)?.map(|element| {
                let taken = Taken::Move {
                    source: source.clone(),
                    from: *from,
                    destination: destination.clone(),
                    to: *to,
                    element: element.clone(),
                };
                (Frame::Bulk(element), taken)
            })
        }
        BlockingPop::ListMany { keys, end, count } => {
            let mut served = None;
            for key in keys {
                if let Some(popped) = list::pop(db, key, *end, *count, now_ms)? {
                    let reply = list_many_reply(key, popped.clone());
                    let taken = Taken::List { key: key.clone(), end: *end, elements: popped };
                    served = Some((reply, taken));
                    break;
                }
            }
            served
        }
        BlockingPop::Zset { keys, from_max } => pop_first_nonempty(db, now_ms, keys, *from_max, 1)?
            .map(|popped| {
                let taken = Taken::Zset { key: popped.0.clone(), members: popped.1.clone() };
                (zset_reply(popped), taken)
            }),
        BlockingPop::ZsetMany { keys, from_max, count } => {
            pop_first_nonempty(db, now_ms, keys, *from_max, *count)?.map(|popped| {
                let taken = Taken::Zset { key: popped.0.clone(), members: popped.1.clone() };
                (zset_many_reply(popped), taken)
            })
        }
        BlockingPop::Streams { .. } | BlockingPop::StreamGroup { .. } => {
            unreachable!("a stream read takes nothing: `first_attempt` and `pop_from` read it")
        }
    })
}

/// Serving a waiter from one key that became ready: `None` if the key has no data of the
/// right type, and the waiter waits on. A BLMOVE whose source has data but whose destination
/// holds another type is answered WRONGTYPE and takes nothing, as in Redis 7.0 (which pops,
/// fails the push, and pushes the element back).
fn pop_from(db: &mut Db, now_ms: u64, pop: &BlockingPop, key: &Key) -> Option<Served> {
    let keys = std::slice::from_ref(key);
    let result = match pop {
        BlockingPop::List { end, .. } => {
            pop_any(db, now_ms, &BlockingPop::List { keys: keys.to_vec(), end: *end })
        }
        BlockingPop::Move { source, destination, .. }
            if list_at(db, destination, now_ms).is_err() =>
        {
            let source_has_data = matches!(list_at(db, source, now_ms), Ok(Some(_)));
            return source_has_data
                .then(|| Served { reply: CommandError::WrongType.into(), taken: None });
        }
        BlockingPop::Move { .. } => pop_any(db, now_ms, pop),
        BlockingPop::ListMany { end, count, .. } => pop_any(
            db,
            now_ms,
            &BlockingPop::ListMany { keys: keys.to_vec(), end: *end, count: *count },
        ),
        BlockingPop::Zset { from_max, .. } => {
            pop_any(db, now_ms, &BlockingPop::Zset { keys: keys.to_vec(), from_max: *from_max })
        }
        BlockingPop::ZsetMany { from_max, count, .. } => pop_any(
            db,
            now_ms,
            &BlockingPop::ZsetMany { keys: keys.to_vec(), from_max: *from_max, count: *count },
        ),
        BlockingPop::Streams { count, streams } => {
            let after =
                waited_after(streams.iter().map(|(name, from)| (name, from.as_ref().ok())), key);
            let reply = waiting::serve_read(db, now_ms, *count, key, after)?;
            return Some(Served { reply, taken: None });
        }
        BlockingPop::StreamGroup { group, consumer, count, no_ack, streams } => {
            let seen = waited_after(streams.iter().map(|(name, from)| (name, Some(from))), key);
            let reply =
                waiting::serve_group(db, now_ms, group, consumer, *count, *no_ack, key, seen)?;
            return Some(Served { reply, taken: None });
        }
    };
    // Another type on the key: Redis leaves the client blocked.
    result.ok().flatten().map(|(reply, taken)| Served { reply, taken: Some(taken) })
}

/// The id a stream read in the table waits after on `key`: its first mention's, as Redis
/// keeps the first of a key named twice.
fn waited_after<'a>(
    mut streams: impl Iterator<Item = (&'a Key, Option<&'a ReadFrom>)>,
    key: &Key,
) -> StreamId {
    match streams.find(|(name, _)| *name == key) {
        Some((_, Some(ReadFrom::After(id)))) => *id,
        _ => unreachable!("a stream read's ids are resolved when it blocks, for each of its keys"),
    }
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
