//! Placeholder decoder, replaced by the full two-phase decoder on the `resp` branch.

use bytes::{Buf, Bytes, BytesMut};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub bulk_bytes_max: usize,
    pub arguments_max: usize,
    pub inline_bytes_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { bulk_bytes_max: 512 << 20, arguments_max: 1 << 20, inline_bytes_max: 64 << 10 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub &'static str);

#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder { limits }
    }

    pub fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let text = &buffer[..];
        let Some(line_end) = text.windows(2).position(|pair| pair == b"\r\n") else {
            return Ok(None);
        };
        if text[0] != b'*' {
            let line = buffer.split_to(line_end + 2).freeze();
            let words =
                line[..line_end].split(|byte| *byte == b' ').filter(|word| !word.is_empty());
            return Ok(Some(words.map(|word| line.slice_ref(word)).collect()));
        }
        let count: usize = std::str::from_utf8(&text[1..line_end])
            .ok()
            .and_then(|n| n.parse().ok())
            .ok_or(ProtocolError("invalid multibulk length"))?;
        if count > self.limits.arguments_max {
            return Err(ProtocolError("invalid multibulk length"));
        }
        let mut position = line_end + 2;
        let mut spans = Vec::new();
        for _ in 0..count {
            let Some(end) = text[position..].windows(2).position(|pair| pair == b"\r\n") else {
                return Ok(None);
            };
            let length: usize = std::str::from_utf8(&text[position + 1..position + end])
                .ok()
                .and_then(|n| n.parse().ok())
                .ok_or(ProtocolError("invalid bulk length"))?;
            let start = position + end + 2;
            if text.len() < start + length + 2 {
                return Ok(None);
            }
            spans.push((start, length));
            position = start + length + 2;
        }
        let frame = buffer.split_to(position).freeze();
        let arguments =
            spans.into_iter().map(|(start, length)| frame.slice(start..start + length)).collect();
        let _ = frame.remaining();
        Ok(Some(arguments))
    }
}
