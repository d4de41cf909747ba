//! LANG (RFC 6856 §3): list the languages of response texts, or choose one.
//!
//! Valid in AUTHORIZATION and TRANSACTION. Without an argument it lists one
//! `tag SP description` line per language; with a language range it
//! answers `+OK SP tag SP text` in the language chosen, which every later
//! response text then uses; `*` chooses the preferred language. A range
//! that matches no language fails with -ERR and the language stays.

use std::io;

use super::{wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::language::{Language, Selection, LANGUAGES};
use crate::session::{Flow, Session};

pub struct Lang {
    /// None: list the languages.
    pub range: Option<String>,
}

impl Lang {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        Ok(Lang {
            range: req.optional()?.map(str::to_string),
        })
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        if s.in_transaction() && s.fault(Fault::LangAuthorizationOnly) {
            return wrong_state(s).await;
        }
        let Some(range) = self.range else {
            let sep = if s.fault(Fault::LangListTabSeparated) {
                "\t"
            } else {
                " "
            };
            let lines: Vec<String> = LANGUAGES
                .iter()
                .map(|l| format!("{}{sep}{}", l.tag(), l.description()))
                .collect();
            s.multi(
                "Language listing follows",
                lines.iter().map(|l| l.as_bytes()),
                true,
                true,
            )
            .await?;
            return Ok(Flow::Continue);
        };
        let chosen = match Language::select(&range) {
            Selection::Selected(l) => l,
            Selection::NoMatch if s.fault(Fault::LangUnknownAccepted) => Language::preferred(),
            // The language stays as it was (RFC 6856 §3.2).
            Selection::NoMatch => {
                s.err("no such language").await?;
                return Ok(Flow::Continue);
            }
            Selection::Invalid => {
                s.err("invalid language range").await?;
                return Ok(Flow::Continue);
            }
        };
        // The reply to LANG is already in the new language (RFC 6856 §3.3).
        s.lang = chosen;
        if s.fault(Fault::LangOkWithoutTag) {
            // Text where the tag belongs, as a careless server would answer.
            s.ok("language changed").await?;
        } else {
            let text = chosen.translate("language changed");
            s.ok(&format!("{} {text}", chosen.tag())).await?;
        }
        Ok(Flow::Continue)
    }
}
