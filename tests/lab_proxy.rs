//! tcp modules through real proxies in the lab's server namespace: dante (SOCKS5, RFC 1928, with
//! RFC 1929 username/password) and tinyproxy (HTTP CONNECT). Success reaches the SSH banner
//! peer behind the proxy; each mapped reply comes from the proxy's own rules or from the kernel
//! answering it; an unreachable proxy fails in phase connect, a refused target in phase proxy.

#[macro_use]
mod lab;

use lab::daemon::Daemon;
use lab::modules::{module, IP4};
use lab::{Exporter, Lab};

fn config() -> String {
    let banner = "      query_response:\n        - expect: \"^SSH-2.0-\"\n";
    let socks = "      proxy_url: socks5://203.0.113.2:1080\n";
    let http = "      proxy_url: http://203.0.113.2:8888\n";
    lab::modules::config(&[
        module("socks", "2s", &[IP4, socks, banner]),
        module("connect", "2s", &[IP4, http, banner]),
    ])
}

/// danted on 203.0.113.2:1080: SOCKS5 without authentication, passing ports 22 and 1 of the
/// lab server and blocking everything else (reply 2).
fn dante(lab: &Lab) -> Daemon {
    let conf = lab.file(
        "danted.conf",
        "logoutput: stderr\ninternal: 203.0.113.2 port = 1080\nexternal: 203.0.113.2\n\
         clientmethod: none\nsocksmethod: none\nuser.privileged: root\nuser.unprivileged: nobody\n\
         client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n\
         socks pass { from: 0.0.0.0/0 to: 203.0.113.2/32 port = 22 }\n\
         socks pass { from: 0.0.0.0/0 to: 203.0.113.2/32 port = 1 }\n\
         socks pass { from: 0.0.0.0/0 to: 192.0.2.0/24 }\n\
         socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n",
    );
    let pid = lab.dir.join("danted.pid");
    let (conf, pid) = (conf.display().to_string(), pid.display().to_string());
    Daemon::start(
        lab,
        &lab.server,
        "danted",
        "danted",
        &["-f", &conf, "-p", &pid],
        "203.0.113.2:1080",
    )
}

/// tinyproxy on 203.0.113.2:8888: CONNECT allowed to ports 22 and 1 only (others 403).
fn tinyproxy(lab: &Lab) -> Daemon {
    let conf = lab.file(
        "tinyproxy.conf",
        "User nobody\nGroup nogroup\nPort 8888\nListen 203.0.113.2\nTimeout 5\nMaxClients 16\n\
         ConnectPort 22\nConnectPort 1\n",
    );
    let conf = conf.display().to_string();
    Daemon::start(
        lab,
        &lab.server,
        "tinyproxy",
        "tinyproxy",
        &["-d", "-c", &conf],
        "203.0.113.2:8888",
    )
}

#[test]
fn socks5_through_dante() {
    if !lab::available(&["danted"], &[]) {
        return;
    }
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:22");
    let _dante = dante(&lab);
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

#[test]
fn http_connect_through_tinyproxy() {
    if !lab::available(&["tinyproxy"], &[]) {
        return;
    }
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:22");
    let _proxy = tinyproxy(&lab);
    let exporter = Exporter::start(&lab, &config());
    let m = exporter.probe("connect", "203.0.113.2:22");
    m.assert_success();
    m.assert_phase_between("proxy", 0.0, 1.0);
    let m = exporter.probe("connect", "203.0.113.2:2222");
    m.assert_failure("proxy", "admin_prohibited", "http_403");
}

/// squid on 203.0.113.2:3128: CONNECT denied to port 2222 (403); a refused or silent target
/// gives its own answers (squid's ERR_CONNECT_FAIL and its connect timeout).
fn squid(lab: &Lab) -> Daemon {
    let dir = lab.dir.display();
    let conf = lab.file(
        "squid.conf",
        &format!(
            "http_port 203.0.113.2:3128\nacl tunnel port 22 1 2002\nacl CONNECT method CONNECT\n\
             http_access deny CONNECT !tunnel\nhttp_access allow all\ncache deny all\n\
             connect_timeout 1 second\npid_filename {dir}/squid.pid\naccess_log none\n\
             cache_log {dir}/squid-cache.log\ncoredump_dir {dir}\nshutdown_lifetime 0 seconds\n"
        ),
    );
    let conf = conf.display().to_string();
    Daemon::start(
        lab,
        &lab.server,
        "squid",
        "squid",
        &["-N", "-f", &conf],
        "203.0.113.2:3128",
    )
}

#[test]
fn http_connect_replies_through_squid() {
    if !lab::available(&["squid"], &[]) {
        return;
    }
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:22");
    lab.drop_syns("203.0.113.2:2002");
    let _proxy = squid(&lab);
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

#[test]
fn an_unreachable_proxy_fails_in_connect() {
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:22");
    let exporter = Exporter::start(&lab, &config());
    let m = exporter.probe("socks", "203.0.113.2:22");
    m.assert_failure("connect", "refused", "ECONNREFUSED");
}
