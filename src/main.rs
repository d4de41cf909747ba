//! The `pop3spec` command: parses the command line and maps every way a
//! command can end onto the documented exit codes.

use clap::Parser;
use pop3spec::cli::{Cli, Command};
use pop3spec::exit::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use std::process::ExitCode;

fn main() -> ExitCode {
    pop3spec::app::exit_quietly_on_broken_pipe();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let code = match cli.command {
        Command::Run(args) => runtime.block_on(pop3spec::app::run(*args)),
        Command::List(args) => pop3spec::app::list(args),
        Command::Check(args) => pop3spec::app::check(args),
        Command::Selftest(args) => runtime.block_on(pop3spec::selftest::selftest(args)),
        Command::Schema => pop3spec::authoring::schema_command(),
        Command::New(args) => pop3spec::authoring::new_command(args),
        Command::Explain(args) => pop3spec::authoring::explain_command(args),
        Command::Completions(args) => pop3spec::authoring::completions_command(args),
        Command::Man(args) => pop3spec::authoring::man_command(args),
        Command::Stress(args) => runtime.block_on(pop3spec::stress::stress(*args)),
        Command::Report(args) => pop3spec::app::report(args),
        Command::Client(args) => runtime.block_on(pop3spec::app::client(*args)),
    };
    drop(runtime);
    pop3spec::suite::cleanup();
    ExitCode::from(code)
}
