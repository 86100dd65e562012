//! Function libraries in Lua: the environment a library's body runs in when it is loaded,
//! `redis.register_function` in both its forms, and the call of a registered function.
//!
//! Redis loads a library by running its body once with globals that show only a small `redis`
//! table (`register_function`, `log`, the `LOG_*` levels, `REDIS_VERSION` and
//! `REDIS_VERSION_NUM`): `redis.call`, `string`, `tostring`, any other name is "nonexistent",
//! with Redis's text. The functions the body registered later run with the whole script
//! environment. Concord does the same, but in a fresh Lua state for every FCALL: the body runs
//! again (it registers the same functions, since nothing it sees can differ), then the
//! environment is switched and the function is called with its keys and arguments. So a call
//! is a pure function of the library's code, the arguments and the keyspace, on every replica.
//!
//! Caveat: a value a library keeps in a local of its body between calls (a counter, a cache)
//! starts afresh at every call here; in Redis it lives until the library is loaded again.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value};

use super::{
    find_raised, install_budget, instructions_exhausted, is_final, is_memory_error, load, log,
    memory_exhausted, new_state, protect, raised, run_failure, string_array, Chunk, Raised, Script,
    REDIS_VERSION, REDIS_VERSION_NUMBER,
};
use crate::resp::Frame;
use crate::store::functions::FunctionFlags;

/// What `redis.register_function` registered: a function of the library being loaded.
pub(in crate::state_machine::scripting) struct Registration {
    /// The function's name, checked.
    pub name: Bytes,
    /// Its description, if one was given.
    pub description: Option<Bytes>,
    /// Its flags.
    pub flags: FunctionFlags,
    callback: Function,
}

/// A library's body, compiled, with the loading environment in place.
pub(in crate::state_machine::scripting) struct Loading {
    body: Function,
    /// Shows the whole environment instead of the loading API.
    switch: Function,
    registered: Rc<RefCell<Vec<Registration>>>,
}

impl Loading {
    /// Puts the loading environment in place (the globals are the script environment's, see
    /// `environment::prepare`, hidden behind the loading API until the switch).
    pub(in crate::state_machine::scripting) fn new(
        lua: &Lua,
        body: Function,
    ) -> mlua::Result<Loading> {
        let registered = Rc::new(RefCell::new(Vec::new()));
        let redis = lua.create_table()?;
        let registering = registered.clone();
        let register = lua.create_function(move |lua, arguments: MultiValue| {
            let registration = read_registration(lua, arguments)?;
            let mut registered = registering.borrow_mut();
            if registered.iter().any(|known: &Registration| known.name == registration.name) {
                return Err(raised("Function already exists in the library"));
            }
            registered.push(registration);
            Ok(())
        })?;
        redis.set("register_function", register)?;
        redis.set("log", lua.create_function(log)?)?;
        for (name, value) in
            [("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3)]
        {
            redis.set(name, value)?;
        }
        redis.set("REDIS_VERSION", REDIS_VERSION)?;
        redis.set("REDIS_VERSION_NUM", REDIS_VERSION_NUMBER)?;
        let library = lua.create_table()?;
        library.set("redis", redis)?;
        let switch = protect(lua, Some(library))?;
        Ok(Loading { body, switch, registered })
    }

    /// Runs the body; `Ok(Err(reply))` is Redis's "Error registering functions" reply.
    fn run(&self, lua: &Lua) -> mlua::Result<Result<Vec<Registration>, Frame>> {
        let xpcall: Function = lua.named_registry_value("concord.xpcall")?;
        let keep = lua.create_function(|_, error: Value| Ok(error))?;
        let results: MultiValue = xpcall.call((self.body.clone(), keep))?;
        let mut results = results.into_iter();
        if matches!(results.next(), Some(Value::Boolean(true))) {
            return Ok(Ok(self.registered.take()));
        }
        let error = results.next().unwrap_or(Value::Nil);
        Ok(Err(registering_failure(lua, error)?))
    }
}

/// Loads a library's code (its first line already removed, its line feed kept) as FUNCTION
/// LOAD does: compiles it and runs its body under the script budget; `Ok` is what it
/// registered, `Err` Redis's reply (a library that registers nothing is the caller's error).
pub(in crate::state_machine::scripting) fn register(
    source: &[u8],
) -> Result<Vec<Registration>, Frame> {
    let lua = new_state().map_err(|error| run_failure(&error))?;
    let exhausted = Rc::new(std::cell::Cell::new(false));
    let result = (|| -> mlua::Result<Result<Vec<Registration>, Frame>> {
        lua.set_named_registry_value("concord.chunk", super::LIBRARY_CHUNK_NAME)?;
        let xpcall: Function = lua.globals().get("xpcall")?;
        lua.set_named_registry_value("concord.xpcall", xpcall)?;
        let body = match load(&lua, source, Chunk::Library { function: b"" }) {
            Ok(body) => body,
            Err(frame) => return Ok(Err(frame)),
        };
        let loading = Loading::new(&lua, body)?;
        install_budget(&lua, exhausted.clone())?;
        let registered = loading.run(&lua);
        lua.remove_global_hook();
        registered
    })();
    if exhausted.get() {
        return Err(instructions_exhausted());
    }
    match result {
        Ok(registered) => registered,
        Err(error) if is_memory_error(&error) => Err(memory_exhausted()),
        Err(error) => Err(run_failure(&error)),
    }
}

/// Runs the library's body, shows the whole environment, and returns the function that calls
/// the registered `function` with the script's keys and arguments.
pub(in crate::state_machine::scripting) fn enter(
    lua: &Lua,
    loading: Loading,
    function: &[u8],
    script: &Script,
) -> mlua::Result<Result<Function, Frame>> {
    let registered = match loading.run(lua)? {
        Ok(registered) => registered,
        Err(frame) => return Ok(Err(frame)),
    };
    loading.switch.call::<()>(())?;
    let Some(registration) = registered.into_iter().find(|known| known.name == function) else {
        // The libraries list the function, and the same code registers the same functions.
        return Ok(Err(Frame::error("ERR Function not found")));
    };
    let keys = string_array(lua, script.keys)?;
    let arguments = string_array(lua, script.arguments)?;
    let bind = lua.load("local f, k, a = ... return function() return f(k, a) end");
    let bound: Function = bind.set_name("=fcall").call((registration.callback, keys, arguments))?;
    Ok(Ok(bound))
}

/// Redis's reply when a library's body raised `error` while loading.
fn registering_failure(lua: &Lua, error: Value) -> mlua::Result<Frame> {
    let message = match error {
        Value::Error(error) if is_final(&error) => return Err(*error),
        Value::Error(error) if is_memory_error(&error) => return Ok(memory_exhausted()),
        Value::Error(error) => match find_raised(&error) {
            Some(Raised::Reply(text)) => text.clone(),
            Some(Raised::Lua(text) | Raised::Message(text)) => format!("ERR {text}"),
            None => format!("ERR {error}"),
        },
        Value::String(text) => format!("ERR {}", text.to_string_lossy()),
        value @ (Value::Integer(_) | Value::Number(_)) => {
            let text = string_like(lua, &value)?.map(|text| text.to_string_lossy());
            format!("ERR {}", text.unwrap_or_default())
        }
        Value::Table(table) => match table.raw_get::<Value>("err")? {
            value @ (Value::String(_) | Value::Integer(_) | Value::Number(_)) => {
                string_like(lua, &value)?.map(|text| text.to_string_lossy()).unwrap_or_default()
            }
            // Redis formats the missing message with `%s` of NULL.
            _ => "(null)".into(),
        },
        _ => "(null)".into(),
    };
    let text = format!("ERR Error registering functions: {message}").replace(['\r', '\n'], " ");
    Ok(Frame::Error(text.into()))
}

/// A string or a number as the string Lua makes of it (`lua_isstring`), or `None`.
fn string_like(lua: &Lua, value: &Value) -> mlua::Result<Option<mlua::String>> {
    match value {
        Value::String(text) => Ok(Some(text.clone())),
        Value::Integer(_) | Value::Number(_) => lua.coerce_string(value.clone()),
        _ => Ok(None),
    }
}

fn string_bytes(text: mlua::String) -> Bytes {
    Bytes::copy_from_slice(&text.as_bytes())
}

/// `redis.register_function(name, callback)` or `redis.register_function{...}`, read and
/// checked with Redis's texts.
fn read_registration(lua: &Lua, arguments: MultiValue) -> mlua::Result<Registration> {
    let mut arguments: Vec<Value> = arguments.into_iter().collect();
    let (name, description, flags, callback) = match arguments.len() {
        1 => read_named(lua, arguments.remove(0))?,
        2 => {
            let callback = arguments.pop().expect("two arguments");
            let Some(name) = string_like(lua, &arguments[0])? else {
                return Err(raised("first argument to redis.register_function must be a string"));
            };
            let Value::Function(callback) = callback else {
                return Err(raised(
                    "second argument to redis.register_function must be a function",
                ));
            };
            (string_bytes(name), None, FunctionFlags::default(), callback)
        }
        _ => return Err(raised("wrong number of arguments to redis.register_function")),
    };
    if !is_valid_name(&name) {
        return Err(raised(
            "Library names can only contain letters, numbers, or underscores(_) and must be at \
             least one character long",
        ));
    }
    Ok(Registration { name, description, flags, callback })
}

type Named = (Bytes, Option<Bytes>, FunctionFlags, Function);

fn read_named(lua: &Lua, arguments: Value) -> mlua::Result<Named> {
    let Value::Table(table) = arguments else {
        return Err(raised(
            "calling redis.register_function with a single argument is only applicable to Lua \
             table (representing named arguments).",
        ));
    };
    let (mut name, mut description, mut flags, mut callback) = (None, None, None, None);
    for pair in table.pairs::<Value, Value>() {
        let (key, value) = pair?;
        let Some(key) = string_like(lua, &key)? else {
            return Err(raised(
                "named argument key given to redis.register_function is not a string",
            ));
        };
        let key = key.as_bytes().to_ascii_lowercase();
        match key.as_slice() {
            b"function_name" => {
                match string_like(lua, &value)? {
                    Some(text) => name = Some(string_bytes(text)),
                    None => return Err(raised(
                        "function_name argument given to redis.register_function must be a string",
                    )),
                }
            }
            b"description" => {
                match string_like(lua, &value)? {
                    Some(text) => description = Some(string_bytes(text)),
                    None => return Err(raised(
                        "description argument given to redis.register_function must be a string",
                    )),
                }
            }
            b"callback" => match value {
                Value::Function(function) => callback = Some(function),
                _ => {
                    return Err(raised(
                        "callback argument given to redis.register_function must be a function",
                    ))
                }
            },
            b"flags" => {
                match value {
                    Value::Table(list) => flags = Some(read_flags(lua, &list)?),
                    _ => return Err(raised(
                        "flags argument to redis.register_function must be a table representing \
                         function flags",
                    )),
                }
            }
            _ => return Err(raised("unknown argument given to redis.register_function")),
        }
    }
    let Some(name) = name else {
        return Err(raised("redis.register_function must get a function name argument"));
    };
    let Some(callback) = callback else {
        return Err(raised("redis.register_function must get a callback argument"));
    };
    Ok((name, description, flags.unwrap_or_default(), callback))
}

/// The flags of `flags = {...}`: its items from 1 up to the first nil, each a flag's name.
fn read_flags(lua: &Lua, list: &Table) -> mlua::Result<FunctionFlags> {
    let mut flags = FunctionFlags::default();
    for position in 1.. {
        let item: Value = list.get(position)?;
        if item.is_nil() {
            break;
        }
        let flag = string_like(lua, &item)?.and_then(|name| FunctionFlags::named(&name.as_bytes()));
        match flag {
            Some(flag) => flags = flags.with(flag),
            None => return Err(raised("unknown flag given")),
        }
    }
    Ok(flags)
}

/// Whether a library or function name is one Redis accepts: letters, digits and
/// underscores, at least one.
pub(crate) fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
}
