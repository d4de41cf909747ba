//! Whole sessions: the input is a byte script (LF-separated command lines,
//! pipelined) replayed against a Session over an in-memory duplex stream on
//! a fresh Maildir. Fails on a panic, on any reply that breaks the POP3
//! framing invariants, and on a message file that changed or disappeared
//! other than by QUIT in TRANSACTION after DELE.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pop3_reference_server::fuzzing::{check_transcript, MaildirFixture, MemorySession};
use pop3_reference_server::{ServerConfig, TlsSetup};

struct Env {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    server: MemorySession,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ServerConfig::new(dir.path(), MaildirFixture::users());
        cfg.tls = TlsSetup::None;
        cfg.tls_listen = None;
        let server = MemorySession::new(cfg).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Env { rt, dir, server }
    })
}

fuzz_target!(|script: &[u8]| {
    let env = env();
    let fx = MaildirFixture::create(env.dir.path()).unwrap();
    let output = env.rt.block_on(env.server.run(script));
    let outcome = match check_transcript(script, &output) {
        Ok(o) => o,
        Err(e) => panic!("{e}\n--- output ---\n{}", String::from_utf8_lossy(&output)),
    };
    if let Err(e) = fx.check(&outcome) {
        panic!("{e}");
    }
});
