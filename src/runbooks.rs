//! The runbooks of `docs/runbooks/`, embedded in the binary at build time (`build.rs`), so the
//! exporter serves them and the `probe` command quotes them: the files stay the one source.
//!
//! Every class page follows one shape: a `# class: title` heading, a `## What it means` section
//! whose first sentence says what the class means, and a `## Diagnose, in this order` list whose
//! items may start with a bold phase name (`**connect**: ...`) when they apply to one phase only.

use std::collections::HashMap;
use std::sync::OnceLock;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::report::Phase;

include!(concat!(env!("OUT_DIR"), "/runbooks.rs"));

/// Name of the page that isn't a class but the alert for a certificate close to its notAfter.
pub const CERT_EXPIRING: &str = "tls_cert_expiring";

/// Name of the page that isn't a class but the alert for a chain with a weak key or signature.
pub const WEAK_CHAIN: &str = "tls_cert_weak_chain";

/// The Markdown text of runbook `name` (a file stem: `refused`, `README`), if embedded.
pub fn markdown(name: &str) -> Option<&'static str> {
    RUNBOOKS
        .iter()
        .find(|(stem, _)| *stem == name)
        .map(|(_, text)| *text)
}

/// The names of every embedded page, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    RUNBOOKS.iter().map(|(stem, _)| *stem)
}

/// What a class page says in brief, read once from its Markdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The title after `# name:`, e.g. "connection refused".
    pub title: String,
    /// The first sentence of `## What it means`, as plain text.
    pub meaning: String,
    /// The items of `## Diagnose, in this order`, as plain text (code spans keep their
    /// backquotes), each with the phase its bold prefix names, if any.
    pub checks: Vec<(Option<Phase>, String)>,
}

impl Summary {
    /// The first `n` checks that apply to a failure in `phase`: items without a phase prefix and
    /// items whose prefix names `phase` (prefix removed), in the page's order.
    pub fn checks_for(&self, phase: Option<Phase>, n: usize) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|(p, _)| p.is_none() || phase.is_none() || *p == phase)
            .map(|(_, text)| text.as_str())
            .take(n)
            .collect()
    }
}

/// The summary of runbook `name`, `None` when no such page is embedded.
pub fn summary(name: &str) -> Option<&'static Summary> {
    static SUMMARIES: OnceLock<HashMap<&'static str, Summary>> = OnceLock::new();
    SUMMARIES
        .get_or_init(|| {
            RUNBOOKS
                .iter()
                .map(|(stem, text)| (*stem, summarize(text)))
                .collect()
        })
        .get(name)
}

/// Reads the title, the meaning sentence and the checks from one page.
fn summarize(markdown: &str) -> Summary {
    #[derive(PartialEq)]
    enum Section {
        Title,
        Meaning,
        Diagnose,
        Other,
    }
    let mut summary = Summary::default();
    let mut section = Section::Other;
    let mut heading = String::new();
    let mut in_heading = false;
    let mut paragraph = String::new();
    let mut in_paragraph = false;
    let mut list_depth = 0usize;
    let mut item = String::new();
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Heading { .. }) => {
                in_heading = true;
                heading.clear();
            }
            Event::End(TagEnd::Heading(level)) => {
                in_heading = false;
                section = match level {
                    HeadingLevel::H1 => {
                        summary.title = heading
                            .split_once(':')
                            .map_or(heading.as_str(), |(_, t)| t)
                            .trim()
                            .to_string();
                        Section::Title
                    }
                    _ if heading == "What it means" => Section::Meaning,
                    _ if heading.starts_with("Diagnose") => Section::Diagnose,
                    _ => Section::Other,
                };
            }
            Event::Start(Tag::Paragraph) => {
                in_paragraph = true;
                paragraph.clear();
            }
            Event::End(TagEnd::Paragraph) => {
                in_paragraph = false;
                if section == Section::Meaning && summary.meaning.is_empty() {
                    summary.meaning = first_sentence(&paragraph);
                }
                if section == Section::Diagnose && list_depth == 1 && !item.is_empty() {
                    item.push(' ');
                }
            }
            Event::Start(Tag::List(_)) => list_depth += 1,
            Event::End(TagEnd::List(_)) => list_depth = list_depth.saturating_sub(1),
            Event::Start(Tag::Item) if list_depth == 1 => item.clear(),
            Event::End(TagEnd::Item) if list_depth == 1 && section == Section::Diagnose => {
                summary.checks.push(phase_prefix(item.trim()));
            }
            Event::Text(_) | Event::Code(_) => {
                let piece = match &event {
                    Event::Code(text) => format!("`{text}`"),
                    Event::Text(text) => text.to_string(),
                    _ => String::new(),
                };
                if in_heading {
                    heading.push_str(&piece);
                } else if section == Section::Diagnose && list_depth == 1 {
                    item.push_str(&piece);
                } else if in_paragraph {
                    paragraph.push_str(&piece);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if section == Section::Diagnose && list_depth == 1 {
                    item.push(' ');
                } else if in_paragraph {
                    paragraph.push(' ');
                }
            }
            Event::Start(Tag::Strong) if section == Section::Diagnose && list_depth == 1 => {
                item.push_str("**");
            }
            Event::End(TagEnd::Strong) if section == Section::Diagnose && list_depth == 1 => {
                item.push_str("**");
            }
            _ => {}
        }
    }
    summary
}

/// Splits a leading `**phase**:` off a check; other bold text is unmarked.
fn phase_prefix(item: &str) -> (Option<Phase>, String) {
    for phase in Phase::ALL {
        let prefix = format!("**{}**:", phase.as_str());
        if let Some(rest) = item.strip_prefix(&prefix) {
            return (Some(phase), rest.trim().replace("**", ""));
        }
    }
    (None, item.replace("**", ""))
}

/// The text up to the first full stop followed by a space (or the end), full stop included.
fn first_sentence(paragraph: &str) -> String {
    let text = paragraph.trim();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '.' && chars.peek().map_or(true, |(_, next)| next.is_whitespace()) {
            return text[..=i].to_string();
        }
    }
    text.to_string()
}

/// Renders a runbook to HTML with pulldown-cmark (tables on). Links to sibling pages
/// (`timeout.md`, `README.md#classes`) become links to the served pages (`timeout`, `./#classes`),
/// and raw HTML in the Markdown is shown as text, never passed through.
pub fn to_html(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|event| match event {
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: local_link(dest_url),
            title,
            id,
        }),
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, parser);
    html
}

/// `name.md[#frag]` → `name[#frag]`, `README.md[#frag]` → `./[#frag]`; other links unchanged.
fn local_link(url: CowStr<'_>) -> CowStr<'_> {
    if url.contains("://") || url.starts_with('/') {
        return url;
    }
    let (path, fragment) = match url.split_once('#') {
        Some((path, fragment)) => (path, format!("#{fragment}")),
        None => (url.as_ref(), String::new()),
    };
    match path.strip_suffix(".md") {
        Some("README") => format!("./{fragment}").into(),
        Some(stem) if !stem.contains('/') => format!("{stem}{fragment}").into(),
        _ => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FailureClass;

    #[test]
    fn every_class_has_a_page_with_a_meaning_and_checks() {
        for class in FailureClass::ALL {
            let summary =
                summary(class.as_str()).unwrap_or_else(|| panic!("no runbook for {class}"));
            assert!(
                summary.meaning.ends_with('.') && summary.meaning.len() > 20,
                "{class}: {:?}",
                summary.meaning
            );
            assert!(!summary.title.is_empty(), "{class}: no title");
            assert!(!summary.checks.is_empty(), "{class}: no checks");
        }
        assert!(summary(CERT_EXPIRING).is_some());
        assert!(summary(WEAK_CHAIN).is_some());
    }

    #[test]
    fn refused_reads_as_the_page_says() {
        let s = summary("refused").unwrap();
        assert_eq!(s.title, "connection refused");
        assert_eq!(
            s.meaning,
            "The SYN reached the host and came back with a reset at once."
        );
        assert!(s.checks[1].1.starts_with("On the target host: `ss -tlnp"));
    }

    #[test]
    fn phase_items_are_filtered() {
        let s = summary("timeout").unwrap();
        let connect = s.checks_for(Some(Phase::Connect), 3);
        assert!(
            connect[1].starts_with("`probe_tcp_syn_retransmits`"),
            "{connect:?}"
        );
        assert!(
            connect.iter().all(|c| !c.starts_with("`dig")),
            "{connect:?}"
        );
        let resolve = s.checks_for(Some(Phase::Resolve), 2);
        assert!(resolve[1].starts_with("`dig NAME`"), "{resolve:?}");
    }

    #[test]
    fn html_keeps_links_local_and_escapes_raw_html() {
        let html = to_html(
            "# t\n\nsee [timeout](timeout.md) and [all](README.md#classes)\n\n<script>x</script>\n",
        );
        assert!(html.contains(r#"<a href="timeout">"#), "{html}");
        assert!(html.contains(r#"<a href="./#classes">"#), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn first_sentence_stops_at_a_full_stop() {
        assert_eq!(first_sentence("One `a.b` two. Three."), "One `a.b` two.");
        assert_eq!(first_sentence("No stop"), "No stop");
    }
}
