//! MessagePack to Lua values, as lua-cmsgpack reads it.
//!
//! Every number becomes a Lua number (a double): `uint 64` goes through a signed 64-bit
//! integer first, so 2^64 - 1 reads as -1. `str 8/16/32` and `fixstr` become strings, arrays
//! tables with keys 1..n (a nil element leaves a hole), maps tables; `bin`, `ext` and the
//! never-used byte 0xc1 are "Bad data format", data that ends inside a value "Missing bytes".
//! A map key that is nil or NaN fails as Lua's `lua_settable` fails, without a position.
//!
//! The decoder is a loop with its own stack of the tables being filled, not a recursion, so
//! deep data cannot exhaust the native stack; how deep data may go is bounded by the slots
//! Redis's recursion would use on Lua's stack (two a level), counted as Redis uses them.

use mlua::{Lua, Table, Value, Variadic};

use super::super::raise::{
    core_error, lua_error, stack_overflow, CALLBACK_SLOTS, REFERENCES_MAX, STACK_SLOTS_MAX,
};

const TOO_MANY_VALUES: &str =
    "too many return values at once; use unpack_one or unpack_limit instead.";

/// What a caller asked to unpack.
pub(super) struct Request {
    /// Where to start in the data.
    pub(super) offset: i64,
    /// How many values to unpack; `None` for all of them, without the offset in the results.
    pub(super) limit: Option<i64>,
    /// How many slots of Redis's stack hold the arguments, below the values.
    pub(super) base_slots: usize,
    /// How many arguments the caller passed: mlua keeps them all below the results.
    pub(super) arguments: usize,
}

/// Unpacks the values of `data` as `request` says.
pub(super) fn unpack(lua: &Lua, data: &[u8], request: Request) -> mlua::Result<Variadic<Value>> {
    let length = data.len();
    // lua-cmsgpack formats both numbers as C ints, and reports the data's length as the limit.
    if request.offset < 0 || request.limit.is_some_and(|limit| limit < 0) {
        let text = format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            request.offset as i32, length as i32
        );
        return Err(lua_error(lua, &text));
    }
    let offset = usize::try_from(request.offset).unwrap_or(usize::MAX);
    if offset > length {
        let text = format!(
            "Start offset {} greater than input length {}.",
            request.offset as i32, length as i32
        );
        return Err(lua_error(lua, &text));
    }
    let mut decoder = Decoder { lua, data, position: offset, references: 0 };
    let limit = request.limit.unwrap_or(i64::from(i32::MAX));
    let mut values = Vec::new();
    while decoder.position < length && (values.len() as i64) < limit {
        let slots = request.base_slots + values.len();
        let value = decoder.value(slots)?;
        values.push(value);
    }
    let results = if request.limit.is_none() {
        values
    } else {
        if 1 + values.len() + 1 > STACK_SLOTS_MAX {
            return Err(stack_overflow(lua, "in function mp_unpack_full"));
        }
        let next = if decoder.position == length { -1 } else { decoder.position as i64 };
        std::iter::once(Value::Integer(next)).chain(values).collect()
    };
    if request.arguments + results.len() + CALLBACK_SLOTS > STACK_SLOTS_MAX {
        return Err(stack_overflow(lua, TOO_MANY_VALUES));
    }
    Ok(Variadic::from_iter(results))
}

/// Why data could not be read, as lua-cmsgpack's cursor records it.
enum Failure {
    /// `MP_CUR_ERROR_EOF`: the data ends inside a value.
    MissingBytes,
    /// `MP_CUR_ERROR_BADFMT`: a type byte lua-cmsgpack does not read.
    BadFormat,
}

/// One item read from the data: a value, or the header of an array or a map.
enum Item<'a> {
    Value(Value),
    /// A string, made a Lua string only when it is placed, so that a map's key waiting for
    /// its value holds no reference.
    Bytes(&'a [u8]),
    Array(usize),
    Map(usize),
}

/// A table being filled, with the slots Redis's stack holds up to and with the table.
struct Frame<'a> {
    table: Table,
    slots: usize,
    remaining: usize,
    filling: Filling<'a>,
}

enum Filling<'a> {
    /// The next element's index.
    Array(i64),
    /// A map, and the key read for the next value, if one is.
    Map(Option<Item<'a>>),
}

struct Decoder<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    position: usize,
    /// The strings and tables held now (see [`REFERENCES_MAX`]).
    references: usize,
}

impl<'a> Decoder<'a> {
    /// Reads one whole value, while Redis's stack holds `slots` values.
    fn value(&mut self, slots: usize) -> mlua::Result<Value> {
        let mut frames: Vec<Frame<'a>> = Vec::new();
        let mut slots = slots;
        loop {
            let mut item = self.item(slots)?;
            // Place the item, and every table it completes, into the table being filled.
            loop {
                let length = match item {
                    Item::Array(length) | Item::Map(length) => length,
                    _ => 0,
                };
                if let Item::Array(_) | Item::Map(_) = item {
                    let array = matches!(item, Item::Array(_));
                    let table = self.table()?;
                    // Redis's table is one more slot; an array checks for its index's too.
                    if array && slots + 2 > STACK_SLOTS_MAX {
                        return Err(stack_overflow(self.lua, "in function mp_decode_to_lua_array"));
                    }
                    if length > 0 {
                        let filling = if array { Filling::Array(1) } else { Filling::Map(None) };
                        frames.push(Frame { table, slots: slots + 1, remaining: length, filling });
                        break;
                    }
                    item = Item::Value(Value::Table(table));
                }
                let Some(frame) = frames.last_mut() else {
                    return self.lua_value(item);
                };
                if self.place(frame, item)? {
                    let frame = frames.pop().expect("the frame just filled is there");
                    item = Item::Value(Value::Table(frame.table));
                    continue;
                }
                break;
            }
            let frame = frames.last().expect("a table is being filled");
            // An array's index sits on Redis's stack under its element, a map's key under
            // its value.
            slots = match frame.filling {
                Filling::Array(_) | Filling::Map(Some(_)) => frame.slots + 1,
                Filling::Map(None) => frame.slots,
            };
        }
    }

    /// Puts `item` into the table `frame` fills; whether that completed the table.
    fn place(&mut self, frame: &mut Frame<'a>, item: Item<'a>) -> mlua::Result<bool> {
        match &mut frame.filling {
            Filling::Array(index) => {
                let value = self.lua_value(item)?;
                self.release(&value);
                frame.table.raw_set(*index, value)?;
                *index += 1;
            }
            Filling::Map(key @ None) => {
                *key = Some(item);
                return Ok(false);
            }
            Filling::Map(key @ Some(_)) => {
                let key = self.lua_value(key.take().expect("the key is there"))?;
                match key {
                    Value::Nil => return Err(core_error("table index is nil")),
                    Value::Number(number) if number.is_nan() => {
                        return Err(core_error("table index is NaN"))
                    }
                    _ => {}
                }
                let value = self.lua_value(item)?;
                self.release(&key);
                self.release(&value);
                frame.table.raw_set(key, value)?;
            }
        }
        frame.remaining -= 1;
        Ok(frame.remaining == 0)
    }

    /// Counts `value` as no longer held, as it is about to be handed to a table.
    fn release(&mut self, value: &Value) {
        if let Value::String(_) | Value::Table(_) = value {
            self.references -= 1;
        }
    }

    fn hold(&mut self) -> mlua::Result<()> {
        if self.references >= REFERENCES_MAX {
            return Err(stack_overflow(self.lua, TOO_MANY_VALUES));
        }
        self.references += 1;
        Ok(())
    }

    fn table(&mut self) -> mlua::Result<Table> {
        self.hold()?;
        self.lua.create_table()
    }

    fn lua_value(&mut self, item: Item<'a>) -> mlua::Result<Value> {
        match item {
            Item::Value(value) => Ok(value),
            Item::Bytes(bytes) => {
                self.hold()?;
                Ok(Value::String(self.lua.create_string(bytes)?))
            }
            Item::Array(_) | Item::Map(_) => unreachable!("headers become tables first"),
        }
    }

    /// Reads the next item, while Redis's stack holds `slots` values.
    fn item(&mut self, slots: usize) -> mlua::Result<Item<'a>> {
        match self.read_item(slots) {
            Ok(item) => Ok(item),
            Err(Ok(Failure::MissingBytes)) => Err(lua_error(self.lua, "Missing bytes in input.")),
            Err(Ok(Failure::BadFormat)) => Err(lua_error(self.lua, "Bad data format in input.")),
            Err(Err(error)) => Err(error),
        }
    }

    fn read_item(&mut self, slots: usize) -> Result<Item<'a>, Result<Failure, mlua::Error>> {
        let kind = *self.need(1)?.first().expect("one byte is there");
        if slots + 1 > STACK_SLOTS_MAX {
            return Err(Err(stack_overflow(self.lua, TOO_MANY_VALUES)));
        }
        let number = |value: f64| Ok(Item::Value(Value::Number(value)));
        match kind {
            0xc0 => self.skip(1, Item::Value(Value::Nil)),
            0xc2 => self.skip(1, Item::Value(Value::Boolean(false))),
            0xc3 => self.skip(1, Item::Value(Value::Boolean(true))),
            0xcc => number(f64::from(self.big_endian(1)? as u8)),
            0xcd => number(f64::from(self.big_endian(2)? as u16)),
            0xce => number(f64::from(self.big_endian(4)? as u32)),
            0xcf => number(self.big_endian(8)? as i64 as f64),
            0xd0 => number(f64::from(self.big_endian(1)? as u8 as i8)),
            0xd1 => number(f64::from(self.big_endian(2)? as u16 as i16)),
            0xd2 => number(f64::from(self.big_endian(4)? as u32 as i32)),
            0xd3 => number(self.big_endian(8)? as i64 as f64),
            0xca => number(f64::from(f32::from_bits(self.big_endian(4)? as u32))),
            0xcb => number(f64::from_bits(self.big_endian(8)?)),
            0xd9 => self.string(1),
            0xda => self.string(2),
            0xdb => self.string(4),
            0xdc => Ok(Item::Array(self.big_endian(2)? as usize)),
            0xdd => Ok(Item::Array(self.big_endian(4)? as usize)),
            0xde => Ok(Item::Map(self.big_endian(2)? as usize)),
            0xdf => Ok(Item::Map(self.big_endian(4)? as usize)),
            0x00..=0x7f => self.skip(1, Item::Value(Value::Number(f64::from(kind)))),
            0xe0..=0xff => self.skip(1, Item::Value(Value::Number(f64::from(kind as i8)))),
            0xa0..=0xbf => {
                let length = usize::from(kind & 0x1f);
                let bytes = &self.need(1 + length)?[1..];
                self.position += 1 + length;
                Ok(Item::Bytes(bytes))
            }
            0x90..=0x9f => self.skip(1, Item::Array(usize::from(kind & 0x0f))),
            0x80..=0x8f => self.skip(1, Item::Map(usize::from(kind & 0x0f))),
            _ => Err(Ok(Failure::BadFormat)),
        }
    }

    /// The next `count` bytes, or "Missing bytes".
    fn need(&self, count: usize) -> Result<&'a [u8], Result<Failure, mlua::Error>> {
        let data: &'a [u8] = self.data;
        data.get(self.position..)
            .and_then(|rest| rest.get(..count))
            .ok_or(Ok(Failure::MissingBytes))
    }

    fn skip(
        &mut self,
        count: usize,
        item: Item<'a>,
    ) -> Result<Item<'a>, Result<Failure, mlua::Error>> {
        self.position += count;
        Ok(item)
    }

    /// The `width` bytes after the type byte as a big-endian number; consumes both.
    fn big_endian(&mut self, width: usize) -> Result<u64, Result<Failure, mlua::Error>> {
        let bytes = &self.need(1 + width)?[1..];
        self.position += 1 + width;
        Ok(bytes.iter().fold(0u64, |number, byte| number << 8 | u64::from(*byte)))
    }

    /// A string whose length takes `width` bytes after the type byte.
    fn string(&mut self, width: usize) -> Result<Item<'a>, Result<Failure, mlua::Error>> {
        let length = self.big_endian(width)? as usize;
        let bytes = self.need(length)?;
        self.position += length;
        Ok(Item::Bytes(bytes))
    }
}
