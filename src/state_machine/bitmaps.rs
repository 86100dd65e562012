//! Execution of the bitmap family, on string values (see `store::bitmap`).
//!
//! Every command reaches its value through `strings::string_at`, so WRONGTYPE is decided in
//! the one place strings decide it, and an integer-encoded string is read as its decimal text,
//! as Redis reads it.
//!
//! Writes follow Redis's `lookupStringForBitCommand`: SETBIT and a BITFIELD that writes first
//! grow the string with zero bytes to the highest bit they write (creating the key if absent,
//! even when every write then fails under `OVERFLOW FAIL`), keep its time to live, and leave a
//! value changed in place (`raw`). A write that changes no byte and grows nothing leaves a
//! `raw` key untouched, so, as in Redis, it does not abort a transaction that WATCHes the
//! key; an `int` or `embstr` key is stored again as `raw` (as Redis unshares it), which here
//! also counts as a change for WATCH, where Redis's does not.
//! BITOP replaces its destination without a time to live, or deletes it when every source is
//! empty.
//!
//! Caveats: the value is immutable `Bytes` shared with views, so a write copies the whole
//! string where Redis changes one byte: SETBIT on a large bitmap costs O(its length).

use bytes::Bytes;

use crate::command::bitmaps::{BitmapRead, BitmapWrite, Field, FieldOperation};
use crate::command::{is_keyword, parse_i64, CommandError, DbIndex, Key};
use crate::resp::Frame;
use crate::store::bitmap::{self, BitOperation};
use crate::store::{Db, Keyspace, StringValue, Value};

use super::strings::string_at;
use super::ApplyContext;

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &BitmapRead) -> Frame {
    let db = keyspace.db(db);
    let result = match read {
        BitmapRead::GetBit { key, offset } => string_at(db, key, now_ms).map(|value| {
            let bytes = value.map(StringValue::to_bytes).unwrap_or_default();
            Frame::Integer(i64::from(bitmap::bit(&bytes, *offset)))
        }),
        BitmapRead::Count { key, range } => bit_count(db, key, range, now_ms),
        BitmapRead::Position { key, bit, range } => bit_position(db, key, *bit, range, now_ms),
        BitmapRead::Fields { key, fields } => string_at(db, key, now_ms).map(|value| {
            let bytes = value.map(StringValue::to_bytes).unwrap_or_default();
            Frame::Array(
                fields.iter().map(|field| Frame::Integer(get_field(&bytes, field))).collect(),
            )
        }),
    };
    result.unwrap_or_else(Frame::from)
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &BitmapWrite,
) -> Frame {
    let db = keyspace.db_mut(db);
    let now_ms = context.now_ms;
    let result = match write {
        BitmapWrite::SetBit { key, offset, on } => set_bit(db, key, *offset, *on, now_ms),
        BitmapWrite::Operation { operation, destination, sources } => {
            bit_operation(db, *operation, destination, sources, now_ms)
        }
        BitmapWrite::Fields { key, operations } => fields(db, key, operations, now_ms),
    };
    result.unwrap_or_else(Frame::from)
}

/// The live string's bytes grown with zero bytes to at least `length`, and whether it must
/// be stored even if no bit changes (created, grown, or not yet `raw`); WRONGTYPE for
/// another type.
fn grown_bytes(
    db: &Db,
    key: &Key,
    length: u64,
    now_ms: u64,
) -> Result<(Vec<u8>, bool), CommandError> {
    let length = usize::try_from(length).expect("offsets are below the 512 MiB limit");
    let current = string_at(db, key, now_ms)?;
    let mut bytes = current.map(|value| value.to_bytes().to_vec()).unwrap_or_default();
    // Redis unshares the value before writing (`dbUnshareStringValue`): an `int` or `embstr`
    // string becomes `raw` even when no bit changes, so it is stored again.
    let unshared = !matches!(current, Some(StringValue::Raw(_)));
    let grown = unshared || bytes.len() < length;
    if bytes.len() < length {
        bytes.resize(length, 0);
    }
    Ok((bytes, grown))
}

/// Stores `bytes` as a string changed in place, keeping the key's time to live.
fn store_in_place(db: &mut Db, key: &Key, bytes: Vec<u8>, now_ms: u64) {
    db.insert_keep_ttl(key.clone(), Value::String(StringValue::Raw(Bytes::from(bytes))), now_ms);
}

fn set_bit(
    db: &mut Db,
    key: &Key,
    offset: u64,
    on: bool,
    now_ms: u64,
) -> Result<Frame, CommandError> {
    let (mut bytes, grown) = grown_bytes(db, key, (offset >> 3) + 1, now_ms)?;
    let previous = bitmap::bit(&bytes, offset);
    if grown || previous != on {
        bitmap::set_bit(&mut bytes, offset, on);
        store_in_place(db, key, bytes, now_ms);
    }
    Ok(Frame::Integer(i64::from(previous)))
}

fn bit_operation(
    db: &mut Db,
    operation: BitOperation,
    destination: &Key,
    sources: &[Key],
    now_ms: u64,
) -> Result<Frame, CommandError> {
    let mut values = Vec::with_capacity(sources.len());
    for source in sources {
        values.push(string_at(db, source, now_ms)?.map(StringValue::to_bytes).unwrap_or_default());
    }
    let slices: Vec<&[u8]> = values.iter().map(|value| &value[..]).collect();
    let result = bitmap::combine(operation, &slices);
    let length = result.len();
    if result.is_empty() {
        db.remove(destination, now_ms);
    } else {
        let value = Value::String(StringValue::Raw(Bytes::from(result)));
        db.insert(destination.clone(), value, None, now_ms);
    }
    Ok(Frame::Integer(length as i64))
}

/// BITFIELD: with GETs only it reads (an absent key stays absent); otherwise it grows the
/// string to its highest written bit first, then runs the operations in order.
fn fields(
    db: &mut Db,
    key: &Key,
    operations: &[FieldOperation],
    now_ms: u64,
) -> Result<Frame, CommandError> {
    let highest = operations
        .iter()
        .filter(|operation| !matches!(operation, FieldOperation::Get(_)))
        .map(|operation| operation.field())
        .map(|field| field.offset + u64::from(field.bits) - 1)
        .max();
    let Some(highest) = highest else {
        let bytes = string_at(db, key, now_ms)?.map(StringValue::to_bytes).unwrap_or_default();
        let replies = operations.iter().map(|operation| get_field(&bytes, &operation.field()));
        return Ok(Frame::Array(replies.map(Frame::Integer).collect()));
    };
    let (mut bytes, grown) = grown_bytes(db, key, (highest >> 3) + 1, now_ms)?;
    let mut changed = grown;
    let mut replies = Vec::with_capacity(operations.len());
    for operation in operations {
        let reply = match *operation {
            FieldOperation::Get(field) => Some(get_field(&bytes, &field)),
            FieldOperation::Set { field, value, overflow } => {
                let previous = get_field(&bytes, &field);
                fitted(&field, value, 0, overflow).map(|new| {
                    changed |= write_field(&mut bytes, &field, new);
                    previous
                })
            }
            FieldOperation::IncrBy { field, increment, overflow } => {
                let previous = get_field(&bytes, &field);
                let new = fitted(&field, previous, increment, overflow);
                if let Some(new) = new {
                    changed |= write_field(&mut bytes, &field, new);
                }
                new
            }
        };
        replies.push(reply.map_or(Frame::Null, Frame::Integer));
    }
    if changed {
        store_in_place(db, key, bytes, now_ms);
    }
    Ok(Frame::Array(replies))
}

/// The field's value, as a signed or an unsigned integer (an unsigned field is at most 63
/// bits wide, so it fits an `i64`).
fn get_field(bytes: &[u8], field: &Field) -> i64 {
    if field.signed {
        bitmap::signed_field(bytes, field.offset, field.bits)
    } else {
        bitmap::unsigned_field(bytes, field.offset, field.bits) as i64
    }
}

/// `value + increment` fitted to the field under `overflow`; `None` when it fails.
fn fitted(field: &Field, value: i64, increment: i64, overflow: bitmap::Overflow) -> Option<i64> {
    if field.signed {
        bitmap::signed_add(value, increment, field.bits, overflow)
    } else {
        bitmap::unsigned_add(value as u64, increment, field.bits, overflow).map(|new| new as i64)
    }
}

/// Writes `value` into the field; whether the field's value changed.
fn write_field(bytes: &mut [u8], field: &Field, value: i64) -> bool {
    let previous = get_field(bytes, field);
    bitmap::set_field(bytes, field.offset, field.bits, value as u64);
    previous != value
}

/// `BYTE` or `BIT`: whether the range counts bits.
fn range_unit(argument: &[u8]) -> Result<bool, CommandError> {
    if is_keyword(argument, "BIT") {
        Ok(true)
    } else if is_keyword(argument, "BYTE") {
        Ok(false)
    } else {
        Err(CommandError::Syntax)
    }
}

fn integer(argument: &[u8]) -> Result<i64, CommandError> {
    parse_i64(argument).ok_or(CommandError::NotInteger)
}

/// Redis's clamping of a range to `0..total` (negative positions count from the end); `None`
/// when it is empty.
fn clamp(start: i64, end: i64, total: i64) -> Option<(u64, u64)> {
    let start = if start < 0 { (total + start).max(0) } else { start };
    let end = if end < 0 { (total + end).max(0) } else { end };
    let end = end.min(total - 1);
    (start <= end).then_some((start as u64, end as u64))
}

/// BITCOUNT: the key is looked up before the range is parsed, so a missing key counts 0
/// whatever follows it.
fn bit_count(db: &Db, key: &Key, range: &[Bytes], now_ms: u64) -> Result<Frame, CommandError> {
    let Some(value) = string_at(db, key, now_ms)? else {
        return Ok(Frame::Integer(0));
    };
    let bytes = value.to_bytes();
    let length = bytes.len() as i64;
    let bits = match range {
        [] => clamp(0, length - 1, length).map(|(start, end)| (start * 8, end * 8 + 7)),
        [start, end] | [start, end, _] => {
            let (start, end) = (integer(start)?, integer(end)?);
            if start < 0 && end < 0 && start > end {
                return Ok(Frame::Integer(0));
            }
            let in_bits = match range.get(2) {
                Some(unit) => range_unit(unit)?,
                None => false,
            };
            if in_bits {
                clamp(start, end, length * 8)
            } else {
                clamp(start, end, length).map(|(start, end)| (start * 8, end * 8 + 7))
            }
        }
        _ => return Err(CommandError::Syntax),
    };
    let count = bits.map_or(0, |(start, end)| bitmap::count_bits(&bytes, start, end));
    Ok(Frame::Integer(count as i64))
}

/// BITPOS: a missing key is all zeros (0 for a clear bit, -1 for a set one) before the range
/// is parsed. Without an explicit end, a clear bit past the string is found; with one, not.
fn bit_position(
    db: &Db,
    key: &Key,
    bit: bool,
    range: &[Bytes],
    now_ms: u64,
) -> Result<Frame, CommandError> {
    let Some(value) = string_at(db, key, now_ms)? else {
        return Ok(Frame::Integer(if bit { -1 } else { 0 }));
    };
    let bytes = value.to_bytes();
    let length = bytes.len() as i64;
    if range.len() > 3 {
        return Err(CommandError::Syntax);
    }
    let (bits, end_given) = if range.is_empty() {
        (clamp(0, length - 1, length).map(|(start, end)| (start * 8, end * 8 + 7)), false)
    } else {
        let start = integer(&range[0])?;
        let in_bits = match range.get(2) {
            Some(unit) => range_unit(unit)?,
            None => false,
        };
        let end = match range.get(1) {
            Some(end) => integer(end)?,
            None if in_bits => length * 8 + 7,
            None => length - 1,
        };
        let bits = if in_bits {
            clamp(start, end, length * 8)
        } else {
            clamp(start, end, length).map(|(start, end)| (start * 8, end * 8 + 7))
        };
        (bits, range.len() >= 2)
    };
    let Some((start, end)) = bits else {
        return Ok(Frame::Integer(-1));
    };
    let position = match bitmap::position(&bytes, bit, start, end) {
        Some(position) => position as i64,
        None if bit || end_given => -1,
        // The string is followed by zero bits: the first clear one is past the last byte.
        None => (((end >> 3) + 1) * 8) as i64,
    };
    Ok(Frame::Integer(position))
}
