//! The differential script format: parsing `tests/differential/*.redis` into steps.
//!
//! `tests/differential/README.md` is the user's description of the format; this module is its
//! implementation. In short: one command per line, quoted like redis-cli (`"..."` with
//! backslash escapes, `'...'` literal), `#` comment lines, an optional `~rule` prefix that
//! loosens the comparison of that line's reply, and `@directive` lines that act on connections
//! instead of sending one command.
//!
//! Parsing is strict: an unknown rule or directive, an unbalanced quote or a rule on a line that
//! reads no reply is an error with the line number, so a typo never turns into a silent pass.

use std::time::Duration;

/// How two replies to the same line are compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Byte for byte (the default).
    Exact,
    /// `~type`: only the RESP type byte of the top-level reply.
    Type,
    /// `~shape`: RESP types, nullness and aggregate lengths, recursively; not scalar contents.
    Shape,
    /// `~int N`: integers anywhere in the reply may differ by at most N; all else exact.
    IntWithin(i64),
    /// `~sorted`: an array, set or map compared as a multiset of its elements (or pairs).
    Sorted,
    /// `~except-fields a,b`: a map (or RESP2 flat key/value array) compared exactly except the
    /// values of the named fields, which need only have the same RESP type.
    ExceptFields(Vec<Vec<u8>>),
    /// `~ignore`: sent and read, not compared.
    Ignore,
}

/// One thing a script line does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A command: sent as a multibulk request; one reply read and compared.
    Command { rule: Rule, args: Vec<Vec<u8>> },
    /// `@raw BYTES`: the bytes sent as they are; one reply read and compared.
    Raw { rule: Rule, bytes: Vec<u8> },
    /// `@send ARGS...`: a command sent as a multibulk request; no reply read.
    Send { args: Vec<Vec<u8>> },
    /// `@send-raw BYTES`: bytes sent as they are; no reply read.
    SendRaw { bytes: Vec<u8> },
    /// `@read`: one reply read from the current connection and compared.
    Read { rule: Rule },
    /// `@conn NAME`: later lines use connection NAME (opened on first use).
    Connection { name: String },
    /// `@reconnect`: the current connection is closed and opened again, fresh.
    Reconnect,
    /// `@sleep MS`
    Sleep { duration: Duration },
    /// `@scan-all SCAN|SSCAN|HSCAN|ZSCAN [KEY] ARGS...`: the cursor iterated to 0 on each server
    /// and the sets of returned items compared.
    ScanAll { args: Vec<Vec<u8>> },
}

/// A parsed line, with what the failure report needs to point at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub number: usize,
    pub text: String,
    pub step: Step,
}

/// Sleeps longer than this are a script mistake: scripts must stay fast.
const SLEEP_MS_MAX: u64 = 5_000;

/// Parses a whole script. Errors name the line.
pub fn parse_script(source: &str) -> Result<Vec<Line>, String> {
    let mut lines = Vec::new();
    for (index, text) in source.lines().enumerate() {
        let number = index + 1;
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let step = parse_line(trimmed).map_err(|why| format!("line {number}: {why}: {trimmed}"))?;
        lines.push(Line { number, text: trimmed.to_string(), step });
    }
    Ok(lines)
}

fn parse_line(line: &str) -> Result<Step, String> {
    let (rule, rest) = if line.starts_with('~') { parse_rule(line)? } else { (Rule::Exact, line) };
    if rest.starts_with('@') {
        return parse_directive(rule, rest);
    }
    let args = split_arguments(rest)?;
    if args.is_empty() {
        return Err("a rule needs a command after it".into());
    }
    Ok(Step::Command { rule, args })
}

/// Splits `~rule [PARAMETER] rest` into the rule and the rest of the line.
fn parse_rule(line: &str) -> Result<(Rule, &str), String> {
    let (name, rest) = split_first_word(line);
    let (rule, rest) = match name {
        "~type" => (Rule::Type, rest),
        "~shape" => (Rule::Shape, rest),
        "~sorted" => (Rule::Sorted, rest),
        "~ignore" => (Rule::Ignore, rest),
        "~int" => {
            let (tolerance, rest) = split_first_word(rest);
            let tolerance = tolerance
                .parse::<i64>()
                .ok()
                .filter(|tolerance| *tolerance >= 0)
                .ok_or("`~int` needs a tolerance, a non-negative integer")?;
            (Rule::IntWithin(tolerance), rest)
        }
        "~except-fields" => {
            let (fields, rest) = split_first_word(rest);
            if fields.is_empty() {
                return Err("`~except-fields` needs a comma-separated list of fields".into());
            }
            let fields = fields.split(',').map(|field| field.as_bytes().to_vec());
            (Rule::ExceptFields(fields.collect()), rest)
        }
        _ => return Err(format!("unknown rule `{name}`")),
    };
    Ok((rule, rest.trim_start()))
}

fn parse_directive(rule: Rule, line: &str) -> Result<Step, String> {
    let (name, rest) = split_first_word(line);
    let args = split_arguments(rest)?;
    let reads_reply = matches!(name, "@raw" | "@read");
    if rule != Rule::Exact && !reads_reply {
        return Err(format!("`{name}` reads no reply, so a rule cannot apply to it"));
    }
    let step = match (name, args.len()) {
        ("@raw", 1) => Step::Raw { rule, bytes: args.into_iter().next().expect("one argument") },
        ("@send-raw", 1) => Step::SendRaw { bytes: args.into_iter().next().expect("one argument") },
        ("@send", 1..) => Step::Send { args },
        ("@read", 0) => Step::Read { rule },
        ("@conn", 1) => Step::Connection {
            name: String::from_utf8(args[0].clone()).map_err(|_| "connection names are text")?,
        },
        ("@reconnect", 0) => Step::Reconnect,
        ("@sleep", 1) => Step::Sleep { duration: parse_sleep(&args[0])? },
        ("@scan-all", _) => parse_scan_all(args)?,
        ("@raw" | "@send-raw", _) => return Err(format!("`{name}` takes one quoted argument")),
        ("@send" | "@read" | "@conn" | "@reconnect" | "@sleep", _) => {
            return Err(format!("wrong number of arguments for `{name}`"))
        }
        _ => return Err(format!("unknown directive `{name}`")),
    };
    Ok(step)
}

fn parse_sleep(argument: &[u8]) -> Result<Duration, String> {
    std::str::from_utf8(argument)
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .filter(|milliseconds| *milliseconds <= SLEEP_MS_MAX)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`@sleep` takes milliseconds, at most {SLEEP_MS_MAX}"))
}

fn parse_scan_all(args: Vec<Vec<u8>>) -> Result<Step, String> {
    let command = args.first().map(|name| name.to_ascii_uppercase());
    let needs_key = match command.as_deref() {
        Some(b"SCAN") => false,
        Some(b"SSCAN" | b"HSCAN" | b"ZSCAN") => true,
        _ => return Err("`@scan-all` needs SCAN, SSCAN, HSCAN or ZSCAN".into()),
    };
    if needs_key && args.len() < 2 {
        return Err("`@scan-all` with SSCAN, HSCAN or ZSCAN needs a key".into());
    }
    Ok(Step::ScanAll { args })
}

impl Step {
    /// For `@scan-all`: where the cursor goes in the command, and how many items make one
    /// element of the result (HSCAN and ZSCAN return field/value and member/score pairs).
    pub fn scan_layout(args: &[Vec<u8>]) -> (usize, usize) {
        match args[0].to_ascii_uppercase().as_slice() {
            b"SCAN" => (1, 1),
            b"SSCAN" => (2, 1),
            _ => (2, 2),
        }
    }
}

fn split_first_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(end) => (&text[..end], &text[end..]),
        None => (text, ""),
    }
}

/// Splits a line into arguments the way redis-cli does: whitespace separates; `"..."` takes
/// `\n \r \t \b \a \\ \" \xHH` escapes; `'...'` is literal except `\'`; a closing quote must
/// be followed by whitespace or the end of the line. Unquoted words are literal.
pub fn split_arguments(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut position = 0;
    loop {
        while position < bytes.len() && bytes[position].is_ascii_whitespace() {
            position += 1;
        }
        if position == bytes.len() {
            return Ok(args);
        }
        let (arg, end) = match bytes[position] {
            b'"' => double_quoted(bytes, position + 1)?,
            b'\'' => single_quoted(bytes, position + 1)?,
            _ => {
                let length = bytes[position..]
                    .iter()
                    .position(u8::is_ascii_whitespace)
                    .unwrap_or(bytes.len() - position);
                (bytes[position..position + length].to_vec(), position + length)
            }
        };
        if end < bytes.len() && !bytes[end].is_ascii_whitespace() {
            return Err("a closing quote must be followed by a space or the end of the line".into());
        }
        args.push(arg);
        position = end;
    }
}

/// Reads a `"..."` argument whose body starts at `start`; returns it and the offset after the
/// closing quote.
fn double_quoted(bytes: &[u8], start: usize) -> Result<(Vec<u8>, usize), String> {
    let mut arg = Vec::new();
    let mut position = start;
    while position < bytes.len() {
        match bytes[position] {
            b'"' => return Ok((arg, position + 1)),
            b'\\' if position + 1 < bytes.len() => {
                let escaped = bytes[position + 1];
                if escaped == b'x' {
                    if let Some(byte) = bytes
                        .get(position + 2..position + 4)
                        .and_then(|hex| std::str::from_utf8(hex).ok())
                        .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    {
                        arg.push(byte);
                        position += 4;
                        continue;
                    }
                }
                arg.push(match escaped {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
                position += 2;
            }
            byte => {
                arg.push(byte);
                position += 1;
            }
        }
    }
    Err("unbalanced double quote".into())
}

fn single_quoted(bytes: &[u8], start: usize) -> Result<(Vec<u8>, usize), String> {
    let mut arg = Vec::new();
    let mut position = start;
    while position < bytes.len() {
        match bytes[position] {
            b'\'' => return Ok((arg, position + 1)),
            b'\\' if bytes.get(position + 1) == Some(&b'\'') => {
                arg.push(b'\'');
                position += 2;
            }
            byte => {
                arg.push(byte);
                position += 1;
            }
        }
    }
    Err("unbalanced single quote".into())
}

/// A request as Redis clients send it: an array of bulk strings.
pub fn encode_request(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}
