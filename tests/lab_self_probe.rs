//! No self-amplification: a module whose `send` asks the exporter for a probe of itself. The
//! request arrives on a connection the exporter opened as a probe, so it is refused (508, one
//! line) and counted as `self_probe`; no second probe starts, where without the check each
//! probe would start the next until the connection cap.

#[macro_use]
mod lab;

use std::time::Duration;

use lab::exporter::LISTEN;
use lab::{Exporter, Metrics};

/// A module that connects to the exporter itself and asks it for a probe of the same module,
/// reading the status code and the body of the answer into `probe_expect_info`.
fn config() -> String {
    format!(
        r#"modules:
  self:
    prober: tcp
    timeout: 3s
    tcp:
      query_response:
        - send: "GET /probe?module=self&target={LISTEN} HTTP/1.1\r\nHost: {LISTEN}\r\n\r"
        - expect: "^HTTP/1.1 ([0-9]+)"
          labels:
            - name: status
              value: "${{1}}"
        - expect: "^(probe refused: .+)"
          labels:
            - name: reason
              value: "${{1}}"
"#
    )
}

/// The exporter's own metrics.
fn exporter_metrics(lab: &lab::Lab) -> Metrics {
    let (status, body) = lab::exporter::get(lab, "/metrics", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("/metrics failed: {e}"));
    assert_eq!(status, 200, "/metrics:\n{body}");
    Metrics::parse(&body)
}

#[test]
fn a_probe_of_the_exporter_itself_is_refused() {
    let lab = lab_or_skip!();
    let exporter = Exporter::start(&lab, &config());
    let m = exporter.probe("self", LISTEN);
    // The outer probe read the refusal: the inner request got 508 and ran no probe.
    m.assert_success();
    m.assert_value("probe_expect_info", &[("status", "508")], 1.0);
    let reason = "probe refused: this request comes from one of the exporter's own probe \
                  connections (a module whose target is the exporter itself)";
    m.assert_value("probe_expect_info", &[("reason", reason)], 1.0);

    let own = exporter_metrics(&lab);
    own.assert_value(
        "handshake_exporter_probes_rejected_total",
        &[("reason", "self_probe")],
        1.0,
    );
    // One probe ran in all: the outer one.
    own.assert_value(
        "handshake_exporter_probes_total",
        &[("module", "self"), ("result", "success")],
        1.0,
    );
    own.assert_value(
        "handshake_exporter_probes_total",
        &[("module", "self"), ("result", "failure")],
        0.0,
    );
    // Its socket went back to the budget.
    own.assert_value("handshake_exporter_probe_sockets", &[], 0.0);
    assert!(
        exporter
            .log()
            .contains("probe refused: the request came from one of our own probes"),
        "no log line of the refusal:\n{}",
        exporter.log()
    );
}
