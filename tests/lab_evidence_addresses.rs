//! Every resolved address probed at once (`tcp.probe_all_addresses`): a name with two addresses
//! of which one refuses (an iptables REJECT with tcp-reset for that address only) and the other
//! accepts. Each address gets its own success and failure series; `probe_success` follows the
//! module's rule: `all` fails, `any` passes. IPv4 (`two.lab.test`) and IPv6 (`two6.lab.test`).

#[macro_use]
mod lab;

use lab::modules::{module, IP4_ONLY, IP6_ONLY};
use lab::{Exporter, Lab, Peer, SERVER4, SERVER4_B, SERVER6, SERVER6_B};

/// Modules of this file: each family without fallback, with both rules.
fn config() -> String {
    let all = "      probe_all_addresses: true\n";
    let any = "      probe_all_addresses_rule: any\n";
    lab::modules::config(&[
        module("all4", "3s", &[IP4_ONLY, all]),
        module("any4", "3s", &[IP4_ONLY, all, any]),
        module("all6", "3s", &[IP6_ONLY, all]),
        module("any6", "3s", &[IP6_ONLY, all, any]),
    ])
}

/// The port every test of this file probes.
const PORT: u16 = 2020;

/// Listens on every server address at [`PORT`], and makes `refusing` answer SYNs with a RST.
fn one_refusing(lab: &Lab, ipv6: bool, refusing: &str) {
    let banner = Peer::Banner(lab::servers::SSH_BANNER.into());
    let rule =
        format!("-A INPUT -p tcp -d {refusing} --dport {PORT} -j REJECT --reject-with tcp-reset");
    if ipv6 {
        lab.serve(&format!("[::]:{PORT}"), banner);
        lab.ip6tables(&lab.server, &rule);
    } else {
        lab.serve(&format!("0.0.0.0:{PORT}"), banner);
        lab.iptables(&lab.server, &rule);
    }
}

/// Probes `target` with `module` and asserts the per-address series: `good` passed, `bad` was
/// refused; and exactly these two addresses were probed.
fn probe_pair(lab: &Lab, module: &str, target: &str, good: &str, bad: &str) -> lab::Metrics {
    let m = Exporter::start(lab, &config()).probe(module, target);
    m.assert_address_success(good);
    m.assert_address_failure(bad, "connect", "refused", "ECONNREFUSED");
    assert_eq!(
        m.find("probe_address_success", &[]).len(),
        2,
        "two addresses expected:\n{}",
        m.body
    );
    m
}

#[test]
fn all_addresses_rule_all_ipv4() {
    let lab = lab_or_skip!();
    one_refusing(&lab, false, SERVER4_B);
    let target = format!("two.lab.test:{PORT}");
    let m = probe_pair(&lab, "all4", &target, SERVER4, SERVER4_B);
    // The failing address stands for the probe.
    m.assert_failure("connect", "refused", "ECONNREFUSED");
    m.assert_value("probe_ip_protocol", &[], 4.0);
}

#[test]
fn all_addresses_rule_any_ipv4() {
    let lab = lab_or_skip!();
    one_refusing(&lab, false, SERVER4);
    let target = format!("two.lab.test:{PORT}");
    let m = probe_pair(&lab, "any4", &target, SERVER4_B, SERVER4);
    m.assert_success();
}

#[test]
fn all_addresses_rule_all_ipv6() {
    let lab = lab_or_skip!();
    one_refusing(&lab, true, SERVER6);
    let target = format!("two6.lab.test:{PORT}");
    let m = probe_pair(&lab, "all6", &target, SERVER6_B, SERVER6);
    m.assert_failure("connect", "refused", "ECONNREFUSED");
    m.assert_value("probe_ip_protocol", &[], 6.0);
}

#[test]
fn all_addresses_rule_any_ipv6() {
    let lab = lab_or_skip!();
    one_refusing(&lab, true, SERVER6_B);
    let target = format!("two6.lab.test:{PORT}");
    let m = probe_pair(&lab, "any6", &target, SERVER6, SERVER6_B);
    m.assert_success();
}

/// Both addresses pass: rule `all` passes and no failure series exists.
#[test]
fn all_addresses_both_pass_ipv4() {
    let lab = lab_or_skip!();
    lab.serve_ssh(&format!("0.0.0.0:{PORT}"));
    let m = Exporter::start(&lab, &config()).probe("all4", &format!("two.lab.test:{PORT}"));
    m.assert_success();
    m.assert_address_success(SERVER4);
    m.assert_address_success(SERVER4_B);
    m.assert_absent("probe_address_failure_info");
}
