//! Seeds an account whose mail is one mbox file (`/var/mail/USER`, read by
//! popa3d, GNU Mailutils, ...). The file is replaced by the fixture in mboxrd
//! form, under the locks a local delivery agent takes: a dot-lock
//! (`PATH.lock`, created exclusively) and an fcntl write lock on the file, so
//! a server that honours either never reads half of it. It is rewritten in
//! place, which keeps its owner, group and mode. Like Maildir seeding it
//! refuses to destroy mail it did not write: every message pop3spec writes
//! has the envelope sender [`ENVELOPE_SENDER`] in its `From ` line.

use super::seed::store_form;
use crate::calendar::civil_date;
use std::fs;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The envelope sender of the `From ` line of every message pop3spec writes.
pub const ENVELOPE_SENDER: &str = "pop3spec@pop3spec.invalid";
/// How long seeding waits for a lock another program holds.
const LOCK_WAIT: Duration = Duration::from_secs(10);
const LOCK_RETRY: Duration = Duration::from_millis(50);

/// Replaces the mbox at `path` with `messages` (the fixture's files, in order).
pub fn seed_mbox(
    path: &Path,
    messages: &[PathBuf],
    disposable: bool,
    durable: bool,
) -> Result<(), String> {
    let mut bodies = Vec::with_capacity(messages.len());
    for m in messages {
        bodies.push(fs::read(m).map_err(|e| format!("cannot read {}: {e}", m.display()))?);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // The same delivery times as Maildir seeding: a second apart, the last a second ago.
    let first = now.saturating_sub(bodies.len() as u64);
    let text = mboxrd(&bodies, first);
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| {
            format!(
                "--mbox {}: {e}; point it at the test account's mailbox file. If the account has none yet, create it as a delivery agent would, e.g. `install -m 660 -o USER -g mail /dev/null {}`",
                path.display(),
                path.display()
            )
        })?;
    let _dotlock = DotLock::take(path)?;
    lock_file(&file, path)?;
    // Read through the locked descriptor: closing any other descriptor of
    // the file would drop this process's fcntl lock (POSIX record locks).
    let mut old = Vec::new();
    file.read_to_end(&mut old)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let foreign = foreign_messages(&old);
    if foreign > 0 && !disposable {
        return Err(format!(
            "refusing to replace {}: it holds {foreign} message(s) pop3spec did not write (their `From ` lines do not name {ENVELOPE_SENDER}). Point --mbox at a test account, or pass --disposable-account if its mail may be destroyed",
            path.display()
        ));
    }
    file.set_len(0)
        .and_then(|_| file.rewind())
        .and_then(|_| file.write_all(&text))
        .and_then(|_| if durable { file.sync_all() } else { Ok(()) })
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
    // The fcntl lock ends when `file` is closed, then the dot-lock goes.
}

/// The messages as an mboxrd file: each after a `From ` line (message i
/// delivered at `first + i`), every line that matches `>*From ` given one more
/// `>`, LF line ends, a last line without one ended, and a blank line after
/// each message.
pub fn mboxrd(messages: &[Vec<u8>], first: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        out.extend_from_slice(
            format!("From {ENVELOPE_SENDER} {}\n", asctime(first + i as u64)).as_bytes(),
        );
        let stored = store_form(message);
        let mut lines: Vec<&[u8]> = stored.split(|b| *b == b'\n').collect();
        if stored.ends_with(b"\n") || stored.is_empty() {
            lines.pop();
        }
        for line in lines {
            let quotes = line.iter().take_while(|b| **b == b'>').count();
            if line[quotes..].starts_with(b"From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        out.push(b'\n');
    }
    out
}

/// How many `From ` lines of an mbox are not pop3spec's.
fn foreign_messages(mbox: &[u8]) -> usize {
    let ours = format!("From {ENVELOPE_SENDER} ");
    let mut after_blank = true;
    let mut foreign = 0;
    for line in mbox.split(|b| *b == b'\n') {
        if after_blank && line.starts_with(b"From ") && !line.starts_with(ours.as_bytes()) {
            foreign += 1;
        }
        after_blank = line.is_empty() || (after_blank && line == b"\r");
    }
    // A file that does not start with `From ` is not an mbox pop3spec wrote.
    if !mbox.is_empty() && !mbox.starts_with(b"From ") {
        foreign += 1;
    }
    foreign
}

/// `Thu Dec  4 16:00:00 2026`, the date of a `From ` line (UTC).
fn asctime(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_date(secs);
    format!(
        "{} {} {day:>2} {:02}:{:02}:{:02} {year}",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `PATH.lock`, created with O_EXCL (the dot-lock of mail delivery agents);
/// removed when dropped.
struct DotLock(PathBuf);

impl DotLock {
    fn take(mbox: &Path) -> Result<DotLock, String> {
        let mut name = mbox.as_os_str().to_owned();
        name.push(".lock");
        let lock = PathBuf::from(name);
        let started = Instant::now();
        loop {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(DotLock(lock));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if started.elapsed() > LOCK_WAIT {
                        return Err(format!(
                            "{} has existed for {LOCK_WAIT:?}: another program holds the mailbox (remove the file if nothing does)",
                            lock.display()
                        ));
                    }
                    std::thread::sleep(LOCK_RETRY);
                }
                Err(e) => return Err(format!("cannot create {}: {e}", lock.display())),
            }
        }
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// An fcntl write lock on the whole file, held until the file is closed.
fn lock_file(file: &fs::File, path: &Path) -> Result<(), String> {
    let started = Instant::now();
    loop {
        // SAFETY: `flock` is a plain C struct; all-zero is a valid value and
        // the fields that matter are set below. The descriptor is open.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as _;
        lock.l_whence = libc::SEEK_SET as _;
        lock.l_start = 0;
        lock.l_len = 0;
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        let busy = matches!(err.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES));
        if !busy {
            return Err(format!("cannot lock {}: {err}", path.display()));
        }
        if started.elapsed() > LOCK_WAIT {
            return Err(format!(
                "{} has been locked (fcntl) by another program for {LOCK_WAIT:?}",
                path.display()
            ));
        }
        std::thread::sleep(LOCK_RETRY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_line_dates() {
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(asctime(1_796_400_000), "Fri Dec  4 16:00:00 2026");
        assert_eq!(asctime(951_782_400), "Tue Feb 29 00:00:00 2000");
    }

    #[test]
    fn only_pop3spec_envelopes_are_ours() {
        let ours = mboxrd(&[b"Subject: a\n\nFrom here\n".to_vec()], 0);
        assert_eq!(foreign_messages(&ours), 0);
        assert_eq!(foreign_messages(b""), 0);
        let theirs = b"From alice@example.org Thu Jan  1 00:00:00 1970\nSubject: x\n\nhi\n\n";
        assert_eq!(foreign_messages(theirs), 1);
        assert_eq!(foreign_messages(&[ours, theirs.to_vec()].concat()), 1);
        assert_eq!(foreign_messages(b"not an mbox\n"), 1);
    }
}
