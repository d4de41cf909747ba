//! Which scenarios a command works on: paths and id globs from the command line,
//! then --include/--exclude/--tag/--skip-tag. Shared by `run`, `list` and `selftest`.

use crate::cli::Selection;
use crate::scenario::load::{self, Suite};
use crate::scenario::Scenario;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The suite folder: `scenarios/` here, else the one this binary was built with.
pub fn default_scenario_dir() -> PathBuf {
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")
    }
}

/// Splits command-line targets into paths (that exist) and id globs.
pub fn split_targets(targets: &[String]) -> (Vec<PathBuf>, Vec<String>) {
    let mut paths = Vec::new();
    let mut globs = Vec::new();
    for t in targets {
        let p = PathBuf::from(t);
        if p.exists() {
            paths.push(p);
        } else {
            globs.push(t.clone());
        }
    }
    if paths.is_empty() {
        paths.push(default_scenario_dir());
    }
    (paths, globs)
}

pub fn var_names(vars: &[String]) -> Result<Vec<(String, String)>, String> {
    vars.iter()
        .map(|v| {
            v.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| format!("--var `{v}`: write NAME=VALUE"))
        })
        .collect()
}

/// Loads the files named by the selection. Err(text) is a usage problem.
pub fn load(selection: &Selection) -> Result<(Suite, Vec<(String, String)>), String> {
    let vars = var_names(&selection.vars)?;
    let (paths, _) = split_targets(&selection.targets);
    let files = load::discover(&paths)?;
    let names: BTreeSet<String> = vars.iter().map(|(k, _)| k.clone()).collect();
    Ok((load::load_suite(&files, &names), vars))
}

fn globset(patterns: &[String], what: &str) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).map_err(|e| format!("{what} `{p}`: {e}"))?);
    }
    b.build().map(Some).map_err(|e| e.to_string())
}

pub fn filter(scenarios: Vec<Scenario>, selection: &Selection) -> Result<Vec<Scenario>, String> {
    let (_, id_globs) = split_targets(&selection.targets);
    let mut include = selection.include.clone();
    include.extend(id_globs);
    let include = globset(&include, "id glob")?;
    let exclude = globset(&selection.exclude, "--exclude")?;
    Ok(scenarios
        .into_iter()
        .filter(|s| include.as_ref().is_none_or(|g| g.is_match(&s.id)))
        .filter(|s| exclude.as_ref().is_none_or(|g| !g.is_match(&s.id)))
        .filter(|s| selection.tag.is_empty() || s.tags.iter().any(|t| selection.tag.contains(t)))
        .filter(|s| !s.tags.iter().any(|t| selection.skip_tag.contains(t)))
        .collect())
}
