//! The languages of human-readable response text (RFC 6856 §3, the LANG
//! command).
//!
//! Every `+OK`/`-ERR` text goes through [`Language::translate`] on its way
//! out (see `Session::status_line`), so the commands keep writing English
//! and the catalogue below is the one place that knows German. A response
//! code such as `[AUTH]` is kept as it is; numbers in the texts of the
//! catalogue's templates (`{}`, a run of digits) are carried over. A text
//! not in the catalogue stays English; protocol data (STAT's `n size`, a
//! UIDL or LIST line, the CAPA and LANG listings) is never translated.

use std::borrow::Cow;

/// A language the server can answer in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    English,
    German,
}

/// Every language, in the order of the LANG listing; the first is the one
/// `LANG *` selects and the one a session starts in.
pub const LANGUAGES: &[Language] = &[Language::English, Language::German];

/// The outcome of matching a LANG argument.
#[derive(Debug, PartialEq, Eq)]
pub enum Selection {
    Selected(Language),
    /// A well-formed range that matches none of [`LANGUAGES`].
    NoMatch,
    /// Not `*` and not a basic language range (RFC 4647 §2.1).
    Invalid,
}

impl Language {
    /// The RFC 5646 language tag.
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::German => "de",
        }
    }

    /// The language's name in the language itself (RFC 6856 §3.2 listing).
    pub fn description(self) -> &'static str {
        match self {
            Language::English => "English",
            Language::German => "Deutsch",
        }
    }

    /// The administrator's preferred language, chosen by `LANG *`.
    pub fn preferred() -> Language {
        LANGUAGES[0]
    }

    /// Matches a LANG argument, a basic language range (RFC 6856 §3.2,
    /// RFC 4647 §2.1), case-insensitively: `*` is the preferred language;
    /// otherwise the first language whose tag the range matches by basic
    /// filtering (RFC 4647 §3.3.1: equal, or a prefix ending at a `-`), else
    /// by lookup's truncation (RFC 4647 §3.4: `de-AT` falls back to `de`;
    /// never to a default: a range nothing matches fails).
    pub fn select(range: &str) -> Selection {
        if range == "*" {
            return Selection::Selected(Language::preferred());
        }
        if !is_basic_range(range) {
            return Selection::Invalid;
        }
        let range = range.to_ascii_lowercase();
        let filtered = LANGUAGES.iter().find(|l| {
            let tag = l.tag().to_ascii_lowercase();
            tag == range || tag.starts_with(&format!("{range}-"))
        });
        if let Some(l) = filtered {
            return Selection::Selected(*l);
        }
        let mut rest = range.as_str();
        while let Some(cut) = rest.rfind('-') {
            rest = &rest[..cut];
            // A singleton (such as the `x` of a private use range) goes with
            // the subtag after it.
            if let Some(cut) = rest.rfind('-').filter(|c| rest.len() - c == 2) {
                rest = &rest[..cut];
            } else if rest.len() == 1 {
                break;
            }
            if let Some(l) = LANGUAGES.iter().find(|l| l.tag() == rest) {
                return Selection::Selected(*l);
            }
        }
        Selection::NoMatch
    }

    /// The response text in this language.
    pub fn translate(self, text: &str) -> Cow<'_, str> {
        let catalogue = match self {
            Language::English => return Cow::Borrowed(text),
            Language::German => GERMAN,
        };
        // A response code stays as it is (RFC 2449 §8): only the text after it changes.
        let (code, body) = match text.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            Some((c, b)) => (&text[..c.len() + 3], b),
            None => ("", text),
        };
        for (english, local) in catalogue {
            if let Some(numbers) = match_template(english, body) {
                let mut out = String::from(code);
                let mut numbers = numbers.into_iter();
                for (i, part) in local.split("{}").enumerate() {
                    if i > 0 {
                        out.push_str(numbers.next().unwrap_or_default());
                    }
                    out.push_str(part);
                }
                return Cow::Owned(out);
            }
        }
        Cow::Borrowed(text)
    }
}

/// `1*8ALPHA *("-" 1*8alphanum)` (RFC 4647 §2.1).
fn is_basic_range(range: &str) -> bool {
    range.split('-').enumerate().all(|(i, sub)| {
        (1..=8).contains(&sub.len())
            && sub.bytes().all(|b| {
                if i == 0 {
                    b.is_ascii_alphabetic()
                } else {
                    b.is_ascii_alphanumeric()
                }
            })
    })
}

/// The digit runs standing for the `{}` of `template` in `text`, or None
/// when `text` is not an instance of it.
fn match_template<'t>(template: &str, text: &'t str) -> Option<Vec<&'t str>> {
    let mut parts = template.split("{}");
    let mut rest = text.strip_prefix(parts.next().unwrap_or_default())?;
    let mut numbers = Vec::new();
    for part in parts {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        numbers.push(&rest[..digits]);
        rest = rest[digits..].strip_prefix(part)?;
    }
    rest.is_empty().then_some(numbers)
}

/// (English text or template, German text). Texts after a response code
/// are listed without it.
const GERMAN: &[(&str, &str)] = &[
    ("language changed", "Sprache geändert"),
    ("no such language", "Sprache nicht verfügbar"),
    ("invalid language range", "ungültiger Sprachbereich"),
    ("Language listing follows", "Liste der Sprachen folgt"),
    ("Capability list follows", "Liste der Fähigkeiten folgt"),
    (
        "maildrop has {} messages ({} octets)",
        "Postfach enthält {} Nachrichten ({} Oktette)",
    ),
    ("{} messages ({} octets)", "{} Nachrichten ({} Oktette)"),
    ("{} octets", "{} Oktette"),
    ("message {} deleted", "Nachricht {} gelöscht"),
    ("top of message follows", "Anfang der Nachricht folgt"),
    (
        "unique-id listing follows",
        "Liste der eindeutigen Kennungen folgt",
    ),
    ("SASL mechanisms follow", "SASL-Mechanismen folgen"),
    ("no such message", "keine solche Nachricht"),
    ("unknown command", "unbekannter Befehl"),
    ("too many NOOP commands", "zu viele NOOP-Befehle"),
    (
        "command not valid in AUTHORIZATION state",
        "Befehl im Zustand AUTHORIZATION nicht erlaubt",
    ),
    (
        "command not valid in TRANSACTION state",
        "Befehl im Zustand TRANSACTION nicht erlaubt",
    ),
    ("missing argument", "Argument fehlt"),
    ("too many arguments", "zu viele Argumente"),
    ("argument too long", "Argument zu lang"),
    ("empty argument", "leeres Argument"),
    ("empty command", "leerer Befehl"),
    ("invalid number", "ungültige Zahl"),
    ("invalid message number", "ungültige Nachrichtennummer"),
    ("NUL byte in command", "NUL-Byte im Befehl"),
    (
        "command is not valid UTF-8",
        "Befehl ist kein gültiges UTF-8",
    ),
    ("line too long", "Zeile zu lang"),
    ("CAPA not supported", "CAPA wird nicht unterstützt"),
    (
        "autologout: idle for too long",
        "automatische Abmeldung: zu lange untätig",
    ),
    ("send PASS", "PASS senden"),
    ("USER first", "zuerst USER senden"),
    ("no such user", "kein solcher Benutzer"),
    (
        "USER/PASS login disabled",
        "Anmeldung mit USER/PASS abgeschaltet",
    ),
    ("TOP not available", "TOP nicht verfügbar"),
    ("UIDL not available", "UIDL nicht verfügbar"),
    ("already logged in", "bereits angemeldet"),
    ("invalid credentials", "ungültige Zugangsdaten"),
    (
        "prohibited character in credentials",
        "unzulässiges Zeichen in den Zugangsdaten",
    ),
    ("invalid base64", "ungültiges Base64"),
    ("malformed PLAIN response", "fehlerhafte PLAIN-Antwort"),
    (
        "malformed CRAM-MD5 response",
        "fehlerhafte CRAM-MD5-Antwort",
    ),
    (
        "CRAM-MD5 takes no initial response",
        "CRAM-MD5 erlaubt keine erste Antwort im AUTH-Befehl",
    ),
    (
        "authorization identity not permitted",
        "Autorisierungsidentität nicht erlaubt",
    ),
    (
        "unsupported SASL mechanism",
        "SASL-Mechanismus nicht unterstützt",
    ),
    ("authentication cancelled", "Anmeldung abgebrochen"),
    (
        "unsupported SCRAM gs2 header",
        "SCRAM-gs2-Kopf nicht unterstützt",
    ),
    (
        "malformed SCRAM client-first message",
        "fehlerhafte erste SCRAM-Nachricht",
    ),
    (
        "malformed SCRAM client-final message",
        "fehlerhafte letzte SCRAM-Nachricht",
    ),
    ("expected an empty response", "leere Antwort erwartet"),
    (
        "last login less than {} seconds ago",
        "letzte Anmeldung vor weniger als {} Sekunden",
    ),
    (
        "maildrop already locked by another session",
        "Postfach von einer anderen Sitzung gesperrt",
    ),
    ("maildrop already locked", "Postfach bereits gesperrt"),
    ("maildrop unavailable", "Postfach nicht verfügbar"),
    ("maildrop name not usable", "Postfachname nicht verwendbar"),
    ("message unreadable", "Nachricht nicht lesbar"),
    (
        "message has UTF-8 headers; issue UTF8 first",
        "Nachricht hat UTF-8-Kopfzeilen; zuerst UTF8 senden",
    ),
    ("UTF8 mode enabled", "UTF-8-Modus eingeschaltet"),
    (
        "TLS required: send STLS first",
        "TLS erforderlich: zuerst STLS senden",
    ),
    ("TLS not available", "TLS nicht verfügbar"),
    ("TLS already active", "TLS bereits aktiv"),
    ("STLS not supported", "STLS wird nicht unterstützt"),
    (
        "UTF-8 user names need UTF8 mode",
        "UTF-8-Benutzernamen erfordern den UTF8-Modus",
    ),
    (
        "UTF-8 passwords need UTF8 mode",
        "UTF-8-Passwörter erfordern den UTF8-Modus",
    ),
    (
        "STLS not allowed after UTF8",
        "STLS nach UTF8 nicht erlaubt",
    ),
    ("begin TLS negotiation", "TLS-Aushandlung beginnt"),
    (
        "bye, marked messages deleted",
        "auf Wiedersehen, markierte Nachrichten gelöscht",
    ),
    ("bye", "auf Wiedersehen"),
    (
        "some deleted messages not removed",
        "einige gelöschte Nachrichten nicht entfernt",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_select_by_filtering_then_truncation() {
        use Selection::*;
        let de = Selected(Language::German);
        let en = Selected(Language::English);
        assert_eq!(Language::select("*"), en);
        assert_eq!(Language::select("de"), de);
        assert_eq!(Language::select("DE"), de);
        assert_eq!(Language::select("de-AT"), de);
        assert_eq!(Language::select("de-Latn-AT-1996"), de);
        assert_eq!(Language::select("en-x-pirate"), en);
        assert_eq!(Language::select("d"), NoMatch);
        assert_eq!(Language::select("deu"), NoMatch);
        assert_eq!(Language::select("x-pop3spec"), NoMatch);
        assert_eq!(Language::select("x-de"), NoMatch);
        assert_eq!(Language::select("mul"), NoMatch);
        for bad in [
            "",
            "-",
            "de-",
            "de--at",
            "de_DE",
            "toolonglang",
            "1de",
            "de-toolong12",
            "**",
        ] {
            assert_eq!(Language::select(bad), Invalid, "{bad:?}");
        }
    }

    #[test]
    fn translation_keeps_codes_numbers_and_unknown_text() {
        let de = Language::German;
        assert_eq!(de.translate("bye"), "auf Wiedersehen");
        assert_eq!(
            de.translate("[AUTH] invalid credentials"),
            "[AUTH] ungültige Zugangsdaten"
        );
        assert_eq!(
            de.translate("maildrop has 3 messages (158 octets)"),
            "Postfach enthält 3 Nachrichten (158 Oktette)"
        );
        assert_eq!(
            de.translate("3 messages (158 octets)"),
            "3 Nachrichten (158 Oktette)"
        );
        assert_eq!(de.translate("48 octets"), "48 Oktette");
        // Not instances of a template: protocol data and strangers stay.
        assert_eq!(de.translate("3 158"), "3 158");
        assert_eq!(de.translate("x octets"), "x octets");
        assert_eq!(de.translate("48 octets!"), "48 octets!");
        assert_eq!(de.translate(""), "");
        assert_eq!(de.translate("[IN-USE]"), "[IN-USE]");
        assert_eq!(Language::English.translate("bye"), "bye");
    }

    /// The crate's source, except this file and the fuzzing helpers.
    fn server_source() -> String {
        let mut source = String::new();
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut dirs = vec![std::path::PathBuf::from(src)];
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let skip = p.ends_with("language.rs") || p.ends_with("fuzzing.rs");
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") && !skip {
                    source.push_str(&std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        source
    }

    /// The catalogue follows the code: every English text it lists (each
    /// literal piece of a template) is still written somewhere in `src/`.
    #[test]
    fn catalogue_texts_occur_in_the_source() {
        let source = server_source();
        for (english, german) in GERMAN {
            assert_eq!(
                english.matches("{}").count(),
                german.matches("{}").count(),
                "{english}"
            );
            for piece in english.split("{}").filter(|p| p.len() > 1) {
                assert!(source.contains(piece), "{english:?} is not in the source");
            }
        }
    }

    /// And the code follows the catalogue: every literal text handed to
    /// `ok`, `err`, `auth_failed`, `multi` or returned as a parse error
    /// (`Err("...")`) has a German text, its `{placeholders}` as numbers.
    #[test]
    fn every_response_text_in_the_source_is_translated() {
        let source = server_source();
        let mut seen = 0;
        for call in [".ok(", ".err(", "auth_failed(", ".multi(", "Err("] {
            for (at, _) in source.match_indices(call) {
                let rest = source[at + call.len()..].trim_start();
                let rest = rest.strip_prefix("&format!(").unwrap_or(rest);
                let Some(lit) = rest.strip_prefix('"') else {
                    continue;
                };
                let lit = &lit[..lit.find('"').unwrap()];
                let mut text = String::new();
                for (i, part) in lit.split('{').enumerate() {
                    match (i, part.split_once('}')) {
                        (0, _) | (_, None) => text.push_str(part),
                        (_, Some((_, after))) => {
                            text.push('7');
                            text.push_str(after);
                        }
                    }
                }
                // Protocol data (STAT's `n size`, `LIST n`, `UIDL n`) is not text.
                let data = text
                    .split(' ')
                    .all(|w| w.bytes().all(|b| b.is_ascii_digit()));
                if !data {
                    seen += 1;
                    let german = Language::German.translate(&text);
                    assert_ne!(german, text, "no German for {text:?}");
                }
            }
        }
        assert!(seen > 40, "the scan found only {seen} texts");
    }
}
