//! The ACL users as the server reads them: the table as of the last applied entry, published
//! whenever an entry changed it, and a signal for the server to act on a change (closing the
//! connections of a deleted user).
//!
//! The table itself lives in the keyspace (`Keyspace::users`), so views and snapshots carry it;
//! this handle exists because a connection checks every command against its user and must not
//! wait for a view to be published for that: publishing is on demand (see the crate's
//! `state_machine` doc), while a user change must hold for the very next command.
//!
//! Invariant: the published table is never older than the entry whose reply is being sent,
//! because apply publishes it before returning that entry's replies.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::command::acl::Users;

/// A handle on the published users; clones share it.
#[derive(Clone, Debug, Default)]
pub struct UsersHandle {
    current: Arc<ArcSwap<Users>>,
    changed: Arc<tokio::sync::Notify>,
}

impl UsersHandle {
    /// The users as of the last applied entry that changed them.
    pub fn load(&self) -> arc_swap::Guard<Arc<Users>> {
        self.current.load()
    }

    /// Waits until the users change after this call began.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Publishes `users` if it is not the table already published.
    pub(super) fn publish(&self, users: &Arc<Users>) {
        if Arc::ptr_eq(&self.current.load(), users) {
            return;
        }
        self.current.store(Arc::clone(users));
        self.changed.notify_waiters();
    }
}
