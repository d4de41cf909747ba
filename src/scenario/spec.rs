//! The `spec:` field of a scenario: which RFC sections state the rule it checks.
//! One parser serves the loader (a malformed field is reported by `check`), the
//! coverage map and `pop3spec explain`.
//!
//! `RFC 1939 §6`, `RFC 1939 §4, §8`, `RFC 1939 §5 (STAT, LIST)`,
//! `RFC 2449 §8.1.2; RFC 5034 §4`: RFCs are separated by `;`, each RFC's sections
//! by `,`, and a section may name topics (commands) in parentheses, each of which
//! becomes a citation of its own. `RFC 4616` alone cites a whole RFC.

use std::fmt::{self, Write as _};

/// One cited RFC section (or whole RFC) with at most one topic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Citation {
    pub rfc: u32,
    /// `8.1.2` for `§8.1.2`; None when the whole RFC is cited.
    pub section: Option<String>,
    /// `LIST` for `§5 (LIST)`.
    pub topic: Option<String>,
}

impl Citation {
    pub fn new(rfc: u32, section: Option<&str>, topic: Option<&str>) -> Self {
        Citation {
            rfc,
            section: section.map(str::to_string),
            topic: topic.map(str::to_string),
        }
    }

    /// `§5 (LIST)`, or `(whole RFC)`.
    pub fn section_label(&self) -> String {
        let mut s = match &self.section {
            Some(n) => format!("§{n}"),
            None => "(whole RFC)".to_string(),
        };
        if let Some(t) = &self.topic {
            let _ = write!(s, " ({t})");
        }
        s
    }

    pub fn untopic(&self) -> Citation {
        Citation {
            topic: None,
            ..self.clone()
        }
    }

    pub fn parent(&self) -> Option<Citation> {
        let section = self.section.as_deref()?;
        let (head, _) = section.rsplit_once('.')?;
        Some(Citation::new(self.rfc, Some(head), None))
    }
}

impl fmt::Display for Citation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RFC {}", self.rfc)?;
        if let Some(s) = &self.section {
            write!(f, " §{s}")?;
        }
        if let Some(t) = &self.topic {
            write!(f, " ({t})")?;
        }
        Ok(())
    }
}

/// Splits at `sep` outside parentheses.
fn split_outside_parens(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Parses a scenario's `spec:` field; a topic list `(STAT, LIST)` gives one
/// citation per topic. Err says what is malformed.
pub fn parse_spec(spec: &str) -> Result<Vec<Citation>, String> {
    if spec.trim().is_empty() {
        return Err("empty spec".into());
    }
    let mut out = Vec::new();
    for part in spec.split(';') {
        let part = part.trim();
        if part.is_empty() {
            return Err("empty part between `;`".into());
        }
        let rest = part
            .strip_prefix("RFC")
            .ok_or_else(|| format!("`{part}` does not start with `RFC`"))?;
        if !rest.starts_with(' ') {
            return Err(format!("`{part}`: write `RFC <number>`"));
        }
        let rest = rest.trim_start();
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let rfc: u32 = rest[..digits_end]
            .parse()
            .map_err(|_| format!("`{part}`: no RFC number after `RFC`"))?;
        let rest = &rest[digits_end..];
        if rest.trim().is_empty() {
            out.push(Citation::new(rfc, None, None));
            continue;
        }
        if !rest.starts_with(' ') {
            return Err(format!("`{part}`: a space must follow the RFC number"));
        }
        for item in split_outside_parens(rest, ',') {
            out.extend(parse_section(rfc, item.trim(), part)?);
        }
    }
    Ok(out)
}

/// `§5 (STAT, LIST)` → citations of RFC `rfc`.
fn parse_section(rfc: u32, item: &str, part: &str) -> Result<Vec<Citation>, String> {
    let body = item
        .strip_prefix('§')
        .ok_or_else(|| format!("`{part}`: `{item}` is not a section (`§N` or `§N.M`)"))?;
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let number = &body[..end];
    if number.is_empty() || number.split('.').any(|n| n.is_empty()) {
        return Err(format!(
            "`{part}`: `{item}` needs a section number such as §6 or §8.1.2"
        ));
    }
    let rest = body[end..].trim_start();
    if rest.is_empty() {
        return Ok(vec![Citation::new(rfc, Some(number), None)]);
    }
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .filter(|r| !r.contains(['(', ')']))
        .ok_or_else(|| {
            format!("`{part}`: after §{number} only a topic list in parentheses may follow")
        })?;
    inner
        .split(',')
        .map(|t| {
            let t = t.trim();
            if t.is_empty() {
                Err(format!("`{part}`: empty topic in `{item}`"))
            } else {
                Ok(Citation::new(rfc, Some(number), Some(t)))
            }
        })
        .collect()
}

/// The citations of the `;`-separated parts that start with `RFC`; other parts
/// are free notes (a local rule, a server's documentation) and are skipped.
/// Err when a part that starts with `RFC` is malformed.
pub fn rfc_citations(spec: &str) -> Result<Vec<Citation>, String> {
    let mut out = Vec::new();
    for part in spec
        .split(';')
        .map(str::trim)
        .filter(|p| p.starts_with("RFC"))
    {
        out.extend(parse_spec(part)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_skipped_but_malformed_rfc_parts_are_not() {
        assert_eq!(
            rfc_citations("RFC 1939 §6; local note").unwrap(),
            [Citation::new(1939, Some("6"), None)]
        );
        assert!(rfc_citations("RFC 1939 6").is_err());
        assert!(rfc_citations("RFC 1939 §6 (LIST").is_err());
        assert!(rfc_citations("vendor docs only").unwrap().is_empty());
    }

    #[test]
    fn loader_reports_a_malformed_spec_with_its_position() {
        let text = "id: a.b\ntitle: t\nspec: RFC 1939 §x\nrequirement: r\nlevel: must\nsteps:\n  - send: NOOP\n";
        let problems = crate::scenario::load::load_str(
            std::path::Path::new("f.yaml"),
            std::sync::Arc::from(text),
            &Default::default(),
        )
        .unwrap_err();
        let d = &problems[0].diagnostic;
        assert_eq!((d.pos.line, d.pos.column), (3, 7));
        assert!(d.message.contains("cannot be read"), "{}", d.message);
    }
}
