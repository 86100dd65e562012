//! HyperLogLog in Redis 7.0's exact representation (`hyperloglog.c`), byte for byte.
//!
//! An HLL is a string: a 16-byte header (`HYLL`, the encoding byte, three zero bytes, and the
//! cached cardinality in 8 little-endian bytes whose top bit set means "not valid"), then the
//! 16384 six-bit registers, either dense (12288 bytes, register `i` at bit `6i`, least
//! significant bit first) or sparse (run-length opcodes: `00xxxxxx` ZERO of 1..64 registers,
//! `01xxxxxx yyyyyyyy` XZERO of 1..16384, `1vvvvvxx` VAL of value 1..32 for 1..4 registers).
//! A new HLL is sparse; it turns dense when a register needs a value above 32 or the sparse
//! string would grow past [`SPARSE_BYTES_MAX`] (Redis's `hll-sparse-max-bytes`, 3000).
//! Elements are hashed with MurmurHash64A (seed `0xadc83b19`, little-endian word reads, as
//! Redis builds it on every platform), and the estimate is Ertl's improved estimator, the one
//! Redis 7.0 uses, so every count and every stored byte equals Redis's for the same inputs
//! and an HLL copied from Redis with GET/SET works here and back.
//!
//! The sparse update ([`sparse_set`]) is a port of `hllSparseSet`, including its opcode
//! splitting and its merge of adjacent VAL opcodes over at most five opcodes, because the
//! bytes it leaves are observable through GET.
//!
//! Invariants: functions that read a sparse HLL report a corrupt one (runs that do not cover
//! exactly 16384 registers) as [`Corrupt`], never panic; callers check the header with
//! [`is_valid`] first.

/// The header's length.
pub const HEADER_BYTES: usize = 16;
/// The number of registers (Redis's `HLL_REGISTERS`, 2^14).
pub const REGISTERS: usize = 1 << 14;
/// A dense HLL's length: the header and 16384 six-bit registers.
pub const DENSE_BYTES: usize = HEADER_BYTES + REGISTERS * 6 / 8;
/// The longest sparse HLL before it turns dense (`hll-sparse-max-bytes`).
pub const SPARSE_BYTES_MAX: usize = 3000;

const ENCODING_DENSE: u8 = 0;
const ENCODING_SPARSE: u8 = 1;
const REGISTER_BITS: u32 = 6;
const REGISTER_MAX: u8 = 63;
const PRECISION: u32 = 14;
const Q: usize = 64 - PRECISION as usize;
const SPARSE_VALUE_MAX: u8 = 32;
const SPARSE_VALUE_LENGTH_MAX: usize = 4;
const SPARSE_ZERO_LENGTH_MAX: usize = 64;
/// 0.5 / ln 2, written as Redis writes it (`0.721347520444481703680`); the literal rounds to
/// the same double.
const ALPHA_INFINITY: f64 = 0.721_347_520_444_481_7;

/// A sparse HLL whose runs do not cover exactly the 16384 registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash64A as Redis uses it (little-endian reads of 8-byte words).
pub fn murmur_hash_64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut hash = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        let mut k = u64::from_le_bytes(word.try_into().expect("chunks of 8"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        hash ^= k;
        hash = hash.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (index, byte) in tail.iter().enumerate() {
            hash ^= u64::from(*byte) << (8 * index);
        }
        hash = hash.wrapping_mul(M);
    }
    hash ^= hash >> R;
    hash = hash.wrapping_mul(M);
    hash ^= hash >> R;
    hash
}

/// The register an element falls in and the length of its `000..1` pattern (`hllPatLen`).
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur_hash_64a(element, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> PRECISION) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty HLL: sparse, one XZERO opcode for all registers, cache valid at 0.
pub fn new_sparse() -> Vec<u8> {
    let mut hll = Vec::with_capacity(HEADER_BYTES + 2);
    hll.extend_from_slice(b"HYLL");
    hll.push(ENCODING_SPARSE);
    hll.extend_from_slice(&[0; 11]);
    push_xzero(&mut hll, REGISTERS);
    hll
}

/// Whether `bytes` is an HLL as Redis's `isHLLObjectOrReply` judges it: long enough for
/// the header, `HYLL`, a known encoding, and a dense one exactly [`DENSE_BYTES`] long.
pub fn is_valid(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_BYTES
        && &bytes[..4] == b"HYLL"
        && bytes[4] <= ENCODING_SPARSE
        && (bytes[4] != ENCODING_DENSE || bytes.len() == DENSE_BYTES)
}

/// Whether the HLL is dense.
pub fn is_dense(hll: &[u8]) -> bool {
    hll[4] == ENCODING_DENSE
}

/// The cached cardinality, if the cache is valid.
pub fn cached_count(hll: &[u8]) -> Option<u64> {
    let card = u64::from_le_bytes(hll[8..16].try_into().expect("the header is 16 bytes"));
    (hll[15] & 0x80 == 0).then_some(card)
}

/// Marks the cached cardinality as not valid (`HLL_INVALIDATE_CACHE`).
pub fn invalidate_cache(hll: &mut [u8]) {
    hll[15] |= 0x80;
}

/// Adds `element`: whether a register changed.
pub fn add(hll: &mut Vec<u8>, element: &[u8]) -> Result<bool, Corrupt> {
    let (index, count) = pattern(element);
    raise_register(hll, index, count)
}

/// Raises register `index` to `count` in whichever encoding the HLL has (a sparse one may
/// turn dense): whether it changed.
pub fn raise_register(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    if is_dense(hll) {
        Ok(dense_set(&mut hll[HEADER_BYTES..], index, count))
    } else {
        sparse_set(hll, index, count)
    }
}

/// Sets dense register `index` of a bare register array (PFSELFTEST's access check).
pub fn set_register_in(registers: &mut [u8], index: usize, value: u8) {
    set_dense_register(registers, index, value);
}

/// Dense register `index` of a bare register array.
pub fn register_in(registers: &[u8], index: usize) -> u8 {
    dense_register(registers, index)
}

fn dense_register(registers: &[u8], index: usize) -> u8 {
    let byte = index * REGISTER_BITS as usize / 8;
    let shift = (index * REGISTER_BITS as usize) & 7;
    let low = u16::from(registers[byte]);
    let high = u16::from(registers.get(byte + 1).copied().unwrap_or(0));
    (((low >> shift) | (high << (8 - shift))) & u16::from(REGISTER_MAX)) as u8
}

fn set_dense_register(registers: &mut [u8], index: usize, value: u8) {
    let byte = index * REGISTER_BITS as usize / 8;
    let shift = (index * REGISTER_BITS as usize) & 7;
    let value = u16::from(value);
    registers[byte] &= !((u16::from(REGISTER_MAX) << shift) as u8);
    registers[byte] |= (value << shift) as u8;
    if let Some(next) = registers.get_mut(byte + 1) {
        *next &= !((u16::from(REGISTER_MAX) >> (8 - shift)) as u8);
        *next |= (value >> (8 - shift)) as u8;
    }
}

/// Raises dense register `index` to `count`: whether it changed (`hllDenseSet`).
fn dense_set(registers: &mut [u8], index: usize, count: u8) -> bool {
    if count > dense_register(registers, index) {
        set_dense_register(registers, index, count);
        true
    } else {
        false
    }
}

/// The registers of a dense HLL, one byte each.
pub fn dense_registers(hll: &[u8]) -> Vec<u8> {
    (0..REGISTERS).map(|index| dense_register(&hll[HEADER_BYTES..], index)).collect()
}

/// One sparse opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opcode {
    Zero(usize),
    ExtendedZero(usize),
    Value(u8, usize),
}

fn opcode_at(sparse: &[u8], position: usize) -> Opcode {
    let byte = sparse[position];
    if byte & 0xc0 == 0 {
        Opcode::Zero(usize::from(byte & 0x3f) + 1)
    } else if byte & 0xc0 == 0x40 {
        let low = sparse.get(position + 1).copied().unwrap_or(0);
        Opcode::ExtendedZero(((usize::from(byte & 0x3f) << 8) | usize::from(low)) + 1)
    } else {
        Opcode::Value(((byte >> 2) & 0x1f) + 1, usize::from(byte & 0x3) + 1)
    }
}

impl Opcode {
    fn span(self) -> usize {
        match self {
            Opcode::Zero(length) | Opcode::ExtendedZero(length) | Opcode::Value(_, length) => {
                length
            }
        }
    }

    fn bytes(self) -> usize {
        if matches!(self, Opcode::ExtendedZero(_)) {
            2
        } else {
            1
        }
    }
}

fn value_byte(value: u8, length: usize) -> u8 {
    (((value - 1) << 2) | (length as u8 - 1)) | 0x80
}

fn push_xzero(out: &mut Vec<u8>, length: usize) {
    let encoded = length - 1;
    out.push((encoded >> 8) as u8 | 0x40);
    out.push((encoded & 0xff) as u8);
}

/// A run of zero registers as ZERO or XZERO, as `hllSparseSet` writes it.
fn push_zeros(out: &mut Vec<u8>, length: usize) {
    if length > SPARSE_ZERO_LENGTH_MAX {
        push_xzero(out, length);
    } else {
        out.push((length - 1) as u8);
    }
}

/// Calls `visit(first_register, opcode)` for every opcode; fails when the runs do not cover
/// exactly the registers. A VAL past the last register fails at once: Redis 7.0.15 as Debian
/// ships it (with the fix for CVE-2025-32023) refuses it, where the 7.0.15 source stopped the
/// walk and accepted the HLL if the runs before it covered every register.
fn walk_sparse(sparse: &[u8], mut visit: impl FnMut(usize, Opcode)) -> Result<(), Corrupt> {
    let (mut position, mut index) = (0, 0);
    while position < sparse.len() {
        let opcode = opcode_at(sparse, position);
        if let Opcode::Value(..) = opcode {
            if index + opcode.span() > REGISTERS {
                return Err(Corrupt);
            }
        }
        visit(index, opcode);
        index += opcode.span();
        position += opcode.bytes();
    }
    if index == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Turns a sparse HLL dense, keeping its header's cache; whether it was sparse.
pub fn to_dense(hll: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if is_dense(hll) {
        return Ok(false);
    }
    let mut dense = vec![0u8; DENSE_BYTES];
    dense[..HEADER_BYTES].copy_from_slice(&hll[..HEADER_BYTES]);
    dense[4] = ENCODING_DENSE;
    walk_sparse(&hll[HEADER_BYTES..], |first, opcode| {
        if let Opcode::Value(value, length) = opcode {
            for index in first..first + length {
                set_dense_register(&mut dense[HEADER_BYTES..], index, value);
            }
        }
    })?;
    *hll = dense;
    Ok(true)
}

/// Raises register `index` of a sparse HLL to `count` (`hllSparseSet`): whether it
/// changed. It turns the HLL dense when the value or the length calls for it.
pub fn sparse_set(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    if count > SPARSE_VALUE_MAX {
        return promote(hll, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let (mut position, mut first, mut previous) = (HEADER_BYTES, 0usize, None);
    let mut found = None;
    while position < hll.len() {
        let opcode = opcode_at(hll, position);
        if index < first + opcode.span() {
            found = Some(opcode);
            break;
        }
        previous = Some(position);
        position += opcode.bytes();
        first += opcode.span();
    }
    let Some(opcode) = found else {
        return Err(Corrupt);
    };
    // Step 2: the easy cases, changed in place.
    let updated = match opcode {
        Opcode::Value(old, _) if old >= count => return Ok(false),
        Opcode::Value(_, 1) | Opcode::Zero(1) => {
            hll[position] = value_byte(count, 1);
            true
        }
        _ => false,
    };
    if !updated {
        // The general case: split the opcode into up to three.
        let last = first + opcode.span() - 1;
        let mut sequence = Vec::with_capacity(5);
        match opcode {
            Opcode::Value(current, _) => {
                if index != first {
                    sequence.push(value_byte(current, index - first));
                }
                sequence.push(value_byte(count, 1));
                if index != last {
                    sequence.push(value_byte(current, last - index));
                }
            }
            Opcode::Zero(_) | Opcode::ExtendedZero(_) => {
                if index != first {
                    push_zeros(&mut sequence, index - first);
                }
                sequence.push(value_byte(count, 1));
                if index != last {
                    push_zeros(&mut sequence, last - index);
                }
            }
        }
        let grows_by = sequence.len().saturating_sub(opcode.bytes());
        if grows_by > 0 && hll.len() + grows_by > SPARSE_BYTES_MAX {
            return promote(hll, index, count);
        }
        hll.splice(position..position + opcode.bytes(), sequence);
    }
    merge_adjacent_values(hll, previous.unwrap_or(HEADER_BYTES));
    invalidate_cache(hll);
    Ok(true)
}

/// Step 4 of `hllSparseSet`: merges adjacent VAL opcodes of equal value, scanning at most
/// five opcodes from `start`.
fn merge_adjacent_values(hll: &mut Vec<u8>, start: usize) {
    let mut position = start;
    let mut scans = 5;
    while position < hll.len() && scans > 0 {
        scans -= 1;
        let opcode = opcode_at(hll, position);
        let Opcode::Value(value, length) = opcode else {
            position += opcode.bytes();
            continue;
        };
        if position + 1 < hll.len() {
            if let Opcode::Value(next_value, next_length) = opcode_at(hll, position + 1) {
                if next_value == value && length + next_length <= SPARSE_VALUE_LENGTH_MAX {
                    hll[position + 1] = value_byte(value, length + next_length);
                    hll.remove(position);
                    continue;
                }
            }
        }
        position += 1;
    }
}

fn promote(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(hll)?;
    let changed = dense_set(&mut hll[HEADER_BYTES..], index, count);
    assert!(changed, "a promotion happens only for a register that grows");
    Ok(true)
}

/// Raises `maximum[i]` to every register of `hll` (`hllMerge`).
pub fn merge_into(maximum: &mut [u8], hll: &[u8]) -> Result<(), Corrupt> {
    if is_dense(hll) {
        for (index, slot) in maximum.iter_mut().enumerate() {
            *slot = (*slot).max(dense_register(&hll[HEADER_BYTES..], index));
        }
        return Ok(());
    }
    walk_sparse(&hll[HEADER_BYTES..], |first, opcode| {
        if let Opcode::Value(value, length) = opcode {
            for slot in &mut maximum[first..first + length] {
                *slot = (*slot).max(value);
            }
        }
    })
}

/// The estimated cardinality of an HLL, ignoring its cache (`hllCount`).
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    let mut histogram = [0u32; 64];
    if is_dense(hll) {
        for index in 0..REGISTERS {
            histogram[usize::from(dense_register(&hll[HEADER_BYTES..], index))] += 1;
        }
    } else {
        // Redis counts every opcode, even past a VAL that overflows, then judges the total.
        let (mut position, mut index) = (HEADER_BYTES, 0);
        while position < hll.len() {
            let opcode = opcode_at(hll, position);
            let value = match opcode {
                Opcode::Value(value, _) => usize::from(value),
                _ => 0,
            };
            histogram[value] += opcode.span() as u32;
            index += opcode.span();
            position += opcode.bytes();
        }
        if index != REGISTERS {
            return Err(Corrupt);
        }
    }
    Ok(estimate(&histogram))
}

/// The estimated cardinality of registers held one per byte.
pub fn count_registers(registers: &[u8]) -> u64 {
    let mut histogram = [0u32; 64];
    for register in registers {
        histogram[usize::from(*register & 63)] += 1;
    }
    estimate(&histogram)
}

/// Ertl's improved estimator from the register histogram, as Redis 7.0 computes it.
fn estimate(histogram: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histogram[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(histogram[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    (ALPHA_INFINITY * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

/// PFDEBUG DECODE's text for a sparse HLL: `z:N`, `Z:N` and `v:VALUE,N`, space-separated.
pub fn decode_sparse(hll: &[u8]) -> String {
    let mut words = Vec::new();
    let mut position = HEADER_BYTES;
    while position < hll.len() {
        let opcode = opcode_at(hll, position);
        words.push(match opcode {
            Opcode::Zero(length) => format!("z:{length}"),
            Opcode::ExtendedZero(length) => format!("Z:{length}"),
            Opcode::Value(value, length) => format!("v:{value},{length}"),
        });
        position += opcode.bytes();
    }
    words.join(" ")
}

#[cfg(test)]
mod tests;
