//! Embeds the suite (`scenarios/`: scenario files, fixtures, requirements.yaml)
//! and the RFC texts `explain` quotes (`docs/rfc/`) into the binary, so an
//! installed or copied `pop3spec` needs no source tree beside it.
//!
//! Why a build script rather than include_dir or rust-embed: both folders are
//! watched with `cargo:rerun-if-changed`, which Cargo applies to every file
//! below a folder (edits, new files and removals alike), so a changed
//! scenario always rebuilds; include_dir's macro cannot tell Cargo which files
//! it read on stable Rust, and rust-embed reads the folder at run time in
//! debug builds unless a feature says otherwise, which is the very dependency
//! on the source tree this removes. A table of `include_bytes!` is all either
//! crate would give us here, and it costs no dependency.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let mut code = String::new();
    for (name, folder) in [("SUITE_FILES", "scenarios"), ("RFC_FILES", "docs/rfc")] {
        let dir = root.join(folder);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files = Vec::new();
        if dir.is_dir() {
            collect(&dir, &mut files);
        }
        files.sort();
        let _ = writeln!(code, "pub static {name}: &[(&str, &[u8])] = &[");
        for file in &files {
            let inside = file
                .strip_prefix(&dir)
                .expect("collected below the folder")
                .components()
                .map(|c| {
                    c.as_os_str()
                        .to_str()
                        .expect("UTF-8 file names in the suite")
                })
                .collect::<Vec<_>>()
                .join("/");
            let _ = writeln!(
                code,
                "    ({inside:?}, include_bytes!({:?})),",
                file.display().to_string()
            );
        }
        let _ = writeln!(code, "];");
    }
    std::fs::write(out.join("embedded.rs"), code).expect("OUT_DIR is writable");
}

/// Every regular file below `dir`, following no hidden folders (editor and VCS
/// droppings) but keeping hidden files such as `fixtures/empty/.keep`.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a readable folder entry").path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if path.is_dir() {
            if !hidden {
                collect(&path, files);
            }
        } else if path.is_file() {
            files.push(path);
        }
    }
}
