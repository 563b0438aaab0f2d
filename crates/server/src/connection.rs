//! The socket side of one client: a read buffer that requests are parsed out
//! of, and a write buffer that replies are encoded into.
//!
//! This is the only type that touches the `TcpStream`. Pipelining falls out of
//! the shape: [`crate::session`] takes every complete request out of the read
//! buffer, encodes all their replies into the write buffer, and calls
//! [`Connection::flush`] once, so a pipeline of N commands costs one `read` and
//! one `write` system call, not N of each.
//!
//! Memory is bounded per connection: the read buffer never grows past
//! `max_buffer` (the request parser also refuses lengths above the configured
//! limits before anything is reserved), and both buffers shrink back after a
//! large request or reply so an idle connection holds only a few KiB.

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::frame::{Frame, Proto};
use crate::parse::{Limits, ProtocolError, Request, RequestParser};

/// Initial and idle capacity of each buffer.
const INITIAL: usize = 16 * 1024;

/// Most bytes reserved beyond what has arrived.
const MAX_AHEAD: usize = 1024 * 1024;

/// Buffers larger than this are replaced by fresh small ones once empty.
const SHRINK_ABOVE: usize = 256 * 1024;

/// What reading from the socket produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Fill {
    /// Some bytes arrived.
    Data(usize),
    /// The peer closed its side.
    Eof,
    /// The read buffer is full and still holds no complete request.
    BufferFull,
}

/// One client's socket and buffers. `S` is the socket: a tokio `TcpStream`
/// while the connection is served, a std one ([`Detached`]) while it is in no
/// reactor (accepted and not yet on a thread, or moving between threads).
pub struct Connection<S = TcpStream> {
    stream: S,
    /// Bytes received but not yet parsed into requests.
    rbuf: BytesMut,
    /// Encoded replies not yet written.
    wbuf: BytesMut,
    /// Splits requests off `rbuf` (and remembers progress in a partial one).
    parser: RequestParser,
    /// Cap on `rbuf`.
    max_buffer: usize,
    /// Bytes the request at the front of `rbuf` needs in total, when known;
    /// lets a large bulk argument be read with one reservation.
    need: usize,
    /// A duplicate of the socket's descriptor that the writer thread writes
    /// replies through ([`crate::direct`]); made at first use.
    lendable: Option<Arc<std::net::TcpStream>>,
}

/// A connection whose socket is in no reactor; non-blocking, as
/// `TcpStream::into_std` leaves it.
pub type Detached = Connection<std::net::TcpStream>;

impl<S> Connection<S> {
    /// The same connection, buffers and all, over another form of its socket.
    fn with_stream<T>(self, f: impl FnOnce(S) -> io::Result<T>) -> io::Result<Connection<T>> {
        Ok(Connection {
            stream: f(self.stream)?,
            rbuf: self.rbuf,
            wbuf: self.wbuf,
            parser: self.parser,
            max_buffer: self.max_buffer,
            need: self.need,
            lendable: self.lendable,
        })
    }
}

impl Detached {
    /// Wraps a socket taken out of the accepting thread's reactor.
    pub fn new(stream: std::net::TcpStream, limits: Limits, max_buffer: usize) -> Detached {
        Connection {
            stream,
            rbuf: BytesMut::with_capacity(INITIAL),
            wbuf: BytesMut::with_capacity(INITIAL),
            parser: RequestParser::new(limits),
            max_buffer,
            need: 0,
            lendable: None,
        }
    }

    /// Registers the socket with the reactor of the runtime this is called
    /// on. Bytes that arrived meanwhile wait in the socket, and bytes already
    /// read wait in the read buffer, so nothing is lost on the way.
    pub fn attach(self) -> io::Result<Connection> {
        self.with_stream(TcpStream::from_std)
    }
}

impl Connection {
    /// The next complete request in the read buffer, if any. Zero-length
    /// requests (`*0`, blank inline lines) come back as empty vectors.
    pub fn next_request(&mut self, authenticated: bool) -> Result<Option<Request>, ProtocolError> {
        let mut need = 0;
        let req = self.parser.next(&mut self.rbuf, authenticated, &mut need)?;
        self.need = need;
        Ok(req)
    }

    /// Reads more bytes from the socket into the read buffer.
    pub async fn fill(&mut self) -> io::Result<Fill> {
        if self.rbuf.is_empty() && self.rbuf.capacity() > SHRINK_ABOVE {
            self.rbuf = BytesMut::with_capacity(INITIAL);
        }
        let len = self.rbuf.len();
        if len >= self.max_buffer {
            return Ok(Fill::BufferFull);
        }
        // Reserve for the pending argument when its size is known, else a
        // normal chunk; never past the cap, and never more than 1 MiB ahead of
        // what has arrived, so a client that only *claims* a 512 MiB argument
        // does not get 512 MiB reserved (BytesMut still grows by doubling, so
        // a real large argument costs amortized O(n) copies).
        let want = self.need.saturating_sub(len).clamp(INITIAL, MAX_AHEAD);
        let want = want.min(self.max_buffer - len);
        self.rbuf.reserve(want);
        let n = self.stream.read_buf(&mut self.rbuf).await?;
        Ok(if n == 0 { Fill::Eof } else { Fill::Data(n) })
    }

    /// Encodes a reply into the write buffer.
    pub fn push(&mut self, frame: &Frame, proto: Proto) {
        frame.encode(proto, &mut self.wbuf);
    }

    /// Queues bytes already encoded (a reply the writer handed back).
    pub fn push_encoded(&mut self, bytes: &[u8]) {
        self.wbuf.extend_from_slice(bytes);
    }

    /// A handle on this socket for the writer thread to write replies
    /// through, or `None` if the descriptor cannot be duplicated (then the
    /// session writes its replies itself).
    pub fn lendable(&mut self) -> Option<Arc<std::net::TcpStream>> {
        if self.lendable.is_none() {
            let dup = self.stream.as_fd().try_clone_to_owned().ok()?;
            let socket = std::net::TcpStream::from(dup);
            // Shared with the original, but the writer must never block on
            // one client, so say it rather than rely on it.
            socket.set_nonblocking(true).ok()?;
            self.lendable = Some(Arc::new(socket));
        }
        self.lendable.clone()
    }

    /// Bytes waiting in the write buffer.
    pub fn pending_output(&self) -> usize {
        self.wbuf.len()
    }

    /// Writes out everything encoded so far, in one `write_all`.
    pub async fn flush(&mut self) -> io::Result<usize> {
        let n = self.wbuf.len();
        if n == 0 {
            return Ok(0);
        }
        self.stream.write_all(&self.wbuf).await?;
        self.wbuf.clear();
        if self.wbuf.capacity() > SHRINK_ABOVE {
            self.wbuf = BytesMut::with_capacity(INITIAL);
        }
        Ok(n)
    }

    /// Takes the socket out of this thread's reactor, keeping the buffers, so
    /// the connection can move to another thread (see [`crate::pool`]).
    pub fn detach(self) -> io::Result<Detached> {
        self.with_stream(TcpStream::into_std)
    }

    /// Flushes and half-closes, so the client sees every reply before EOF.
    pub async fn close(&mut self) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }
}
