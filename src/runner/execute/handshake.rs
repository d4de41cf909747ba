//! TLS steps: `tls_handshake` (STLS, RFC 2595) and `tls_legacy_hello`
//! (RFC 8314 §4: a legacy-only ClientHello must be refused).

use super::{Executor, StepResult};
use crate::outcome::Direction;
use crate::runner::connection::escape;
use crate::scenario::Step;
use tokio::time::Instant;

impl Executor<'_> {
    /// `tls_handshake`: TLS negotiated on the open connection (after STLS).
    /// A certificate that does not verify is a set-up error (the trusted
    /// roots are the user's choice) unless the step judges the certificate.
    pub(super) async fn tls_handshake(
        &mut self,
        step: &Step,
        or_close: bool,
        judge_certificate: bool,
        deadline: Instant,
    ) -> StepResult {
        let name =
            crate::runner::tls::server_name(&self.target.host, self.target.tls.sni.as_deref())
                .map_err(|e| self.error(step, e))?;
        let connector = self.target.connector.clone();
        let session = self.session(step)?;
        // Bytes before the handshake are judged by start_tls
        // whatever `or_close` says: plaintext after +OK is wrong.
        let early_bytes = !session.conn.unread().is_empty();
        match session.conn.start_tls(&connector, name, deadline).await {
            Ok(()) => {
                self.rec.push(
                    &step.session,
                    Direction::Note,
                    "TLS handshake complete".into(),
                );
                Ok(None)
            }
            Err(e) => {
                self.rec.push(&step.session, Direction::Note, e.clone());
                if e.contains("did not verify") && judge_certificate {
                    let roots = match &self.target.tls.ca_file {
                        Some(path) => format!("the CA in {}", path.display()),
                        None => "the system's trusted CAs".to_string(),
                    };
                    Err(self.fail(
                        step,
                        format!("the server's certificate does not verify against {roots} for the host name connected to (RFC 8314 §4.4: MSPs MUST maintain valid server certificates)"),
                        vec![format!("a certificate valid for {} from {roots}", self.target.host)],
                        vec![e],
                        false,
                    ))
                } else if e.contains("did not verify") {
                    Err(self.error(step, e))
                } else if or_close && !early_bytes && !e.contains("did not finish") {
                    self.rec.push(&step.session, Direction::Note, "the server ended the connection instead of completing the TLS handshake, which this step accepts; the remaining steps are not run".into());
                    self.finished = true;
                    Ok(None)
                } else {
                    Err(self.fail(step, e, vec![], vec![], false))
                }
            }
        }
    }

    /// RFC 8314 §4: a ClientHello offering only `version` (SSL 3.0 or TLS
    /// 1.0), judged by the first record back; the connection is dropped after.
    pub(super) async fn tls_legacy_hello(
        &mut self,
        step: &Step,
        version: u16,
        deadline: Instant,
    ) -> StepResult {
        use crate::runner::legacy_tls::{client_hello, judge, version_name, Answer, JUDGED_PREFIX};
        let offered = version_name(version);
        let host = self
            .target
            .tls
            .sni
            .clone()
            .unwrap_or_else(|| self.target.host.clone());
        let session = self.session(step)?;
        if session.conn.is_tls() {
            return Err(self.error(
                step,
                "`tls_legacy_hello` needs a plain connection: send STLS and expect +OK first",
            ));
        }
        if !session.conn.unread().is_empty() {
            let early = escape(session.conn.unread());
            return Err(self.fail(
                step,
                "the server sent bytes after the STLS response, before the TLS handshake",
                vec!["<nothing before the handshake>".into()],
                vec![early],
                false,
            ));
        }
        let sent = session.conn.send(&client_hello(version, &host)).await;
        let (bytes, ended) = session.conn.peek_at_least(JUDGED_PREFIX, deadline).await;
        session.conn.drop_connection().await;
        self.rec.push(
            &step.session,
            Direction::Client,
            format!("<TLS ClientHello offering only {offered}>"),
        );
        if !bytes.is_empty() {
            self.rec
                .push(&step.session, Direction::Server, escape(&bytes));
        }
        if sent.is_err() && bytes.is_empty() {
            self.rec.push(
                &step.session,
                Direction::Note,
                "the server closed the connection before the ClientHello".into(),
            );
            return Ok(None);
        }
        let note = |this: &mut Self, text: String| {
            this.rec.push(&step.session, Direction::Note, text);
            Ok(None)
        };
        match judge(&bytes) {
            Answer::ServerHello(v) if v <= version => Err(self.fail(
                step,
                format!("the server accepted a handshake offering only {offered}: its ServerHello selects {}", version_name(v)),
                vec!["<a TLS alert or a close>".into()],
                vec![format!("<ServerHello selecting {}>", version_name(v))],
                false,
            )),
            Answer::ServerHello(v) => Err(self.error(
                step,
                format!("the server's ServerHello selects {}, which the ClientHello did not offer: not a TLS exchange this step can judge", version_name(v)),
            )),
            Answer::Alert(level, description) => note(
                self,
                format!("the server refused {offered} with a TLS alert (level {level}, description {description})"),
            ),
            Answer::Other => note(self, format!("the server did not answer the {offered} ClientHello with a TLS handshake")),
            Answer::Incomplete if ended.is_some() => note(self, format!("the server closed the connection on the {offered} ClientHello")),
            Answer::Incomplete => Err(self.error(
                step,
                format!("the server neither answered the {offered} ClientHello nor closed the connection within the step timeout"),
            )),
        }
    }
}
