//! The status pages after real lab probes: values a peer or a request controls (a certificate
//! subject made here, a banner, the target) appear as text, never as markup; failed records link
//! their runbook; `/logs?target=&module=` finds the latest record; failures outlive a flood of
//! successes.

#[macro_use]
mod lab;

use std::time::Duration;

use lab::exporter::get;
use lab::modules::{module, IP4, TLS_ANY};
use lab::pages::{log_link, row, row_counts};
use lab::tlsgen::{self, Identity};
use lab::{Exporter, Lab, Peer};
use rcgen::{CertificateParams, DnType};

/// A marker no page would contain by itself, wrapped in markup that would break a page that
/// pasted it raw.
const HOSTILE_CN: &str = r#"</td><script>alert("cn")</script>'x"#;
const HOSTILE_BANNER: &str = "</td></tr><script>alert('banner')</script>\"<b>\r\n";
/// Target::parse rejects `/` and spaces, so the target carries no end tags; the rest is hostile.
const HOSTILE_TARGET: &str = r#"<script>"'x:80"#;

fn config() -> String {
    let ssh = "      query_response:\n        - expect: \"^SSH-2.0-\"\n";
    lab::modules::config(&[
        module("tls_any", "2s", &[IP4, TLS_ANY]),
        module("ssh", "2s", &[IP4, ssh]),
        module("tcp", "2s", &[IP4]),
    ])
}

/// A self-signed certificate whose subject CN is [`HOSTILE_CN`].
fn hostile_identity() -> Identity {
    let mut params = CertificateParams::new(vec!["ok.lab.test".to_string()]).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, HOSTILE_CN);
    tlsgen::self_signed(params)
}

/// GET `path`, asserting a 200 and that the page holds no markup a peer injected.
fn page(lab: &Lab, path: &str) -> String {
    let (status, body) = get(lab, path, Duration::from_secs(10)).expect("GET failed");
    assert_eq!(status, 200, "GET {path} answered {status}:\n{body}");
    assert_no_injection(path, &body);
    body
}

/// The exporter's pages contain no script element and no markup from the hostile strings.
fn assert_no_injection(path: &str, body: &str) {
    let lower = body.to_lowercase();
    assert!(
        !lower.contains("<script"),
        "{path} holds a script tag:\n{body}"
    );
    assert!(
        !body.contains("<b>"),
        "{path} holds the banner's <b>:\n{body}"
    );
    assert!(
        !body.contains("alert('banner')</script>") && !body.contains("</td><script"),
        "{path} holds raw end tags from a peer:\n{body}"
    );
}

/// The text a browser shows for `html` (entities decoded), for "appears as text" checks.
fn text(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn hostile_strings_are_escaped_everywhere() {
    let lab = lab_or_skip!();
    lab.serve(
        "203.0.113.2:8443",
        Peer::Tls(tlsgen::server_config(&hostile_identity(), &[], None)),
    );
    lab.serve(
        "203.0.113.2:2222",
        Peer::BannerThenFin(HOSTILE_BANNER.into()),
    );
    let exporter = Exporter::start(&lab, &config());
    exporter
        .probe("tls_any", "203.0.113.2:8443")
        .assert_success();
    exporter
        .probe("ssh", "203.0.113.2:2222")
        .assert_failure("query", "expect_mismatch", "");
    let hostile = lab::exporter::encode(HOSTILE_TARGET);
    let (status, _) = get(
        &lab,
        &format!("/probe?module=tcp&target={hostile}"),
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(status, 200);

    let landing = page(&lab, "/");
    // The target shows as text in its row.
    assert!(
        text(&landing).contains(HOSTILE_TARGET),
        "target not shown as text:\n{landing}"
    );
    assert!(landing.contains("&lt;script&gt;&quot;"), "{landing}");

    // The certificate subject on the TLS record.
    let tls = page(&lab, &log_link(row(&landing, "tls_any")));
    let subject = tls
        .split(r#"<dd class="subject">"#)
        .nth(1)
        .and_then(|rest| rest.split("</dd>").next())
        .unwrap_or_else(|| panic!("no subject on the record:\n{tls}"));
    // RFC 4514 backslash-escapes `<`, `>` and `"` in the DN string; HTML escaping comes on top.
    assert!(
        subject.contains("&lt;/td") && subject.contains("&lt;script"),
        "subject not escaped: {subject}"
    );
    assert_eq!(
        text(subject),
        r#"CN=\</td\>\<script\>alert(\"cn\")\</script\>'x"#
    );

    // The banner in the step log of the expect_mismatch record, and its runbook link.
    let ssh = page(&lab, &log_link(row(&landing, ">ssh<")));
    assert!(
        text(&ssh).contains("<script>alert('banner')</script>"),
        "banner not in the step log:\n{ssh}"
    );
    assert!(ssh.contains(r#"href="runbooks/expect_mismatch""#), "{ssh}");

    // The target on its record, found by target and module.
    let by_pair = page(&lab, &format!("/logs?target={hostile}&module=tcp"));
    assert!(text(&by_pair).contains(HOSTILE_TARGET), "{by_pair}");
    let config = page(&lab, "/config");
    assert!(config.contains(r#"id="module-ssh""#), "{config}");
}

#[test]
fn failures_survive_a_flood_of_successes() {
    let lab = lab_or_skip!();
    lab.serve("203.0.113.2:2222", Peer::Silent);
    let exporter = Exporter::start_with_args(&lab, &config(), &["--history.limit", "5"]);
    exporter
        .probe("tcp", "203.0.113.2:1")
        .assert_failure("connect", "refused", "ECONNREFUSED");
    for _ in 0..20 {
        exporter.probe("tcp", "203.0.113.2:2222").assert_success();
    }
    let landing = page(&lab, "/");
    assert_eq!(row_counts(&landing), (5, 1), "{landing}");
    let record = page(&lab, "/logs?target=203.0.113.2:1&module=tcp");
    assert!(record.contains(r#"href="runbooks/refused""#), "{record}");
    assert!(record.contains("ECONNREFUSED"), "{record}");
    // The first success (record 2) is gone, the failure (record 1) stays.
    let (status, gone) = get(&lab, "/logs?id=2", Duration::from_secs(5)).unwrap();
    assert_eq!(status, 404, "{gone}");
    page(&lab, "/logs?id=1");
}

#[test]
fn probe_outcomes_are_logged_at_the_prober_level_in_json() {
    let lab = lab_or_skip!();
    let exporter = Exporter::start_with_args(
        &lab,
        &config(),
        &["--log.format", "json", "--log.prober", "warn"],
    );
    exporter
        .probe("tcp", "203.0.113.2:1")
        .assert_failure("connect", "refused", "ECONNREFUSED");
    let log = exporter.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let outcome = lines
        .iter()
        .find(|l| l["message"] == "probe failed")
        .unwrap_or_else(|| panic!("no probe outcome logged:\n{log}"));
    assert_eq!(outcome["level"], "WARN");
    assert_eq!(outcome["module"], "tcp");
    assert_eq!(outcome["host"], "203.0.113.2");
    assert_eq!(outcome["port"], 1);
    assert_eq!(outcome["phase"], "connect");
    assert_eq!(outcome["class"], "refused");
    assert_eq!(outcome["detail"], "ECONNREFUSED");
}
