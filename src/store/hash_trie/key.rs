//! A stored key's bytes: inline when short, one exact heap allocation otherwise.
//!
//! A trie entry holds its key, and most Redis keys are short (`user:1000:session`,
//! `key:000000123456`). A [`Bytes`](bytes::Bytes) is 32 bytes plus a heap allocation for any
//! length; a [`CompactKey`] is 24 bytes and keeps up to [`INLINE_MAX`] bytes in place, so a
//! short key costs no allocation at all and a long one costs a boxed slice of exactly its
//! length. Safe code throughout: the enum's tag sits in the padding that the inline variant
//! leaves, which the size test below pins.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// The longest key kept inline.
pub const INLINE_MAX: usize = 22;

/// The bytes of a stored key.
#[derive(Clone)]
pub enum CompactKey {
    /// Up to [`INLINE_MAX`] bytes: `bytes[..len]`.
    Inline { len: u8, bytes: [u8; INLINE_MAX] },
    /// A longer key.
    Heap(Box<[u8]>),
}

impl CompactKey {
    /// A copy of `key`.
    pub fn new(key: &[u8]) -> CompactKey {
        if key.len() <= INLINE_MAX {
            let mut bytes = [0; INLINE_MAX];
            bytes[..key.len()].copy_from_slice(key);
            CompactKey::Inline { len: key.len() as u8, bytes }
        } else {
            CompactKey::Heap(key.into())
        }
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            CompactKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            CompactKey::Heap(bytes) => bytes,
        }
    }
}

impl std::ops::Deref for CompactKey {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for CompactKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for CompactKey {
    fn eq(&self, other: &CompactKey) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CompactKey {}

impl PartialOrd for CompactKey {
    fn partial_cmp(&self, other: &CompactKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CompactKey {
    fn cmp(&self, other: &CompactKey) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for CompactKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for CompactKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:?}", bytes::Bytes::copy_from_slice(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_24_bytes_and_short_keys_are_inline() {
        assert_eq!(std::mem::size_of::<CompactKey>(), 24);
        assert!(matches!(CompactKey::new(&[7; INLINE_MAX]), CompactKey::Inline { .. }));
        assert!(matches!(CompactKey::new(&[7; INLINE_MAX + 1]), CompactKey::Heap(_)));
    }

    #[test]
    fn every_length_keeps_its_bytes_and_orders_as_bytes() {
        let keys: Vec<Vec<u8>> = (0..=40).map(|len| (0..len as u8).collect()).collect();
        for key in &keys {
            assert_eq!(CompactKey::new(key).as_bytes(), &key[..]);
        }
        for a in &keys {
            for b in &keys {
                assert_eq!(CompactKey::new(a).cmp(&CompactKey::new(b)), a.cmp(b));
                assert_eq!(CompactKey::new(a) == CompactKey::new(b), a == b);
            }
        }
        // Inline padding never leaks into comparisons: `[0]` and `[]` differ.
        assert_ne!(CompactKey::new(&[0]), CompactKey::new(&[]));
    }
}
