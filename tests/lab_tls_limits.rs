//! Peers that speak TLS but break one of its limits, told apart from one that does not speak
//! TLS at all: a real rustls server presenting a certificate chain over 64 KiB, and peers
//! answering the ClientHello with a flood of warning alerts, an oversized record or a record
//! out of order. Each gives `tls_protocol_violation` with the RFC 8446 alert as `detail`, and
//! rustls' own complaints land in the log at debug level, never above.

#[macro_use]
mod lab;

use lab::modules::{module, tls, IP4};
use lab::tlsgen::{self, Leaf, Pki};
use lab::{Exporter, Peer};

/// A TLS record (RFC 8446 §5.1) of content type `typ` holding `body`, version field TLS 1.2.
fn record(typ: u8, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len()).expect("a record body under 64 KiB");
    let mut out = vec![typ, 0x03, 0x03];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// `n` alerts of level warning (1), description unrecognized_name (112), RFC 8446 §6.
fn warning_alerts(n: usize) -> Vec<u8> {
    (0..n).flat_map(|_| record(21, &[1, 112])).collect()
}

/// A valid leaf whose chain carries the CA certificate `copies` times more, as a server does
/// that appends a whole CA bundle to its certificate.
fn leaf_with_bundle(pki: &Pki, copies: usize) -> tlsgen::Identity {
    let mut id = pki.leaf(Leaf::Valid);
    id.chain
        .extend(std::iter::repeat(pki.ca_der.clone()).take(copies));
    id
}

#[test]
fn peers_that_break_tls_limits_are_told_from_peers_that_do_not_speak_tls() {
    let lab = lab_or_skip!();
    let pki = Pki::new();
    let ca = pki.write_ca(&lab);
    let config =
        lab::modules::config(&[module("tls", "3s", &[IP4, &tls(&ca, Some("ok.lab.test"))])]);
    let exporter = Exporter::start(&lab, &config);

    // A real TLS server whose Certificate message is over rustls' 64 KiB handshake limit.
    let big = leaf_with_bundle(&pki, 200);
    let chain_bytes: usize = big.chain.iter().map(|c| c.len()).sum();
    assert!(chain_bytes > 64 * 1024, "chain of {chain_bytes} bytes");
    println!("chain of {chain_bytes} bytes");
    let big_chain = Peer::Tls(tlsgen::server_config(&big, &[], None));
    // Within the limit the same kind of server passes, so the size is what fails.
    let fits = Peer::Tls(tlsgen::server_config(
        &leaf_with_bundle(&pki, 20),
        &[],
        None,
    ));
    // A record header announcing 65,535 bytes: over 2^14 + 2,048 (RFC 8446 §5.2).
    let mut oversized = vec![22, 0x03, 0x03, 0xff, 0xff];
    oversized.extend_from_slice(&[0; 512]);
    let cases = [
        (
            "203.0.113.2:443",
            big_chain,
            "tls_protocol_violation",
            "decode_error",
        ),
        (
            "203.0.113.2:444",
            Peer::AfterClientHello(warning_alerts(16)),
            "tls_protocol_violation",
            "unexpected_message",
        ),
        (
            "203.0.113.2:445",
            Peer::AfterClientHello(oversized),
            "tls_protocol_violation",
            "record_overflow",
        ),
        // Application data before any ServerHello.
        (
            "203.0.113.2:446",
            Peer::AfterClientHello(record(23, b"early")),
            "tls_protocol_violation",
            "unexpected_message",
        ),
        ("203.0.113.2:447", Peer::Http400, "protocol_mismatch", ""),
    ];
    for (addr, peer, class, detail) in cases {
        lab.serve(addr, peer);
        let m = exporter.probe("tls", addr);
        m.assert_failure("tls", class, detail);
        m.assert_phase_between("tls", 0.0, 2.0);
    }
    lab.serve("203.0.113.2:448", fits);
    exporter.probe("tls", "203.0.113.2:448").assert_success();

    // rustls complained about each warning alert it accepted, at debug level only.
    let log = exporter.log();
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("TLS alert warning received"))
        .collect();
    assert!(!complaints.is_empty(), "no rustls line in the log:\n{log}");
    for line in complaints {
        assert!(line.contains("level=debug"), "{line}");
    }
}
