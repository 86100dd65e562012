//! The function commands in the state machine: FUNCTION LOAD, DELETE, FLUSH and RESTORE in
//! apply, LIST, DUMP and STATS on a view, and FCALL / FCALL_RO, which run a library's function
//! with the same runner, budget, sandbox and conversions as EVAL (`environment`, `library`).
//!
//! Loading a library checks its first line as Redis does (`#!lua name=<name>`, with Redis's
//! texts for each mistake), runs its body once to learn what it registers, and keeps the code
//! and the registrations in the keyspace's [`FunctionLibraries`]. Every check is a pure
//! function of the code and the loaded libraries, so every replica accepts or refuses a
//! library alike.
//!
//! Invariants:
//! - Only a library whose body ran to its end and registered at least one function, none of
//!   whose names another library owns, is ever added; a failed load or restore changes nothing.
//! - Apply and views list, dump and call libraries in name order, the same on every replica.

use bytes::Bytes;

use super::environment::{self, library, Chunk, Script};
use super::{Commands, Target};
use crate::command::scripting::functions::{
    FunctionCall, FunctionRead, FunctionWrite, RestorePolicy,
};
use crate::command::{parse_i64, DbIndex};
use crate::resp::Frame;
use crate::store::functions::{Collision, Function, FunctionFlags, FunctionLibraries, Library};
use crate::store::{glob_match, rdb, Keyspace};

use super::super::ApplyContext;
use crate::command::acl::script::ScriptUser;

/// The only engine, as FUNCTION LIST and STATS name it.
const ENGINE: &str = "LUA";

/// Applies a function write.
pub(super) fn write(
    keyspace: &mut Keyspace,
    db: DbIndex,
    context: &ApplyContext,
    write: &FunctionWrite,
) -> Frame {
    match write {
        FunctionWrite::Call(call) => {
            let Some((library, flags)) = find(keyspace.functions(), &call.function) else {
                return Frame::error("ERR Function not found");
            };
            run(&library, flags, call, Target::Live { keyspace, context }, db, false)
        }
        FunctionWrite::Load { code, replace } => {
            match create(code, keyspace.functions(), *replace) {
                Ok(library) => {
                    let name = library.name.clone();
                    match keyspace.functions_mut().join(vec![library], *replace) {
                        Ok(()) => Frame::Bulk(name),
                        Err(collision) => collision_error(&collision, true),
                    }
                }
                Err(error) => error,
            }
        }
        FunctionWrite::Delete { library } => {
            if keyspace.functions_mut().remove(library) {
                Frame::ok()
            } else {
                Frame::error("ERR Library not found")
            }
        }
        FunctionWrite::Flush => {
            keyspace.functions_mut().clear();
            Frame::ok()
        }
        FunctionWrite::Restore { payload, policy } => match restore(keyspace, payload, *policy) {
            Ok(()) => Frame::ok(),
            Err(error) => error,
        },
    }
}

/// Runs a function read on a view at `now_ms`, a function's calls being checked against
/// `script_user` when there is one.
pub(super) fn read(
    keyspace: &Keyspace,
    db: DbIndex,
    now_ms: u64,
    read: &FunctionRead,
    script_user: Option<&ScriptUser>,
) -> Frame {
    let libraries = keyspace.functions();
    match read {
        FunctionRead::Call { call, read_only_command } => {
            let Some((library, flags)) = find(libraries, &call.function) else {
                return Frame::error("ERR Function not found");
            };
            let target = Target::View { keyspace, now_ms, script_user };
            run(&library, flags, call, target, db, *read_only_command)
        }
        FunctionRead::List { pattern, with_code } => {
            list(libraries, pattern.as_deref(), *with_code)
        }
        FunctionRead::Dump => Frame::Bulk(
            rdb::dump_libraries(libraries.libraries().map(|library| &library.code[..])).into(),
        ),
        FunctionRead::Stats => stats(libraries),
    }
}

/// Whether FCALL of `function` may run on a view: it exists and is flagged `no-writes`. (A
/// function that does not exist gets its "not found" from a view just as well.)
pub fn runs_on_view(keyspace: &Keyspace, function: &[u8]) -> bool {
    keyspace.functions().function(function).is_none() || declares_no_writes(keyspace, function)
}

/// Whether `function` exists and is flagged `no-writes` (what CLIENT PAUSE WRITE lets run).
pub fn declares_no_writes(keyspace: &Keyspace, function: &[u8]) -> bool {
    keyspace
        .functions()
        .function(function)
        .is_some_and(|(_, function)| function.flags.contains(FunctionFlags::NO_WRITES))
}

/// The code of the library that owns `function`, and the function's flags.
fn find(libraries: &FunctionLibraries, function: &[u8]) -> Option<(Bytes, FunctionFlags)> {
    libraries.function(function).map(|(library, function)| (library.code.clone(), function.flags))
}

/// Calls the function with Redis's checks of numkeys and of FCALL_RO.
fn run(
    code: &Bytes,
    flags: FunctionFlags,
    call: &FunctionCall,
    target: Target,
    db: DbIndex,
    read_only_command: bool,
) -> Frame {
    let (count, rest) = call.arguments.split_first().expect("FCALL's arity gives numkeys");
    let Some(count) = parse_i64(count) else {
        return Frame::error("ERR Bad number of keys provided");
    };
    if count > rest.len() as i64 {
        return Frame::error("ERR Number of keys can't be greater than number of args");
    }
    if count < 0 {
        return Frame::error("ERR Number of keys can't be negative");
    }
    let no_writes = flags.contains(FunctionFlags::NO_WRITES);
    if read_only_command && !no_writes {
        return Frame::error("ERR Can not execute a script with write flag using *_ro command.");
    }
    let (keys, arguments) = rest.split_at(count as usize);
    let body_start =
        code.iter().position(|byte| *byte == b'\n').expect("a loaded library has a first line");
    let script = Script {
        source: &code[body_start..],
        chunk: Chunk::Library { function: &call.function },
        sha: &call.function,
        keys,
        arguments,
    };
    let mut host = Commands { target, db, read_only: read_only_command || no_writes, calls: 0 };
    environment::run(&script, &mut host)
}

fn collision_error(collision: &Collision, quoted: bool) -> Frame {
    let text = match collision {
        Collision::Library(name) if quoted => {
            format!("ERR Library '{}' already exists", String::from_utf8_lossy(name))
        }
        Collision::Library(name) => {
            format!("ERR Library {} already exists", String::from_utf8_lossy(name))
        }
        Collision::Function(name) => {
            format!("ERR Function {} already exists", String::from_utf8_lossy(name))
        }
    };
    Frame::Error(text.into())
}

fn error(text: impl Into<String>) -> Frame {
    let text: String = text.into();
    Frame::Error(format!("ERR {text}").into())
}

/// A library from its code, checked as Redis's FUNCTION LOAD checks it against the loaded
/// `libraries` (in Redis's order: first line, name, engine, a library of that name, the body,
/// that it registered something). Collisions of function names are the caller's to check.
fn create(code: &Bytes, libraries: &FunctionLibraries, replace: bool) -> Result<Library, Frame> {
    let (engine, name) = first_line(code)?;
    if !library::is_valid_name(&name) {
        return Err(error(
            "Library names can only contain letters, numbers, or underscores(_) and must be at \
             least one character long",
        ));
    }
    if !engine.eq_ignore_ascii_case(ENGINE.as_bytes()) {
        return Err(error(format!("Engine '{}' not found", String::from_utf8_lossy(&engine))));
    }
    if !replace && libraries.library(&name).is_some() {
        return Err(error(format!("Library '{}' already exists", String::from_utf8_lossy(&name))));
    }
    let body_start = code.iter().position(|byte| *byte == b'\n').expect("first_line found one");
    let registered = library::register(&code[body_start..])?;
    if registered.is_empty() {
        return Err(error("No functions registered"));
    }
    let functions = registered
        .into_iter()
        .map(|registration| {
            let function = Function {
                name: registration.name.clone(),
                description: registration.description,
                flags: registration.flags,
            };
            (registration.name, function)
        })
        .collect();
    Ok(Library { name: Bytes::from(name), code: code.clone(), functions })
}

/// The engine and library name of a library's first line (`#!lua name=mylib`), with Redis's
/// texts for what is wrong with it.
fn first_line(code: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Frame> {
    if !code.starts_with(b"#!") {
        return Err(error("Missing library metadata"));
    }
    // Redis reads the code as a C string: nothing after a zero byte is seen.
    let visible = code.split(|byte| *byte == 0).next().unwrap_or_default();
    let Some(end) = visible.iter().position(|byte| *byte == b'\n') else {
        return Err(error("Invalid library metadata"));
    };
    let parts = match split_arguments(&code[..end]) {
        Some(parts) if !parts.is_empty() => parts,
        _ => return Err(error("Invalid library metadata")),
    };
    let engine = parts[0].get(2..).unwrap_or_default().to_vec();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(error(
                    "Invalid metadata value, name argument was given multiple times",
                ));
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        let text = format!("Invalid metadata value given: {}", String::from_utf8_lossy(part));
        return Err(error(text));
    }
    let Some(name) = name else {
        return Err(error("Library name was not given"));
    };
    Ok((engine, name))
}

/// Splits a line into words as Redis's `sdssplitargs` does: blanks separate words, `"..."`
/// takes the escapes `\n \r \t \b \a \xHH` and `\<any>`, `'...'` takes `\'`, a quote may
/// start inside a word, and a closing quote must end its word. `None` for unbalanced quotes.
fn split_arguments(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let blank = |byte: u8| matches!(byte, b' ' | b'\n' | b'\r' | b'\t' | b'\x0b' | b'\x0c');
    let mut words = Vec::new();
    let mut at = 0;
    loop {
        while at < line.len() && blank(line[at]) {
            at += 1;
        }
        if at >= line.len() {
            return Some(words);
        }
        let mut word = Vec::new();
        let mut quote = None;
        loop {
            match quote {
                Some(b'"') => {
                    let byte = *line.get(at)?;
                    if byte == b'\\'
                        && at + 3 < line.len()
                        && line[at + 1] == b'x'
                        && line[at + 2].is_ascii_hexdigit()
                        && line[at + 3].is_ascii_hexdigit()
                    {
                        let digits = std::str::from_utf8(&line[at + 2..at + 4]).ok()?;
                        word.push(u8::from_str_radix(digits, 16).ok()?);
                        at += 3;
                    } else if byte == b'\\' && at + 1 < line.len() {
                        at += 1;
                        word.push(match line[at] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    } else if byte == b'"' {
                        if at + 1 < line.len() && !blank(line[at + 1]) {
                            return None;
                        }
                        at += 1;
                        break;
                    } else {
                        word.push(byte);
                    }
                }
                Some(_) => {
                    let byte = *line.get(at)?;
                    if byte == b'\\' && line.get(at + 1) == Some(&b'\'') {
                        at += 1;
                        word.push(b'\'');
                    } else if byte == b'\'' {
                        if at + 1 < line.len() && !blank(line[at + 1]) {
                            return None;
                        }
                        at += 1;
                        break;
                    } else {
                        word.push(byte);
                    }
                }
                None => match line.get(at) {
                    None => break,
                    Some(&byte) if blank(byte) => break,
                    Some(&byte @ (b'"' | b'\'')) => quote = Some(byte),
                    Some(&byte) => word.push(byte),
                },
            }
            at += 1;
        }
        words.push(word);
    }
}

/// FUNCTION RESTORE: the payload's libraries, each checked as FUNCTION LOAD checks it, then
/// joined to the loaded ones by the policy; all or nothing.
fn restore(keyspace: &mut Keyspace, payload: &[u8], policy: RestorePolicy) -> Result<(), Frame> {
    let codes = rdb::restore_libraries(payload).map_err(|failure| error(failure.to_string()))?;
    let mut restored = FunctionLibraries::default();
    for code in codes {
        let library = create(&code, &restored, false)?;
        restored
            .join(vec![library], false)
            .map_err(|collision| collision_error(&collision, true))?;
    }
    if policy == RestorePolicy::Flush {
        *keyspace.functions_mut() = restored;
        return Ok(());
    }
    let incoming = restored.libraries().cloned().collect();
    keyspace
        .functions_mut()
        .join(incoming, policy == RestorePolicy::Replace)
        .map_err(|collision| collision_error(&collision, false))
}

fn bulk(text: &str) -> Frame {
    Frame::bulk(text)
}

/// FUNCTION LIST's reply: a map for each library (whose name matches, ignoring case).
fn list(libraries: &FunctionLibraries, pattern: Option<&[u8]>, with_code: bool) -> Frame {
    let matching = libraries
        .libraries()
        .filter(|library| pattern.is_none_or(|pattern| glob_match(pattern, &library.name, true)));
    Frame::Array(
        matching
            .map(|library| {
                let functions = library.functions.values().map(describe).collect();
                let mut fields = vec![
                    (bulk("library_name"), Frame::Bulk(library.name.clone())),
                    (bulk("engine"), bulk(ENGINE)),
                    (bulk("functions"), Frame::Array(functions)),
                ];
                if with_code {
                    fields.push((bulk("library_code"), Frame::Bulk(library.code.clone())));
                }
                Frame::Map(fields)
            })
            .collect(),
    )
}

fn describe(function: &Function) -> Frame {
    let description = function.description.clone().map_or(Frame::Null, Frame::Bulk);
    let flags = function.flags.names().map(Frame::simple).collect();
    Frame::Map(vec![
        (bulk("name"), Frame::Bulk(function.name.clone())),
        (bulk("description"), description),
        (bulk("flags"), Frame::Set(flags)),
    ])
}

/// FUNCTION STATS's reply: no script is ever running when a client can ask (see the module
/// doc of `scripting`), and the one engine's counts.
fn stats(libraries: &FunctionLibraries) -> Frame {
    let counts = Frame::Map(vec![
        (bulk("libraries_count"), Frame::Integer(libraries.library_count() as i64)),
        (bulk("functions_count"), Frame::Integer(libraries.function_count() as i64)),
    ]);
    Frame::Map(vec![
        (bulk("running_script"), Frame::Null),
        (bulk("engines"), Frame::Map(vec![(bulk(ENGINE), counts)])),
    ])
}

#[cfg(test)]
mod tests {
    use super::split_arguments;
    use crate::resp::Frame;
    use crate::state_machine::test_harness::{bulk, int, Harness};

    fn error_text(frame: &Frame) -> String {
        match frame {
            Frame::Error(text) => text.to_string(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    const LIBRARY: &str = "#!lua name=lib\n\
        redis.register_function('deal', function(keys, args)\n\
          redis.call('sadd', keys[1], 'a', 'b', 'c', 'd', 'e')\n\
          return {redis.call('spop', keys[1]), math.random(1000), redis.call('time')[1]}\n\
        end)\n\
        redis.register_function('spin', function(keys) redis.call('set', keys[1], '1') while true do end end)\n\
        redis.register_function{function_name = 'peek', flags = {'no-writes'},\n\
          callback = function(keys) return redis.call('scard', keys[1]) end}";

    #[test]
    fn a_loaded_function_runs_in_apply_and_two_replicas_agree() {
        let mut first = Harness::new();
        let mut second = Harness::new();
        for harness in [&mut first, &mut second] {
            harness.check(&["FUNCTION", "LOAD", LIBRARY], bulk("lib"));
        }
        for _ in 0..5 {
            let a = first.run(&["FCALL", "deal", "1", "s"]);
            let b = second.run(&["FCALL", "deal", "1", "s"]);
            assert_eq!(a, b, "two replicas answered the same entry differently");
        }
        assert_eq!(first.run(&["SMEMBERS", "s"]), second.run(&["SMEMBERS", "s"]));
        first.check(&["FCALL_RO", "peek", "1", "s"], int(4));
        let reply = first.run(&["FCALL_RO", "deal", "1", "s"]);
        assert_eq!(
            error_text(&reply),
            "ERR Can not execute a script with write flag using *_ro command."
        );
    }

    /// A function ends at the same budget as a script, with its earlier writes kept, and the
    /// next call runs; a library whose body never ends is refused at the same point.
    #[test]
    fn a_runaway_function_or_library_body_ends_at_the_budget() {
        let mut harness = Harness::new();
        harness.check(&["FUNCTION", "LOAD", LIBRARY], bulk("lib"));
        let reply = harness.run(&["FCALL", "spin", "1", "k"]);
        assert!(error_text(&reply).contains("budget of 10000000 Lua instructions"), "{reply:?}");
        harness.check(&["GET", "k"], bulk("1"));
        harness.check(&["FCALL", "peek", "1", "s"], int(0));
        let endless = "#!lua name=endless\nwhile true do end";
        let reply = harness.run(&["FUNCTION", "LOAD", endless]);
        assert!(error_text(&reply).contains("Lua instructions"), "{reply:?}");
        let reply = harness.run(&["FUNCTION", "LIST", "LIBRARYNAME", "endless"]);
        assert_eq!(reply, Frame::Array(vec![]), "a refused library was kept");
    }

    #[test]
    fn a_dump_restores_into_another_replica() {
        let mut first = Harness::new();
        first.check(&["FUNCTION", "LOAD", LIBRARY], bulk("lib"));
        let Frame::Bulk(payload) = first.run(&["FUNCTION", "DUMP"]) else {
            panic!("FUNCTION DUMP is a bulk string");
        };
        let mut second = Harness::new();
        let restored = second.run_bytes(vec!["FUNCTION".into(), "RESTORE".into(), payload.clone()]);
        assert_eq!(restored, Frame::ok());
        second.check(&["FCALL", "peek", "1", "s"], int(0));
        let again = second.run_bytes(vec!["FUNCTION".into(), "RESTORE".into(), payload]);
        assert_eq!(error_text(&again), "ERR Library lib already exists");
    }

    #[test]
    fn first_lines_split_as_redis_splits_arguments() {
        let words = |line: &str| split_arguments(line.as_bytes());
        assert_eq!(words("#!lua  name=a"), Some(vec![b"#!lua".to_vec(), b"name=a".to_vec()]));
        assert_eq!(
            words("#!lua name=\"my lib\""),
            Some(vec![b"#!lua".to_vec(), b"name=my lib".to_vec()])
        );
        assert_eq!(
            words("#!lua name='a\\'b'"),
            Some(vec![b"#!lua".to_vec(), b"name=a'b".to_vec()])
        );
        assert_eq!(words("#!lua \"\\x41\\n\""), Some(vec![b"#!lua".to_vec(), b"A\n".to_vec()]));
        assert_eq!(words("#!lua \"open"), None);
        assert_eq!(words("#!lua \"a\"b"), None, "a closing quote must end its word");
        assert_eq!(words("   "), Some(vec![]));
    }
}
