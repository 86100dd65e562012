//! The control family: commands about the connection or the node rather than the keyspace.
//! The server executes them; none of them enters the log.

use bytes::Bytes;

use super::{parse_i64, Args, Command, CommandError, CommandSpec, DbIndex, DATABASES};

#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    Ping { message: Option<Bytes> },
    Echo { message: Bytes },
    Select { db: DbIndex },
    Quit,
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, parse_ping)
        .flags(&["fast", "sentinel"])
        .categories(&["@fast", "@connection"])
        .docs("connection", "Returns the server's liveliness response.", "1.0.0", "O(1)"),
    CommandSpec::new("echo", 2, parse_echo)
        .flags(&["fast"])
        .categories(&["@fast", "@connection"])
        .docs("connection", "Returns the given string.", "1.0.0", "O(1)"),
    CommandSpec::new("select", 2, parse_select)
        .flags(&["loading", "stale", "fast"])
        .categories(&["@fast", "@connection"])
        .docs("connection", "Changes the selected database.", "1.0.0", "O(1)"),
    CommandSpec::new("quit", -1, parse_quit)
        .flags(&["allow_busy", "noscript", "loading", "stale", "fast", "no_auth", "allow_busy"])
        .categories(&["@fast", "@connection"])
        .docs("connection", "Closes the connection.", "1.0.0", "O(1)"),
];

fn parse_ping(args: &mut Args) -> Result<Command, CommandError> {
    if args.remaining() > 1 {
        return Err(CommandError::WrongArity("ping".into()));
    }
    Ok(Command::Control(Control::Ping { message: args.try_next() }))
}

fn parse_echo(args: &mut Args) -> Result<Command, CommandError> {
    Ok(Command::Control(Control::Echo { message: args.next_bytes()? }))
}

fn parse_select(args: &mut Args) -> Result<Command, CommandError> {
    let db = parse_i64(&args.next_bytes()?)
        .ok_or(CommandError::other("ERR value is not an integer or out of range"))?;
    if db < 0 || db as usize >= DATABASES {
        return Err(CommandError::DbIndexOutOfRange);
    }
    Ok(Command::Control(Control::Select { db: db as DbIndex }))
}

fn parse_quit(_args: &mut Args) -> Result<Command, CommandError> {
    Ok(Command::Control(Control::Quit))
}
