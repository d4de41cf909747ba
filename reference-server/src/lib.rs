//! A strict POP3 server (RFC 1939, 2449, 2595, 3206, 5034, 6856, 8314) on Maildir
//! storage, with switchable faults.
//!
//! It exists to validate the pop3spec conformance harness: the harness must
//! pass against the correct server and fail, for the right reason, against
//! each fault. It is also usable as a small real server for local testing.

pub mod cmd;
pub mod config;
pub mod connection;
pub mod faults;
#[doc(hidden)]
pub mod fuzzing;
pub mod language;
pub mod locks;
pub mod logins;
pub mod maildrop;
pub mod saslprep;
pub mod server;
pub mod session;
pub mod variants;

pub use config::{ServerConfig, TlsSetup};
pub use faults::{Fault, FaultSet};
pub use server::RunningServer;
pub use variants::{Variant, VariantSet};
