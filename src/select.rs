//! Which scenarios a command works on: paths and id globs from the command line,
//! then --include/--exclude/--tag/--skip-tag. Shared by `run`, `list` and `selftest`.

use crate::cli::{Selection, SuiteArgs};
use crate::scenario::load::{self, Suite};
use crate::scenario::Scenario;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A command-line target that names a file or folder rather than an id glob:
/// ids are dotted words, so a path separator or a YAML extension means a path.
fn looks_like_path(target: &str) -> bool {
    target.contains('/')
        || target.contains(std::path::MAIN_SEPARATOR)
        || target.ends_with(".yaml")
        || target.ends_with(".yml")
}

/// Err when a target is meant as a path but nothing is there.
pub fn check_targets(targets: &[String]) -> Result<(), String> {
    match targets
        .iter()
        .find(|t| looks_like_path(t) && !PathBuf::from(t).exists())
    {
        Some(t) => Err(format!(
            "{t}: no such file or folder (give an existing scenario file or folder, or an id glob such as 'rfc1939.update.*')"
        )),
        None => Ok(()),
    }
}

/// Splits command-line targets into paths (that exist) and id globs; the
/// paths are those of [`suite_paths`].
pub fn split_targets(targets: &[String], suite: &SuiteArgs) -> (Vec<PathBuf>, Vec<String>) {
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
    (suite_paths(paths, suite), globs)
}

/// The files and folders a command reads: paths given as arguments, else
/// --suite, else `scenarios/` here, else the built-in suite; then every
/// --add. Like pytest's or Hurl's, paths as arguments are what runs, while
/// --add keeps the suite and puts the user's own scenarios beside it.
pub fn suite_paths(given: Vec<PathBuf>, suite: &SuiteArgs) -> Vec<PathBuf> {
    let mut paths = given;
    if paths.is_empty() {
        paths.push(
            suite
                .suite
                .clone()
                .unwrap_or_else(crate::suite::default_scenario_dir),
        );
    }
    paths.extend(suite.add.iter().cloned());
    paths
}

/// Err when --suite or --add names nothing.
pub fn check_suite_args(suite: &SuiteArgs) -> Result<(), String> {
    let given = suite.suite.iter().map(|p| ("--suite", p));
    match given
        .chain(suite.add.iter().map(|p| ("--add", p)))
        .find(|(_, p)| !p.exists())
    {
        Some((flag, p)) => Err(format!("{flag} {}: no such file or folder", p.display())),
        None => Ok(()),
    }
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
    check_targets(&selection.targets)?;
    check_suite_args(&selection.suite)?;
    let (paths, _) = split_targets(&selection.targets, &selection.suite);
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

/// The scenarios the selection keeps. Err when a glob is malformed, or when
/// nothing is left (unless --allow-empty), saying which part of the
/// selection left nothing.
pub fn filter(scenarios: Vec<Scenario>, selection: &Selection) -> Result<Vec<Scenario>, String> {
    let (paths, id_globs) = split_targets(&selection.targets, &selection.suite);
    let loaded = scenarios.len();
    let mut include = selection.include.clone();
    include.extend(id_globs.iter().cloned());
    let include = globset(&include, "id glob")?;
    let exclude = globset(&selection.exclude, "--exclude")?;
    let all_tags: BTreeSet<String> = scenarios.iter().flat_map(|s| s.tags.clone()).collect();
    let mut emptied_by: Option<String> = None;
    let mut stage = |kept: Vec<Scenario>, what: &dyn Fn() -> String| {
        if kept.is_empty() && emptied_by.is_none() {
            emptied_by = Some(what());
        }
        kept
    };
    let kept = stage(
        scenarios
            .into_iter()
            .filter(|s| include.as_ref().is_none_or(|g| g.is_match(&s.id)))
            .collect(),
        &|| {
            let mut globs = id_globs.clone();
            globs.extend(selection.include.iter().cloned());
            format!("no scenario id matches {}", quoted(&globs))
        },
    );
    let kept = stage(
        kept.into_iter()
            .filter(|s| exclude.as_ref().is_none_or(|g| !g.is_match(&s.id)))
            .collect(),
        &|| {
            format!(
                "--exclude {} left out every one",
                quoted(&selection.exclude)
            )
        },
    );
    let kept = stage(
        kept.into_iter()
            .filter(|s| {
                selection.tag.is_empty() || s.tags.iter().any(|t| selection.tag.contains(t))
            })
            .collect(),
        &|| {
            let unknown: Vec<String> = selection
                .tag
                .iter()
                .filter(|t| !all_tags.contains(*t))
                .cloned()
                .collect();
            if unknown.is_empty() {
                format!(
                    "no selected scenario has the tag {}",
                    quoted(&selection.tag)
                )
            } else {
                format!(
                    "no scenario has the tag {} (tags in use: {})",
                    quoted(&unknown),
                    all_tags.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            }
        },
    );
    let kept = stage(
        kept.into_iter()
            .filter(|s| !s.tags.iter().any(|t| selection.skip_tag.contains(t)))
            .collect(),
        &|| {
            format!(
                "--skip-tag {} left out every one",
                quoted(&selection.skip_tag)
            )
        },
    );
    if kept.is_empty() && !selection.allow_empty {
        let shown: Vec<String> = paths
            .iter()
            .map(|p| crate::suite::display_path(p).display().to_string())
            .collect();
        let why = if loaded == 0 {
            format!("no scenario files in {}", shown.join(", "))
        } else {
            format!(
                "{loaded} scenario(s) in {}, but {}",
                shown.join(", "),
                emptied_by.unwrap_or_default()
            )
        };
        return Err(format!(
            "the selection is empty: {why}. Check the spelling (`pop3spec list` shows ids and tags), or pass --allow-empty if an empty selection is fine"
        ));
    }
    Ok(kept)
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(", ")
}
