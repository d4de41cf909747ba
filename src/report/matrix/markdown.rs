//! The matrix as Markdown (a CI job summary, a pull-request comment): HTML and
//! Markdown punctuation escaped in every string from the results.

use super::*;

/// Inline Markdown text safe in a table cell or list item: HTML specials as
/// entities, Markdown punctuation backslash-escaped, line breaks as `<br>`.
pub fn md(text: &str) -> String {
    let text = visible(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A `<pre>` block (an HTML block in Markdown: its content is not Markdown, and
/// escaping `<` keeps `</pre>` from closing it early).
pub(super) fn md_pre(out: &mut String, lines: impl IntoIterator<Item = String>) {
    let lines: Vec<String> = lines
        .into_iter()
        .map(|l| {
            html_escape(&l)
                .replace('\n', " ")
                .replace("&#39;", "'")
                .replace("&quot;", "\"")
        })
        .collect();
    let _ = writeln!(out, "<pre>\n{}\n</pre>\n", lines.join("\n"));
}

pub(super) fn md_cell(m: &Matrix, row: &Row, col: usize) -> String {
    let s = m.cell(row, col);
    let (sym, word, _) = mark(s.map(|s| s.outcome));
    let known = if s.is_some_and(|s| s.known_failure) {
        " (known)"
    } else {
        ""
    };
    match s {
        Some(s) if has_detail(s) => {
            format!("[{sym} {word}{known}](#{})", detail_anchor(col, &row.id))
        }
        _ => format!("{sym} {word}{known}"),
    }
}

/// The whole report as Markdown (GitHub flavour): a table per RFC, then details.
pub fn markdown(m: &Matrix) -> String {
    let mut out = String::new();
    let n = m.servers.len();
    let (noun, heading) = (m.subject.noun(), m.subject.heading());
    let _ = writeln!(out, "# {}\n", m.subject.title());
    let _ = writeln!(
        out,
        "{} scenario(s) on {n} {noun}(s), written by `pop3spec report` {} from `{}` results. \
         Every cell that did not pass links to its entry under [Details](#details).\n",
        m.rows().count(),
        env!("CARGO_PKG_VERSION"),
        m.subject.command(),
    );

    let _ = write!(
        out,
        "## {heading}\n\n| {noun} | target | result file | strict |"
    );
    for o in OUTCOMES.map(Some).into_iter().chain([None]) {
        let (sym, word, _) = mark(o);
        let _ = write!(out, " {sym} {word} |");
    }
    out.push_str(" known failures | total |\n| --- | --- | --- | --- |");
    out.push_str(&" ---: |".repeat(OUTCOMES.len() + 3));
    out.push('\n');
    for (col, s) in m.servers.iter().enumerate() {
        let c = m.counts(col);
        let _ = write!(
            out,
            "| {} | <code>{}</code> | <code>{}</code> | {} |",
            md(&s.label),
            md(&s.doc.target),
            md(&s.source.display().to_string()),
            if s.doc.strict { "yes" } else { "no" }
        );
        for o in OUTCOMES {
            let _ = write!(out, " {} |", c.get(o));
        }
        let _ = writeln!(out, " {} | {} | {} |", c.not_run, c.known_failures, c.ran());
    }

    out.push_str("\nLegend:\n\n");
    for (o, text) in m.subject.legend() {
        let (sym, word, _) = mark(o);
        let _ = writeln!(out, "- {sym} {word}: {}", md(&text));
    }
    out.push_str("- (known): listed in the run's \\-\\-known\\-failures file\n");

    out.push_str("\n## Matrix\n\n");
    let links: Vec<String> = m
        .groups
        .iter()
        .map(|g| {
            format!(
                "[{}](#{}) ({})",
                md(&g.name),
                group_anchor(&g.name),
                g.rows.len()
            )
        })
        .collect();
    let _ = writeln!(out, "{}\n", links.join(" · "));
    let header = {
        let mut h = String::from("| scenario | level |");
        for s in &m.servers {
            let _ = write!(h, " {} |", md(&s.label));
        }
        h.push_str("\n| --- | --- |");
        h.push_str(&" :---: |".repeat(n));
        h
    };
    for g in &m.groups {
        let _ = writeln!(
            out,
            "<a id=\"{}\"></a>\n\n### {}\n\n{header}",
            group_anchor(&g.name),
            md(&g.name)
        );
        let _ = write!(out, "| **summary** | |");
        for col in 0..n {
            let _ = write!(out, " {} |", tally_text(&m.group_counts(g, col)));
        }
        out.push('\n');
        for row in &g.rows {
            let meta = m.meta(row);
            let _ = write!(
                out,
                "| <a id=\"{}\"></a><code>{}</code> | {} |",
                row_anchor(&row.id),
                md(&row.id),
                meta.level.as_str()
            );
            for col in 0..n {
                let _ = write!(out, " {} |", md_cell(m, row, col));
            }
            out.push('\n');
        }
        out.push('\n');
    }

    out.push_str("## Details\n\n");
    let mut any = false;
    for (col, s) in m.detailed_cells() {
        any = true;
        md_detail(&mut out, m, col, s);
    }
    if !any {
        let _ = writeln!(out, "Every scenario passed on every {noun}.");
    }
    out
}

pub(super) fn md_detail(out: &mut String, m: &Matrix, col: usize, s: &Scenario) {
    let (sym, word, _) = mark(Some(s.outcome));
    let _ = writeln!(
        out,
        "<a id=\"{}\"></a>\n\n### {sym} {word}: <code>{}</code> on {}\n",
        detail_anchor(col, &s.id),
        md(&s.id),
        md(&m.servers[col].label)
    );
    for fact in facts(s) {
        let _ = match fact {
            Fact::Text {
                name,
                text,
                code: true,
            } => {
                writeln!(out, "- {name}: <code>{}</code>", md(&text))
            }
            Fact::Text { name, text, .. } => writeln!(out, "- {name}: {}", md(&text)),
            Fact::Spec(spec, level) => writeln!(out, "- spec: {} ({})", md(spec), level.as_str()),
            Fact::KnownFailure => writeln!(
                out,
                "- known failure: listed in the run's \\-\\-known\\-failures file"
            ),
        };
    }
    out.push('\n');
    if let Some(f) = expected_actual(s) {
        let lines = std::iter::once("expected:".to_string())
            .chain(f.expected.iter().map(|l| format!("  {l}")))
            .chain(std::iter::once("actual:".to_string()))
            .chain(f.actual.iter().map(|l| format!("  {l}")));
        md_pre(out, lines);
    }
    if !s.transcript.is_empty() {
        let shown = tail(s);
        let _ = writeln!(
            out,
            "Transcript (last {} of {} lines):\n",
            shown.len(),
            s.transcript.len()
        );
        md_pre(out, shown.iter().map(transcript_line));
    }
    let _ = writeln!(out, "[↑ back to the matrix](#{})\n", row_anchor(&s.id));
}
