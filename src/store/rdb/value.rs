//! The payload of a key's `DUMP` and `RESTORE`: one value record (its RDB type byte, then the
//! value), sealed with the version and checksum as every payload is ([`super::seal`]).
//!
//! Invariants:
//! - A string dumps to redis-server 7.0's bytes for the same string: `RDB_TYPE_STRING` (0) and
//!   the string in the encoding `string::write` picks, which is the one Redis picks for an
//!   `int`, `embstr` or `raw` object alike (Redis's raw-string writer tries the integer form
//!   too, so a string that APPEND made `raw` dumps as the integer it spells).
//! - A payload is read with every length bounds-checked; a damaged or unknown record is
//!   [`PayloadError::BadDataFormat`], never a panic, and a record with bytes after it is damaged.
//!
//! Caveats: only strings are encoded so far. The other types (lists as quicklists of listpacks,
//! sets as intsets or listpacks, sorted sets and hashes as listpacks or as their plain forms,
//! streams as `RDB_TYPE_STREAM_LISTPACKS_2`) are refused: [`dump`] says which type it cannot
//! write, and [`restore`] answers Redis's "Bad data format" for their record types.

use super::{string, unseal, PayloadError};
use crate::store::{StringValue, Value};
use bytes::Bytes;

/// `RDB_TYPE_STRING`: a string record.
pub const TYPE_STRING: u8 = 0;

/// A value [`dump`] cannot encode yet, named by its Redis type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("DUMP of a {0} is not supported yet")]
pub struct Unsupported(pub &'static str);

/// The DUMP payload of `value`, as redis-server 7.0 writes it.
pub fn dump(value: &Value) -> Result<Vec<u8>, Unsupported> {
    let mut record = Vec::new();
    match value {
        Value::String(string) => {
            record.push(TYPE_STRING);
            string::write(&mut record, &string.to_bytes());
        }
        Value::List(_) => return Err(Unsupported("list")),
        Value::SortedSet(_) => return Err(Unsupported("zset")),
        Value::Hash(_) => return Err(Unsupported("hash")),
        Value::Set(_) => return Err(Unsupported("set")),
        Value::Stream(_) => return Err(Unsupported("stream")),
    }
    Ok(super::seal(record))
}

/// The value a RESTORE payload holds: the version and checksum are checked first (Redis's
/// "DUMP payload version or checksum are wrong"), then the record is decoded.
pub fn restore(payload: &[u8]) -> Result<Value, PayloadError> {
    let mut record = string::Reader::new(unseal(payload)?);
    let value = match record.byte().ok_or(PayloadError::BadDataFormat)? {
        TYPE_STRING => {
            let bytes = record.string().ok_or(PayloadError::BadDataFormat)?;
            Value::String(StringValue::from_bytes(Bytes::from(bytes)))
        }
        _ => return Err(PayloadError::BadDataFormat),
    };
    if !record.is_empty() {
        return Err(PayloadError::BadDataFormat);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_value(bytes: &[u8]) -> Value {
        Value::String(StringValue::from_bytes(Bytes::copy_from_slice(bytes)))
    }

    fn restored_bytes(payload: &[u8]) -> Option<Bytes> {
        match restore(payload) {
            Ok(Value::String(string)) => Some(string.to_bytes()),
            _ => None,
        }
    }

    /// DUMPs taken from redis-server 7.0.15 after `SET k <value>`.
    fn redis_dumps() -> Vec<(Vec<u8>, Vec<u8>)> {
        let long = vec![b'x'; 100];
        vec![
            (b"12".to_vec(), b"\x00\xc0\x0c\x0a\x00<*\xf8Q\\\x04\xbc\xd5".to_vec()),
            (b"abc".to_vec(), b"\x00\x03abc\x0a\x00\xd9\xac0=Ar\xa2\xe2".to_vec()),
            (
                b"4294967296".to_vec(),
                b"\x00\x0a4294967296\x0a\x00\xa5\xa3\x89\xc8\x1a\x8cFV".to_vec(),
            ),
            (long, b"\x00\xc3\x09@d\x01xx\xe0W\x00\x01xx\x0a\x00]\xb7\xf6c\xbb\x08b_".to_vec()),
        ]
    }

    #[test]
    fn a_string_dumps_byte_for_byte_as_redis_and_restores() {
        for (bytes, redis) in redis_dumps() {
            assert_eq!(dump(&string_value(&bytes)), Ok(redis.clone()), "DUMP of {bytes:?}");
            assert_eq!(restored_bytes(&redis).as_deref(), Some(&bytes[..]), "RESTORE of {bytes:?}");
        }
        let appended = Value::String(StringValue::Raw(Bytes::from_static(b"12")));
        assert_eq!(dump(&appended), dump(&string_value(b"12")), "a raw string spelling an integer");
    }

    #[test]
    fn other_types_are_refused_by_name() {
        let set = Value::Set(Default::default());
        assert_eq!(dump(&set), Err(Unsupported("set")));
        let set_record = super::super::seal(vec![2, 1, 1, b'a']);
        assert_eq!(restore(&set_record).err(), Some(PayloadError::BadDataFormat));
    }

    #[test]
    fn a_damaged_payload_is_an_error_never_a_panic() {
        assert_eq!(restore(b"bad").err(), Some(PayloadError::VersionOrChecksum));
        assert_eq!(restore(&super::super::seal(vec![])).err(), Some(PayloadError::BadDataFormat));
        let trailing = super::super::seal(vec![TYPE_STRING, 1, b'a', b'b']);
        assert_eq!(restore(&trailing).err(), Some(PayloadError::BadDataFormat));
        for (_, redis) in redis_dumps() {
            let record = &redis[..redis.len() - 10];
            for cut in 0..record.len() {
                // Resealed, so that the record itself is what is damaged, not the checksum.
                let _ = restore(&super::super::seal(record[..cut].to_vec()));
                let _ = restore(&redis[..cut]);
            }
            for at in 0..record.len() {
                for bit in 0..8 {
                    let mut flipped = record.to_vec();
                    flipped[at] ^= 1 << bit;
                    let _ = restore(&super::super::seal(flipped.clone()));
                    let mut unsealed_flip = redis.clone();
                    unsealed_flip[at] ^= 1 << bit;
                    assert_eq!(
                        restore(&unsealed_flip).err(),
                        Some(PayloadError::VersionOrChecksum),
                        "a flipped bit breaks the checksum"
                    );
                }
            }
        }
    }
}
