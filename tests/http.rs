//! The HTTP side end to end: the real server on `127.0.0.1:0`, talked to over TCP. Plus pure
//! tests of the deadline arithmetic and of the per-probe encoder on hand-built reports.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use handshake_exporter::config::Config;
use handshake_exporter::metrics::{encode_probe, OPENMETRICS_CONTENT_TYPE};
use handshake_exporter::report::{
    CertInfo, Errno, Failure, FailureClass, Phase, ProbeReport, TlsFacts,
};
use handshake_exporter::server::{probe_timeout, TimeoutError};
use support::Server;

const TEXT: &str = "text/plain; charset=utf-8";

async fn assert_bad_request(server: &Server, path: &str, reason: &str) {
    let resp = server.get(path).await;
    assert_eq!(resp.status, 400, "{path}: {}", resp.body);
    assert_eq!(resp.header("content-type"), Some(TEXT), "{path}");
    assert_eq!(resp.body, format!("{reason}\n"), "{path}");
}

#[tokio::test]
async fn probe_rejects_bad_requests_with_one_line_reasons() {
    let mut config = Config::builtin();
    config.skipped.insert("http_2xx".into(), "http".into());
    let server = Server::start(config, None, 10_000).await;
    let host = |t: &str| format!("target {t:?} has an invalid host: use HOST:PORT, [IPv6]:PORT");
    let port = |t: &str| format!("target {t:?} has an invalid port: it must be 1..65535");
    let skipped = r#"module "http_2xx" uses prober "http"; handshake_exporter runs only tcp and unix modules"#;
    let cases = [
        (
            "module=tcp_connect",
            "target parameter is missing".to_string(),
        ),
        (
            "target=localhost:22",
            "module parameter is missing".to_string(),
        ),
        (
            "module=tcp_connect&target=localhost",
            r#"target "localhost" has no port: use HOST:PORT, [IPv6]:PORT"#.into(),
        ),
        ("module=tcp_connect&target=localhost:0", port("localhost:0")),
        (
            "module=tcp_connect&target=localhost:70000",
            port("localhost:70000"),
        ),
        ("module=tcp_connect&target=:22", host(":22")),
        (
            "module=tcp_connect&target=%5B%3A%3Ag%5D%3A443",
            host("[::g]:443"),
        ),
        ("module=tcp_connect&target=::1:443", host("::1:443")),
        (
            "module=nope&target=localhost:22",
            r#"unknown module "nope""#.into(),
        ),
        ("module=http_2xx&target=localhost:22", skipped.into()),
        (
            "module=tcp_connect&target=%zz",
            r#"failed to decode query string: bad percent escape in "%zz""#.into(),
        ),
    ];
    for (query, reason) in cases {
        assert_bad_request(&server, &format!("/probe?{query}"), &reason).await;
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn probe_rejects_unparsable_scrape_timeout_header() {
    let server = Server::builtin().await;
    let resp = server
        .request(
            "GET",
            "/probe?module=tcp_connect&target=127.0.0.1:1",
            &[("X-Prometheus-Scrape-Timeout-Seconds", "soon")],
        )
        .await;
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.body,
        "failed to parse X-Prometheus-Scrape-Timeout-Seconds header \"soon\": not a number of seconds\n"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn probe_answers_openmetrics_for_a_percent_encoded_target() {
    let server = Server::builtin().await;
    let resp = server
        .get("/probe?target=%5B%3A%3A1%5D%3A443&module=tcp_connect")
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.header("content-type"), Some(OPENMETRICS_CONTENT_TYPE));
    assert!(resp.body.contains("\nprobe_success "), "{}", resp.body);
    assert!(resp.body.ends_with("# EOF\n"));
    // The deadline the handler decided: module 5 s beats 120 s - 0.5 s.
    assert!(
        resp.body.contains("\nprobe_timeout_seconds 5.0\n"),
        "{}",
        resp.body
    );
    let metrics = server.get("/metrics").await.body;
    assert!(
        metrics.contains("handshake_exporter_probes_total{module=\"tcp_connect\",result="),
        "{metrics}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_twice_encoded_target_is_decoded_once_more() {
    let peer = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = peer.local_addr().unwrap().port();
    let server = Server::builtin().await;
    let resp = server
        .get(&format!(
            "/probe?target=127.0.0.1%253A{port}&module=tcp_connect"
        ))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(resp.body.contains("\nprobe_success 1\n"), "{}", resp.body);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_methods_get_405() {
    let server = Server::builtin().await;
    for (method, path) in [
        ("POST", "/probe?module=tcp_connect&target=127.0.0.1:1"),
        ("DELETE", "/metrics"),
        ("GET", "/-/reload"),
    ] {
        let resp = server.request(method, path, &[]).await;
        assert_eq!(resp.status, 405, "{method} {path}");
        assert!(resp.header("allow").is_some(), "{method} {path}");
    }
    assert_eq!(server.get("/nowhere").await.status, 404);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn metrics_health_and_keep_alive() {
    let server = Server::builtin().await;
    let mut conn = server.connect().await;
    // Three requests on one connection.
    let metrics = conn.get("/metrics").await.unwrap();
    let healthy = conn.get("/-/healthy").await.unwrap();
    let ready = conn.get("/-/ready").await.unwrap();

    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some(OPENMETRICS_CONTENT_TYPE)
    );
    let body = &metrics.body;
    let build = format!(
        "handshake_exporter_build_info{{version=\"{}\",revision=",
        env!("CARGO_PKG_VERSION")
    );
    for needle in [
        build.as_str(),
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_virtual_memory_bytes ",
        "process_open_fds ",
        "process_max_fds ",
        "process_start_time_seconds ",
        "handshake_exporter_config_last_reload_successful 1\n",
        "handshake_exporter_config_last_reload_success_timestamp_seconds ",
        "handshake_exporter_probes_rejected_total{reason=\"concurrency_limit\"} 0\n",
        "# TYPE handshake_exporter_probe_duration_seconds histogram",
        "handshake_exporter_probes_total{module=\"tls_connect\",result=\"success\"} 0\n",
        "handshake_exporter_probe_duration_seconds_bucket{le=\"0.005\",module=\"tcp_connect\"} 0\n",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    assert_eq!((healthy.status, healthy.body.as_str()), (200, "OK\n"));
    assert_eq!((ready.status, ready.body.as_str()), (200, "OK\n"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn debug_output_has_logs_metrics_and_module() {
    let server = Server::builtin().await;
    let resp = server
        .get("/probe?module=tcp_connect&target=127.0.0.1:1&debug=true")
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some(TEXT));
    let body = &resp.body;
    assert!(body.starts_with("Logs for the probe:\n"), "{body}");
    let metrics_at = body
        .find("\n\nMetrics that would have been returned:\n")
        .unwrap();
    let module_at = body.find("\n\nModule configuration:\n").unwrap();
    assert!(metrics_at < module_at);
    assert!(body[metrics_at..module_at].contains("probe_success "));
    assert!(body[module_at..].contains("tcp"), "{body}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn concurrency_limit_answers_503_and_counts() {
    let server = Server::start(Config::builtin(), None, 0).await;
    let resp = server
        .get("/probe?module=tcp_connect&target=127.0.0.1:1")
        .await;
    assert_eq!(resp.status, 503);
    assert_eq!(resp.body.lines().count(), 1);
    let metrics = server.get("/metrics").await.body;
    assert!(
        metrics
            .contains("handshake_exporter_probes_rejected_total{reason=\"concurrency_limit\"} 1\n"),
        "{metrics}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn failed_reload_keeps_config_and_answers_500() {
    let missing = std::env::temp_dir().join("handshake_exporter_no_such_config.yml");
    let server = Server::start(Config::builtin(), Some(missing), 10_000).await;
    let resp = server.request("POST", "/-/reload", &[]).await;
    assert_eq!(resp.status, 500);
    assert!(resp.body.starts_with("failed to reload "), "{}", resp.body);
    assert_eq!(resp.body.lines().count(), 1);
    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains("handshake_exporter_config_last_reload_successful 0\n"));
    // The builtin modules still run.
    let probe = server
        .get("/probe?module=tcp_connect&target=127.0.0.1:1")
        .await;
    assert_eq!(probe.status, 200);

    let builtin = Server::builtin().await;
    assert_eq!(builtin.request("POST", "/-/reload", &[]).await.status, 400);
    builtin.stop().await.unwrap();
    server.stop().await.unwrap();
}

// Needs `Config::load_file` behind `server::load_config`; the placeholder rejects every file.
#[tokio::test]
async fn reload_swaps_in_a_new_config() {
    let path = std::env::temp_dir().join(format!("handshake_exporter_{}.yml", std::process::id()));
    std::fs::write(
        &path,
        "modules:\n  ssh_banner:\n    prober: tcp\n    timeout: 3s\n",
    )
    .unwrap();
    let server = Server::start(Config::builtin(), Some(path.clone()), 10_000).await;
    let resp = server.request("POST", "/-/reload", &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let probe = server
        .get("/probe?module=ssh_banner&target=127.0.0.1:1")
        .await;
    assert_eq!(probe.status, 200, "{}", probe.body);
    assert!(
        probe.body.contains("\nprobe_timeout_seconds 3.0\n"),
        "{}",
        probe.body
    );
    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains("handshake_exporter_config_last_reload_successful 1\n"));
    let _ = std::fs::remove_file(&path);
    server.stop().await.unwrap();
}

// Needs the real probe engine: the placeholder always reports prober_error.
#[tokio::test]
async fn probing_own_port_succeeds() {
    let server = Server::builtin().await;
    let path = format!(
        "/probe?module=tcp_connect&target=127.0.0.1:{}",
        server.addr.port()
    );
    let resp = server.get(&path).await;
    assert_eq!(resp.status, 200);
    assert!(resp.body.contains("\nprobe_success 1\n"), "{}", resp.body);
    server.stop().await.unwrap();
}

#[test]
fn timeout_follows_blackbox_arithmetic() {
    let five = Some(Duration::from_secs(5));
    let secs = |s: f64| Ok(Duration::from_secs_f64(s));
    assert_eq!(probe_timeout(None, five, 0.5), secs(5.0));
    assert_eq!(probe_timeout(None, None, 0.5), secs(119.5));
    assert_eq!(probe_timeout(Some("0"), None, 0.5), secs(119.5));
    assert_eq!(probe_timeout(Some(""), five, 0.5), secs(5.0));
    assert_eq!(probe_timeout(Some("10"), five, 0.5), secs(5.0));
    assert_eq!(probe_timeout(Some("3"), five, 0.5), secs(2.5));
    assert_eq!(probe_timeout(Some("10"), None, 0.5), secs(9.5));
    assert_eq!(probe_timeout(Some("5.5"), five, 0.5), secs(5.0));
    assert_eq!(
        probe_timeout(Some("10"), Some(Duration::ZERO), 0.0),
        secs(10.0)
    );
    // Header minus offset below zero: the module timeout, even 0.
    assert_eq!(probe_timeout(Some("0.4"), five, 0.5), secs(5.0));
    assert_eq!(probe_timeout(Some("0.4"), None, 0.5), secs(0.0));
    for bad in ["soon", "NaN", "inf", "1s"] {
        assert_eq!(
            probe_timeout(Some(bad), five, 0.5),
            Err(TimeoutError::NotANumber(bad.to_string()))
        );
    }
}

fn refused_report() -> ProbeReport {
    ProbeReport {
        failure: Some(Failure::new(
            Phase::Connect,
            FailureClass::Refused,
            Errno::ECONNREFUSED,
        )),
        duration: Duration::from_millis(3),
        timeout: Duration::from_secs(5),
        phases: vec![
            (Phase::Resolve, Duration::from_millis(1)),
            (Phase::Connect, Duration::from_millis(2)),
        ],
        ip_addr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ..Default::default()
    }
}

#[test]
fn encoder_names_a_refused_connect() {
    let text = encode_probe(&refused_report()).unwrap();
    for line in [
        "probe_success 0",
        "probe_failure_info{phase=\"connect\",class=\"refused\",detail=\"ECONNREFUSED\"} 1",
        "probe_tcp_duration_seconds{phase=\"resolve\"} 0.001",
        "probe_tcp_duration_seconds{phase=\"connect\"} 0.002",
        "probe_duration_seconds 0.003",
        "probe_timeout_seconds 5.0",
        "probe_dns_lookup_time_seconds 0.001",
        "probe_ip_protocol 4",
        "probe_ip_addr_hash 3668918509",
        "# HELP probe_failure_info Where (phase) and why (class, detail) the probe failed",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(!text.contains("probe_ssl"), "{text}");
    assert!(!text.contains("probe_tcp_rtt_seconds"), "{text}");
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn encoder_keeps_tls_facts_of_a_failed_verification() {
    let leaf = CertInfo {
        fingerprint_sha256: "ab".repeat(32),
        subject: "CN=example.test".into(),
        issuer: "CN=Test CA".into(),
        subject_alternative: "example.test".into(),
        serial_number: "01".into(),
        not_after: 1_700_000_000,
        ..Default::default()
    };
    let ca = CertInfo {
        not_after: 1_800_000_000,
        ..Default::default()
    };
    let mut report = refused_report();
    report.failure = Some(Failure::bare(Phase::Tls, FailureClass::TlsCertExpired));
    report.tls = Some(TlsFacts {
        version: None,
        cipher: None,
        chain: vec![leaf, ca],
        ..Default::default()
    });
    let text = encode_probe(&report).unwrap();
    for line in [
        "probe_failure_info{phase=\"tls\",class=\"tls_cert_expired\",detail=\"\"} 1",
        "probe_ssl_earliest_cert_expiry 1700000000",
        "probe_ssl_last_chain_expiry_timestamp_seconds 1700000000",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let info = format!(
        "probe_ssl_last_chain_info{{fingerprint_sha256=\"{}\",subject=\"CN=example.test\",\
         issuer=\"CN=Test CA\",subjectalternative=\"example.test\",serialnumber=\"01\"}} 1",
        "ab".repeat(32)
    );
    assert!(
        text.lines().any(|l| l == info),
        "missing {info:?} in\n{text}"
    );
    assert!(!text.contains("probe_tls_version_info"), "{text}");
}

#[tokio::test]
async fn run_returns_after_shutdown_with_an_idle_connection_open() {
    let server = Server::builtin().await;
    let mut conn = server.connect().await;
    assert_eq!(conn.get("/-/healthy").await.unwrap().status, 200);
    let stopped = tokio::time::timeout(Duration::from_secs(5), server.stop()).await;
    assert!(
        matches!(stopped, Ok(Ok(()))),
        "run() did not stop: {stopped:?}"
    );
}
