//! tcp modules through real proxies in the lab's server namespace: dante (SOCKS5, RFC 1928),
//! tinyproxy and squid (HTTP CONNECT). Success reaches the SSH banner peer behind the proxy;
//! each mapped reply comes from the proxy's own rules or from the kernel answering it; an
//! unreachable proxy fails in phase connect, a refused target in phase proxy. CONNECT 502 and
//! 504 come from a small gateway in this file: no Debian proxy answers a CONNECT with them
//! (squid says 503, tinyproxy 500).

#[macro_use]
mod lab;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::time::Duration;

use lab::modules::{module, IP4};
use lab::proxies::{dante, squid, tinyproxy};
use lab::{Exporter, Lab};

const BANNER: &str = "      query_response:\n        - expect: \"^SSH-2.0-\"\n";

fn config() -> String {
    let socks = "      proxy_url: socks5://203.0.113.2:1080\n";
    let http = "      proxy_url: http://203.0.113.2:8888\n";
    lab::modules::config(&[
        module("socks", "2s", &[IP4, socks, BANNER]),
        module("connect", "2s", &[IP4, http, BANNER]),
    ])
}

/// dante's rules here: ports 22, 1 and 2002 of the lab server, the unrouted 192.0.2.0/24 and
/// 203.0.113.9 (on the server's own link, owned by nobody); everything else blocked (reply 2).
const DANTE_RULES: &str = "socks pass { from: 0.0.0.0/0 to: 203.0.113.2/32 port = 22 }\n\
     socks pass { from: 0.0.0.0/0 to: 203.0.113.2/32 port = 1 }\n\
     socks pass { from: 0.0.0.0/0 to: 203.0.113.2/32 port = 2002 }\n\
     socks pass { from: 0.0.0.0/0 to: 203.0.113.9/32 }\n\
     socks pass { from: 0.0.0.0/0 to: 192.0.2.0/24 }\n";

#[test]
fn socks5_through_dante() {
    if !lab::available(&["danted"], &[]) {
        return;
    }
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:22");
    let _dante = dante(&lab, "", DANTE_RULES);
    let exporter = Exporter::start(&lab, &config());
    let m = exporter.probe("socks", "203.0.113.2:22");
    m.assert_success();
    m.assert_phase_between("proxy", 0.0, 1.0);

    let m = exporter.probe("socks", "203.0.113.2:1");
    m.assert_failure("proxy", "refused", "socks_connection_refused");
    let m = exporter.probe("socks", "203.0.113.2:2222");
    m.assert_failure("proxy", "admin_prohibited", "socks_not_allowed");
    let m = exporter.probe("socks", "192.0.2.1:22");
    m.assert_failure_in(
        "proxy",
        "network_unreachable",
        &["socks_network_unreachable"],
    );
}

/// Reply 4: dante's connect to an address on its own link that no neighbour answers fails with
/// EHOSTUNREACH once ARP gives up (one solicitation, 1 s, here). Reply 6: dante's connect to a
/// target that drops SYNs fails with the kernel's ETIMEDOUT (one SYN retry here: 3 s), which
/// dante answers as "TTL expired".
#[test]
fn socks5_host_unreachable_and_ttl_expired_through_dante() {
    if !lab::available(&["danted"], &[]) {
        return;
    }
    let lab = lab_or_skip!();
    lab::netns::sysctl(
        &lab.server,
        &[
            ("net/ipv4/neigh/s0/mcast_solicit", "1"),
            ("net/ipv4/tcp_syn_retries", "1"),
        ],
    );
    lab.drop_syns("203.0.113.2:2002");
    let _dante = dante(&lab, "", DANTE_RULES);
    let socks = "      proxy_url: socks5://203.0.113.2:1080\n";
    let slow = lab::modules::config(&[module("socks", "5s", &[IP4, socks, BANNER])]);
    let exporter = Exporter::start(&lab, &slow);
    let m = exporter.probe("socks", "203.0.113.9:22");
    m.assert_failure("proxy", "host_unreachable", "socks_host_unreachable");
    let m = exporter.probe("socks", "203.0.113.2:2002");
    m.assert_failure("proxy", "timeout", "socks_ttl_expired");
}

#[test]
fn http_connect_through_tinyproxy() {
    if !lab::available(&["tinyproxy"], &[]) {
        return;
    }
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:22");
    let _proxy = tinyproxy(&lab, &[22, 1]);
    let exporter = Exporter::start(&lab, &config());
    let m = exporter.probe("connect", "203.0.113.2:22");
    m.assert_success();
    m.assert_phase_between("proxy", 0.0, 1.0);
    let m = exporter.probe("connect", "203.0.113.2:2222");
    m.assert_failure("proxy", "admin_prohibited", "http_403");
}

/// squid: CONNECT denied to port 2222 (403); a refused or silent target gives its own answers
/// (squid's ERR_CONNECT_FAIL and its connect timeout).
const SQUID_RULES: &str = "acl tunnel port 22 1 2002\nacl CONNECT method CONNECT\n\
     http_access deny CONNECT !tunnel\nhttp_access allow all\nconnect_timeout 1 second\n";

#[test]
fn http_connect_replies_through_squid() {
    if !lab::available(&["squid"], &[]) {
        return;
    }
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:22");
    lab.drop_syns("203.0.113.2:2002");
    let _proxy = squid(&lab, SQUID_RULES);
    let squid = lab::modules::config(&[module(
        "squid",
        "3s",
        &[IP4, "      proxy_url: http://203.0.113.2:3128\n"],
    )]);
    let exporter = Exporter::start(&lab, &squid);
    exporter.probe("squid", "203.0.113.2:22").assert_success();
    let m = exporter.probe("squid", "203.0.113.2:2222");
    m.assert_failure("proxy", "admin_prohibited", "http_403");
    let m = exporter.probe("squid", "203.0.113.2:1");
    m.assert_failure_in("proxy", "refused", &["http_502", "http_503"]);
    // squid answers a silent target with 503 too; its X-Squid-Error names ETIMEDOUT.
    let m = exporter.probe("squid", "203.0.113.2:2002");
    m.assert_failure("proxy", "timeout", "http_503");
}

/// A CONNECT gateway on 203.0.113.2:8080 in the server namespace that connects to the asked
/// target itself (1 s timeout) and answers as gateways do (RFC 9110 sections 15.6.3, 15.6.5):
/// 502 when the connect failed (here: refused), 504 when it timed out, 200 otherwise (then it
/// closes: no tunnel is needed for these tests).
fn gateway(lab: &Lab) {
    let listener = lab.in_server(|| TcpListener::bind("203.0.113.2:8080").expect("bind gateway"));
    listener.set_nonblocking(true).expect("nonblocking");
    let stop = lab.stop.clone();
    let server = lab.server.clone();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((conn, _)) => {
                    let server = server.clone();
                    std::thread::spawn(move || answer_connect(conn, &server));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
}

/// Reads one CONNECT request and answers it after trying the target from namespace `ns`.
fn answer_connect(mut conn: TcpStream, ns: &str) {
    let _ = conn.set_nonblocking(false);
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let target = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    while line != "\r\n" && !line.is_empty() {
        line.clear();
        let _ = reader.read_line(&mut line);
    }
    let addr = target.to_socket_addrs().ok().and_then(|mut a| a.next());
    let tried = addr.map(|a| {
        lab::netns::in_ns(ns, move || {
            TcpStream::connect_timeout(&a, Duration::from_secs(1)).map(drop)
        })
    });
    let status = match tried {
        Some(Ok(_)) => "200 Connection established",
        Some(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => "504 Gateway Timeout",
        _ => "502 Bad Gateway",
    };
    let _ = write!(conn, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
}

#[test]
fn http_connect_502_and_504_from_a_gateway() {
    let lab = lab_or_skip!();
    lab.drop_syns("203.0.113.2:2002");
    gateway(&lab);
    let config = lab::modules::config(&[module(
        "gateway",
        "3s",
        &[IP4, "      proxy_url: http://203.0.113.2:8080\n"],
    )]);
    let exporter = Exporter::start(&lab, &config);
    let m = exporter.probe("gateway", "203.0.113.2:1");
    m.assert_failure("proxy", "refused", "http_502");
    let m = exporter.probe("gateway", "203.0.113.2:2002");
    m.assert_failure("proxy", "timeout", "http_504");
}

#[test]
fn an_unreachable_proxy_fails_in_connect() {
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:22");
    let exporter = Exporter::start(&lab, &config());
    let m = exporter.probe("socks", "203.0.113.2:22");
    m.assert_failure("connect", "refused", "ECONNREFUSED");
}
