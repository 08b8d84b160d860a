//! Scrape connections kept between scrapes, as Prometheus keeps them: a keep-alive connection
//! idle for 30 s (two scrapes of a 15 s interval and more) still answers, over HTTP/1.1 and over
//! HTTP/2, so a scraper over HTTPS does not pay a TLS handshake for every scrape. The limits
//! that keep idle and slow clients from holding connections still hold: a connection idle past
//! `--web.idle-timeout` is closed, and a request head begun on a kept connection must be
//! complete within `--web.header-read-timeout`, counted from its first byte.

#[path = "support/http.rs"]
mod http;
#[path = "support/pki.rs"]
mod pki;
#[allow(dead_code)]
mod web;

use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use pki::Pki;
use rcgen::ExtendedKeyUsagePurpose;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use web::{Exporter, Scratch};

/// The pause between the two requests on one connection.
const PAUSE: Duration = Duration::from_secs(30);

/// An HTTPS exporter serving HTTP/2 (and HTTP/1.1) with `args`, its files in `scratch`.
fn https_exporter(scratch: &Scratch, pki: &Pki, args: &[&str]) -> Exporter {
    let server = pki.issue(&["localhost", "127.0.0.1"], |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
    });
    scratch.file("server.crt", &server.cert_pem);
    scratch.file("server.key", &server.key_pem);
    let web = scratch.file(
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
         http_server_config:\n  http2: true\n",
    );
    let mut all = vec!["--web.config.file", web.to_str().unwrap()];
    all.extend(args);
    Exporter::start(scratch, &[], &all)
}

/// Two `GET /-/healthy` on one HTTP/2 connection (TLS, ALPN `h2`), `PAUSE` apart: the statuses.
async fn h2_twice(pki: &Pki, port: u16) -> (u16, u16) {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone()).expect("CA");
    let mut config = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(
        TokioExecutor::new(),
        TokioIo::new(tls),
    )
    .await
    .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    let mut get = async || {
        let req = hyper::Request::get(format!("https://localhost:{port}/-/healthy"))
            .body(Empty::new())
            .expect("request");
        sender.ready().await.expect("HTTP/2 connection closed");
        let answer = sender.send_request(req).await.expect("HTTP/2 request");
        let status = answer.status().as_u16();
        answer.into_body().collect().await.expect("body");
        status
    };
    let first = get().await;
    tokio::time::sleep(PAUSE).await;
    (first, get().await)
}

/// Two `GET /-/healthy` on one plain HTTP/1.1 connection, `PAUSE` apart: the statuses.
async fn h1_twice(port: u16) -> (u16, u16) {
    let addr = ([127, 0, 0, 1], port).into();
    let mut conn = http::Conn::open(addr).await.expect("connect");
    let first = conn.get("/-/healthy").await.expect("first request").status;
    tokio::time::sleep(PAUSE).await;
    let second = conn
        .get("/-/healthy")
        .await
        .expect("second request, 30 s later");
    (first, second.status)
}

#[test]
fn two_requests_30_s_apart_on_one_connection_are_both_answered() {
    let plain_scratch = Scratch::new("keepalive-h1");
    let plain = Exporter::start(&plain_scratch, &[], &[]);
    let tls_scratch = Scratch::new("keepalive-h2");
    let pki = Pki::named("keepalive CA");
    let tls = https_exporter(&tls_scratch, &pki, &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (h1, h2) =
        runtime.block_on(async { tokio::join!(h1_twice(plain.port), h2_twice(&pki, tls.port)) });
    assert_eq!(h1, (200, 200), "HTTP/1.1");
    assert_eq!(h2, (200, 200), "HTTP/2");
}

/// One keep-alive request on `conn`, answered whole (its `Content-Length` body read).
fn keepalive_get(conn: &mut StdStream) {
    conn.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        conn.read_exact(&mut byte).expect("answer head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    conn.read_exact(&mut vec![0u8; length]).expect("body");
}

/// Waits for the exporter to close `conn`: how long after `since` it did, `None` within `limit`.
fn closed_after(conn: &mut StdStream, since: Instant, limit: Duration) -> Option<Duration> {
    conn.set_read_timeout(Some(limit)).expect("timeout");
    let mut buf = [0u8; 512];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return Some(since.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return None,
            Err(_) => return Some(since.elapsed()),
        }
    }
}

#[test]
fn idle_and_slow_clients_still_lose_their_connections() {
    let scratch = Scratch::new("keepalive-limits");
    let exporter = Exporter::start(
        &scratch,
        &[],
        &[
            "--web.header-read-timeout",
            "1s",
            "--web.idle-timeout",
            "3s",
        ],
    );
    let open = || StdStream::connect(("127.0.0.1", exporter.port)).expect("connect");
    let limit = Duration::from_secs(10);
    // A kept connection with nothing more to ask: closed at the idle limit, not before.
    let mut idle = open();
    keepalive_get(&mut idle);
    let idle_start = Instant::now();
    // A kept connection that starts a second request head and never ends it: the
    // header-read timeout counts from its first byte, not the idle limit.
    let mut slow = open();
    keepalive_get(&mut slow);
    slow.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: slow\r\n")
        .expect("partial head");
    let slow_start = Instant::now();
    // A new connection that never sends anything: the header-read timeout from its start.
    let mut silent = open();
    let silent_start = Instant::now();
    let slow_closed = closed_after(&mut slow, slow_start, limit);
    let silent_closed = closed_after(&mut silent, silent_start, limit);
    let idle_closed = closed_after(&mut idle, idle_start, limit);
    eprintln!(
        "closed after: idle {idle_closed:?}, slow head {slow_closed:?}, silent {silent_closed:?}"
    );
    let slow_closed = slow_closed.expect("a half-sent head kept its connection open");
    assert!(
        slow_closed < Duration::from_millis(2500),
        "slow head closed after {slow_closed:?}"
    );
    let silent_closed = silent_closed.expect("a silent new connection was kept open");
    assert!(
        silent_closed < Duration::from_millis(2500),
        "silent closed after {silent_closed:?}"
    );
    let idle_closed = idle_closed.expect("an idle keep-alive connection was kept past the limit");
    assert!(
        (Duration::from_millis(2500)..Duration::from_secs(6)).contains(&idle_closed),
        "idle keep-alive connection closed after {idle_closed:?}, limit 3 s"
    );
}
