//! The Lua 5.1 environment a script runs in, as Redis 7.0 builds it, and one run of a script.
//!
//! Every run gets a fresh Lua state: the libraries `base` (less `print`, `loadfile`, `dofile`
//! and `load`, and with `loadstring` refusing bytecode), `table`, `string`, `math` (its
//! `random` Redis's rand48, seeded with 0 at the start of every run, as Redis 7.0 does),
//! `bit`, `cjson`, `cmsgpack` and `struct`; the `redis` table (`call`, `pcall`, `error_reply`,
//! `status_reply`, `sha1hex`, `log`, `setresp`, `set_repl`, `replicate_commands`, the `LOG_*`
//! and `REPL_*` constants, `REDIS_VERSION`); `KEYS` and `ARGV`. Then the globals and the
//! library tables are made read-only: assigning to them fails with "Attempt to modify a
//! readonly table", reading a global that does not exist with "Script attempted to access
//! nonexistent global variable".
//! A fresh state per run is what makes a run a pure function of the script, its arguments and
//! the keyspace: nothing one script leaves behind is seen by the next, on any replica.
//!
//! A function library's code runs the same way (a [`Chunk::Library`]): without `KEYS` and
//! `ARGV`, its body first runs with the globals showing only the loading API (`library`),
//! then the environment is switched to the whole one above and the function is called.
//!
//! The budget: a hook counts Lua instructions (in steps of [`HOOK_INSTRUCTIONS`]) and the
//! allocator counts the Lua heap; both are the same on every replica for the same script and
//! keyspace, so a script over [`INSTRUCTIONS_MAX`] or [`MEMORY_BYTES_MAX`] ends at the same
//! point everywhere, with the same error. Once the instruction budget is spent the hook fires
//! on every instruction, so a `pcall` inside the script cannot swallow the stop.
//!
//! Caveats: the read-only protection is made of metatables (Redis patches its Lua), so
//! `rawset` on the globals still works and `pairs(_G)` shows nothing; the `debug` library is
//! not there.

pub(super) mod library;

use std::cell::Cell;
use std::rc::Rc;

use bytes::Bytes;
use mlua::{
    ChunkMode, Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState,
};

use super::convert::{error_table, error_text, lua_to_reply};
pub(super) use super::raise::raised;
use super::raise::Raised;
use super::{bit, cjson, cmsgpack, struct_library};
use crate::resp::{format_double, Frame};
use crate::store::scripts::sha1_hex;

/// The Lua instructions a script may run: some tens of milliseconds of pure Lua, well inside
/// an election timeout, since apply (and so the node's part in consensus) waits for it.
pub const INSTRUCTIONS_MAX: u64 = 10_000_000;
/// The bytes a script's Lua heap may hold.
pub const MEMORY_BYTES_MAX: usize = 64 << 20;
/// How many instructions run between two checks of the budget.
const HOOK_INSTRUCTIONS: u32 = 1_000;

/// The Redis release scripts are told they run on: `server::REDIS_VERSION`, which the state
/// machine may not import (a test checks the two agree).
pub const REDIS_VERSION: &str = "7.0.15";
/// The same as `(major << 16) | (minor << 8) | patch`.
pub(super) const REDIS_VERSION_NUMBER: i64 = 0x07_00_0f;

/// What a run's code is: an EVAL script, or a function library whose function FCALL calls.
/// Redis names their chunks differently, and error messages show the name with the line
/// (`user_script:1:`, `user_function:2:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Chunk<'a> {
    /// EVAL's body.
    Script,
    /// A library's code: its body runs in the loading environment, then a function it
    /// registered is called with the keys and arguments.
    Library {
        /// The function to call.
        function: &'a [u8],
    },
}

impl Chunk<'_> {
    fn name(self) -> &'static str {
        match self {
            Chunk::Script => "@user_script",
            Chunk::Library { .. } => LIBRARY_CHUNK_NAME,
        }
    }
}

/// The chunk name of a library's code.
pub(super) const LIBRARY_CHUNK_NAME: &str = "@user_function";

/// Where the running chunk's name is kept, for the error handler and `pcall`.
const CHUNK_REGISTRY_KEY: &str = "concord.chunk";

fn chunk_name(lua: &Lua) -> String {
    lua.named_registry_value::<String>(CHUNK_REGISTRY_KEY).unwrap_or_default()
}

/// What a script's `redis.call` runs its commands against: the keyspace of apply or a view.
pub(super) trait Host {
    /// Runs one command the script called, with Redis's refusals, and returns its reply.
    fn call(&mut self, arguments: Vec<Bytes>) -> Frame;
}

/// A script to run: its body (the shebang line already blanked), its name and its inputs.
pub(super) struct Script<'a> {
    /// The Lua source, without its shebang line (its line feed kept).
    pub source: &'a [u8],
    /// What the source is, and for a library which function to call.
    pub chunk: Chunk<'a>,
    /// What error replies name: the SHA1 of an EVAL body, or the function's name.
    pub sha: &'a [u8],
    /// `KEYS`.
    pub keys: &'a [Bytes],
    /// `ARGV`.
    pub arguments: &'a [Bytes],
}

/// The budget error: the same text on every replica.
pub(super) fn instructions_exhausted() -> Frame {
    Frame::Error(
        format!(
            "ERR Script exceeded its budget of {INSTRUCTIONS_MAX} Lua instructions and was \
             stopped; writes it made before stay"
        )
        .into(),
    )
}

pub(super) fn memory_exhausted() -> Frame {
    Frame::Error(
        format!(
            "ERR Script exceeded its budget of {MEMORY_BYTES_MAX} bytes of Lua memory and was \
             stopped; writes it made before stay"
        )
        .into(),
    )
}

/// Compiles `source` in a fresh state: `Err` is Redis's compile error reply.
pub(super) fn compile(source: &[u8]) -> Result<(), Frame> {
    let lua = new_state().map_err(|error| run_failure(&error))?;
    load(&lua, source, Chunk::Script).map(|_| ())
}

pub(super) fn new_state() -> mlua::Result<Lua> {
    let lua = Lua::new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH, LuaOptions::new())?;
    lua.set_memory_limit(MEMORY_BYTES_MAX)?;
    Ok(lua)
}

pub(super) fn load(lua: &Lua, source: &[u8], chunk: Chunk) -> Result<Function, Frame> {
    let compiled = lua.load(source).set_name(chunk.name()).set_mode(ChunkMode::Text);
    let failure = match chunk {
        Chunk::Script => "Error compiling script (new function)",
        Chunk::Library { .. } => "Error compiling function",
    };
    compiled.into_function().map_err(|error| match error {
        mlua::Error::SyntaxError { message, .. } => {
            Frame::Error(format!("ERR {failure}: {message}").replace(['\r', '\n'], " ").into())
        }
        mlua::Error::MemoryError(_) => memory_exhausted(),
        other => run_failure(&other),
    })
}

pub(super) fn run_failure(error: &mlua::Error) -> Frame {
    Frame::Error(format!("ERR Error running script: {error}").replace(['\r', '\n'], " ").into())
}

/// Runs `script` with its commands sent to `host`, and returns its reply.
pub(super) fn run(script: &Script, host: &mut dyn Host) -> Frame {
    let lua = match new_state() {
        Ok(lua) => lua,
        Err(error) => return run_failure(&error),
    };
    let exhausted = Rc::new(Cell::new(false));
    let host = std::cell::RefCell::new(host);
    let result = lua.scope(|scope| {
        let call = scope.create_function(|lua, arguments: MultiValue| {
            call_command(lua, arguments, &mut **host.borrow_mut())?
                .map_err(|text| mlua::Error::external(Raised::Reply(text)))
        })?;
        let pcall = scope.create_function(|lua, arguments: MultiValue| {
            match call_command(lua, arguments, &mut **host.borrow_mut())? {
                Ok(value) => Ok(value),
                Err(text) => Ok(Value::Table(error_table(lua, &text)?)),
            }
        })?;
        let prepared = match prepare(&lua, script, call, pcall) {
            Ok(prepared) => prepared,
            Err(Prepared::Reply(frame)) => return Ok(frame),
            Err(Prepared::Lua(error)) => return Err(error),
        };
        install_budget(&lua, exhausted.clone())?;
        let function = match (script.chunk, prepared) {
            (Chunk::Script, Ready::Script(function)) => function,
            (Chunk::Library { function }, Ready::Library(loading)) => {
                match library::enter(&lua, loading, function, script)? {
                    Ok(function) => function,
                    Err(frame) => return Ok(frame),
                }
            }
            _ => unreachable!("prepare answers the chunk it was given"),
        };
        let xpcall: Function = lua.named_registry_value("concord.xpcall")?;
        let handler = lua.create_function(error_handler)?;
        let results: MultiValue = xpcall.call((function, handler))?;
        lua.remove_global_hook();
        // Redis converts the result by the protocol the script chose, not the caller's.
        let resp3 = lua.named_registry_value::<bool>("concord.resp3").unwrap_or(false);
        Ok(finish(script, resp3, results))
    });
    if exhausted.get() {
        return instructions_exhausted();
    }
    match result {
        Ok(frame) => frame,
        Err(error) if is_memory_error(&error) => memory_exhausted(),
        Err(error) => run_failure(&error),
    }
}

/// What a prepared run calls: EVAL's body, or a library still to be loaded.
enum Ready {
    Script(Function),
    Library(library::Loading),
}

enum Prepared {
    Reply(Frame),
    Lua(mlua::Error),
}

impl From<mlua::Error> for Prepared {
    fn from(error: mlua::Error) -> Prepared {
        Prepared::Lua(error)
    }
}

/// Builds the environment and compiles the script, before the budget starts counting.
fn prepare(lua: &Lua, script: &Script, call: Function, pcall: Function) -> Result<Ready, Prepared> {
    lua.set_named_registry_value(CHUNK_REGISTRY_KEY, script.chunk.name())?;
    let globals = lua.globals();
    lua.set_named_registry_value("concord.xpcall", globals.get::<Function>("xpcall")?)?;
    let redis = redis_table(lua, call, pcall)?;
    globals.set("redis", redis)?;
    globals.set("bit", bit::library(lua)?)?;
    globals.set("cjson", cjson::library(lua, MEMORY_BYTES_MAX)?)?;
    globals.set("cmsgpack", cmsgpack::library(lua, MEMORY_BYTES_MAX)?)?;
    globals.set("struct", struct_library::library(lua)?)?;
    install_random(lua)?;
    match script.chunk {
        Chunk::Script => {
            globals.set("KEYS", string_array(lua, script.keys)?)?;
            globals.set("ARGV", string_array(lua, script.arguments)?)?;
            let function = load(lua, script.source, script.chunk).map_err(Prepared::Reply)?;
            protect(lua, None)?;
            Ok(Ready::Script(function))
        }
        Chunk::Library { .. } => {
            let body = load(lua, script.source, script.chunk).map_err(Prepared::Reply)?;
            let loading = library::Loading::new(lua, body)?;
            Ok(Ready::Library(loading))
        }
    }
}

/// Makes the globals read-only and missing globals an error. With a `library` table, the
/// globals show only it until the returned function is called, which shows the whole
/// environment: a library's body runs in the first, its functions in the second.
pub(super) fn protect(lua: &Lua, library: Option<Table>) -> mlua::Result<Function> {
    let protect = lua.load(PROTECT).set_name("=protect").into_function()?;
    protect.call::<Function>((lua.create_function(pcall_results)?, library))
}

pub(super) fn string_array(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for item in items {
        table.raw_push(lua.create_string(item)?)?;
    }
    Ok(table)
}

/// Counts instructions; once over the budget, stops the script at its next instruction
/// whatever `pcall` it is inside.
pub(super) fn install_budget(lua: &Lua, exhausted: Rc<Cell<bool>>) -> mlua::Result<()> {
    let counted = Cell::new(0u64);
    let triggers = HookTriggers::new().every_nth_instruction(HOOK_INSTRUCTIONS);
    lua.set_global_hook(triggers, move |lua, _debug| {
        if exhausted.get() {
            return Err(mlua::Error::runtime(BUDGET_SPENT));
        }
        counted.set(counted.get() + u64::from(HOOK_INSTRUCTIONS));
        if counted.get() < INSTRUCTIONS_MAX {
            return Ok(VmState::Continue);
        }
        exhausted.set(true);
        let every_instruction = HookTriggers::new().every_nth_instruction(1).every_line();
        let exhausted = exhausted.clone();
        lua.set_global_hook(every_instruction, move |_lua, _debug| {
            exhausted.set(true);
            Err(mlua::Error::runtime(BUDGET_SPENT))
        })?;
        Err(mlua::Error::runtime(BUDGET_SPENT))
    })
}

pub(super) fn is_memory_error(error: &mlua::Error) -> bool {
    match error {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } => is_memory_error(cause),
        _ => false,
    }
}

fn innermost(error: &mlua::Error) -> String {
    match error {
        mlua::Error::CallbackError { cause, .. } => innermost(cause),
        mlua::Error::RuntimeError(text) => text.clone(),
        other => other.to_string(),
    }
}

pub(super) fn find_raised(error: &mlua::Error) -> Option<&Raised> {
    match error {
        mlua::Error::CallbackError { cause, .. } => find_raised(cause),
        other => other.downcast_ref::<Raised>(),
    }
}

/// Whether an error is the end of the budget, which no `pcall` may swallow.
pub(super) fn is_final(error: &mlua::Error) -> bool {
    match error {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::RuntimeError(text) => text == BUDGET_SPENT,
        mlua::Error::CallbackError { cause, .. } => is_final(cause),
        _ => false,
    }
}

const BUDGET_SPENT: &str = "script budget exhausted";

/// The line of the innermost frame of the user's script, as Redis's handler finds it.
fn script_line(lua: &Lua) -> Option<usize> {
    let chunk = chunk_name(lua);
    for level in 0..64 {
        let found = lua.inspect_stack(level, |debug| {
            let source = debug.source();
            (source.source.as_deref() == Some(chunk.as_str())).then(|| debug.current_line())
        })?;
        if let Some(line) = found {
            return line;
        }
    }
    None
}

/// The message handler of the script's `xpcall`, as Redis's `__redis__err__handler`: an error
/// that is not a table becomes `{err='ERR ' .. tostring(error)}`, and the table gets the
/// script's source and line where it was raised.
fn error_handler(lua: &Lua, error: Value) -> mlua::Result<Value> {
    let line = script_line(lua);
    let table = match error {
        Value::Table(table) => table,
        Value::Error(error) if is_final(&error) => return Ok(Value::Error(error)),
        Value::Error(error) => match find_raised(&error) {
            Some(Raised::Reply(text)) => error_table(lua, text)?,
            Some(Raised::Lua(text)) => {
                let place = line.map(|line| format!("{}:{line}: ", &chunk_name(lua)[1..]));
                error_table(lua, &format!("ERR {}{text}", place.unwrap_or_default()))?
            }
            Some(Raised::Message(text)) => error_table(lua, &format!("ERR {text}"))?,
            None => error_table(lua, &format!("ERR {}", innermost(&error)))?,
        },
        Value::Boolean(value) => error_table(lua, &format!("ERR {value}"))?,
        other => {
            let text = lua.coerce_string(other)?.map(|text| text.to_string_lossy());
            let text = text.unwrap_or_else(|| "nil".into());
            error_table(lua, &format!("ERR {text}"))?
        }
    };
    if let Some(line) = line {
        table.raw_set("source", chunk_name(lua))?;
        table.raw_set("line", line)?;
    }
    Ok(Value::Table(table))
}

/// The script's `pcall`: Lua's, except that an error a Rust function raised is returned as
/// Redis returns it (an error table) and the end of the budget is raised again.
fn pcall_results(lua: &Lua, results: MultiValue) -> mlua::Result<MultiValue> {
    if matches!(results.front(), Some(Value::Boolean(true))) {
        return Ok(results);
    }
    let error = results.get(1).cloned().unwrap_or(Value::Nil);
    let converted = match error {
        Value::Error(error) if is_final(&error) => return Err(*error),
        Value::String(text) if text.as_bytes().as_ref() == b"not enough memory" => {
            return Err(mlua::Error::MemoryError("not enough memory".into()));
        }
        Value::Error(error) => match find_raised(&error) {
            Some(Raised::Reply(text)) => Value::Table(error_table(lua, text)?),
            Some(Raised::Lua(text)) => {
                let chunk = chunk_name(lua);
                let place = script_line(lua).map(|line| format!("{}:{line}: ", &chunk[1..]));
                Value::String(lua.create_string(format!("{}{text}", place.unwrap_or_default()))?)
            }
            Some(Raised::Message(text)) => Value::String(lua.create_string(text)?),
            None => Value::Error(error),
        },
        other => other,
    };
    Ok(MultiValue::from_iter([Value::Boolean(false), converted]))
}

/// The reply from what `xpcall` returned.
fn finish(script: &Script, resp3: bool, results: MultiValue) -> Frame {
    let mut results = results.into_iter();
    let succeeded = matches!(results.next(), Some(Value::Boolean(true)));
    let value = results.next().unwrap_or(Value::Nil);
    if succeeded {
        return lua_to_reply(&value, resp3);
    }
    match value {
        Value::Table(table) => {
            let message = match table.raw_get::<Value>("err") {
                Ok(Value::String(text)) => text.to_string_lossy(),
                _ => "ERR unknown error".to_string(),
            };
            let place = match (table.raw_get::<Value>("source"), table.raw_get::<Value>("line")) {
                (Ok(Value::String(source)), Ok(line @ (Value::Integer(_) | Value::Number(_)))) => {
                    let line = match line {
                        Value::Integer(line) => line,
                        Value::Number(line) => line as i64,
                        _ => 0,
                    };
                    let sha = String::from_utf8_lossy(script.sha);
                    format!(" script: {sha}, on {}:{line}.", source.to_string_lossy())
                }
                _ => String::new(),
            };
            Frame::Error(format!("{message}{place}").replace(['\r', '\n'], " ").into())
        }
        Value::Error(error) if is_memory_error(&error) => memory_exhausted(),
        // Lua 5.1 calls no message handler for a memory error: its message comes bare.
        Value::String(text) if text.as_bytes().as_ref() == b"not enough memory" => {
            memory_exhausted()
        }
        other => {
            let text = match other {
                Value::String(text) => text.to_string_lossy(),
                _ => "execution failure".into(),
            };
            let sha = String::from_utf8_lossy(script.sha);
            Frame::Error(format!("ERR Error running script {sha}, {text:.100}").into())
        }
    }
}

/// Runs a command the script called; `Err` is the reply's error text, with its code.
fn call_command(
    lua: &Lua,
    arguments: MultiValue,
    host: &mut dyn Host,
) -> mlua::Result<Result<Value, String>> {
    if arguments.is_empty() {
        return Ok(Err(error_text("Please specify at least one argument for this redis lib call")));
    }
    let mut words = Vec::with_capacity(arguments.len());
    for argument in arguments {
        // Redis 7.0 writes a number argument as `%.17g` does, not as Lua's `tostring`.
        let word = match argument {
            Value::String(text) => Bytes::copy_from_slice(&text.as_bytes()),
            // Lua 5.1 numbers are all doubles; mlua shows the integral ones as integers.
            Value::Integer(number) => Bytes::from(format_double(number as f64)),
            Value::Number(number) => Bytes::from(format_double(number)),
            _ => {
                let text = "Lua redis lib command arguments must be strings or integers";
                return Ok(Err(error_text(text)));
            }
        };
        words.push(word);
    }
    let reply = host.call(words);
    if let Frame::Error(text) = &reply {
        return Ok(Err(error_text(&format!("-{text}"))));
    }
    let resp3 = lua.named_registry_value::<bool>("concord.resp3").unwrap_or(false);
    Ok(Ok(super::convert::reply_to_lua(lua, &reply, resp3)?))
}

/// The `redis` table, its Rust functions, and the Lua halves of `call` and `pcall`.
pub(super) fn redis_table(lua: &Lua, call: Function, pcall: Function) -> mlua::Result<Table> {
    let redis = lua.create_table()?;
    redis.set("call", call)?;
    redis.set("pcall", pcall)?;
    redis.set("sha1hex", lua.create_function(sha1hex)?)?;
    redis.set("log", lua.create_function(log)?)?;
    redis.set("setresp", lua.create_function(setresp)?)?;
    redis.set("set_repl", lua.create_function(set_repl)?)?;
    redis.set("error_reply", lua.create_function(error_reply)?)?;
    redis.set("status_reply", lua.create_function(status_reply)?)?;
    redis.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    for (name, value) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.set(name, value)?;
    }
    redis.set("REDIS_VERSION", REDIS_VERSION)?;
    redis.set("REDIS_VERSION_NUM", REDIS_VERSION_NUMBER)?;
    Ok(redis)
}

/// Makes the globals and the library tables read-only, and missing globals an error.
const PROTECT: &str = r#"
local pcall_results, library = ...
local globals, base_pcall = _G, pcall
local error, tostring, setmetatable, pairs, rawset = error, tostring, setmetatable, pairs, rawset
local loadstring, type = loadstring, type
local function readonly() error('Attempt to modify a readonly table', 2) end
local function proxy(library)
  return setmetatable({}, {__index = library, __newindex = readonly, __metatable = false})
end
local hidden = {}
for name, value in pairs(globals) do hidden[name] = value end
for name in pairs(hidden) do rawset(globals, name, nil) end
hidden.print, hidden.loadfile, hidden.dofile, hidden.load = nil, nil, nil, nil
hidden._G = globals
hidden.pcall = function(...) return pcall_results(base_pcall(...)) end
hidden.loadstring = function(source, name)
  if type(source) == 'string' and source:byte(1) == 27 then
    return nil, 'binary chunks are not allowed'
  end
  return loadstring(source, name)
end
-- What a script sees must not depend on memory addresses, which differ between members: a
-- table or function prints as a number given in the order this run first printed it, and a
-- traversal of a table keyed by tables, functions or coroutines (whose order is by address)
-- is refused before it starts, so that it fails at the same point on every member.
local next, getmetatable, select = hidden.next, hidden.getmetatable, hidden.select
local format = hidden.string.format
local printed, printed_count = setmetatable({}, {__mode = 'k'}), 0
local by_address = {table = true, ['function'] = true, userdata = true, thread = true}
-- cjson.null is a light userdata holding NULL: the same everywhere.
local null = hidden.cjson and hidden.cjson.null
hidden.tostring = function(...)
  local value = ...
  local metatable = getmetatable(value)
  if select('#', ...) == 0 or not by_address[type(value)] or value == null
      or (type(metatable) == 'table' and metatable.__tostring) then
    return tostring(...)
  end
  local number = printed[value]
  if not number then
    printed_count = printed_count + 1
    number, printed[value] = printed_count, printed_count
  end
  return format('%s: 0x%08x', type(value), number)
end
local function refuse_address_keys(table)
  if type(table) ~= 'table' then return end
  for key in next, table do
    if by_address[type(key)] and key ~= null then
      error("Script attempted to traverse a table keyed by a " .. type(key) ..
        ": Concord refuses it, since its order is not the same on every member", 3)
    end
  end
end
hidden.next = function(...)
  local table, key = ...
  if key == nil then refuse_address_keys(table) end
  return next(...)
end
local checked_next = hidden.next
hidden.pairs = function(...)
  local table = ...
  if type(table) ~= 'table' then
    local given = select('#', ...) == 0 and 'no value' or type(table)
    error("bad argument #1 to 'pairs' (table expected, got " .. given .. ")", 2)
  end
  refuse_address_keys(table)
  return checked_next, table, nil
end
local foreach = hidden.table.foreach
hidden.table.foreach = function(table, ...)
  refuse_address_keys(table)
  return foreach(table, ...)
end
for _, name in pairs({'redis', 'string', 'math', 'table', 'coroutine', 'bit', 'cjson', 'cmsgpack',
    'struct'}) do
  if hidden[name] then hidden[name] = proxy(hidden[name]) end
end
local function nonexistent(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
setmetatable(hidden, {__index = nonexistent})
-- A library's body sees only the loading API, whose tables are as strict as the globals.
local function strict(table)
  local shown = {}
  for name, value in next, table do
    shown[name] = type(value) == 'table' and strict(value) or value
  end
  setmetatable(shown, {__index = nonexistent})
  return setmetatable({}, {__index = shown, __newindex = readonly, __metatable = false})
end
local meta = {__index = hidden, __newindex = readonly, __metatable = false}
if library then meta.__index = strict(library) end
setmetatable(globals, meta)
return function() meta.__index = hidden end
"#;

/// What the raising functions return: `Err` is raised as Redis's C function raises it.
pub(super) type Raising = mlua::Result<Value>;

fn sha1hex(lua: &Lua, arguments: MultiValue) -> Raising {
    if arguments.len() != 1 {
        return Err(raised("wrong number of arguments"));
    }
    let bytes = match arguments.into_iter().next() {
        Some(Value::String(text)) => text.as_bytes().to_vec(),
        Some(other) => match lua.coerce_string(other)? {
            Some(text) => text.as_bytes().to_vec(),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    Ok(Value::String(lua.create_string(sha1_hex(&bytes))?))
}

fn one_string(arguments: MultiValue) -> Option<mlua::String> {
    let mut arguments = arguments.into_iter();
    match (arguments.next(), arguments.next()) {
        (Some(Value::String(text)), None) => Some(text),
        _ => None,
    }
}

fn error_reply(lua: &Lua, arguments: MultiValue) -> mlua::Result<Table> {
    let Some(text) = one_string(arguments) else {
        return error_table(lua, "ERR wrong number or type of arguments");
    };
    let text = text.to_string_lossy();
    let text = if text.starts_with('-') { text } else { format!("-{text}") };
    error_table(lua, &error_text(&text))
}

fn status_reply(lua: &Lua, arguments: MultiValue) -> mlua::Result<Table> {
    let Some(text) = one_string(arguments) else {
        return error_table(lua, "ERR wrong number or type of arguments");
    };
    let table = lua.create_table()?;
    table.raw_set("ok", text)?;
    Ok(table)
}

pub(super) fn log(lua: &Lua, arguments: MultiValue) -> Raising {
    if arguments.len() < 2 {
        return Err(raised("redis.log() requires two arguments or more."));
    }
    let mut arguments = arguments.into_iter();
    let level = match arguments.next() {
        Some(Value::Integer(level)) => level,
        Some(Value::Number(level)) => level as i64,
        _ => return Err(raised("First argument must be a number (log level).")),
    };
    if !(0..=3).contains(&level) {
        return Err(raised("Invalid debug level."));
    }
    let mut message = String::new();
    for (position, argument) in arguments.enumerate() {
        if position > 0 {
            message.push(' ');
        }
        if let Some(text) = lua.coerce_string(argument)? {
            message.push_str(&text.to_string_lossy());
        }
    }
    // Every replica logs the same line: a log line is an observation, never state.
    tracing::info!(target: "concord::script", level, "{message}");
    Ok(Value::Nil)
}

fn setresp(lua: &Lua, arguments: MultiValue) -> Raising {
    if arguments.len() != 1 {
        return Err(raised("redis.setresp() requires one argument."));
    }
    let version = match arguments.into_iter().next() {
        Some(Value::Integer(version)) => version,
        Some(Value::Number(version)) => version as i64,
        _ => 0,
    };
    if version != 2 && version != 3 {
        return Err(raised("RESP version must be 2 or 3."));
    }
    lua.set_named_registry_value("concord.resp3", version == 3)?;
    Ok(Value::Nil)
}

fn set_repl(_: &Lua, arguments: MultiValue) -> Raising {
    if arguments.len() != 1 {
        // Redis 7.0's text, though the function takes one.
        return Err(raised("redis.set_repl() requires two arguments."));
    }
    let flags = match arguments.into_iter().next() {
        Some(Value::Integer(flags)) => flags,
        Some(Value::Number(flags)) => flags as i64,
        _ => -1,
    };
    if !(0..=3).contains(&flags) {
        return Err(raised(
            "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        ));
    }
    // Accepted and without effect: the script itself is what every replica runs.
    Ok(Value::Nil)
}

/// `math.random` and `math.randomseed` as Redis 7.0 replaces them: rand48, reseeded with 0 at
/// the start of every run, so a script draws the same numbers on every replica and every run.
fn install_random(lua: &Lua) -> mlua::Result<()> {
    let state = Rc::new(Cell::new(rand48_seed(0)));
    let math: Table = lua.globals().get("math")?;
    let drawing = state.clone();
    let random = lua.create_function(move |_, arguments: MultiValue| {
        let (next, value) = rand48_next(drawing.get());
        drawing.set(next);
        let r = f64::from(value % RAND48_MAX) / f64::from(RAND48_MAX);
        random_in(r, arguments)
    })?;
    let randomseed = lua.create_function(move |_, seed: f64| {
        state.set(rand48_seed(seed as i32));
        Ok(())
    })?;
    math.set("random", random)?;
    math.set("randomseed", randomseed)
}

const RAND48_MAX: u32 = i32::MAX as u32;

fn rand48_seed(seed: i32) -> u64 {
    (((seed as u32) as u64) << 16) | 0x330E
}

fn rand48_next(state: u64) -> (u64, u32) {
    let next = state.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & ((1 << 48) - 1);
    (next, (next >> 17) as u32)
}

/// Lua 5.1's `math.random` on a drawn `r` in [0, 1).
fn random_in(r: f64, arguments: MultiValue) -> mlua::Result<f64> {
    let bound = |value: &Value| match value {
        Value::Integer(value) => Some(*value as i32),
        Value::Number(value) => Some(*value as i32),
        _ => None,
    };
    match arguments.len() {
        0 => Ok(r),
        1 => {
            let upper = bound(&arguments[0]).unwrap_or(0);
            if upper < 1 {
                return Err(mlua::Error::external(Raised::Lua(
                    "bad argument #1 to 'random' (interval is empty)".into(),
                )));
            }
            Ok((r * f64::from(upper)).floor() + 1.0)
        }
        2 => {
            let lower = bound(&arguments[0]).unwrap_or(0);
            let upper = bound(&arguments[1]).unwrap_or(0);
            if lower > upper {
                return Err(mlua::Error::external(Raised::Lua(
                    "bad argument #2 to 'random' (interval is empty)".into(),
                )));
            }
            Ok((r * (f64::from(upper) - f64::from(lower) + 1.0)).floor() + f64::from(lower))
        }
        _ => Err(mlua::Error::external(Raised::Lua("wrong number of arguments".into()))),
    }
}
