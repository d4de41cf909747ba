//! Command-line entry point: parses flags (each with a POP3_REF_* env twin),
//! starts a [`RunningServer`] and shuts it down cleanly on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pop3_reference_server::config::parse_users;
use pop3_reference_server::{
    Fault, FaultSet, RunningServer, ServerConfig, TlsSetup, Variant, VariantSet,
};

const AFTER_HELP: &str = "\
RUNNING AGAINST A MAILDIR
  The maildrop of user U is the Maildir MAIL_ROOT/U (cur/, new/, tmp/ are
  created when missing). Messages delivered into new/ by any tool show up at
  the user's next login. Example:

    mkdir -p /tmp/mail/alice/new
    printf 'Subject: hi\\n\\nhello\\n' > /tmp/mail/alice/new/1.msg
    echo 'alice:secret' > /tmp/users
    pop3-reference-server --mail-root /tmp/mail --users /tmp/users \\
        --listen 127.0.0.1:1110 --tls-listen 127.0.0.1:1995

POINTING A MAIL CLIENT AT IT
  curl:        curl pop3://127.0.0.1:1110/ -u alice:secret      (list)
               curl pop3://127.0.0.1:1110/1 -u alice:secret     (retrieve)
               curl pop3s://127.0.0.1:1995/ -k -u alice:secret  (implicit TLS)
  mutt:        set folder=pop://alice@127.0.0.1:1110/ ; set ssl_starttls=yes
  Thunderbird: POP3 server 127.0.0.1, port 1110 with STARTTLS or 1995 with
               SSL/TLS, normal password, accept the self-signed certificate.

Without --cert/--key a self-signed certificate for localhost, 127.0.0.1 and
::1 is generated at start. Deletion happens only at QUIT (UPDATE state).";

/// A strict POP3 server on Maildir storage, with switchable protocol faults.
#[derive(Parser, Debug)]
#[command(name = "pop3-reference-server", version, after_help = AFTER_HELP)]
struct Args {
    /// Directory holding one Maildir per user (MAIL_ROOT/USER).
    #[arg(
        long,
        env = "POP3_REF_MAIL_ROOT",
        required_unless_present_any = ["list_faults", "list_variants"]
    )]
    mail_root: Option<PathBuf>,

    /// File of `user:password` lines; `#` starts a comment.
    #[arg(long, env = "POP3_REF_USERS", required_unless_present_any = ["list_faults", "list_variants"])]
    users: Option<PathBuf>,

    /// Plain POP3 listener (STLS offered there unless --no-tls).
    #[arg(long, env = "POP3_REF_LISTEN", default_value = "127.0.0.1:1110")]
    listen: SocketAddr,

    /// Implicit-TLS (RFC 8314, "pop3s") listener, e.g. 127.0.0.1:1995.
    #[arg(long, env = "POP3_REF_TLS_LISTEN")]
    tls_listen: Option<SocketAddr>,

    /// PEM certificate chain (with --key); default: a generated self-signed one.
    #[arg(long, env = "POP3_REF_CERT", requires = "key")]
    cert: Option<PathBuf>,

    /// PEM private key (with --cert).
    #[arg(long, env = "POP3_REF_KEY", requires = "cert")]
    key: Option<PathBuf>,

    /// Disable TLS entirely: no STLS, no implicit-TLS listener.
    #[arg(long, env = "POP3_REF_NO_TLS", conflicts_with_all = ["cert", "key", "tls_listen"])]
    no_tls: bool,

    /// Autologout timer in seconds (RFC 1939 requires at least 600).
    #[arg(long, env = "POP3_REF_IDLE_TIMEOUT", default_value_t = 600)]
    idle_timeout: u64,

    /// Connections beyond this get `-ERR [SYS/TEMP]` and are closed.
    #[arg(long, env = "POP3_REF_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,

    /// Advertised EXPIRE policy: days, or "never".
    #[arg(long, env = "POP3_REF_EXPIRE", default_value = "never", value_parser = parse_expire)]
    expire: Expire,

    /// LOGIN-DELAY in seconds: announced in CAPA, and above 0 enforced (a
    /// user's next login within that time gets `-ERR [LOGIN-DELAY]`).
    #[arg(long, env = "POP3_REF_LOGIN_DELAY")]
    login_delay: Option<u32>,

    /// Switch on a protocol fault (repeatable; see --list-faults).
    #[arg(long = "fault", env = "POP3_REF_FAULT", value_delimiter = ',', value_parser = parse_fault)]
    faults: Vec<Fault>,

    /// Print every fault name with its description and exit.
    #[arg(long, env = "POP3_REF_LIST_FAULTS")]
    list_faults: bool,

    /// Switch on an allowed variant: behaviour the RFCs permit, not a fault
    /// (repeatable; see --list-variants).
    #[arg(long = "variant", env = "POP3_REF_VARIANT", value_delimiter = ',', value_parser = parse_variant)]
    variants: Vec<Variant>,

    /// Print every allowed variant with the RFC text that allows it, and exit.
    #[arg(long, env = "POP3_REF_LIST_VARIANTS")]
    list_variants: bool,

    /// Milliseconds to wait before answering a failed PASS, APOP or AUTH
    /// (slows down password guessing; 0 disables).
    #[arg(long, env = "POP3_REF_AUTH_FAILURE_DELAY", default_value_t = 500)]
    auth_failure_delay: u64,

    /// Refuse USER/PASS/APOP/AUTH until the connection uses TLS (STLS or the
    /// implicit-TLS listener), and hide USER/SASL from CAPA before that.
    #[arg(long, env = "POP3_REF_REQUIRE_TLS", conflicts_with = "no_tls")]
    require_tls: bool,

    /// Host name used in the APOP timestamp of the greeting.
    #[arg(long, env = "POP3_REF_HOSTNAME", default_value = "localhost")]
    hostname: String,
}

#[derive(Clone, Debug)]
struct Expire(Option<u32>);

fn parse_expire(s: &str) -> Result<Expire, String> {
    if s.eq_ignore_ascii_case("never") {
        return Ok(Expire(None));
    }
    s.parse::<u32>()
        .map(|d| Expire(Some(d)))
        .map_err(|_| format!("expected a number of days or \"never\", got {s:?}"))
}

fn parse_variant(s: &str) -> Result<Variant, String> {
    Variant::from_name(s).ok_or_else(|| format!("unknown variant {s:?} (see --list-variants)"))
}

fn parse_fault(s: &str) -> Result<Fault, String> {
    Fault::from_name(s).ok_or_else(|| format!("unknown fault {s:?} (see --list-faults)"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.list_faults {
        for f in Fault::ALL {
            println!("{}\t{}", f.name(), f.description());
        }
        return ExitCode::SUCCESS;
    }
    if args.list_variants {
        for v in Variant::ALL {
            println!("{}\t{}", v.name(), v.description());
        }
        return ExitCode::SUCCESS;
    }
    let users_path = args.users.expect("required by clap");
    let users = match std::fs::read_to_string(&users_path).and_then(|t| parse_users(&t)) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("cannot read users file {}: {e}", users_path.display());
            return ExitCode::FAILURE;
        }
    };
    let mut config = ServerConfig::new(args.mail_root.expect("required by clap"), users);
    config.listen = args.listen;
    config.tls_listen = args.tls_listen;
    config.tls = match (args.no_tls, args.cert, args.key) {
        (true, _, _) => TlsSetup::None,
        (false, Some(cert), Some(key)) => TlsSetup::Files { cert, key },
        _ => TlsSetup::SelfSigned,
    };
    config.idle_timeout = Duration::from_secs(args.idle_timeout);
    config.max_connections = args.max_connections;
    config.expire = args.expire.0;
    config.login_delay = args.login_delay;
    config.hostname = args.hostname;
    config.auth_failure_delay = Duration::from_millis(args.auth_failure_delay);
    config.require_tls = args.require_tls;
    config.faults = args.faults.into_iter().collect::<FaultSet>();
    config.variants = args.variants.into_iter().collect::<VariantSet>();
    let variants: Vec<&str> = config.variants.iter().map(Variant::name).collect();

    let faults: Vec<&str> = config.faults.iter().map(Fault::name).collect();
    let server = match RunningServer::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("pop3-reference-server listening on {}", server.addr());
    if let Some(a) = server.tls_addr() {
        eprintln!("implicit TLS on {a}");
    }
    if !faults.is_empty() {
        eprintln!("faults enabled: {}", faults.join(", "));
    }
    if !variants.is_empty() {
        eprintln!("allowed variants enabled: {}", variants.join(", "));
    }
    wait_for_signal().await;
    eprintln!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
