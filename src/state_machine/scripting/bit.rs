//! The `bit` library of Redis's Lua (LuaBitOp 1.0): 32-bit operations on Lua numbers.
//!
//! Every argument is read as LuaBitOp reads it under Lua 5.1: `lua_tonumber` (so `"0x10"` and
//! `" 12 "` are numbers), plus 2^52 + 2^51 as a double, whose low 32 bits are the value (so
//! fractions round to nearest, ties to even, and numbers wrap modulo 2^32); a value that is
//! no number fails with `bad argument #N to 'band' (number expected, got string)`, named as
//! the caller called the function. Every result is a signed 32-bit number.
//!
//! The order of the checks is LuaBitOp's, since it decides which bad argument is reported:
//! `band`, `bor` and `bxor` read the first argument, then the others from the last down.

use mlua::{Lua, Table, Value, Variadic};

use super::raise::{to_number, type_error};

/// LuaBitOp's normalization of argument `position` (from 1) to 32 bits.
fn argument(lua: &Lua, arguments: &[Value], position: usize) -> mlua::Result<u32> {
    let given = arguments.get(position - 1);
    let number = match given {
        Some(value) => to_number(lua, value)?,
        None => None,
    };
    let bits = (number.unwrap_or(0.0) + 6_755_399_441_055_744.0).to_bits() as u32;
    if bits == 0 && number.is_none() {
        return Err(type_error(lua, position, "number", given));
    }
    Ok(bits)
}

fn result(bits: u32) -> f64 {
    f64::from(bits as i32)
}

type Arguments = Variadic<Value>;

fn fold(lua: &Lua, arguments: &[Value], operation: fn(u32, u32) -> u32) -> mlua::Result<f64> {
    let mut bits = argument(lua, arguments, 1)?;
    for position in (2..=arguments.len()).rev() {
        bits = operation(bits, argument(lua, arguments, position)?);
    }
    Ok(result(bits))
}

fn shift(lua: &Lua, arguments: &[Value], operation: fn(u32, u32) -> u32) -> mlua::Result<f64> {
    let bits = argument(lua, arguments, 1)?;
    let count = argument(lua, arguments, 2)? & 31;
    Ok(result(operation(bits, count)))
}

/// `bit.tohex(x [, n])`: the low `|n|` hex digits (at most 8), upper case for a negative `n`.
fn tohex(lua: &Lua, arguments: &[Value]) -> mlua::Result<String> {
    let bits = argument(lua, arguments, 1)?;
    let digits = if arguments.len() < 2 { 8 } else { argument(lua, arguments, 2)? as i32 };
    let count = digits.unsigned_abs().min(8) as usize;
    let text = if digits < 0 { format!("{bits:08X}") } else { format!("{bits:08x}") };
    Ok(text[8 - count..].to_string())
}

/// The `bit` table.
pub(super) fn library(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    let unary = |operation: fn(u32) -> u32| {
        lua.create_function(move |lua, arguments: Arguments| {
            Ok(result(operation(argument(lua, &arguments, 1)?)))
        })
    };
    let folded = |operation: fn(u32, u32) -> u32| {
        lua.create_function(move |lua, arguments: Arguments| fold(lua, &arguments, operation))
    };
    let shifted = |operation: fn(u32, u32) -> u32| {
        lua.create_function(move |lua, arguments: Arguments| shift(lua, &arguments, operation))
    };
    bit.set("tobit", unary(|bits| bits)?)?;
    bit.set("bnot", unary(|bits| !bits)?)?;
    bit.set("bswap", unary(u32::swap_bytes)?)?;
    bit.set("tohex", lua.create_function(|lua, arguments: Arguments| tohex(lua, &arguments))?)?;
    bit.set("band", folded(|a, b| a & b)?)?;
    bit.set("bor", folded(|a, b| a | b)?)?;
    bit.set("bxor", folded(|a, b| a ^ b)?)?;
    bit.set("lshift", shifted(|a, n| a << n)?)?;
    bit.set("rshift", shifted(|a, n| a >> n)?)?;
    bit.set("arshift", shifted(|a, n| ((a as i32) >> n) as u32)?)?;
    bit.set("rol", shifted(u32::rotate_left)?)?;
    bit.set("ror", shifted(u32::rotate_right)?)?;
    Ok(bit)
}
