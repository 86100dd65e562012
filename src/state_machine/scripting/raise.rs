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

/// Raises Lua's `luaL_argerror` for the running Rust function's argument `position` (from 1):
/// `bad argument #2 to 'name' (extra)`, the name being what the caller called it by.
pub(super) fn argument_error(lua: &Lua, position: usize, extra: &str) -> mlua::Error {
    let names = lua.inspect_stack(0, |debug| {
        let names = debug.names();
        (names.name.map(|name| name.into_owned()), names.name_what == Some("method"))
    });
    let (name, method) = names.unwrap_or((None, false));
    let name = name.unwrap_or_else(|| "?".to_owned());
    let position = if method { position - 1 } else { position };
    if position == 0 {
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

/// Raises a message without a code as Redis's `luaPushError` does: with the code `ERR`.
pub(super) fn raised(text: &str) -> mlua::Error {
    mlua::Error::external(Raised::Reply(error_text(text)))
}
