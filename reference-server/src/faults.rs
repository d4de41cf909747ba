//! Fault switches: deliberate, named protocol violations.
//!
//! The conformance harness must prove that each of its checks can actually
//! fail. Rather than keep a zoo of broken servers, the reference server can
//! be told to break one precise RFC rule at a time; each switch is consulted
//! at the single place in the normal code path where the rule is enforced.

use std::collections::HashSet;

macro_rules! faults {
    ($( $variant:ident = $name:literal : $desc:literal, )*) => {
        /// One deliberate deviation from the POP3 RFCs.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Fault {
            $( $variant, )*
        }

        impl Fault {
            /// Every fault, in documentation order.
            pub const ALL: &'static [Fault] = &[ $( Fault::$variant, )* ];

            /// Stable kebab-case name, as cited by the conformance suite.
            pub fn name(self) -> &'static str {
                match self { $( Fault::$variant => $name, )* }
            }

            /// One line naming the RFC rule the fault breaks.
            pub fn description(self) -> &'static str {
                match self { $( Fault::$variant => $desc, )* }
            }

            /// Inverse of [`Fault::name`].
            pub fn from_name(s: &str) -> Option<Fault> {
                match s { $( $name => Some(Fault::$variant), )* _ => None }
            }
        }
    };
}

faults! {
    GreetingLowercaseOk = "greeting-lowercase-ok": "greeting starts with `+ok`; RFC 1939 §3 status indicators are upper case `+OK`",
    GreetingBareLf = "greeting-bare-lf": "greeting ends in LF only; RFC 1939 §3 responses end in CRLF",
    GreetingExtraLine = "greeting-extra-line": "a second line follows the greeting; RFC 1939 §4 the greeting is one single-line response",
    ApopTimestampReused = "apop-timestamp-reused": "same APOP timestamp on every connection; RFC 1939 §7 it must be unique per connection",
    CaseSensitiveCommands = "case-sensitive-commands": "only upper-case keywords recognised; RFC 1939 §3 keywords are case-insensitive",
    LowercaseQuitIgnored = "lowercase-quit-ignored": "`quit` in lower case answered -ERR; RFC 1939 §3 keywords are case-insensitive",
    LowercaseStatus = "lowercase-status": "replies use `+ok`/`-err`; RFC 1939 §3 status indicators are `+OK`/`-ERR`",
    UnknownCommandOk = "unknown-command-ok": "unknown command answered +OK; RFC 1939 §3 unrecognised commands get -ERR",
    BareLfResponses = "bare-lf-responses": "single-line replies end in LF only; RFC 1939 §3 responses end in CRLF",
    NoByteStuffing = "no-byte-stuffing": "dot-leading lines of RETR/TOP not byte-stuffed; RFC 1939 §3 multi-line responses are dot-stuffed",
    ListMissingTerminator = "list-missing-terminator": "LIST listing lacks the final `.` line; RFC 1939 §3 multi-line responses end with CRLF.CRLF",
    OctetsLfCount = "octets-lf-count": "sizes count the file as stored (LF) instead of CRLF; RFC 1939 §5/§11 sizes are exact octets as sent",
    StatCountsDeleted = "stat-counts-deleted": "STAT includes messages marked as deleted; RFC 1939 §5 STAT excludes them",
    StatInAuthorization = "stat-in-authorization": "STAT answered +OK before login; RFC 1939 §5 STAT only in TRANSACTION",
    UserInTransaction = "user-in-transaction": "USER answered +OK after login; RFC 1939 §7 USER only in AUTHORIZATION",
    NoopInAuthorization = "noop-in-authorization": "NOOP answered +OK before login; RFC 1939 §5 NOOP only in TRANSACTION",
    PassWithoutUser = "pass-without-user": "PASS without USER logs in as the first user of the table whose password it is; RFC 1939 §7 PASS follows a successful USER",
    WrongPasswordAccepted = "wrong-password-accepted": "any password accepted; RFC 1939 §7 PASS must check the password",
    PasswordPrefixAccepted = "password-prefix-accepted": "a password that is only a prefix of the right one is accepted (compared over the length sent); RFC 1939 §7 PASS must check the password",
    PasswordCaseInsensitive = "password-case-insensitive": "passwords compared without regard to case; RFC 1939 §7 the password is not a keyword and is compared exactly",
    ApopAcceptsAnyDigest = "apop-accepts-any-digest": "any APOP digest accepted; RFC 1939 §7 the MD5 digest must be verified",
    DeleImmediate = "dele-immediate": "DELE removes the file at once; RFC 1939 §5/§6 deletion only happens in UPDATE",
    DeleMovesImmediately = "dele-moves-immediately": "DELE moves the file into .Trash/cur at once (WildDuck-like); RFC 1939 §6 deletion only in UPDATE",
    DeleteOnDisconnect = "delete-on-disconnect": "UPDATE runs when the connection drops; RFC 1939 §6 only QUIT enters UPDATE",
    AutologoutWithResponse = "autologout-with-response": "sends `-ERR autologout` before the autologout close; RFC 1939 §3 the server should close the connection without sending any response (the same behaviour as the line-before-autologout variant: a SHOULD, graded non-strict, never failed)",
    UpdateOnIdleTimeout = "update-on-idle-timeout": "autologout timer runs UPDATE; RFC 1939 §3 autologout must not enter UPDATE",
    QuitAppliesDroppedMarks = "quit-applies-dropped-marks": "the marks of a session dropped without QUIT are kept and applied when a later session QUITs from AUTHORIZATION after USER; RFC 1939 §6 without QUIT from TRANSACTION no message is removed",
    AutologoutTooShort = "autologout-too-short": "the autologout timer fires after a tenth of its configured time (one minute where ten are set); RFC 1939 §3 the timer MUST be of at least 10 minutes",
    QuitNoDelete = "quit-no-delete": "QUIT answers +OK but leaves marked messages; RFC 1939 §6 UPDATE removes them",
    RsetNoop = "rset-noop": "RSET answers +OK but unmarks nothing; RFC 1939 §5 RSET unmarks all messages",
    RetrMarkedMessage = "retr-marked-message": "RETR of a marked message succeeds (Inbucket's bug); RFC 1939 §5 marked messages may not be referred to",
    RenumberAfterDele = "renumber-after-dele": "message numbers shift down after DELE; RFC 1939 §5 numbers are stable within a session",
    ListIgnoresArgument = "list-ignores-argument": "LIST n returns the full multi-line listing (Mailpit's bug); RFC 1939 §5 LIST n is a single-line scan listing",
    ListIncludesDeleted = "list-includes-deleted": "LIST shows messages marked as deleted; RFC 1939 §5 they are not listed",
    UidlIncludesDeleted = "uidl-includes-deleted": "UIDL shows messages marked as deleted; RFC 1939 §7 they are not listed",
    UidlUnstable = "uidl-unstable": "UIDL from the full file name with folder and flags, changing across sessions; RFC 1939 §7 UIDs persist",
    UidlSameSecondCollision = "uidl-same-second-collision": "UIDL from the delivery second that leads the Maildir file name, so messages delivered in one second share it; RFC 1939 §7 UIDs are unique",
    UidlFromMessageNumber = "uidl-from-message-number": "the unique-id is the message's number when the maildrop is opened, so after message 1 is removed the message formerly numbered 3 takes the id of the one formerly numbered 2, which still exists; RFC 1939 §7 the server should never reuse a unique-id for as long as the entity using it exists, and unique-ids persist across sessions",
    TopIgnoresLineCount = "top-ignores-line-count": "TOP returns the whole message; RFC 1939 §7 TOP sends headers, blank line and n body lines",
    TopNoBlankLine = "top-no-blank-line": "TOP omits the blank line between headers and body; RFC 1939 §7 it is included",
    TopOffByOne = "top-off-by-one": "TOP sends n+1 body lines; RFC 1939 §7 exactly n lines",
    CapaStlsWhenActive = "capa-stls-when-active": "STLS announced on a TLS connection; RFC 2595 §4 STLS is only offered when TLS is not active",
    CapaMissingTerminator = "capa-missing-terminator": "CAPA listing lacks the final `.` line; RFC 2449 §5 CAPA is a multi-line response",
    NoMaildropLock = "no-maildrop-lock": "a second login to the same maildrop succeeds; RFC 1939 §4 the maildrop is locked exclusively",
    LockNotReleasedOnDrop = "lock-not-released-on-drop": "the maildrop lock leaks when the connection drops; RFC 1939 §4, §6 the lock ends with the session",
    InUseWithoutCode = "in-use-without-code": "lock refusal lacks the [IN-USE] response code; RFC 2449 §8.1.2",
    AuthBase64Lenient = "auth-ignores-non-alphabet": "AUTH responses decoded by skipping characters outside the Base64 alphabet; RFC 5034 §4 they MUST be rejected, not ignored",
    AuthCancelAccepted = "auth-cancel-accepted": "a `*` SASL cancel is answered +OK; RFC 5034 §4 the server must reject it with -ERR",
    StlsInTransaction = "stls-in-transaction": "STLS accepted after login; RFC 2595 §4 STLS only in AUTHORIZATION",
    StlsBufferCarryover = "stls-buffer-carryover": "plaintext buffered before the TLS handshake is executed after it; RFC 2595 §4 / RFC 3207-style injection",
    ShortLineLimit = "short-line-limit": "command lines over 64 octets refused; RFC 2449 §4 lines up to 255 octets must be accepted",
    LineLimitOffByOne = "line-limit-off-by-one": "a command line of exactly 255 octets (CRLF included) refused as too long; RFC 2449 §4 commands up to 255 octets must be supported",
    LongLineCloses = "long-line-closes": "a command line over 255 octets closes the connection without a response; RFC 1939 §3 an invalid command gets -ERR",
    PipeliningDropsBuffered = "pipelining-drops-buffered": "commands after the first in one read are dropped; RFC 2449 §6.6 PIPELINING",
    LongResponseLine = "long-response-line": "greeting padded to 600 octets; RFC 2449 §4 response lines are at most 512 octets",
    RetrExtraBlankLine = "retr-extra-blank-line": "an extra CRLF before the RETR terminator; RFC 1939 §5 the message is sent exactly",
    LangCapaArgument = "lang-capa-argument": "LANG announced with the languages as arguments (`LANG en de`); RFC 6856 §3.1 the LANG capability has no arguments",
    LangListTabSeparated = "lang-list-tab-separated": "language listing lines put a TAB between tag and description; RFC 6856 §3.2 the tag is followed by a single space",
    LangOkWithoutTag = "lang-ok-without-tag": "a successful LANG is answered `+OK language changed`, without the selected tag; RFC 6856 §3.2 `+OK`, a space, the selected tag, a space, then text",
    LangUnknownAccepted = "lang-unknown-accepted": "LANG with a language the server lacks answered +OK in its default language; RFC 6856 §3.2 it fails with -ERR",
    LangAuthorizationOnly = "lang-authorization-only": "LANG refused after login; RFC 6856 §3.1 LANG is valid in AUTHORIZATION and TRANSACTION",
    LangNotAnnouncedAfterLogin = "lang-not-announced-after-login": "LANG missing from CAPA after login; RFC 6856 §3.1 and RFC 2449 §5 it is announced in both states",
    NoCloseNotify = "no-close-notify": "a TLS session is ended by closing TCP without a close_notify alert; RFC 8314 §3.4 the closing side should send TLS close alerts first",
    LoginDelayNotEnforced = "login-delay-not-enforced": "LOGIN-DELAY above 0 announced but a login right after another is accepted; RFC 2449 §6.5 a server that announces it should enforce it",
    MessagesNewestFirst = "messages-newest-first": "messages numbered newest first; RFC 1939 §5 leaves the order to the server, so no scenario judges it: it proves that the harness reports a maildrop numbered unlike the seeded fixture as an error, never a failure",
    LoginDelayUserTokenAfterLogin = "login-delay-user-token-after-login": "LOGIN-DELAY announced with the USER token after login too; RFC 2449 §6.5 USER is only for AUTHORIZATION",
    CapaDropsExtensionsAfterLogin = "capa-drops-extensions-after-login": "SASL, AUTH-RESP-CODE, EXPIRE and LOGIN-DELAY missing from CAPA after login; RFC 2449 §5 capabilities available in AUTHORIZATION MUST be announced in both states",
    SaslMechanismCaseSensitive = "sasl-mechanism-case-sensitive": "AUTH accepts only `PLAIN` in upper case; RFC 5034 §5 implementations MUST accept these strings in a case-insensitive fashion",
    Utf8InTransaction = "utf8-in-transaction": "UTF8 answered +OK after login; RFC 6856 §2 UTF8 is valid in AUTHORIZATION only",
    DownloadDeleteOnDrop = "download-delete-on-drop": "messages sent with RETR are removed when the connection drops without QUIT (a download-and-delete policy); RFC 1939 §8 it is important not to delete messages on abnormal connection termination",
    DownloadDeleteUnannounced = "download-delete-unannounced": "messages sent with RETR are removed at QUIT while CAPA announces EXPIRE NEVER; RFC 2449 §6.7 a site with an automatic deletion policy SHOULD announce it with EXPIRE (EXPIRE 0 for download-and-delete), and RFC 1939 §6 removes only the messages marked as deleted",
    CapaStlsAfterLogin = "capa-stls-after-login": "STLS announced in TRANSACTION; RFC 2595 §4 STLS is only permitted in AUTHORIZATION, and a capability means the command is permitted",
    KeywordPrefixMatch = "keyword-prefix-match": "a keyword that begins exactly one command's keyword runs that command (`NO` runs NOOP, `QU` runs QUIT); RFC 1939 §3 keywords are three or four characters, so a shorter one is unknown and gets -ERR",
    ExtraArgumentsIgnored = "extra-arguments-ignored": "arguments beyond those a command takes are ignored (`LIST 1 2` lists message 1); RFC 1939 §3 such a command is invalid and gets -ERR",
    TopLenientArguments = "top-lenient-arguments": "TOP reads its arguments like C atoi (a missing or non-numeric line count is 0, a missing message number is 1); RFC 1939 §3, §7 TOP takes two numbers and anything else gets -ERR",
    ApopInTransaction = "apop-in-transaction": "APOP with a valid digest after login is answered +OK; RFC 1939 §7 APOP may only be given in AUTHORIZATION",
    LockRefusalEntersTransaction = "lock-refusal-enters-transaction": "a login refused because the maildrop is locked answers -ERR but enters TRANSACTION without the lock; RFC 1939 §4 the session stays in AUTHORIZATION",
    FailedPassKeepsLock = "failed-pass-keeps-lock": "a PASS with a wrong password locks the maildrop until that connection ends; RFC 1939 §4 the lock is only taken once the client has identified itself successfully",
    ShortArgumentLimit = "short-argument-limit": "a command argument over 32 characters is refused (a fixed-size argument buffer); RFC 1939 §3 arguments may be up to 40 characters long",
    UidlFromFlags = "uidl-from-flags": "the unique-id is the Maildir file name with its info part, and RETR sets the Seen flag by renaming the file, so a message's id changes once it has been retrieved; RFC 1939 §7 the unique-id of a message persists across sessions",
    CleartextAuthBeforeTls = "cleartext-auth-before-tls": "configured to refuse plaintext passwords before TLS, the server still announces USER and SASL PLAIN and accepts them on a plaintext connection; RFC 2595 §6, §9 PLAIN MUST NOT be advertised or used without TLS unless backwards compatibility dictates otherwise, RFC 5034 §4",
    AcceptsTls10 = "accepts-tls10": "a ClientHello offering only TLS 1.0 (or older) after STLS is answered with a ServerHello selecting TLS 1.0 (a canned record, then the connection is closed: rustls cannot speak TLS 1.0); RFC 8314 §4 servers SHOULD discontinue SSL and TLS 1.0",
    InitialResponseIgnored = "initial-response-ignored": "AUTH CRAM-MD5 with an initial response ignores it and sends the challenge; RFC 5034 §4 an initial response to a mechanism that does not support one MUST be rejected with -ERR",
    CramMd5ChallengeNotBase64 = "cram-md5-challenge-not-base64": "the CRAM-MD5 challenge `<...@host>` is sent as it is, not base64-encoded; RFC 5034 §4 a challenge is `+`, a space and base64",
    Utf8CodeOnUser = "utf8-code-on-user": "USER with a non-ASCII name outside UTF8 mode is refused with -ERR [UTF8]; RFC 6856 §5 the UTF8 response code is valid for -ERR to LIST, TOP and RETR only",
    Utf8CodeOnPass = "utf8-code-on-pass": "PASS with a non-ASCII password outside UTF8 mode is refused with -ERR [UTF8]; RFC 6856 §5 the UTF8 response code is valid for -ERR to LIST, TOP and RETR only",
    StlsKeepsUser = "stls-keeps-user": "a USER given before STLS is still pending after the TLS handshake, so PASS alone logs in; RFC 1939 §7 PASS only immediately after USER, and RFC 2595 §9 nothing said before the handshake can be trusted",
    StlsWithoutCapa = "stls-without-capa": "CAPA answered -ERR while STLS is accepted; RFC 2595 §4 a server with STLS MUST also implement CAPA",
    StlsNotAnnounced = "stls-not-announced": "STLS accepted but missing from CAPA before login; RFC 2595 §4 the STLS capability says the command is present and permitted",
    AuthRespCodeNotAnnounced = "auth-resp-code-not-announced": "[AUTH] sent on failed logins but AUTH-RESP-CODE missing from CAPA; RFC 3206 §5 such a server SHOULD include the capability",
    PlainAuthzidUnchecked = "plain-authzid-unchecked": "AUTH PLAIN logs in as any authorization identity the credentials name; RFC 4616 §2 the server verifies that the credentials permit acting as the authzid",
    PlainChallengeNotEmpty = "plain-challenge-not-empty": "AUTH PLAIN without an initial response gets `+ UGFzc3dvcmQ6` instead of an empty challenge; RFC 5034 §4 the empty challenge is `+` and a space, nothing else",
    ChallengeNotBase64 = "challenge-not-base64": "AUTH PLAIN without an initial response gets `+ Go ahead`; RFC 5034 §4 a challenge line MUST NOT contain any text other than the base64 challenge",
    LoginDelayLargerAfterLogin = "login-delay-larger-after-login": "CAPA after login announces a LOGIN-DELAY one second above the one announced before login; RFC 2449 §6.5 the value before login MUST be the largest that could be set for any user",
    ExpireSmallerAfterLogin = "expire-smaller-after-login": "CAPA after login announces `EXPIRE 0` while the value before login is larger (or NEVER); RFC 2449 §6.7 the value before login MUST be the smallest that could be set for any user",
    AuthzidControlsStripped = "authzid-controls-stripped": "control characters are dropped from a PLAIN authorization identity before it is compared (`alice<BEL>` acts as `alice`); RFC 5034 §4 an authzid whose preparation fails (SASLprep prohibits controls) MUST fail the authentication",
    NoopKeepsTimer = "noop-keeps-timer": "NOOP does not restart the autologout timer (a session that only sends NOOP is closed one timer period after its last other command); RFC 1939 §3 any command from the client should reset the timer",
    InUseBeforePassword = "in-use-before-password": "the lock is looked at before the password, so a wrong PASS for a maildrop in use gets `-ERR [IN-USE]`; RFC 2449 §8.1.2 IN-USE indicates the authentication was successful",
    SaslprepStripsProhibited = "saslprep-strips-prohibited": "characters SASLprep prohibits (private use, controls, display-changing marks) are dropped from USER and PASS arguments before they are compared, so `alice<U+200E>` names alice and `secret<U+E000>` is her password; RFC 6856 §2.2 servers MUST reject UTF-8 user names or passwords that contain them",
    GreetingMalformedCode = "greeting-malformed-code": "the greeting's text is bracketed as a whole (`+OK [POP3 server ready] <...>`) while RESP-CODES is announced; RFC 2449 §3, §6.4 text that begins with `[` is a response code, and a code holds no spaces",
    NoSuchMessageMalformedCode = "no-such-message-malformed-code": "a missing or deleted message to LIST, RETR, DELE, TOP or UIDL gets `-ERR [no such message]`; RFC 2449 §3, §6.4 text that begins with `[` is a response code, and a code holds no spaces",
    WrongStateMalformedCode = "wrong-state-malformed-code": "a command in the wrong state gets `-ERR [WRONG-STATE command not valid ...` (no closing bracket); RFC 2449 §3, §6.4 text that begins with `[` is a response code, closed by `]`",
    ImplementationDroppedAfterLogin = "implementation-dropped-after-login": "IMPLEMENTATION announced before login but not after; RFC 2449 §5 capabilities available in AUTHORIZATION MUST be announced in both states, and §6.9 servers normally announce IMPLEMENTATION in both",
    UnknownTagDroppedAfterLogin = "unknown-tag-dropped-after-login": "an extension tag of its own, X-REFERENCE-ARCHIVE, announced before login but not after; RFC 2449 §5 capabilities available in AUTHORIZATION MUST be announced in both states",
    LoginDelayOnUser = "login-delay-on-user": "USER for a user who logged in less than the LOGIN-DELAY ago gets `-ERR [LOGIN-DELAY]` (before any password); RFC 2449 §8.1.1 it is strongly recommended that the server not issue this response code to the USER command",
    LoginDelayCodeOnOtherCommands = "login-delay-code-on-other-commands": "while a user who logged in less than the LOGIN-DELAY ago is pending after USER, a command refused for the state (STAT, LIST, ...) gets `-ERR [LOGIN-DELAY] ...`; RFC 2449 §8.1.1 the code occurs on an -ERR to AUTH, USER, PASS or APOP",
    DeleOkMalformedCode = "dele-ok-malformed-code": "DELE answers `+OK [message N deleted]`; RFC 2449 §3, §6.4 text that begins with `[` is a response code, on +OK as on -ERR, and a code holds no spaces",
    SaslContinuation255Limit = "sasl-continuation-255-limit": "SASL continuation lines are read with the 255-octet command line limit, so a longer response is refused as too long; RFC 5034 §4 responses after the empty challenge may be of arbitrary length and servers MUST handle the largest their mechanisms generate (RFC 2449 §4: the largest command length of any supported capability)",
    UntrustedCertificate = "untrusted-certificate": "TLS is served with a certificate generated at start and signed by nobody instead of the configured one, so no client that verifies certificates can trust it; RFC 8314 §4.4 MSPs MUST maintain valid server certificates",
    ImplicitTlsPreauthenticated = "implicit-tls-preauthenticated": "a connection to the implicit-TLS port is logged in right after the greeting, as the first account whose maildrop is free, so TRANSACTION commands work without USER/PASS; RFC 8314 §3.1 after the +OK greeting the server MUST enter the AUTHORIZATION state",
    PlainCredentialsTruncated = "plain-credentials-truncated": "the authcid and password of an AUTH PLAIN response are cut to their first 128 octets (a fixed-size buffer) before they are checked; RFC 4616 §2 and RFC 2595 §6 servers MUST accept authcid and passwd of up to 255 octets",
    ApopTimestampNotMsgId = "apop-timestamp-not-msg-id": "the APOP timestamp in the greeting has an empty domain (`<pid.n.clock@>`, as when the host name is unset); RFC 1939 §7 and RFC 2449 §3 its syntax MUST be that of an RFC 822 msg-id, `<` local-part `@` domain `>`",
    TopAnnouncedUnavailable = "top-announced-unavailable": "CAPA announces TOP but TOP answers -ERR; RFC 2449 §6.1 the TOP capability indicates the optional TOP command is available",
    UidlAnnouncedUnavailable = "uidl-announced-unavailable": "CAPA announces UIDL but UIDL answers -ERR; RFC 2449 §6.8 the UIDL capability indicates the optional UIDL command is supported",
    UserAnnouncedDisabled = "user-announced-disabled": "CAPA announces USER but USER answers -ERR for every name (USER/PASS switched off, the capability left on); RFC 2449 §6.2 the USER capability indicates that USER and PASS are supported",
    PlainAnnouncedUnsupported = "plain-announced-unsupported": "CAPA announces `SASL PLAIN CRAM-MD5 LOGIN SCRAM-SHA-256 SCRAM-SHA-1` but AUTH PLAIN answers -ERR as an unsupported mechanism; RFC 2449 §6.3 the SASL capability lists the mechanisms supported, and RFC 5034 §4 servers MUST implement PLAIN",
    LoginAnnouncedUnsupported = "login-announced-unsupported": "CAPA announces `SASL PLAIN CRAM-MD5 LOGIN SCRAM-SHA-256 SCRAM-SHA-1` but AUTH LOGIN answers -ERR as an unsupported mechanism; RFC 2449 §6.3 and RFC 5034 §3 the SASL capability lists the mechanisms the server supports",
    ScramServerFinalMissing = "scram-server-final-missing": "SCRAM-SHA-256 ends with +OK right after the client's proof, without the server signature; RFC 5802 §3 the server sends its ServerSignature (v=) in the server-final message, and RFC 5034 §4 POP3 has no additional data with +OK, so it comes as a last challenge",
    ScramSha1KeysFromSha256 = "scram-sha-1-keys-from-sha-256": "SCRAM-SHA-1 derives its keys and checks the proof with SHA-256 (the SCRAM-SHA-256 code reused), so a correct SCRAM-SHA-1 proof is refused; RFC 5802 §5 SCRAM-SHA-1 uses SHA-1 throughout, and RFC 2449 §6.3, RFC 5034 §3 the SASL capability lists the mechanisms the server supports",
    SecondAuthAccepted = "second-auth-accepted": "AUTH after a successful AUTH is answered +OK (the session stays as it is); RFC 5034 §4 after a successful AUTH the server MUST reject any further AUTH with -ERR",
    ExpireUserTokenAfterLogin = "expire-user-token-after-login": "CAPA after login announces EXPIRE with the USER token (`EXPIRE NEVER USER`), the AUTHORIZATION form that says a more accurate value comes after login; RFC 2449 §6.7 the server SHOULD announce the more accurate value in TRANSACTION state",
    AuthCodeOnUser = "auth-code-on-user": "USER of a name that has no account is answered `-ERR [AUTH]`, telling which names exist; RFC 3206 §5 it is strongly RECOMMENDED that the server not issue the AUTH code to USER",
    SysCodeWithoutLevel = "sys-code-without-level": "a missing or deleted message is refused with `-ERR [SYS]`, a SYS code without its second level; RFC 3206 §4 SYS is hierarchical, with the second-level codes TEMP and PERM",
    Utf8SentWithoutMode = "utf8-sent-without-mode": "RETR and TOP send a message with UTF-8 header fields as it is when UTF8 was not issued; RFC 6856 §2.1 without UTF-8 mode non-ASCII strings MUST NOT be sent as is: a surrogate or -ERR",
    StlsPlaintextAfterOk = "stls-plaintext-after-ok": "the +OK to STLS is followed by a second plaintext line (`+OK ready for TLS`) before the handshake; RFC 2595 §4 TLS negotiation begins immediately after the CRLF at the end of the +OK response",
    StlsHandshakeFails = "stls-handshake-fails": "STLS is announced and answered +OK, but the ClientHello gets a handshake_failure alert, as from a server with no certificate configured; RFC 8314 §4 servers SHOULD NOT advertise STARTTLS if its use is likely to fail, and MUST support TLS access",
    TlsBelow12Only = "tls-below-1-2-only": "after STLS a ClientHello offering TLS 1.2 and 1.3 is answered with a ServerHello selecting TLS 1.1 (a canned record, then the connection is closed: rustls cannot speak TLS 1.1), as from a server whose newest version is TLS 1.1; RFC 8314 §4 servers MUST support TLS 1.2 or later",
    IllFormedUtf8Dropped = "ill-formed-utf8-dropped": "octets that are not well-formed UTF-8 are dropped from a command line instead of the command being refused, so `USER alice<FF>` names alice and `PASS secret<C3>` is her password; RFC 6856 §2.2 the server MUST reject UTF-8 user names or passwords that fail the UTF-8 formal syntax of RFC 3629",
    Utf8SizeCountsCharacters = "utf8-size-counts-characters": "message sizes count the characters of a UTF-8 message, not its octets (a multi-octet character counts as one); RFC 6856 §2.1 the size LIST reports SHOULD match the octets RETR sends",
    ListInAuthorization = "list-in-authorization": "LIST answered +OK before login (an empty scan listing, a bare `+OK` to LIST n); RFC 1939 §5 LIST may only be given in the TRANSACTION state",
    DeleInAuthorization = "dele-in-authorization": "DELE answered +OK before login (nothing is marked); RFC 1939 §5 DELE may only be given in the TRANSACTION state",
    RsetInAuthorization = "rset-in-authorization": "RSET answered +OK before login; RFC 1939 §5 RSET may only be given in the TRANSACTION state",
    TopInAuthorization = "top-in-authorization": "TOP answered +OK with an empty body before login; RFC 1939 §7 TOP may only be given in the TRANSACTION state",
    UidlInAuthorization = "uidl-in-authorization": "UIDL answered +OK before login (an empty unique-id listing, a bare `+OK` to UIDL n); RFC 1939 §7 UIDL may only be given in the TRANSACTION state",
    RetrMissingMessageOk = "retr-missing-message-ok": "RETR of a message number beyond the maildrop answered +OK with an empty message; RFC 1939 §5 a message that does not exist gets `-ERR no such message`",
    DeleMissingMessageOk = "dele-missing-message-ok": "DELE of a message number beyond the maildrop answered +OK (nothing is marked); RFC 1939 §5 a message that does not exist gets `-ERR no such message`",
    TopMissingMessageOk = "top-missing-message-ok": "TOP of a message number beyond the maildrop answered +OK with an empty body; RFC 1939 §7 a message that does not exist gets `-ERR no such message`",
    UidlMissingMessageOk = "uidl-missing-message-ok": "UIDL n of a message number beyond the maildrop answered with a bare +OK; RFC 1939 §7 a message that does not exist gets `-ERR no such message`",
    ListArgIncludesDeleted = "list-arg-includes-deleted": "LIST n of a message marked as deleted answered with its scan listing; RFC 1939 §5 the argument may NOT refer to a message marked as deleted",
    UidlIgnoresArgument = "uidl-ignores-argument": "UIDL n answered with the whole multi-line unique-id listing; RFC 1939 §7 with an argument the positive response is one line for that message",
    UidlMissingTerminator = "uidl-missing-terminator": "the UIDL listing lacks the final `.` line; RFC 1939 §7 without an argument the response is multi-line, and §3 a multi-line response ends with CRLF.CRLF",
    UidlTabSeparated = "uidl-tab-separated": "unique-id listings put a TAB between message number and unique-id; RFC 1939 §7 the message-number is followed by a single space and the unique-id",
    UidlSizeAfterId = "uidl-size-after-id": "unique-id listings end with the message size after the unique-id (`1 id 60`); RFC 1939 §7 no information follows the unique-id",
    UidlIdPadded = "uidl-id-padded": "unique-ids are zero-padded on the left to a fixed width of 80 characters; RFC 1939 §7 a unique-id consists of one to 70 characters in the range 0x21 to 0x7E",
    NoopFloodGuard = "noop-flood-guard": "NOOP is refused with -ERR after the second one in a session (a keep-alive flood guard); RFC 1939 §5 the client may issue the TRANSACTION commands repeatedly",
    QuitKeepsConnection = "quit-keeps-connection": "QUIT from TRANSACTION runs UPDATE, releases the lock and answers +OK, but the connection stays open (the session back in AUTHORIZATION) until the client closes it; RFC 1939 §6 the server then closes the TCP connection",
    QuitAfterUserRefused = "quit-after-user-refused": "QUIT after a USER answered +OK is refused as a wrong-state command (the server wants PASS); RFC 1939 §7 after +OK to USER the client may issue either PASS or QUIT",
    QuitAfterFailedUserRefused = "quit-after-failed-user-refused": "USER of a name without an account is answered -ERR, and a QUIT after that -ERR is refused as a wrong-state command; RFC 1939 §7 after -ERR to USER the client may issue a new authentication command or QUIT",
}

/// The set of faults a server instance has switched on.
#[derive(Clone, Debug, Default)]
pub struct FaultSet {
    set: HashSet<Fault>,
}

impl FaultSet {
    /// A correct server.
    pub fn none() -> Self {
        Self::default()
    }

    /// A server with exactly one fault.
    pub fn single(f: Fault) -> Self {
        let mut s = Self::default();
        s.insert(f);
        s
    }

    pub fn contains(&self, f: Fault) -> bool {
        self.set.contains(&f)
    }

    pub fn insert(&mut self, f: Fault) {
        self.set.insert(f);
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Fault> + '_ {
        Fault::ALL.iter().copied().filter(|f| self.set.contains(f))
    }
}

impl FromIterator<Fault> for FaultSet {
    fn from_iter<I: IntoIterator<Item = Fault>>(iter: I) -> Self {
        FaultSet {
            set: iter.into_iter().collect(),
        }
    }
}
