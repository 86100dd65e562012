//! `cjson.decode`: JSON text to Lua values, token by token as lua-cjson reads it, so that
//! every error names the token and the position lua-cjson names (`Expected comma or array end
//! but found T_END at character 3`).
//!
//! The text is read as a C string: a NUL byte, or the end, is the end of the text. The parser
//! keeps the tables being filled on a heap stack rather than recursing, so nesting costs no
//! native stack.

use mlua::{Lua, Table, Value};

use super::null;
use crate::command::strtod::strtod;
use crate::state_machine::scripting::raise::lua_error;

/// What the decoder takes from the configuration.
pub(super) struct Options {
    /// Whether `inf`, `nan`, hexadecimal numbers, `+1` and leading zeros are read.
    pub invalid_numbers: bool,
    /// How deep arrays and objects may nest.
    pub max_depth: i32,
}

/// A token of JSON text, named as lua-cjson names its token types in errors.
enum Token {
    ObjectBegin,
    ObjectEnd,
    ArrayBegin,
    ArrayEnd,
    String(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// A token that could not be read, with lua-cjson's reason.
    Error(&'static str),
}

impl Token {
    fn name(&self) -> &'static str {
        match self {
            Token::ObjectBegin => "T_OBJ_BEGIN",
            Token::ObjectEnd => "T_OBJ_END",
            Token::ArrayBegin => "T_ARR_BEGIN",
            Token::ArrayEnd => "T_ARR_END",
            Token::String(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(reason) => reason,
        }
    }
}

/// A table being filled.
enum Open {
    Array { table: Table, next: i64 },
    Object { table: Table, key: mlua::String },
}

struct Parser<'a> {
    lua: &'a Lua,
    text: &'a [u8],
    position: usize,
    options: Options,
    depth: i32,
    /// Where the last token began (0-based), for errors.
    token_start: usize,
}

/// Decodes `text` into a Lua value.
pub(super) fn decode(lua: &Lua, text: &[u8], options: Options) -> mlua::Result<Value> {
    let text = &text[..memchr::memchr(0, text).unwrap_or(text.len())];
    let mut parser = Parser { lua, text, position: 0, options, depth: 0, token_start: 0 };
    let mut open: Vec<Open> = Vec::new();
    let mut token = parser.next_token();
    loop {
        // A value is expected here: a whole one, or the start of an array or object.
        let mut value = match token {
            Token::ObjectBegin => {
                parser.descend()?;
                let table = lua.create_table()?;
                token = parser.next_token();
                if matches!(token, Token::ObjectEnd) {
                    parser.depth -= 1;
                    Value::Table(table)
                } else {
                    let key = parser.key(token)?;
                    open.push(Open::Object { table, key });
                    token = parser.next_token();
                    continue;
                }
            }
            Token::ArrayBegin => {
                parser.descend()?;
                let table = lua.create_table()?;
                token = parser.next_token();
                if matches!(token, Token::ArrayEnd) {
                    parser.depth -= 1;
                    Value::Table(table)
                } else {
                    open.push(Open::Array { table, next: 1 });
                    continue;
                }
            }
            other => parser.scalar(other)?,
        };
        // The value is whole: put it in the table being filled, closing what it completes.
        loop {
            let Some(innermost) = open.last_mut() else {
                let token = parser.next_token();
                if !matches!(token, Token::End) {
                    return Err(parser.unexpected("the end", &token));
                }
                return Ok(value);
            };
            let (closed, closing) = match innermost {
                Open::Array { table, next } => {
                    table.raw_set(*next, value)?;
                    *next += 1;
                    token = parser.next_token();
                    (matches!(token, Token::ArrayEnd), "comma or array end")
                }
                Open::Object { table, key } => {
                    table.raw_set(key.clone(), value)?;
                    token = parser.next_token();
                    (matches!(token, Token::ObjectEnd), "comma or object end")
                }
            };
            if closed {
                parser.depth -= 1;
                value = match open.pop().expect("the innermost table is open") {
                    Open::Array { table, .. } | Open::Object { table, .. } => Value::Table(table),
                };
                continue;
            }
            if !matches!(token, Token::Comma) {
                return Err(parser.unexpected(closing, &token));
            }
            token = parser.next_token();
            if let Some(Open::Object { key, .. }) = open.last_mut() {
                *key = parser.key(token)?;
                token = parser.next_token();
            }
            break;
        }
    }
}

impl Parser<'_> {
    /// The byte at `position`, 0 past the end, as in a C string.
    fn byte(&self, position: usize) -> u8 {
        self.text.get(position).copied().unwrap_or(0)
    }

    fn unexpected(&self, expected: &str, found: &Token) -> mlua::Error {
        let at = match found {
            Token::Error(_) => self.position,
            _ => self.token_start,
        };
        let text =
            format!("Expected {expected} but found {} at character {}", found.name(), at + 1);
        lua_error(self.lua, &text)
    }

    /// One level deeper, which the depth limit may refuse.
    fn descend(&mut self) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth <= self.options.max_depth {
            return Ok(());
        }
        let text = format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.position
        );
        Err(lua_error(self.lua, &text))
    }

    /// An object's key, then its colon.
    fn key(&mut self, token: Token) -> mlua::Result<mlua::String> {
        let Token::String(bytes) = token else {
            return Err(self.unexpected("object key string", &token));
        };
        let key = self.lua.create_string(&bytes)?;
        let colon = self.next_token();
        if !matches!(colon, Token::Colon) {
            return Err(self.unexpected("colon", &colon));
        }
        Ok(key)
    }

    fn scalar(&self, token: Token) -> mlua::Result<Value> {
        Ok(match token {
            Token::String(bytes) => Value::String(self.lua.create_string(&bytes)?),
            Token::Number(number) => Value::Number(number),
            Token::Boolean(value) => Value::Boolean(value),
            Token::Null => null(),
            other => return Err(self.unexpected("value", &other)),
        })
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.byte(self.position), b' ' | b'\t' | b'\n' | b'\r') {
            self.position += 1;
        }
        self.token_start = self.position;
        let single = match self.byte(self.position) {
            0 => return Token::End,
            b'{' => Token::ObjectBegin,
            b'}' => Token::ObjectEnd,
            b'[' => Token::ArrayBegin,
            b']' => Token::ArrayEnd,
            b',' => Token::Comma,
            b':' => Token::Colon,
            b'"' => return self.string(),
            b'-' | b'0'..=b'9' => {
                if !self.options.invalid_numbers && self.is_invalid_number() {
                    return Token::Error("invalid number");
                }
                return self.number();
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => return self.word(),
            _ => return Token::Error("invalid token"),
        };
        self.position += 1;
        single
    }

    /// `true`, `false`, `null`, or (when allowed) `inf`, `nan` and `+` numbers.
    fn word(&mut self) -> Token {
        let rest = &self.text[self.position..];
        for (word, token) in [
            ("true", Token::Boolean(true)),
            ("false", Token::Boolean(false)),
            ("null", Token::Null),
        ] {
            if rest.starts_with(word.as_bytes()) {
                self.position += word.len();
                return token;
            }
        }
        if self.options.invalid_numbers && self.is_invalid_number() {
            return self.number();
        }
        Token::Error("invalid token")
    }

    /// lua-cjson's `json_is_invalid_number`: a number `strtod` reads that JSON does not have.
    fn is_invalid_number(&self) -> bool {
        let mut at = self.position;
        match self.byte(at) {
            b'+' => return true,
            b'-' => at += 1,
            _ => {}
        }
        let first = self.byte(at);
        if first == b'0' {
            let second = self.byte(at + 1);
            return (second | 0x20) == b'x' || second.is_ascii_digit();
        }
        if first <= b'9' {
            return false;
        }
        let word = self.text.get(at..at + 3).map(<[u8]>::to_ascii_lowercase);
        matches!(word.as_deref(), Some(b"inf" | b"nan"))
    }

    fn number(&mut self) -> Token {
        match strtod(&self.text[self.position..]) {
            Some(read) if read.consumed > 0 => {
                self.position += read.consumed;
                Token::Number(read.value)
            }
            _ => Token::Error("invalid number"),
        }
    }

    fn string(&mut self) -> Token {
        self.position += 1;
        let mut bytes = Vec::new();
        loop {
            match self.byte(self.position) {
                b'"' => break,
                0 => return Token::Error("unexpected end of string"),
                b'\\' => {
                    let unescaped = match self.byte(self.position + 1) {
                        b'u' => match self.unicode_escape(&mut bytes) {
                            Some(length) => {
                                self.position += length;
                                continue;
                            }
                            None => return Token::Error("invalid unicode escape code"),
                        },
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 0x0c,
                        b'r' => b'\r',
                        _ => return Token::Error("invalid escape code"),
                    };
                    bytes.push(unescaped);
                    self.position += 2;
                }
                byte => {
                    bytes.push(byte);
                    self.position += 1;
                }
            }
        }
        self.position += 1;
        Token::String(bytes)
    }

    /// The four hex digits at `position`, as lua-cjson's `decode_hex4` reads them.
    fn hex4(&self, position: usize) -> Option<u32> {
        (0..4).try_fold(0, |total, offset| {
            let digit = (self.byte(position + offset) as char).to_digit(16)?;
            Some(total << 4 | digit)
        })
    }

    /// Appends the UTF-8 of the `\uXXXX` escape (or surrogate pair) at `position`, and answers
    /// how many bytes it took; `None` when it is not a valid escape.
    fn unicode_escape(&self, bytes: &mut Vec<u8>) -> Option<usize> {
        let mut codepoint = self.hex4(self.position + 2)?;
        let mut length = 6;
        if codepoint & 0xF800 == 0xD800 {
            // A low surrogate first, or a high one without its low half, is refused.
            if codepoint & 0x400 != 0 {
                return None;
            }
            if self.byte(self.position + 6) != b'\\' || self.byte(self.position + 7) != b'u' {
                return None;
            }
            let low = self.hex4(self.position + 8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            codepoint = (((codepoint & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            length = 12;
        }
        // Every code point here is below 0x110000, which UTF-8 writes in at most 4 bytes;
        // lone surrogates cannot reach this point.
        let character = char::from_u32(codepoint)?;
        let mut buffer = [0; 4];
        bytes.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
        Some(length)
    }
}
