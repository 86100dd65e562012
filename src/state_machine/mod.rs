//! The deterministic state machine: `apply(entry) -> replies`, and reads on MVCC views.
//!
//! A log [`Entry`] is a batch of client write requests stamped with the leader's clock. The
//! state machine applies entries strictly in log order. [`StateMachine::publish`] makes the
//! keyspace as of the last applied entry a [`View`]: an immutable version that readers load
//! without ever taking a lock that apply holds.
//!
//! Publishing is O(1), but not free: once a view shares the keyspace's maps, the next write to
//! each part of them copies the path it changes. So the owner publishes when a reader needs a
//! newer view, not after every entry: a write-only load pays nothing for MVCC, and a mixed load
//! pays one path copy per write per published view (measured in docs/decisions.md).
//!
//! Invariants:
//! - Determinism: the same entries produce the same keyspace and the same replies on every
//!   replica. Apply never reads a clock (time is `leader_time_ms`), never draws randomness
//!   except from a seed derived from the entry's index, and never does IO.
//! - A view is published only between entries: a reader sees all of an entry or none of it,
//!   and a transaction (one request of one entry, see `transactions`) is atomic to readers.
//! - Entries are applied at increasing indexes; applying an index twice is a bug and panics.
//!
//! Deliberately absent: the log, consensus and the network. Whatever decides the order of
//! entries (the local pipeline now, openraft later) calls [`StateMachine::apply`].

mod bitmaps;
mod blocking;
mod geo;
mod hashes;
mod hyperloglog;
mod keys;
mod lists;
mod outputs;
mod pubsub;
mod random;
mod reclaim;
mod scripting;
mod sets;
mod sort;
mod streams;
mod strings;
mod transactions;
mod users;
mod zsets;
#[cfg(test)]
#[path = "tests/harness.rs"]
mod test_harness;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// For the golden bytes of `crate::tests::golden`: what a snapshot's reservations hold.
#[cfg(test)]
pub(crate) use blocking::Taken;
pub use blocking::{Waiters, WaitersVersion2, RESERVATION_MS};
pub use outputs::{Output, OutputSink, Receiver, WaiterId};
pub use pubsub::Subscriptions;
pub use random::Random;
pub use scripting::{
    function_declares_no_writes, function_runs_on_view,
    INSTRUCTIONS_MAX as SCRIPT_INSTRUCTIONS_MAX, MEMORY_BYTES_MAX as SCRIPT_MEMORY_BYTES_MAX,
    REDIS_VERSION as SCRIPT_REDIS_VERSION,
};
pub use transactions::watch;
pub use users::UsersHandle;

use crate::command::acl::script::{self, ScriptUser, UserWrite};
use crate::command::{DbIndex, Key, Read, Write};
use crate::resp::Frame;
use crate::store::{Collection, Db, Keyspace};

/// The position of an entry in the log. Index 0 means "nothing applied yet".
pub type LogIndex = u64;

/// One log entry: the client writes batched together, stamped with the leader's clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The leader's wall clock when it made the entry, in Unix milliseconds. The only time
    /// apply knows: expiry deadlines and TTLs are computed from it.
    pub leader_time_ms: u64,
    /// The client writes, applied in order; each gets one reply.
    pub requests: Vec<WriteRequest>,
}

/// One client write, with the database its connection had selected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WriteRequest {
    /// The database the connection had selected.
    pub db: DbIndex,
    /// The write.
    pub write: Write,
}

/// What apply knows besides the keyspace: where it is in the log, what time it is there, and
/// whose script the request is.
#[derive(Clone, Copy, Debug)]
pub struct ApplyContext<'a> {
    /// The log index of the entry being applied.
    pub index: LogIndex,
    /// The time apply uses, in Unix milliseconds: the entry's `leader_time_ms`, never below an earlier entry's.
    pub now_ms: u64,
    /// The request's place in its entry.
    pub position: usize,
    /// Inside a transaction, the step's place in it, plus one; 0 for a request of its own.
    pub step: usize,
    /// For a request run as a user (`Write::AsUser`), the user its scripts' calls are checked
    /// against; `None` for every other request, whose scripts' calls are not checked.
    pub script_user: Option<&'a ScriptUser<'a>>,
}

impl ApplyContext<'_> {
    /// A generator for the choices a write makes at random (SPOP, ...): seeded from the entry's
    /// index and the request's place in it (and the step's place in its transaction), so every
    /// replica draws the same numbers, and two steps of one transaction draw different ones.
    pub fn random(&self) -> Random {
        let seed = random::mix(self.index, self.position as u64);
        match self.step {
            0 => Random::from_seed(seed),
            step => Random::from_seed(random::mix(seed, step as u64)),
        }
    }

    /// The context of step `step_index` (from 0) of the transaction this request is.
    fn for_step(&self, step_index: usize) -> Self {
        ApplyContext { step: step_index + 1, ..*self }
    }
}

/// An immutable version of the keyspace after the entry at `index` was applied.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// The index of the last entry applied to `keyspace`.
    pub index: LogIndex,
    /// The `leader_time_ms` of the entry at `index`; reads never use an earlier time, so a key
    /// that apply saw expire stays expired for readers.
    pub time_ms: u64,
    /// The keyspace as of `index`.
    pub keyspace: Keyspace,
}

/// Where readers find the newest published view.
#[derive(Clone, Debug, Default)]
pub struct Views {
    current: Arc<ArcSwap<View>>,
}

impl Views {
    /// The newest published view.
    pub fn load(&self) -> Arc<View> {
        self.current.load_full()
    }

    /// Publishes `view` and returns the one it replaces.
    fn publish(&self, view: View) -> Arc<View> {
        self.current.swap(Arc::new(view))
    }
}

/// The keyspace as of the last applied entry, owned by whoever applies entries.
#[derive(Debug, Default)]
pub struct StateMachine {
    keyspace: Keyspace,
    applied_index: LogIndex,
    applied_time_ms: u64,
    /// The index of the newest published view. The empty view at index 0 is published from
    /// the start, as `Views::default()`.
    published_index: LogIndex,
    /// Whether an entry applied since the last publish emptied a database (see `reclaim`).
    flushed_since_publish: bool,
    views: Views,
    /// What the entries applied since the last `take_outputs` produced for connections other
    /// than their proposers (see `outputs`).
    outputs: Vec<Output>,
    /// The clients blocked on keys (see `blocking`): replicated state, carried by snapshots.
    waiters: Waiters,
    /// Who is subscribed to what, on every node (see `pubsub`): replicated state, carried by
    /// snapshots.
    subscriptions: Subscriptions,
    /// The keyspace's ACL users as the server reads them (see `users`).
    users: UsersHandle,
}

impl StateMachine {
    /// An empty state machine: nothing applied.
    pub fn new() -> StateMachine {
        StateMachine::default()
    }

    /// The index of the last entry applied (0 before any).
    pub fn applied_index(&self) -> LogIndex {
        self.applied_index
    }

    /// A handle readers use to load views; it stays valid for the life of the state machine.
    pub fn views(&self) -> Views {
        self.views.clone()
    }

    /// Applies the entry at `index` and returns one reply per request, in order.
    pub fn apply(&mut self, index: LogIndex, entry: &Entry) -> Vec<Frame> {
        assert!(
            index > self.applied_index,
            "entry {index} applied after entry {}: the log must be applied in order",
            self.applied_index
        );
        // The leader's clock may step back (NTP); time inside the state machine never does.
        let now_ms = entry.leader_time_ms.max(self.applied_time_ms);
        let mut context = ApplyContext { index, now_ms, position: 0, step: 0, script_user: None };
        self.keyspace.set_version(index);
        let mut replies = Vec::with_capacity(entry.requests.len());
        for (position, request) in entry.requests.iter().enumerate() {
            context.position = position;
            let reply = match &request.write {
                Write::AsUser(scoped) => self.apply_as_user(request.db, &context, scoped),
                write => self.apply_request(request.db, &context, write),
            };
            replies.push(reply);
        }
        self.applied_index = index;
        self.applied_time_ms = now_ms;
        self.users.publish(self.keyspace.users());
        if entry.requests.iter().any(|request| may_free_a_database(&request.write)) {
            self.flushed_since_publish = true;
        }
        replies
    }

    /// Applies one request of an entry, and serves the clients it unblocked.
    fn apply_request(&mut self, db: DbIndex, context: &ApplyContext, write: &Write) -> Frame {
        let now_ms = context.now_ms;
        let mut reply = match write {
            Write::Blocking(write) => blocking::apply(
                &mut self.keyspace,
                &mut self.waiters,
                db,
                now_ms,
                write,
                &mut self.outputs,
            ),
            Write::Subscriptions(write) => pubsub::apply(&mut self.subscriptions, write),
            write => execute_write(&mut self.keyspace, db, context, write),
        };
        pubsub::collect(&self.subscriptions, write, &mut reply, &mut self.outputs);
        if !self.waiters.is_empty() {
            blocking::serve(&mut self.keyspace, &mut self.waiters, now_ms, &mut self.outputs);
        }
        reply
    }

    /// Applies a request whose scripts' calls are checked against its user, as the users stand
    /// at this entry; the reply is an envelope of the request's reply and the denials (see
    /// `command::acl::script`).
    fn apply_as_user(&mut self, db: DbIndex, context: &ApplyContext, scoped: &UserWrite) -> Frame {
        let users = Arc::clone(self.keyspace.users());
        let script_user = ScriptUser::new(users.get(&scoped.user).map(AsRef::as_ref));
        let context = ApplyContext { script_user: Some(&script_user), ..*context };
        let reply = self.apply_request(db, &context, &scoped.write);
        script::envelope(reply, script_user.into_denials())
    }

    /// Takes what the entries applied since the last call produced for other connections, in
    /// the order they produced it. The caller delivers them (see `outputs`).
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// Keys whose deadline is at or before `now_ms`, at most `limit` per database, by database.
    /// Active expiry proposes their deletion; apply re-checks each against the entry's time.
    pub fn expired_keys(&self, now_ms: u64, limit: usize) -> Vec<(DbIndex, Vec<Key>)> {
        self.keyspace
            .databases()
            .map(|(db, keys)| (db, keys.expired_keys(now_ms, limit)))
            .filter(|(_, keys)| !keys.is_empty())
            .collect()
    }

    /// The time of the newest applied entry (Unix milliseconds): the time every operation of
    /// the next entry is at least at.
    pub fn applied_time_ms(&self) -> u64 {
        self.applied_time_ms
    }

    /// Replaces the whole state with a snapshot's: the keyspace as of entry `index`, applied at
    /// `time_ms`. Used at start-up and when a snapshot is installed; the new state is published
    /// at once, so readers never see a mix of the old state and the new.
    pub fn restore(&mut self, keyspace: Keyspace, index: LogIndex, time_ms: u64) {
        self.keyspace = keyspace;
        self.waiters = Waiters::default();
        self.subscriptions = Subscriptions::default();
        self.applied_index = index;
        self.applied_time_ms = time_ms;
        self.published_index = index;
        self.flushed_since_publish = false;
        let previous = self.views.publish(View { index, time_ms, keyspace: self.keyspace.clone() });
        reclaim::drop_later(previous);
        self.users.publish(self.keyspace.users());
    }

    /// A handle on the ACL users as of the last applied entry; valid for the life of the state
    /// machine.
    pub fn users(&self) -> UsersHandle {
        self.users.clone()
    }

    /// The blocked clients as of the last applied entry, for a snapshot.
    pub fn waiters(&self) -> &Waiters {
        &self.waiters
    }

    /// Whether some blocked client's reservation is older than `RESERVATION_MS` at `now_ms`;
    /// the node then proposes `BlockingWrite::ExpireReservations` to put it back.
    pub fn has_expired_reservations(&self, now_ms: u64) -> bool {
        self.waiters.has_expired_reservations(now_ms)
    }

    /// Replaces the blocked clients with a snapshot's, right after `restore`.
    pub fn restore_waiters(&mut self, waiters: Waiters) {
        self.waiters = waiters;
    }

    /// The subscriber table as of the last applied entry: for a snapshot, and for PUBSUB's
    /// introspection.
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subscriptions
    }

    /// Replaces the subscriber table with a snapshot's, right after `restore`.
    pub fn restore_subscriptions(&mut self, subscriptions: Subscriptions) {
        self.subscriptions = subscriptions;
    }

    /// The view at the applied index, published if it was not yet.
    pub fn view(&mut self) -> Arc<View> {
        self.publish();
        self.views.load()
    }

    /// Publishes the keyspace as of the last applied entry, unless that version already is.
    pub fn publish(&mut self) {
        if self.published_index == self.applied_index {
            return;
        }
        self.published_index = self.applied_index;
        let view = View {
            index: self.applied_index,
            time_ms: self.applied_time_ms,
            keyspace: self.keyspace.clone(),
        };
        let previous = self.views.publish(view);
        // After a flush, the view replaced here may hold the last reference to a whole
        // database: free it off the apply path.
        if std::mem::take(&mut self.flushed_since_publish) {
            reclaim::drop_later(previous);
        }
    }
}

/// Applies `change` to the collection at `key`, which the caller has checked holds this kind
/// of collection or nothing (a new, empty one then). The key is stamped as changed, stored if
/// a new collection ends up non-empty, and deleted if the collection ends up empty.
fn change_collection<C: Collection, T>(
    db: &mut Db,
    key: &Key,
    now_ms: u64,
    change: impl FnOnce(&mut C) -> T,
) -> T {
    let Some(value) = db.value_mut(key, now_ms) else {
        let mut collection = C::default();
        let result = change(&mut collection);
        if !collection.is_empty() {
            db.insert(key.clone(), collection.into_value(), None, now_ms);
        }
        return result;
    };
    let collection = C::in_value_mut(value).expect("the caller checked the key's type");
    let result = change(collection);
    if collection.is_empty() {
        db.remove(key, now_ms);
    }
    result
}

/// Executes a read on a version of the keyspace at `now_ms`.
pub fn execute_read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &Read) -> Frame {
    execute_read_as(keyspace, db, now_ms, read, None)
}

/// Executes a read on a version of the keyspace at `now_ms`, a script's calls being checked
/// against `script_user` when there is one (see `command::acl::script`).
pub fn execute_read_as(
    keyspace: &Keyspace,
    db: DbIndex,
    now_ms: u64,
    read: &Read,
    script_user: Option<&ScriptUser>,
) -> Frame {
    match read {
        Read::String(read) => strings::read(keyspace, db, now_ms, read),
        Read::Key(read) => keys::read(keyspace, db, now_ms, read),
        Read::List(read) => lists::read(keyspace, db, now_ms, read),
        Read::Zset(read) => zsets::read(keyspace, db, now_ms, read),
        Read::Hash(read) => hashes::read(keyspace, db, now_ms, read),
        Read::Set(read) => sets::read(keyspace, db, now_ms, read),
        Read::Sort(read) => sort::read(keyspace, db, now_ms, read),
        Read::Bitmap(read) => bitmaps::read(keyspace, db, now_ms, read),
        Read::HyperLogLog(read) => hyperloglog::read(keyspace, db, now_ms, read),
        Read::Script(read) => scripting::read(keyspace, db, now_ms, read, script_user),
        Read::Geo(read) => geo::read(keyspace, db, now_ms, read),
        Read::Stream(read) => streams::read(keyspace, db, now_ms, read),
    }
}

fn execute_write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &Write,
) -> Frame {
    match write {
        Write::String(write) => strings::write(keyspace, db, context, write),
        Write::Key(write) => keys::write(keyspace, db, context, write),
        Write::List(write) => lists::write(keyspace, db, context, write),
        Write::Zset(write) => zsets::write(keyspace, db, context, write),
        Write::Hash(write) => hashes::write(keyspace, db, context, write),
        Write::Set(write) => sets::write(keyspace, db, context, write),
        Write::Sort(write) => sort::write(keyspace, db, context, write),
        Write::Transaction(transaction) => transactions::execute(keyspace, context, transaction),
        // Inside a transaction a blocking pop does not block; outside one `apply` runs it.
        Write::Blocking(write) => {
            blocking::apply_in_transaction(keyspace, db, context.now_ms, write)
        }
        // Counted against the subscriber table once the request ran (see `pubsub::collect`).
        Write::Publish(_) => Frame::Integer(0),
        // The connection proposes these outside any transaction; `apply` runs them.
        Write::Subscriptions(_) => {
            Frame::error("ERR subscriptions cannot change inside a transaction")
        }
        Write::Bitmap(write) => bitmaps::write(keyspace, db, context, write),
        Write::HyperLogLog(write) => hyperloglog::write(keyspace, db, context, write),
        Write::Script(write) => scripting::write(keyspace, db, context, write),
        Write::Geo(write) => geo::write(keyspace, db, context, write),
        Write::Stream(write) => streams::write(keyspace, db, context, write),
        Write::Acl(write) => match crate::command::acl::apply(keyspace.users_mut(), write) {
            Ok(0) if !matches!(write, crate::command::acl::AclWrite::DelUser { .. }) => Frame::ok(),
            Ok(count) => Frame::Integer(count),
            Err(message) => Frame::Error(message.into()),
        },
        // Only a whole request runs as a user (see `StateMachine::apply_as_user`); the log is
        // input, so one nested in a transaction is an error on every replica alike.
        Write::AsUser(_) => Frame::error("ERR a request run as a user cannot be nested"),
    }
}

/// Whether applying `write` may leave a whole database for the previous view to free: the
/// state machine then frees that view off the apply path (see `reclaim`).
fn may_free_a_database(write: &Write) -> bool {
    match write {
        Write::Transaction(transaction) => transactions::may_free_a_database(transaction),
        Write::AsUser(scoped) => may_free_a_database(&scoped.write),
        write => keys::may_free_a_database(write),
    }
}
