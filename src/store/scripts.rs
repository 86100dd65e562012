//! The script cache: the bodies of the Lua scripts EVAL ran and SCRIPT LOAD loaded, by the
//! SHA1 of their bytes.
//!
//! Unlike Redis, whose cache lives only in the server's memory, this cache is replicated state:
//! it changes only in apply (EVAL, SCRIPT LOAD, SCRIPT FLUSH are log entries) and is carried by
//! snapshots, so EVALSHA finds a script on every member, after a failover and after a restart.
//! It belongs to the keyspace because every read view must see the cache as of the same entry
//! as the keys (EVALSHA_RO runs on a view).
//!
//! Invariants:
//! - A key is the 40 lowercase hexadecimal digits of the SHA1 of its body.
//! - The map is persistent, so a view's copy costs O(1) and iteration (for a snapshot) is in
//!   SHA order, the same on every replica.

use bytes::Bytes;
use imbl::OrdMap;
use serde::{Deserialize, Serialize};

/// The bodies of the cached scripts, by SHA1.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptCache {
    bodies: OrdMap<Bytes, Bytes>,
}

impl ScriptCache {
    /// The body whose SHA1 is `sha` (40 lowercase hexadecimal digits), if cached.
    pub fn get(&self, sha: &[u8]) -> Option<&Bytes> {
        self.bodies.get(sha)
    }

    /// Whether a body with this SHA1 is cached.
    pub fn contains(&self, sha: &[u8]) -> bool {
        self.bodies.contains_key(sha)
    }

    /// Caches `body` and returns its SHA1.
    pub fn insert(&mut self, body: Bytes) -> Bytes {
        let sha = sha1_hex(&body);
        self.bodies.insert(sha.clone(), body);
        sha
    }

    /// Forgets every script (SCRIPT FLUSH).
    pub fn clear(&mut self) {
        self.bodies = OrdMap::new();
    }

    /// How many scripts are cached.
    pub fn len(&self) -> usize {
        self.bodies.len()
    }

    /// Whether no script is cached.
    pub fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }
}

/// The SHA1 of `bytes` as 40 lowercase hexadecimal digits, as Redis names scripts.
pub fn sha1_hex(bytes: &[u8]) -> Bytes {
    Bytes::from(sha1_smol::Sha1::from(bytes).digest().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_named_by_the_sha1_of_their_bytes() {
        assert_eq!(&sha1_hex(b"")[..], b"da39a3ee5e6b4b0d3255bfef95601890afd80709");
        let mut cache = ScriptCache::default();
        let sha = cache.insert(Bytes::from("return 1"));
        assert_eq!(&sha[..], b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
        assert!(cache.contains(&sha));
        cache.clear();
        assert!(cache.is_empty());
    }
}
