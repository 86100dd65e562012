//! The conversions between Lua values and replies, exactly as Redis 7.0 makes them.
//!
//! A command's reply becomes a Lua value for the script ([`reply_to_lua`]) in the protocol the
//! script chose with `redis.setresp` (2 unless it asked for 3): in RESP2 a null is `false`, a
//! status `{ok=...}`, an error `{err=...}`, a map a flat array, a double its text; in RESP3 a
//! null is `nil`, a map `{map={...}}`, a set `{set={member=true}}`, a double `{double=n}`, a
//! boolean a boolean. The script's result becomes the reply ([`lua_to_reply`]): a number is
//! truncated to an integer, a string is a bulk string, `true` is 1 and `false` a null (booleans when
//! the script chose RESP3), a table is an array up to its first nil unless it has one of the fields `err`,
//! `ok`, `double`, `big_number`, `map`, `set`, `verbatim_string`.
//! A big number (`{big_number=...}`) is a RESP3 big number to a RESP3 client and a bulk
//! string to a RESP2 one, whichever protocol the script chose, as in Redis.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::resp::{format_double, format_human_long_double, Frame};

/// How deep a returned table may nest before the reply is an error: far beyond any real
/// reply, and a bound on the recursion of [`lua_to_reply`] (a table may contain itself).
const REPLY_DEPTH_MAX: usize = 1_000;

/// The error table Redis makes of an error text (`luaPushErrorBuff`): a text starting with `-`
/// has its code up to the first space (`ERR` when there is no space), any other text gets the
/// code `ERR`; line breaks at either end are trimmed.
pub(super) fn error_text(text: &str) -> String {
    let (code, message) = match text.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, message)) => (code, message),
            None => ("ERR", rest),
        },
        None => ("ERR", text),
    };
    format!("{code} {}", message.trim_matches(['\r', '\n']))
}

/// A Lua table `{err = text}` for an error text that already carries its code.
pub(super) fn error_table(lua: &Lua, text: &str) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.raw_set("err", lua.create_string(text)?)?;
    Ok(table)
}

/// A command's reply as the script sees it, in the protocol the script chose.
pub(super) fn reply_to_lua(lua: &Lua, frame: &Frame, resp3: bool) -> mlua::Result<Value> {
    let value = match frame {
        Frame::Simple(text) => {
            let table = lua.create_table()?;
            table.raw_set("ok", lua.create_string(text.as_bytes())?)?;
            Value::Table(table)
        }
        Frame::Error(text) => {
            let table = error_table(lua, &error_text(&format!("-{text}")))?;
            // Redis marks errors that came from a command, whose statistics were counted.
            table.raw_set("ignore_error_stats_update", true)?;
            Value::Table(table)
        }
        Frame::Integer(value) => Value::Number(*value as f64),
        Frame::Bulk(bytes) => Value::String(lua.create_string(bytes)?),
        Frame::Verbatim { format, text } if resp3 => {
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(format)?)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            single_field(lua, "verbatim_string", Value::Table(inner))?
        }
        Frame::Verbatim { text, .. } => Value::String(lua.create_string(text)?),
        Frame::Null | Frame::NullArray if resp3 => Value::Nil,
        Frame::Null | Frame::NullArray => Value::Boolean(false),
        Frame::Array(items) | Frame::Push(items) => array(lua, items, resp3)?,
        Frame::Set(items) if resp3 => {
            let set = lua.create_table()?;
            for item in items {
                set.raw_set(reply_to_lua(lua, item, resp3)?, true)?;
            }
            single_field(lua, "set", Value::Table(set))?
        }
        Frame::Set(items) => array(lua, items, resp3)?,
        Frame::Map(pairs) | Frame::KeyedArrays(pairs) if resp3 => {
            let map = lua.create_table()?;
            for (key, value) in pairs {
                map.raw_set(reply_to_lua(lua, key, resp3)?, reply_to_lua(lua, value, resp3)?)?;
            }
            single_field(lua, "map", Value::Table(map))?
        }
        // XREAD's streams: a map in RESP3 (above), an array of pairs in RESP2, as for a client.
        Frame::Pairs(pairs) | Frame::KeyedArrays(pairs)
            if resp3 || matches!(frame, Frame::KeyedArrays(_)) =>
        {
            let table = lua.create_table()?;
            for (key, value) in pairs {
                let pair = lua.create_table()?;
                pair.raw_push(reply_to_lua(lua, key, resp3)?)?;
                pair.raw_push(reply_to_lua(lua, value, resp3)?)?;
                table.raw_push(pair)?;
            }
            Value::Table(table)
        }
        Frame::Map(pairs) | Frame::Pairs(pairs) | Frame::KeyedArrays(pairs) => {
            let table = lua.create_table()?;
            for (key, value) in pairs {
                table.raw_push(reply_to_lua(lua, key, resp3)?)?;
                table.raw_push(reply_to_lua(lua, value, resp3)?)?;
            }
            Value::Table(table)
        }
        Frame::Double(value) if resp3 => single_field(lua, "double", Value::Number(*value))?,
        Frame::Double(value) => Value::String(lua.create_string(format_double(*value))?),
        // Coordinates (GEOPOS, WITHCOORD): a bulk string in RESP2, a double in RESP3, as the
        // client would get them.
        Frame::LongDouble(value) if resp3 => single_field(lua, "double", Value::Number(*value))?,
        Frame::LongDouble(value) => {
            Value::String(lua.create_string(format_human_long_double(*value))?)
        }
        Frame::Boolean(value) if resp3 => Value::Boolean(*value),
        Frame::Boolean(value) => Value::Number(if *value { 1.0 } else { 0.0 }),
        Frame::BigNumber(text) if resp3 => {
            single_field(lua, "big_number", Value::String(lua.create_string(text)?))?
        }
        Frame::BigNumber(text) => Value::String(lua.create_string(text)?),
    };
    Ok(value)
}

fn array(lua: &Lua, items: &[Frame], resp3: bool) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for item in items {
        table.raw_push(reply_to_lua(lua, item, resp3)?)?;
    }
    Ok(Value::Table(table))
}

fn single_field(lua: &Lua, name: &str, value: Value) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.raw_set(name, value)?;
    Ok(Value::Table(table))
}

/// C's `(long long)` of a double as x86-64 computes it: truncation toward zero, and the
/// smallest integer for NaN and for anything out of range, as Redis's reply shows it.
pub(super) fn truncate(number: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if number.is_nan() || !(-LIMIT..LIMIT).contains(&number) {
        i64::MIN
    } else {
        number as i64
    }
}

/// The script's result as the reply, by the protocol the script chose with `redis.setresp`
/// (Redis 7.0 turns booleans into booleans only for a script that chose RESP3, whatever the
/// caller speaks).
pub(super) fn lua_to_reply(value: &Value, resp3: bool) -> Frame {
    to_reply(value, resp3, 0)
}

fn to_reply(value: &Value, resp3: bool, depth: usize) -> Frame {
    match value {
        Value::String(text) => Frame::Bulk(Bytes::copy_from_slice(&text.as_bytes())),
        Value::Integer(number) => Frame::Integer(*number),
        Value::Number(number) => Frame::Integer(truncate(*number)),
        Value::Boolean(value) if resp3 => Frame::Boolean(*value),
        Value::Boolean(true) => Frame::Integer(1),
        Value::Table(_) if depth >= REPLY_DEPTH_MAX => Frame::error("ERR reached lua stack limit"),
        Value::Table(table) => table_to_reply(table, resp3, depth + 1),
        _ => Frame::Null,
    }
}

fn string_field(table: &Table, name: &str) -> Option<Bytes> {
    match table.raw_get::<Value>(name) {
        Ok(Value::String(text)) => Some(Bytes::copy_from_slice(&text.as_bytes())),
        _ => None,
    }
}

fn table_field(table: &Table, name: &str) -> Option<Table> {
    match table.raw_get::<Value>(name) {
        Ok(Value::Table(inner)) => Some(inner),
        _ => None,
    }
}

/// Redis's line rule for errors and statuses: a CR or LF inside becomes a space.
fn one_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace(['\r', '\n'], " ")
}

fn table_to_reply(table: &Table, resp3: bool, depth: usize) -> Frame {
    if let Some(text) = string_field(table, "err") {
        return Frame::Error(one_line(&text).into());
    }
    if let Some(text) = string_field(table, "ok") {
        return Frame::Simple(one_line(&text).into());
    }
    if let Ok(Value::Number(number)) = table.raw_get::<Value>("double") {
        return Frame::Double(number);
    }
    if let Ok(Value::Integer(number)) = table.raw_get::<Value>("double") {
        return Frame::Double(number as f64);
    }
    if let Some(text) = string_field(table, "big_number") {
        return Frame::BigNumber(Bytes::from(one_line(&text)));
    }
    if let Some(map) = table_field(table, "map") {
        let pairs = map.pairs::<Value, Value>().filter_map(Result::ok);
        let pairs = pairs
            .map(|(key, value)| (to_reply(&key, resp3, depth), to_reply(&value, resp3, depth)))
            .collect();
        return Frame::Map(pairs);
    }
    if let Some(set) = table_field(table, "set") {
        let members = set.pairs::<Value, Value>().filter_map(Result::ok);
        return Frame::Set(members.map(|(member, _)| to_reply(&member, resp3, depth)).collect());
    }
    if let Some(verbatim) = table_field(table, "verbatim_string") {
        if let (Some(format), Some(text)) =
            (string_field(&verbatim, "format"), string_field(&verbatim, "string"))
        {
            if let Ok(format) = <[u8; 3]>::try_from(&format[..]) {
                return Frame::Verbatim { format, text };
            }
        }
    }
    let mut items = Vec::new();
    for position in 1.. {
        match table.raw_get::<Value>(position) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(item) => items.push(to_reply(&item, resp3, depth)),
        }
    }
    Frame::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_get_a_code_as_redis_gives_them() {
        assert_eq!(error_text("-x y"), "x y");
        assert_eq!(error_text("-boom"), "ERR boom");
        assert_eq!(error_text("plain words"), "ERR plain words");
        assert_eq!(error_text("-WRONGTYPE Operation\r\n"), "WRONGTYPE Operation");
    }

    #[test]
    fn numbers_truncate_as_c_casts_them() {
        assert_eq!(truncate(3.99), 3);
        assert_eq!(truncate(-3.99), -3);
        assert_eq!(truncate(f64::NAN), i64::MIN);
        assert_eq!(truncate(1e300), i64::MIN);
    }
}
