//! Allowed variants: behaviour the RFCs permit but a strict server need not
//! show, switched on one at a time like the faults. They are not faults: the
//! conformance suite must pass against each of them (`pop3spec selftest`
//! runs the clean suite on every variant and requires no failure), which
//! proves it does not mistake an allowed choice for a broken rule.

use std::collections::HashSet;

macro_rules! variants {
    ($( $variant:ident = $name:literal : $desc:literal, )*) => {
        /// One behaviour the POP3 RFCs allow.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Variant {
            $( $variant, )*
        }

        impl Variant {
            /// Every variant, in documentation order.
            pub const ALL: &'static [Variant] = &[ $( Variant::$variant, )* ];

            /// Stable kebab-case name.
            pub fn name(self) -> &'static str {
                match self { $( Variant::$variant => $name, )* }
            }

            /// One line naming the RFC text that allows it.
            pub fn description(self) -> &'static str {
                match self { $( Variant::$variant => $desc, )* }
            }

            /// Inverse of [`Variant::name`].
            pub fn from_name(s: &str) -> Option<Variant> {
                match s { $( $name => Some(Variant::$variant), )* _ => None }
            }
        }
    };
}

variants! {
    CapaAfterLoginOnly = "capa-after-login-only": "PIPELINING, RESP-CODES and AUTH-RESP-CODE announced only after login; RFC 2449 §5 lets the lists differ (only what is available before login must be announced in both states)",
    CloseAfterErr = "close-after-err": "the connection is closed after every -ERR; RFC 1939 §4: after returning a negative status indicator, the server may close the connection",
    LineBeforeAutologout = "line-before-autologout": "`-ERR autologout` is sent before the autologout close; RFC 1939 §3 says the server should (not must) close without a response",
    LoginDelayEnforced = "login-delay-enforced": "LOGIN-DELAY 1 announced and enforced for every login; RFC 2449 §6.5 allows refusing logins closer together than the delay",
    StlsPipelinedCloses = "stls-pipelined-closes": "a client that sent more after STLS, before the handshake, gets +OK and then the connection closed instead of a handshake; RFC 2595 §4 the client MUST NOT send further commands, and the server may close after a protocol violation",
    DownloadAndDelete = "download-and-delete": "EXPIRE 0 announced in both states and every message sent with RETR removed at QUIT (not when the connection drops); RFC 2449 §6.7: with EXPIRE 0 the server MAY assume an implicit DELE for each message downloaded with RETR, and RFC 1939 §8 makes such policies no protocol violation",
    NoCapa = "no-capa": "CAPA answered -ERR, as by a server without RFC 2449 (and so STLS too: RFC 2595 §4 a server with STLS MUST implement CAPA); CAPA is an optional extension",
}

impl Variant {
    /// The LOGIN-DELAY (seconds) this variant announces and enforces.
    pub const LOGIN_DELAY: u32 = 1;
}

/// The variants a server instance has switched on.
#[derive(Clone, Debug, Default)]
pub struct VariantSet {
    set: HashSet<Variant>,
}

impl VariantSet {
    /// None switched on: the strict server.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn single(v: Variant) -> Self {
        Self {
            set: HashSet::from([v]),
        }
    }

    pub fn contains(&self, v: Variant) -> bool {
        self.set.contains(&v)
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Variant> + '_ {
        Variant::ALL
            .iter()
            .copied()
            .filter(|v| self.set.contains(v))
    }
}

impl FromIterator<Variant> for VariantSet {
    fn from_iter<I: IntoIterator<Item = Variant>>(iter: I) -> Self {
        VariantSet {
            set: iter.into_iter().collect(),
        }
    }
}
