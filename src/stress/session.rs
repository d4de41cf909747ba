//! One client connection: opening it, and the timed commands a session sends.

use super::report::{Histogram, Latencies};
use crate::runner::connection::{Body, BodyEnd, Connection, ReadEvent};
use crate::runner::target::{OpenError, Target};
use tokio::time::Instant;

pub(super) async fn open(target: &Target) -> Result<(Connection, String), OpenError> {
    let mut quiet = |_: bool, _: String| {};
    let mut conn = target.connect(false).await?;
    let (ok, greeting) = target.read_status(&mut conn, &mut quiet).await?;
    if !ok {
        return Err(OpenError::Protocol(format!(
            "greeting was -ERR: {greeting}"
        )));
    }
    if target.starttls {
        target.upgrade(&mut conn, &mut quiet).await?;
    }
    Ok((conn, greeting))
}

/// One logged-in connection with timing per command.
pub(super) struct Session<'a> {
    pub(super) target: &'a Target,
    pub(super) conn: Connection,
    pub(super) lat: Latencies,
    pub(super) commands: u64,
}

impl<'a> Session<'a> {
    pub(super) fn new(target: &'a Target, conn: Connection) -> Self {
        Session {
            target,
            conn,
            lat: Latencies::new(),
            commands: 0,
        }
    }

    pub(super) fn time(&mut self, name: &'static str, since: Instant) {
        let us = since.elapsed().as_micros() as u64;
        self.lat
            .entry(name)
            .or_insert_with(Histogram::new)
            .record(us);
    }

    pub(super) async fn send(&mut self, line: &str) -> Result<(bool, String), String> {
        let mut quiet = |_: bool, _: String| {};
        self.commands += 1;
        self.conn.compact();
        self.target
            .command(&mut self.conn, line, line, &mut quiet)
            .await
            .map_err(|e| e.message().to_string())
    }

    /// A single-line command, timed under its keyword.
    pub(super) async fn simple(&mut self, line: &str) -> Result<(bool, String), String> {
        let t = Instant::now();
        let r = self.send(line).await;
        self.time(keyword(line), t);
        r
    }

    /// A multi-line command: Ok(None) on -ERR, else the unstuffed lines.
    pub(super) async fn multi(&mut self, line: &str) -> Result<Option<Body>, String> {
        let t = Instant::now();
        let (ok, text) = self.send(line).await?;
        if !ok {
            self.time(keyword(line), t);
            let _ = text;
            return Ok(None);
        }
        let deadline = Instant::now() + self.target.timeout;
        let (body, end) = self
            .conn
            .read_body(deadline, self.target.max_body, false)
            .await;
        self.conn.compact();
        match end {
            BodyEnd::Dot { .. } | BodyEnd::BareLf(_) => {}
            BodyEnd::OverLimit => return Err(format!("{line}: response over --max-body")),
            BodyEnd::Broken(ReadEvent::Closed { .. }) => {
                return Err(format!("{line}: connection closed inside the response"))
            }
            BodyEnd::Broken(ReadEvent::TooLong { .. }) => {
                return Err(format!("{line}: over-long line"))
            }
            BodyEnd::Broken(_) => {
                return Err(format!("{line}: no end of the multi-line response in time"))
            }
        }
        self.time(keyword(line), t);
        Ok(Some(body))
    }

    pub(super) async fn uidl_all(&mut self) -> Result<Vec<(usize, String)>, String> {
        let lines = self
            .multi("UIDL")
            .await?
            .ok_or_else(|| "UIDL was refused".to_string())?;
        let mut out = Vec::new();
        for l in lines.lines() {
            let text = String::from_utf8_lossy(l);
            let mut w = text.split_whitespace();
            match (w.next().and_then(|n| n.parse().ok()), w.next()) {
                (Some(n), Some(u)) => out.push((n, u.to_string())),
                _ => return Err(format!("malformed UIDL line `{text}`")),
            }
        }
        Ok(out)
    }
}

pub(super) fn keyword(line: &str) -> &'static str {
    match line.split(' ').next().unwrap_or("") {
        "STAT" => "STAT",
        "LIST" => "LIST",
        "UIDL" => "UIDL",
        "RETR" => "RETR",
        "TOP" => "TOP",
        "DELE" => "DELE",
        "RSET" => "RSET",
        "NOOP" => "NOOP",
        "QUIT" => "QUIT",
        _ => "other",
    }
}
