//! Redis's glob-style pattern matching (`stringmatchlen`), used by KEYS, SCAN MATCH, CONFIG GET
//! PSUBSCRIBE and ACL's key and channel patterns. It lives with the commands, below the
//! keyspace, because ACL decides permissions here; the keyspace re-exports it.
//!
//! Syntax: `*` any run of bytes, `?` one byte, `[abc]`, `[^abc]` and `[a-z]` classes, `\x` a
//! literal `x`. Edge cases follow Redis exactly, including its quirks: an unclosed class
//! consumes the rest of the pattern, and an empty string matches no pattern at all (callers
//! special-case the pattern `*`, as Redis's own callers do).
//!
//! The matcher backtracks on `*` but gives up on longer matches once a suffix failed to match
//! at every position (Redis's `skipLongerMatches`), which keeps hostile patterns such as
//! `*a*a*a*a*b` polynomial, and it caps the nesting of stars as Redis does.

/// How many stars deep the matcher recurses before declaring no match.
const NESTING_MAX: usize = 1000;

/// Whether `string` matches `pattern`, optionally ignoring ASCII case.
pub fn glob_match(pattern: &[u8], string: &[u8], ignore_case: bool) -> bool {
    let mut skip_longer_matches = false;
    match_here(pattern, string, ignore_case, &mut skip_longer_matches, 0)
}

fn match_here(
    mut pattern: &[u8],
    mut string: &[u8],
    ignore_case: bool,
    skip_longer_matches: &mut bool,
    nesting: usize,
) -> bool {
    if nesting > NESTING_MAX {
        return false;
    }
    let same = |a: u8, b: u8| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    while !pattern.is_empty() && !string.is_empty() {
        match pattern[0] {
            b'*' => {
                while pattern.len() > 1 && pattern[1] == b'*' {
                    pattern = &pattern[1..];
                }
                if pattern.len() == 1 {
                    return true;
                }
                while !string.is_empty() {
                    let rest = &pattern[1..];
                    if match_here(rest, string, ignore_case, skip_longer_matches, nesting + 1) {
                        return true;
                    }
                    if *skip_longer_matches {
                        return false;
                    }
                    string = &string[1..];
                }
                *skip_longer_matches = true;
                return false;
            }
            b'?' => pattern = &pattern[1..],
            b'[' => {
                let (matched, rest) = match_class(&pattern[1..], string[0], ignore_case);
                if !matched {
                    return false;
                }
                pattern = rest;
            }
            byte => {
                let (literal, rest) = if byte == b'\\' && pattern.len() >= 2 {
                    (pattern[1], &pattern[2..])
                } else {
                    (byte, &pattern[1..])
                };
                if !same(literal, string[0]) {
                    return false;
                }
                pattern = rest;
            }
        }
        string = &string[1..];
        if string.is_empty() {
            while pattern.first() == Some(&b'*') {
                pattern = &pattern[1..];
            }
            break;
        }
    }
    pattern.is_empty() && string.is_empty()
}

/// Matches one byte against a class whose `[` was already consumed. Returns whether it
/// matched and the pattern after the class (after its `]`, or empty if it never closed).
fn match_class(mut pattern: &[u8], byte: u8, ignore_case: bool) -> (bool, &[u8]) {
    let fold = |value: u8| {
        if ignore_case {
            value.to_ascii_lowercase()
        } else {
            value
        }
    };
    let negated = pattern.first() == Some(&b'^');
    if negated {
        pattern = &pattern[1..];
    }
    let mut matched = false;
    loop {
        match pattern {
            [] => break,
            [b']', rest @ ..] => {
                pattern = rest;
                break;
            }
            [b'\\', escaped, rest @ ..] => {
                matched |= fold(*escaped) == fold(byte);
                pattern = rest;
            }
            [start, b'-', end, rest @ ..] => {
                let (low, high) = if start <= end { (*start, *end) } else { (*end, *start) };
                let byte = fold(byte);
                matched |= fold(low) <= byte && byte <= fold(high);
                pattern = rest;
            }
            [literal, rest @ ..] => {
                matched |= fold(*literal) == fold(byte);
                pattern = rest;
            }
        }
    }
    (matched != negated, pattern)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn matches(pattern: &str, string: &str) -> bool {
        glob_match(pattern.as_bytes(), string.as_bytes(), false)
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("*", "anything"));
        assert!(matches("h?llo", "hello"));
        assert!(matches("h*llo", "heeeello"));
        assert!(matches("h*llo", "hllo"));
        assert!(!matches("h?llo", "hllo"));
        assert!(matches("a*b*c", "a-b-c"));
        assert!(!matches("a*b*c", "a-b-"));
    }

    #[test]
    fn classes_ranges_negation_and_escapes() {
        assert!(matches("h[ae]llo", "hallo"));
        assert!(!matches("h[ae]llo", "hillo"));
        assert!(matches("h[^e]llo", "hallo"));
        assert!(!matches("h[^e]llo", "hello"));
        assert!(matches("h[a-b]llo", "hbllo"));
        assert!(matches("h[b-a]llo", "hallo"));
        assert!(matches("h\\*llo", "h*llo"));
        assert!(!matches("h\\*llo", "hello"));
        assert!(matches("[\\]]", "]"));
    }

    #[test]
    fn redis_quirks_are_kept() {
        // An empty string matches only the empty pattern, not even `*`; Redis's callers
        // special-case the pattern `*`.
        assert!(!matches("*", ""));
        assert!(!matches("?", ""));
        assert!(matches("", ""));
        // An unclosed class consumes the rest of the pattern.
        assert!(matches("a[bc", "ab"));
        // A trailing backslash is a literal backslash.
        assert!(matches("a\\", "a\\"));
    }

    #[test]
    fn case_folding_is_optional() {
        assert!(glob_match(b"HeLLo", b"hello", true));
        assert!(!glob_match(b"HeLLo", b"hello", false));
        assert!(glob_match(b"[A-C]x", b"bx", true));
    }

    #[test]
    fn hostile_patterns_finish_quickly() {
        let string = "a".repeat(4000);
        let pattern = format!("{}b", "*a".repeat(500));
        assert!(!matches(&pattern, &string));
    }
}
