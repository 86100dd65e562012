//! A client's byte stream: plain TCP, or TLS over TCP. The connection code reads and writes a
//! [`ClientStream`] and never asks which one it has, so the protocol has one code path.
//!
//! An enum rather than a generic parameter or a trait object: the connection type and its
//! child modules stay free of a type parameter, and a read or a write costs one branch.
//!
//! Invariant: after writing, [`ClientStream::flush`] must be called. A TLS write may leave
//! encrypted bytes in the session when the socket is full, and only a flush sends them; for
//! plain TCP it does nothing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// How long a TLS close may take to send its last bytes.
pub const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// A client connection's stream.
#[derive(Debug)]
pub enum ClientStream {
    /// The plain client port.
    Plain(TcpStream),
    /// The TLS port, after the handshake.
    Tls(Box<TlsStream<TcpStream>>),
}

impl ClientStream {
    /// The TCP socket under the stream.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ClientStream::Plain(stream) => stream,
            ClientStream::Tls(stream) => stream.get_ref().0,
        }
    }

    /// Ends the stream cleanly. On TLS that sends what is buffered and the `close_notify`
    /// alert (without it a client cannot tell a close from a cut), for at most
    /// [`CLOSE_TIMEOUT`], so that a client which does not read cannot hold the task; plain
    /// TCP needs nothing before the socket is dropped.
    pub async fn close(&mut self) {
        if let ClientStream::Tls(stream) = self {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, stream.shutdown()).await;
        }
    }

    /// Whether the client closed its side, judged without waiting. Bytes that arrived on a
    /// plain socket are moved into `input` (a request that came meanwhile), up to `limit`.
    ///
    /// On TLS the bytes are records only the session can read, and the session reads through
    /// the normal path; here the socket is only peeked at, so a closed socket whose last bytes
    /// are still unread (a `close_notify` alert, say) counts as open. The caller then finds
    /// out by its next read or write, as for a client that closes a moment later.
    pub fn client_gone(&mut self, input: &mut BytesMut, limit: usize) -> bool {
        match self {
            ClientStream::Plain(stream) => plain_client_gone(stream, input, limit),
            ClientStream::Tls(stream) => peeked_closed(stream.get_ref().0),
        }
    }
}

/// [`ClientStream::client_gone`] on a plain socket: reads it straight from the kernel.
#[allow(unsafe_code)]
fn plain_client_gone(stream: &TcpStream, input: &mut BytesMut, limit: usize) -> bool {
    use std::os::fd::AsRawFd;
    let descriptor = stream.as_raw_fd();
    loop {
        if input.len() > limit {
            // The connection closes for its query buffer once the reply is written; until
            // then it is there.
            return false;
        }
        input.reserve(4096);
        let spare = input.spare_capacity_mut();
        // SAFETY: recv writes at most `spare.len()` bytes into memory the buffer owns and has
        // not initialized yet; the descriptor stays open, owned by `stream`, for the call.
        // MSG_DONTWAIT makes it return at once when nothing is there.
        let read = unsafe {
            libc::recv(descriptor, spare.as_mut_ptr().cast(), spare.len(), libc::MSG_DONTWAIT)
        };
        match read {
            0 => return true,
            read if read > 0 => {
                let length = input.len() + read as usize;
                // SAFETY: recv initialized the `read` bytes after the old length.
                unsafe { input.set_len(length) };
            }
            _ => match io::Error::last_os_error().kind() {
                io::ErrorKind::WouldBlock => return false,
                io::ErrorKind::Interrupted => {}
                _ => return true,
            },
        }
    }
}

/// Whether the socket's reading side is closed with nothing left to read, peeking only.
#[allow(unsafe_code)]
fn peeked_closed(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = [0_u8; 1];
    loop {
        // SAFETY: recv writes at most one byte into `byte`, which lives for the call; MSG_PEEK
        // leaves the byte in the socket for the session to read.
        let read = unsafe {
            libc::recv(
                stream.as_raw_fd(),
                byte.as_mut_ptr().cast(),
                1,
                libc::MSG_DONTWAIT | libc::MSG_PEEK,
            )
        };
        match read {
            0 => return true,
            read if read > 0 => return false,
            _ => match io::Error::last_os_error().kind() {
                io::ErrorKind::WouldBlock => return false,
                io::ErrorKind::Interrupted => {}
                _ => return true,
            },
        }
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(stream) => Pin::new(stream).poll_read(context, buffer),
            ClientStream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(context, buffer),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(stream) => Pin::new(stream).poll_write(context, buffer),
            ClientStream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(context, buffer),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(stream) => Pin::new(stream).poll_flush(context),
            ClientStream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(context),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(stream) => Pin::new(stream).poll_shutdown(context),
            ClientStream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(context),
        }
    }
}
