//! Just enough of a Rust lexer for the architecture checks: code with its comments, string
//! literals and character literals blanked out, so that a brace, `fn` or `super::` inside a
//! string or a comment is never taken for code.

/// `text` with every comment and every string, byte-string, raw-string and character literal
/// replaced by spaces. Newlines are kept, so line numbers stay true, and so are the quotes
/// that delimit a literal.
pub fn blank_literals_and_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut at = 0;
    while at < bytes.len() {
        at = match bytes[at] {
            b'/' if bytes.get(at + 1) == Some(&b'/') => blank_until_line_end(&mut out, at),
            b'/' if bytes.get(at + 1) == Some(&b'*') => blank_block_comment(&mut out, at),
            b'r' if starts_raw_string(bytes, at) && !continues_identifier_before_raw(bytes, at) => {
                blank_raw_string(&mut out, at)
            }
            b'"' => blank_string(&mut out, at),
            b'\'' => blank_character(&mut out, at),
            _ => at + 1,
        };
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn blank(out: &mut [u8], from: usize, to: usize) {
    let to = to.min(out.len());
    for byte in &mut out[from..to] {
        if *byte != b'\n' {
            *byte = b' ';
        }
    }
}

fn continues_identifier(bytes: &[u8], at: usize) -> bool {
    at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_')
}

/// Whether the `r` at `at` is inside an identifier; `br"…"` is a raw byte string.
fn continues_identifier_before_raw(bytes: &[u8], at: usize) -> bool {
    let byte_string = at > 0 && bytes[at - 1] == b'b' && !continues_identifier(bytes, at - 1);
    continues_identifier(bytes, at) && !byte_string
}

fn blank_until_line_end(out: &mut [u8], at: usize) -> usize {
    let end = out[at..].iter().position(|&byte| byte == b'\n').map_or(out.len(), |n| at + n);
    blank(out, at, end);
    end
}

/// Block comments nest in Rust.
fn blank_block_comment(out: &mut [u8], at: usize) -> usize {
    let (mut depth, mut end) = (0usize, at);
    while end < out.len() {
        if out[end..].starts_with(b"/*") {
            depth += 1;
            end += 2;
        } else if out[end..].starts_with(b"*/") {
            depth -= 1;
            end += 2;
            if depth == 0 {
                break;
            }
        } else {
            end += 1;
        }
    }
    blank(out, at, end);
    end
}

/// `r"`, `r#"`, `r##"`, … (a `b` before the `r` is an ordinary identifier byte to skip).
fn starts_raw_string(bytes: &[u8], at: usize) -> bool {
    let hashes = bytes[at + 1..].iter().take_while(|&&byte| byte == b'#').count();
    bytes.get(at + 1 + hashes) == Some(&b'"')
}

fn blank_raw_string(out: &mut [u8], at: usize) -> usize {
    let hashes = out[at + 1..].iter().take_while(|&&byte| byte == b'#').count();
    let open = at + 1 + hashes;
    let mut closing = vec![b'"'];
    closing.extend(std::iter::repeat_n(b'#', hashes));
    let end = out[open + 1..]
        .windows(closing.len())
        .position(|window| window == closing.as_slice())
        .map_or(out.len(), |n| open + 1 + n);
    blank(out, open + 1, end);
    end + closing.len()
}

fn blank_string(out: &mut [u8], at: usize) -> usize {
    let mut end = at + 1;
    while end < out.len() && out[end] != b'"' {
        end += if out[end] == b'\\' { 2 } else { 1 };
    }
    blank(out, at + 1, end);
    end + 1
}

/// A character literal (`'x'`, `'\n'`, `'\u{7f}'`, `'{'`) or a lifetime (`'a`), which is
/// left as it is.
fn blank_character(out: &mut [u8], at: usize) -> usize {
    if out.get(at + 1) == Some(&b'\\') {
        let end =
            out[at + 2..].iter().position(|&byte| byte == b'\'').map_or(out.len(), |n| at + 2 + n);
        blank(out, at + 1, end);
        return end + 1;
    }
    // One character, which may take several bytes in UTF-8.
    let width = out.get(at + 1).map_or(1, |&first| utf8_width(first));
    if out.get(at + 1 + width) == Some(&b'\'') {
        blank(out, at + 1, at + 1 + width);
        return at + 2 + width;
    }
    at + 1
}

fn utf8_width(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// A function with a body: where its name is and how many lines it spans, from the line of
/// `fn` to the line of its closing brace.
pub struct Function {
    pub name: String,
    pub line: usize,
    pub lines: usize,
}

/// Every function with a body in `code` (already blanked), nested ones included.
pub fn functions(code: &str) -> Vec<Function> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = code[at..].find("fn ") {
        let start = at + offset;
        at = start + 3;
        let is_keyword = !continues_identifier(bytes, start);
        let name: String =
            code[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !is_keyword || name.is_empty() {
            continue;
        }
        let Some(open) = body_start(bytes, at) else { continue };
        let close = matching_brace(bytes, open);
        let line = line_of(code, start);
        found.push(Function { name, line, lines: line_of(code, close) - line + 1 });
    }
    found
}

/// The `{` that opens the body of the function whose signature starts at `at`, or `None` for
/// a declaration without one (`fn f();` in a trait or an `extern` block).
fn body_start(bytes: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (index, &byte) in bytes.iter().enumerate().skip(at) {
        match byte {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b'{' if depth == 0 => return Some(index),
            b';' if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

fn matching_brace(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (index, &byte) in bytes.iter().enumerate().skip(open) {
        match byte {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return index;
                }
            }
            _ => {}
        }
    }
    bytes.len().saturating_sub(1)
}

/// `code` (already blanked) with every item under `#[cfg(test)]` blanked too, wherever in
/// the file it stands: what is left is the code that ships. Lines are kept.
pub fn blank_test_items(code: &str) -> String {
    let mut out = code.as_bytes().to_vec();
    for (start, end) in test_items(code) {
        blank(&mut out, start, end + 1);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How many lines of `code` (already blanked) the `#[cfg(test)]` items span.
pub fn test_item_lines(code: &str) -> usize {
    test_items(code).map(|(start, end)| line_of(code, end) - line_of(code, start) + 1).sum()
}

/// The byte span of every item under `#[cfg(test)]`, from the attribute to the item's closing
/// brace or semicolon, both included.
fn test_items(code: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    const ATTRIBUTE: &str = "#[cfg(test)]";
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = at + code[at..].find(ATTRIBUTE)?;
        let end = item_end(code.as_bytes(), start + ATTRIBUTE.len());
        at = end + 1;
        Some((start, end))
    })
}

/// The last byte of the item that starts after an attribute at `at`: its first `;` outside
/// brackets, or the brace that closes its first `{`.
fn item_end(bytes: &[u8], at: usize) -> usize {
    let mut depth = 0i32;
    for (index, &byte) in bytes.iter().enumerate().skip(at) {
        match byte {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b'{' if depth == 0 => return matching_brace(bytes, index),
            b';' if depth == 0 => return index,
            _ => {}
        }
    }
    bytes.len().saturating_sub(1)
}

/// The 1-based line of a byte offset.
pub fn line_of(code: &str, offset: usize) -> usize {
    code[..offset].bytes().filter(|&byte| byte == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_comments_are_blanked_and_lines_kept() {
        let text = "let a = \"{fn x\"; // fn y {\nlet c = '{'; let d: &'a str = r#\"}\"#;\n/* a\n/* b */ } */ fn z() {\n}\n";
        let code = blank_literals_and_comments(text);
        assert_eq!(code.lines().count(), text.lines().count());
        assert!(!code.contains("fn x") && !code.contains("fn y"));
        assert!(code.contains("&'a str"));
        assert_eq!(code.matches('{').count() + code.matches('}').count(), 2, "{code}");
        let found = functions(&code);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].name.as_str(), found[0].line, found[0].lines), ("z", 4, 2));
    }

    #[test]
    fn test_items_are_blanked_wherever_they_stand() {
        let code = "fn a() {}\n#[cfg(test)]\nmod tests;\nfn b() {}\n#[cfg(test)]\nmod t {\n fn c() {}\n}\nfn d() {}\n#[cfg(test)]\nfn e(x: [u8; 1]) {}\n";
        let shipped = blank_test_items(code);
        assert_eq!(shipped.lines().count(), code.lines().count());
        let names: Vec<String> = functions(&shipped).into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["a", "b", "d"]);
        assert!(!shipped.contains("mod"), "{shipped}");
        assert_eq!(test_item_lines(code), 2 + 4 + 2);
    }

    #[test]
    fn declarations_without_a_body_are_not_functions() {
        let code = "trait T { fn f(&self); fn g(&self) -> [u8; 2] { [0; 2] } }";
        let found = functions(code);
        assert_eq!(found.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["g"]);
    }
}
