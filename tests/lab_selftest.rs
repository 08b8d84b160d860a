//! Checks the lab itself, without the exporter: the topology and routes, that the kernel and the
//! peers produce each failure the exporter tests rely on (errno seen by a client socket in the
//! client namespace), that the DNS server answers every rcode, and that the TLS peers fail the
//! way they are meant to.

#[macro_use]
mod lab;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use lab::tlsgen::{self, Leaf, Pki};
use lab::{Lab, Peer};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, SupportedProtocolVersion};

/// Connects from the client namespace; returns the errno of a failed connect, or 0. The 1.5 s
/// allow one SYN retransmission: an ICMP error that arrives while connect(2) still holds the
/// socket lock is only recorded as a soft error, and the answer to the retransmitted SYN (after
/// the 1 s initial RTO, RFC 6298) is the one that aborts the connect.
fn connect_errno(lab: &Lab, addr: &str) -> i32 {
    let addr: SocketAddr = addr.parse().expect("a socket address");
    lab.in_client(
        move || match TcpStream::connect_timeout(&addr, Duration::from_millis(1500)) {
            Ok(_) => 0,
            Err(e) if e.kind() == ErrorKind::TimedOut => libc::ETIMEDOUT,
            Err(e) => e.raw_os_error().unwrap_or(-1),
        },
    )
}

#[test]
fn lab_topology() {
    let lab = lab_or_skip!();
    let forward = netns_read(&lab.router, "/proc/sys/net/ipv4/ip_forward");
    assert_eq!(forward.trim(), "1");
    assert_eq!(
        lab.run(&lab.client, &["ip", "route", "show", "default"]),
        ""
    );
    assert_eq!(
        lab.run(&lab.client, &["ip", "-6", "route", "show", "default"]),
        ""
    );
    for ns in lab.namespaces() {
        let tentative = lab.run(ns, &["ip", "-6", "addr", "show", "tentative"]);
        assert_eq!(tentative, "", "tentative IPv6 addresses in {ns}");
    }
}

/// Reads a file from a thread inside `ns` (for /proc/sys/net).
fn netns_read(ns: &str, path: &'static str) -> String {
    lab::netns::in_ns(ns, move || std::fs::read_to_string(path).expect("readable"))
}

/// Connects to every `(address, errno)` case at once and asserts each errno.
fn check_connects(lab: &Lab, cases: &[(&str, i32)]) {
    let got: Vec<i32> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(addr, _)| s.spawn(|| connect_errno(lab, addr)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("joined"))
            .collect()
    });
    for ((addr, want), got) in cases.iter().zip(got) {
        assert_eq!(got, *want, "connect {addr}: errno {got}, want {want}");
    }
}

#[test]
fn lab_connect_errors() {
    let lab = lab_or_skip!();
    let banner = || Peer::Banner(lab::servers::SSH_BANNER.into());
    lab.serve("203.0.113.2:22", banner());
    lab.serve("[2001:db8:2::2]:22", banner());
    let host_unreachable = "--reject-with icmp-host-unreachable";
    lab.iptables(
        &lab.server,
        &format!("-A INPUT -p tcp --dport 2001 -j REJECT {host_unreachable}"),
    );
    lab.iptables(&lab.server, "-A INPUT -p tcp --dport 2002 -j DROP");
    lab.iptables(
        &lab.server,
        "-A INPUT -p tcp --dport 2003 -j REJECT --reject-with tcp-reset",
    );
    lab.ip6tables(
        &lab.server,
        "-A INPUT -p tcp --dport 2005 -j REJECT --reject-with adm-prohibited",
    );
    check_connects(
        &lab,
        &[
            ("203.0.113.2:22", 0),
            ("[2001:db8:2::2]:22", 0),
            ("203.0.113.2:1", libc::ECONNREFUSED),
            ("[2001:db8:2::2]:1", libc::ECONNREFUSED),
            ("203.0.113.2:2001", libc::EHOSTUNREACH),
            ("203.0.113.2:2002", libc::ETIMEDOUT),
            ("203.0.113.2:2003", libc::ECONNREFUSED),
            ("[2001:db8:2::2]:2005", libc::EACCES),
        ],
    );
}

/// Route errors of the router (`unreachable`, `prohibit`, no route). Its own lab: see the
/// rate-limit note in the lab module.
#[test]
fn lab_router_route_errors() {
    let lab = lab_or_skip!();
    check_connects(
        &lab,
        &[
            ("203.0.113.4:80", libc::EHOSTUNREACH),
            ("203.0.113.5:80", libc::EHOSTUNREACH),
            ("203.0.113.6:80", libc::ETIMEDOUT),
            ("192.0.2.1:80", libc::ENETUNREACH),
            ("[2001:db8:3::1]:80", libc::ENETUNREACH),
        ],
    );
}

#[test]
fn lab_router_reject() {
    let lab = lab_or_skip!();
    let rule = "-A FORWARD -p tcp --dport 2004 -j REJECT --reject-with icmp-admin-prohibited";
    lab.iptables(&lab.router, rule);
    check_connects(&lab, &[("203.0.113.2:2004", libc::EHOSTUNREACH)]);
}

/// Connects, writes `send`, and reads to the end; returns what was read or the error kind.
fn exchange(lab: &Lab, addr: &str, send: &'static [u8]) -> Result<Vec<u8>, ErrorKind> {
    let addr: SocketAddr = addr.parse().expect("a socket address");
    lab.in_client(move || {
        let mut s = TcpStream::connect(addr).map_err(|e| e.kind())?;
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(|e| e.kind())?;
        if !send.is_empty() {
            s.write_all(send).map_err(|e| e.kind())?;
        }
        let mut got = Vec::new();
        s.read_to_end(&mut got).map_err(|e| e.kind())?;
        Ok(got)
    })
}

#[test]
fn lab_peers() {
    let lab = lab_or_skip!();
    lab.serve("203.0.113.2:1001", Peer::Fin);
    lab.serve("203.0.113.2:1002", Peer::Reset);
    lab.serve("203.0.113.2:1003", Peer::Http400);
    lab.serve(
        "203.0.113.2:1004",
        Peer::BannerThenFin("220 nothing here\r\n".into()),
    );
    lab.serve("203.0.113.2:1005", Peer::Silent);
    assert_eq!(exchange(&lab, "203.0.113.2:1001", b"hello"), Ok(vec![]));
    assert_eq!(
        exchange(&lab, "203.0.113.2:1002", b"hello"),
        Err(ErrorKind::ConnectionReset)
    );
    assert_eq!(
        exchange(&lab, "203.0.113.2:1002", b""),
        Err(ErrorKind::ConnectionReset)
    );
    let http = exchange(&lab, "203.0.113.2:1003", b"\x16\x03\x01").expect("an answer");
    assert!(http.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    let banner = exchange(&lab, "203.0.113.2:1004", b"").expect("a banner");
    assert_eq!(banner, b"220 nothing here\r\n");
    let silent = exchange(&lab, "203.0.113.2:1005", b"");
    assert!(matches!(
        silent,
        Err(ErrorKind::WouldBlock | ErrorKind::TimedOut)
    ));
}

/// Sends one DNS query over UDP from the client namespace; `None` when no answer in 500 ms.
fn dns_udp(lab: &Lab, name: &str, rtype: RecordType) -> Option<(ResponseCode, Vec<String>)> {
    let query = lab::dns::query(name, rtype);
    let reply = lab.in_client(move || {
        let sock = UdpSocket::bind("0.0.0.0:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        sock.send_to(&query, "203.0.113.2:53").expect("send");
        let mut buf = [0u8; 4096];
        sock.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
    })?;
    let (rcode, addrs) = lab::dns::parse_reply(&reply);
    Some((rcode, addrs.iter().map(ToString::to_string).collect()))
}

#[test]
fn lab_dns() {
    let lab = lab_or_skip!();
    use RecordType::{A, AAAA};
    let ok = |v: &[&str]| {
        Some((
            ResponseCode::NoError,
            v.iter().map(|s| s.to_string()).collect(),
        ))
    };
    let rcode = |r| Some((r, vec![]));
    assert_eq!(dns_udp(&lab, "ok.lab.test.", A), ok(&["203.0.113.2"]));
    assert_eq!(dns_udp(&lab, "OK.lab.test.", AAAA), ok(&["2001:db8:2::2"]));
    assert_eq!(dns_udp(&lab, "v6only.lab.test.", A), ok(&[]));
    assert_eq!(
        dns_udp(&lab, "v6only.lab.test.", AAAA),
        ok(&["2001:db8:2::2"])
    );
    assert_eq!(dns_udp(&lab, "v4only.lab.test.", AAAA), ok(&[]));
    assert_eq!(
        dns_udp(&lab, "two.lab.test.", A),
        ok(&["203.0.113.2", "203.0.113.3"])
    );
    assert_eq!(
        dns_udp(&lab, "nx.lab.test.", A),
        rcode(ResponseCode::NXDomain)
    );
    assert_eq!(
        dns_udp(&lab, "servfail.lab.test.", A),
        rcode(ResponseCode::ServFail)
    );
    assert_eq!(
        dns_udp(&lab, "refused.lab.test.", A),
        rcode(ResponseCode::Refused)
    );
    assert_eq!(
        dns_udp(&lab, "formerr.lab.test.", A),
        rcode(ResponseCode::FormErr)
    );
    assert_eq!(dns_udp(&lab, "silent.lab.test.", A), None);
    // The system resolver of the client namespace (resolv.conf and hosts bind-mounted by
    // `ip netns exec`) reaches the lab server, over UDP and TCP.
    let out = lab.run(&lab.client, &["getent", "ahostsv4", "ok.lab.test"]);
    assert!(out.starts_with("203.0.113.2 "), "getent: {out}");
    let out = lab.run(&lab.client, &["getent", "hosts", "hosts.lab.test"]);
    assert!(out.starts_with("203.0.113.2 "), "getent: {out}");
    let tcp = lab.in_client(|| {
        let query = lab::dns::query("ok.lab.test.", A);
        let mut s = TcpStream::connect("203.0.113.2:53").expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&query);
        s.write_all(&framed).expect("write");
        let mut len = [0u8; 2];
        s.read_exact(&mut len).expect("length");
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut reply).expect("reply");
        lab::dns::parse_reply(&reply)
    });
    assert_eq!(tcp.0, ResponseCode::NoError);
    assert_eq!(tcp.1.len(), 1);
}

/// A rustls handshake from the client namespace to `addr` for `ok.lab.test`, trusting the test
/// CA; returns the negotiated version or the rustls error.
fn handshake(
    lab: &Lab,
    pki: &Pki,
    addr: &str,
    versions: &'static [&'static SupportedProtocolVersion],
) -> Result<rustls::ProtocolVersion, rustls::Error> {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone()).expect("CA");
    let config = ClientConfig::builder_with_provider(tlsgen::provider())
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let addr: SocketAddr = addr.parse().expect("a socket address");
    lab.in_client(move || {
        let name = ServerName::try_from("ok.lab.test").expect("a name");
        let mut conn = ClientConnection::new(Arc::new(config), name)?;
        let mut sock = TcpStream::connect(addr).expect("connect");
        sock.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut sock) {
                let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
                return Err(inner
                    .cloned()
                    .unwrap_or(rustls::Error::General(e.to_string())));
            }
        }
        Ok(conn.protocol_version().expect("a version"))
    })
}

#[test]
fn lab_tls_peers() {
    use rustls::version::{TLS12, TLS13};
    use rustls::{AlertDescription as Alert, CertificateError as Cert, Error, PeerIncompatible};
    let lab = lab_or_skip!();
    let pki = Pki::new();
    static BOTH: &[&SupportedProtocolVersion] = &[&TLS13, &TLS12];
    static ONLY12: &[&SupportedProtocolVersion] = &[&TLS12];
    let both = BOTH;
    let serve = |port: u16, leaf: Leaf, versions: &[&'static SupportedProtocolVersion]| {
        let config = tlsgen::server_config(&pki.leaf(leaf), versions, None);
        lab.serve(&format!("203.0.113.2:{port}"), Peer::Tls(config));
    };
    serve(4430, Leaf::Valid, &[]);
    serve(4431, Leaf::Expired, &[]);
    serve(4432, Leaf::NotYetValid, &[]);
    serve(4433, Leaf::SelfSigned, &[]);
    serve(4434, Leaf::WrongName, &[]);
    serve(4435, Leaf::ClientAuthOnly, &[]);
    serve(4436, Leaf::Valid, &[&TLS13]);
    lab.serve("203.0.113.2:4437", Peer::Tls10ServerHello);
    let run = |port: u16, versions: &'static [&'static SupportedProtocolVersion]| {
        handshake(&lab, &pki, &format!("203.0.113.2:{port}"), versions)
    };
    assert_eq!(run(4430, both), Ok(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(run(4430, ONLY12), Ok(rustls::ProtocolVersion::TLSv1_2));
    let cert_err = |r: Result<_, Error>| match r {
        Err(Error::InvalidCertificate(c)) => c,
        other => panic!("expected a certificate error, got {other:?}"),
    };
    assert!(matches!(
        cert_err(run(4431, both)),
        Cert::Expired | Cert::ExpiredContext { .. }
    ));
    assert!(matches!(
        cert_err(run(4432, both)),
        Cert::NotValidYet | Cert::NotValidYetContext { .. }
    ));
    assert_eq!(cert_err(run(4433, both)), Cert::UnknownIssuer);
    assert!(matches!(
        cert_err(run(4434, both)),
        Cert::NotValidForName | Cert::NotValidForNameContext { .. }
    ));
    assert!(matches!(
        cert_err(run(4435, both)),
        Cert::InvalidPurpose | Cert::InvalidPurposeContext { .. }
    ));
    assert_eq!(
        run(4436, ONLY12),
        Err(Error::AlertReceived(Alert::ProtocolVersion))
    );
    assert_eq!(
        run(4437, both),
        Err(Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13
        ))
    );
}

#[test]
fn lab_smtp_starttls() {
    let lab = lab_or_skip!();
    let pki = Pki::new();
    let config = tlsgen::server_config(&pki.leaf(Leaf::Valid), &[], None);
    lab.serve("203.0.113.2:25", Peer::Smtp(config));
    let got = exchange(&lab, "203.0.113.2:25", b"EHLO lab\r\nQUIT\r\n").expect("a dialogue");
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("220 lab.test ESMTP ready\r\n250-lab.test\r\n"),
        "{text}"
    );
    assert!(text.contains("250 STARTTLS\r\n221 "), "{text}");
}
