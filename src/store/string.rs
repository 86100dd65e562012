//! The string value, in the representations Redis reports through `OBJECT ENCODING`.
//!
//! Redis keeps a string in one of three encodings, and which one a key has depends on how its
//! value was made, not only on its bytes:
//!
//! - `int`: a canonical decimal `i64` (at most 20 bytes, no sign but `-`, no leading zero)
//!   stored by SET and its relatives, or any INCR/DECR result.
//! - `embstr`: any other string made whole (SET, INCRBYFLOAT, APPEND on a missing key) of at
//!   most 44 bytes, which Redis allocates together with its object header.
//! - `raw`: a longer string made whole, or any string changed in place (APPEND and SETRANGE on
//!   an existing key), whatever its length: Redis unshares such a value into a separate buffer
//!   and never re-embeds it. INCRBYFLOAT's `"2"` is likewise `embstr`, not `int`.
//!
//! [`StringValue`] has one variant per way of making a value, so that `OBJECT ENCODING` is
//! truthful: `Integer`, `Bytes` (made whole; `embstr` or `raw` by length) and `Raw` (changed in
//! place). GET never sees a difference.
//!
//! Caveats: a value is immutable `Bytes` shared with MVCC views, so APPEND and SETRANGE copy
//! the whole value where Redis changes it in place (APPEND in amortized O(1)): repeated
//! appends to one large value cost O(length) each. A rope or chunked representation would
//! fix that if it matters in practice.

mod long_double;

pub use long_double::LongDouble;

use bytes::{Bytes, BytesMut};

/// The largest string a command may build: Redis's default `proto-max-bulk-len` (512 MiB).
/// A constant rather than a setting, because apply must decide the same on every replica.
pub const STRING_BYTES_MAX: u64 = 512 * 1024 * 1024;

/// The longest string Redis embeds with its object header (`embstr`).
const EMBEDDED_BYTES_MAX: usize = 44;

/// The longest text that can be an `i64` in decimal (`-9223372036854775808`).
const INTEGER_TEXT_BYTES_MAX: usize = 20;

/// A string value. Cloning is O(1).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum StringValue {
    /// A canonical decimal `i64` (`int`).
    Integer(i64),
    /// A string made whole (`embstr` up to 44 bytes, `raw` beyond).
    Bytes(Bytes),
    /// A string changed in place by APPEND or SETRANGE (`raw` at any length).
    Raw(Bytes),
}

impl StringValue {
    /// The value SET stores for `bytes`: an integer when Redis would encode it as one.
    ///
    /// The bytes are copied: a request's arguments are slices of the connection's read buffer,
    /// and a stored slice would keep that whole buffer alive for as long as the value lives.
    pub fn from_bytes(bytes: Bytes) -> StringValue {
        if bytes.len() <= INTEGER_TEXT_BYTES_MAX {
            if let Some(integer) = crate::command::parse_i64(&bytes) {
                return StringValue::Integer(integer);
            }
        }
        StringValue::Bytes(Bytes::copy_from_slice(&bytes))
    }

    /// The value's bytes, formatting an integer.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            StringValue::Integer(integer) => {
                Bytes::copy_from_slice(itoa::Buffer::new().format(*integer).as_bytes())
            }
            StringValue::Bytes(bytes) | StringValue::Raw(bytes) => bytes.clone(),
        }
    }

    /// The length in bytes, as STRLEN reports it.
    pub fn len(&self) -> usize {
        match self {
            StringValue::Integer(integer) => itoa::Buffer::new().format(*integer).len(),
            StringValue::Bytes(bytes) | StringValue::Raw(bytes) => bytes.len(),
        }
    }

    /// Whether the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` reports (see the module docs).
    pub fn encoding(&self) -> &'static str {
        match self {
            StringValue::Integer(_) => "int",
            StringValue::Bytes(bytes) if bytes.len() <= EMBEDDED_BYTES_MAX => "embstr",
            StringValue::Bytes(_) | StringValue::Raw(_) => "raw",
        }
    }

    /// The value as INCR reads it: an integer, or text that is exactly a decimal `i64`.
    pub fn to_integer(&self) -> Option<i64> {
        match self {
            StringValue::Integer(integer) => Some(*integer),
            StringValue::Bytes(bytes) | StringValue::Raw(bytes) => crate::command::parse_i64(bytes),
        }
    }

    /// The value as INCRBYFLOAT reads it (`strtold` rules, see [`LongDouble::parse`]).
    pub fn to_long_double(&self) -> Option<LongDouble> {
        match self {
            StringValue::Integer(integer) => Some(LongDouble::from_i64(*integer)),
            StringValue::Bytes(bytes) | StringValue::Raw(bytes) => LongDouble::parse(bytes),
        }
    }

    /// APPEND: this value followed by `suffix`, changed in place as far as Redis is concerned.
    pub fn appended(&self, suffix: &[u8]) -> StringValue {
        let current = self.to_bytes();
        let mut joined = BytesMut::with_capacity(current.len() + suffix.len());
        joined.extend_from_slice(&current);
        joined.extend_from_slice(suffix);
        StringValue::Raw(joined.freeze())
    }

    /// SETRANGE: `patch` written at `offset`, zero-padding any gap past the end.
    pub fn with_range_replaced(&self, offset: usize, patch: &[u8]) -> StringValue {
        let current = self.to_bytes();
        let length = current.len().max(offset + patch.len());
        let mut patched = BytesMut::zeroed(length);
        patched[..current.len()].copy_from_slice(&current);
        patched[offset..offset + patch.len()].copy_from_slice(patch);
        StringValue::Raw(patched.freeze())
    }

    /// GETRANGE: the bytes from `start` to `end` inclusive, where negative positions count
    /// from the end. Positions are clamped to the string; an empty range is empty, never an
    /// error. Both negative with `start > end` is empty even when clamping would overlap.
    pub fn range(&self, start: i64, end: i64) -> Bytes {
        let bytes = self.to_bytes();
        let length = bytes.len() as i64;
        if length == 0 || (start < 0 && end < 0 && start > end) {
            return Bytes::new();
        }
        let resolve =
            |position: i64| if position < 0 { (length + position).max(0) } else { position };
        let start = resolve(start);
        let end = resolve(end).min(length - 1);
        if start > end {
            return Bytes::new();
        }
        bytes.slice(start as usize..=end as usize)
    }
}

/// Whether a string of `current` bytes may grow by `added` bytes (APPEND, SETRANGE).
pub fn fits_string_limit(current: u64, added: u64) -> bool {
    current.checked_add(added).is_some_and(|total| total <= STRING_BYTES_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &StringValue) -> String {
        String::from_utf8(value.to_bytes().to_vec()).unwrap()
    }

    #[test]
    fn set_stores_canonical_integers_as_int_and_other_text_by_length() {
        assert_eq!(StringValue::from_bytes(Bytes::from_static(b"-123")).encoding(), "int");
        for not_integer in ["0123", "-0", "+1", " 1", "1.0", "9223372036854775808"] {
            let value = StringValue::from_bytes(Bytes::copy_from_slice(not_integer.as_bytes()));
            assert_eq!(value.encoding(), "embstr", "{not_integer}");
        }
        let long = Bytes::from(vec![b'x'; 45]);
        assert_eq!(StringValue::from_bytes(long.slice(..44)).encoding(), "embstr");
        assert_eq!(StringValue::from_bytes(long).encoding(), "raw");
    }

    #[test]
    fn values_changed_in_place_are_raw_at_any_length() {
        let integer = StringValue::Integer(5);
        let appended = integer.appended(b"6");
        assert_eq!((text(&appended).as_str(), appended.encoding()), ("56", "raw"));
        let patched = StringValue::Integer(12).with_range_replaced(0, b"3");
        assert_eq!((text(&patched).as_str(), patched.encoding()), ("32", "raw"));
    }

    #[test]
    fn setrange_pads_with_zero_bytes() {
        let patched = StringValue::Bytes(Bytes::from_static(b"ab")).with_range_replaced(4, b"cd");
        assert_eq!(patched.to_bytes(), Bytes::from_static(b"ab\0\0cd"));
    }

    #[test]
    fn ranges_clamp_like_getrange() {
        let hello = StringValue::Bytes(Bytes::from_static(b"hello"));
        let cases: [(i64, i64, &str); 10] = [
            (0, -1, "hello"),
            (-3, -1, "llo"),
            (-100, -1, "hello"),
            (-100, -100, "h"),
            (0, 100, "hello"),
            (3, 1, ""),
            (5, 10, ""),
            (-1, -2, ""),
            (i64::MIN, i64::MAX, "hello"),
            (4, i64::MAX, "o"),
        ];
        for (start, end, expected) in cases {
            assert_eq!(hello.range(start, end), expected.as_bytes(), "GETRANGE {start} {end}");
        }
        assert_eq!(StringValue::Bytes(Bytes::new()).range(0, 0), Bytes::new());
        assert_eq!(StringValue::Integer(-123).range(1, 2), Bytes::from_static(b"12"));
    }

    #[test]
    fn the_size_limit_is_512_mebibytes_inclusive() {
        assert!(fits_string_limit(STRING_BYTES_MAX - 1, 1));
        assert!(!fits_string_limit(STRING_BYTES_MAX, 1));
        assert!(!fits_string_limit(u64::MAX, 1));
    }
}
