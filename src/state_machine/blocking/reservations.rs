//! Reservations: what a served waiter took, kept until its node says the client was there.
//!
//! Serving a waiter pops inside apply, on every replica, but the reply goes to one connection
//! on one node, which may have closed while the push that served it was in flight (or been
//! killed, or its node may have stopped). A waiter that blocked with
//! `BlockingWrite::BlockWithReservation` therefore gets what it was served only as a
//! reservation: the element is out of its key, and a [`Reservation`] records what was taken
//! and from where. Exactly one of these ends it, whichever the log orders first:
//!
//! - `Delivered` (the waiting connection is alive and about to write the reply): the
//!   reservation is dropped and the element is the client's;
//! - `Cancel` (the connection closed or was killed), `ExpireReservations` (the reservation is
//!   older than [`RESERVATION_MS`] by entry time: its node is gone or cut off) or
//!   `ForgetEarlierRuns` (its node restarted): the element is put back.
//!
//! A connection writes a reserved reply only after its `Delivered` was applied and answered
//! 1, so an element that was put back was never given to anyone: no element is ever both put
//! back and delivered.
//!
//! Putting back is "as if never popped" as far as it can be, deterministically:
//! - list elements go back to the end they came from, in their order;
//! - a moved element (BLMOVE, BRPOPLPUSH) is taken back from the destination only if it is
//!   still at the end it was pushed to, and returned to the source; otherwise it stays where it
//!   is (another client moved or popped it, and that client's own reservation covers it);
//! - sorted set members are added back with their score unless the member is there again.
//!
//! Caveats: a key that meanwhile holds another type cannot take the element back; it is
//! dropped, as the write that replaced the key would have dropped it. A list recreated by a
//! put-back has no time to live. Between the pop and the put-back other clients see the key
//! without the element.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::command::blocking::WaiterId;
use crate::command::lists::ListEnd;
use crate::command::{DbIndex, Key};
use crate::store::list::{self, list_at};
use crate::store::Keyspace;

use super::super::zsets::put_back_members;

/// How long, in entry time, a reservation waits for its node's `Delivered` or `Cancel` before
/// `ExpireReservations` puts it back. It is part of the replicated semantics (every replica
/// must use the same value), so changing it is a change of format. Long enough that a live
/// node's confirmation, forwarded through an election, comes first; a connection whose
/// confirmation comes too late finds nothing reserved and blocks again, so a short value costs
/// churn, never an element.
pub const RESERVATION_MS: u64 = 30_000;

/// What one served waiter took, until its delivery is confirmed or it is put back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    pub db: DbIndex,
    /// The entry time at which it was served; `ExpireReservations` measures from it.
    pub served_at_ms: u64,
    pub taken: Taken,
}

/// What was popped, and from where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Taken {
    /// Elements popped from `end` of the list at `key`, in the order they were popped.
    List { key: Key, end: ListEnd, elements: Vec<Bytes> },
    /// An element moved from `from` of `source` to `to` of `destination`.
    Move { source: Key, from: ListEnd, destination: Key, to: ListEnd, element: Bytes },
    /// Members popped from the sorted set at `key`, with their scores.
    Zset { key: Key, members: Vec<(Bytes, f64)> },
}

/// The reservations of served waiters, by waiter: at most one per waiter, since a connection
/// blocks again only after its last reservation ended.
pub type Reservations = BTreeMap<WaiterId, Reservation>;

/// Puts back what `reservation` took (see the module docs for how far that goes).
pub fn put_back(keyspace: &mut Keyspace, reservation: Reservation, now_ms: u64) {
    let db = keyspace.db_mut(reservation.db);
    match reservation.taken {
        Taken::List { key, end, elements } => {
            // The first popped goes back last, so that it is at the end again.
            let reversed: Vec<Bytes> = elements.into_iter().rev().collect();
            let _ = list::push(db, &key, end, &reversed, false, now_ms);
        }
        Taken::Move { source, from, destination, to, element } => {
            let still_there =
                list_at(db, &destination, now_ms).ok().flatten().is_some_and(|list| {
                    let last = match to {
                        ListEnd::Left => list.iter().next(),
                        ListEnd::Right => list.iter().next_back(),
                    };
                    last == Some(&element)
                });
            // A source now of another type could not take it: leave it in the destination.
            if still_there && list_at(db, &source, now_ms).is_ok() {
                let _ = list::pop(db, &destination, to, 1, now_ms);
                let _ =
                    list::push(db, &source, from, std::slice::from_ref(&element), false, now_ms);
            }
        }
        Taken::Zset { key, members } => put_back_members(db, &key, members, now_ms),
    }
}
