//! The pieces of Redis's RDB format that Concord speaks: the checksum, LZF, strings and
//! lengths, the compact encodings (`listpack`, `intset`), the payload of FUNCTION DUMP /
//! FUNCTION RESTORE, a key's DUMP / RESTORE payload (`value`, every type), and the records of
//! a whole RDB file (`file`, for `concord import`).
//!
//! A payload (Redis's `DUMP` and `FUNCTION DUMP` replies) is some RDB records, then the RDB
//! version as 2 bytes little-endian, then the CRC-64 ([`crc64()`]) of everything before it as 8
//! bytes little-endian. FUNCTION DUMP's records are one `RDB_OPCODE_FUNCTION2` byte (245) and
//! the library's code as an RDB string for each library.
//!
//! Invariants:
//! - What Concord writes is what redis-server 7.0 writes for the same libraries in the same
//!   order, byte for byte: strings are integer-encoded, LZF-compressed or raw by Redis's rules
//!   (`string`), so a payload moves between the two in both directions.
//! - Reading never trusts a length: every read is bounds-checked and a bad payload is an error,
//!   never a panic.

pub mod crc64;
pub mod file;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod string;
pub mod value;

use bytes::Bytes;

pub use crc64::crc64;

/// The RDB version Redis 7.0 writes, and the newest a payload may declare.
pub const RDB_VERSION: u16 = 10;
/// A library in the 7.0 release format: its code (with the `#!lua name=...` line).
pub const OPCODE_FUNCTION2: u8 = 245;
/// A library as 7.0's release candidates wrote it: name, engine, description, code.
pub const OPCODE_FUNCTION_PRE_GA: u8 = 246;

/// Why a payload was refused, with Redis's texts (without the `ERR ` code).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Too short, a newer RDB version, or a checksum that does not match.
    #[error("DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    /// A record type byte is missing.
    #[error("can not read data type")]
    NoType,
    /// A record that is not a library.
    #[error("given type is not a function")]
    NotAFunction,
    /// A library record whose strings cannot be read; the text says which.
    #[error("{0}")]
    Damaged(&'static str),
    /// A key's value record that cannot be read, or of a type not read yet.
    #[error("Bad data format")]
    BadDataFormat,
}

/// Appends the version and checksum that end every payload.
pub fn seal(mut records: Vec<u8>) -> Vec<u8> {
    records.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let checksum = crc64(0, &records);
    records.extend_from_slice(&checksum.to_le_bytes());
    records
}

/// Checks a payload's version and checksum; `Ok` is its records.
pub fn unseal(payload: &[u8]) -> Result<&[u8], PayloadError> {
    if payload.len() < 10 {
        return Err(PayloadError::VersionOrChecksum);
    }
    let (body, checksum) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([body[body.len() - 2], body[body.len() - 1]]);
    let checksum = u64::from_le_bytes(checksum.try_into().expect("8 bytes"));
    if version > RDB_VERSION || crc64(0, body) != checksum {
        return Err(PayloadError::VersionOrChecksum);
    }
    Ok(&body[..body.len() - 2])
}

/// FUNCTION DUMP's payload for these library codes, in this order.
pub fn dump_libraries<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut records = Vec::new();
    for code in codes {
        records.push(OPCODE_FUNCTION2);
        string::write(&mut records, code);
    }
    seal(records)
}

/// The library codes of a FUNCTION RESTORE payload, in order, as Redis reads them: a
/// release-candidate record is turned into the code it stands for (`#!<engine> name=<name>`
/// then its code; the description is dropped, as Redis drops it).
pub fn restore_libraries(payload: &[u8]) -> Result<Vec<Bytes>, PayloadError> {
    let mut records = string::Reader::new(unseal(payload)?);
    let mut codes = Vec::new();
    while !records.is_empty() {
        let kind = records.byte().ok_or(PayloadError::NoType)?;
        let code = match kind {
            OPCODE_FUNCTION2 => {
                records.string().ok_or(PayloadError::Damaged("Failed loading library payload"))?
            }
            OPCODE_FUNCTION_PRE_GA => pre_ga_library(&mut records)?,
            _ => return Err(PayloadError::NotAFunction),
        };
        codes.push(Bytes::from(code));
    }
    Ok(codes)
}

fn pre_ga_library(records: &mut string::Reader) -> Result<Vec<u8>, PayloadError> {
    let name = records.string().ok_or(PayloadError::Damaged("Failed loading library name"))?;
    let engine = records.string().ok_or(PayloadError::Damaged("Failed loading engine name"))?;
    let has_description = records
        .length()
        .ok_or(PayloadError::Damaged("Failed loading library description indicator"))?;
    if has_description != 0 {
        records.string().ok_or(PayloadError::Damaged("Failed loading library description"))?;
    }
    let blob = records.string().ok_or(PayloadError::Damaged("Failed loading library blob"))?;
    let mut code = b"#!".to_vec();
    code.extend_from_slice(&engine);
    code.extend_from_slice(b" name=");
    code.extend_from_slice(&name);
    code.push(b'\n');
    code.extend_from_slice(&blob);
    Ok(code)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A library as loaded into redis-server 7.0.15, and its FUNCTION DUMP there.
    pub(crate) const LIBRARY: &[u8] = b"#!lua name=mylib\n\
redis.register_function('f1', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n\
redis.register_function('f2', function(keys, args) return redis.call('get', keys[1]) end)";

    pub(crate) fn redis_dump() -> Vec<u8> {
        let hex = "f5c3407c40cd1f23216c7561206e616d653d6d796c69620a72656469732e726567697374\
                   65725f0e66756e6374696f6e28276631272c20e0000e116b6579732c2061726773292072\
                   657475726e200640390863616c6c2827736574202d4024025b315d80272008052920656e\
                   6429e0126200322034e01f620067e0036240590164290a0067dc85c50f4995e9";
        (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).expect("hex digits"))
            .collect()
    }

    #[test]
    fn a_dump_is_byte_for_byte_redis_and_restores() {
        assert_eq!(dump_libraries([LIBRARY]), redis_dump());
        assert_eq!(restore_libraries(&redis_dump()), Ok(vec![Bytes::from_static(LIBRARY)]));
        assert_eq!(dump_libraries([]), seal(Vec::new()));
        assert_eq!(restore_libraries(&dump_libraries([])), Ok(vec![]));
    }

    #[test]
    fn a_bad_payload_is_refused_with_redis_texts() {
        let mut damaged = redis_dump();
        damaged[7] ^= 1;
        assert_eq!(restore_libraries(&damaged), Err(PayloadError::VersionOrChecksum));
        assert_eq!(restore_libraries(b"short"), Err(PayloadError::VersionOrChecksum));
        let mut newer = Vec::new();
        newer.extend_from_slice(&11u16.to_le_bytes());
        let checksum = crc64(0, &newer);
        newer.extend_from_slice(&checksum.to_le_bytes());
        assert_eq!(restore_libraries(&newer), Err(PayloadError::VersionOrChecksum));
        assert_eq!(restore_libraries(&seal(vec![0, 1, b'a'])), Err(PayloadError::NotAFunction));
        assert_eq!(
            restore_libraries(&seal(vec![OPCODE_FUNCTION2, 5, b'a'])),
            Err(PayloadError::Damaged("Failed loading library payload"))
        );
    }

    #[test]
    fn a_release_candidate_library_becomes_its_code() {
        let mut records = vec![OPCODE_FUNCTION_PRE_GA];
        for part in [&b"lib"[..], b"LUA"] {
            string::write(&mut records, part);
        }
        records.push(1);
        string::write(&mut records, b"a description");
        string::write(&mut records, b"return 1");
        let restored = restore_libraries(&seal(records)).unwrap();
        assert_eq!(restored, vec![Bytes::from_static(b"#!LUA name=lib\nreturn 1")]);
    }
}
