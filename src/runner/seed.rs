//! Puts a fixture's messages into the test account before a scenario. Seeding
//! empties the maildrop first, so it refuses to touch mail it did not write
//! itself (a marker file lists what it wrote) unless the account is declared
//! disposable. Messages are delivered the Maildir way (write into `tmp/`, then
//! rename into `new/`) and take the Maildir's owner, so a server running under
//! its own uid never sees half a message or a file it cannot read.
//!
//! A fixture file may use CRLF or LF; the store gets its native form (one LF
//! per line, RFC 1939 §11), which is what a delivery agent would write and
//! what every Maildir server expects. Each message gets a delivery time of its
//! own, one second after the previous one, and a file name that sorts after the
//! previous one's, so servers that number messages by mtime, by name or by
//! both all number them as the fixture does.

use super::verify::Seeded;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The file, inside the Maildir, that lists the messages pop3spec delivered.
pub const MARKER: &str = ".pop3spec-seeded";

#[derive(Clone, Debug)]
pub enum Seeder {
    /// The account's Maildir (holding `cur/`, `new/`, `tmp/`) is on this machine.
    /// `durable` syncs every file before it is delivered, so a server in
    /// another process never reads a torn message after a crash; the bundled
    /// server's throwaway Maildir skips it (fsync was most of a run's work).
    Maildir {
        path: PathBuf,
        disposable: bool,
        durable: bool,
    },
    /// The account's mail is one mbox file on this machine (`/var/mail/USER`),
    /// replaced under dot-lock and fcntl lock (`mbox.rs`).
    Mbox {
        path: PathBuf,
        disposable: bool,
        durable: bool,
    },
    /// A shell command that seeds the store; it gets the message files as arguments.
    Command(String),
    /// Delivered over LMTP or SMTP after the account is emptied through POP3.
    Deliver(super::deliver::Delivery),
}

/// The fixture's message files in delivery order.
pub fn fixture_messages(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read fixture {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

impl Seeder {
    /// Where this seeder puts mail, for messages about a store the server
    /// does not seem to read.
    pub fn store(&self) -> String {
        match self {
            Seeder::Maildir { path, .. } => format!("the Maildir {}", path.display()),
            Seeder::Mbox { path, .. } => format!("the mbox {}", path.display()),
            Seeder::Command(_) => "the store --seed-command writes".into(),
            Seeder::Deliver(d) => format!("the mailbox {} reaches", d.endpoint),
        }
    }

    pub fn seed(&self, fixture_dir: &Path, user: &str) -> Result<(), String> {
        let messages = fixture_messages(fixture_dir)?;
        match self {
            Seeder::Maildir {
                path,
                disposable,
                durable,
            } => seed_maildir(path, &messages, *disposable, *durable),
            Seeder::Mbox {
                path,
                disposable,
                durable,
            } => super::mbox::seed_mbox(path, &messages, *disposable, *durable),
            Seeder::Command(cmd) => run_seed_command(cmd, fixture_dir, user, &messages),
            Seeder::Deliver(_) => Err("delivery needs the target: use Seeder::seed_account".into()),
        }
    }

    /// Seeds `account` on `target`: delivery runs as part of the run's own
    /// async work (it talks POP3 and LMTP/SMTP), file seeding on a blocking
    /// thread. Ok is a note for the transcript and what the server should now
    /// serve, for `verify`.
    pub async fn seed_account(
        &self,
        target: &super::Target,
        account: &super::target::Account,
        fixture_dir: &Path,
    ) -> Result<(Option<String>, Seeded), String> {
        if let Seeder::Deliver(delivery) = self {
            let delivered = delivery.seed(target, account, fixture_dir).await?;
            let mut seeded = Seeded::from_fixture(fixture_dir, self.store())?;
            for (m, id) in seeded.messages.iter_mut().zip(&delivered.message_ids) {
                m.replace_message_id(id.as_bytes());
            }
            return Ok((Some(delivered.note), seeded));
        }
        let (seeder, dir, user) = (
            self.clone(),
            fixture_dir.to_path_buf(),
            account.user.clone(),
        );
        tokio::task::spawn_blocking(move || {
            seeder.seed(&dir, &user)?;
            Seeded::from_fixture(&dir, seeder.store())
        })
        .await
        .unwrap_or_else(|e| Err(format!("seeding panicked: {e}")))
        .map(|seeded| (None, seeded))
    }
}

/// The message as a Maildir or mbox stores it: every CRLF becomes LF. Bare CRs
/// stay, and a last line without a line end keeps having none (the
/// `no-final-newline` fixture is about exactly that).
pub fn store_form(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// The message as a POP3 server sends it (RFC 1939 §3, §11), before
/// byte-stuffing: every line, the last one too, ends with CRLF. Its length is
/// the size a scan listing gives.
pub fn wire_form(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32 + 2);
    let stored = store_form(bytes);
    let mut lines: Vec<&[u8]> = stored.split(|b| *b == b'\n').collect();
    if stored.ends_with(b"\n") || stored.is_empty() {
        lines.pop();
    }
    for line in lines {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn seed_maildir(
    maildir: &Path,
    messages: &[PathBuf],
    disposable: bool,
    durable: bool,
) -> Result<(), String> {
    let meta = fs::metadata(maildir).map_err(|e| {
        format!("--maildir {}: {e}; point it at the test account's Maildir (the folder holding cur/, new/ and tmp/)", maildir.display())
    })?;
    let owner = (meta.uid(), meta.gid());
    for sub in ["cur", "new", "tmp"] {
        let d = maildir.join(sub);
        if !d.is_dir() {
            fs::create_dir_all(&d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
            chown(&d, owner);
        }
    }
    let marker = maildir.join(MARKER);
    let ours: BTreeSet<String> = fs::read_to_string(&marker)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let mut existing = Vec::new();
    for sub in ["cur", "new"] {
        for entry in fs::read_dir(maildir.join(sub))
            .map_err(|e| format!("cannot list {}/{sub}: {e}", maildir.display()))?
        {
            let entry = entry.map_err(|e| e.to_string())?;
            if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                existing.push(entry.path());
            }
        }
    }
    let foreign: Vec<&PathBuf> = existing
        .iter()
        .filter(|p| !ours.contains(&base_name(p)))
        .collect();
    if !foreign.is_empty() && !disposable {
        return Err(format!(
            "refusing to empty {}: it holds {} message(s) pop3spec did not deliver (e.g. {}). Point --maildir at a test account, or pass --disposable-account if its mail may be destroyed",
            maildir.display(),
            foreign.len(),
            foreign[0].display()
        ));
    }
    for p in &existing {
        fs::remove_file(p).map_err(|e| format!("cannot remove {}: {e}", p.display()))?;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // Message i is delivered at first + i seconds; the last one a second ago,
    // so no delivery time lies in the future.
    let first = now.as_secs().saturating_sub(messages.len() as u64);
    let pid = std::process::id();
    let micros = now.subsec_micros();
    let width = messages.len().to_string().len().max(4);
    let mut written = Vec::new();
    for (i, msg) in messages.iter().enumerate() {
        // One seeding second and microsecond in every name, then the index,
        // zero-padded: names sort in fixture order, both as strings and the
        // way Maildir servers compare them (time, then the rest).
        let name = format!("{first}.M{micros}Q{i:0width$}P{pid}.pop3spec");
        let tmp = maildir.join("tmp").join(&name);
        let bytes = fs::read(msg).map_err(|e| format!("cannot read {}: {e}", msg.display()))?;
        let delivered = UNIX_EPOCH + Duration::from_secs(first + i as u64);
        write_file(&tmp, &store_form(&bytes), durable, Some(delivered))?;
        chown(&tmp, owner);
        fs::rename(&tmp, maildir.join("new").join(&name))
            .map_err(|e| format!("cannot deliver {name} into new/: {e}"))?;
        written.push(name);
    }
    write_file(
        &marker,
        (written.join("\n") + "\n").as_bytes(),
        durable,
        None,
    )?;
    chown(&marker, owner);
    Ok(())
}

/// Writes `bytes` to a new file, with `modified` as its mtime when given.
fn write_file(
    path: &Path,
    bytes: &[u8],
    durable: bool,
    modified: Option<SystemTime>,
) -> Result<(), String> {
    use std::io::Write;
    let mut f =
        fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| match modified {
            Some(t) => f.set_modified(t),
            None => Ok(()),
        })
        .and_then(|_| if durable { f.sync_all() } else { Ok(()) })
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Best effort: only root can give a file away, and only a server under
/// another uid needs it.
fn chown(path: &Path, (uid, gid): (u32, u32)) {
    let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
}

/// The Maildir unique name: the file name without the `:2,FLAGS` info part
/// and without the `,key=value` fields servers append to it (Dovecot's
/// `,S=size`, GNU Mailutils' `,a=O,u=1`); pop3spec's own names hold no comma.
fn base_name(p: &Path) -> String {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.split([':', ',']).next().unwrap_or(name).to_string()
}

fn run_seed_command(
    cmd: &str,
    fixture_dir: &Path,
    user: &str,
    messages: &[PathBuf],
) -> Result<(), String> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} \"$@\""))
        .arg("pop3spec-seed")
        .args(messages)
        .env("POP3SPEC_USER", user)
        .env("POP3SPEC_FIXTURE_DIR", fixture_dir)
        .env(
            "POP3SPEC_FIXTURE",
            fixture_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
        .status()
        .map_err(|e| format!("cannot run --seed-command: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("--seed-command exited with {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &Path) -> PathBuf {
        let f = dir.join("fx");
        fs::create_dir_all(&f).unwrap();
        fs::write(f.join("01-a.eml"), b"Subject: a\n\nA\n").unwrap();
        fs::write(f.join("02-b.eml"), b"Subject: b\r\n\r\nB\r\n").unwrap();
        fs::write(f.join("notes.txt"), b"ignored").unwrap();
        f
    }

    #[test]
    fn delivers_into_new_and_reseeds_its_own_mail() {
        let tmp = tempfile::tempdir().unwrap();
        let fx = fixture(tmp.path());
        let md = tmp.path().join("Maildir");
        fs::create_dir(&md).unwrap();
        let seeder = Seeder::Maildir {
            path: md.clone(),
            disposable: false,
            durable: true,
        };
        seeder.seed(&fx, "u").unwrap();
        let mut delivered: Vec<_> = fs::read_dir(md.join("new"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        delivered.sort();
        assert_eq!(delivered.len(), 2);
        assert_eq!(fs::read(&delivered[1]).unwrap(), b"Subject: b\n\nB\n");
        assert_eq!(fs::read_dir(md.join("tmp")).unwrap().count(), 0);
        // A server moves delivered mail to cur/ with flags; it is still ours.
        let moved = md
            .join("cur")
            .join(format!("{}:2,S", base_name(&delivered[0])));
        fs::rename(&delivered[0], &moved).unwrap();
        // GNU Mailutils renames with fields of its own before the flags.
        let renamed = md
            .join("cur")
            .join(format!("{},a=O,u=1:2,", base_name(&delivered[1])));
        fs::rename(&delivered[1], &renamed).unwrap();
        seeder.seed(&fx, "u").unwrap();
        assert!(!moved.exists() && !renamed.exists());
        assert_eq!(fs::read_dir(md.join("new")).unwrap().count(), 2);
    }

    /// What a Maildir server sees: LF line ends only, message n+1 delivered a
    /// second after message n and named so that it sorts after it.
    #[test]
    fn maildir_holds_lf_lines_with_increasing_times_and_names() {
        let tmp = tempfile::tempdir().unwrap();
        let fx = tmp.path().join("fx");
        fs::create_dir(&fx).unwrap();
        let fixture: [(&str, &[u8], &[u8]); 12] = std::array::from_fn(|i| match i % 4 {
            0 => (
                "crlf",
                &b"Subject: c\r\n\r\nline\r\n.\r\n"[..],
                &b"Subject: c\n\nline\n.\n"[..],
            ),
            1 => (
                "lf",
                &b"Subject: l\n\nline\n"[..],
                &b"Subject: l\n\nline\n"[..],
            ),
            2 => (
                "nfn",
                &b"Subject: n\r\n\r\nno end"[..],
                &b"Subject: n\n\nno end"[..],
            ),
            _ => (
                "cr",
                &b"Subject: r\r\n\r\nbare\rCR\r\n"[..],
                &b"Subject: r\n\nbare\rCR\n"[..],
            ),
        });
        for (i, (name, bytes, _)) in fixture.iter().enumerate() {
            fs::write(fx.join(format!("{i:02}-{name}.eml")), bytes).unwrap();
        }
        let md = tmp.path().join("Maildir");
        fs::create_dir(&md).unwrap();
        Seeder::Maildir {
            path: md.clone(),
            disposable: false,
            durable: false,
        }
        .seed(&fx, "u")
        .unwrap();
        let mut delivered: Vec<(String, SystemTime, Vec<u8>)> = fs::read_dir(md.join("new"))
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (
                    name,
                    fs::metadata(&p).unwrap().modified().unwrap(),
                    fs::read(&p).unwrap(),
                )
            })
            .collect();
        // Sorted by name, they are the fixture in order...
        delivered.sort_by(|a, b| a.0.cmp(&b.0));
        let contents: Vec<&[u8]> = delivered.iter().map(|d| &d.2[..]).collect();
        let stored: Vec<&[u8]> = fixture.iter().map(|f| f.2).collect();
        assert_eq!(contents, stored);
        // ...and so they are sorted by delivery time, a whole second apart
        // (servers compare seconds), none of them in the future.
        for pair in delivered.windows(2) {
            let gap = pair[1].1.duration_since(pair[0].1).unwrap();
            assert_eq!(
                gap,
                Duration::from_secs(1),
                "{} -> {}",
                pair[0].0,
                pair[1].0
            );
        }
        assert!(delivered.last().unwrap().1 <= SystemTime::now());
        // Servers that compare the leading time numerically, then the rest.
        let leading: BTreeSet<&str> = delivered
            .iter()
            .map(|d| d.0.split('.').next().unwrap())
            .collect();
        assert_eq!(leading.len(), 1, "one seeding second in every name");
    }

    #[test]
    fn wire_form_ends_every_line_with_crlf() {
        assert_eq!(wire_form(b"a\nb\n"), b"a\r\nb\r\n");
        assert_eq!(wire_form(b"a\r\nb\r\n"), b"a\r\nb\r\n");
        assert_eq!(wire_form(b"a\r\nlast"), b"a\r\nlast\r\n");
        assert_eq!(wire_form(b""), b"");
        // The README's figures for the lf-only fixture: 309 stored, 326 sent.
        let lf = fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/fixtures/lf-only/01-lf-only.eml"
        ))
        .unwrap();
        assert_eq!((store_form(&lf).len(), wire_form(&lf).len()), (309, 326));
    }

    #[test]
    fn refuses_foreign_mail_unless_disposable() {
        let tmp = tempfile::tempdir().unwrap();
        let fx = fixture(tmp.path());
        let md = tmp.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(md.join(sub)).unwrap();
        }
        let precious = md.join("cur/123.precious:2,S");
        fs::write(&precious, b"Subject: keep me\n\n").unwrap();
        let err = Seeder::Maildir {
            path: md.clone(),
            disposable: false,
            durable: false,
        }
        .seed(&fx, "u")
        .unwrap_err();
        assert!(err.contains("refusing"), "{err}");
        assert!(
            precious.exists(),
            "foreign mail must survive a refused seed"
        );
        Seeder::Maildir {
            path: md.clone(),
            disposable: true,
            durable: false,
        }
        .seed(&fx, "u")
        .unwrap();
        assert!(!precious.exists());
    }

    #[test]
    fn seed_command_gets_the_files() {
        let tmp = tempfile::tempdir().unwrap();
        let fx = fixture(tmp.path());
        let out = tmp.path().join("out");
        // The files are appended as arguments, as to any command a user gives.
        let cmd = format!(
            "sh -c 'echo \"$POP3SPEC_USER $#\" > {}' seed",
            out.display()
        );
        Seeder::Command(cmd).seed(&fx, "alice").unwrap();
        assert_eq!(fs::read_to_string(&out).unwrap(), "alice 2\n");
        assert!(Seeder::Command("exit 3".into()).seed(&fx, "a").is_err());
    }
}
