//! The RFC text behind a scenario's `spec` field: each citation (see
//! `scenario::spec`) looked up as a section heading in the plain-text
//! RFCs (`rfcNNNN.txt`) when a folder of them is at hand.

use std::path::{Path, PathBuf};

pub use crate::scenario::spec::{parse_spec, Citation};

/// Where `explain` reads RFC texts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RfcTexts {
    /// The texts built into the binary (`docs/rfc/` of the source tree).
    BuiltIn,
    /// A folder of `rfcNNNN.txt` files given with --rfc-dir / POP3SPEC_RFC_DIR.
    Dir(PathBuf),
    /// --rfc-dir named a folder that is not there.
    Missing(PathBuf),
}

impl RfcTexts {
    /// `explicit` (--rfc-dir / POP3SPEC_RFC_DIR) when given, else the built-in texts.
    pub fn choose(explicit: Option<&Path>) -> RfcTexts {
        match explicit {
            Some(dir) if dir.is_dir() => RfcTexts::Dir(dir.to_path_buf()),
            Some(dir) => RfcTexts::Missing(dir.to_path_buf()),
            None => RfcTexts::BuiltIn,
        }
    }

    /// The text of RFC `rfc` and the name it is shown by; Err says what is missing.
    fn read(&self, rfc: u32) -> Result<(PathBuf, String), String> {
        let name = format!("rfc{rfc}.txt");
        match self {
            RfcTexts::BuiltIn => crate::suite::rfc_text(rfc)
                .map(|text| (PathBuf::from(&name), text.to_string()))
                .ok_or_else(|| {
                    let built_in: Vec<String> = crate::suite::rfc_numbers()
                        .iter()
                        .map(u32::to_string)
                        .collect();
                    format!(
                        "RFC {rfc} is not built in (only {}); pass --rfc-dir with a folder holding {name}",
                        built_in.join(", ")
                    )
                }),
            RfcTexts::Dir(dir) | RfcTexts::Missing(dir) => {
                let file = dir.join(&name);
                std::fs::read_to_string(&file)
                    .map(|text| (file.clone(), text))
                    .map_err(|e| format!("{}: {e}", file.display()))
            }
        }
    }
}

/// A section found in an RFC text.
#[derive(Debug, PartialEq, Eq)]
pub struct Excerpt {
    pub file: PathBuf,
    /// 1-based line of the heading.
    pub heading_line: usize,
    pub heading: String,
    /// 1-based line where `lines` start (the heading's, or the topic's command).
    pub start_line: usize,
    /// The first lines of the section (or of the topic), page breaks removed.
    pub lines: Vec<String>,
    /// Whether the section goes on after `lines`.
    pub more: bool,
}

/// `6.6` for a heading line `6.6.  PIPELINING capability`; None for any other line,
/// including table-of-contents entries (indented, or with dot leaders).
fn heading_number(line: &str) -> Option<&str> {
    if !line.starts_with(|c: char| c.is_ascii_digit()) || line.contains(". . .") {
        return None;
    }
    if line.contains("....") {
        return None;
    }
    let end = line.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, rest) = line.split_at(end);
    if !rest.starts_with(' ') || rest.trim().is_empty() {
        return None;
    }
    Some(number.trim_end_matches('.'))
}

/// Page headers, footers and form feeds that RFC text files carry between pages.
fn is_page_break(line: &str) -> bool {
    line.contains('\u{c}')
        || line.trim_end().ends_with(']') && line.contains("[Page ")
        || (line.starts_with("RFC ") && line.contains("   "))
}

/// Looks `reference` up in `dir/rfcNNNN.txt`; Err says what is missing.
pub fn excerpt(dir: &Path, reference: &Citation, max_lines: usize) -> Result<Excerpt, String> {
    excerpt_from(&RfcTexts::Dir(dir.to_path_buf()), reference, max_lines)
}

/// Looks `reference` up in the RFC texts of `texts`; Err says what is missing.
pub fn excerpt_from(
    texts: &RfcTexts,
    reference: &Citation,
    max_lines: usize,
) -> Result<Excerpt, String> {
    let (file, text) = texts.read(reference.rfc)?;
    let lines: Vec<&str> = text.lines().collect();
    let section = reference.section.as_deref().unwrap_or("1");
    let heading_idx = lines
        .iter()
        .position(|l| heading_number(l) == Some(section))
        .ok_or_else(|| format!("no heading §{section} in {}", file.display()))?;
    let top = section.split('.').next().unwrap_or(section);
    // The section ends at the next heading outside it (subsections belong to it).
    let end = lines[heading_idx + 1..]
        .iter()
        .position(|l| {
            heading_number(l).is_some_and(|n| n != top && !n.starts_with(&format!("{section}.")))
        })
        .map_or(lines.len(), |i| heading_idx + 1 + i);
    // A command topic (`(PASS)`) starts the excerpt at its definition when present.
    let command = reference
        .topic
        .as_deref()
        .and_then(|t| t.split([',', ' ']).find(|w| !w.is_empty()))
        .filter(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '-'));
    let start = command
        .and_then(|cmd| {
            lines[heading_idx + 1..end].iter().position(|l| {
                let indent = l.len() - l.trim_start().len();
                (3..=8).contains(&indent)
                    && l.trim_start()
                        .strip_prefix(cmd)
                        .is_some_and(|r| r.is_empty() || r.starts_with(' '))
            })
        })
        .map_or(heading_idx + 1, |i| heading_idx + 1 + i);
    let mut out: Vec<String> = Vec::new();
    let mut more = false;
    for line in &lines[start..end] {
        if out.len() >= max_lines {
            if !line.trim().is_empty() && !is_page_break(line) {
                more = true;
                break;
            }
            continue;
        }
        if is_page_break(line) {
            continue;
        }
        let blank = line.trim().is_empty();
        if blank && out.last().is_none_or(|l| l.trim().is_empty()) {
            continue;
        }
        out.push(line.trim_end().to_string());
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    Ok(Excerpt {
        file,
        heading_line: heading_idx + 1,
        heading: lines[heading_idx].trim_end().to_string(),
        start_line: start + 1,
        lines: out,
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(rfc: u32, section: &str, topic: Option<&str>) -> Citation {
        Citation::new(rfc, Some(section), topic)
    }

    #[test]
    fn parses_every_spec_shape_in_the_suite() {
        let p = |s| parse_spec(s).unwrap();
        assert_eq!(p("RFC 1939 §6"), [r(1939, "6", None)]);
        assert_eq!(p("RFC 2449 §8.1.2"), [r(2449, "8.1.2", None)]);
        assert_eq!(
            p("RFC 1939 §3, §7 (USER, PASS)"),
            [
                r(1939, "3", None),
                r(1939, "7", Some("USER")),
                r(1939, "7", Some("PASS"))
            ]
        );
        assert_eq!(
            p("RFC 1939 §7 (TOP), §5 (RETR)"),
            [r(1939, "7", Some("TOP")), r(1939, "5", Some("RETR"))]
        );
        assert_eq!(
            p("RFC 3206 §5, §6; RFC 5034 §4"),
            [r(3206, "5", None), r(3206, "6", None), r(5034, "4", None)]
        );
        assert_eq!(
            p("RFC 5034 §4; RFC 4616"),
            [r(5034, "4", None), Citation::new(4616, None, None)]
        );
        assert!(parse_spec("local rule").is_err());
        assert_eq!(r(1939, "7", Some("PASS")).to_string(), "RFC 1939 §7 (PASS)");
    }

    const TEXT: &str = "\
RFC 9999                          TEST                          May 1996


Table of Contents

   1. Introduction ................................................    2
   2. The Thing . . . . . . . . . . . . . . . . . . . . . . . . . . .  3

1. Introduction

   Some words.

2. The Thing

   The thing MUST work.

      THING [arg]

         Arguments: an optional argument

Myers & Rose                Standards Track                     [Page 2]
\u{c}
RFC 9999                          TEST                          May 1996


         Restrictions: none

2.1.  A subsection

   More.

3. Other

   Elsewhere.
";

    fn dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rfc9999.txt"), TEXT).unwrap();
        dir
    }

    #[test]
    fn finds_the_heading_not_the_table_of_contents() {
        let d = dir();
        let e = excerpt(d.path(), &r(9999, "2", None), 50).unwrap();
        assert_eq!(e.heading, "2. The Thing");
        assert_eq!(e.heading_line, 13);
        assert_eq!(e.start_line, 14);
        assert_eq!(
            e.lines[0], "   The thing MUST work.",
            "leading blanks dropped"
        );
        let text = e.lines.join("\n");
        assert!(text.contains("Restrictions: none"), "{text}");
        assert!(
            text.contains("2.1.  A subsection"),
            "subsections belong: {text}"
        );
        assert!(!text.contains("[Page 2]") && !text.contains("May 1996"));
        assert!(
            !text.contains("Elsewhere"),
            "stops at the next section: {text}"
        );
        assert!(!text.contains("\n\n\n"), "blank runs collapse: {text:?}");
    }

    #[test]
    fn topic_starts_at_the_command_and_limits_apply() {
        let d = dir();
        let e = excerpt(d.path(), &r(9999, "2", Some("THING")), 2).unwrap();
        assert_eq!(e.start_line, 17);
        assert_eq!(e.lines, ["      THING [arg]"], "trailing blanks dropped");
        assert!(e.more);
        assert!(!excerpt(d.path(), &r(9999, "2", None), 50).unwrap().more);
        let sub = excerpt(d.path(), &r(9999, "2.1", None), 10).unwrap();
        assert_eq!(sub.heading, "2.1.  A subsection");
        assert_eq!(sub.lines, ["   More."]);
        assert!(excerpt(d.path(), &r(9999, "7", None), 5)
            .unwrap_err()
            .contains("no heading §7"));
        assert!(excerpt(d.path(), &r(1, "1", None), 5).is_err());
    }

    #[test]
    fn rfc_texts_from_explicit_folder_else_built_in() {
        let d = dir();
        assert_eq!(RfcTexts::choose(None), RfcTexts::BuiltIn);
        assert_eq!(
            RfcTexts::choose(Some(d.path())),
            RfcTexts::Dir(d.path().to_path_buf())
        );
        let gone = d.path().join("nope");
        assert_eq!(RfcTexts::choose(Some(&gone)), RfcTexts::Missing(gone));
        // The built-in RFC 1939 is the real one, and named without a build path.
        let e = excerpt_from(&RfcTexts::BuiltIn, &r(1939, "6", None), 3).unwrap();
        assert_eq!(e.file, PathBuf::from("rfc1939.txt"));
        assert_eq!(e.heading, "6. The UPDATE State");
        let missing = excerpt_from(&RfcTexts::BuiltIn, &r(1, "1", None), 3).unwrap_err();
        assert!(
            missing.contains("RFC 1 is not built in (only 1939, "),
            "{missing}"
        );
    }
}
