//! The pages for people: the status page `/` (build, uptime, modules, recent probes), a probe's
//! full record at `/logs?id=N` or `/logs?target=T&module=M`, the configuration at `/config`, and
//! the embedded runbooks at `/runbooks/<name>` (also under `/docs/runbooks/<name>.md`, the path
//! the shipped alert rules use).
//!
//! Server-rendered HTML from maud templates, which escape every interpolated value; no
//! JavaScript; one stylesheet in the page that turns the probe table into cards on a narrow
//! screen, allowed by the pages' Content-Security-Policy (`headers`). Links between pages are
//! relative, so the pages also work behind a proxy that serves the exporter under a path
//! prefix.

mod headers;
mod logs;
mod status;

use std::time::{Duration, SystemTime};

use hyper::StatusCode;
use maud::{html, Markup, PreEscaped, DOCTYPE};

pub use headers::{add_page_headers, nosniff};

use crate::report::FailureClass;
use crate::runbooks;
use crate::server::{parse_query, State};

/// The `Content-Type` of every page.
pub const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// A rendered page and its status.
#[derive(Debug)]
pub struct Page {
    /// 200, or the 4xx explained by the page.
    pub status: StatusCode,
    /// The HTML document.
    pub body: String,
}

/// Whether `path` is one of the pages this module renders.
pub fn serves(path: &str) -> bool {
    matches!(path, "/" | "/logs" | "/config")
        || path.starts_with("/runbooks/")
        || path.starts_with("/docs/runbooks/")
}

/// Renders the page at `path` with query string `query`.
///
/// Errors are pages too: 400 for a malformed query, 404 for a record or runbook that does not
/// exist, each naming the reason in one line.
pub fn render(path: &str, query: Option<&str>, state: &State) -> Page {
    let pairs = match parse_query(query.unwrap_or("")) {
        Ok(pairs) => pairs,
        Err(err) => return problem(StatusCode::BAD_REQUEST, "Bad request", &err.to_string()),
    };
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    match path {
        "/" => ok(status::landing(state)),
        "/config" => ok(status::config(state)),
        "/logs" => logs::page(param("id"), param("target"), param("module"), state),
        _ => runbook(path, state),
    }
}

/// `/runbooks/`, `/runbooks/<name>`, `/docs/runbooks/<name>.md`.
fn runbook(path: &str, state: &State) -> Page {
    let name = path
        .strip_prefix("/docs/runbooks")
        .or_else(|| path.strip_prefix("/runbooks"))
        .unwrap_or(path)
        .trim_start_matches('/');
    let name = name.strip_suffix(".md").unwrap_or(name);
    let name = if name.is_empty() { "README" } else { name };
    // The way back to the site root from this page, for relative links.
    let base = if path.starts_with("/docs/") {
        "../../"
    } else {
        "../"
    };
    let Some(markdown) = runbooks::markdown(name) else {
        return problem(
            StatusCode::NOT_FOUND,
            "No such runbook",
            &format!("there is no runbook named {name:?}; see runbooks/ for the list"),
        );
    };
    let title = runbooks::summary(name)
        .map(|s| s.title.clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "Runbooks".to_string());
    let external = state.external_url();
    let link = if name == "README" {
        format!("{external}/runbooks/<class>")
    } else {
        format!("{external}/runbooks/{name}")
    };
    // The runbook HTML comes from our own Markdown through pulldown-cmark, raw HTML shown as
    // text (see `runbooks::to_html`).
    let body = html! {
        nav {
            a href=(base) { "status" } " · " a href=(format!("{base}runbooks/")) { "all runbooks" }
        }
        article.runbook { (PreEscaped(runbooks::to_html(markdown))) }
        @if !external.is_empty() {
            p.note { "Link to this page from alert rules: " code { (link) } }
        }
    };
    ok(document(&title, body))
}

fn ok(body: Markup) -> Page {
    Page {
        status: StatusCode::OK,
        body: body.into_string(),
    }
}

/// A page explaining a 4xx in one line.
fn problem(status: StatusCode, title: &str, reason: &str) -> Page {
    let body = html! {
        p.failed { (reason) }
        p { a href="/" { "back to the status page" } }
    };
    Page {
        status,
        body: layout(title, body).into_string(),
    }
}

/// The stylesheet: readable on a phone, the probe table becomes one card per probe below 40rem.
const STYLE: &str = "\
body{font-family:system-ui,-apple-system,sans-serif;margin:0 auto;max-width:72rem;padding:.5rem 1rem;line-height:1.45;color:#1b1b1b}\
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:1.6rem}\
a{color:#0645ad}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}\
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
th{background:#f3f3f3}\
pre{overflow-x:auto;background:#f6f6f6;padding:.6rem;font-size:.85rem;white-space:pre}\
code{background:#f3f3f3;padding:0 .2rem;word-break:break-word}\
pre code{background:none;padding:0}\
.scroll{overflow-x:auto}\
.failed{color:#a40000;font-weight:600}.ok{color:#116611;font-weight:600}\
.meaning{display:block;font-size:.85rem;color:#444;font-weight:normal}\
.note{font-size:.9rem;color:#444}.nowrap{white-space:nowrap}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dl.facts dt{font-weight:600}dl.facts dd{margin:0;word-break:break-word}\
@media (max-width:40rem){\
table.cards thead{display:none}table.cards tr{display:block;border:1px solid #ddd;margin:.5rem 0;padding:.3rem}\
table.cards td{display:block;border:none;padding:.1rem .3rem}table.cards td:empty{display:none}\
table.cards td[data-label]::before{content:attr(data-label) \": \";font-weight:600}}";

/// The HTML document around `body`, with `title` as its first heading.
fn layout(title: &str, body: Markup) -> Markup {
    document(title, html! { h1 { (title) } (body) })
}

/// The HTML document around `body`, which brings its own first heading.
fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · handshake_exporter" }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
}

/// `2026-11-30T03:24:13Z`.
fn utc(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A duration in seconds with millisecond precision: `0.012 s`.
fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// The class name linked to its runbook (relative to the site root, `base` leads there), with
/// the sentence that says what it means.
fn class_cell(class: FailureClass, base: &str) -> Markup {
    let meaning = runbooks::summary(class.as_str()).map(|s| s.meaning.as_str());
    html! {
        a.class href=(format!("{base}runbooks/{class}")) { (class.as_str()) }
        @if let Some(meaning) = meaning {
            // Code spans of the Markdown sentence lose their backquotes.
            span.meaning { (meaning.replace('`', "")) }
        }
    }
}
