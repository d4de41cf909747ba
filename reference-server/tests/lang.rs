//! RFC 6856 §3: the LANG capability and command, and the German texts a
//! session gets once it has chosen `de`.

mod common;

use common::*;

#[tokio::test]
async fn lang_is_announced_without_arguments_in_both_states() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    assert!(c.multi("CAPA").await.1.iter().any(|l| l == "LANG"));
    c.login("alice", "secret").await;
    assert!(c.multi("CAPA").await.1.iter().any(|l| l == "LANG"));
    fx.stop().await;
}

#[tokio::test]
async fn listing_has_one_tag_and_description_line_per_language() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    let (first, langs) = c.multi("LANG").await;
    assert_eq!(first, "+OK Language listing follows");
    assert_eq!(langs, ["en English", "de Deutsch"]);
    // After login too, and in lower case.
    c.login("alice", "secret").await;
    assert_eq!(c.multi("lang").await.1, langs);
    fx.stop().await;
}

#[tokio::test]
async fn selection_answers_the_tag_in_the_new_language() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    assert_eq!(c.cmd("LANG de").await, "+OK de Sprache geändert");
    assert_eq!(c.cmd("LANG *").await, "+OK en language changed");
    // Ranges: case-insensitive, and a more specific range falls back to the
    // language it narrows (RFC 4647 §3.4).
    assert_eq!(c.cmd("LANG DE-at").await, "+OK de Sprache geändert");
    assert_eq!(c.cmd("lang En").await, "+OK en language changed");
    fx.stop().await;
}

#[tokio::test]
async fn a_failed_lang_keeps_the_language() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    assert_eq!(c.cmd("LANG x-pop3spec").await, "-ERR no such language");
    assert_eq!(c.cmd("LANG mul").await, "-ERR no such language");
    assert_eq!(c.cmd("LANG de").await, "+OK de Sprache geändert");
    // The refusal is in the language still in force, which stays.
    assert_eq!(c.cmd("LANG uga").await, "-ERR Sprache nicht verfügbar");
    assert_eq!(c.cmd("LANG de_DE").await, "-ERR ungültiger Sprachbereich");
    assert_eq!(c.cmd("LANG de en").await, "-ERR zu viele Argumente");
    assert_eq!(c.cmd("LANG ").await, "-ERR leeres Argument");
    assert_eq!(
        c.cmd("NOOP").await,
        "-ERR Befehl im Zustand AUTHORIZATION nicht erlaubt"
    );
    fx.stop().await;
}

#[tokio::test]
async fn german_session_texts() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    assert!(ok(&c.cmd("LANG de").await));
    assert_eq!(c.cmd("XYZZY").await, "-ERR unbekannter Befehl");
    assert_eq!(c.cmd("NOOP x").await, "-ERR zu viele Argumente");
    assert_eq!(c.cmd("USER alice").await, "+OK PASS senden");
    // Response codes stay as they are; only the text after them changes.
    assert_eq!(
        c.cmd("PASS wrong").await,
        "-ERR [AUTH] ungültige Zugangsdaten"
    );
    c.cmd("USER alice").await;
    assert_eq!(
        c.cmd("PASS secret").await,
        "+OK Postfach enthält 3 Nachrichten (158 Oktette)"
    );
    // Protocol data is not text: STAT, LIST n, UIDL n are as in English.
    assert_eq!(c.cmd("STAT").await, "+OK 3 158");
    assert_eq!(c.cmd("LIST 3").await, "+OK 3 48");
    let (first, lines) = c.multi("LIST").await;
    assert_eq!(first, "+OK 3 Nachrichten (158 Oktette)");
    assert_eq!(lines.len(), 3);
    assert_eq!(c.multi("CAPA").await.0, "+OK Liste der Fähigkeiten folgt");
    assert_eq!(c.cmd("RETR 9").await, "-ERR keine solche Nachricht");
    let (first, _) = c.multi("RETR 3").await;
    assert_eq!(first, "+OK 48 Oktette");
    assert_eq!(c.cmd("DELE 1").await, "+OK Nachricht 1 gelöscht");
    assert_eq!(
        c.cmd("USER bob").await,
        "-ERR Befehl im Zustand TRANSACTION nicht erlaubt"
    );
    // LANG works after login, and the choice holds for the rest of the session.
    assert_eq!(c.cmd("LANG en").await, "+OK en language changed");
    assert_eq!(c.cmd("RETR 1").await, "-ERR no such message");
    assert_eq!(c.cmd("LANG de").await, "+OK de Sprache geändert");
    assert_eq!(
        c.cmd("QUIT").await,
        "+OK auf Wiedersehen, markierte Nachrichten gelöscht"
    );
    // A new session starts in the preferred language.
    let mut c = fx.connect().await;
    assert_eq!(c.cmd("QUIT").await, "+OK bye");
    fx.stop().await;
}
