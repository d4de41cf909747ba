//! The verdict on a client scenario, from what the client sent (the command
//! log of every connection) and what it stored. Each check names the RFC
//! rule through the scenario's requirement and the step or verdict line it
//! comes from; a should-level miss is graded like on the server side.

use super::play::{Message, ScenarioLog};
use super::scenario::{ClientScenario, Credentials, Deleted, IfMissing, Stored};
use super::store::{self, StoredMessage};
use crate::outcome::{Finding, Level, Outcome, SourcePos};

/// How the client process ended.
#[derive(Clone, Debug)]
pub enum ClientEnd {
    /// It exited by itself with this status text.
    Exited(String),
    /// It was still running at the deadline and was ended.
    Hung,
    /// Started by hand (--listen): not ours to watch.
    Unknown,
    /// It exited with 77: it cannot be configured as the scenario asks.
    CannotConfigure,
}

pub struct Evidence<'a> {
    pub log: &'a ScenarioLog,
    pub stored: Result<Vec<StoredMessage>, String>,
    pub fixture: &'a [Message],
    pub end: ClientEnd,
    pub client_output: String,
}

fn finding(
    message: impl Into<String>,
    step: Option<SourcePos>,
    scenario: &ClientScenario,
) -> Finding {
    let snippet = step
        .as_ref()
        .map(|p| crate::scenario::diagnostic::snippet(&scenario.source, p.line, p.column));
    Finding {
        message: message.into(),
        step,
        snippet,
        ..Finding::default()
    }
}

/// (outcome, reason, finding).
pub fn judge(
    s: &ClientScenario,
    ev: &Evidence<'_>,
    strict: bool,
) -> (Outcome, Option<String>, Option<Finding>) {
    let log = ev.log;
    let output_hint = if ev.client_output.trim().is_empty() {
        String::new()
    } else {
        format!(
            "; the client's last output: {}",
            last_lines(&ev.client_output, 3)
        )
    };
    if log.connections.is_empty() {
        if let ClientEnd::CannotConfigure = ev.end {
            return (
                Outcome::Skipped,
                Some(format!(
                    "the client command exited with 77: it cannot be configured as this scenario asks (TLS {}, auth {}, delete {}){output_hint}",
                    s.client.tls.as_str(),
                    s.client.auth,
                    s.client.delete
                )),
                None,
            );
        }
        let why = match &ev.end {
            ClientEnd::CannotConfigure => "the client command exited with 77".to_string(),
            ClientEnd::Hung => "the client never connected before the deadline".to_string(),
            ClientEnd::Exited(status) => format!("the client ended ({status}) without connecting"),
            ClientEnd::Unknown => "no client connected before the deadline".to_string(),
        };
        return (
            Outcome::Error,
            Some(why.clone()),
            Some(finding(
                format!("{why}{output_hint}; check the client command"),
                None,
                s,
            )),
        );
    }
    let mut failures: Vec<Finding> = Vec::new();
    let mut skip: Option<String> = None;

    if let Some((pos, pattern, if_missing, why)) = &log.connections[0].unmet {
        let text = format!(
            "the client never sent a command matching /{pattern}/{}",
            why.as_ref().map(|w| format!(" ({w})")).unwrap_or_default()
        );
        match if_missing {
            IfMissing::Fail => failures.push(finding(text, Some(pos.clone()), s)),
            IfMissing::Pass => {}
            IfMissing::Skip => {
                skip = Some(format!(
                    "{text}: the client does not take the path this scenario tests"
                ))
            }
        }
    }
    let v = &s.verdict;
    let credential = |k: &str| matches!(k, "PASS" | "APOP" | "AUTH");
    match v.credentials {
        Credentials::Never => {
            if let Some(c) = log.commands.iter().find(|c| credential(&c.keyword)) {
                failures.push(Finding {
                    command: Some(c.text.clone()),
                    ..finding(
                        format!(
                            "the client sent credentials ({} on connection {}{}) where it must not send any",
                            c.keyword,
                            c.connection,
                            if c.tls { ", over TLS" } else { ", in the clear" }
                        ),
                        None,
                        s,
                    )
                });
            }
        }
        Credentials::TlsOnly => {
            if let Some(c) = log
                .commands
                .iter()
                .find(|c| credential(&c.keyword) && !c.tls)
            {
                failures.push(Finding {
                    command: Some(c.text.clone()),
                    ..finding(
                        format!("the client sent {} in the clear on connection {} although it was told to use TLS", c.keyword, c.connection),
                        None,
                        s,
                    )
                });
            }
        }
        Credentials::Any => {}
    }
    for rule in &v.forbid {
        if let Some(c) = log.commands.iter().find(|c| rule.command.is_match(&c.text)) {
            failures.push(Finding {
                command: Some(c.text.clone()),
                ..finding(
                    format!("the client sent `{}`: {}", c.text, rule.why),
                    Some(rule.pos.clone()),
                    s,
                )
            });
        }
    }
    for rule in &v.require {
        if !log.commands.iter().any(|c| rule.command.is_match(&c.text)) {
            failures.push(finding(
                format!(
                    "the client never sent a command matching /{}/: {}",
                    rule.command.as_str().trim_start_matches("(?i)"),
                    rule.why
                ),
                Some(rule.pos.clone()),
                s,
            ));
        }
    }
    if let Some((i, (pos, sent))) = log
        .connections
        .iter()
        .enumerate()
        .find_map(|(i, c)| c.spoke_early.as_ref().map(|e| (i, e)))
    {
        failures.push(finding(
            format!(
                "on connection {} the client sent `{sent}` before its command was answered: it took something else (injected plaintext?) for the answer and is out of step",
                i + 1
            ),
            Some(pos.clone()),
            s,
        ));
    }
    if v.no_commands_during_stls {
        if let Some((i, sent)) = log
            .connections
            .iter()
            .enumerate()
            .find_map(|(i, c)| c.sent_during_stls.as_ref().map(|s| (i, s)))
        {
            failures.push(finding(
                format!("on connection {} the client sent `{sent}` after STLS before the TLS negotiation was complete", i + 1),
                None,
                s,
            ));
        }
    }
    if v.quit && !log.connections.iter().any(|c| c.quit) {
        failures.push(finding(
            "the client never sent QUIT: without it the server does not enter the UPDATE state (RFC 1939 §6)",
            None,
            s,
        ));
    }
    if matches!(v.deleted, Deleted::All | Deleted::Retrieved) && !log.deleted_unread.is_empty() {
        failures.push(finding(
            format!(
                "the client marked message(s) {:?} for deletion before retrieving them on that connection",
                log.deleted_unread
            ),
            None,
            s,
        ));
    }
    match v.deleted {
        Deleted::None => {
            if let Some(c) = log.commands.iter().find(|c| c.keyword == "DELE") {
                failures.push(Finding {
                    command: Some(c.text.clone()),
                    ..finding("the client sent DELE although it was told to keep the messages on the server", None, s)
                });
            }
        }
        Deleted::All => {
            let missing: Vec<usize> = (1..=ev.fixture.len())
                .filter(|n| !log.removed.contains(n))
                .collect();
            if !missing.is_empty() {
                let dele_sent = log.commands.iter().any(|c| c.keyword == "DELE");
                failures.push(finding(
                    if dele_sent {
                        format!("message(s) {missing:?} were not removed: the client sent DELE but no QUIT after it, so the server never entered UPDATE (RFC 1939 §6)")
                    } else {
                        format!("message(s) {missing:?} were not removed: the client was told to delete after downloading but sent no DELE")
                    },
                    None,
                    s,
                ));
            }
        }
        Deleted::Retrieved => {
            let unmarked: Vec<usize> = log
                .connections
                .iter()
                .enumerate()
                .flat_map(|(i, c)| {
                    c.retrieved.iter().copied().filter(move |n| {
                        !log.commands.iter().any(|cmd| {
                            cmd.connection == i + 1
                                && cmd.keyword == "DELE"
                                && cmd.text.split_whitespace().nth(1) == Some(&n.to_string())
                        })
                    })
                })
                .collect();
            if !unmarked.is_empty() {
                failures.push(finding(
                    format!("the client downloaded message(s) {unmarked:?} but sent no DELE for them on that connection, although it was told to delete after downloading"),
                    None,
                    s,
                ));
            }
        }
        Deleted::Unchecked => {}
    }
    if let Some(max) = v.max_connections {
        if log.connections.len() > max as usize {
            let gaps: Vec<String> = log
                .connections
                .windows(2)
                .take(8)
                .map(|w| format!("{} ms", w[1].started_ms.saturating_sub(w[0].started_ms)))
                .collect();
            failures.push(finding(
                format!(
                    "the client connected {} times (at most {max} allowed): it retries in a tight loop; gaps between connections: {}",
                    log.connections.len(),
                    gaps.join(", ")
                ),
                None,
                s,
            ));
        }
    }
    match (&v.stored, &ev.stored) {
        (Stored::Unchecked, _) => {}
        (_, Err(e)) => failures.push(finding(
            format!("cannot read what the client stored: {e}"),
            None,
            s,
        )),
        (Stored::Intact, Ok(stored)) => {
            let fixture: Vec<String> = ev
                .fixture
                .iter()
                .map(|m| store::normalise(&m.stored))
                .collect();
            let c = store::compare(stored, &fixture);
            if let Some(extra) = c.extra.first() {
                failures.push(Finding {
                    actual: extra.text.lines().take(20).map(String::from).collect(),
                    ..finding(
                        format!("the client stored something that is not a complete message of the mailbox ({}; {} such in all)", extra.origin, c.extra.len()),
                        None,
                        s,
                    )
                });
            }
        }
        (Stored::None, Ok(stored)) => {
            if let Some(m) = stored.first() {
                failures.push(Finding {
                    actual: m.text.lines().take(20).map(String::from).collect(),
                    ..finding(
                        format!("the client stored {} message(s) although it should have stored none (first: {})", stored.len(), m.origin),
                        None,
                        s,
                    )
                });
            }
        }
        (want @ (Stored::All | Stored::Only(_)), Ok(stored)) => {
            let wanted: Vec<usize> = match want {
                Stored::Only(list) => list.clone(),
                _ => (1..=ev.fixture.len()).collect(),
            };
            let fixture: Vec<String> = wanted
                .iter()
                .filter_map(|n| ev.fixture.get(n - 1))
                .map(|m| store::normalise(&m.stored))
                .collect();
            let c = store::compare(stored, &fixture);
            if stored.is_empty() && !fixture.is_empty() {
                failures.push(Finding {
                    expected: fixture[0].lines().map(String::from).collect(),
                    ..finding(
                        format!(
                            "the client stored nothing ({} message(s) expected)",
                            fixture.len()
                        ),
                        None,
                        s,
                    )
                });
            } else if let Some((i, closest)) = c.missing.first() {
                let n = &wanted[*i - 1];
                let name = &ev.fixture[*n - 1].name;
                let mut f = finding(
                    format!(
                        "message {n} ({name}) is not among what the client stored ({} of {} stored intact; {} stored file(s)/message(s) in all)",
                        c.found.len(),
                        fixture.len(),
                        stored.len()
                    ),
                    None,
                    s,
                );
                f.expected = fixture[*i - 1].lines().map(String::from).collect();
                if let Some(text) = closest {
                    f.actual = text.lines().map(String::from).collect();
                    f.diffable = true;
                }
                failures.push(f);
            } else if let Some(extra) = c.extra.first() {
                failures.push(Finding {
                    actual: extra.text.lines().take(20).map(String::from).collect(),
                    ..finding(
                        format!("the client stored something that is not a message of the mailbox ({}; {} extra in all)", extra.origin, c.extra.len()),
                        None,
                        s,
                    )
                });
            }
        }
    }
    if v.exit_required {
        if let ClientEnd::Hung = ev.end {
            failures.push(finding(
                "the client did not end before the scenario's deadline; it was ended (SIGKILL to its process group)",
                None,
                s,
            ));
        }
    }
    if let Some(mut first) = failures.first().cloned() {
        if failures.len() > 1 {
            first.message = format!(
                "{} (and {} more: {})",
                first.message,
                failures.len() - 1,
                failures[1..]
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        if first.message.len() < 400 && !output_hint.is_empty() {
            first.message.push_str(&output_hint);
        }
        let outcome = match s.level {
            Level::Must => Outcome::Fail,
            Level::Should if strict => Outcome::Fail,
            Level::Should => Outcome::NonStrict,
            Level::Info => Outcome::Info,
        };
        let reason = (outcome != Outcome::Fail)
            .then(|| format!("{}-level requirement not met", s.level.as_str()));
        return (outcome, reason, Some(first));
    }
    if let Some(reason) = skip {
        return (Outcome::Skipped, Some(reason), None);
    }
    (Outcome::Pass, None, None)
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
