//! The errors a client can get for a command, each with Redis 7's exact text.

use bytes::Bytes;
use std::borrow::Cow;

use crate::resp::Frame;

/// Why a command was refused or failed. The `Display` text is the whole error line a client
/// reads, code prefix included, byte for byte as Redis 7 writes it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// A name not in the command table: `ERR unknown command 'name', with args beginning with:`
    /// and the first arguments quoted, as far as 128 bytes.
    #[error("ERR unknown command '{}', with args beginning with: {}", sanitize(.name, 128), quoted_arguments(.arguments))]
    UnknownCommand {
        /// The name as the client sent it.
        name: Bytes,
        /// Every argument after the name; the text quotes only the first 128 bytes' worth.
        arguments: Vec<Bytes>,
    },

    /// A container (CONFIG, CLIENT, OBJECT, ...) given a subcommand it does not have:
    /// `ERR unknown subcommand 'x'. Try CONFIG HELP.`
    #[error("ERR unknown subcommand '{}'. Try {}.", sanitize(.subcommand, 128), help_hint(.command))]
    UnknownSubcommand {
        /// The container's name in the table (`config`), uppercased in the hint.
        command: &'static str,
        /// The subcommand as the client sent it.
        subcommand: Bytes,
    },

    /// An argument count the command's arity does not allow, or a count a parser finds wrong
    /// (MSET's pairs): `ERR wrong number of arguments for 'name' command`, with the name given.
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),

    /// A subcommand given arguments it does not take, which Redis reports as
    /// `ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP.`, with
    /// the subcommand as the client typed it. A subcommand's parser, which does not see that
    /// spelling, returns `subcommand: None`; `command::parse` fills it in.
    #[error(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {}.",
        sanitize(.subcommand.as_deref().unwrap_or_default(), 128),
        help_hint(.command)
    )]
    SubcommandMisused {
        /// The container's name in the table (`slowlog`), uppercased in the hint.
        command: &'static str,
        /// The subcommand as the client sent it.
        subcommand: Option<Bytes>,
    },

    /// An option that is unknown, repeated against the rules, or missing its value:
    /// `ERR syntax error`.
    #[error("ERR syntax error")]
    Syntax,

    /// An argument, or a stored value, that must be an `i64` and is not:
    /// `ERR value is not an integer or out of range`.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,

    /// An argument, or a stored value, that must be a float and is not (a score, INCRBYFLOAT's
    /// increment): `ERR value is not a valid float`.
    #[error("ERR value is not a valid float")]
    NotFloat,

    /// INCR, INCRBY, HINCRBY and their kin when the result would not fit in an `i64`:
    /// `ERR increment or decrement would overflow`.
    #[error("ERR increment or decrement would overflow")]
    Overflow,

    /// A database index (SELECT, MOVE, COPY ... DB, SWAPDB) not below `DATABASES`:
    /// `ERR DB index is out of range`.
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,

    /// A command that needs its key to exist and found none (RENAME, LSET): `ERR no such key`.
    #[error("ERR no such key")]
    NoSuchKey,

    /// A key that holds another type than the command works on:
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,

    /// Any other error, as its whole line (`ERR ...`, `NOPROTO ...`).
    #[error("{0}")]
    Other(Cow<'static, str>),
}

impl CommandError {
    /// An error from a static line, which must carry its code prefix.
    pub const fn other(text: &'static str) -> CommandError {
        CommandError::Other(Cow::Borrowed(text))
    }

    /// The reply frame that carries this error.
    pub fn to_frame(&self) -> Frame {
        match self {
            CommandError::Other(text) => Frame::Error(text.clone()),
            other => Frame::Error(Cow::Owned(other.to_string())),
        }
    }
}

/// An error can wait inside a command until the command runs (LCS reports a bad option only
/// after looking at its keys), and a command inside a transaction travels through the log; so
/// an error is serializable, as its text: all a client ever sees of it.
impl serde::Serialize for CommandError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for CommandError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(CommandError::Other(Cow::Owned(text)))
    }
}

impl From<CommandError> for Frame {
    fn from(error: CommandError) -> Frame {
        error.to_frame()
    }
}

/// Redis prints at most `limit` bytes of an argument in an error and replaces line breaks
/// with spaces, so that an error line stays one line.
fn sanitize(bytes: &[u8], limit: usize) -> String {
    let shown = &bytes[..bytes.len().min(limit)];
    String::from_utf8_lossy(shown).replace(['\r', '\n'], " ")
}

/// Redis lists the first arguments of an unknown command as `'a' 'b' `, stopping once the
/// list reaches 128 bytes and cutting the last argument to fit.
fn quoted_arguments(arguments: &[Bytes]) -> String {
    let mut listed = String::new();
    for argument in arguments {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push('\'');
        listed.push_str(&sanitize(argument, room));
        listed.push_str("' ");
    }
    listed
}

fn help_hint(command: &str) -> String {
    format!("{} HELP", command.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_lists_quoted_arguments_like_redis() {
        let error = CommandError::UnknownCommand {
            name: Bytes::from_static(b"foo"),
            arguments: vec![Bytes::from_static(b"a"), Bytes::from_static(b"b\r\nc")],
        };
        assert_eq!(
            error.to_string(),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b  c' "
        );
    }

    #[test]
    fn unknown_command_without_arguments_ends_after_the_colon() {
        let error =
            CommandError::UnknownCommand { name: Bytes::from_static(b"x"), arguments: vec![] };
        assert_eq!(error.to_string(), "ERR unknown command 'x', with args beginning with: ");
    }

    #[test]
    fn unknown_subcommand_points_at_help() {
        let error = CommandError::UnknownSubcommand {
            command: "config",
            subcommand: Bytes::from_static(b"nope"),
        };
        assert_eq!(error.to_string(), "ERR unknown subcommand 'nope'. Try CONFIG HELP.");
    }
}
