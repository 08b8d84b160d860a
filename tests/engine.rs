//! The probe engine against real peers on loopback (no root needed): the classes a local peer can
//! produce by itself. Kernel-made faults (DROP, ICMP, routes, DNS) live in the lab tests.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use handshake_exporter::config::{Config, ExpectLabel, Module, QueryResponse};
use handshake_exporter::prober::{probe, ProbeRequest, Target};
use handshake_exporter::report::{FailureClass, Phase, ProbeReport};

fn module(steps: Vec<QueryResponse>) -> Module {
    let mut m = Module::clone(&Config::builtin().modules["tcp_connect"]);
    m.tcp.query_response = steps;
    m
}

fn step(expect: Option<&str>, send: &str) -> QueryResponse {
    QueryResponse {
        expect: expect.map(|e| regex::Regex::new(e).expect("test regex")),
        expect_bytes: String::new(),
        send: send.to_string(),
        send_bytes: Vec::new(),
        starttls: false,
        labels: Vec::new(),
    }
}

async fn run(port: u16, m: Module) -> ProbeReport {
    probe(ProbeRequest {
        target: Target {
            host: "127.0.0.1".into(),
            port,
        },
        module_name: "test".into(),
        module: Arc::new(m),
        timeout: Duration::from_secs(3),
    })
    .await
}

/// A listener on an ephemeral loopback port whose one connection is handed to `serve`.
fn serve_once(serve: impl FnOnce(std::net::TcpStream) + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    thread::spawn(move || {
        if let Ok((conn, _)) = listener.accept() {
            serve(conn);
        }
    });
    port
}

/// Reads until the client closes its side.
fn until_closed(mut c: std::net::TcpStream) {
    let mut buf = [0u8; 256];
    while matches!(c.read(&mut buf), Ok(n) if n > 0) {}
}

#[tokio::test]
async fn closed_port_is_refused_with_errno() {
    let (_reserved, port) = support::closed_port();
    let r = run(port, module(vec![])).await;
    let f = r.failure.expect("must fail");
    assert_eq!((f.phase, f.class), (Phase::Connect, FailureClass::Refused));
    assert_eq!(f.detail.as_str(), "ECONNREFUSED");
    assert_eq!(r.ip_protocol(), 4);
    assert!(r.phase_duration(Phase::Connect).is_some());
}

#[tokio::test]
async fn open_port_succeeds_with_tcp_info() {
    let port = serve_once(until_closed);
    let r = run(port, module(vec![])).await;
    assert!(r.success(), "{:?}", r.failure);
    let info = r.tcp_info.expect("TCP_INFO after connect");
    assert_eq!(info.syn_retransmits, 0);
    assert_eq!(r.phases.len(), 2, "resolve and connect ran");
}

#[tokio::test]
async fn banner_dialogue_expands_captures_and_labels() {
    let port = serve_once(|mut c| {
        let _ = c.write_all(b"noise\r\nSSH-2.0-OpenSSH_9.6 Debian\r\n");
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).unwrap_or(0);
        let _ = c.write_all(&buf[..n]);
    });
    let mut s = step(Some("^SSH-2.0-([^ -]+)(?: (.*))?$"), "HELLO ${1}");
    s.labels = vec![ExpectLabel {
        name: "ssh_version".into(),
        value: "${1}".into(),
    }];
    let r = run(port, module(vec![s, step(Some("^HELLO OpenSSH_9.6$"), "")])).await;
    assert!(r.success(), "{:?} {:?}", r.failure, r.log);
    assert_eq!(r.failed_due_to_regex, Some(false));
    assert_eq!(
        r.expect_labels,
        vec![vec![("ssh_version".to_string(), "OpenSSH_9.6".to_string())]]
    );
}

#[tokio::test]
async fn lines_without_match_then_fin_is_expect_mismatch() {
    let port = serve_once(|mut c| {
        let _ = c.write_all(b"220 hello\r\n");
        let _ = c.shutdown(Shutdown::Write);
        until_closed(c);
    });
    let r = run(port, module(vec![step(Some("^SSH-"), "")])).await;
    let f = r.failure.expect("must fail");
    assert_eq!(
        (f.phase, f.class),
        (Phase::Query, FailureClass::ExpectMismatch)
    );
    assert_eq!(r.failed_due_to_regex, Some(true));
}

#[tokio::test]
async fn close_without_a_line_is_eof() {
    let port = serve_once(drop);
    let r = run(port, module(vec![step(Some("^SSH-"), "")])).await;
    let f = r.failure.expect("must fail");
    assert_eq!((f.phase, f.class), (Phase::Query, FailureClass::Eof));
}

#[tokio::test]
async fn reset_in_query_is_reset() {
    let port = serve_once(|c| {
        // The RST follows the client's first line, so the client is surely in its query phase
        // (an RST racing the handshake's end is reported by connect(2) itself).
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(&c), &mut line);
        let s = socket2::Socket::from(c);
        let _ = s.set_linger(Some(Duration::ZERO));
        drop(s);
    });
    let steps = vec![step(None, "HELLO"), step(Some("^SSH-"), "")];
    let r = run(port, module(steps)).await;
    let f = r.failure.expect("must fail");
    assert_eq!((f.phase, f.class), (Phase::Query, FailureClass::Reset));
    assert_eq!(f.detail.as_str(), "ECONNRESET");
}

#[tokio::test]
async fn silent_peer_times_out_in_query_at_the_deadline() {
    let port = serve_once(until_closed);
    let mut m = module(vec![step(Some("^SSH-"), "")]);
    m.timeout = Some(Duration::from_secs(1));
    let r = probe(ProbeRequest {
        target: Target {
            host: "127.0.0.1".into(),
            port,
        },
        module_name: "test".into(),
        module: Arc::new(m),
        timeout: Duration::from_millis(800),
    })
    .await;
    let f = r.failure.expect("must fail");
    assert_eq!((f.phase, f.class), (Phase::Query, FailureClass::Timeout));
    assert!(r.duration >= Duration::from_millis(800), "{:?}", r.duration);
}

#[tokio::test]
async fn unbindable_source_address_is_prober_error() {
    let mut m = module(vec![]);
    // 127.0.0.1 is ours; a documentation address is not: bind(2) fails with EADDRNOTAVAIL
    // before any packet could leave.
    m.tcp.source_ip_address = Some("192.0.2.77".parse().expect("literal"));
    let (_reserved, port) = support::closed_port();
    let r = run(port, m).await;
    let f = r.failure.expect("must fail");
    assert_eq!(
        (f.phase, f.class),
        (Phase::Connect, FailureClass::ProberError)
    );
    assert_eq!(f.detail.as_str(), "EADDRNOTAVAIL");
}
