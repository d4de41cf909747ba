//! The suite this binary carries: every file of `scenarios/` (scenario files,
//! fixtures, requirements.yaml) and the RFC texts of `docs/rfc/`, embedded by
//! `build.rs` so `pop3spec` works from any folder on any machine.
//!
//! The built-in suite is written out once per process to a private temporary
//! folder and read from there like any other: fixtures must be real files
//! (`--seed-command` gets their paths, `--maildir` copies them), and one code
//! path for built-in and local suites keeps their verdicts the same. Messages
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

/// The written-out built-in suite: the temporary folder holding `scenarios/`.
static WRITTEN: Mutex<Option<tempfile::TempDir>> = Mutex::new(None);

/// The built-in suite's `scenarios/` folder on disk, written out on first use.
pub fn builtin_dir() -> Result<PathBuf, String> {
    let mut written = WRITTEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = written.as_ref() {
        return Ok(dir.path().join(BUILTIN_ROOT));
    }
    let dir = tempfile::Builder::new()
        .prefix("pop3spec-suite-")
        .tempdir()
        .map_err(|e| format!("cannot write out the built-in suite: {e}"))?;
    let root = dir.path().join(BUILTIN_ROOT);
    for (inside, bytes) in files() {
        let path = root.join(inside);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot write out the built-in suite: {e}"))?;
        }
        std::fs::write(&path, bytes)
            .map_err(|e| format!("cannot write out the built-in suite: {e}"))?;
    }
    *written = Some(dir);
    Ok(root)
}

/// Removes the written-out built-in suite (statics are never dropped, so
/// `main` calls this before the process ends).
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
    let Some(dir) = written.as_ref() else {
        return path.to_path_buf();
    };
    match path.strip_prefix(dir.path()) {
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
