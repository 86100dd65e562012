//! The text of the HELP subcommands that the server answers itself (CLIENT, CONFIG, COMMAND
//! and SLOWLOG HELP), and the shape of a HELP reply.

use crate::resp::Frame;

/// A HELP reply: one status line per entry, as Redis formats its help.
pub(super) fn help(lines: &[&'static str]) -> Frame {
    Frame::Array(lines.iter().map(|line| Frame::Simple((*line).into())).collect())
}

pub(super) const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of this connection.",
    "ID",
    "    Return the id of this connection.",
    "INFO",
    "    Return this connection's line, as CLIENT LIST shows it.",
    "KILL <ip:port>",
    "    Close the connection from that address.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Close every connection matching all the filters: ID <id>, TYPE <type>, ADDR <ip:port>,",
    "    LADDR <ip:port>, USER <username>, SKIPME (YES|NO). SKIPME YES (the default) spares",
    "    this connection.",
    "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
    "    Describe the connections, one line each.",
    "NO-EVICT (ON|OFF)",
    "    Accepted for compatibility; Concord never evicts clients.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Hold this node's clients' commands (ALL, the default) or only those that may write",
    "    (WRITE), for <timeout> milliseconds or until UNPAUSE.",
    "REPLY (ON|OFF|SKIP)",
    "    Whether this connection gets replies: always, never, or not for the next command.",
    "SETINFO (LIB-NAME|LIB-VER) <value>",
    "    Record the client library's name or version for CLIENT LIST.",
    "SETNAME <name>",
    "    Name this connection (no spaces); an empty name clears it.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    End the blocking command a client waits in, as if it timed out or with an error.",
    "UNPAUSE",
    "    End the pause set by PAUSE.",
    "HELP",
    "    Print this help.",
];

pub(super) const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern> [<pattern> ...]",
    "    Return the parameters matching the glob-like patterns, with their values.",
    "SET <parameter> <value> [<parameter> <value> ...]",
    "    Set parameters; all of them change, or none. See docs/configuration.md for which",
    "    ones Concord honours.",
    "RESETSTAT",
    "    Reset the statistics INFO reports.",
    "REWRITE",
    "    Write the running configuration to the config file (not supported yet).",
    "HELP",
    "    Print this help.",
];

pub(super) const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Describe every command.",
    "COUNT",
    "    Return the number of commands.",
    "DOCS [<command-name> ...]",
    "    Return the documentation of the named commands, or of all.",
    "GETKEYS <full-command>",
    "    Return the keys a whole command would access.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys a whole command would access, with their access flags.",
    "INFO [<command-name> ...]",
    "    Describe the named commands, or all.",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Return the command names, optionally filtered.",
    "HELP",
    "    Print this help.",
];

pub(super) const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return the newest <count> entries of the slow log, newest first (10 when not given;",
    "    -1 for every entry). Each entry is: its id, its Unix time, the command's time in",
    "    microseconds, its arguments, the client's address and the client's name.",
    "LEN",
    "    Return how many entries the slow log holds.",
    "RESET",
    "    Empty the slow log.",
    "HELP",
    "    Print this help.",
];
