//! Permissions inside scripts: each command a script calls is checked against the user who
//! ran it, inside the script's run, as Redis 7.0's `scriptCall` checks it.
//!
//! The connection checks a client's own command before proposing it, but what a script will
//! call is known only once it runs, which for a script that may write is inside apply, on
//! every member, at its place in the log. So a scripting write from a user who may not run
//! everything travels as a [`UserWrite`]: the write and the name of its user. Apply looks that
//! user up in the users as of its entry and gives the script a [`ScriptUser`], which checks
//! every `redis.call` and `redis.pcall` with the connection's own [`check`] and
//! answers a denial with Redis's text for scripts ([`script_denial_error`]): `redis.call`
//! raises it, `redis.pcall` returns it. A script on a view (EVAL_RO, FCALL_RO, a `no-writes`
//! script) gets a `ScriptUser` from the connection, on the view's users.
//!
//! ACL LOG is each node's own, and a denial caught by `redis.pcall` leaves no trace in the
//! reply. So the reply of a `UserWrite` is an envelope ([`envelope`]) of the write's reply and
//! its script's denials, which travels wherever replies travel (back from the leader, for a
//! follower's client); the proposing connection opens it ([`open_envelope`]), records the
//! denials in its node's ACL LOG (context `lua`, as Redis) and answers the reply.
//!
//! Invariants:
//! - The check of a call is the check of the same request sent by the client, so the two can
//!   never disagree; only the error text differs, as in Redis.
//! - A user deleted between the proposal and the apply may call nothing: every call is denied
//!   as a command (its connection is being closed, see `server::acl`).
//! - An envelope's denials are bounded ([`DENIALS_MAX`]): equal denials are one entry with a
//!   count, in the order of their last occurrence, and only the newest distinct ones are kept.
//!   Recording them so gives ACL LOG the entries that recording each denial as it happened
//!   would have given, since ACL LOG keeps no more entries than that and counts equal ones.
//!
//! Deliberately absent: a check of the script's own user at proposal beyond the connection's
//! (a user unrestricted when the connection checked is not wrapped, so a change of that user
//! applied between the check and the script's entry does not reach its calls; the same window
//! exists for every command, as `server::connection::acl` states).

use std::cell::RefCell;
use std::collections::VecDeque;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{check, Denial, User};
use crate::command::transactions::Operation;
use crate::command::{CommandSpec, Read, Write};
use crate::resp::Frame;

/// The most distinct denials one script's reply carries: as many entries as ACL LOG keeps
/// (Redis's `acllog-max-len` default), so none that ACL LOG would show is left out.
pub const DENIALS_MAX: usize = 128;

/// A write whose script's calls are checked against a user: a scripting write, or a
/// transaction with a script among its steps, from a user who may not run everything.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserWrite {
    /// The name of the user the connection was authenticated as when it proposed the write.
    pub user: Bytes,
    /// The write itself.
    pub write: Write,
}

/// Whether `write` runs a script, so that its user's permissions matter inside apply: a
/// scripting write, or a transaction with a script among its steps.
pub fn runs_a_script(write: &Write) -> bool {
    match write {
        Write::Script(_) => true,
        Write::Transaction(transaction) => {
            transaction.steps.iter().any(|step| match &step.operation {
                Operation::Write(write) => runs_a_script(write),
                Operation::Read(read) => matches!(read, Read::Script(_)),
            })
        }
        _ => false,
    }
}

/// What a script's call was denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeniedObject {
    /// The command (or subcommand) itself.
    Command,
    /// One of its keys.
    Key,
    /// The channel it publishes to.
    Channel,
}

impl DeniedObject {
    fn name(self) -> &'static str {
        match self {
            DeniedObject::Command => "command",
            DeniedObject::Key => "key",
            DeniedObject::Channel => "channel",
        }
    }

    fn from_name(name: &[u8]) -> Option<DeniedObject> {
        match name {
            b"command" => Some(DeniedObject::Command),
            b"key" => Some(DeniedObject::Key),
            b"channel" => Some(DeniedObject::Channel),
            _ => None,
        }
    }
}

/// One denial of a script's call, for ACL LOG: what was denied, its name (the command's, the
/// key or the channel), and how many times the script was denied it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptDenial {
    /// What was denied.
    pub denied: DeniedObject,
    /// The command's name, the key or the channel, as ACL LOG's `object`.
    pub object: Bytes,
    /// How many of the script's calls were denied it.
    pub count: u64,
}

/// Redis 7.0's error for a call a script's user may not make (`scriptVerifyACL`).
pub fn script_denial_error(denied: DeniedObject) -> &'static str {
    match denied {
        DeniedObject::Command => {
            "ERR The user executing the script can't run this command or subcommand"
        }
        DeniedObject::Key => {
            "ERR The user executing the script can't access at least one of the keys mentioned \
             in the command arguments"
        }
        DeniedObject::Channel => {
            "ERR The user executing the script can't publish to the channel mentioned in the \
             command"
        }
    }
}

/// The user a script runs as, and the denials of its calls so far. A script's host takes it
/// by shared reference (inside apply it rides in the entry's context), so the denials are
/// counted behind a `RefCell`: one run of one script uses it, on one thread.
#[derive(Debug)]
pub struct ScriptUser<'a> {
    /// `None` when the user no longer exists: every call is then denied.
    user: Option<&'a User>,
    denials: RefCell<VecDeque<ScriptDenial>>,
}

impl<'a> ScriptUser<'a> {
    /// A run by `user`, or by a user that no longer exists (`None`).
    pub fn new(user: Option<&'a User>) -> ScriptUser<'a> {
        ScriptUser { user, denials: RefCell::new(VecDeque::new()) }
    }

    /// Checks one call (`request` is the whole call, which fits its command's arity): `Err`
    /// with Redis's error text, after counting the denial.
    pub fn check(&self, spec: &CommandSpec, request: &[Bytes]) -> Result<(), &'static str> {
        let denial = match self.user {
            Some(user) => match check(user, spec, request) {
                Ok(()) => return Ok(()),
                Err(denial) => denial,
            },
            None => Denial::Command,
        };
        let (denied, object) = match denial {
            Denial::Command => (DeniedObject::Command, Bytes::from_static(spec.name.as_bytes())),
            Denial::Key(position) => (DeniedObject::Key, request[position].clone()),
            Denial::Channel(position) => (DeniedObject::Channel, request[position].clone()),
        };
        self.count(denied, object);
        Err(script_denial_error(denied))
    }

    /// The denials, oldest first (by their last occurrence).
    pub fn into_denials(self) -> Vec<ScriptDenial> {
        self.denials.into_inner().into()
    }

    fn count(&self, denied: DeniedObject, object: Bytes) {
        let mut denials = self.denials.borrow_mut();
        let equal =
            denials.iter().position(|known| known.denied == denied && known.object == object);
        let count = match equal {
            Some(position) => denials.remove(position).expect("the position was just found").count,
            None => 0,
        };
        denials.push_back(ScriptDenial { denied, object, count: count + 1 });
        if denials.len() > DENIALS_MAX {
            denials.pop_front();
        }
    }
}

/// The reply of a [`UserWrite`]: the write's reply and its script's denials, as one frame, so
/// that it travels wherever replies travel. Only the connection that proposed the write reads
/// it, with [`open_envelope`].
pub fn envelope(reply: Frame, denials: Vec<ScriptDenial>) -> Frame {
    let denials = denials
        .into_iter()
        .map(|denial| {
            Frame::Array(vec![
                Frame::simple(denial.denied.name()),
                Frame::Bulk(denial.object),
                Frame::Integer(i64::try_from(denial.count).unwrap_or(i64::MAX)),
            ])
        })
        .collect();
    Frame::Array(vec![reply, Frame::Array(denials)])
}

/// Splits the reply of a [`UserWrite`] into the write's reply and its script's denials. Any
/// other frame is a reply that did not come from apply (the write failed before it, with the
/// node's error) and has no denials.
pub fn open_envelope(frame: Frame) -> (Frame, Vec<ScriptDenial>) {
    let Frame::Array(parts) = frame else {
        return (frame, Vec::new());
    };
    match <[Frame; 2]>::try_from(parts) {
        Ok([reply, Frame::Array(denials)]) => {
            (reply, denials.into_iter().filter_map(denial_from_frame).collect())
        }
        Ok(parts) => (Frame::Array(parts.into()), Vec::new()),
        Err(parts) => (Frame::Array(parts), Vec::new()),
    }
}

fn denial_from_frame(frame: Frame) -> Option<ScriptDenial> {
    let Frame::Array(fields) = frame else {
        return None;
    };
    match fields.as_slice() {
        [Frame::Simple(denied), Frame::Bulk(object), Frame::Integer(count)] => Some(ScriptDenial {
            denied: DeniedObject::from_name(denied.as_bytes())?,
            object: object.clone(),
            count: u64::try_from(*count).ok()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::acl::Users;
    use crate::command::lookup;

    fn request(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|word| Bytes::copy_from_slice(word.as_bytes())).collect()
    }

    fn restricted_users() -> Users {
        let mut users = Users::default();
        let rules = request(&["on", "nopass", "~a*", "+get", "+eval"]);
        users.set_user(&Bytes::from_static(b"u"), &rules).unwrap();
        users
    }

    #[test]
    fn a_call_is_denied_as_the_same_request_from_the_client_would_be() {
        let users = restricted_users();
        let script_user = ScriptUser::new(users.get(b"u").map(AsRef::as_ref));
        let get = lookup(b"get").unwrap();
        assert_eq!(script_user.check(get, &request(&["get", "apple"])), Ok(()));
        assert_eq!(
            script_user.check(get, &request(&["get", "berry"])),
            Err(script_denial_error(DeniedObject::Key))
        );
        let set = lookup(b"set").unwrap();
        assert_eq!(
            script_user.check(set, &request(&["set", "apple", "1"])),
            Err(script_denial_error(DeniedObject::Command))
        );
    }

    #[test]
    fn equal_denials_are_counted_in_the_order_of_their_last_occurrence() {
        let users = restricted_users();
        let script_user = ScriptUser::new(users.get(b"u").map(AsRef::as_ref));
        let get = lookup(b"get").unwrap();
        let set = lookup(b"set").unwrap();
        let _ = script_user.check(set, &request(&["set", "a", "1"]));
        let _ = script_user.check(get, &request(&["get", "b"]));
        let _ = script_user.check(set, &request(&["set", "a", "2"]));
        let denials = script_user.into_denials();
        let summary: Vec<_> =
            denials.iter().map(|d| (d.denied, d.object.clone(), d.count)).collect();
        assert_eq!(
            summary,
            vec![
                (DeniedObject::Key, Bytes::from_static(b"b"), 1),
                (DeniedObject::Command, Bytes::from_static(b"set"), 2),
            ]
        );
    }

    #[test]
    fn only_the_newest_distinct_denials_are_kept() {
        let users = restricted_users();
        let script_user = ScriptUser::new(users.get(b"u").map(AsRef::as_ref));
        let get = lookup(b"get").unwrap();
        for number in 0..DENIALS_MAX + 5 {
            let _ = script_user.check(get, &request(&["get", &format!("key{number}")]));
        }
        let denials = script_user.into_denials();
        assert_eq!(denials.len(), DENIALS_MAX);
        assert_eq!(denials[0].object, Bytes::from("key5"));
    }

    #[test]
    fn a_deleted_user_may_call_nothing() {
        let script_user = ScriptUser::new(None);
        let ping = lookup(b"ping").unwrap();
        assert_eq!(
            script_user.check(ping, &request(&["ping"])),
            Err(script_denial_error(DeniedObject::Command))
        );
    }

    #[test]
    fn an_envelope_opens_to_the_reply_and_denials_it_was_made_of() {
        let denials = vec![ScriptDenial {
            denied: DeniedObject::Channel,
            object: Bytes::from_static(b"news"),
            count: 3,
        }];
        let reply = Frame::Array(vec![Frame::Integer(1), Frame::Array(vec![])]);
        let (opened, opened_denials) = open_envelope(envelope(reply.clone(), denials.clone()));
        assert_eq!((opened, opened_denials), (reply, denials));
        let error = Frame::error("ERR the node failed");
        assert_eq!(open_envelope(error.clone()), (error, Vec::new()));
    }
}
