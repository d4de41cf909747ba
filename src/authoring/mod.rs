//! Tools for people writing scenarios, and for wiring pop3spec into CI and shells:
//! the JSON Schema of scenario files, `pop3spec new` skeletons, `pop3spec explain`
//! with the RFC text a scenario checks, shell completions and the man page.

pub mod explain;
pub mod rfc;
pub mod schema;
pub mod skeleton;

use crate::cli::{Cli, CompletionsArgs, ExplainArgs, LevelArg, ManArgs, NewArgs, ShellArg};
use crate::exit::{EXIT_OK, EXIT_USAGE};
use crate::outcome::Level;
use crate::scenario::load;
use clap::CommandFactory;
use std::io::Write;

/// `pop3spec completions SHELL`: the completion script on `out`.
pub fn completions(shell: ShellArg, out: &mut dyn Write) {
    use clap_complete::{generate, Shell};
    let cmd = &mut Cli::command();
    let name = "pop3spec";
    match shell {
        ShellArg::Bash => generate(Shell::Bash, cmd, name, out),
        ShellArg::Elvish => generate(Shell::Elvish, cmd, name, out),
        ShellArg::Fish => generate(Shell::Fish, cmd, name, out),
        ShellArg::Nushell => generate(clap_complete_nushell::Nushell, cmd, name, out),
        ShellArg::Powershell => generate(Shell::PowerShell, cmd, name, out),
        ShellArg::Zsh => generate(Shell::Zsh, cmd, name, out),
    }
}

/// `pop3spec man [SUBCOMMAND]`: the roff man page of pop3spec, or of one
/// subcommand as `pop3spec-NAME(1)`.
pub fn man(subcommand: Option<&str>, out: &mut dyn Write) -> Result<(), String> {
    let mut cmd = Cli::command();
    cmd.build();
    let page = match subcommand {
        None => cmd,
        Some(name) => {
            let sub = cmd
                .find_subcommand(name)
                .ok_or_else(|| {
                    let names: Vec<&str> = cmd
                        .get_subcommands()
                        .map(|c| c.get_name())
                        .filter(|n| *n != "help")
                        .collect();
                    format!("no subcommand `{name}`; one of: {}", names.join(", "))
                })?
                .clone();
            // clap names are &'static str without its `string` feature; this runs
            // once per process, so leaking the short name costs nothing.
            let full: &'static str = Box::leak(format!("pop3spec-{}", sub.get_name()).into());
            sub.name(full)
        }
    };
    clap_mangen::Man::new(page)
        .render(out)
        .map_err(|e| format!("cannot write the man page: {e}"))
}

/// `pop3spec schema`.
pub fn schema_command() -> u8 {
    crate::report::write::write_stdout(schema::render().as_bytes())
}

/// `pop3spec new ID`.
pub fn new_command(args: NewArgs) -> u8 {
    let level = match args.level {
        LevelArg::Must => Level::Must,
        LevelArg::Should => Level::Should,
        LevelArg::Info => Level::Info,
    };
    match skeleton::create(&args.dir, &args.id, level, args.spec.as_deref()) {
        Ok(skeleton::Created {
            scenario: path,
            schema,
        }) => {
            if let Some(schema) = schema {
                println!(
                    "created {} (the JSON Schema editors check scenario files with; `pop3spec schema` prints it)",
                    schema.display()
                );
            }
            println!("created {}", path.display());
            println!(
                "next: fill in the TODOs and the steps, then `pop3spec check {0}` and `pop3spec run {0}`",
                path.display()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

/// `pop3spec explain ID`.
pub fn explain_command(args: ExplainArgs) -> u8 {
    let suite_args = crate::cli::SuiteArgs {
        suite: args.dir.clone(),
        add: args.add.clone(),
    };
    if let Err(e) = crate::select::check_suite_args(&suite_args) {
        eprintln!("error: {e}");
        return EXIT_USAGE;
    }
    let paths = crate::select::suite_paths(Vec::new(), &suite_args);
    let dir = paths[0].clone();
    let shown = crate::suite::display_path(&dir);
    let files = match load::discover(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let suite = load::load_suite(&files, &Default::default());
    let Some(s) = suite.scenarios.iter().find(|s| s.id == args.id) else {
        eprintln!(
            "error: no scenario with id `{}` in {}",
            args.id,
            shown.display()
        );
        let similar = explain::similar_ids(&args.id, suite.scenarios.iter().map(|s| s.id.as_str()));
        if !similar.is_empty() {
            eprintln!("similar ids: {}", similar.join(", "));
        }
        if !suite.problems.is_empty() {
            eprintln!(
                "{} file(s) could not be read; `pop3spec check {}` lists the problems",
                suite.problems.len(),
                shown.display()
            );
        }
        return EXIT_USAGE;
    };
    let texts = rfc::RfcTexts::choose(args.rfc_dir.as_deref());
    let requirements = crate::coverage::Requirements::load(&crate::coverage::requirements_path(
        None,
        std::slice::from_ref(&dir),
    ))
    .ok();
    let mut text = explain::render(s, &texts);
    text.push_str(&explain::checked_sentences(s, requirements.as_ref()));
    crate::report::write::write_stdout(text.as_bytes())
}

/// `pop3spec completions SHELL`.
pub fn completions_command(args: CompletionsArgs) -> u8 {
    // Generated whole first: the generator panics on a write error.
    let mut script = Vec::new();
    completions(args.shell, &mut script);
    crate::report::write::write_stdout(&script)
}

/// `pop3spec man [SUBCOMMAND]`.
pub fn man_command(args: ManArgs) -> u8 {
    let mut page = Vec::new();
    match man(args.subcommand.as_deref(), &mut page) {
        Ok(()) => crate::report::write::write_stdout(&page),
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}
