//! What a browser and a hostile client meet on the HTTP side, against the real binary: the
//! pages' security headers (nosniff, a Content-Security-Policy allowing only the page's own
//! stylesheet, no framing, no Referer), overridden by the web config's headers; and failed
//! logins with a 300 KB user name, each of which adds one bounded line to the log. Chromium
//! (when installed) loads the pages and reports no policy violation.

#[path = "support/http.rs"]
mod http;
#[allow(dead_code)]
mod web;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use http::{blocking_get, Response};
use sha2::{Digest, Sha256};
use web::{Exporter, Scratch};

fn get(exporter: &Exporter, path: &str, headers: &[(&str, &str)]) -> Response {
    let addr = SocketAddr::from(([127, 0, 0, 1], exporter.port));
    blocking_get(addr, path, headers, Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", exporter.log()))
}

/// The text of the page's one `<style>` element.
fn stylesheet(body: &str) -> &str {
    let start = body.find("<style>").expect("a <style> element") + "<style>".len();
    let end = start + body[start..].find("</style>").expect("</style>");
    &body[start..end]
}

#[test]
fn pages_allow_only_their_own_stylesheet_and_the_web_config_headers_win() {
    let scratch = Scratch::new("web-hardening-pages");
    let exporter = Exporter::start(&scratch, &[], &[]);
    for path in ["/", "/config", "/runbooks/refused", "/logs?id=999"] {
        let page = get(&exporter, path, &[]);
        let header = |name: &str| {
            page.header(name)
                .unwrap_or_else(|| panic!("{path}: no {name} in {:?}", page.headers))
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        let hash = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(stylesheet(&page.body).as_bytes()));
        assert_eq!(
            header("content-security-policy"),
            format!(
                "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; \
                 form-action 'none'; frame-ancestors 'none'"
            ),
            "{path}"
        );
        // Nothing else the policy would have to allow.
        for used in ["<script", " style=", " src=", "<form", "<iframe"] {
            assert!(!page.body.contains(used), "{path} uses {used}");
        }
    }
    let metrics = get(&exporter, "/metrics", &[]);
    assert_eq!(metrics.header("x-content-type-options"), Some("nosniff"));
    drop(exporter);

    let web = scratch.file(
        "web.yml",
        "http_server_config:\n  headers:\n    Content-Security-Policy: default-src 'self'\n    \
         X-Frame-Options: sameorigin\n",
    );
    let exporter = Exporter::start(&scratch, &[], &["--web.config.file", web.to_str().unwrap()]);
    let page = get(&exporter, "/", &[]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-security-policy"),
        Some("default-src 'self'")
    );
    assert_eq!(page.header("x-frame-options"), Some("sameorigin"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
}

#[test]
fn failed_logins_with_a_300_kb_user_name_add_one_bounded_line_each() {
    const REQUESTS: usize = 20;
    const NAME_BYTES: usize = 300_000;
    let scratch = Scratch::new("web-hardening-auth");
    let hash = bcrypt::hash("s3cret", 4).expect("bcrypt");
    let web = scratch.file(
        "web.yml",
        &format!("basic_auth_users:\n  prometheus: {hash}\n"),
    );
    let exporter = Exporter::start(&scratch, &[], &["--web.config.file", web.to_str().unwrap()]);
    let user = "u".repeat(NAME_BYTES);
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:wrong"));
    let authorization = format!("Basic {credentials}");

    // Wait for the start-up lines, then measure what the failed logins add.
    assert_eq!(get(&exporter, "/-/healthy", &[]).status, 401);
    let before = exporter.log().len();
    for _ in 0..REQUESTS {
        let answer = get(&exporter, "/metrics", &[("authorization", &authorization)]);
        assert_eq!(answer.status, 401, "{}", answer.body);
    }
    let log = exporter.log();
    let per_request = (log.len() - before) / REQUESTS;
    println!("{per_request} log bytes per failed login with a {NAME_BYTES}-byte user name");
    assert!(per_request < 1024, "{per_request} bytes per request");
    let lines: Vec<&str> = log[before..]
        .lines()
        .filter(|l| l.contains("unauthorized request"))
        .collect();
    assert_eq!(lines.len(), REQUESTS, "{}", &log[before..]);
    let shown = format!("{}…[{} bytes]", "u".repeat(256), NAME_BYTES);
    for line in lines {
        assert!(line.contains(&shown), "{line}");
    }
}

/// What headless Chromium's console said about Content Security Policy while loading `url`.
/// `None` (after saying why) without Chromium; under `CI=true` that is a failure.
fn csp_complaints(scratch: &Scratch, url: &str) -> Option<Vec<String>> {
    let Some(binary) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
    else {
        let why = "the CSP check needs chromium (Debian package chromium)";
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{why}");
        eprintln!("skipping: {why}");
        return None;
    };
    let profile = scratch.path(&format!("chromium-{}", url.len()));
    let out = std::process::Command::new("timeout")
        .args(["60", binary, "--headless", "--no-sandbox", "--disable-gpu"])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
        ])
        .args([
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .env("HOME", &profile)
        .output()
        .expect("failed to run chromium");
    assert!(out.status.success(), "chromium on {url}: {}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    Some(
        stderr
            .lines()
            .filter(|l| l.contains("CONSOLE") && l.contains("Content Security Policy"))
            .map(str::to_string)
            .collect(),
    )
}

/// Chromium applies the page's stylesheet under the page's policy without a complaint; with a
/// policy that forbids it (set through the web config), it complains: the check can fail.
#[test]
fn chromium_applies_the_stylesheet_under_the_page_policy() {
    let scratch = Scratch::new("web-hardening-chromium");
    let exporter = Exporter::start(&scratch, &[], &[]);
    for path in ["/", "/runbooks/refused"] {
        let url = format!("http://127.0.0.1:{}{path}", exporter.port);
        let Some(complaints) = csp_complaints(&scratch, &url) else {
            return;
        };
        assert!(complaints.is_empty(), "{path}: {complaints:?}");
    }
    drop(exporter);
    let web = scratch.file(
        "web.yml",
        "http_server_config:\n  headers:\n    Content-Security-Policy: style-src 'none'\n",
    );
    let exporter = Exporter::start(&scratch, &[], &["--web.config.file", web.to_str().unwrap()]);
    let url = format!("http://127.0.0.1:{}/", exporter.port);
    let complaints = csp_complaints(&scratch, &url).expect("chromium ran before");
    assert!(
        complaints.iter().any(|l| l.contains("style-src 'none'")),
        "{complaints:?}"
    );
}
