//! One numbered database: its keys in hash order, and the index of their expiry times.

use bytes::Bytes;
use imbl::OrdSet;
use xxhash_rust::xxh3::xxh3_64;

use super::hash_trie::HashTrie;
use super::Value;
use crate::command::Key;

/// A key with its fixed hash, ordered by hash and then by bytes (see the module docs for why).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashedKey {
    hash: u64,
    key: Bytes,
}

impl HashedKey {
    /// Hashes `key` with the fixed hash SCAN orders by.
    pub fn new(key: Key) -> HashedKey {
        HashedKey { hash: scan_position(&key), key }
    }

    /// The key's bytes.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// A copy whose bytes are its own, for storing (see `Db::insert`).
    fn stored(&self) -> HashedKey {
        HashedKey { hash: self.hash, key: Bytes::copy_from_slice(&self.key) }
    }

    /// The key's place in SCAN order; never zero, because cursor 0 means "start" and "done".
    pub fn position(&self) -> u64 {
        self.hash
    }
}

/// The SCAN position of a key: a fixed (seedless) hash, identical on every node and build.
fn scan_position(key: &[u8]) -> u64 {
    xxh3_64(key).max(1)
}

/// A stored value with its metadata. It serializes whole (value, expiry, version, touch time),
/// so that a snapshot restores exactly what apply had built.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The key's value.
    pub value: Value,
    expires_at_ms: Option<u64>,
    /// The version (log index) of the entry that last changed this key; WATCH compares it.
    version: u64,
    /// The entry time (Unix milliseconds) of the last write to this key or TOUCH of it; OBJECT
    /// IDLETIME reports the time since. Unlike Redis's access clock, reads never refresh it:
    /// a read runs on one node's view and must not change replicated state. See
    /// [`Entry::idle_ms`].
    touched_at_ms: u64,
}

impl Entry {
    /// The Unix time in milliseconds at which the key expires, if it has a time to live.
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.expires_at_ms
    }

    /// The version (log index) of the entry that last changed this key; WATCH compares it.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// How long the key has been idle at `now_ms`: the time since it was last written or
    /// TOUCHed (never negative, even if `now_ms` lags the entry that wrote it).
    ///
    /// This is Concord's OBJECT IDLETIME, and it differs from Redis's on purpose. Redis
    /// refreshes a key's access time on every read too. In Concord a read runs on an immutable
    /// view on whichever node the client reached and never enters the log, so it cannot change
    /// state that replicas share; a key that is only read therefore looks idle. TOUCH is the
    /// way to mark a key as used: it goes through the log and refreshes this time on every
    /// replica, without counting as a change for WATCH.
    pub fn idle_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.touched_at_ms)
    }

    fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|deadline| deadline <= now_ms)
    }
}

/// One page of a SCAN: the live keys found and the cursor to continue from (0 when done).
#[derive(Debug)]
pub struct ScanPage<'a> {
    /// The live keys found, in cursor order.
    pub entries: Vec<(&'a Key, &'a Entry)>,
    /// The cursor to continue from; 0 when the scan is done.
    pub next_cursor: u64,
}

/// One database. Cloning is O(1) and yields an independent version.
#[derive(Clone, Debug, Default)]
pub struct Db {
    entries: HashTrie<Entry>,
    expires: OrdSet<(u64, HashedKey)>,
    /// The version stamped on every entry changed from now on; the state machine sets it to the
    /// index of the log entry being applied.
    version: u64,
    /// The version at which SWAPDB last put these contents in this database's place. SWAPDB
    /// changes what a key is in this database without stamping the key, so WATCH records this
    /// too. It belongs to the place, not the contents: SWAPDB sets it on both databases, and a
    /// flush keeps it. Replicated state: a snapshot must carry it.
    contents_version: u64,
}

impl Db {
    /// Sets the version that changes from now on are stamped with.
    pub fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    /// The version at which SWAPDB last exchanged this database's contents (0 if never).
    pub fn contents_version(&self) -> u64 {
        self.contents_version
    }

    /// Sets the contents version a snapshot recorded (see `contents_version`).
    pub fn restore_contents_version(&mut self, version: u64) {
        self.contents_version = version;
    }

    /// Records that SWAPDB exchanged this database's contents, at the current version.
    pub fn mark_contents_exchanged(&mut self) {
        self.contents_version = self.version;
    }

    /// The number of keys, including expired keys not yet deleted (as Redis's DBSIZE).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the database holds no key (expired ones not yet removed count as held).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of keys with a time to live (INFO keyspace's `expires`).
    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// The live entry of `key`, or `None` if it is absent or expired at `now_ms`.
    pub fn get(&self, key: &Key, now_ms: u64) -> Option<&Entry> {
        self.entries.get(scan_position(key), key).filter(|entry| !entry.is_expired(now_ms))
    }

    /// Whether `key` holds a live (unexpired at `now_ms`) value.
    pub fn contains(&self, key: &Key, now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// The live value of `key` for changing it in place; the key's version is stamped. An
    /// expired key is deleted first and reported absent (lazy expiry).
    pub fn value_mut(&mut self, key: &Key, now_ms: u64) -> Option<&mut Value> {
        let hash = scan_position(key);
        if self.entries.get(hash, key)?.is_expired(now_ms) {
            self.remove_hashed(hash, key);
            return None;
        }
        let version = self.version;
        let entry = self.entries.get_mut(hash, key).expect("the key was just found");
        entry.version = version;
        entry.touched_at_ms = now_ms;
        Some(&mut entry.value)
    }

    /// Stores `value` under `key` with the given expiry, replacing any previous entry (whose
    /// expiry is dropped). Returns the previous live entry.
    pub fn insert(
        &mut self,
        key: Key,
        value: Value,
        expires_at_ms: Option<u64>,
        now_ms: u64,
    ) -> Option<Entry> {
        let hash = scan_position(&key);
        let entry = Entry { value, expires_at_ms, version: self.version, touched_at_ms: now_ms };
        // An overwrite keeps the stored key; a new key is copied out of the request, for the
        // reason `StringValue::from_bytes` copies values (a request's key is a slice of the
        // connection's read buffer).
        let previous = self.entries.insert(hash, &key, || Bytes::copy_from_slice(&key), entry);
        let previous_deadline = previous.as_ref().and_then(Entry::expires_at_ms);
        if previous_deadline != expires_at_ms {
            let probe = HashedKey { hash, key };
            if let Some(deadline) = previous_deadline {
                self.expires.remove(&(deadline, probe.clone()));
            }
            if let Some(deadline) = expires_at_ms {
                self.expires.insert((deadline, probe.stored()));
            }
        }
        let previous = previous?;
        (!previous.is_expired(now_ms)).then_some(previous)
    }

    /// Replaces the value of `key`, keeping its time to live if it has a live one. A live key
    /// is changed where it is (one search, no expiry index change); an absent or expired one
    /// is stored anew without a time to live.
    pub fn insert_keep_ttl(&mut self, key: Key, value: Value, now_ms: u64) {
        let version = self.version;
        match self.entries.get_mut(scan_position(&key), &key) {
            Some(entry) if !entry.is_expired(now_ms) => {
                entry.value = value;
                entry.version = version;
                entry.touched_at_ms = now_ms;
            }
            _ => {
                self.insert(key, value, None, now_ms);
            }
        }
    }

    /// Deletes `key`. Returns its entry if it was live at `now_ms` (an expired key is deleted
    /// too, but reported absent).
    pub fn remove(&mut self, key: &Key, now_ms: u64) -> Option<Entry> {
        let entry = self.remove_hashed(scan_position(key), key)?;
        (!entry.is_expired(now_ms)).then_some(entry)
    }

    /// Deletes `key` if it exists and has expired at `now_ms`; returns whether it did.
    pub fn remove_if_expired(&mut self, key: &Key, now_ms: u64) -> bool {
        let hash = scan_position(key);
        match self.entries.get(hash, key) {
            Some(entry) if entry.is_expired(now_ms) => {
                self.remove_hashed(hash, key);
                true
            }
            _ => false,
        }
    }

    fn remove_hashed(&mut self, hash: u64, key: &Key) -> Option<Entry> {
        let entry = self.entries.remove(hash, key)?;
        if let Some(deadline) = entry.expires_at_ms {
            self.expires.remove(&(deadline, HashedKey { hash, key: key.clone() }));
        }
        Some(entry)
    }

    /// Sets or clears the expiry of a live key; returns whether the key exists.
    pub fn set_expiry(&mut self, key: &Key, expires_at_ms: Option<u64>, now_ms: u64) -> bool {
        let hashed = HashedKey::new(key.clone());
        let version = self.version;
        let Some(entry) = self.entries.get_mut(hashed.hash, key) else {
            return false;
        };
        if entry.is_expired(now_ms) {
            self.remove_hashed(hashed.hash, key);
            return false;
        }
        let previous = std::mem::replace(&mut entry.expires_at_ms, expires_at_ms);
        entry.version = version;
        entry.touched_at_ms = now_ms;
        if previous != expires_at_ms {
            if let Some(deadline) = previous {
                self.expires.remove(&(deadline, hashed.clone()));
            }
            if let Some(deadline) = expires_at_ms {
                // The index keeps its own copy: `key` may be a slice of a request's buffer.
                self.expires.insert((deadline, hashed.stored()));
            }
        }
        true
    }

    /// TOUCH: marks a live key as used at `now_ms` (for OBJECT IDLETIME) without changing its
    /// version, since a touch is not a modification to WATCH. Returns whether the key exists.
    pub fn touch(&mut self, key: &Key, now_ms: u64) -> bool {
        match self.entries.get_mut(scan_position(key), key) {
            Some(entry) if !entry.is_expired(now_ms) => {
                entry.touched_at_ms = now_ms;
                true
            }
            _ => false,
        }
    }

    /// Empties the database in O(1) and returns what it held, so that the caller can drop the
    /// old contents elsewhere (dropping a large persistent map is O(size)). The version that
    /// changes are stamped with is kept, and so is the contents version (see the field).
    pub fn take_all(&mut self) -> Db {
        let empty =
            Db { version: self.version, contents_version: self.contents_version, ..Db::default() };
        std::mem::replace(self, empty)
    }

    /// Every key and its entry, expired or not, in SCAN order: what a snapshot saves, since
    /// whether a key has expired depends on the time of the entry that next reads it.
    pub fn iter_including_expired(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.entries.iter().map(|(_, key, entry)| (key, entry))
    }

    /// Puts back an entry exactly as a snapshot saved it (snapshot install and restart).
    pub fn restore(&mut self, key: Key, entry: Entry) {
        let hashed = HashedKey::new(key);
        let deadline = entry.expires_at_ms;
        let stored = hashed.key.clone();
        if let Some(previous) = self.entries.insert(hashed.hash, &hashed.key, || stored, entry) {
            if let Some(deadline) = previous.expires_at_ms {
                self.expires.remove(&(deadline, hashed.clone()));
            }
        }
        if let Some(deadline) = deadline {
            self.expires.insert((deadline, hashed));
        }
    }

    /// Every live key and its entry, in SCAN order.
    pub fn iter(&self, now_ms: u64) -> impl Iterator<Item = (&Key, &Entry)> {
        self.entries
            .iter()
            .filter(move |(_, _, entry)| !entry.is_expired(now_ms))
            .map(|(_, key, entry)| (key, entry))
    }

    /// Visits keys from `cursor` in SCAN order until at least `count` keys were visited (live
    /// or not, so that a page's work is bounded as Redis bounds it), always finishing the run
    /// of keys that share the last hash so that the next cursor never splits one.
    pub fn scan(&self, cursor: u64, count: usize, now_ms: u64) -> ScanPage<'_> {
        let mut entries = Vec::new();
        let mut last_hash = None;
        for (visited, (hash, key, entry)) in self.entries.iter_from(cursor).enumerate() {
            if visited >= count.max(1) && last_hash != Some(hash) {
                return ScanPage { entries, next_cursor: hash };
            }
            last_hash = Some(hash);
            if !entry.is_expired(now_ms) {
                entries.push((key, entry));
            }
        }
        ScanPage { entries, next_cursor: 0 }
    }

    /// A live key chosen by `seed`: the first key at or after the seed's position in SCAN
    /// order, wrapping around. Expired keys are skipped (a bounded number of them).
    pub fn random_key(&self, seed: u64, now_ms: u64) -> Option<&Key> {
        let after = self.entries.iter_from(seed);
        let before = self.entries.iter();
        after
            .chain(before)
            .take(1024)
            .find(|(_, _, entry)| !entry.is_expired(now_ms))
            .map(|(_, key, _)| key)
    }

    /// Up to `limit` keys whose expiry time is at or before `now_ms`, earliest first.
    pub fn expired_keys(&self, now_ms: u64, limit: usize) -> Vec<Key> {
        self.expires
            .iter()
            .take_while(|(deadline, _)| *deadline <= now_ms)
            .take(limit)
            .map(|(_, hashed)| hashed.key.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StringValue;

    fn value(text: &'static str) -> Value {
        Value::String(StringValue::Bytes(Bytes::from_static(text.as_bytes())))
    }

    fn key(text: &'static str) -> Key {
        Bytes::from_static(text.as_bytes())
    }

    #[test]
    fn expired_keys_are_absent_to_reads_and_deleted_by_writes() {
        let mut db = Db::default();
        db.insert(key("k"), value("v"), Some(100), 0);
        assert!(db.get(&key("k"), 99).is_some());
        assert!(db.get(&key("k"), 100).is_none());
        assert_eq!(db.len(), 1, "a read does not delete");
        assert!(db.value_mut(&key("k"), 100).is_none());
        assert_eq!(db.len(), 0, "a write deletes the expired key");
        assert_eq!(db.expires_len(), 0);
    }

    #[test]
    fn the_expiry_index_follows_every_change() {
        let mut db = Db::default();
        db.insert(key("a"), value("1"), Some(10), 0);
        db.insert(key("b"), value("2"), Some(5), 0);
        assert_eq!(db.expired_keys(10, 10), vec![key("b"), key("a")]);
        db.set_expiry(&key("a"), Some(50), 0);
        assert_eq!(db.expired_keys(10, 10), vec![key("b")]);
        db.insert(key("b"), value("3"), None, 0);
        assert_eq!(db.expired_keys(100, 10), vec![key("a")]);
        db.remove(&key("a"), 0);
        assert_eq!(db.expires_len(), 0);
    }

    #[test]
    fn a_view_is_unaffected_by_later_writes() {
        let mut db = Db::default();
        db.insert(key("k"), value("old"), None, 0);
        let view = db.clone();
        db.insert(key("k"), value("new"), None, 0);
        db.insert(key("other"), value("x"), None, 0);
        assert_eq!(view.get(&key("k"), 0).unwrap().value, value("old"));
        assert_eq!(view.len(), 1);
    }

    #[test]
    fn a_full_scan_returns_every_key_exactly_once() {
        let mut db = Db::default();
        for index in 0..1000 {
            db.insert(Bytes::from(format!("key:{index}")), value("v"), None, 0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            let page = db.scan(cursor, 10, 0);
            for (key, _) in page.entries {
                assert!(seen.insert(key.clone()), "{key:?} returned twice");
            }
            cursor = page.next_cursor;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn versions_record_the_last_change() {
        let mut db = Db::default();
        db.set_version(7);
        db.insert(key("k"), value("v"), None, 0);
        db.set_version(9);
        assert_eq!(db.get(&key("k"), 0).unwrap().version(), 7);
        db.value_mut(&key("k"), 0);
        assert_eq!(db.get(&key("k"), 0).unwrap().version(), 9);
    }
}
