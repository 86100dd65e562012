//! The `struct` library of Redis 7.0's Lua (Roberto Ierusalimschy's `struct`, as Redis builds
//! it on x86-64 Linux), written again in Rust: `struct.pack(format, ...)`,
//! `struct.unpack(format, data [, position])` and `struct.size(format)`, with its results and
//! error texts byte for byte.
//!
//! A format is read up to its first NUL byte, one option at a time:
//! - `b`/`B` (1 byte), `h`/`H` (2), `l`/`L` and `T` (8), `i`/`I` followed by a size from 0 to
//!   32 (4 without one): integers, signed for the lower-case letters. Sizes over 8 bytes hold
//!   the 64-bit value and zeros, and read back as C reads them (see [`read_integer`]).
//! - `f` (4) and `d` (8): floats and doubles.
//! - `c` with a size (1 without one): that many bytes; `c0` takes a whole string when packing,
//!   and when unpacking as many bytes as the value just before it said.
//! - `s`: a string ended by a NUL byte.
//! - `x`: a zero byte, skipped when unpacking.
//! - `<` and `>`: little and big endian from here on (little, the machine's, at the start);
//!   `!` with a power of two (8 without one): align every item to its size up to that; ` `
//!   does nothing. Anything else is "invalid format option".
//!
//! Numbers are Lua numbers (doubles), cast to integers as C casts them on x86-64 (see
//! [`packed_integer`]), so values out of range pack as Redis packs them, not saturated.
//!
//! Caveats: like `cmsgpack.unpack`, `unpack` returns some 20 values fewer than Redis before its
//! `stack overflow (too many results)`, and at most [`REFERENCES_MAX`] strings.

use mlua::{Lua, Table, Value, Variadic};

use super::raise::{
    argument_error, check_number, check_string, lua_error, optional_integer, stack_overflow,
    to_number, CALLBACK_SLOTS, REFERENCES_MAX, STACK_SLOTS_MAX,
};

/// The largest integer size, in bytes.
const INTEGER_BYTES_MAX: usize = 32;
/// The alignment `!` sets without a number: a double's, on x86-64.
const ALIGNMENT_DEFAULT: usize = 8;

type Arguments = Variadic<Value>;

/// The `struct` table.
pub(super) fn library(lua: &Lua) -> mlua::Result<Table> {
    let library = lua.create_table()?;
    library.set("pack", lua.create_function(|lua, arguments: Arguments| pack(lua, &arguments))?)?;
    library
        .set("unpack", lua.create_function(|lua, arguments: Arguments| unpack(lua, &arguments))?)?;
    library.set("size", lua.create_function(|lua, arguments: Arguments| size(lua, &arguments))?)?;
    Ok(library)
}

/// The byte order and alignment options in force.
struct Header {
    little_endian: bool,
    alignment: usize,
}

impl Default for Header {
    fn default() -> Header {
        Header { little_endian: true, alignment: 1 }
    }
}

/// Reads a format's options one by one.
struct Format<'a> {
    lua: &'a Lua,
    bytes: Vec<u8>,
    position: usize,
    header: Header,
}

impl<'a> Format<'a> {
    fn new(lua: &'a Lua, format: &mlua::String) -> Format<'a> {
        let bytes = format.as_bytes();
        let end = bytes.iter().position(|byte| *byte == 0).unwrap_or(bytes.len());
        Format { lua, bytes: bytes[..end].to_vec(), position: 0, header: Header::default() }
    }

    /// The next option and its size, or `None` at the end.
    fn next_option(&mut self) -> mlua::Result<Option<(u8, usize)>> {
        let Some(&option) = self.bytes.get(self.position) else { return Ok(None) };
        self.position += 1;
        let size = match option {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > INTEGER_BYTES_MAX {
                    let text =
                        format!("integral size {size} is larger than limit of {INTEGER_BYTES_MAX}");
                    return Err(lua_error(self.lua, &text));
                }
                size
            }
            _ => 0,
        };
        Ok(Some((option, size)))
    }

    /// The number the format has here, or `default` when it has none.
    fn number(&mut self, default: usize) -> mlua::Result<usize> {
        if !self.bytes.get(self.position).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut number: i32 = 0;
        while let Some(&digit) = self.bytes.get(self.position).filter(|byte| byte.is_ascii_digit())
        {
            let digit = i32::from(digit - b'0');
            if number > i32::MAX / 10 || number * 10 > i32::MAX - digit {
                return Err(lua_error(self.lua, "integral size overflow"));
            }
            number = number * 10 + digit;
            self.position += 1;
        }
        Ok(number as usize)
    }

    /// The padding before an item of `size` bytes at `offset`, as the C code computes it
    /// (sizes that are not powers of two included).
    fn padding(&self, offset: usize, option: u8, size: usize) -> usize {
        if size == 0 || option == b'c' {
            return 0;
        }
        let size = size.min(self.header.alignment);
        (size.wrapping_sub(offset & (size - 1))) & (size - 1)
    }

    /// Applies an option that is not an item: endianness, alignment, a space.
    fn control(&mut self, option: u8) -> mlua::Result<()> {
        match option {
            b' ' => {}
            b'>' => self.header.little_endian = false,
            b'<' => self.header.little_endian = true,
            b'!' => {
                let alignment = self.number(ALIGNMENT_DEFAULT)?;
                if !alignment.is_power_of_two() {
                    let text = format!("alignment {alignment} is not a power of 2");
                    return Err(lua_error(self.lua, &text));
                }
                self.header.alignment = alignment;
            }
            _ => {
                let text = format!("invalid format option '{}'", char::from(option));
                return Err(argument_error(self.lua, 1, &text));
            }
        }
        Ok(())
    }
}

/// A double cast to the unsigned 64-bit integer `putinteger` writes, as C casts on x86-64:
/// negative numbers through a signed integer, the others directly (0 from 2^64 up).
fn packed_integer(number: f64) -> u64 {
    const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
    if number < 0.0 {
        return super::raise::c_integer(number) as u64;
    }
    if number < TWO_TO_63 || number.is_nan() {
        return super::raise::c_integer(number) as u64;
    }
    (super::raise::c_integer(number - TWO_TO_63) as u64) ^ (1 << 63)
}

fn pack(lua: &Lua, arguments: &[Value]) -> mlua::Result<mlua::String> {
    let mut format = Format::new(lua, &check_string(lua, arguments, 1)?);
    // The C code pushes a nil above the arguments once it has the format, so the first
    // argument missing is "got nil", not "got no value".
    let arguments = &[arguments, &[Value::Nil]].concat();
    let mut out = Vec::new();
    let mut argument = 2;
    while let Some((option, size)) = format.next_option()? {
        let padding = format.padding(out.len(), option, size);
        out.resize(out.len() + padding, 0);
        let little_endian = format.header.little_endian;
        match option {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let mut value = packed_integer(check_number(lua, arguments, argument)?);
                argument += 1;
                let mut bytes = [0u8; INTEGER_BYTES_MAX];
                for byte in bytes.iter_mut().take(size) {
                    *byte = value as u8;
                    value >>= 8;
                }
                let bytes = &mut bytes[..size];
                if !little_endian {
                    bytes.reverse();
                }
                out.extend_from_slice(bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let number = check_number(lua, arguments, argument)? as f32;
                argument += 1;
                let bytes = if little_endian { number.to_le_bytes() } else { number.to_be_bytes() };
                out.extend_from_slice(&bytes);
            }
            b'd' => {
                let number = check_number(lua, arguments, argument)?;
                argument += 1;
                let bytes = if little_endian { number.to_le_bytes() } else { number.to_be_bytes() };
                out.extend_from_slice(&bytes);
            }
            b'c' | b's' => {
                let text = check_string(lua, arguments, argument)?;
                argument += 1;
                let bytes = text.as_bytes();
                let size = if size == 0 { bytes.len() } else { size };
                // The C code names the argument after the string's, as its counter has moved.
                if bytes.len() < size {
                    return Err(argument_error(lua, argument, "string too short"));
                }
                out.extend_from_slice(&bytes[..size]);
                if option == b's' {
                    out.push(0);
                }
            }
            _ => format.control(option)?,
        }
    }
    lua.create_string(&out)
}

/// An integer of `bytes` read as the C code reads it into 64 bits: of more than 8 bytes only
/// the last 8 it shifts in count, and the sign bit it extends from is taken modulo 64, as
/// x86-64 takes a shift count.
fn read_integer(bytes: &[u8], little_endian: bool, signed: bool) -> f64 {
    let fold = |value: u64, byte: &u8| value << 8 | u64::from(*byte);
    let value =
        if little_endian { bytes.iter().rev().fold(0, fold) } else { bytes.iter().fold(0, fold) };
    if !signed {
        return value as f64;
    }
    let shift = (bytes.len() as i32 * 8 - 1) & 63;
    let mask = u64::MAX << shift;
    let value = if value & mask != 0 { value | mask } else { value };
    value as i64 as f64
}

fn unpack(lua: &Lua, arguments: &[Value]) -> mlua::Result<Variadic<Value>> {
    let mut format = Format::new(lua, &check_string(lua, arguments, 1)?);
    let data = check_string(lua, arguments, 2)?;
    let data = data.as_bytes();
    let length = data.len();
    // A negative position is a huge one, since the C code keeps it in a size_t.
    let position = optional_integer(lua, arguments, 3, 1)? as u64 as usize;
    if position == 0 {
        return Err(argument_error(lua, 3, "offset must be 1 or greater"));
    }
    let mut position = position - 1;
    let mut results: Vec<Value> = Vec::new();
    let mut strings = 0;
    let too_short = || argument_error(lua, 2, "data string too short");
    while let Some((option, size)) = format.next_option()? {
        position = position.wrapping_add(format.padding(position, option, size));
        if size > length || position > length - size {
            return Err(too_short());
        }
        // Redis's stack holds the arguments and the results, and wants room for two more.
        if arguments.len() + results.len() + 2 > STACK_SLOTS_MAX {
            return Err(stack_overflow(lua, "too many results"));
        }
        let little_endian = format.header.little_endian;
        let mut size = size;
        let item = &data[position..position + size];
        match option {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = option.is_ascii_lowercase();
                results.push(Value::Number(read_integer(item, little_endian, signed)));
            }
            b'x' => {}
            b'f' | b'd' => results.push(Value::Number(read_float(item, little_endian))),
            b'c' => {
                if size == 0 {
                    size = previous_size(lua, &mut results, &mut strings)?;
                    if size > length || position > length - size {
                        return Err(too_short());
                    }
                }
                let text = &data[position..position + size];
                push_string(lua, &mut results, &mut strings, text)?;
            }
            b's' => {
                let rest = &data[position..];
                let Some(end) = rest.iter().position(|byte| *byte == 0) else {
                    return Err(lua_error(lua, "unfinished string in data"));
                };
                size = end + 1;
                push_string(lua, &mut results, &mut strings, &rest[..end])?;
            }
            _ => format.control(option)?,
        }
        position = position.wrapping_add(size);
    }
    results.push(Value::Integer(position.wrapping_add(1) as i64));
    if arguments.len() + results.len() + CALLBACK_SLOTS > STACK_SLOTS_MAX {
        return Err(stack_overflow(lua, "too many results"));
    }
    Ok(Variadic::from_iter(results))
}

/// A float (4 bytes) or a double (8 bytes).
fn read_float(bytes: &[u8], little_endian: bool) -> f64 {
    match <[u8; 4]>::try_from(bytes) {
        Ok(bytes) if little_endian => f64::from(f32::from_le_bytes(bytes)),
        Ok(bytes) => f64::from(f32::from_be_bytes(bytes)),
        Err(_) => {
            let bytes: [u8; 8] = bytes.try_into().expect("a d is eight bytes");
            if little_endian {
                f64::from_le_bytes(bytes)
            } else {
                f64::from_be_bytes(bytes)
            }
        }
    }
}

/// Adds a string result, counting it against [`REFERENCES_MAX`].
fn push_string(
    lua: &Lua,
    results: &mut Vec<Value>,
    strings: &mut usize,
    bytes: &[u8],
) -> mlua::Result<()> {
    *strings += 1;
    if *strings > REFERENCES_MAX {
        return Err(stack_overflow(lua, "too many results"));
    }
    results.push(Value::String(lua.create_string(bytes)?));
    Ok(())
}

/// The size `c0` takes from the result before it, which it removes: a number, or a string
/// that reads as one, cast to a size as C casts it.
fn previous_size(lua: &Lua, results: &mut Vec<Value>, strings: &mut usize) -> mlua::Result<usize> {
    let number = match results.last() {
        Some(value) => to_number(lua, value)?,
        None => None,
    };
    let Some(number) = number else {
        return Err(lua_error(lua, "format 'c0' needs a previous size"));
    };
    if let Some(Value::String(_)) = results.pop() {
        *strings -= 1;
    }
    Ok(packed_integer(number) as usize)
}

fn size(lua: &Lua, arguments: &[Value]) -> mlua::Result<i64> {
    let mut format = Format::new(lua, &check_string(lua, arguments, 1)?);
    let mut position: usize = 0;
    while let Some((option, size)) = format.next_option()? {
        position = position.wrapping_add(format.padding(position, option, size));
        if option == b's' {
            return Err(argument_error(lua, 1, "option 's' has no fixed size"));
        }
        if option == b'c' && size == 0 {
            return Err(argument_error(lua, 1, "option 'c0' has no fixed size"));
        }
        // Letters and digits that are no option are skipped here, where pack refuses them.
        if !option.is_ascii_alphanumeric() {
            format.control(option)?;
        }
        position = position.wrapping_add(size);
    }
    Ok(position as i64)
}
