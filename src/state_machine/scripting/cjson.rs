//! The `cjson` library of Redis 7.0's Lua (lua-cjson 2.1.0 as Redis builds it), written again
//! in Rust: `cjson.encode`, `cjson.decode`, `cjson.null`, `cjson.new` and the configuration
//! functions `encode_sparse_array`, `encode_max_depth`, `decode_max_depth`,
//! `encode_number_precision`, `encode_keep_buffer`, `encode_invalid_numbers` and
//! `decode_invalid_numbers`, with lua-cjson's output and error texts byte for byte.
//!
//! Encoding, as lua-cjson does it:
//! - A number is `printf("%.14g")` (the precision is `encode_number_precision`); NaN and
//!   infinities are refused unless `encode_invalid_numbers` says `on` (`nan`, `inf`) or `null`.
//! - A string escapes `"`, `\`, `/`, the control characters and DEL, and passes every other
//!   byte through (no UTF-8 check).
//! - A table is an array when every key is a whole number from 1 up and it is not "excessively
//!   sparse" (see [`Config::sparse_ratio`]); an object otherwise, its number keys written as
//!   strings. An empty table is `{}`.
//! - `nil` and `cjson.null` (a NULL light userdata) are `null`.
//!
//! Decoding parses with C's `strtod` for numbers (so by default `0x10`, `inf`, `nan` and `+1`
//! are read, as `decode_invalid_numbers` allows), turns `\u` escapes (with surrogate pairs) into
//! UTF-8, and gives `cjson.null` for `null`. Objects are built key by key as lua-cjson builds
//! them (`lua_newtable`, then `rawset`), so a traversal of a decoded object goes in the order
//! it goes in Redis.
//!
//! Determinism: an object's members are written in the order of Lua's `next`, as lua-cjson
//! writes them. For keys that are numbers, booleans and strings that order is a function of the
//! table's history, the same on every member; for keys that are tables, functions, threads or
//! userdata it follows addresses, so such a table is refused before anything is written.
//!
//! Caveats:
//! - The configuration lives in the run's fresh Lua state, so a setting lasts until the script
//!   ends; in Redis it lasts until the next SCRIPT FLUSH.
//! - Nesting is bounded at [`NESTING_MAX`] levels whatever `encode_max_depth` and
//!   `decode_max_depth` allow, where Redis allows more when a script raises them, until its
//!   Lua stack runs out.
//! - Redis's Lua hashes every byte of a string, the vendored Lua 5.1.5 only some bytes of a
//!   string of 32 bytes or more, so an object with such keys is written in another order than
//!   Redis writes it (the same order on every member).
//! - A table with keys of two address-ordered types reports the key type in a fixed order
//!   (table, function, thread, userdata), where Redis reports whichever it meets first.

mod decode;

use std::cell::Cell;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::convert::truncate;
use super::raise::{argument_error, lua_error, type_error, type_name};

/// How deep tables may nest when encoding or decoding, whatever the configuration says: each
/// level holds Lua references, of which mlua has a few thousand.
pub(super) const NESTING_MAX: i32 = 1_000;

/// `cjson.null`: a light userdata holding NULL.
pub(super) fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// What `cjson.encode_invalid_numbers` chose for NaN and infinities.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InvalidNumbers {
    /// Refused with an error (`off`, the default).
    Refused,
    /// Written as `printf` writes them, NaN as `nan` (`on`).
    Written,
    /// Written as `null`.
    Null,
}

/// One cjson table's configuration, as lua-cjson keeps it in the table's functions' upvalue.
#[derive(Clone, Copy)]
struct Config {
    /// Write an excessively sparse array as an object instead of refusing it.
    sparse_convert: bool,
    /// An array is excessively sparse when its largest index is over this many times its
    /// element count (and over [`Config::sparse_safe`]); 0 never.
    sparse_ratio: i32,
    /// Arrays whose largest index is at most this are never sparse.
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    encode_invalid_numbers: InvalidNumbers,
    decode_invalid_numbers: bool,
    /// Kept for `encode_keep_buffer` to report; it changes no output.
    encode_keep_buffer: bool,
    encode_number_precision: i32,
    /// Where the encoder stops (see [`library`]).
    output_bytes_max: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: InvalidNumbers::Refused,
            decode_invalid_numbers: true,
            encode_keep_buffer: true,
            encode_number_precision: 14,
            output_bytes_max: usize::MAX,
        }
    }
}

type Shared = Rc<Cell<Config>>;

/// A fresh `cjson` table with the default configuration, whose encoder stops with a memory
/// error at `output_bytes_max` bytes (the script's heap budget: a longer text could not become
/// a Lua string anyway).
pub(super) fn library(lua: &Lua, output_bytes_max: usize) -> mlua::Result<Table> {
    let cjson = lua.create_table()?;
    let config: Shared = Rc::new(Cell::new(Config { output_bytes_max, ..Config::default() }));
    let with = |function: fn(&Lua, &Shared, MultiValue) -> mlua::Result<MultiValue>| {
        let config = config.clone();
        lua.create_function(move |lua, arguments: MultiValue| function(lua, &config, arguments))
    };
    cjson.set("encode", with(encode)?)?;
    cjson.set("decode", with(decode)?)?;
    cjson.set("encode_sparse_array", with(encode_sparse_array)?)?;
    cjson.set("encode_max_depth", with(encode_max_depth)?)?;
    cjson.set("decode_max_depth", with(decode_max_depth)?)?;
    cjson.set("encode_number_precision", with(encode_number_precision)?)?;
    cjson.set("encode_keep_buffer", with(encode_keep_buffer)?)?;
    cjson.set("encode_invalid_numbers", with(encode_invalid_numbers)?)?;
    cjson.set("decode_invalid_numbers", with(decode_invalid_numbers)?)?;
    let new = move |lua: &Lua, _: MultiValue| library(lua, output_bytes_max);
    cjson.set("new", lua.create_function(new)?)?;
    cjson.set("null", null())?;
    cjson.set("_NAME", "cjson")?;
    cjson.set("_VERSION", "2.1.0")?;
    Ok(cjson)
}

fn one(value: Value) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_iter([value]))
}

fn encode(lua: &Lua, config: &Shared, arguments: MultiValue) -> mlua::Result<MultiValue> {
    if arguments.len() != 1 {
        return Err(argument_error(lua, 1, "expected 1 argument"));
    }
    let mut encoder = Encoder { lua, config: config.get(), out: Vec::new() };
    encoder.value(&arguments[0], 0)?;
    one(Value::String(lua.create_string(&encoder.out)?))
}

fn decode(lua: &Lua, config: &Shared, arguments: MultiValue) -> mlua::Result<MultiValue> {
    if arguments.len() != 1 {
        return Err(argument_error(lua, 1, "expected 1 argument"));
    }
    let text = match &arguments[0] {
        value @ (Value::String(_) | Value::Integer(_) | Value::Number(_)) => {
            lua.coerce_string(value.clone())?
        }
        _ => None,
    };
    let Some(text) = text else {
        return Err(type_error(lua, 1, "string", Some(&arguments[0])));
    };
    let bytes = text.as_bytes();
    if bytes.len() >= 2 && (bytes[0] == 0 || bytes[1] == 0) {
        return Err(lua_error(lua, "JSON parser does not support UTF-16 or UTF-32"));
    }
    let config = config.get();
    let options = decode::Options {
        invalid_numbers: config.decode_invalid_numbers,
        max_depth: config.decode_max_depth.min(NESTING_MAX),
    };
    one(decode::decode(lua, &bytes, options)?)
}

/// Writes Lua values as JSON.
struct Encoder<'a> {
    lua: &'a Lua,
    config: Config,
    out: Vec<u8>,
}

impl Encoder<'_> {
    fn failure(&self, value: &Value, reason: &str) -> mlua::Error {
        lua_error(self.lua, &format!("Cannot serialise {}: {reason}", type_name(value)))
    }

    /// Bounds the output by the script's heap budget: the text would not fit in it anyway.
    fn check_size(&self) -> mlua::Result<()> {
        if self.out.len() > self.config.output_bytes_max {
            return Err(mlua::Error::MemoryError("not enough memory".into()));
        }
        Ok(())
    }

    fn value(&mut self, value: &Value, depth: i32) -> mlua::Result<()> {
        match value {
            Value::String(text) => self.string(&text.as_bytes()),
            Value::Integer(number) => self.number(value, *number as f64)?,
            Value::Number(number) => self.number(value, *number)?,
            Value::Boolean(true) => self.out.extend_from_slice(b"true"),
            Value::Boolean(false) => self.out.extend_from_slice(b"false"),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(pointer) if pointer.0.is_null() => {
                self.out.extend_from_slice(b"null")
            }
            Value::Table(table) => self.table(table, depth + 1)?,
            other => return Err(self.failure(other, "type not supported")),
        }
        self.check_size()
    }

    fn string(&mut self, bytes: &[u8]) {
        self.out.reserve(bytes.len() + 2);
        self.out.push(b'"');
        for &byte in bytes {
            match byte {
                b'"' => self.out.extend_from_slice(b"\\\""),
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'/' => self.out.extend_from_slice(b"\\/"),
                0x08 => self.out.extend_from_slice(b"\\b"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                0x0c => self.out.extend_from_slice(b"\\f"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                0x00..=0x1f | 0x7f => {
                    self.out.extend_from_slice(format!("\\u{byte:04x}").as_bytes())
                }
                _ => self.out.push(byte),
            }
        }
        self.out.push(b'"');
    }

    fn number(&mut self, value: &Value, number: f64) -> mlua::Result<()> {
        if !number.is_finite() {
            match self.config.encode_invalid_numbers {
                InvalidNumbers::Refused => {
                    return Err(self.failure(value, "must not be NaN or Inf"));
                }
                InvalidNumbers::Null => {
                    self.out.extend_from_slice(b"null");
                    return Ok(());
                }
                // lua-cjson writes NaN itself, since some C libraries print `-nan`.
                InvalidNumbers::Written if number.is_nan() => {
                    self.out.extend_from_slice(b"nan");
                    return Ok(());
                }
                InvalidNumbers::Written => {}
            }
        }
        let precision = self.config.encode_number_precision as usize;
        self.out.extend_from_slice(format_general(number, precision).as_bytes());
        Ok(())
    }

    fn table(&mut self, table: &Table, depth: i32) -> mlua::Result<()> {
        if depth > self.config.encode_max_depth.min(NESTING_MAX) {
            let text = format!("Cannot serialise, excessive nesting ({depth})");
            return Err(lua_error(self.lua, &text));
        }
        match self.array_length(table)? {
            Some(length) if length > 0 => self.array(table, length, depth),
            _ => self.object(table, depth),
        }
    }

    /// lua-cjson's `lua_array_length`: `None` for an object, else the largest index (which C's
    /// `int` conversion may have made negative, and then the table is written as an object).
    fn array_length(&self, table: &Table) -> mlua::Result<Option<i32>> {
        let (mut largest, mut items) = (0i32, 0i32);
        for pair in table.pairs::<Value, Value>() {
            let (key, _) = pair?;
            let index = match key {
                Value::Integer(index) => index as f64,
                Value::Number(index) => index,
                _ => return Ok(None),
            };
            if index == 0.0 || index.is_nan() || index.floor() != index || index < 1.0 {
                return Ok(None);
            }
            // x86-64's conversion of a double to C's `int` (the low half of cvttsd2si).
            let index = truncate(index) as i32;
            largest = largest.max(index);
            items += 1;
        }
        let config = &self.config;
        if config.sparse_ratio > 0
            && largest > items.wrapping_mul(config.sparse_ratio)
            && largest > config.sparse_safe
        {
            if !config.sparse_convert {
                return Err(self.failure(&Value::Table(table.clone()), "excessively sparse array"));
            }
            return Ok(None);
        }
        Ok(Some(largest))
    }

    fn array(&mut self, table: &Table, length: i32, depth: i32) -> mlua::Result<()> {
        self.out.push(b'[');
        for index in 1..=length {
            if index > 1 {
                self.out.push(b',');
            }
            let value: Value = table.raw_get(index)?;
            self.value(&value, depth)?;
        }
        self.out.push(b']');
        Ok(())
    }

    fn object(&mut self, table: &Table, depth: i32) -> mlua::Result<()> {
        self.refuse_address_keys(table)?;
        self.out.push(b'{');
        let mut first = true;
        for pair in table.pairs::<Value, Value>() {
            let (key, value) = pair?;
            if !first {
                self.out.push(b',');
            }
            first = false;
            match &key {
                Value::Integer(number) => self.number_key(&key, *number as f64)?,
                Value::Number(number) => self.number_key(&key, *number)?,
                Value::String(text) => {
                    self.string(&text.as_bytes());
                    self.out.push(b':');
                }
                other => return Err(self.failure(other, "table key must be a number or string")),
            }
            self.value(&value, depth)?;
        }
        self.out.push(b'}');
        Ok(())
    }

    fn number_key(&mut self, key: &Value, number: f64) -> mlua::Result<()> {
        self.out.push(b'"');
        self.number(key, number)?;
        self.out.extend_from_slice(b"\":");
        Ok(())
    }

    /// Refuses, before writing anything, a table with a key whose place in Lua's traversal is
    /// its address: lua-cjson would refuse it too, but after a part that differs by member.
    fn refuse_address_keys(&self, table: &Table) -> mlua::Result<()> {
        let mut found: Option<Value> = None;
        for pair in table.pairs::<Value, Value>() {
            let (key, _) = pair?;
            let rank = address_rank(&key);
            if rank.is_some() && rank < found.as_ref().and_then(address_rank).or(Some(u8::MAX)) {
                found = Some(key);
            }
        }
        match found {
            Some(key) => Err(self.failure(&key, "table key must be a number or string")),
            None => Ok(()),
        }
    }
}

/// The place of a key type in the fixed order address-ordered keys are reported in; `None` for
/// a key whose traversal order is not its address.
fn address_rank(key: &Value) -> Option<u8> {
    match key {
        Value::Table(_) => Some(0),
        Value::Function(_) => Some(1),
        Value::Thread(_) => Some(2),
        Value::UserData(_) | Value::Error(_) => Some(3),
        Value::LightUserData(pointer) if !pointer.0.is_null() => Some(3),
        _ => None,
    }
}

/// C's `printf("%.*g", precision, value)` as glibc prints it: `precision` significant digits
/// (at least 1), correctly rounded; trailing zeros dropped; the exponent form when the decimal
/// exponent is below -4 or at least the precision; `inf`, `-inf`, `nan` and `-nan`.
pub(super) fn format_general(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return if value.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let precision = precision.max(1);
    // Rust's exponent form rounds the exact binary value to nearest, ties to even, as glibc.
    let scientific = format!("{:.*e}", precision - 1, value.abs());
    let (mantissa, exponent) = scientific.split_once('e').expect("the exponent form has an e");
    let exponent: i32 = exponent.parse().expect("the exponent is a number");
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let mut text = String::with_capacity(precision + 8);
    if value.is_sign_negative() {
        text.push('-');
    }
    let push_with_point = |text: &mut String, digits: &[u8], integer_digits: usize| {
        let (integer, fraction) = digits.split_at(integer_digits);
        text.extend(integer.iter().map(|&digit| digit as char));
        let fraction =
            &fraction[..fraction.len() - fraction.iter().rev().take_while(|&&d| d == b'0').count()];
        if !fraction.is_empty() {
            text.push('.');
            text.extend(fraction.iter().map(|&digit| digit as char));
        }
    };
    if exponent < -4 || exponent >= precision as i32 {
        push_with_point(&mut text, &digits, 1);
        let sign = if exponent < 0 { '-' } else { '+' };
        text.push_str(&format!("e{sign}{:02}", exponent.unsigned_abs()));
    } else if exponent >= 0 {
        push_with_point(&mut text, &digits, exponent as usize + 1);
    } else {
        let mut padded = vec![b'0'; exponent.unsigned_abs() as usize];
        padded.extend_from_slice(&digits);
        push_with_point(&mut text, &padded, 1);
    }
    text
}

/// The arguments of a configuration function, as lua-cjson's `json_arg_init` checks them.
fn options(lua: &Lua, arguments: &MultiValue, count: usize) -> mlua::Result<Vec<Value>> {
    if arguments.len() > count {
        return Err(argument_error(lua, count + 1, "found too many arguments"));
    }
    let mut values: Vec<Value> = arguments.iter().cloned().collect();
    values.resize(count, Value::Nil);
    Ok(values)
}

/// lua-cjson's `json_integer_option`: sets `setting` from a given number in `min..=max`.
fn integer_option(
    lua: &Lua,
    given: &Value,
    position: usize,
    setting: &mut i32,
    (min, max): (i32, i32),
) -> mlua::Result<Value> {
    if !given.is_nil() {
        let number = match given {
            Value::Integer(_) | Value::Number(_) | Value::String(_) => {
                lua.coerce_number(given.clone())?
            }
            _ => None,
        };
        let Some(number) = number else {
            return Err(type_error(lua, position, "number", Some(given)));
        };
        // `lua_tointeger`, then C's conversion to `int`.
        let value = truncate(number) as i32;
        if !(min..=max).contains(&value) {
            // lua-cjson names argument 1 whichever argument it checks.
            let text = format!("expected integer between {min} and {max}");
            return Err(argument_error(lua, 1, &text));
        }
        *setting = value;
    }
    Ok(Value::Number(f64::from(*setting)))
}

/// lua-cjson's `json_enum_option`: a boolean or one of `options`, whose first two mean false
/// and true; answers the setting, as a boolean when it is one of those two.
fn enum_option(
    lua: &Lua,
    given: &Value,
    position: usize,
    setting: &mut usize,
    options: &[&str],
) -> mlua::Result<Value> {
    match given {
        Value::Nil => {}
        Value::Boolean(value) => *setting = usize::from(*value),
        Value::String(_) | Value::Integer(_) | Value::Number(_) => {
            let name = lua.coerce_string(given.clone())?.expect("strings and numbers convert");
            let name = name.as_bytes();
            let Some(found) = options.iter().position(|option| option.as_bytes() == &name[..])
            else {
                let text = format!("invalid option '{}'", String::from_utf8_lossy(&name));
                return Err(argument_error(lua, position, &text));
            };
            *setting = found;
        }
        _ => return Err(type_error(lua, position, "string", Some(given))),
    }
    if *setting <= 1 {
        return Ok(Value::Boolean(*setting == 1));
    }
    Ok(Value::String(lua.create_string(options[*setting])?))
}

const SWITCH: &[&str] = &["off", "on"];

fn boolean_option(lua: &Lua, given: &Value, setting: &mut bool) -> mlua::Result<Value> {
    let mut chosen = usize::from(*setting);
    let answer = enum_option(lua, given, 1, &mut chosen, SWITCH)?;
    *setting = chosen == 1;
    Ok(answer)
}

fn encode_sparse_array(
    lua: &Lua,
    shared: &Shared,
    arguments: MultiValue,
) -> mlua::Result<MultiValue> {
    let given = options(lua, &arguments, 3)?;
    let mut config = shared.get();
    let convert = boolean_option(lua, &given[0], &mut config.sparse_convert);
    shared.set(config);
    let convert = convert?;
    let ratio = integer_option(lua, &given[1], 2, &mut config.sparse_ratio, (0, i32::MAX));
    shared.set(config);
    let ratio = ratio?;
    let safe = integer_option(lua, &given[2], 3, &mut config.sparse_safe, (0, i32::MAX));
    shared.set(config);
    Ok(MultiValue::from_iter([convert, ratio, safe?]))
}

/// A configuration function of one integer option.
fn integer_setting(
    lua: &Lua,
    shared: &Shared,
    arguments: MultiValue,
    field: fn(&mut Config) -> &mut i32,
    range: (i32, i32),
) -> mlua::Result<MultiValue> {
    let given = options(lua, &arguments, 1)?;
    let mut config = shared.get();
    let answer = integer_option(lua, &given[0], 1, field(&mut config), range)?;
    shared.set(config);
    one(answer)
}

fn encode_max_depth(lua: &Lua, shared: &Shared, arguments: MultiValue) -> mlua::Result<MultiValue> {
    integer_setting(lua, shared, arguments, |config| &mut config.encode_max_depth, (1, i32::MAX))
}

fn decode_max_depth(lua: &Lua, shared: &Shared, arguments: MultiValue) -> mlua::Result<MultiValue> {
    integer_setting(lua, shared, arguments, |config| &mut config.decode_max_depth, (1, i32::MAX))
}

fn encode_number_precision(
    lua: &Lua,
    shared: &Shared,
    arguments: MultiValue,
) -> mlua::Result<MultiValue> {
    integer_setting(lua, shared, arguments, |config| &mut config.encode_number_precision, (1, 14))
}

fn encode_keep_buffer(
    lua: &Lua,
    shared: &Shared,
    arguments: MultiValue,
) -> mlua::Result<MultiValue> {
    let given = options(lua, &arguments, 1)?;
    let mut config = shared.get();
    let answer = boolean_option(lua, &given[0], &mut config.encode_keep_buffer)?;
    shared.set(config);
    one(answer)
}

fn decode_invalid_numbers(
    lua: &Lua,
    shared: &Shared,
    arguments: MultiValue,
) -> mlua::Result<MultiValue> {
    let given = options(lua, &arguments, 1)?;
    let mut config = shared.get();
    let answer = boolean_option(lua, &given[0], &mut config.decode_invalid_numbers)?;
    shared.set(config);
    one(answer)
}

fn encode_invalid_numbers(
    lua: &Lua,
    shared: &Shared,
    arguments: MultiValue,
) -> mlua::Result<MultiValue> {
    let given = options(lua, &arguments, 1)?;
    let mut config = shared.get();
    let mut chosen = match config.encode_invalid_numbers {
        InvalidNumbers::Refused => 0,
        InvalidNumbers::Written => 1,
        InvalidNumbers::Null => 2,
    };
    let answer = enum_option(lua, &given[0], 1, &mut chosen, &["off", "on", "null"])?;
    config.encode_invalid_numbers = match chosen {
        0 => InvalidNumbers::Refused,
        1 => InvalidNumbers::Written,
        _ => InvalidNumbers::Null,
    };
    shared.set(config);
    one(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_printf_general_form_prints_them() {
        let cases: [(f64, usize, &str); 14] = [
            (0.0, 14, "0"),
            (-0.0, 14, "-0"),
            (1.0, 14, "1"),
            (0.1, 14, "0.1"),
            (1e15, 14, "1e+15"),
            (9_007_199_254_740_992.0, 14, "9.007199254741e+15"),
            (123_456.0, 3, "1.23e+05"),
            (0.0001, 14, "0.0001"),
            (0.00001, 14, "1e-05"),
            (-1.5e-300, 14, "-1.5e-300"),
            (99_999_999_999_999.5, 14, "1e+14"),
            (2.5, 1, "2"),
            (3.5, 1, "4"),
            (1e100, 14, "1e+100"),
        ];
        for (value, precision, expected) in cases {
            assert_eq!(format_general(value, precision), expected, "{value} at {precision}");
        }
    }
}
