//! Rendering bytes for failure messages: printable ASCII as is, everything else escaped the
//! way the scripts write it (`\r`, `\n`, `\t`, `\"`, `\\`, `\xHH`), inside double quotes, so a
//! reply in a message can be pasted back into a script.

/// Replies longer than this are cut in messages; the cut says how much was left out.
pub const RENDER_BYTES_MAX: usize = 600;

/// The bytes, escaped and quoted.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &byte in bytes {
        match byte {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push('"');
    out
}

/// Like [`escape`], but cut after a bound so a huge reply does not drown the report.
pub fn escape_truncated(bytes: &[u8]) -> String {
    if bytes.len() <= RENDER_BYTES_MAX {
        return escape(bytes);
    }
    format!(
        "{}... ({} more bytes)",
        escape(&bytes[..RENDER_BYTES_MAX]),
        bytes.len() - RENDER_BYTES_MAX
    )
}
