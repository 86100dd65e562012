//! Placeholder encoder, replaced by the full encoder on the `resp` branch.

use bytes::{BufMut, BytesMut};

use super::{Frame, Protocol};

pub fn encode(frame: &Frame, protocol: Protocol, out: &mut BytesMut) {
    match frame {
        Frame::Simple(text) => line(out, b'+', text.as_bytes()),
        Frame::Error(text) => line(out, b'-', text.as_bytes()),
        Frame::Integer(value) => line(out, b':', value.to_string().as_bytes()),
        Frame::Bulk(bytes) => bulk(out, bytes),
        Frame::Null if protocol == Protocol::Resp3 => out.put_slice(b"_\r\n"),
        Frame::Null => out.put_slice(b"$-1\r\n"),
        Frame::NullArray if protocol == Protocol::Resp3 => out.put_slice(b"_\r\n"),
        Frame::NullArray => out.put_slice(b"*-1\r\n"),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            line(out, b'*', items.len().to_string().as_bytes());
            for item in items {
                encode(item, protocol, out);
            }
        }
        Frame::Map(pairs) => {
            line(out, b'*', (pairs.len() * 2).to_string().as_bytes());
            for (key, value) in pairs {
                encode(key, protocol, out);
                encode(value, protocol, out);
            }
        }
        Frame::Double(value) => bulk(out, value.to_string().as_bytes()),
        Frame::Boolean(value) => line(out, b':', if *value { b"1" } else { b"0" }),
        Frame::Verbatim { text, .. } => bulk(out, text),
    }
}

fn line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.put_u8(prefix);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, bytes: &[u8]) {
    line(out, b'$', bytes.len().to_string().as_bytes());
    out.put_slice(bytes);
    out.put_slice(b"\r\n");
}
