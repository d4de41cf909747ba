//! Maildir storage: scanning, sizes, unique ids and durable deletion.
//!
//! All functions here are blocking filesystem code; sessions call them through
//! `spawn_blocking` so a slow disk never stalls the reactor. Deletion is
//! journalled so that an UPDATE interrupted by a crash is completed at the
//! next login instead of leaving half the marked messages behind.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};

use crate::faults::{Fault, FaultSet};

/// Journal of an UPDATE in progress; a dot-file so scanners and MUAs ignore it.
pub const JOURNAL: &str = ".pop3-update-journal";

#[derive(Clone, Debug)]
pub struct Message {
    /// Current location of the file (always under cur/ after login).
    pub path: PathBuf,
    /// Maildir unique name: the file name up to the first ':'.
    pub base: String,
    /// Octets as sent: every line counted with CRLF.
    pub size: u64,
    /// Octets as stored.
    pub raw_size: u64,
    pub uid: String,
    pub deleted: bool,
}

/// A scanned maildrop: the message list of one session, in delivery order.
#[derive(Debug)]
pub struct Maildrop {
    pub dir: PathBuf,
    pub messages: Vec<Message>,
}

/// Maildir base name: everything before the info separator.
pub fn base_name(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or(file_name)
}

/// RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21..0x7E. Base names
/// that do not fit are replaced by a digest of themselves, which is stable.
pub fn uid_for(base: &str) -> String {
    if !base.is_empty() && base.len() <= 70 && base.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        base.to_string()
    } else {
        hex(&Md5::digest(base.as_bytes()))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lines of a stored message without their terminators. Bare LF and CRLF
/// are both line ends; a missing final newline still ends the last line.
pub fn lines(raw: &[u8]) -> Vec<&[u8]> {
    if raw.is_empty() {
        return Vec::new();
    }
    let mut v: Vec<&[u8]> = raw.split(|b| *b == b'\n').collect();
    if raw.ends_with(b"\n") {
        v.pop();
    }
    v.into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

/// Size of the message as it goes on the wire (before byte-stuffing).
pub fn crlf_size(raw: &[u8]) -> u64 {
    lines(raw).iter().map(|l| l.len() as u64 + 2).sum()
}

/// The `utf8-size-counts-characters` fault's size: characters, not octets
/// (RFC 6856 §2.1 wants the octets RETR sends), each line end as two.
fn crlf_characters(raw: &[u8]) -> u64 {
    lines(raw)
        .iter()
        .map(|l| String::from_utf8_lossy(l).chars().count() as u64 + 2)
        .sum()
}

fn ensure_dirs(dir: &Path) -> io::Result<()> {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    Ok(())
}

fn regular_files(dir: &Path) -> io::Result<Vec<(String, fs::Metadata)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        // file_type() does not follow symlinks: only real files are messages.
        if !entry.file_type()?.is_file() {
            continue;
        }
        out.push((name, entry.metadata()?));
    }
    Ok(out)
}

fn mtime_key(m: &fs::Metadata) -> (u64, u32) {
    let t = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    (t.as_secs(), t.subsec_nanos())
}

/// Open a maildrop at login: create missing folders, finish an interrupted
/// UPDATE, move new/ into cur/, and scan.
pub fn open(dir: &Path, faults: &FaultSet) -> io::Result<Maildrop> {
    ensure_dirs(dir)?;
    replay_journal(dir)?;

    // (original "folder/name" for the uidl-unstable fault, current path, metadata)
    let mut found: Vec<(String, PathBuf, fs::Metadata)> = Vec::new();
    for (name, meta) in regular_files(&dir.join("new"))? {
        let target_name = if name.contains(':') {
            name.clone()
        } else {
            format!("{name}:2,")
        };
        let target = dir.join("cur").join(&target_name);
        let source = dir.join("new").join(&name);
        if target.exists() {
            continue;
        }
        match fs::rename(&source, &target) {
            Ok(()) => found.push((format!("new/{name}"), target, meta)),
            // Another process (a second server, a MUA) moved it first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let moved: std::collections::HashSet<PathBuf> = found.iter().map(|f| f.1.clone()).collect();
    for (name, meta) in regular_files(&dir.join("cur"))? {
        let p = dir.join("cur").join(&name);
        if !moved.contains(&p) {
            found.push((format!("cur/{name}"), p, meta));
        }
    }
    found.sort_by(|a, b| {
        mtime_key(&a.2)
            .cmp(&mtime_key(&b.2))
            .then_with(|| a.1.file_name().cmp(&b.1.file_name()))
    });
    if faults.contains(Fault::MessagesNewestFirst) {
        found.reverse();
    }

    let mut messages = Vec::with_capacity(found.len());
    for (orig, path, _) in found {
        let raw = match fs::read(&path) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
        let base = base_name(&file_name).to_string();
        let uid = if faults.contains(Fault::UidlUnstable) {
            uid_for(&orig)
        } else if faults.contains(Fault::UidlFromFlags) {
            uid_for(&file_name)
        } else if faults.contains(Fault::UidlFromMessageNumber) {
            // Its position when the maildrop is opened: once an earlier
            // message is removed, a surviving message takes the id that
            // another surviving message had.
            (messages.len() + 1).to_string()
        } else if faults.contains(Fault::UidlSameSecondCollision) {
            // The delivery second that leads a Maildir name (`TIME.UNIQUE.HOST`).
            base.split('.').next().unwrap_or(&base).to_string()
        } else {
            uid_for(&base)
        };
        let size = if faults.contains(Fault::Utf8SizeCountsCharacters) {
            crlf_characters(&raw)
        } else {
            crlf_size(&raw)
        };
        messages.push(Message {
            size,
            raw_size: raw.len() as u64,
            path,
            base,
            uid,
            deleted: false,
        });
    }
    Ok(Maildrop {
        dir: dir.to_path_buf(),
        messages,
    })
}

/// Sets the Maildir Seen flag (`S` in the info part) by renaming the file;
/// the new path, or None when the file could not be renamed. Only the
/// `uidl-from-flags` fault does this: the strict server never renames a
/// message before UPDATE.
pub fn mark_seen(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let (base, flags) = name.split_once(":2,").unwrap_or((name, ""));
    if flags.contains('S') {
        return None;
    }
    let mut flags: Vec<char> = flags.chars().chain(['S']).collect();
    flags.sort_unstable();
    let target = path.with_file_name(format!("{base}:2,{}", flags.iter().collect::<String>()));
    fs::rename(path, &target).ok().map(|_| target)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Remove every file in cur/ or new/ whose base name is listed.
fn remove_by_base(dir: &Path, bases: &[String]) -> Vec<io::Error> {
    let mut errors = Vec::new();
    for sub in ["cur", "new"] {
        let Ok(files) = regular_files(&dir.join(sub)) else {
            continue;
        };
        for (name, _) in files {
            if bases.iter().any(|b| b == base_name(&name)) {
                match fs::remove_file(dir.join(sub).join(&name)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    errors
}

/// Complete an UPDATE that a crash interrupted.
pub fn replay_journal(dir: &Path) -> io::Result<()> {
    let journal = dir.join(JOURNAL);
    let text = match fs::read_to_string(&journal) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let bases: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let errors = remove_by_base(dir, &bases);
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    sync_dir(&dir.join("cur"))?;
    sync_dir(&dir.join("new"))?;
    fs::remove_file(&journal)?;
    sync_dir(dir)
}

/// RFC 1939 UPDATE: remove the marked messages durably. The journal is
/// written and synced first, so a crash between unlinks is finished later.
pub fn update(dir: &Path, doomed: &[(PathBuf, String)]) -> io::Result<()> {
    if doomed.is_empty() {
        return Ok(());
    }
    let journal = dir.join(JOURNAL);
    let tmp = dir.join(format!("{JOURNAL}.tmp"));
    {
        let mut f = fs::File::create(&tmp)?;
        for (_, base) in doomed {
            writeln!(f, "{base}")?;
        }
        f.sync_all()?;
    }
    fs::rename(&tmp, &journal)?;
    sync_dir(dir)?;

    let pause = test_update_pause();
    let mut failed = None;
    let mut missing = Vec::new();
    for (path, base) in doomed {
        if let Some(p) = pause {
            std::thread::sleep(p);
        }
        match fs::remove_file(path) {
            Ok(()) => {}
            // Renamed by another tool (flags changed): find it by base name.
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(base.clone()),
            Err(e) => failed = Some(e),
        }
    }
    if !missing.is_empty() {
        if let Some(e) = remove_by_base(dir, &missing).into_iter().next() {
            failed = Some(e);
        }
    }
    sync_dir(&dir.join("cur"))?;
    sync_dir(&dir.join("new"))?;
    if let Some(e) = failed {
        // Leave the journal: the next login retries the removal.
        return Err(e);
    }
    fs::remove_file(&journal)?;
    sync_dir(dir)
}

/// TEST ONLY: env `POP3_REF_TEST_UPDATE_PAUSE_MS` makes UPDATE sleep that
/// long after the journal is durable and before each unlink, so that the
/// crash-safety test (tests/crash.rs) can SIGKILL the server inside the
/// UPDATE window. Unset (the normal case) means no pause. Read once.
#[doc(hidden)]
pub fn test_update_pause() -> Option<std::time::Duration> {
    static PAUSE: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
    *PAUSE.get_or_init(|| {
        std::env::var("POP3_REF_TEST_UPDATE_PAUSE_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(std::time::Duration::from_millis)
    })
}

/// The `dele-moves-immediately` fault: WildDuck-style move into the trash.
pub fn move_to_trash(dir: &Path, path: &Path) -> io::Result<()> {
    let trash = dir.join(".Trash");
    ensure_dirs(&trash)?;
    let name = path.file_name().unwrap_or_default();
    fs::rename(path, trash.join("cur").join(name))
}

/// Seconds since the epoch, for the greeting timestamp.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_splitting_and_sizes() {
        assert_eq!(lines(b""), Vec::<&[u8]>::new());
        assert_eq!(lines(b"a\r\nb\n"), [&b"a"[..], b"b"]);
        assert_eq!(lines(b"a\n\nb"), [&b"a"[..], b"", b"b"]);
        assert_eq!(crlf_size(b"a\nb"), 6);
        assert_eq!(crlf_size(b"a\r\nb\r\n"), 6);
        assert_eq!(crlf_size(b"\n"), 2);
    }

    #[test]
    fn uids_fit_rfc_1939() {
        assert_eq!(uid_for("1700000000.M1P2.host"), "1700000000.M1P2.host");
        assert_eq!(base_name("123.abc:2,S"), "123.abc");
        for odd in ["", "a b", &"x".repeat(71), "caf\u{e9}"] {
            let u = uid_for(odd);
            assert_eq!(u.len(), 32, "{odd:?}");
            assert_ne!(u, uid_for("other"));
        }
    }
}
