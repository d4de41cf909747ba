//! What a client stored in {out}, read whichever way it stored it (a Maildir,
//! an mbox file, or one file per message), and compared with the fixture:
//! line ends normalised, trailing blank lines ignored, header lines a client
//! adds (Received:, Return-Path:, X-...) allowed, everything else exact.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct StoredMessage {
    /// Where it was found (file, or file and position in an mbox).
    pub origin: String,
    /// The text with LF line ends, trailing newlines removed.
    pub text: String,
}

/// Largest file read from {out}; a client that writes more is broken anyway.
const MAX_FILE: u64 = 64 * 1024 * 1024;

pub fn normalise(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    text.trim_end_matches('\n').to_string()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    !p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if len > MAX_FILE {
        return Err(format!(
            "{} is larger than {MAX_FILE} octets; not read",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Every message below `dir`.
pub fn read_stored(dir: &Path) -> Result<Vec<StoredMessage>, String> {
    let mut out = Vec::new();
    let maildir = dir.join("new").is_dir() || dir.join("cur").is_dir();
    let mut files = Vec::new();
    if maildir {
        files.extend(files_in(&dir.join("new")));
        files.extend(files_in(&dir.join("cur")));
    }
    files.extend(files_in(dir));
    for path in files {
        let bytes = read(&path)?;
        let shown = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        if bytes.starts_with(b"From ") {
            out.extend(split_mbox(&bytes, &shown));
        } else {
            out.push(StoredMessage {
                origin: shown,
                text: normalise(&bytes),
            });
        }
    }
    Ok(out)
}

/// The messages of an mbox file: each starts at a `From ` line; `>From `
/// quoting (mboxrd) is undone.
fn split_mbox(bytes: &[u8], origin: &str) -> Vec<StoredMessage> {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let mut messages: Vec<Vec<&str>> = Vec::new();
    let mut previous_blank = true;
    for line in text.split('\n') {
        if line.starts_with("From ") && previous_blank {
            messages.push(Vec::new());
        } else if let Some(m) = messages.last_mut() {
            m.push(line);
        }
        previous_blank = line.is_empty();
    }
    messages
        .into_iter()
        .enumerate()
        .map(|(i, lines)| {
            let unquoted: Vec<String> = lines
                .iter()
                .map(|l| {
                    let stripped = l.trim_start_matches('>');
                    if stripped.starts_with("From ") && l.starts_with('>') {
                        l[1..].to_string()
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            StoredMessage {
                origin: format!("{origin} (message {} of the mbox)", i + 1),
                text: unquoted.join("\n").trim_end_matches('\n').to_string(),
            }
        })
        .collect()
}

fn split(text: &str) -> (Vec<&str>, Vec<&str>) {
    let lines: Vec<&str> = text.split('\n').collect();
    match lines.iter().position(|l| l.is_empty()) {
        Some(i) => (lines[..i].to_vec(), lines[i + 1..].to_vec()),
        None => (lines, Vec::new()),
    }
}

/// Whether `stored` is `fixture` as a client may store it: the same body, and
/// the fixture's header lines in order among the stored ones (clients add
/// trace fields such as Received: and Return-Path:).
pub fn same_message(stored: &str, fixture: &str) -> bool {
    if stored == fixture {
        return true;
    }
    let (sh, sb) = split(stored);
    let (fh, fb) = split(fixture);
    if sb != fb {
        return false;
    }
    let mut it = sh.iter();
    fh.iter().all(|f| it.any(|s| s == f))
}

/// The outcome of comparing what was stored with the fixture.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Fixture messages (1-based) stored.
    pub found: Vec<usize>,
    /// Fixture messages not stored, with the closest stored text if any.
    pub missing: Vec<(usize, Option<String>)>,
    /// Stored messages that match no fixture message (or one already matched).
    pub extra: Vec<StoredMessage>,
}

pub fn compare(stored: &[StoredMessage], fixture: &[String]) -> Comparison {
    let mut used = vec![false; stored.len()];
    let mut c = Comparison::default();
    for (i, f) in fixture.iter().enumerate() {
        match (0..stored.len()).find(|j| !used[*j] && same_message(&stored[*j].text, f)) {
            Some(j) => {
                used[j] = true;
                c.found.push(i + 1);
            }
            None => c.missing.push((i + 1, None)),
        }
    }
    // A stored message that matched nothing is shown against the missing
    // fixture message it most resembles (the same Subject line, else the first).
    let extras: Vec<usize> = (0..stored.len()).filter(|j| !used[*j]).collect();
    for (n, closest) in c.missing.iter_mut() {
        let subject = fixture[*n - 1]
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("subject:"));
        let pick = extras
            .iter()
            .find(|j| subject.is_some_and(|s| stored[**j].text.lines().any(|l| l == s)))
            .or(extras.first());
        *closest = pick.map(|j| stored[*j].text.clone());
    }
    c.extra = extras.into_iter().map(|j| stored[j].clone()).collect();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "From: a@example.org\nSubject: One\n\nBody line\n.dot line\n";

    fn fixture() -> Vec<String> {
        vec![normalise(FIXTURE.as_bytes())]
    }

    #[test]
    fn maildir_mbox_and_plain_files_are_all_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("new")).unwrap();
        std::fs::create_dir_all(dir.path().join("cur")).unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        std::fs::write(dir.path().join("new/1.host"), FIXTURE.replace('\n', "\r\n")).unwrap();
        std::fs::write(dir.path().join("cur/2.host:2,S"), FIXTURE).unwrap();
        std::fs::write(dir.path().join("tmp/3.host"), "half written").unwrap();
        let stored = read_stored(dir.path()).unwrap();
        assert_eq!(stored.len(), 2, "{stored:?}");
        assert!(stored.iter().all(|m| same_message(&m.text, &fixture()[0])));

        let mbox = tempfile::tempdir().unwrap();
        let text = format!(
            "From alice@example.org Mon Mar  2 10:01:00 2026\n{FIXTURE}\nFrom bob@example.org Mon Mar  2 10:02:00 2026\nSubject: Two\n\n>From the start\n"
        );
        std::fs::write(mbox.path().join("inbox"), text).unwrap();
        let stored = read_stored(mbox.path()).unwrap();
        assert_eq!(stored.len(), 2, "{stored:?}");
        assert!(same_message(&stored[0].text, &fixture()[0]));
        assert_eq!(stored[1].text, "Subject: Two\n\nFrom the start");
    }

    #[test]
    fn added_trace_headers_are_allowed_but_body_changes_are_not() {
        let with_trace =
            format!("Received: from pop3spec\nReturn-Path: <a@example.org>\n{FIXTURE}");
        assert!(same_message(
            &normalise(with_trace.as_bytes()),
            &fixture()[0]
        ));
        let stuffed = FIXTURE.replace(".dot line", "..dot line");
        assert!(!same_message(&normalise(stuffed.as_bytes()), &fixture()[0]));
        let header_lost = FIXTURE.replace("Subject: One\n", "");
        assert!(!same_message(
            &normalise(header_lost.as_bytes()),
            &fixture()[0]
        ));
    }

    #[test]
    fn missing_extra_and_duplicate_messages_are_told_apart() {
        let m = |text: &str| StoredMessage {
            origin: "f".into(),
            text: normalise(text.as_bytes()),
        };
        let c = compare(&[m(FIXTURE), m(FIXTURE)], &fixture());
        assert_eq!((c.found.len(), c.missing.len(), c.extra.len()), (1, 0, 1));
        let c = compare(&[m("Subject: One\n\nother body")], &fixture());
        assert_eq!(c.missing.len(), 1);
        assert_eq!(
            c.missing[0].1.as_deref(),
            Some("Subject: One\n\nother body"),
            "the closest stored message is offered for the diff"
        );
    }
}
