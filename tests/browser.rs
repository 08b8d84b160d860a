//! The status pages in a real browser: after lab probes that are refused, time out against a
//! DROP rule (with the path trace) and meet an expired certificate, headless Chromium loads `/`,
//! the timeout's `/logs?id=` page and a runbook, and the test asserts on the DOM Chromium built
//! (`--dump-dom`). Screenshots of each page (and of `/` at a phone's width) are saved under
//! `target/tmp/browser/`.
//!
//! Needs root (the lab) and Chromium (Debian package `chromium`); without them it skips, except
//! with `CI=true`, where it fails.

#[macro_use]
mod lab;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lab::exporter::{get, LISTEN};
use lab::pages::{log_link, row, row_counts, triage_config};
use lab::tlsgen::{self, Leaf, Pki};
use lab::{Exporter, Lab, Peer, ROUTER4};

/// The Chromium binary, or `None` after saying why the test skips (a panic when `CI=true`).
fn chromium() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| path.split(':').map(move |dir| Path::new(dir).join(name)))
        .find(|p| p.is_file());
    if found.is_none() {
        let why = "the browser test needs chromium (Debian package chromium)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{why}, and CI=true forbids skipping it");
        }
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "skipping: {why}");
    }
    found
}

/// Headless Chromium in the lab's client namespace, each run with a fresh profile.
struct Browser<'a> {
    lab: &'a Lab,
    binary: PathBuf,
    out: PathBuf,
    runs: usize,
}

impl Browser<'_> {
    /// Runs Chromium on `path` of the exporter with `extra` arguments; returns stdout.
    fn run(&mut self, path: &str, extra: &[String]) -> String {
        self.runs += 1;
        let profile = self.lab.dir.join(format!("chromium-{}", self.runs));
        std::fs::create_dir_all(&profile).expect("profile directory");
        let url = format!("http://{LISTEN}{path}");
        let out = Command::new("ip")
            .args(["netns", "exec", &self.lab.client])
            .arg(&self.binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .env("HOME", &profile)
            .output()
            .expect("failed to start chromium");
        assert!(
            out.status.success(),
            "chromium failed on {url}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The DOM Chromium built for `path`, serialized.
    fn dom(&mut self, path: &str) -> String {
        let dom = self.run(path, &["--dump-dom".to_string()]);
        assert!(dom.contains("</html>"), "no document for {path}:\n{dom}");
        dom
    }

    /// Saves a PNG of `path` at `width`x`height` as `name` in the output directory.
    fn screenshot(&mut self, path: &str, name: &str, width: u32, height: u32) -> PathBuf {
        let file = self.out.join(name);
        let _ = std::fs::remove_file(&file);
        self.run(
            path,
            &[
                format!("--screenshot={}", file.display()),
                format!("--window-size={width},{height}"),
            ],
        );
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "no screenshot of {path} at {}", file.display());
        file
    }
}

#[test]
fn status_log_and_runbook_pages_in_chromium() {
    let Some(binary) = chromium() else { return };
    let lab = lab_or_skip!();
    let pki = Pki::new();
    lab.serve(
        "203.0.113.2:8443",
        Peer::Tls(tlsgen::server_config(&pki.leaf(Leaf::Expired), &[], None)),
    );
    lab.serve("203.0.113.2:2010", Peer::Silent);
    lab.iptables(&lab.server, "-A INPUT -p tcp --dport 2010 -j DROP");
    lab.serve("203.0.113.2:2222", Peer::Silent);
    let exporter = Exporter::start(&lab, &triage_config(&pki.write_ca(&lab)));
    exporter.probe("tcp4", "203.0.113.2:2222").assert_success();
    exporter
        .probe("tcp4", "203.0.113.2:1")
        .assert_failure("connect", "refused", "ECONNREFUSED");
    exporter
        .probe("trace4", "203.0.113.2:2010")
        .assert_failure("connect", "timeout", "");
    exporter
        .probe("tls", "203.0.113.2:8443")
        .assert_failure("tls", "tls_cert_expired", "");
    // A hostile target: the browser must show it as text.
    let (status, _) = get(
        &lab,
        "/probe?module=tcp4&target=%3Cscript%3Ealert(1)%3C:80",
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(status, 200);

    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&out).expect("output directory");
    let mut browser = Browser {
        lab: &lab,
        binary,
        out,
        runs: 0,
    };

    // The status page: the three failures with their class, meaning and runbook link.
    let landing = browser.dom("/");
    assert!(!landing.to_lowercase().contains("<script"), "{landing}");
    assert!(
        landing.contains("&lt;script&gt;alert(1)&lt;:80"),
        "{landing}"
    );
    let refused = row(&landing, "href=\"runbooks/refused\"");
    assert!(refused.contains(">203.0.113.2:1<") && refused.contains(">ECONNREFUSED<"));
    assert!(
        refused.contains("came back with a reset at once."),
        "{refused}"
    );
    let timeout = row(&landing, "href=\"runbooks/timeout\"");
    assert!(timeout.contains(">203.0.113.2:2010<") && timeout.contains(">connect<"));
    let expired = row(&landing, "href=\"runbooks/tls_cert_expired\"");
    assert!(expired.contains(">203.0.113.2:8443<") && expired.contains(">tls<"));
    assert_eq!(row_counts(&landing), (1, 4), "{landing}");

    // The timeout's record: the hop where silence begins, the step log, the metrics.
    let link = log_link(timeout);
    let log = browser.dom(&link);
    assert!(log.contains("<h2>Path trace</h2>"), "{log}");
    assert!(
        log.contains(&format!("<td>1</td><td>{ROUTER4}</td>")),
        "hop 1 not listed:\n{log}"
    );
    assert!(
        log.contains(&format!(
            "Packets reach hop 1 ({ROUTER4}); silence begins after it."
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "FAILED in connect: timeout. SYNs to 203.0.113.2 went unanswered for 3.0 s; \
             packets reach {ROUTER4} (hop 1) and silence begins after it."
        )),
        "no verdict on the record:\n{log}"
    );
    assert!(log.contains("probe_path_last_responding_hop 1"), "{log}");
    assert!(log.contains(r#"href="runbooks/timeout""#), "{log}");

    // The runbook renders from the binary.
    let runbook = browser.dom("/runbooks/timeout");
    assert!(
        runbook.contains("<h1>timeout: no answer before the deadline</h1>"),
        "{runbook}"
    );
    assert!(runbook.contains("<h2>What it means</h2>"), "{runbook}");
    assert!(
        runbook.contains("<h2>Diagnose, in this order</h2>"),
        "{runbook}"
    );
    assert!(runbook.contains("<ol>"), "{runbook}");

    let shots = [
        browser.screenshot("/", "status.png", 1280, 1100),
        browser.screenshot("/", "status-phone.png", 412, 1400),
        browser.screenshot(&link, "log.png", 1280, 2000),
        browser.screenshot("/runbooks/timeout", "runbook.png", 1280, 1600),
    ];
    println!("screenshots: {shots:?}");
}
