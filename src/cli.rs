//! Command-line definitions. Every option has an environment twin
//! (`POP3SPEC_*`) so CI jobs can configure a run without long command lines.

use crate::report::console::ConsoleOptions;
pub use crate::report::github::Annotations;
pub use crate::report::matrix::NamedReport;
use crate::runner::target::AuthMechanism;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  every scenario passed (non-strict, info and skipped results allowed)
  1  a scenario failed or errored (known failures excepted), or was not run
     before --deadline; with --strict, a --known-failures entry matching no scenario
  2  bad command line (-j 0, a zero duration), invalid scenario files, a
     scenario path that does not exist, a selection that leaves no scenario, or
     a report file that cannot be written (nothing was run)
  3  the target could not be reached at all";

#[derive(Debug, Parser)]
#[command(
    name = "pop3spec",
    version,
    about = "POP3 conformance test harness: replays scenario files against a server and judges its answers",
    long_about = "pop3spec replays YAML scenario files (command/response dialogues tied to RFC 1939, 2449, 2595, 3206, 5034, 6856 and 8314) against a POP3 server and judges every answer.\n\nWithout --host, `pop3spec run` starts the bundled reference server on a loopback port and runs the suite against it.",
    after_help = EXIT_CODES,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against a server (the bundled reference server without --host)
    #[command(after_help = EXIT_CODES)]
    Run(Box<RunArgs>),
    /// List scenarios (id, level, spec, title, tags) without connecting anywhere
    List(ListArgs),
    /// Validate scenario files without connecting: reports file:line:col for every problem
    #[command(after_help = EXIT_CODES)]
    Check(CheckArgs),
    /// Run the suite against the bundled reference server, clean and under every fault switch
    Selftest(SelftestArgs),
    /// Print the JSON Schema of scenario files (committed as docs/scenario.schema.json)
    Schema,
    /// Write a commented skeleton scenario at the path its id implies
    New(NewArgs),
    /// Show a scenario: metadata, its steps, and the RFC text it checks
    Explain(ExplainArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the man page (roff) of pop3spec or of one subcommand
    Man(ManArgs),
    /// Many concurrent clients doing random valid work, checked against a mailbox model
    #[command(after_help = STRESS_EXIT_CODES)]
    Stress(Box<StressArgs>),
    /// Combine several `run --json` results into one scenario × server matrix (HTML and Markdown)
    #[command(after_help = REPORT_EXIT_CODES)]
    Report(ReportArgs),
    /// Judge a POP3 client: play the server of each client scenario and grade what the client sent and stored
    #[command(after_help = CLIENT_HELP)]
    Client(Box<ClientArgs>),
}

pub const CLIENT_HELP: &str = "\
The client command runs once per scenario through `sh -c`, against a fresh
loopback port. It gets these placeholders, and the same values as environment
variables POP3SPEC_<NAME>:
  {host} {port}   where the harness listens (127.0.0.1)
  {user} {pass}   the account to log in with
  {out}           an empty folder: store the downloaded messages here (a Maildir,
                  an mbox file, or one file per message)
  {cafile}        PEM of the CA that signed the harness's certificate
  {tls}           none | starttls | implicit: how the client must protect the session
  {delete}        1: delete after download, 0: keep the messages on the server
  {auth}          user | apop | plain | any: the login method to configure
  {scenario}      the scenario id
  {config}        the --config-template file rendered for this scenario
A command that exits with 77 says the client cannot be configured as the
scenario asks (no APOP, no SASL PLAIN, ...): the scenario is skipped.
Example:
  pop3spec client --command 'tests/clients/poplib.py'

Exit codes:
  0  every client scenario passed (non-strict, info and skipped allowed)
  1  a scenario failed or errored (known failures excepted)
  2  bad command line or invalid client scenario files (nothing was run)";

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Client scenario files or folders, or id globs such as 'client.stls.*' [default: the client/ folder of the suite in use]
    #[arg(value_name = "PATH|ID-GLOB")]
    pub targets: Vec<String>,
    /// The suite folder whose client/ folder is read, in place of scenarios/ here or the built-in suite (paths given as arguments replace it too)
    #[arg(long, env = "POP3SPEC_SUITE", value_name = "DIR")]
    pub suite: Option<PathBuf>,
    /// Client scenario files or folders added to the client suite in use (repeatable); an id found twice is an error naming both files
    #[arg(
        long,
        env = "POP3SPEC_CLIENT_ADD",
        value_name = "PATH",
        value_delimiter = ','
    )]
    pub add: Vec<PathBuf>,
    /// Shell command that runs the client once (see the placeholders below)
    #[arg(long, env = "POP3SPEC_CLIENT_COMMAND", value_name = "CMD", conflicts_with_all = ["command_file", "listen"])]
    pub command: Option<String>,
    /// A file holding the client command (for long commands or config templates)
    #[arg(
        long,
        env = "POP3SPEC_CLIENT_COMMAND_FILE",
        value_name = "FILE",
        conflicts_with = "listen"
    )]
    pub command_file: Option<PathBuf>,
    /// A client configuration file with the same {placeholders}, written per scenario (mode 0600) and named by {config}
    #[arg(
        long,
        env = "POP3SPEC_CLIENT_CONFIG_TEMPLATE",
        value_name = "FILE",
        conflicts_with = "listen"
    )]
    pub config_template: Option<PathBuf>,
    /// Wait on HOST:PORT for a client started by hand (GUI clients) instead of running a command
    #[arg(long, env = "POP3SPEC_CLIENT_LISTEN", value_name = "HOST:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// Only scenarios with this tag (repeatable; any of them)
    #[arg(long, env = "POP3SPEC_CLIENT_TAG", value_delimiter = ',')]
    pub tag: Vec<String>,
    /// Leave out scenarios whose id matches this glob (repeatable)
    #[arg(long, env = "POP3SPEC_CLIENT_EXCLUDE", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// The user name the client logs in with
    #[arg(long, env = "POP3SPEC_CLIENT_USER", default_value = "pop3spec")]
    pub user: String,
    /// The password the client logs in with
    #[arg(
        long,
        env = "POP3SPEC_CLIENT_PASS",
        default_value = "client-test-secret",
        hide_env_values = true
    )]
    pub pass: String,
    /// Deadline of one scenario: a client still running then is ended and graded
    #[arg(long, env = "POP3SPEC_CLIENT_TIMEOUT", default_value = "20s", value_parser = parse_positive_duration)]
    pub timeout: std::time::Duration,
    /// Grade should-level deviations as failures
    #[arg(long, env = "POP3SPEC_STRICT")]
    pub strict: bool,
    /// Scenario ids or id globs (one a line, # comments) whose fail/error does not fail the run
    #[arg(long, env = "POP3SPEC_CLIENT_KNOWN_FAILURES", value_name = "FILE")]
    pub known_failures: Option<PathBuf>,
    /// Keep each scenario's {out} folder here (DIR/<id>/out) instead of a temporary one
    #[arg(long, env = "POP3SPEC_CLIENT_KEEP", value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// List the selected client scenarios and exit
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub const REPORT_EXIT_CODES: &str = "\
Exit codes:
  0  both reports were written (whatever the servers' verdicts)
  1  a report file could not be written
  2  bad command line, or a result file that cannot be read or is not pop3spec JSON";

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Result files written by `pop3spec run --json`; each becomes a column labelled with its target
    #[arg(value_name = "FILE.json")]
    pub files: Vec<PathBuf>,
    /// A result file and its column label (repeatable; these columns come first, in order)
    #[arg(long = "name", value_name = "LABEL=FILE.json", value_parser = parse_named_report)]
    pub names: Vec<NamedReport>,
    /// Write the HTML matrix here (one self-contained file)
    #[arg(
        long,
        env = "POP3SPEC_MATRIX_HTML",
        value_name = "FILE",
        default_value = "reports/matrix.html"
    )]
    pub html: PathBuf,
    /// Write the Markdown matrix here
    #[arg(
        long,
        env = "POP3SPEC_MATRIX_MD",
        value_name = "FILE",
        default_value = "reports/matrix.md"
    )]
    pub markdown: PathBuf,
}

fn parse_named_report(s: &str) -> Result<NamedReport, String> {
    match s.split_once('=') {
        Some((label, path)) if !label.trim().is_empty() && !path.is_empty() => Ok(NamedReport {
            label: label.trim().to_string(),
            path: PathBuf::from(path),
        }),
        _ => Err(format!("expected LABEL=FILE.json, got `{s}`")),
    }
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// Scenario id, e.g. rfc1939.update.foo (written to DIR/rfc1939/update/foo.yaml)
    pub id: String,
    /// Requirement level
    #[arg(long, env = "POP3SPEC_NEW_LEVEL", value_enum, default_value_t = LevelArg::Must)]
    pub level: LevelArg,
    /// RFC section that states the rule, e.g. "RFC 1939 §6" [default: from the id]
    #[arg(long, env = "POP3SPEC_NEW_SPEC")]
    pub spec: Option<String>,
    /// Scenario folder
    #[arg(long, env = "POP3SPEC_SCENARIO_DIR", default_value = "scenarios")]
    pub dir: std::path::PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    Must,
    Should,
    Info,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Scenario id
    pub id: String,
    /// The suite folder [default: scenarios/ here, else the built-in suite]
    #[arg(
        long = "suite",
        alias = "dir",
        env = "POP3SPEC_SUITE",
        value_name = "DIR"
    )]
    pub dir: Option<std::path::PathBuf>,
    /// Scenario files or folders added to the suite in use (repeatable), as for `run`
    #[arg(long, env = "POP3SPEC_ADD", value_name = "PATH", value_delimiter = ',')]
    pub add: Vec<PathBuf>,
    /// Folder of RFC texts (rfcNNNN.txt) [default: the texts built into pop3spec]
    #[arg(long, env = "POP3SPEC_RFC_DIR", value_name = "DIR")]
    pub rfc_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to generate the script for
    #[arg(value_enum)]
    pub shell: ShellArg,
}

/// The shells `pop3spec completions` writes scripts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    Bash,
    Elvish,
    Fish,
    Nushell,
    Powershell,
    Zsh,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand's page instead of the main one
    pub subcommand: Option<String>,
}

/// Which suite a command reads, besides paths given as arguments.
#[derive(Debug, Default, Args)]
pub struct SuiteArgs {
    /// The suite folder, in place of scenarios/ here or the built-in suite (paths given as arguments replace it too)
    #[arg(long, env = "POP3SPEC_SUITE", value_name = "DIR")]
    pub suite: Option<PathBuf>,
    /// Scenario files or folders added to the suite in use (repeatable); an id found twice is an error naming both files
    #[arg(long, env = "POP3SPEC_ADD", value_name = "PATH", value_delimiter = ',')]
    pub add: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct Selection {
    /// Scenario files or folders, or id globs such as 'rfc1939.update.*' [default: scenarios/]
    #[arg(value_name = "PATH|ID-GLOB")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub suite: SuiteArgs,
    /// Only scenarios whose id matches this glob (repeatable)
    #[arg(long, env = "POP3SPEC_INCLUDE", value_delimiter = ',')]
    pub include: Vec<String>,
    /// Leave out scenarios whose id matches this glob (repeatable)
    #[arg(long, env = "POP3SPEC_EXCLUDE", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Only scenarios with this tag (repeatable; any of them)
    #[arg(long, env = "POP3SPEC_TAG", value_delimiter = ',')]
    pub tag: Vec<String>,
    /// Leave out scenarios with this tag (repeatable)
    #[arg(long, env = "POP3SPEC_SKIP_TAG", value_delimiter = ',')]
    pub skip_tag: Vec<String>,
    /// Let a selection that leaves no scenario succeed (else it is a usage error, exit 2)
    #[arg(long, env = "POP3SPEC_ALLOW_EMPTY")]
    pub allow_empty: bool,
    /// Set a template variable, overriding the scenario's default (repeatable)
    #[arg(
        long = "var",
        env = "POP3SPEC_VAR",
        value_name = "NAME=VALUE",
        value_delimiter = ','
    )]
    pub vars: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub server: ServerArgs,
    /// SHOULD-level deviations (non-strict) fail the run
    #[arg(long, env = "POP3SPEC_STRICT")]
    pub strict: bool,
    /// Run this many scenarios at once [default: 8 without --host, 1 with it]. Scenarios that use
    /// one account never overlap: against --host, give --user-template so each job has its own
    #[arg(long, short = 'j', env = "POP3SPEC_JOBS", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub templates: AccountTemplates,
    /// Stop after the first failing scenario
    #[arg(long, env = "POP3SPEC_FAIL_FAST")]
    pub fail_fast: bool,
    /// Time the whole run may take, e.g. 10m: scenarios not finished by then are reported as errors ("not run: ... --deadline") and the reports are still written
    #[arg(long, env = "POP3SPEC_DEADLINE", value_name = "DURATION", value_parser = parse_positive_duration)]
    pub deadline: Option<std::time::Duration>,
    /// Run only the scenarios that failed or errored in this earlier `run --json` report (e.g. reports/results.json), within the selection; none there: nothing is run, exit 0
    #[arg(long, env = "POP3SPEC_RERUN_FAILED", value_name = "FILE.json")]
    pub rerun_failed: Option<PathBuf>,
    /// File of scenario ids or id globs (one per line, # comments) whose failure is reported but does not fail the run; entries matching no scenario are warned about (and fail the run with --strict)
    #[arg(long, env = "POP3SPEC_KNOWN_FAILURES", value_name = "FILE")]
    pub known_failures: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One account (pair) per job for parallel runs against --host.
#[derive(Clone, Debug, Default, Args)]
pub struct AccountTemplates {
    /// Test account of each job: `{job}` becomes the job number, 1 to --jobs (e.g. 'pop3spec{job}'); every one logs in with --pass
    #[arg(
        long,
        env = "POP3SPEC_USER_TEMPLATE",
        value_name = "TEMPLATE",
        conflicts_with = "user"
    )]
    pub user_template: Option<String>,
    /// Second test account of each job (`{job}` as in --user-template); every one logs in with --pass2
    #[arg(
        long,
        env = "POP3SPEC_USER2_TEMPLATE",
        value_name = "TEMPLATE",
        conflicts_with = "user2"
    )]
    pub user2_template: Option<String>,
    /// Maildir of each account, for seeding: `{user}` becomes its name and `{job}` its job number (e.g. '/srv/mail/{user}/Maildir')
    #[arg(
        long,
        env = "POP3SPEC_MAILDIR_TEMPLATE",
        value_name = "TEMPLATE",
        conflicts_with_all = ["maildir", "maildir2", "mbox", "mbox2", "seed_command"]
    )]
    pub maildir_template: Option<String>,
    /// mbox file of each account, for seeding: `{user}` becomes its name and `{job}` its job number (e.g. '/var/mail/{user}')
    #[arg(
        long,
        env = "POP3SPEC_MBOX_TEMPLATE",
        value_name = "TEMPLATE",
        conflicts_with_all = ["maildir", "maildir2", "mbox", "mbox2", "seed_command", "maildir_template"]
    )]
    pub mbox_template: Option<String>,
}

#[derive(Clone, Debug, Args)]
pub struct ServerArgs {
    /// Server to test; without it the bundled reference server is started on loopback
    #[arg(long, env = "POP3SPEC_HOST")]
    pub host: Option<String>,
    /// Port [default: 110, or 995 with --tls]
    #[arg(long, env = "POP3SPEC_PORT")]
    pub port: Option<u16>,
    /// Implicit TLS on every connection (POP3S, RFC 8314)
    #[arg(long, env = "POP3SPEC_TLS")]
    pub tls: bool,
    /// Issue STLS after every greeting, before logging in (RFC 2595)
    #[arg(long, env = "POP3SPEC_STARTTLS", conflicts_with = "tls")]
    pub starttls: bool,
    /// Implicit-TLS port for the scenarios that test it (RFC 8314)
    #[arg(long, env = "POP3SPEC_TLS_PORT")]
    pub tls_port: Option<u16>,
    /// Accept any server certificate (self-signed test servers)
    #[arg(long, env = "POP3SPEC_INSECURE")]
    pub insecure: bool,
    /// Trust the CA certificates in this PEM file instead of the built-in roots
    #[arg(long, env = "POP3SPEC_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Name for SNI and certificate checks [default: --host]
    #[arg(long, env = "POP3SPEC_SNI", value_name = "NAME")]
    pub sni: Option<String>,
    /// Test account user name
    #[arg(long, env = "POP3SPEC_USER")]
    pub user: Option<String>,
    /// Test account password (never printed: redacted in every report)
    #[arg(long, env = "POP3SPEC_PASS", hide_env_values = true)]
    pub pass: Option<String>,
    /// Second test account, for scenarios that need two (user name)
    #[arg(long, env = "POP3SPEC_USER2")]
    pub user2: Option<String>,
    /// Second test account's password
    #[arg(long, env = "POP3SPEC_PASS2", hide_env_values = true)]
    pub pass2: Option<String>,
    /// An account with long credentials, for the SASL exchanges longer than a command line: its user name (up to 255 octets; RFC 4616 §2 has servers accept that much)
    #[arg(long, env = "POP3SPEC_LONG_USER")]
    pub long_user: Option<String>,
    /// The long-credentials account's password (up to 255 octets; redacted in every report)
    #[arg(long, env = "POP3SPEC_LONG_PASS", hide_env_values = true)]
    pub long_pass: Option<String>,
    /// How the harness logs in for scenarios that start in TRANSACTION
    #[arg(long, env = "POP3SPEC_AUTH", value_enum, default_value_t = AuthMechanism::User)]
    pub auth: AuthMechanism,
    /// The test account's Maildir (holding cur/ new/ tmp/), for seeding fixtures
    #[arg(long, env = "POP3SPEC_MAILDIR", value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// The second test account's Maildir, for scenarios with a `fixture2`
    #[arg(long, env = "POP3SPEC_MAILDIR2", value_name = "DIR")]
    pub maildir2: Option<PathBuf>,
    /// The test account's mbox file (e.g. /var/mail/alice), for seeding fixtures: replaced in mboxrd form under dot-lock and fcntl lock
    #[arg(
        long,
        env = "POP3SPEC_MBOX",
        value_name = "FILE",
        conflicts_with = "maildir"
    )]
    pub mbox: Option<PathBuf>,
    /// The second test account's mbox file, for scenarios with a `fixture2`
    #[arg(
        long,
        env = "POP3SPEC_MBOX2",
        value_name = "FILE",
        conflicts_with = "maildir2"
    )]
    pub mbox2: Option<PathBuf>,
    /// Shell command that seeds each account without a --maildir/--mbox of its own ($POP3SPEC_USER names it); gets the fixture's message files as arguments
    #[arg(long, env = "POP3SPEC_SEED_COMMAND", value_name = "CMD")]
    pub seed_command: Option<String>,
    /// Seed by delivering over LMTP or SMTP (lmtp://HOST:PORT, smtp://HOST:PORT, lmtp:/path/to/socket), after emptying the account through POP3: for stores pop3spec cannot write (Cyrus, databases, other hosts)
    #[arg(
        long,
        env = "POP3SPEC_DELIVER",
        value_name = "URL",
        value_parser = parse_endpoint,
        conflicts_with_all = ["maildir", "maildir2", "mbox", "mbox2", "seed_command", "maildir_template", "mbox_template"]
    )]
    pub deliver: Option<crate::runner::deliver::Endpoint>,
    /// Recipient of --deliver's RCPT TO: `{user}` becomes the account's POP3 user name (e.g. '{user}@example.org')
    #[arg(
        long,
        env = "POP3SPEC_DELIVER_TO",
        value_name = "TEMPLATE",
        default_value = "{user}",
        requires = "deliver"
    )]
    pub deliver_to: String,
    /// How long --deliver waits for POP3 to list the delivered messages (servers that deliver in the background)
    #[arg(long, env = "POP3SPEC_DELIVER_WAIT", default_value = "10s", value_parser = parse_positive_duration)]
    pub deliver_wait: std::time::Duration,
    /// Let seeding delete mail that pop3spec did not deliver (the account is a throwaway)
    #[arg(long, env = "POP3SPEC_DISPOSABLE_ACCOUNT")]
    pub disposable_account: bool,
    /// Treat the server as announcing this capability (for servers without CAPA; repeatable)
    #[arg(
        long = "capability",
        env = "POP3SPEC_CAPABILITY",
        value_name = "CAPA",
        value_delimiter = ','
    )]
    pub capabilities: Vec<String>,
    /// Read timeout for each step, e.g. 5s or 500ms; a scenario's own `timeout:` replaces it (see --max-timeout)
    #[arg(long, env = "POP3SPEC_TIMEOUT", default_value = "5s", value_parser = parse_positive_duration)]
    pub timeout: std::time::Duration,
    /// Cap on every step's read timeout, a scenario's own `timeout:` included (scripted waits such as `sleep`, `within` and `expect_silence` are bounded by `run --deadline` instead)
    #[arg(long, env = "POP3SPEC_MAX_TIMEOUT", value_name = "DURATION", value_parser = parse_positive_duration)]
    pub max_timeout: Option<std::time::Duration>,
    /// How long the harness's own logins wait for each answer (servers delay
    /// answers to logins on purpose, e.g. after failed attempts)
    #[arg(long, env = "POP3SPEC_LOGIN_TIMEOUT", default_value = "30s", value_parser = parse_positive_duration)]
    pub login_timeout: std::time::Duration,
    /// Connect timeout
    #[arg(long, env = "POP3SPEC_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_positive_duration)]
    pub connect_timeout: std::time::Duration,
    /// Longest response line read before it is judged over-long (octets)
    #[arg(long, env = "POP3SPEC_MAX_LINE", default_value_t = crate::DEFAULT_MAX_LINE)]
    pub max_line: usize,
    /// Largest multi-line body accepted (octets)
    #[arg(long, env = "POP3SPEC_MAX_BODY", default_value_t = crate::DEFAULT_MAX_BODY)]
    pub max_body: usize,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write JUnit XML here
    #[arg(
        long,
        env = "POP3SPEC_JUNIT",
        value_name = "FILE",
        default_value = "reports/junit.xml"
    )]
    pub junit: PathBuf,
    /// Write the JSON report here
    #[arg(
        long,
        env = "POP3SPEC_JSON",
        value_name = "FILE",
        default_value = "reports/results.json"
    )]
    pub json: PathBuf,
    /// Write no report files
    #[arg(long, env = "POP3SPEC_NO_REPORTS")]
    pub no_reports: bool,
    /// Print CI annotations for failures [default: github when GITHUB_ACTIONS=true, else none]
    #[arg(long, env = "POP3SPEC_ANNOTATIONS", value_enum)]
    pub annotations: Option<Annotations>,
    /// Write a Markdown summary here [default: append to $GITHUB_STEP_SUMMARY when set]
    #[arg(long, env = "POP3SPEC_SUMMARY_MD", value_name = "FILE")]
    pub summary_md: Option<PathBuf>,
    #[command(flatten)]
    pub console: ConsoleArgs,
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Colour: auto (a terminal without NO_COLOR), always or never
    #[arg(long, env = "POP3SPEC_COLOR", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print the transcript of every scenario, passes included
    #[arg(short, long, env = "POP3SPEC_VERBOSE")]
    pub verbose: bool,
    /// Print only failures and the summary
    #[arg(short, long, env = "POP3SPEC_QUIET", conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Print the coverage map (Markdown): which RFC sections the scenarios check; exit 1 on gaps
    #[arg(long)]
    pub coverage: bool,
    /// Print the selected scenarios as a JSON array (id, title, spec, level, tags, requires, file)
    #[arg(long, conflicts_with = "coverage")]
    pub json: bool,
    /// Requirements list for --coverage [default: requirements.yaml in the scenario folder]
    #[arg(long, value_name = "FILE", requires = "coverage")]
    pub requirements: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario files or folders [default: scenarios/ here, else the built-in suite]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub suite: SuiteArgs,
    /// Variables that --var will provide at run time (so templates using them are not flagged)
    #[arg(
        long = "var",
        env = "POP3SPEC_VAR",
        value_name = "NAME=VALUE",
        value_delimiter = ','
    )]
    pub vars: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SelftestArgs {
    /// Scenario folder [default: scenarios/ here, else the built-in suite]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub suite: SuiteArgs,
    /// Scenarios run at the same time, over runs of 4 jobs each (runs mostly wait on timeouts, so more than the cores)
    #[arg(long, env = "POP3SPEC_JOBS", default_value_t = 16, value_parser = parse_jobs)]
    pub jobs: usize,
    /// Only these faults (repeatable; default all; `none` runs no fault)
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,
    /// Only these allowed variants (repeatable; default all; `none` runs no variant)
    #[arg(long = "variant", value_name = "NAME")]
    pub variants: Vec<String>,
    /// Write the fault × scenario matrix here
    #[arg(
        long,
        env = "POP3SPEC_SELFTEST_JSON",
        default_value = "reports/selftest.json"
    )]
    pub json: PathBuf,
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// A duration that can be waited: zero would make every step time out at once.
fn parse_positive_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = crate::scenario::parse_duration(s)?;
    if d.is_zero() {
        return Err(
            "a zero duration would end every wait at once: give a positive one, e.g. 5s or 500ms"
                .into(),
        );
    }
    Ok(d)
}

/// At least one job: `-j 0` would otherwise quietly mean one.
fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("at least one job is needed: give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a number of jobs")),
    }
}

fn parse_endpoint(s: &str) -> Result<crate::runner::deliver::Endpoint, String> {
    s.parse()
}

/// `pop3spec stress`: its exit codes, shown under its help.
pub const STRESS_EXIT_CODES: &str = "\
Exit codes:
  0  no invariant was violated
  1  at least one violation (lost or resurrected message, changed UIDL, two sessions in one locked maildrop, overlapping sessions that saw their maildrop change, ...)
  2  bad command line (e.g. --clients above 1000 or --duration above 600s)
  3  the target could not be reached at all";

#[derive(Debug, clap::Args)]
#[command(
    mut_arg("user_template", |a| a
        .help("Test accounts against --host: `{job}` becomes 1 to --accounts (e.g. 'stress{job}'); every one logs in with --pass")
        .long_help(None)),
    mut_arg("user2_template", |a| a
        .help("More test accounts, numbered as --user-template's (e.g. 'other{job}'); every one logs in with --pass2")
        .long_help(None)),
    mut_arg("maildir_template", |a| a
        .help("Maildir of each templated account, seeded as --maildir is: `{user}` becomes its name, `{job}` its number (e.g. '/srv/mail/{user}/Maildir')")
        .long_help(None)),
)]
pub struct StressArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub templates: AccountTemplates,
    /// Concurrent clients (1 to 1000)
    #[arg(
        long,
        short = 'c',
        env = "POP3SPEC_STRESS_CLIENTS",
        default_value_t = 8
    )]
    pub clients: usize,
    /// How long to run, e.g. 30s or 2m (at most 600s)
    #[arg(long, short = 'd', env = "POP3SPEC_STRESS_DURATION", default_value = "10s", value_parser = parse_duration)]
    pub duration: std::time::Duration,
    /// Messages seeded into each account (bundled server, or --maildir/--seed-command)
    #[arg(long, env = "POP3SPEC_STRESS_MESSAGES", default_value_t = 20)]
    pub messages: usize,
    /// Accounts: made on the bundled reference server, or against --host the numbers 1 to N that `{job}` takes in the templates [default: half the clients, at least 1: two clients per maildrop on average, competing for its lock]
    #[arg(long, env = "POP3SPEC_STRESS_ACCOUNTS")]
    pub accounts: Option<usize>,
    /// Seed of the random choices (printed at the start, so a run can be repeated)
    #[arg(long, env = "POP3SPEC_STRESS_SEED")]
    pub seed: Option<u64>,
    /// Write the result (throughput, latencies, violations) as JSON here
    #[arg(long, env = "POP3SPEC_STRESS_JSON", value_name = "FILE")]
    pub json: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::scenario::parse_duration(s)
}

/// The console options a command's flags ask for.
pub fn console_options(c: &ConsoleArgs, strict: bool) -> ConsoleOptions {
    ConsoleOptions {
        color: c.color.enabled(),
        verbose: c.verbose,
        quiet: c.quiet,
        strict,
    }
}
