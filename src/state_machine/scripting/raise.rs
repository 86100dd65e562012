//! How the Rust functions of a script's environment raise errors, so that the script sees
//! what Redis's C functions raise: an error reply's text (`redis.call`), or a Lua message with
//! the caller's position, as `luaL_error` and `luaL_argerror` make it (the libraries).

use mlua::{Lua, Value};

use super::convert::error_text;

/// An error a Rust function of the environment raises, which the script's error handler (and
/// `pcall`) turn into what Redis's C functions raise.
#[derive(Debug, thiserror::Error)]
pub(super) enum Raised {
    /// An error table's text, with its code (`ERR ...`): what `redis.call` raises.
    #[error("{0}")]
    Reply(String),
    /// A message Lua's `luaL_error` would raise: the caller's position goes before it.
    #[error("{0}")]
    Lua(String),
    /// A Lua error message complete with its position, as [`lua_error`] makes it.
    #[error("{0}")]
    Message(String),
}

/// Raises `message` as Lua's `luaL_error` raises it from a C function: after the position of
/// the caller (`user_script:3: `) when the caller is Lua code, bare when it is C (`pcall`).
pub(super) fn lua_error(lua: &Lua, message: &str) -> mlua::Error {
    let place = lua.inspect_stack(1, |debug| {
        let line = debug.current_line()?;
        let source = debug.source();
        Some(format!("{}:{line}: ", source.short_src?))
    });
    let place = place.flatten().unwrap_or_default();
    mlua::Error::external(Raised::Message(format!("{place}{message}")))
}

/// Raises Lua's `luaL_argerror` for the running Rust function's argument `position` (from 1;
/// lua_cmsgpack passes 0 for "the arguments as a whole"): `bad argument #2 to 'name' (extra)`,
/// the name being what the caller called it by.
pub(super) fn argument_error(lua: &Lua, position: usize, extra: &str) -> mlua::Error {
    let names = lua.inspect_stack(0, |debug| {
        let names = debug.names();
        (names.name.map(|name| name.into_owned()), names.name_what == Some("method"))
    });
    let (name, method) = names.unwrap_or((None, false));
    let name = name.unwrap_or_else(|| "?".to_owned());
    // Lua does not count `self`, so a method's position goes down by one (to -1 from 0).
    let position = i64::try_from(position).unwrap_or(i64::MAX) - i64::from(method);
    if method && position == 0 {
        return lua_error(lua, &format!("calling '{name}' on bad self ({extra})"));
    }
    lua_error(lua, &format!("bad argument #{position} to '{name}' ({extra})"))
}

/// Raises Lua's `luaL_typerror`: argument `position` is not of the `expected` type.
pub(super) fn type_error(
    lua: &Lua,
    position: usize,
    expected: &str,
    given: Option<&Value>,
) -> mlua::Error {
    let given = given.map_or("no value", type_name);
    argument_error(lua, position, &format!("{expected} expected, got {given}"))
}

/// Lua's `type` of a value.
pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// Raises `message` as the Lua core raises an error from inside a C function (`lua_settable`'s
/// "table index is nil"): without a position, since the running function is not Lua code.
pub(super) fn core_error(message: &str) -> mlua::Error {
    mlua::Error::external(Raised::Message(message.to_owned()))
}

/// Raises `luaL_checkstack`'s error when a C library would need more than the `LUAI_MAXCSTACK`
/// slots Lua gives a C function: `stack overflow (what)`.
pub(super) fn stack_overflow(lua: &Lua, what: &str) -> mlua::Error {
    lua_error(lua, &format!("stack overflow ({what})"))
}

/// The stack slots Lua 5.1 gives one call of a C function (`LUAI_MAXCSTACK`): Redis's C
/// libraries fail with [`stack_overflow`] where they would need more, and the Rust ones
/// count their slots as the C ones use them, to fail at the same point.
pub(super) const STACK_SLOTS_MAX: usize = 8_000;

/// The slots of a Rust function's Lua stack that mlua 0.11 needs beside the arguments and the
/// results to hand the results back, measured: with one argument a Rust function returns at
/// most 7,976 values before mlua fails with "not enough stack slots available" (23 slots),
/// and one more slot goes to the error mlua may have to preallocate. A Rust function fails
/// with Redis's `stack overflow` text before that, some 20 values before a C one would.
pub(super) const CALLBACK_SLOTS: usize = 24;

/// The strings and tables a Rust library function may hold at once to return them (or fill
/// them): mlua keeps each in a slot of one auxiliary Lua stack, which cannot grow beyond
/// [`STACK_SLOTS_MAX`] slots (shared with the rest of the run), and aborts the process when
/// it is full. Past this bound the functions fail with Redis's `stack overflow` text instead.
pub(super) const REFERENCES_MAX: usize = 6_000;

/// Lua's `lua_tonumber`: a number, or a string that reads as one (`" 0x10 "` is 16); `None`
/// for every other value.
pub(super) fn to_number(lua: &Lua, value: &Value) -> mlua::Result<Option<f64>> {
    match value {
        Value::Integer(number) => Ok(Some(*number as f64)),
        Value::Number(number) => Ok(Some(*number)),
        Value::String(_) => lua.coerce_number(value.clone()),
        _ => Ok(None),
    }
}

/// `luaL_checknumber` on argument `position` (from 1) of `arguments`.
pub(super) fn check_number(lua: &Lua, arguments: &[Value], position: usize) -> mlua::Result<f64> {
    let given = arguments.get(position - 1);
    match given {
        Some(value) => to_number(lua, value)?,
        None => None,
    }
    .ok_or_else(|| type_error(lua, position, "number", given))
}

/// `luaL_checkinteger`: [`check_number`] cut to an integer as C casts it.
pub(super) fn check_integer(lua: &Lua, arguments: &[Value], position: usize) -> mlua::Result<i64> {
    check_number(lua, arguments, position).map(c_integer)
}

/// `luaL_optinteger`: [`check_integer`], or `default` when the argument is absent or nil.
pub(super) fn optional_integer(
    lua: &Lua,
    arguments: &[Value],
    position: usize,
    default: i64,
) -> mlua::Result<i64> {
    match arguments.get(position - 1) {
        None | Some(Value::Nil) => Ok(default),
        Some(_) => check_integer(lua, arguments, position),
    }
}

/// `luaL_checklstring`: a string, or a number written as Lua writes it (`%.14g`).
pub(super) fn check_string(
    lua: &Lua,
    arguments: &[Value],
    position: usize,
) -> mlua::Result<mlua::String> {
    let given = arguments.get(position - 1);
    let text = match given {
        Some(value @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
            lua.coerce_string(value.clone())?
        }
        _ => None,
    };
    text.ok_or_else(|| type_error(lua, position, "string", given))
}

/// A double cast to a 64-bit integer as C does it on x86-64 (where Redis runs): toward zero,
/// and `i64::MIN` for NaN and whatever is out of range (where Rust's `as` saturates).
pub(super) fn c_integer(number: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if (-LIMIT..LIMIT).contains(&number) {
        number as i64
    } else {
        i64::MIN
    }
}

/// Raises a message without a code as Redis's `luaPushError` does: with the code `ERR`.
pub(super) fn raised(text: &str) -> mlua::Error {
    mlua::Error::external(Raised::Reply(error_text(text)))
}
