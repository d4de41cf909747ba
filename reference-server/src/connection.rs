//! Line framing over a plain or TLS byte stream.
//!
//! POP3 is line based, and a hostile client can send anything: endless
//! lines, NUL bytes, a flood of pipelined commands. Reads are therefore
//! bounded: a line over the limit is consumed up to its LF and reported as
//! `TooLong` so the session can refuse it and go on, and the buffer never
//! holds more than the limit plus one read chunk. The buffer persists
//! between commands (RFC 2449 PIPELINING) except across the STLS handshake,
//! where RFC 2595 requires that nothing sent in plaintext survives.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

const CHUNK: usize = 4096;

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// In-memory stream for fuzzing and property tests (see `crate::fuzzing`).
    Memory(tokio::io::DuplexStream),
    /// Only observed if a TLS upgrade failed half-way; every I/O then errors.
    Gone,
}

pub struct Connection {
    stream: Stream,
    buf: Vec<u8>,
    /// Inside an over-long line: drop bytes until its LF.
    discarding: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// One line without its CRLF (or bare LF).
    Line(Vec<u8>),
    /// A line longer than the limit was consumed and must be refused.
    TooLong,
    Eof,
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "stream lost during TLS upgrade",
    )
}

impl Connection {
    pub fn plain(s: TcpStream) -> Self {
        Connection {
            stream: Stream::Plain(s),
            buf: Vec::with_capacity(512),
            discarding: false,
        }
    }

    pub fn tls(s: TlsStream<TcpStream>) -> Self {
        Connection {
            stream: Stream::Tls(Box::new(s)),
            buf: Vec::with_capacity(512),
            discarding: false,
        }
    }

    /// A connection over an in-memory pipe; it never upgrades to TLS.
    #[doc(hidden)]
    pub fn memory(s: tokio::io::DuplexStream) -> Self {
        Connection {
            stream: Stream::Memory(s),
            buf: Vec::with_capacity(512),
            discarding: false,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Bytes received but not yet consumed as lines.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Forget pipelined input (STLS, and the `pipelining-drops-buffered` fault).
    pub fn discard_buffer(&mut self) {
        self.buf.clear();
        self.discarding = false;
    }

    /// The client_version of a TLS ClientHello waiting on the plain socket,
    /// looked at without consuming it (for the `accepts-tls10` fault only).
    pub async fn peek_client_hello_version(&mut self, timeout: Duration) -> Option<u16> {
        let Stream::Plain(s) = &mut self.stream else {
            return None;
        };
        let mut head = [0u8; 11];
        let peeked = tokio::time::timeout(timeout, async {
            loop {
                match s.peek(&mut head).await {
                    Ok(n) if n >= head.len() => return true,
                    Ok(0) | Err(_) => return false,
                    Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        })
        .await;
        (peeked == Ok(true) && head[0] == 0x16 && head[5] == 1)
            .then(|| u16::from_be_bytes([head[9], head[10]]))
    }

    async fn read_some(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; CHUNK];
        let n = match &mut self.stream {
            Stream::Plain(s) => s.read(&mut chunk).await?,
            Stream::Tls(s) => s.read(&mut chunk).await?,
            Stream::Memory(s) => s.read(&mut chunk).await?,
            Stream::Gone => return Err(gone()),
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Read one line of at most `max` octets including its line end.
    pub async fn read_line(&mut self, max: usize) -> io::Result<Line> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                if self.discarding {
                    self.discarding = false;
                    return Ok(Line::TooLong);
                }
                if line.len() > max {
                    return Ok(Line::TooLong);
                }
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Line::Line(line));
            }
            if self.discarding {
                self.buf.clear();
            } else if self.buf.len() >= max {
                self.discarding = true;
                self.buf.clear();
            }
            if self.read_some().await? == 0 {
                return Ok(Line::Eof);
            }
        }
    }

    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.stream {
            Stream::Plain(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Stream::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Stream::Memory(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Stream::Gone => Err(gone()),
        }
    }

    /// STLS: run the server side of the TLS handshake on the same socket.
    /// `keep_buffer` exists only for the `stls-buffer-carryover` fault.
    pub async fn upgrade(
        &mut self,
        config: Arc<rustls::ServerConfig>,
        timeout: Duration,
        keep_buffer: bool,
    ) -> io::Result<()> {
        if !keep_buffer {
            self.discard_buffer();
        }
        let tcp = match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(s) => s,
            other => {
                self.stream = other;
                return Err(io::Error::other("TLS already active"));
            }
        };
        let acceptor = TlsAcceptor::from(config);
        let tls = tokio::time::timeout(timeout, acceptor.accept(tcp))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        self.stream = Stream::Tls(Box::new(tls));
        Ok(())
    }

    /// Ends the connection; a TLS session first sends its close_notify
    /// (RFC 8314 §3.4) unless `close_notify` is false (a fault switch).
    pub async fn shutdown(&mut self, close_notify: bool) {
        let _ = match &mut self.stream {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) if !close_notify => s.get_mut().0.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
            Stream::Memory(s) => s.shutdown().await,
            Stream::Gone => Ok(()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn pair() -> (Connection, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        (Connection::plain(server), client)
    }

    #[tokio::test]
    async fn endless_line_is_refused_with_bounded_memory() {
        let (mut conn, mut client) = pair().await;
        let writer = tokio::spawn(async move {
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..64 {
                client.write_all(&chunk).await.unwrap();
            }
            client.write_all(b"\r\nNOOP\r\nSTAT").await.unwrap();
            client.shutdown().await.unwrap();
        });
        assert_eq!(conn.read_line(255).await.unwrap(), Line::TooLong);
        assert!(
            conn.buf.capacity() <= 255 + 2 * CHUNK,
            "{}",
            conn.buf.capacity()
        );
        assert_eq!(
            conn.read_line(255).await.unwrap(),
            Line::Line(b"NOOP".to_vec())
        );
        // A final line without LF at EOF is not a command.
        assert_eq!(conn.read_line(255).await.unwrap(), Line::Eof);
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn limit_counts_the_line_end() {
        let (mut conn, mut client) = pair().await;
        let ok_line = format!("{}\r\n", "a".repeat(253));
        let long_line = format!("{}\r\n", "a".repeat(254));
        client.write_all(ok_line.as_bytes()).await.unwrap();
        client.write_all(long_line.as_bytes()).await.unwrap();
        client.write_all(b"bare lf\n").await.unwrap();
        assert!(matches!(conn.read_line(255).await.unwrap(), Line::Line(l) if l.len() == 253));
        assert_eq!(conn.read_line(255).await.unwrap(), Line::TooLong);
        assert_eq!(
            conn.read_line(255).await.unwrap(),
            Line::Line(b"bare lf".to_vec())
        );
    }
}
