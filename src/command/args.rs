//! A cursor over a request's arguments, with the conversions every command parser needs and
//! Redis's error text for each way they fail.

use bytes::Bytes;

use super::CommandError;
pub use crate::resp::parse_i64;

/// The arguments after the command name (and after the subcommand, for container commands).
#[derive(Debug)]
pub struct Args {
    values: std::vec::IntoIter<Bytes>,
}

impl Args {
    /// The arguments to read, in request order.
    pub fn new(values: Vec<Bytes>) -> Args {
        Args { values: values.into_iter() }
    }

    /// How many arguments are left.
    pub fn remaining(&self) -> usize {
        self.values.len()
    }

    /// Whether every argument was read.
    pub fn is_empty(&self) -> bool {
        self.values.len() == 0
    }

    /// The next argument. Arity is checked before a parser runs, so a parser that asks for an
    /// argument its arity guarantees gets it; one that asks past it gets a syntax error.
    pub fn next_bytes(&mut self) -> Result<Bytes, CommandError> {
        self.values.next().ok_or(CommandError::Syntax)
    }

    /// The next argument, if any.
    pub fn try_next(&mut self) -> Option<Bytes> {
        self.values.next()
    }

    /// The next argument as a signed 64-bit integer, with Redis's strict parsing: no spaces, no
    /// leading `+`, no leading zeros, no overflow.
    pub fn next_i64(&mut self) -> Result<i64, CommandError> {
        parse_i64(&self.next_bytes()?).ok_or(CommandError::NotInteger)
    }

    /// The next argument as a finite or infinite double, as Redis's `getDoubleFromObject` reads
    /// it (rejecting NaN and trailing garbage).
    pub fn next_f64(&mut self) -> Result<f64, CommandError> {
        parse_f64(&self.next_bytes()?).ok_or(CommandError::NotFloat)
    }

    /// The rest of the arguments.
    pub fn rest(&mut self) -> Vec<Bytes> {
        self.values.by_ref().collect()
    }

    /// Fails with a syntax error if any argument is left.
    pub fn finish(&self) -> Result<(), CommandError> {
        if self.values.len() == 0 {
            Ok(())
        } else {
            Err(CommandError::Syntax)
        }
    }
}

/// Whether `argument` equals the ASCII `keyword`, ignoring case, as Redis compares options.
pub fn is_keyword(argument: &[u8], keyword: &str) -> bool {
    argument.eq_ignore_ascii_case(keyword.as_bytes())
}

/// Redis's `string2ld`/`strtod` reading of a double: leading and trailing spaces are not
/// allowed, `inf`/`-inf`/`+inf` are, NaN is not.
pub fn parse_f64(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let value: f64 = match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => text.parse().ok()?,
    };
    if value.is_nan() {
        None
    } else {
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_accept_infinity_and_reject_nan_and_spaces() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"5.0e3"), Some(5000.0));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1x"), None);
        assert_eq!(parse_f64(b""), None);
    }
}
