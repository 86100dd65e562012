//! The bitmap family: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO.
//!
//! A bitmap is a string (see `store::bitmap`), so these commands share the string values
//! GET, APPEND and GETRANGE see. Parsing follows the order of Redis's `bitops.c`: where Redis
//! parses an argument before it looks the key up (SETBIT's and GETBIT's offset, BITPOS's bit,
//! every BITFIELD operation, BITOP's operation), the error comes from here and a malformed
//! write costs no log entry; where Redis looks the key up first (BITCOUNT's and BITPOS's
//! range), the typed command carries the arguments unparsed and execution parses them after
//! the key, so that a missing key or WRONGTYPE wins as it does in Redis.
//!
//! Bit offsets are limited as Redis limits them with its default `proto-max-bulk-len`
//! (512 MiB, so offsets below 2^32): a constant, as for SETRANGE, so that every replica
//! decides the same.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{is_keyword, parse_i64, Args, Command, CommandError, CommandSpec, Key, Read, Write};
use crate::command::redis_metadata;

/// The bitmap commands that only read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BitmapRead {
    /// `GETBIT key offset`.
    GetBit {
        /// The key it reads.
        key: Key,
        /// The bit's offset, already checked against the limit.
        offset: u64,
    },
    /// `BITCOUNT key [start end [BYTE | BIT]]`.
    Count {
        /// The key it reads.
        key: Key,
        /// The arguments after the key, unparsed: Redis reads them after the key.
        range: Vec<Bytes>,
    },
    /// `BITPOS key bit [start [end [BYTE | BIT]]]`.
    Position {
        /// The key it reads.
        key: Key,
        /// The bit it looks for.
        bit: bool,
        /// The arguments after the bit, unparsed: Redis reads them after the key.
        range: Vec<Bytes>,
    },
    /// `BITFIELD_RO key [GET type offset ...]`.
    Fields {
        /// The key it reads.
        key: Key,
        /// The fields, in argument order.
        fields: Vec<Field>,
    },
}

/// The bitmap commands that write, as they are stored in the log and applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BitmapWrite {
    /// `SETBIT key offset value`.
    SetBit {
        /// The key it writes; an absent key starts as the empty string.
        key: Key,
        /// The bit's offset, already checked against the limit.
        offset: u64,
        /// The bit's new value.
        on: bool,
    },
    /// `BITOP operation destkey key [key ...]`.
    Operation {
        /// AND, OR, XOR or NOT.
        operation: BitOperation,
        /// The key the result is stored at (or deleted from, when the result is empty).
        destination: Key,
        /// The source keys; exactly one for NOT.
        sources: Vec<Key>,
    },
    /// `BITFIELD key [GET ... | SET ... | INCRBY ... | OVERFLOW ...]...`.
    Fields {
        /// The key it reads and writes.
        key: Key,
        /// The operations in argument order, each with the OVERFLOW mode in force for it.
        operations: Vec<FieldOperation>,
    },
}

/// A BITFIELD field: its type and where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// `i` (two's complement) or `u`.
    pub signed: bool,
    /// The width: 1 to 64 signed, 1 to 63 unsigned.
    pub bits: u32,
    /// The first bit's offset (a `#n` offset already multiplied by the width).
    pub offset: u64,
}

/// One BITFIELD operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldOperation {
    /// `GET type offset`.
    Get(Field),
    /// `SET type offset value`: replies with the previous value.
    Set {
        /// The field written.
        field: Field,
        /// The value, fitted to the field by `overflow`.
        value: i64,
        /// The OVERFLOW mode in force.
        overflow: Overflow,
    },
    /// `INCRBY type offset increment`: replies with the new value.
    IncrBy {
        /// The field changed.
        field: Field,
        /// The amount added.
        increment: i64,
        /// The OVERFLOW mode in force.
        overflow: Overflow,
    },
}

impl FieldOperation {
    /// The field the operation reads or writes.
    pub fn field(&self) -> Field {
        match *self {
            FieldOperation::Get(field)
            | FieldOperation::Set { field, .. }
            | FieldOperation::IncrBy { field, .. } => field,
        }
    }
}

/// The bitmap family's commands, each with its metadata and parser.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(&redis_metadata::SETBIT, parse_setbit),
    CommandSpec::new(&redis_metadata::GETBIT, parse_getbit),
    CommandSpec::new(&redis_metadata::BITCOUNT, parse_bitcount),
    CommandSpec::new(&redis_metadata::BITPOS, parse_bitpos),
    CommandSpec::new(&redis_metadata::BITOP, parse_bitop),
    CommandSpec::new(&redis_metadata::BITFIELD, parse_bitfield),
    CommandSpec::new(&redis_metadata::BITFIELD_RO, parse_bitfield_ro),
];

/// The longest string a bit offset may reach: Redis's default `proto-max-bulk-len`, the same
/// bound as `store::STRING_BYTES_MAX` (a test in `store::bitmap` holds them equal).
pub const BIT_OFFSET_BYTES_MAX: u64 = 512 * 1024 * 1024;

/// What BITFIELD does when a value does not fit its field (`OVERFLOW`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Overflow {
    /// `WRAP`: keep the low bits (the default).
    Wrap,
    /// `SAT`: clamp to the field's minimum or maximum.
    Saturate,
    /// `FAIL`: write nothing and reply nil.
    Fail,
}

/// BITOP's operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BitOperation {
    /// `AND`.
    And,
    /// `OR`.
    Or,
    /// `XOR`.
    Xor,
    /// `NOT` (of one source).
    Not,
}

const BIT_OFFSET_INVALID: CommandError =
    CommandError::other("ERR bit offset is not an integer or out of range");
const BIT_VALUE_INVALID: CommandError =
    CommandError::other("ERR bit is not an integer or out of range");
const FIELD_TYPE_INVALID: CommandError = CommandError::other(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);

fn read(read: BitmapRead) -> Result<Command, CommandError> {
    Ok(Command::Read(Read::Bitmap(read)))
}

fn write(write: BitmapWrite) -> Result<Command, CommandError> {
    Ok(Command::Write(Write::Bitmap(write)))
}

/// Redis's `getBitOffsetFromArgument`: a non-negative integer whose byte lies inside the
/// string size limit; with `field_bits`, BITFIELD's `#n` form means `n * field_bits`.
fn bit_offset(argument: &[u8], field_bits: Option<u32>) -> Result<u64, CommandError> {
    let (digits, multiplier) = match (argument.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (&argument[1..], i64::from(bits)),
        _ => (argument, 1),
    };
    let offset = parse_i64(digits).ok_or(BIT_OFFSET_INVALID)?;
    // Redis multiplies in C's `long long`; wrapping is what its builds do on overflow.
    let offset = offset.wrapping_mul(multiplier);
    match u64::try_from(offset) {
        Ok(offset) if offset >> 3 < BIT_OFFSET_BYTES_MAX => Ok(offset),
        _ => Err(BIT_OFFSET_INVALID),
    }
}

fn parse_setbit(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let offset = bit_offset(&args.next_bytes()?, None)?;
    let on = match parse_i64(&args.next_bytes()?) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(BIT_VALUE_INVALID),
    };
    write(BitmapWrite::SetBit { key, offset, on })
}

fn parse_getbit(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let offset = bit_offset(&args.next_bytes()?, None)?;
    read(BitmapRead::GetBit { key, offset })
}

fn parse_bitcount(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    read(BitmapRead::Count { key, range: args.rest() })
}

fn parse_bitpos(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let bit = match args.next_i64()? {
        0 => false,
        1 => true,
        _ => return Err(CommandError::other("ERR The bit argument must be 1 or 0.")),
    };
    read(BitmapRead::Position { key, bit, range: args.rest() })
}

fn parse_bitop(args: &mut Args) -> Result<Command, CommandError> {
    let name = args.next_bytes()?;
    let operation = [
        ("AND", BitOperation::And),
        ("OR", BitOperation::Or),
        ("XOR", BitOperation::Xor),
        ("NOT", BitOperation::Not),
    ]
    .into_iter()
    .find(|(keyword, _)| is_keyword(&name, keyword))
    .map(|(_, operation)| operation)
    .ok_or(CommandError::Syntax)?;
    let destination = args.next_bytes()?;
    let sources = args.rest();
    if operation == BitOperation::Not && sources.len() != 1 {
        return Err(CommandError::other("ERR BITOP NOT must be called with a single source key."));
    }
    write(BitmapWrite::Operation { operation, destination, sources })
}

fn parse_bitfield(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let operations = parse_field_operations(args.rest())?;
    write(BitmapWrite::Fields { key, operations })
}

/// BITFIELD_RO parses every operation as BITFIELD does, then refuses any but GET.
fn parse_bitfield_ro(args: &mut Args) -> Result<Command, CommandError> {
    let key = args.next_bytes()?;
    let mut fields = Vec::new();
    for operation in parse_field_operations(args.rest())? {
        match operation {
            FieldOperation::Get(field) => fields.push(field),
            FieldOperation::Set { .. } | FieldOperation::IncrBy { .. } => {
                return Err(CommandError::other("ERR BITFIELD_RO only supports the GET subcommand"))
            }
        }
    }
    read(BitmapRead::Fields { key, fields })
}

/// BITFIELD's operations, as `bitfieldGeneric` parses them: a name with too few arguments
/// after it is a syntax error, and the type, then the offset, then the value are checked.
fn parse_field_operations(arguments: Vec<Bytes>) -> Result<Vec<FieldOperation>, CommandError> {
    let mut operations = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut index = 0;
    while index < arguments.len() {
        let name = &arguments[index];
        let remaining = arguments.len() - index - 1;
        let needed = if is_keyword(name, "GET") {
            2
        } else if is_keyword(name, "SET") || is_keyword(name, "INCRBY") {
            3
        } else if is_keyword(name, "OVERFLOW") && remaining >= 1 {
            overflow = parse_overflow(&arguments[index + 1])?;
            index += 2;
            continue;
        } else {
            return Err(CommandError::Syntax);
        };
        if remaining < needed {
            return Err(CommandError::Syntax);
        }
        let (signed, bits) = field_type(&arguments[index + 1])?;
        let offset = bit_offset(&arguments[index + 2], Some(bits))?;
        let field = Field { signed, bits, offset };
        let operation = if needed == 2 {
            FieldOperation::Get(field)
        } else {
            let amount = parse_i64(&arguments[index + 3]).ok_or(CommandError::NotInteger)?;
            if is_keyword(name, "SET") {
                FieldOperation::Set { field, value: amount, overflow }
            } else {
                FieldOperation::IncrBy { field, increment: amount, overflow }
            }
        };
        operations.push(operation);
        index += needed + 1;
    }
    Ok(operations)
}

fn parse_overflow(argument: &[u8]) -> Result<Overflow, CommandError> {
    [("WRAP", Overflow::Wrap), ("SAT", Overflow::Saturate), ("FAIL", Overflow::Fail)]
        .into_iter()
        .find(|(keyword, _)| is_keyword(argument, keyword))
        .map(|(_, overflow)| overflow)
        .ok_or(CommandError::other("ERR Invalid OVERFLOW type specified"))
}

/// `i1`..`i64` or `u1`..`u63`, lowercase only, as `getBitfieldTypeFromArgument` reads it (the
/// width ends at a NUL byte, since Redis measures it with `strlen`).
fn field_type(argument: &[u8]) -> Result<(bool, u32), CommandError> {
    let signed = match argument.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(FIELD_TYPE_INVALID),
    };
    let width = &argument[1..];
    let width = &width[..width.iter().position(|&byte| byte == 0).unwrap_or(width.len())];
    match parse_i64(width) {
        Some(bits @ 1..=64) if signed => Ok((true, bits as u32)),
        Some(bits @ 1..=63) => Ok((false, bits as u32)),
        _ => Err(FIELD_TYPE_INVALID),
    }
}
