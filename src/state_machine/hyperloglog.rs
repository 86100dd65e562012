//! Execution of the HyperLogLog family, on string values (see `store::hyperloglog`).
//!
//! A key is an HLL if it holds a string that passes `hyperloglog::is_valid`; another string
//! gets Redis's `WRONGTYPE Key is not a valid HyperLogLog string value.`, another type the
//! usual WRONGTYPE. A write that finds a corrupt sparse HLL replies `INVALIDOBJ` and stores
//! nothing. PFADD and PFMERGE keep the key's time to live, as Redis changes the value in place.
//!
//! PFCOUNT runs on a view and never writes the header's cache (see `command::hyperloglog`);
//! it returns a valid cached count as Redis does, so an HLL copied from Redis counts the same.
//! PFSELFTEST draws its random registers and seed from a fixed generator, not `rand()`.

use bytes::Bytes;

use crate::command::hyperloglog::{HyperLogLogRead, HyperLogLogWrite};
use crate::command::{CommandError, DbIndex, Key};
use crate::resp::Frame;
use crate::store::hyperloglog::{self as hll, Corrupt};
use crate::store::{Db, Keyspace, StringValue, Value};

use super::strings::string_at;
use super::ApplyContext;

const NOT_AN_HLL: CommandError =
    CommandError::other("WRONGTYPE Key is not a valid HyperLogLog string value.");
const CORRUPT: CommandError = CommandError::other("INVALIDOBJ Corrupted HLL object detected");

impl From<Corrupt> for CommandError {
    fn from(_: Corrupt) -> CommandError {
        CORRUPT
    }
}

pub(super) fn read(keyspace: &Keyspace, db: DbIndex, now_ms: u64, read: &HyperLogLogRead) -> Frame {
    let db = keyspace.db(db);
    let result = match read {
        HyperLogLogRead::Count { keys } => count(db, keys, now_ms),
        HyperLogLogRead::SelfTest => Ok(self_test()),
    };
    result.unwrap_or_else(Frame::from)
}

pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &HyperLogLogWrite,
) -> Frame {
    let db = keyspace.db_mut(db);
    let now_ms = context.now_ms;
    let result = match write {
        HyperLogLogWrite::Add { key, elements } => add(db, key, elements, now_ms),
        HyperLogLogWrite::Merge { destination, sources } => merge(db, destination, sources, now_ms),
        HyperLogLogWrite::Debug { subcommand, key } => debug(db, subcommand, key, now_ms),
    };
    result.unwrap_or_else(Frame::from)
}

/// The HLL at `key`: `None` if absent, an error if it is not a valid HLL.
fn hll_at(db: &Db, key: &Key, now_ms: u64) -> Result<Option<Bytes>, CommandError> {
    match string_at(db, key, now_ms)? {
        None => Ok(None),
        // An integer-encoded string is never an HLL, whatever its digits.
        Some(StringValue::Integer(_)) => Err(NOT_AN_HLL),
        Some(value) => {
            let bytes = value.to_bytes();
            if hll::is_valid(&bytes) {
                Ok(Some(bytes))
            } else {
                Err(NOT_AN_HLL)
            }
        }
    }
}

/// Stores a changed HLL, keeping the key's time to live.
fn store(db: &mut Db, key: &Key, bytes: Vec<u8>, now_ms: u64) {
    db.insert_keep_ttl(key.clone(), Value::String(StringValue::Raw(Bytes::from(bytes))), now_ms);
}

/// PFADD: a new key counts as a change, so `PFADD key` alone creates it and replies 1.
fn add(db: &mut Db, key: &Key, elements: &[Bytes], now_ms: u64) -> Result<Frame, CommandError> {
    let (mut bytes, mut updated) = match hll_at(db, key, now_ms)? {
        Some(bytes) => (bytes.to_vec(), false),
        None => (hll::new_sparse(), true),
    };
    for element in elements {
        updated |= hll::add(&mut bytes, element)?;
    }
    if updated {
        hll::invalidate_cache(&mut bytes);
        store(db, key, bytes, now_ms);
    }
    Ok(Frame::Integer(i64::from(updated)))
}

fn count(db: &Db, keys: &[Key], now_ms: u64) -> Result<Frame, CommandError> {
    if let [key] = keys {
        let Some(bytes) = hll_at(db, key, now_ms)? else {
            return Ok(Frame::Integer(0));
        };
        let count = match hll::cached_count(&bytes) {
            Some(cached) => cached,
            None => hll::count(&bytes)?,
        };
        return Ok(Frame::Integer(count as i64));
    }
    let mut maximum = vec![0u8; hll::REGISTERS];
    for key in keys {
        if let Some(bytes) = hll_at(db, key, now_ms)? {
            hll::merge_into(&mut maximum, &bytes)?;
        }
    }
    Ok(Frame::Integer(hll::count_registers(&maximum) as i64))
}

/// PFMERGE: the registers' maximum over the destination and the sources, written into the
/// destination register by register as Redis does (so a sparse destination stays sparse
/// while it can), dense at once if any source is dense.
fn merge(
    db: &mut Db,
    destination: &Key,
    sources: &[Key],
    now_ms: u64,
) -> Result<Frame, CommandError> {
    let mut maximum = vec![0u8; hll::REGISTERS];
    let mut use_dense = false;
    let mut current = None;
    for (position, key) in std::iter::once(destination).chain(sources).enumerate() {
        let Some(bytes) = hll_at(db, key, now_ms)? else { continue };
        use_dense |= hll::is_dense(&bytes);
        hll::merge_into(&mut maximum, &bytes)?;
        if position == 0 {
            current = Some(bytes);
        }
    }
    let mut bytes = current.map_or_else(hll::new_sparse, |bytes| bytes.to_vec());
    if use_dense {
        hll::to_dense(&mut bytes)?;
    }
    for (index, &value) in maximum.iter().enumerate() {
        if value != 0 {
            // Redis ignores a failure here: every source was already read whole.
            let _ = hll::raise_register(&mut bytes, index, value);
        }
    }
    hll::invalidate_cache(&mut bytes);
    store(db, destination, bytes, now_ms);
    Ok(Frame::ok())
}

fn debug(db: &mut Db, subcommand: &[u8], key: &Key, now_ms: u64) -> Result<Frame, CommandError> {
    let bytes = hll_at(db, key, now_ms)?
        .ok_or(CommandError::other("ERR The specified key does not exist"))?;
    let mut bytes = bytes.to_vec();
    if subcommand.eq_ignore_ascii_case(b"GETREG") {
        if hll::to_dense(&mut bytes)? {
            store(db, key, bytes.clone(), now_ms);
        }
        let registers = hll::dense_registers(&bytes);
        Ok(Frame::Array(registers.into_iter().map(|value| Frame::Integer(value.into())).collect()))
    } else if subcommand.eq_ignore_ascii_case(b"DECODE") {
        if hll::is_dense(&bytes) {
            return Err(CommandError::other("ERR HLL encoding is not sparse"));
        }
        Ok(Frame::bulk(hll::decode_sparse(&bytes)))
    } else if subcommand.eq_ignore_ascii_case(b"ENCODING") {
        Ok(Frame::simple(if hll::is_dense(&bytes) { "dense" } else { "sparse" }))
    } else if subcommand.eq_ignore_ascii_case(b"TODENSE") {
        let converted = hll::to_dense(&mut bytes)?;
        if converted {
            store(db, key, bytes, now_ms);
        }
        Ok(Frame::Integer(i64::from(converted)))
    } else {
        // Redis prints the name as a C string: up to its first NUL byte.
        let name = subcommand.split(|&byte| byte == 0).next().unwrap_or_default();
        let name = String::from_utf8_lossy(name);
        Err(CommandError::Other(format!("ERR Unknown PFDEBUG subcommand '{name}'").into()))
    }
}

/// A small deterministic generator for PFSELFTEST (xorshift64*).
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// PFSELFTEST, Redis's two tests: 1000 rounds of random register writes read back, then 10
/// million distinct elements added to a dense and a sparse HLL, whose counts must agree and
/// stay within six standard errors at every power of ten.
fn self_test() -> Frame {
    let mut generator = Generator(0x5eed_0fc0_4c0d);
    let mut registers = vec![0u8; hll::DENSE_BYTES - hll::HEADER_BYTES];
    let mut expected = vec![0u8; hll::REGISTERS];
    for _ in 0..1000 {
        for (index, slot) in expected.iter_mut().enumerate() {
            *slot = (generator.next() & 63) as u8;
            hll::set_register_in(&mut registers, index, *slot);
        }
        for (index, &value) in expected.iter().enumerate() {
            let found = hll::register_in(&registers, index);
            if found != value {
                return Frame::Error(
                    format!("ERR TESTFAILED Register {index} should be {value} but is {found}")
                        .into(),
                );
            }
        }
    }
    let mut dense = hll::new_sparse();
    hll::to_dense(&mut dense).expect("a new HLL is well formed");
    let mut sparse = hll::new_sparse();
    let relative_error = 1.04 / (hll::REGISTERS as f64).sqrt();
    let seed = generator.next();
    let mut checkpoint: u64 = 1;
    for element in 1..=10_000_000u64 {
        let bytes = (element ^ seed).to_ne_bytes();
        let _ = hll::add(&mut dense, &bytes);
        let _ = hll::add(&mut sparse, &bytes);
        if element != checkpoint {
            continue;
        }
        if element < (hll::SPARSE_BYTES_MAX / 2) as u64 && hll::is_dense(&sparse) {
            return Frame::error("ERR TESTFAILED sparse encoding not used");
        }
        let count = hll::count(&dense).expect("a dense HLL always counts");
        if hll::count(&sparse) != Ok(count) {
            return Frame::error("ERR TESTFAILED dense/sparse disagree");
        }
        let error = checkpoint.abs_diff(count);
        let allowed = if element == 10 {
            1
        } else {
            (relative_error * 6.0 * checkpoint as f64).ceil() as u64
        };
        if error > allowed {
            return Frame::Error(
                format!("ERR TESTFAILED Too big error. card:{checkpoint} abserr:{error}").into(),
            );
        }
        checkpoint *= 10;
    }
    Frame::ok()
}
