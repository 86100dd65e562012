//! The `bit` library of Redis's Lua (LuaBitOp 1.0): 32-bit operations on Lua numbers.
//!
//! Every argument is normalized as LuaBitOp normalizes it: the number plus 2^52 + 2^51 as a
//! double, whose low 32 bits are the value (so fractions round to nearest, ties to even, and
//! numbers wrap modulo 2^32); every result is a signed 32-bit number.

use mlua::{Lua, MultiValue, Table, Value};

/// LuaBitOp's normalization of a Lua number to 32 bits.
fn to_bits(value: &Value) -> mlua::Result<u32> {
    let number = match value {
        Value::Integer(number) => *number as f64,
        Value::Number(number) => *number,
        Value::String(text) => text
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<f64>().ok())
            .ok_or_else(|| mlua::Error::runtime("bad argument #1 (number expected)"))?,
        _ => return Err(mlua::Error::runtime("bad argument #1 (number expected, got no value)")),
    };
    Ok((number + 6_755_399_441_055_744.0).to_bits() as u32)
}

fn result(bits: u32) -> f64 {
    f64::from(bits as i32)
}

fn first(arguments: &MultiValue) -> mlua::Result<u32> {
    to_bits(arguments.front().unwrap_or(&Value::Nil))
}

fn fold(arguments: MultiValue, operation: fn(u32, u32) -> u32) -> mlua::Result<f64> {
    let mut values = arguments.iter();
    let mut bits = to_bits(values.next().unwrap_or(&Value::Nil))?;
    for value in values {
        bits = operation(bits, to_bits(value)?);
    }
    Ok(result(bits))
}

fn shift(arguments: MultiValue, operation: fn(u32, u32) -> u32) -> mlua::Result<f64> {
    let bits = first(&arguments)?;
    let count = to_bits(arguments.get(1).unwrap_or(&Value::Nil))? & 31;
    Ok(result(operation(bits, count)))
}

fn tohex(arguments: MultiValue) -> mlua::Result<String> {
    let bits = first(&arguments)?;
    let digits = match arguments.get(1) {
        None | Some(Value::Nil) => 8,
        Some(value) => to_bits(value)? as i32,
    };
    let (count, upper) =
        if digits < 0 { (digits.unsigned_abs(), true) } else { (digits as u32, false) };
    let count = count.min(8) as usize;
    let text = if upper { format!("{bits:08X}") } else { format!("{bits:08x}") };
    Ok(text[8 - count..].to_string())
}

/// The `bit` table.
pub(super) fn library(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    bit.set(
        "tobit",
        lua.create_function(|_, arguments: MultiValue| Ok(result(first(&arguments)?)))?,
    )?;
    bit.set(
        "bnot",
        lua.create_function(|_, arguments: MultiValue| Ok(result(!first(&arguments)?)))?,
    )?;
    bit.set(
        "bswap",
        lua.create_function(|_, arguments: MultiValue| {
            Ok(result(first(&arguments)?.swap_bytes()))
        })?,
    )?;
    bit.set("tohex", lua.create_function(|_, arguments: MultiValue| tohex(arguments))?)?;
    bit.set("band", lua.create_function(|_, arguments| fold(arguments, |a, b| a & b))?)?;
    bit.set("bor", lua.create_function(|_, arguments| fold(arguments, |a, b| a | b))?)?;
    bit.set("bxor", lua.create_function(|_, arguments| fold(arguments, |a, b| a ^ b))?)?;
    bit.set("lshift", lua.create_function(|_, arguments| shift(arguments, |a, n| a << n))?)?;
    bit.set("rshift", lua.create_function(|_, arguments| shift(arguments, |a, n| a >> n))?)?;
    bit.set(
        "arshift",
        lua.create_function(|_, arguments| shift(arguments, |a, n| ((a as i32) >> n) as u32))?,
    )?;
    bit.set("rol", lua.create_function(|_, arguments| shift(arguments, u32::rotate_left))?)?;
    bit.set("ror", lua.create_function(|_, arguments| shift(arguments, u32::rotate_right))?)?;
    Ok(bit)
}
