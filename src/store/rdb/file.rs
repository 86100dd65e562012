//! An RDB file as redis-server writes it (`SAVE`, `BGSAVE`, `redis-cli --rdb`), read into the
//! items an import restores: each key with its database, its expiry and its value as a DUMP
//! payload, and each function library as a FUNCTION DUMP payload.
//!
//! A file is `REDIS` and four version digits, then records up to an end byte (255) and, from
//! version 5, the CRC-64 of everything before it as 8 bytes little-endian (0 when Redis ran
//! with `rdbchecksum no`). A record is an opcode (database selection, expiry, auxiliary field,
//! library, ...) or a key: a value type byte, the key as an RDB string, then the value encoded
//! exactly as in a DUMP payload. So a key's payload is its type byte and value bytes, sealed
//! with the version and checksum ([`super::seal`]), and RESTORE reads it as any other.
//!
//! Invariants:
//! - The whole file is read and checked before any item is returned: every value is decoded
//!   (by the same code as RESTORE), the end byte and the checksum are checked, so an import
//!   refuses a damaged or truncated file before it changed anything.
//! - An error names the byte offset of the record that could not be read.
//! - Items borrow the file's bytes; nothing is copied until a payload is asked for.
//!
//! Caveats: auxiliary fields (Redis's version, `used-mem`, replication ids), database sizes
//! and a key's LRU idle time or LFU frequency (written only under eviction policies Concord
//! does not have) are read and ignored. Module values and module auxiliary data are refused,
//! as are the libraries of 7.0's release candidates.

use super::string::Reader;
use super::{value, OPCODE_FUNCTION2, RDB_VERSION};

const OPCODE_MODULE_AUX: u8 = 247;
const OPCODE_IDLE: u8 = 248;
const OPCODE_FREQ: u8 = 249;
const OPCODE_AUX: u8 = 250;
const OPCODE_RESIZEDB: u8 = 251;
const OPCODE_EXPIRETIME_MS: u8 = 252;
const OPCODE_EXPIRETIME: u8 = 253;
const OPCODE_SELECTDB: u8 = 254;
const OPCODE_EOF: u8 = 255;

/// The first version whose files end with a checksum.
const CHECKSUM_VERSION_MIN: u16 = 5;

/// What an RDB file holds, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A key of database `database`.
    Key(KeyItem<'a>),
    /// A function library: its FUNCTION RESTORE payload.
    Library {
        /// The library's record (its opcode and code), unsealed.
        record: &'a [u8],
        /// Where the record starts in the file.
        offset: usize,
    },
}

/// A key as the file holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyItem<'a> {
    /// The database it belongs to (the last SELECTDB before it; 0 before any).
    pub database: u64,
    /// The key's name.
    pub key: Vec<u8>,
    /// When it expires, a Unix time in milliseconds.
    pub expires_at_ms: Option<u64>,
    /// The value's type byte.
    kind: u8,
    /// The value's bytes, encoded as in a DUMP payload.
    value: &'a [u8],
    /// Where the key's record (its expiry, if any, included) starts in the file.
    pub offset: usize,
}

impl KeyItem<'_> {
    /// The key's value as a DUMP payload, which RESTORE reads.
    pub fn payload(&self) -> Vec<u8> {
        let mut record = Vec::with_capacity(1 + self.value.len() + 10);
        record.push(self.kind);
        record.extend_from_slice(self.value);
        super::seal(record)
    }
}

impl Item<'_> {
    /// A library's FUNCTION RESTORE payload, or a key's DUMP payload.
    pub fn payload(&self) -> Vec<u8> {
        match self {
            Item::Key(key) => key.payload(),
            Item::Library { record, .. } => super::seal(record.to_vec()),
        }
    }

    /// About how many bytes the item takes in the file (to bound a batch of items).
    pub fn size_bytes(&self) -> usize {
        match self {
            Item::Key(key) => key.key.len() + key.value.len(),
            Item::Library { record, .. } => record.len(),
        }
    }

    /// Where the item's record starts in the file.
    pub fn offset(&self) -> usize {
        match self {
            Item::Key(key) => key.offset,
            Item::Library { offset, .. } => *offset,
        }
    }
}

/// Why a file was refused: what was wrong, and at which byte.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {reason}")]
pub struct FileError {
    /// The offset of the record (or header, or checksum) that could not be read.
    pub offset: usize,
    /// What was wrong with it.
    pub reason: String,
}

/// Every item of the RDB file `file`, or why it is refused. See the module doc.
pub fn read(file: &[u8]) -> Result<Vec<Item<'_>>, FileError> {
    let version = read_header(file)?;
    let mut reader = Reader::new(&file[9..]);
    let offset_of = |reader: &Reader| file.len() - reader.remaining();
    let truncated = |offset| FileError { offset, reason: "the file ends inside a record".into() };
    let mut items = Vec::new();
    let mut database = 0;
    loop {
        let offset = offset_of(&reader);
        let opcode = reader.byte().ok_or_else(|| truncated(offset))?;
        let expires_at_ms = match opcode {
            OPCODE_EOF => break,
            OPCODE_SELECTDB => {
                database = reader.length().ok_or_else(|| truncated(offset))?;
                continue;
            }
            OPCODE_EXPIRETIME_MS => Some(read_u64(&mut reader).ok_or_else(|| truncated(offset))?),
            OPCODE_EXPIRETIME => {
                let seconds = reader.raw(4).ok_or_else(|| truncated(offset))?;
                let seconds = u32::from_le_bytes(seconds.try_into().expect("4 bytes"));
                Some(u64::from(seconds) * 1000)
            }
            OPCODE_FUNCTION2 => {
                reader.string().ok_or_else(|| truncated(offset))?;
                items.push(Item::Library { record: &file[offset..offset_of(&reader)], offset });
                continue;
            }
            OPCODE_AUX | OPCODE_RESIZEDB | OPCODE_IDLE | OPCODE_FREQ => {
                skip_ignored(opcode, &mut reader).ok_or_else(|| truncated(offset))?;
                continue;
            }
            OPCODE_MODULE_AUX => return Err(refused(offset, "module data cannot be imported")),
            _ => None,
        };
        let key = read_key(file, &mut reader, offset, opcode, expires_at_ms.is_some())?;
        items.push(Item::Key(KeyItem { database, expires_at_ms, ..key }));
    }
    check_end(file, version, offset_of(&reader))?;
    Ok(items)
}

fn refused(offset: usize, reason: impl Into<String>) -> FileError {
    FileError { offset, reason: reason.into() }
}

/// The version of the file's `REDISnnnn` header, if Concord reads it.
fn read_header(file: &[u8]) -> Result<u16, FileError> {
    let header = file.get(..9).ok_or_else(|| refused(0, "too short to be an RDB file"))?;
    let version = std::str::from_utf8(&header[5..]).ok().and_then(|digits| digits.parse().ok());
    match version {
        Some(version) if &header[..5] == b"REDIS" && (1..=RDB_VERSION).contains(&version) => {
            Ok(version)
        }
        Some(version) if &header[..5] == b"REDIS" => Err(refused(
            5,
            format!("RDB version {version} is newer than {RDB_VERSION}, the newest Concord reads"),
        )),
        _ => Err(refused(0, "not an RDB file (no REDIS header)")),
    }
}

/// A key's record from its type byte on (after its expiry, if it had one): its name and the
/// extent of its value, which is decoded to check it.
fn read_key<'a>(
    file: &'a [u8],
    reader: &mut Reader<'a>,
    offset: usize,
    opcode: u8,
    has_expiry: bool,
) -> Result<KeyItem<'a>, FileError> {
    let truncated = || refused(offset, "the file ends inside a record");
    let kind = if has_expiry { reader.byte().ok_or_else(truncated)? } else { opcode };
    let key = reader.string().ok_or_else(truncated)?;
    let value_start = file.len() - reader.remaining();
    if value::read_value(kind, reader).is_none() {
        let name = String::from_utf8_lossy(&key).into_owned();
        return Err(refused(
            offset,
            format!("the value of key {name:?} (type {kind}) is damaged or of a type Concord does not read"),
        ));
    }
    let value = &file[value_start..file.len() - reader.remaining()];
    Ok(KeyItem { database: 0, key, expires_at_ms: None, kind, value, offset })
}

/// Skips the operands of a record whose content an import does not use.
fn skip_ignored(opcode: u8, reader: &mut Reader) -> Option<()> {
    match opcode {
        OPCODE_AUX => {
            reader.string()?;
            reader.string()?;
        }
        OPCODE_RESIZEDB => {
            reader.length()?;
            reader.length()?;
        }
        OPCODE_IDLE => {
            reader.length()?;
        }
        _ => {
            reader.byte()?;
        }
    }
    Some(())
}

fn read_u64(reader: &mut Reader) -> Option<u64> {
    Some(u64::from_le_bytes(reader.raw(8)?.try_into().ok()?))
}

/// Checks what follows the end byte at `end`: nothing before version 5, else the checksum of
/// everything before it (or zeros, when Redis did not compute one).
fn check_end(file: &[u8], version: u16, end: usize) -> Result<(), FileError> {
    let trailer = &file[end..];
    if version < CHECKSUM_VERSION_MIN {
        return match trailer.is_empty() {
            true => Ok(()),
            false => Err(refused(end, "bytes after the end of the file's records")),
        };
    }
    let checksum: [u8; 8] = match trailer.try_into() {
        Ok(checksum) => checksum,
        Err(_) if trailer.len() < 8 => {
            return Err(refused(end, "the file ends inside its checksum"))
        }
        Err(_) => return Err(refused(end + 8, "bytes after the file's checksum")),
    };
    let checksum = u64::from_le_bytes(checksum);
    if checksum != 0 && checksum != super::crc64(0, &file[..end]) {
        return Err(refused(end, "the checksum does not match the file's bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
