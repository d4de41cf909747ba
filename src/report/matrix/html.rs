//! The matrix as one self-contained HTML page: every string from the results
//! escaped, outcome colours in an inline style sheet.

use super::*;

/// Text safe anywhere in HTML, attribute values included.
pub fn html_escape(text: &str) -> String {
    let text = visible(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#eee}
.num{text-align:right}
table.matrix td.o{text-align:center;white-space:nowrap}
table.matrix td.o a{color:inherit;text-decoration:none;display:block}
table.matrix td.o a:hover{text-decoration:underline}
tr.group th{background:#dde4ee;font-size:1.05em}
tr.summary td,tr.summary th{background:#f6f6f6;font-size:.9em;white-space:nowrap}
.t{color:#555;font-size:.85em}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.pass{background:#c8f0c8;color:#0a4d0a}
.nonstrict{background:#fff0b3;color:#5c4700}
.info{background:#d6e9ff;color:#0b3a6b}
.skipped{background:#e8e8e8;color:#555}
.fail{background:#f8c4c4;color:#7a0000}
.error{background:#8b1a1a;color:#fff}
.notrun{background:#fafafa;color:#999}
.known{font-size:.75em;font-weight:bold}
.legend span.m{display:inline-block;min-width:7em;padding:0 .4em;margin-right:.5em}
section.detail{border:1px solid #ccc;border-left-width:6px;margin:1em 0;padding:.3em 1em}
section.detail.fail{border-left-color:#c00}section.detail.error{border-left-color:#8b1a1a}
section.detail.nonstrict{border-left-color:#c9a400}section.detail.info{border-left-color:#3b7dd8}
section.detail.skipped{border-left-color:#999}
section.detail h3 .m{padding:0 .4em}
section.detail:target{box-shadow:0 0 0 3px #3b7dd8}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.ea{display:flex;gap:1em;flex-wrap:wrap}.ea>div{flex:1;min-width:20em}
";

/// The whole report as one self-contained HTML page (inline CSS, no scripts, no
/// external assets).
pub fn html(m: &Matrix) -> String {
    let mut out = String::new();
    let n = m.servers.len();
    let (noun, heading) = (m.subject.noun(), m.subject.heading());
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<title>pop3spec {}</title>\n<style>",
        m.subject.title().trim_start_matches("POP3 ")
    );
    out.push_str(STYLE);
    let _ = writeln!(
        out,
        "</style>\n</head>\n<body>\n<h1>{}</h1>",
        m.subject.title()
    );
    let _ = writeln!(
        out,
        "<p>{} scenario(s) on {n} {noun}(s), written by <code>pop3spec report</code> {} from <code>{}</code> results. \
         Every cell that did not pass links to its <a href=\"#details\">details</a>.</p>",
        m.rows().count(),
        env!("CARGO_PKG_VERSION"),
        m.subject.command(),
    );

    // Servers (or clients), one summary row each.
    let _ = write!(
        out,
        "<h2 id=\"servers\">{heading}</h2>\n<table class=\"servers\">\n<thead><tr><th>{noun}</th><th>target</th><th>result file</th><th>strict</th><th>duration</th>"
    );
    for o in OUTCOMES.map(Some).into_iter().chain([None]) {
        let (sym, word, class) = mark(o);
        let _ = write!(out, "<th class=\"{class}\">{sym} {word}</th>");
    }
    out.push_str("<th>known failures</th><th>total</th></tr></thead>\n<tbody>\n");
    for (col, s) in m.servers.iter().enumerate() {
        let c = m.counts(col);
        let _ = write!(
            out,
            "<tr><th>{}</th><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td>",
            html_escape(&s.label),
            html_escape(&s.doc.target),
            html_escape(&s.source.display().to_string()),
            if s.doc.strict { "yes" } else { "no" },
            s.doc
                .duration
                .map(|d| format!("{d:.1} s"))
                .unwrap_or_default(),
        );
        for o in OUTCOMES {
            let _ = write!(out, "<td class=\"num\">{}</td>", c.get(o));
        }
        let _ = writeln!(
            out,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            c.not_run,
            c.known_failures,
            c.ran()
        );
    }
    out.push_str("</tbody>\n</table>\n");

    out.push_str("<h2 id=\"legend\">Legend</h2>\n<ul class=\"legend\">\n");
    for (o, text) in m.subject.legend() {
        let (sym, word, class) = mark(o);
        let _ = writeln!(
            out,
            "<li><span class=\"m {class}\">{sym} {word}</span>{}</li>",
            html_escape(&text)
        );
    }
    out.push_str("<li><span class=\"m\"><span class=\"known\">known</span></span>listed in the run's --known-failures file</li>\n</ul>\n");

    // The matrix.
    out.push_str("<h2 id=\"matrix\">Matrix</h2>\n<p>");
    let links: Vec<String> = m
        .groups
        .iter()
        .map(|g| {
            format!(
                "<a href=\"#{}\">{}</a> ({})",
                group_anchor(&g.name),
                html_escape(&g.name),
                g.rows.len()
            )
        })
        .collect();
    out.push_str(&links.join(" · "));
    out.push_str("</p>\n<table class=\"matrix\">\n<thead><tr><th>scenario</th><th>level</th>");
    for s in &m.servers {
        let _ = write!(out, "<th>{}</th>", html_escape(&s.label));
    }
    out.push_str("</tr></thead>\n<tbody>\n<tr class=\"summary\"><th>summary</th><td></td>");
    for col in 0..n {
        let _ = write!(out, "<td>{}</td>", tally_text(&m.counts(col)));
    }
    out.push_str("</tr>\n");
    for g in &m.groups {
        let _ = writeln!(
            out,
            "<tr class=\"group\"><th colspan=\"{}\" id=\"{}\">{}</th></tr>",
            n + 2,
            group_anchor(&g.name),
            html_escape(&g.name)
        );
        for row in &g.rows {
            let meta = m.meta(row);
            let _ = write!(
                out,
                "<tr id=\"{}\"><th><code>{}</code><div class=\"t\">{} — {}</div></th><td>{}</td>",
                row_anchor(&row.id),
                html_escape(&row.id),
                html_escape(&meta.title),
                html_escape(&meta.spec),
                meta.level.as_str()
            );
            for col in 0..n {
                out.push_str(&html_cell(m, row, col));
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</tbody>\n</table>\n");

    // Details.
    out.push_str("<h2 id=\"details\">Details</h2>\n");
    let mut any = false;
    for (col, s) in m.detailed_cells() {
        any = true;
        html_detail(&mut out, m, col, s);
    }
    if !any {
        let _ = writeln!(out, "<p>Every scenario passed on every {noun}.</p>");
    }
    out.push_str("</body>\n</html>\n");
    out
}

pub(super) fn html_cell(m: &Matrix, row: &Row, col: usize) -> String {
    let s = m.cell(row, col);
    let (sym, word, class) = mark(s.map(|s| s.outcome));
    let known = if s.is_some_and(|s| s.known_failure) {
        " <span class=\"known\">known</span>"
    } else {
        ""
    };
    match s {
        Some(s) if has_detail(s) => {
            let hint = s
                .finding
                .as_ref()
                .map(|f| f.message.as_str())
                .filter(|t| !t.is_empty())
                .or(s.reason.as_deref())
                .unwrap_or("");
            format!(
                "<td class=\"o {class}\" title=\"{}\"><a href=\"#{}\">{sym} {word}{known}</a></td>",
                html_escape(hint),
                detail_anchor(col, &row.id)
            )
        }
        _ => format!("<td class=\"o {class}\">{sym} {word}{known}</td>"),
    }
}

pub(super) fn html_pre(out: &mut String, lines: impl IntoIterator<Item = String>) {
    out.push_str("<pre>");
    let lines: Vec<String> = lines.into_iter().map(|l| html_escape(&l)).collect();
    out.push_str(&lines.join("\n"));
    out.push_str("</pre>\n");
}

pub(super) fn html_detail(out: &mut String, m: &Matrix, col: usize, s: &Scenario) {
    let (sym, word, class) = mark(Some(s.outcome));
    let _ = writeln!(
        out,
        "<section class=\"detail {class}\" id=\"{}\">\n<h3><span class=\"m {class}\">{sym} {word}</span> <code>{}</code> on {}</h3>",
        detail_anchor(col, &s.id),
        html_escape(&s.id),
        html_escape(&m.servers[col].label)
    );
    out.push_str("<dl>\n");
    for fact in facts(s) {
        let (name, value) = match fact {
            Fact::Text { name, text, .. } => (name, text.into_owned()),
            Fact::Spec(spec, level) => ("spec", format!("{spec} ({})", level.as_str())),
            Fact::KnownFailure => (
                "known failure",
                "listed in the run's --known-failures file".to_string(),
            ),
        };
        let _ = writeln!(out, "<dt>{name}</dt><dd>{}</dd>", html_escape(&value));
    }
    out.push_str("</dl>\n");
    if let Some(f) = expected_actual(s) {
        out.push_str("<div class=\"ea\">\n<div><h4>expected</h4>\n");
        html_pre(out, f.expected.iter().cloned());
        out.push_str("</div>\n<div><h4>actual</h4>\n");
        html_pre(out, f.actual.iter().cloned());
        out.push_str("</div>\n</div>\n");
    }
    if !s.transcript.is_empty() {
        let shown = tail(s);
        let _ = writeln!(
            out,
            "<h4>transcript (last {} of {} lines)</h4>",
            shown.len(),
            s.transcript.len()
        );
        html_pre(out, shown.iter().map(transcript_line));
    }
    let _ = writeln!(
        out,
        "<p><a href=\"#{}\">↑ back to the matrix</a></p>\n</section>",
        row_anchor(&s.id)
    );
}
