//! The command table's metadata against its source and against the parsers.
//!
//! - The generated `src/command/redis_metadata.rs` is exactly what `scripts/gen-command-meta.py`
//!   prints for Concord's commands today (it starts its own redis-server 7.0), so neither a
//!   hand edit nor a command added to the table without its metadata goes unnoticed.
//! - Every command Redis flags `write` parses, with valid arguments, to a `Command::Write`,
//!   and every `readonly` one to a `Command::Read`: the flags and the parsers agree.

mod support;

use std::path::Path;
use std::process::Command as Process;

use bytes::Bytes;
use concord::command::{self, all_commands, concord_metadata, Command, CommandFlags, CommandSpec};
use support::command_arguments::example_request;

/// Every command and subcommand of the table, containers first.
fn every_spec() -> Vec<&'static CommandSpec> {
    all_commands()
        .into_iter()
        .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands.iter()))
        .collect()
}

fn is_concord_only(spec: &CommandSpec) -> bool {
    concord_metadata::ALL.iter().any(|meta| std::ptr::eq(*meta, spec.meta))
}

#[test]
fn the_generated_metadata_is_what_redis_7_0_says_for_concords_commands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let names: Vec<&str> = every_spec()
        .into_iter()
        .filter(|spec| !is_concord_only(spec))
        .map(|spec| spec.name)
        .collect();
    let output = Process::new("python3")
        .arg(root.join("scripts/gen-command-meta.py"))
        .args(&names)
        .output()
        .expect("python3 runs (the generator needs only its standard library)");
    assert!(
        output.status.success(),
        "scripts/gen-command-meta.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generated = String::from_utf8(output.stdout).expect("the generator prints UTF-8");
    let checked_in = std::fs::read_to_string(root.join("src/command/redis_metadata.rs"))
        .expect("src/command/redis_metadata.rs is readable");
    if generated != checked_in {
        let first_difference = generated
            .lines()
            .zip(checked_in.lines())
            .position(|(new, old)| new != old)
            .unwrap_or(generated.lines().count().min(checked_in.lines().count()));
        panic!(
            "src/command/redis_metadata.rs differs from what redis-server says, from line {}: \
             run `scripts/gen-command-meta.py --write` (adding any new command's name)",
            first_difference + 1
        );
    }
}

fn parse(words: &[Vec<u8>]) -> Result<Command, String> {
    let arguments = words.iter().map(|word| Bytes::copy_from_slice(word)).collect();
    let parsed = command::parse(arguments).map_err(|error| error.to_string())?;
    parsed.command.map_err(|error| error.to_string())
}

/// Commands Redis flags `readonly` that are writes here, each for a documented reason: TOUCH's
/// whole effect is the access time OBJECT IDLETIME reports, which every replica must agree on
/// (see `command::keys`).
const DELIBERATE_WRITES: &[&str] = &["touch"];

/// Commands Redis flags `write` that are reads here unless their options name STORE or
/// STOREDIST: a plain radius query changes nothing, so it never costs a log entry (see
/// `command::geo`). Their STORE forms are writes (checked in `command::geo`'s tests).
const DELIBERATE_READS: &[&str] = &["georadius", "georadiusbymember"];

#[test]
fn every_write_command_parses_to_a_write_and_every_readonly_one_to_a_read() {
    let mut wrong = Vec::new();
    let mut checked = 0;
    for spec in every_spec() {
        let (write, readonly) =
            (spec.has_flag(CommandFlags::WRITE), spec.has_flag(CommandFlags::READONLY));
        if !write && !readonly {
            continue;
        }
        checked += 1;
        let words = example_request(spec);
        let parsed = parse(&words);
        let agrees = match &parsed {
            Ok(Command::Write(_)) if DELIBERATE_WRITES.contains(&spec.name) => readonly,
            Ok(Command::Write(_)) => write,
            Ok(Command::Read(_)) if DELIBERATE_READS.contains(&spec.name) => write,
            Ok(Command::Read(_)) => readonly,
            _ => false,
        };
        if !agrees {
            let request: Vec<String> =
                words.iter().map(|word| String::from_utf8_lossy(word).into_owned()).collect();
            let flag = if write { "write" } else { "readonly" };
            wrong.push(format!("{} (flagged {flag}) -> {parsed:?}", request.join(" ")));
        }
    }
    assert!(checked > 100, "only {checked} commands are flagged write or readonly");
    assert!(wrong.is_empty(), "flags and parsers disagree:\n{}", wrong.join("\n"));
}
