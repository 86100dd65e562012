//! The `cmsgpack` library of Redis 7.0's Lua (lua-cmsgpack 0.4.0 as Redis builds it), written
//! again in Rust: `cmsgpack.pack(...)`, `cmsgpack.unpack(data)`, `cmsgpack.unpack_one(data
//! [, offset])` and `cmsgpack.unpack_limit(data, limit [, offset])`, with lua-cmsgpack's
//! encodings and error texts byte for byte.
//!
//! Packing, as lua-cmsgpack does it under Lua 5.1 (where every number is a double):
//! - A number that a 64-bit integer holds exactly is an integer in the smallest MessagePack
//!   form (positive and negative fixints, `uint 8..64`, `int 8..64`); any other number is a
//!   `float 32` when a float holds it exactly (infinities too), a `float 64` otherwise (NaN).
//! - A string is a `fixstr`, `str 8`, `str 16` or `str 32` (never `bin`), whatever its bytes.
//! - A table is an array when its keys are exactly the whole numbers 1..n (n below 2^31),
//!   a map otherwise, its pairs in the order of Lua's `next`. Tables nested deeper than
//!   [`NESTING_MAX`] levels are packed as nil, which is how a table that contains itself ends.
//! - `nil`, functions, userdata (`cjson.null`) and threads are nil; booleans are booleans.
//! - Several arguments give their encodings one after the other.
//!
//! Unpacking (`decode`) returns every Lua value the data holds; `unpack_one` and
//! `unpack_limit` return first the offset to go on from (-1 at the end), then the values.
//!
//! Redis's C code uses Lua's stack, whose [`STACK_SLOTS_MAX`] slots per call bound what it
//! can do: it fails with `stack overflow (...)` when it would need more. The Rust code counts
//! the slots the C code would use and fails at the same point with the same text.
//!
//! Determinism: a map is packed in the order of Lua's `next`, which for keys that are
//! numbers, booleans and strings is a function of the table's history, the same on every
//! member; a map with keys that are tables, functions, threads or userdata would be packed in
//! address order, so it is refused, as the environment's `pairs` refuses to traverse it.
//!
//! Caveats:
//! - Redis's Lua hashes every byte of a string, the vendored Lua 5.1.5 only some bytes of a
//!   string of 32 bytes or more, so a map with such keys is packed in another order than Redis
//!   packs it (the same order on every member).
//! - Unpacking returns some 20 values fewer than Redis before `stack overflow (too many return
//!   values at once; ...)`, since mlua keeps slots of the stack for itself (see
//!   [`CALLBACK_SLOTS`](super::raise::CALLBACK_SLOTS)).
//! - Unpacking holds at most [`REFERENCES_MAX`](super::raise::REFERENCES_MAX) strings and tables at once (values
//!   still to return, and the tables being filled), where Redis's bound is its stack: data
//!   beyond it fails with the `stack overflow` error Redis gives for too many values.

mod decode;

use mlua::{Lua, Table, Value, Variadic};

use super::raise::{
    argument_error, check_integer, check_string, lua_error, optional_integer, stack_overflow,
    STACK_SLOTS_MAX,
};

/// How deep tables nest in what `pack` writes: a table deeper than this is packed as nil.
pub(super) const NESTING_MAX: usize = 16;

type Arguments = Variadic<Value>;

/// A fresh `cmsgpack` table, whose `pack` stops with a memory error at `output_bytes_max`
/// bytes (the script's heap budget: a longer text could not become a Lua string anyway, and a
/// table that contains itself twice would otherwise ask for 2^16 copies).
pub(super) fn library(lua: &Lua, output_bytes_max: usize) -> mlua::Result<Table> {
    let cmsgpack = lua.create_table()?;
    let pack = move |lua: &Lua, arguments: Arguments| pack(lua, &arguments, output_bytes_max);
    cmsgpack.set("pack", lua.create_function(pack)?)?;
    cmsgpack.set("unpack", lua.create_function(unpack)?)?;
    cmsgpack.set("unpack_one", lua.create_function(unpack_one)?)?;
    cmsgpack.set("unpack_limit", lua.create_function(unpack_limit)?)?;
    cmsgpack.set("_NAME", "cmsgpack")?;
    cmsgpack.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    cmsgpack.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    cmsgpack.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(cmsgpack)
}

fn pack(lua: &Lua, arguments: &[Value], output_bytes_max: usize) -> mlua::Result<mlua::String> {
    let count = arguments.len();
    if count == 0 {
        return Err(argument_error(lua, 0, "MessagePack pack needs input."));
    }
    // Redis asks for one more slot per argument, for its encoding.
    if count * 2 > STACK_SLOTS_MAX {
        return Err(argument_error(lua, 0, "Too many arguments for MessagePack pack."));
    }
    let mut encoder = Encoder { lua, out: Vec::new(), output_bytes_max };
    for (index, value) in arguments.iter().enumerate() {
        // Redis's stack holds the arguments, the encodings so far, and this argument.
        encoder.value(value, 0, count + index + 1)?;
    }
    lua.create_string(&encoder.out)
}

fn unpack(lua: &Lua, arguments: Arguments) -> mlua::Result<Variadic<Value>> {
    let data = check_string(lua, &arguments, 1)?;
    // The arguments stay on Redis's stack, under the values.
    let count = arguments.len();
    let request = decode::Request { offset: 0, limit: None, base_slots: count, arguments: count };
    decode::unpack(lua, &data.as_bytes(), request)
}

fn unpack_one(lua: &Lua, arguments: Arguments) -> mlua::Result<Variadic<Value>> {
    let offset = optional_integer(lua, &arguments, 2, 0)?;
    let data = check_string(lua, &arguments, 1)?;
    let count = arguments.len();
    let request = decode::Request { offset, limit: Some(1), base_slots: 1, arguments: count };
    decode::unpack(lua, &data.as_bytes(), request)
}

fn unpack_limit(lua: &Lua, arguments: Arguments) -> mlua::Result<Variadic<Value>> {
    let limit = check_integer(lua, &arguments, 2)?;
    let offset = optional_integer(lua, &arguments, 3, 0)?;
    let data = check_string(lua, &arguments, 1)?;
    // A limit and an offset of 0 mean everything, without the offset among the results.
    let limit = (limit != 0 || offset != 0).then_some(limit);
    let count = arguments.len();
    let request = decode::Request { offset, limit, base_slots: 1, arguments: count };
    decode::unpack(lua, &data.as_bytes(), request)
}

/// Whether lua-cmsgpack writes the double as an integer: a 64-bit integer holds it exactly.
fn is_integer(number: f64) -> bool {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    number.fract() == 0.0 && (-LIMIT..LIMIT).contains(&number)
}

/// Writes Lua values as MessagePack.
struct Encoder<'a> {
    lua: &'a Lua,
    out: Vec<u8>,
    output_bytes_max: usize,
}

impl Encoder<'_> {
    /// Writes `value`, a table at `level` of nesting, while Redis's stack would hold `slots`
    /// values (the value itself on top).
    fn value(&mut self, value: &Value, level: usize, slots: usize) -> mlua::Result<()> {
        match value {
            Value::String(text) => self.bytes(&text.as_bytes()),
            Value::Boolean(true) => self.out.push(0xc3),
            Value::Boolean(false) => self.out.push(0xc2),
            Value::Integer(number) => self.number(*number as f64),
            Value::Number(number) => self.number(*number),
            Value::Table(table) if level < NESTING_MAX => self.table(table, level, slots)?,
            _ => self.out.push(0xc0),
        }
        if self.out.len() > self.output_bytes_max {
            return Err(mlua::Error::MemoryError("not enough memory".into()));
        }
        Ok(())
    }

    fn number(&mut self, number: f64) {
        if is_integer(number) {
            self.integer(number as i64);
        } else if f64::from(number as f32) == number {
            self.out.push(0xca);
            self.out.extend_from_slice(&(number as f32).to_be_bytes());
        } else {
            self.out.push(0xcb);
            self.out.extend_from_slice(&number.to_be_bytes());
        }
    }

    fn integer(&mut self, number: i64) {
        let out = &mut self.out;
        match number {
            0..=0x7f => out.push(number as u8),
            0x80..=0xff => out.extend_from_slice(&[0xcc, number as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(number as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(number as u32).to_be_bytes());
            }
            0x1_0000_0000.. => {
                out.push(0xcf);
                out.extend_from_slice(&(number as u64).to_be_bytes());
            }
            -32..=-1 => out.push(number as u8),
            -128..=-33 => out.extend_from_slice(&[0xd0, number as u8]),
            -32_768..=-129 => {
                out.push(0xd1);
                out.extend_from_slice(&(number as i16).to_be_bytes());
            }
            -2_147_483_648..=-32_769 => {
                out.push(0xd2);
                out.extend_from_slice(&(number as i32).to_be_bytes());
            }
            _ => {
                out.push(0xd3);
                out.extend_from_slice(&number.to_be_bytes());
            }
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let length = bytes.len();
        if length < 32 {
            self.out.push(0xa0 | length as u8);
        } else if length <= 0xff {
            self.out.extend_from_slice(&[0xd9, length as u8]);
        } else if length <= 0xffff {
            self.out.push(0xda);
            self.out.extend_from_slice(&(length as u16).to_be_bytes());
        } else {
            self.out.push(0xdb);
            self.out.extend_from_slice(&(length as u32).to_be_bytes());
        }
        self.out.extend_from_slice(bytes);
    }

    /// The header of an array (`fix`, `0xdc`, `0xdd`) or a map (`fix`, `0xde`, `0xdf`).
    fn header(&mut self, fix: u8, sixteen: u8, length: usize) {
        if length <= 15 {
            self.out.push(fix | length as u8);
        } else if length <= 0xffff {
            self.out.push(sixteen);
            self.out.extend_from_slice(&(length as u16).to_be_bytes());
        } else {
            self.out.push(sixteen + 1);
            self.out.extend_from_slice(&(length as u32).to_be_bytes());
        }
    }

    fn table(&mut self, table: &Table, level: usize, slots: usize) -> mlua::Result<()> {
        // Redis first walks the keys with two more slots (key and value).
        if slots + 2 > STACK_SLOTS_MAX {
            return Err(stack_overflow(self.lua, "in function table_is_an_array"));
        }
        if is_array(table)? {
            if slots + 1 > STACK_SLOTS_MAX {
                let what = "in function mp_encode_lua_table_as_array";
                return Err(stack_overflow(self.lua, what));
            }
            let length = table.raw_len();
            self.header(0x90, 0xdc, length);
            for index in 1..=length {
                let item: Value = table.get(index)?;
                self.value(&item, level + 1, slots + 1)?;
            }
            return Ok(());
        }
        if slots + 3 > STACK_SLOTS_MAX {
            return Err(stack_overflow(self.lua, "in function mp_encode_lua_table_as_map"));
        }
        refuse_address_keys(self.lua, table)?;
        let length = table.pairs::<Value, Value>().count();
        self.header(0x80, 0xde, length);
        for pair in table.pairs::<Value, Value>() {
            let (key, item) = pair?;
            // The key is encoded from a copy above the key and the value, the value below it.
            self.value(&key, level + 1, slots + 3)?;
            self.value(&item, level + 1, slots + 2)?;
        }
        Ok(())
    }
}

/// Refuses a map with a key whose place in Lua's traversal is its address (a table, function,
/// thread or full userdata): lua-cmsgpack would pack it in an order that differs by member.
/// The key type reported is the first of that list present, not the first met.
fn refuse_address_keys(lua: &Lua, table: &Table) -> mlua::Result<()> {
    const RANKED: [&str; 4] = ["table", "function", "thread", "userdata"];
    let mut found = RANKED.len();
    for pair in table.pairs::<Value, Value>() {
        let rank = match pair?.0 {
            Value::Table(_) => 0,
            Value::Function(_) => 1,
            Value::Thread(_) => 2,
            Value::UserData(_) => 3,
            _ => continue,
        };
        found = found.min(rank);
    }
    match RANKED.get(found) {
        None => Ok(()),
        Some(kind) => Err(lua_error(
            lua,
            &format!(
                "Script attempted to traverse a table keyed by a {kind}: Concord refuses it, \
                 since its order is not the same on every member"
            ),
        )),
    }
}

/// Whether the table's keys are exactly 1..n: all whole numbers a C `int` holds, from 1 up,
/// as many as the largest.
fn is_array(table: &Table) -> mlua::Result<bool> {
    let (mut count, mut largest) = (0u64, 0f64);
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair?;
        let number = match key {
            Value::Integer(number) => number as f64,
            Value::Number(number) => number,
            _ => return Ok(false),
        };
        if number <= 0.0 || number > f64::from(i32::MAX) || number.fract() != 0.0 {
            return Ok(false);
        }
        largest = largest.max(number);
        count += 1;
    }
    Ok(largest == count as f64)
}
