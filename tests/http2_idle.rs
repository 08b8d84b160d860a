//! Idle HTTP/2 connections. hyper's header-read timeout bounds HTTP/1.1 only: an HTTP/2 client
//! (ALPN `h2` over TLS) that opens a connection and never sends a request would keep it, and
//! its descriptor, for as long as it likes. The exporter closes an HTTP/2 connection that has
//! had no request in flight for `--web.header-read-timeout`, as it closes an idle HTTP/1.1
//! one; a connection answering a request is not touched.

#[path = "support/pki.rs"]
mod pki;
#[allow(dead_code)]
mod web;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pki::Pki;
use rcgen::ExtendedKeyUsagePurpose;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use web::{Exporter, Scratch};

/// The client connection preface (RFC 9113, section 3.4) and an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

/// A TLS connection to the exporter offering `alpn`; returns it with the protocol chosen.
async fn connect(
    pki: &Pki,
    port: u16,
    alpn: &[u8],
) -> (tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>) {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone()).expect("CA");
    let mut config = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let chosen = tls.get_ref().1.alpn_protocol().unwrap_or_default().to_vec();
    (tls, chosen)
}

/// Reads until the server closes the connection; the time that took, `None` after `limit`.
async fn closed_within(
    tls: &mut tokio_rustls::client::TlsStream<TcpStream>,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let wait = async {
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, wait)
        .await
        .ok()
        .map(|()| start.elapsed())
}

#[test]
fn idle_http2_connections_are_closed_like_idle_http1_ones() {
    let scratch = Scratch::new("http2-idle");
    let pki = Pki::named("http2 idle CA");
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
    let exporter = Exporter::start(
        &scratch,
        &[],
        &[
            "--web.config.file",
            web.to_str().unwrap(),
            "--web.header-read-timeout",
            "1s",
        ],
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let limit = Duration::from_secs(8);
        // HTTP/2: the preface and SETTINGS, then nothing.
        let (mut h2, alpn) = connect(&pki, exporter.port, b"h2").await;
        assert_eq!(alpn, b"h2", "the exporter did not choose HTTP/2");
        h2.write_all(PREFACE).await.expect("preface");
        // HTTP/2 without even the preface.
        let (mut silent, _) = connect(&pki, exporter.port, b"h2").await;
        // HTTP/1.1 for comparison: hyper's own header-read timeout.
        let (mut h1, alpn) = connect(&pki, exporter.port, b"http/1.1").await;
        assert_eq!(alpn, b"http/1.1");
        let h2_closed = closed_within(&mut h2, limit).await;
        let silent_closed = closed_within(&mut silent, limit).await;
        let h1_closed = closed_within(&mut h1, limit).await;
        eprintln!("closed after: h2 {h2_closed:?}, h2 without preface {silent_closed:?}, http/1.1 {h1_closed:?}");
        assert!(h1_closed.is_some(), "idle HTTP/1.1 connection kept open");
        for (what, closed) in [("HTTP/2", h2_closed), ("HTTP/2 without preface", silent_closed)] {
            let after = closed.unwrap_or_else(|| panic!("idle {what} connection kept open for {limit:?}"));
            assert!(after < Duration::from_secs(4), "idle {what} connection closed only after {after:?}");
        }
    });
}
