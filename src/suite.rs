//! The suite this binary carries: every file of `scenarios/` (scenario files,
//! fixtures, requirements.yaml) and the RFC texts of `docs/rfc/`, embedded by
//! `build.rs` so `pop3spec` works from any folder on any machine.
//!
//! The built-in suite is written out to disk and read from there like any
//! other: fixtures must be real files (`--seed-command` gets their paths,
//! `--maildir` copies them), and one code path for built-in and local suites
//! keeps their verdicts the same. It is written once per suite contents into
//! a cache folder (`$XDG_CACHE_HOME/pop3spec/suite-<hash>`) that later runs
//! reuse, so no run leaves a copy behind, however it ends (a per-process
//! temporary folder once left 2.3 MB in /tmp for every run ended by Ctrl-C
//! and every in-process test). Messages
//! and reports name built-in files by their path inside the suite
//! (`scenarios/rfc1939/...yaml:12:3`), never by that temporary folder.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// How built-in suite files are named in messages and reports.
pub const BUILTIN_ROOT: &str = "scenarios";

/// The folder a local suite is looked for in, relative to the working directory.
pub const LOCAL_SUITE: &str = "scenarios";

/// `(path inside scenarios/, contents)` of every built-in suite file.
pub fn files() -> &'static [(&'static str, &'static [u8])] {
    embedded::SUITE_FILES
}

/// The text of a built-in RFC, `rfcNNNN.txt`.
pub fn rfc_text(rfc: u32) -> Option<&'static str> {
    let name = format!("rfc{rfc}.txt");
    embedded::RFC_FILES
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, bytes)| std::str::from_utf8(bytes).ok())
}

/// The numbers of the RFCs built in, ascending.
pub fn rfc_numbers() -> Vec<u32> {
    let mut numbers: Vec<u32> = embedded::RFC_FILES
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("rfc")?.strip_suffix(".txt")?.parse().ok())
        .collect();
    numbers.sort_unstable();
    numbers
}

/// Where the built-in suite lies on disk: a cache folder shared by every run
/// of this suite's contents, or, where no cache folder can be written, a
/// temporary folder of this process that [`cleanup`] removes.
struct Written {
    /// The folder holding `scenarios/`.
    root: PathBuf,
    _temporary: Option<tempfile::TempDir>,
}

static WRITTEN: Mutex<Option<Written>> = Mutex::new(None);

/// Cache folders of other suite contents unused this long are removed when
/// a new one is written, so rebuilt binaries do not pile them up.
const STALE: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// FNV-1a over every file's name and bytes: the cache folder's name, so a
/// binary with other suite contents never reads this one's files.
fn content_hash() -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (inside, bytes) in files() {
        for chunk in [
            inside.as_bytes(),
            &[0],
            &(bytes.len() as u64).to_le_bytes(),
            bytes,
        ] {
            for b in chunk {
                hash ^= u64::from(*b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    hash
}

/// `$XDG_CACHE_HOME/pop3spec`, else `$HOME/.cache/pop3spec`.
fn cache_base() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".cache"))
        })
        .map(|base| base.join("pop3spec"))
}

/// Writes every built-in file below `root/scenarios`.
fn write_files(root: &Path) -> std::io::Result<()> {
    for (inside, bytes) in files() {
        let path = root.join(BUILTIN_ROOT).join(inside);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
    }
    Ok(())
}

/// Whether `root/scenarios` holds exactly the built-in files, byte for byte
/// (a cache folder someone edited, or one cut short, is not used).
fn is_intact(root: &Path) -> bool {
    fn count(dir: &Path) -> Option<usize> {
        let mut n = 0;
        for entry in std::fs::read_dir(dir).ok()? {
            let entry = entry.ok()?;
            let kind = entry.file_type().ok()?;
            n += if kind.is_dir() {
                count(&entry.path())?
            } else {
                1
            };
        }
        Some(n)
    }
    let dir = root.join(BUILTIN_ROOT);
    count(&dir) == Some(files().len())
        && files()
            .iter()
            .all(|(inside, bytes)| std::fs::read(dir.join(inside)).ok().as_deref() == Some(*bytes))
}

/// The cache folder of this suite's contents, written first when missing:
/// into a fresh folder beside it that is then renamed into place, so a
/// reader never sees half of it and concurrent first runs do not collide.
fn cached() -> Result<PathBuf, String> {
    let base = cache_base().ok_or("no cache folder: neither XDG_CACHE_HOME nor HOME is set")?;
    let name = format!("suite-{:016x}", content_hash());
    let root = base.join(&name);
    if is_intact(&root) {
        // Marks it as in use for the pruning of stale folders.
        if let Ok(dir) = std::fs::File::open(&root) {
            let _ = dir.set_modified(std::time::SystemTime::now());
        }
        return Ok(root);
    }
    let err = |e: std::io::Error| format!("{}: {e}", base.display());
    std::fs::create_dir_all(&base).map_err(err)?;
    let fresh = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(&base)
        .map_err(err)?;
    write_files(fresh.path()).map_err(err)?;
    if root.exists() {
        // Edited or cut short (a run ended while writing it before the
        // writes were atomic): set aside, then removed.
        let aside = base.join(format!(".{name}-old-{}", std::process::id()));
        if std::fs::rename(&root, &aside).is_ok() {
            let _ = std::fs::remove_dir_all(&aside);
        }
    }
    match std::fs::rename(fresh.path(), &root) {
        Ok(()) => {
            let _ = fresh.keep();
        }
        // Another process renamed its copy into place first.
        Err(_) if is_intact(&root) => {}
        Err(e) => return Err(err(e)),
    }
    prune(&base, &name);
    Ok(root)
}

/// Removes the cache folders of other suite contents not used for [`STALE`].
fn prune(base: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name.starts_with("suite-") || name.starts_with(".suite-");
        let unused = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE);
        if ours && name != keep && unused {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The built-in suite's `scenarios/` folder on disk, written out on first
/// use: into the cache folder, else (no writable cache) into a temporary
/// folder of this process.
pub fn builtin_dir() -> Result<PathBuf, String> {
    let mut written = WRITTEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = written.as_ref() {
        return Ok(w.root.join(BUILTIN_ROOT));
    }
    let w = match cached() {
        Ok(root) => Written {
            root,
            _temporary: None,
        },
        Err(_) => {
            let dir = tempfile::Builder::new()
                .prefix("pop3spec-suite-")
                .tempdir()
                .map_err(|e| format!("cannot write out the built-in suite: {e}"))?;
            write_files(dir.path())
                .map_err(|e| format!("cannot write out the built-in suite: {e}"))?;
            Written {
                root: dir.path().to_path_buf(),
                _temporary: Some(dir),
            }
        }
    };
    let root = w.root.join(BUILTIN_ROOT);
    *written = Some(w);
    Ok(root)
}

/// Removes a temporary written-out suite (statics are never dropped, so
/// `main` calls this before the process ends); a cache folder stays.
pub fn cleanup() {
    // try_lock: this also runs from a panic hook, which must not wait.
    let taken = match WRITTEN.try_lock() {
        Ok(mut written) => written.take(),
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner().take(),
        Err(std::sync::TryLockError::WouldBlock) => None,
    };
    drop(taken);
}

/// How `path` is named in messages: a path in the written-out built-in suite
/// as `scenarios/...`, any other path as it is.
pub fn display_path(path: &Path) -> PathBuf {
    let written = WRITTEN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(w) = written.as_ref() else {
        return path.to_path_buf();
    };
    match path.strip_prefix(&w.root) {
        Ok(inside) => inside.to_path_buf(),
        Err(_) => path.to_path_buf(),
    }
}

/// The suite a command uses when given no scenario paths: a `scenarios/`
/// folder in the working directory (a checkout's or a user's own, so edits
/// count without a rebuild), else the built-in one.
pub fn default_dir() -> Result<PathBuf, String> {
    let local = PathBuf::from(LOCAL_SUITE);
    if local.is_dir() {
        Ok(local)
    } else {
        builtin_dir()
    }
}

/// The suite folder: `scenarios/` here, else the built-in suite (see
/// [`default_dir`]). Should the built-in one not be written
/// out, the reason is printed and `scenarios` is returned, so the command
/// then says that no such folder exists.
pub fn default_scenario_dir() -> PathBuf {
    default_dir().unwrap_or_else(|e| {
        eprintln!("error: {e}");
        PathBuf::from(LOCAL_SUITE)
    })
}

/// The names of the built-in fixtures, sorted.
pub fn builtin_fixture_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = files()
        .iter()
        .filter_map(|(inside, _)| inside.strip_prefix("fixtures/")?.split_once('/'))
        .map(|(name, _)| name)
        .collect();
    names.dedup();
    names
}

/// The built-in fixture `name`, for scenarios outside the built-in suite
/// whose own folders have no fixture of that name.
pub fn builtin_fixture(name: &str) -> Option<PathBuf> {
    let exists = files()
        .iter()
        .any(|(inside, _)| inside.starts_with(&format!("fixtures/{name}/")));
    if !exists {
        return None;
    }
    builtin_dir()
        .ok()
        .map(|root| root.join("fixtures").join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suite_and_its_fixtures_and_requirements_are_built_in() {
        let names: Vec<&str> = files().iter().map(|(n, _)| *n).collect();
        assert!(names.contains(&"requirements.yaml"), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("rfc1939/")));
        assert!(names.contains(&"fixtures/long-body/01-long-body.eml"));
        // An empty fixture is a folder with a placeholder: it must exist too.
        assert!(names.contains(&"fixtures/empty/.keep"));
        // Built-in files are the checkout's, byte for byte.
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        for (inside, bytes) in files() {
            assert_eq!(
                std::fs::read(repo.join(inside)).ok().as_deref(),
                Some(*bytes),
                "{inside} differs from the checkout"
            );
        }
    }

    #[test]
    fn written_out_files_are_named_inside_the_suite() {
        let root = builtin_dir().unwrap();
        let file = root.join("rfc1939/some.yaml");
        assert_eq!(
            display_path(&file),
            Path::new("scenarios/rfc1939/some.yaml")
        );
        assert_eq!(display_path(&root), Path::new("scenarios"));
        assert_eq!(
            display_path(Path::new("mine/x.yaml")),
            Path::new("mine/x.yaml")
        );
        assert!(builtin_fixture("long-body")
            .unwrap()
            .join("01-long-body.eml")
            .is_file());
        assert!(builtin_fixture("no-such-fixture").is_none());
    }

    #[test]
    fn the_rfcs_the_suite_cites_are_built_in_with_their_notices() {
        for rfc in [1939, 2449, 2595, 3206, 4616, 5034, 6856, 8314] {
            let text = rfc_text(rfc).unwrap_or_else(|| panic!("RFC {rfc} is not built in"));
            assert!(
                text.contains(&format!("Request for Comments: {rfc}"))
                    || text.contains(&format!("RFC {rfc}"))
            );
        }
        assert!(rfc_text(8314)
            .unwrap()
            .contains("Copyright (c) 2018 IETF Trust"));
        assert!(rfc_text(1).is_none());
    }
}
