//! Proxy logins and who resolves the target's name, against real proxies in the lab's server
//! namespace: microsocks (SOCKS5 with RFC 1929 username/password, no system account needed),
//! squid with Basic authentication (CONNECT answers 407 without the right credentials), and
//! dante for names: `socks5://` resolves here and sends an address, `socks5h://` lets the proxy
//! resolve through the lab's DNS server.

#[macro_use]
mod lab;

use lab::modules::{module, IP4};
use lab::proxies::{dante, microsocks, resolve_in_server, squid, squid_login};
use lab::Exporter;

/// The SSH banner check every module here runs over its tunnel.
const BANNER: &str = "      query_response:\n        - expect: \"^SSH-2.0-\"\n";

/// `proxy_url`, `proxy_username` and `proxy_password` lines (no login when `user` is `None`).
fn proxy(url: &str, user: Option<(&str, &str)>) -> String {
    let mut text = format!("      proxy_url: {url}\n");
    if let Some((user, pass)) = user {
        text.push_str(&format!(
            "      proxy_username: {user}\n      proxy_password: {pass}\n"
        ));
    }
    text
}

/// Modules `right`, `wrong` and `none` through `url`: the right login, a wrong password, none.
fn logins(url: &str) -> String {
    let right = proxy(url, Some(("prober", "s3cret")));
    let wrong = proxy(url, Some(("prober", "guess")));
    let none = proxy(url, None);
    lab::modules::config(&[
        module("right", "3s", &[IP4, &right, BANNER]),
        module("wrong", "3s", &[IP4, &wrong, BANNER]),
        module("none", "3s", &[IP4, &none, BANNER]),
    ])
}

#[test]
fn socks5_login_through_microsocks() {
    if !lab::available(&["microsocks"], &[]) {
        return;
    }
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:22");
    let _proxy = microsocks(&lab, "prober", "s3cret");
    let exporter = Exporter::start(&lab, &logins("socks5://203.0.113.2:1081"));
    let m = exporter.probe("right", "203.0.113.2:22");
    m.assert_success();
    m.assert_phase_between("proxy", 0.0, 1.0);
    // RFC 1929 status other than 0: the proxy's policy refused this client.
    let m = exporter.probe("wrong", "203.0.113.2:22");
    m.assert_failure("proxy", "admin_prohibited", "socks_auth_failed");
    // Offered only "no authentication", which microsocks does not take (method 0xFF).
    let m = exporter.probe("none", "203.0.113.2:22");
    m.assert_failure("proxy", "admin_prohibited", "socks_no_acceptable_methods");
}

#[test]
fn http_connect_login_through_squid() {
    if !lab::available(&["squid"], &["/usr/lib/squid/basic_ncsa_auth"]) {
        return;
    }
    let lab = lab_or_skip!();
    lab.serve_ssh("203.0.113.2:22");
    let rules =
        squid_login(&lab, "prober", "s3cret") + "http_access allow login\nhttp_access deny all\n";
    let _proxy = squid(&lab, &rules);
    let exporter = Exporter::start(&lab, &logins("http://203.0.113.2:3128"));
    exporter.probe("right", "203.0.113.2:22").assert_success();
    let m = exporter.probe("wrong", "203.0.113.2:22");
    m.assert_failure("proxy", "admin_prohibited", "http_407");
    let m = exporter.probe("none", "203.0.113.2:22");
    m.assert_failure("proxy", "admin_prohibited", "http_407");
}

/// dante's rules here: port 22 of the lab server, by address or by a name in the lab zone.
const DANTE_RULES: &str = "socks pass { from: 0.0.0.0/0 to: 203.0.113.2/32 port = 22 }\n\
     socks pass { from: 0.0.0.0/0 to: .lab.test port = 22 }\n";

/// Modules `local` (`socks5://`) and `remote` (`socks5h://`) through dante.
fn names() -> String {
    let local = proxy("socks5://203.0.113.2:1080", None);
    let remote = proxy("socks5h://203.0.113.2:1080", None);
    lab::modules::config(&[
        module("local", "3s", &[IP4, &local, BANNER]),
        module("remote", "3s", &[IP4, &remote, BANNER]),
    ])
}

#[test]
fn socks5_resolves_here_and_socks5h_at_the_proxy() {
    if !lab::available(&["danted"], &[]) {
        return;
    }
    let lab = lab_or_skip!();
    resolve_in_server(&lab);
    lab.serve_ssh("203.0.113.2:22");
    let _proxy = dante(&lab, "", DANTE_RULES);
    let exporter = Exporter::start(&lab, &names());

    // socks5://: the name is looked up here, in phase resolve, and the proxy gets an address.
    let (m, log) = lab::exporter::probe_debug(&lab, "local", "hosts.lab.test:22");
    m.assert_success();
    assert!(
        log.contains("the proxy is asked for 203.0.113.2"),
        "the proxy gets the address:\n{log}"
    );
    let (m, log) = lab::exporter::probe_debug(&lab, "local", "nx.lab.test:22");
    m.assert_failure("resolve", "dns_nxdomain", "NXDOMAIN");
    assert!(
        !log.contains("connected"),
        "no connect after NXDOMAIN:\n{log}"
    );

    // socks5h://: the proxy resolves. A name only this side's hosts file knows is not found
    // there (dante's reply 4); a name in the lab's DNS is.
    let (m, log) = lab::exporter::probe_debug(&lab, "remote", "ok.lab.test:22");
    m.assert_success();
    assert!(
        !log.contains("resolved to") && !log.contains("hosts file"),
        "no local lookup of the target:\n{log}"
    );
    let m = exporter.probe("remote", "hosts.lab.test:22");
    m.assert_failure("proxy", "host_unreachable", "socks_host_unreachable");
    let m = exporter.probe("remote", "nx.lab.test:22");
    m.assert_failure("proxy", "host_unreachable", "socks_host_unreachable");
}
