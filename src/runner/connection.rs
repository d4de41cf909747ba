//! One connection to the server, plain or TLS, read line by line with every read
//! bounded in time (a deadline per step) and in size (a maximum line length).
//! Lines stay in the buffer until the step is over, so a `one_of` can rewind and
//! try its next alternative on the same bytes.

use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Between STLS and the end of the handshake, or after a failed handshake.
    Gone,
}

/// A line as it arrived, without its terminator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub bytes: Vec<u8>,
    /// `false` when the line ended with a bare LF.
    pub crlf: bool,
}

/// What waiting for a line produced.
#[derive(Debug)]
pub enum ReadEvent {
    Line(Line),
    /// The server closed (or reset) the connection; `partial` is what came of an unfinished line.
    Closed {
        partial: Vec<u8>,
        reset: Option<String>,
    },
    /// The deadline passed; `partial` is what came of an unfinished line.
    Timeout {
        partial: Vec<u8>,
    },
    /// More than the line limit arrived without a line feed.
    TooLong {
        prefix: Vec<u8>,
    },
}

pub struct Connection {
    io: Transport,
    buf: Vec<u8>,
    /// Start of the unread part of `buf`.
    pos: usize,
    eof: Option<Option<String>>,
    /// How a TLS session ended: with the server's close_notify (true) or with
    /// TCP closing under it (false); None while open or without TLS.
    tls_close_notify: Option<bool>,
    max_line: usize,
    /// A `one_of` may rewind to a mark and read the same bytes again; until
    /// it ends, what was read must stay in the buffer.
    rewindable: bool,
}

const CHUNK: usize = 16 * 1024;

impl Connection {
    pub fn new(stream: TcpStream, max_line: usize) -> Self {
        let _ = stream.set_nodelay(true);
        Connection {
            io: Transport::Plain(stream),
            buf: Vec::new(),
            pos: 0,
            eof: None,
            tls_close_notify: None,
            max_line,
            rewindable: false,
        }
    }

    /// Keeps read bytes for `rewind` (or stops keeping them); returns the
    /// previous setting, for nesting.
    pub fn set_rewindable(&mut self, on: bool) -> bool {
        std::mem::replace(&mut self.rewindable, on)
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.io, Transport::Tls(_))
    }

    /// Whether the server ended the TLS session with a close_notify alert
    /// before closing TCP (RFC 8314 §3.4); None until a TLS session has ended.
    pub fn tls_close_notify(&self) -> Option<bool> {
        self.tls_close_notify
    }

    pub fn is_closed(&self) -> bool {
        self.eof.is_some() || matches!(self.io, Transport::Gone)
    }

    /// Whether the peer has closed, or closes within `look` (bytes that
    /// arrive instead are kept unread): how the runner tells a close after
    /// `-ERR`, which RFC 1939 §4 allows, from a session that goes on.
    pub async fn closed_within(&mut self, look: Duration) -> bool {
        self.is_closed() || self.wait_for_bytes(Instant::now() + look).await.is_err()
    }

    /// The read position, for `rewind`.
    pub fn mark(&self) -> usize {
        self.pos
    }

    pub fn rewind(&mut self, mark: usize) {
        self.pos = mark.min(self.buf.len());
    }

    /// Forgets what was read; called between steps so the buffer stays small.
    pub fn compact(&mut self) {
        self.buf.drain(..self.pos);
        self.pos = 0;
    }

    /// Discards everything buffered, read or not.
    pub fn compact_all(&mut self) {
        self.buf.clear();
        self.pos = 0;
    }

    pub fn unread(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.io {
            Transport::Plain(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Transport::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Transport::Gone => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "connection is closed",
            )),
        }
    }

    /// Reads more bytes into the buffer. Ok(false) at end of stream.
    async fn fill(&mut self, deadline: Instant) -> Result<bool, FillError> {
        if let Some(reset) = &self.eof {
            return Err(FillError::Closed(reset.clone()));
        }
        // `timeout_at` polls the read before the timer, so a server that always
        // has data ready would never time out: the deadline is checked first.
        if Instant::now() >= deadline {
            return Err(FillError::Timeout);
        }
        let mut chunk = [0u8; CHUNK];
        let read = async {
            match &mut self.io {
                Transport::Plain(s) => s.read(&mut chunk).await,
                Transport::Tls(s) => s.read(&mut chunk).await,
                Transport::Gone => Ok(0),
            }
        };
        match tokio::time::timeout_at(deadline, read).await {
            Err(_) => Err(FillError::Timeout),
            Ok(Ok(0)) => {
                // rustls reports end of stream only after a close_notify.
                if self.is_tls() {
                    self.tls_close_notify = Some(true);
                }
                self.eof = Some(None);
                Ok(false)
            }
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Ok(Err(e)) => {
                if self.is_tls() && e.kind() == io::ErrorKind::UnexpectedEof {
                    self.tls_close_notify = Some(false);
                }
                self.eof = Some(Some(e.to_string()));
                Err(FillError::Closed(Some(e.to_string())))
            }
        }
    }

    pub async fn read_line(&mut self, deadline: Instant) -> ReadEvent {
        loop {
            let unread = &self.buf[self.pos..];
            if let Some(i) = unread.iter().position(|&b| b == b'\n') {
                let raw = &unread[..i];
                let (bytes, crlf) = match raw.last() {
                    Some(b'\r') => (raw[..raw.len() - 1].to_vec(), true),
                    _ => (raw.to_vec(), false),
                };
                self.pos += i + 1;
                return ReadEvent::Line(Line { bytes, crlf });
            }
            if unread.len() > self.max_line {
                let prefix = unread[..256.min(unread.len())].to_vec();
                self.pos = self.buf.len();
                return ReadEvent::TooLong { prefix };
            }
            match self.fill(deadline).await {
                Ok(true) => {}
                Ok(false) | Err(FillError::Closed(_)) => {
                    let partial = self.buf[self.pos..].to_vec();
                    self.pos = self.buf.len();
                    let reset = self.eof.clone().flatten();
                    return ReadEvent::Closed { partial, reset };
                }
                Err(FillError::Timeout) => {
                    return ReadEvent::Timeout {
                        partial: self.buf[self.pos..].to_vec(),
                    }
                }
            }
        }
    }

    /// Waits until `deadline` for any byte. Returns what arrived (empty on timeout),
    /// or Err when the connection closed first.
    pub async fn wait_for_bytes(&mut self, deadline: Instant) -> Result<Vec<u8>, Option<String>> {
        if !self.unread().is_empty() {
            return Ok(self.unread().to_vec());
        }
        match self.fill(deadline).await {
            Ok(true) => Ok(self.unread().to_vec()),
            Ok(false) => Err(None),
            Err(FillError::Closed(reset)) => Err(reset),
            Err(FillError::Timeout) => Ok(Vec::new()),
        }
    }

    /// Waits until at least `n` bytes are unread (or the deadline passes, or
    /// the server closes) and returns them without consuming them, with
    /// `Some(reset)` when the connection ended.
    pub async fn peek_at_least(
        &mut self,
        n: usize,
        deadline: Instant,
    ) -> (Vec<u8>, Option<Option<String>>) {
        loop {
            if self.unread().len() >= n {
                return (self.unread().to_vec(), None);
            }
            match self.fill(deadline).await {
                Ok(true) => {}
                Ok(false) => return (self.unread().to_vec(), Some(None)),
                Err(FillError::Closed(reset)) => return (self.unread().to_vec(), Some(reset)),
                Err(FillError::Timeout) => return (self.unread().to_vec(), None),
            }
        }
    }

    /// Switches to TLS after `+OK` to STLS. Anything the server sent after that
    /// `+OK` and before the handshake would be plaintext injected into the TLS
    /// session, so it is an error here rather than silently dropped.
    pub async fn start_tls(
        &mut self,
        connector: &TlsConnector,
        name: rustls::pki_types::ServerName<'static>,
        deadline: Instant,
    ) -> Result<(), String> {
        if !self.unread().is_empty() {
            return Err(format!(
                "the server sent {} byte(s) after the STLS response, before the TLS handshake",
                self.unread().len()
            ));
        }
        let Transport::Plain(stream) = std::mem::replace(&mut self.io, Transport::Gone) else {
            return Err("TLS is already active on this connection".into());
        };
        self.buf.clear();
        self.pos = 0;
        match tokio::time::timeout_at(deadline, connector.connect(name, stream)).await {
            Err(_) => Err("the TLS handshake did not finish within the step timeout".into()),
            Ok(Err(e)) => Err(super::tls::explain_handshake_error(&e)),
            Ok(Ok(tls)) => {
                self.io = Transport::Tls(Box::new(tls));
                Ok(())
            }
        }
    }

    /// Closes without QUIT, as a client that lost its connection would.
    pub async fn drop_connection(&mut self) {
        match std::mem::replace(&mut self.io, Transport::Gone) {
            Transport::Plain(mut s) => {
                let _ = s.shutdown().await;
            }
            Transport::Tls(s) => {
                let (mut tcp, _) = s.into_inner();
                let _ = tcp.shutdown().await;
            }
            Transport::Gone => {}
        }
        self.eof = Some(None);
    }
}

/// A multi-line body held as its unstuffed lines, each followed by a `\n`
/// (a line never holds one): memory stays proportional to the octets read,
/// however many lines a server sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Body {
    data: Vec<u8>,
    count: usize,
    /// Unstuffed octets with CRLF line ends, as RFC 1939 counts them.
    octets: usize,
}

impl Body {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn octets(&self) -> usize {
        self.octets
    }

    pub fn lines(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.data.split(|&b| b == b'\n').take(self.count)
    }

    fn push(&mut self, unstuffed: &[u8]) {
        self.data.extend_from_slice(unstuffed);
        self.data.push(b'\n');
        self.count += 1;
        self.octets += unstuffed.len() + 2;
    }
}

/// How reading a multi-line body ended.
#[derive(Debug)]
pub enum BodyEnd {
    /// The terminating `.` line; `crlf` is false when it ended with a bare LF.
    Dot { crlf: bool },
    /// A body line ended with a bare LF (only when CRLF is required); the
    /// line, still stuffed, is not in the body.
    BareLf(Vec<u8>),
    /// The body grew past the limit; nothing after the limit was kept.
    OverLimit,
    /// Closed, timed out or an over-long line before the `.` line.
    Broken(ReadEvent),
}

impl Connection {
    /// Reads the body of a multi-line response (after its status line) up to
    /// and including the terminating `.` line, within `deadline`. Every
    /// multi-line read goes through here, so `max_body` bounds the memory any
    /// peer can make the harness use. `crlf_required` stops at a body line
    /// ending in a bare LF (a verdict for the scenarios, accepted elsewhere).
    pub async fn read_body(
        &mut self,
        deadline: Instant,
        max_body: usize,
        crlf_required: bool,
    ) -> (Body, BodyEnd) {
        let mut body = Body::default();
        loop {
            let line = match self.read_line(deadline).await {
                ReadEvent::Line(l) => l,
                other => return (body, BodyEnd::Broken(other)),
            };
            if line.bytes == b"." {
                return (body, BodyEnd::Dot { crlf: line.crlf });
            }
            if crlf_required && !line.crlf {
                return (body, BodyEnd::BareLf(line.bytes));
            }
            let unstuffed = line.bytes.strip_prefix(b".").unwrap_or(&line.bytes);
            if body.octets + unstuffed.len() + 2 > max_body {
                return (body, BodyEnd::OverLimit);
            }
            body.push(unstuffed);
            // The body holds the lines now: unless a `one_of` may rewind,
            // the raw bytes need not be kept twice.
            if !self.rewindable && self.pos > CHUNK {
                self.compact();
            }
        }
    }
}

enum FillError {
    Timeout,
    Closed(Option<String>),
}

/// Printable form of server or client bytes: CR, LF, TAB and other control
/// characters, and invalid UTF-8, are shown as escapes, never raw.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_shows_controls_and_bad_utf8() {
        assert_eq!(escape(b"+OK a\x00b\x1b\xff\r"), "+OK a\\x00b\\x1b\\xff\\r");
        assert_eq!(escape("é".as_bytes()), "é");
    }
}
