//! The `/probe` answer: the gauges of the metric contract built from one [`ProbeReport`].
//!
//! The report is first turned into plain metric families (name, help, series in a fixed order),
//! then a collector writes them into a fresh registry, so the output is deterministic and every
//! series appears exactly when the contract says it does.

use std::fmt;
use std::net::IpAddr;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::report::{Expectation, Phase, ProbeReport};

/// A label set in output order.
type Labels = Vec<(String, String)>;

/// One sample value: integers print without a fraction (`1`, not `1.0`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Int(i64),
    Float(f64),
}

/// One gauge family: name, help and its series in output order.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    series: Vec<(Labels, Value)>,
}

/// Writes prepared families into a registry on encode.
#[derive(Debug)]
struct ProbeCollector(Vec<Family>);

impl Collector for ProbeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        for family in self.0.iter().filter(|f| !f.series.is_empty()) {
            let mut metric =
                encoder.encode_descriptor(family.name, family.help, None, MetricType::Gauge)?;
            for (labels, value) in &family.series {
                if labels.is_empty() {
                    encode_value(&mut metric, *value)?;
                } else {
                    encode_value(&mut metric.encode_family(labels)?, *value)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_value(metric: &mut MetricEncoder<'_>, value: Value) -> Result<(), fmt::Error> {
    match value {
        Value::Int(v) => metric.encode_gauge(&v),
        Value::Float(v) => metric.encode_gauge(&v),
    }
}

/// A fresh registry holding the per-probe gauges of `report`, named as the metric contract.
///
/// Series present only under a condition (failure info, TLS facts, TCP_INFO, ICMP evidence,
/// regex outcome, expect labels) are absent when the report lacks the fact.
pub fn probe_registry(report: &ProbeReport) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ProbeCollector(families(report))));
    registry
}

/// The OpenMetrics text of [`probe_registry`], ending with `# EOF`.
///
/// Errors: only a formatter error, which writing into a `String` does not produce.
pub fn encode_probe(report: &ProbeReport) -> Result<String, fmt::Error> {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &probe_registry(report))?;
    Ok(out)
}

/// blackbox_exporter's `probe_ip_addr_hash`: FNV-1a 32-bit over the address octets, 4 bytes for
/// IPv4 (and IPv4-mapped IPv6, as Go's `net.IP.To4`), 16 for IPv6 (`prober/utils.go` `ipHash`).
pub fn ip_addr_hash(ip: IpAddr) -> u32 {
    let octets: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets().to_vec(),
        },
    };
    // FNV-1a parameters from draft-eastlake-fnv: offset basis 2166136261, prime 16777619.
    octets.iter().fold(2_166_136_261u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(16_777_619)
    })
}

fn one(name: &'static str, help: &'static str, value: Value) -> Family {
    Family {
        name,
        help,
        series: vec![(Vec::new(), value)],
    }
}

fn labels<const N: usize>(pairs: [(&str, &str); N]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn flag(b: bool) -> Value {
    Value::Int(i64::from(b))
}

/// The contract's families for `report`, in a stable order.
fn families(report: &ProbeReport) -> Vec<Family> {
    let mut out = vec![
        one(
            "probe_success",
            "1 when every phase passed, else 0",
            flag(report.success()),
        ),
        one(
            "probe_duration_seconds",
            "Wall time of the whole probe in seconds",
            Value::Float(report.duration.as_secs_f64()),
        ),
        one(
            "probe_timeout_seconds",
            "The deadline this probe ran under in seconds",
            Value::Float(report.timeout.as_secs_f64()),
        ),
        Family {
            name: "probe_tcp_duration_seconds",
            help: "Seconds spent in each phase that started; a failed phase reports the time until it failed",
            series: report
                .phases
                .iter()
                .map(|(p, d)| (labels([("phase", p.as_str())]), Value::Float(d.as_secs_f64())))
                .collect(),
        },
    ];
    if let Some(f) = &report.shown_failure() {
        out.push(Family {
            name: "probe_failure_info",
            help: "Where (phase) and why (class, detail) the probe failed",
            series: vec![(
                labels([
                    ("phase", f.phase.as_str()),
                    ("class", f.class.as_str()),
                    ("detail", f.detail.as_str()),
                ]),
                Value::Int(1),
            )],
        });
    }
    if let Some(step) = report.failed_step {
        out.push(Family {
            name: "probe_query_failed_step_info",
            help: "The query_response step a failed dialogue stopped at: its index from 0 and its kind",
            series: vec![(
                labels([("step", step.index.to_string().as_str()), ("kind", step.kind.as_str())]),
                Value::Int(1),
            )],
        });
    }
    if let Some(expectation) = report.expectation {
        out.push(one(
            "probe_failure_expected",
            "1 when the probe failed as the module's expect_failure states, else 0 (policy probes only)",
            flag(matches!(expectation, Expectation::Met(_))),
        ));
    }
    let resolve = report.phase_duration(Phase::Resolve).unwrap_or_default();
    out.push(one(
        "probe_dns_lookup_time_seconds",
        "Seconds spent resolving the target name (the resolve phase)",
        Value::Float(resolve.as_secs_f64()),
    ));
    out.push(one(
        "probe_ip_protocol",
        "IP version of the address probed: 4 or 6, 0 when resolution failed",
        Value::Int(i64::from(report.ip_protocol())),
    ));
    if let Some(ip) = report.ip_addr {
        out.push(one(
            "probe_ip_addr_hash",
            "FNV-1a hash of the probed address octets; a change means the target moved",
            Value::Int(i64::from(ip_addr_hash(ip))),
        ));
    }
    network_families(report, &mut out);
    path_families(report, &mut out);
    address_families(report, &mut out);
    query_families(report, &mut out);
    tls_families(report, &mut out);
    out
}

/// ICMP evidence and TCP_INFO facts.
fn network_families(report: &ProbeReport, out: &mut Vec<Family>) {
    if let Some(icmp) = &report.icmp {
        out.push(Family {
            name: "probe_icmp_info",
            help: "The ICMP error behind an unreachable or prohibited connect",
            series: vec![(
                labels([
                    ("type", icmp.icmp_type.to_string().as_str()),
                    ("code", icmp.code.to_string().as_str()),
                    ("reason", icmp.reason),
                    ("from", icmp.from.to_string().as_str()),
                ]),
                Value::Int(1),
            )],
        });
    }
    if let Some(info) = &report.tcp_info {
        out.push(one(
            "probe_tcp_rtt_seconds",
            "Kernel smoothed round-trip time (TCP_INFO) right after connect in seconds",
            Value::Float(info.rtt.as_secs_f64()),
        ));
        out.push(one(
            "probe_tcp_syn_retransmits",
            "SYNs resent before the connection opened",
            Value::Int(i64::from(info.syn_retransmits)),
        ));
    }
}

/// Where silence begins, from a path trace.
fn path_families(report: &ProbeReport, out: &mut Vec<Family>) {
    let Some(path) = &report.path else {
        return;
    };
    out.push(one(
        "probe_path_last_responding_hop",
        "TTL / hop limit of the last hop that answered the path trace; 0 when none did",
        Value::Int(i64::from(path.last_responding_hop())),
    ));
    out.push(Family {
        name: "probe_path_hop_info",
        help: "Each hop that answered the path trace, by TTL / hop limit",
        series: path
            .hops
            .iter()
            .map(|h| {
                let hop = h.hop.to_string();
                let address = h.address.to_string();
                (
                    labels([("hop", &hop), ("address", &address)]),
                    Value::Int(1),
                )
            })
            .collect(),
    });
}

/// Per-address outcomes when every resolved address was probed.
fn address_families(report: &ProbeReport, out: &mut Vec<Family>) {
    if report.addresses.is_empty() {
        return;
    }
    let mut success = Vec::new();
    let mut failures = Vec::new();
    for a in &report.addresses {
        let address = a.address.to_string();
        success.push((labels([("address", &address)]), flag(a.failure.is_none())));
        if let Some(f) = &a.failure {
            failures.push((
                labels([
                    ("address", &address),
                    ("phase", f.phase.as_str()),
                    ("class", f.class.as_str()),
                    ("detail", f.detail.as_str()),
                ]),
                Value::Int(1),
            ));
        }
    }
    out.push(Family {
        name: "probe_address_success",
        help: "1 when every phase passed for this resolved address, else 0",
        series: success,
    });
    out.push(Family {
        name: "probe_address_failure_info",
        help: "Where (phase) and why (class, detail) probing this resolved address failed",
        series: failures,
    });
    out.push(one(
        "probe_addresses_not_probed",
        "Distinct resolved addresses left out beyond tcp.probe_all_addresses_limit",
        Value::Int(i64::try_from(report.addresses_not_probed).unwrap_or(i64::MAX)),
    ));
}

/// The `query_response` outcome.
fn query_families(report: &ProbeReport, out: &mut Vec<Family>) {
    if let Some(failed) = report.failed_due_to_regex {
        out.push(one(
            "probe_failed_due_to_regex",
            "1 when an expect step of query_response never matched, else 0",
            flag(failed),
        ));
    }
    if let Some(failed) = report.failed_due_to_bytes {
        out.push(one(
            "probe_failed_due_to_bytes",
            "1 when an expect_bytes step of query_response read other bytes, else 0",
            flag(failed),
        ));
    }
    if !report.expect_labels.is_empty() {
        out.push(Family {
            name: "probe_expect_info",
            help: "Explicit label values from query_response steps that matched",
            series: report
                .expect_labels
                .iter()
                .map(|set| (set.clone(), Value::Int(1)))
                .collect(),
        });
    }
}

/// Facts of the TLS handshake, also when verification failed.
fn tls_families(report: &ProbeReport, out: &mut Vec<Family>) {
    let Some(tls) = &report.tls else {
        return;
    };
    if let Some(version) = tls.version {
        out.push(Family {
            name: "probe_tls_version_info",
            help: "TLS version the handshake negotiated",
            series: vec![(labels([("version", version.as_str())]), Value::Int(1))],
        });
    }
    if let Some(cipher) = &tls.cipher {
        out.push(Family {
            name: "probe_tls_cipher_info",
            help: "IANA name of the cipher suite the handshake negotiated",
            series: vec![(labels([("cipher", cipher)]), Value::Int(1))],
        });
    }
    if let Some(expiry) = tls.earliest_expiry() {
        out.push(one(
            "probe_ssl_earliest_cert_expiry",
            "Earliest notAfter of the presented certificate chain in unix seconds",
            Value::Int(expiry),
        ));
    }
    if let Some(expiry) = tls.last_chain_expiry() {
        out.push(one(
            "probe_ssl_last_chain_expiry_timestamp_seconds",
            "Latest, over the verified chains, of each chain's earliest notAfter (root included) in unix seconds; the presented chain's earliest when nothing verified",
            Value::Int(expiry),
        ));
    }
    if let Some(expiry) = tls.client_cert_expiry {
        out.push(one(
            "probe_ssl_client_cert_expiry",
            "notAfter of the client certificate the module presents in unix seconds",
            Value::Int(expiry),
        ));
    }
    if let Some(leaf) = tls.chain.first() {
        out.push(Family {
            name: "probe_ssl_last_chain_info",
            help: "Identity of the leaf certificate the server presented",
            series: vec![(
                labels([
                    ("fingerprint_sha256", &leaf.fingerprint_sha256),
                    ("subject", &leaf.subject),
                    ("issuer", &leaf.issuer),
                    ("subjectalternative", &leaf.subject_alternative),
                    ("serialnumber", &leaf.serial_number),
                ]),
                Value::Int(1),
            )],
        });
    }
    cert_families(tls, out);
    ocsp_families(tls, out);
    crl_families(tls, out);
}

/// Certificates of a chain described one by one, leaf first; those after the tenth are left
/// out, so a peer sending a long chain adds at most this many series to each family.
pub const MAX_DESCRIBED_CERTS: usize = 10;

/// Every presented certificate's facts by its position in the chain, and the weak-chain flag.
fn cert_families(tls: &crate::report::TlsFacts, out: &mut Vec<Family>) {
    let mut info = Vec::new();
    let mut not_before = Vec::new();
    let mut not_after = Vec::new();
    for (pos, cert) in tls.chain.iter().take(MAX_DESCRIBED_CERTS).enumerate() {
        let (pos, bits) = (pos.to_string(), cert.key.bits.to_string());
        let id = labels([
            ("chain_pos", pos.as_str()),
            ("fingerprint_sha256", &cert.fingerprint_sha256),
        ]);
        info.push((
            labels([
                ("chain_pos", pos.as_str()),
                ("fingerprint_sha256", &cert.fingerprint_sha256),
                ("subject", &cert.subject),
                ("issuer", &cert.issuer),
                ("key_type", cert.key.algorithm.as_str()),
                ("key_bits", &bits),
                ("signature_algorithm", cert.signature_algorithm.as_str()),
            ]),
            Value::Int(1),
        ));
        not_before.push((id.clone(), Value::Int(cert.not_before)));
        not_after.push((id, Value::Int(cert.not_after)));
    }
    out.push(Family {
        name: "probe_ssl_cert_info",
        help: "Each presented certificate by chain position (0 is the leaf): names, key type and size in bits, signature algorithm",
        series: info,
    });
    out.push(Family {
        name: "probe_ssl_cert_not_before_timestamp_seconds",
        help: "notBefore of each presented certificate in unix seconds",
        series: not_before,
    });
    out.push(Family {
        name: "probe_ssl_cert_not_after_timestamp_seconds",
        help: "notAfter of each presented certificate in unix seconds",
        series: not_after,
    });
    if let Some(weak) = tls.weak_chain() {
        out.push(one(
            "probe_ssl_weak_chain",
            "1 when a presented certificate has an RSA key under 2048 bits or, below the root, an MD5 or SHA-1 signature",
            flag(weak),
        ));
    }
}

/// The stapled OCSP response (ssl_exporter's `ssl_ocsp_response_*` facts): whether one was
/// stapled, whether it verified, and what a verified one says. A response that did not verify
/// reports nothing of its content.
fn ocsp_families(tls: &crate::report::TlsFacts, out: &mut Vec<Family>) {
    use crate::report::OcspStaple;
    if tls.chain.is_empty() {
        return;
    }
    out.push(one(
        "probe_ssl_ocsp_response_stapled",
        "1 when the server stapled an OCSP response to its certificate, else 0",
        flag(tls.ocsp.is_some()),
    ));
    let Some(staple) = &tls.ocsp else {
        return;
    };
    out.push(one(
        "probe_ssl_ocsp_response_verified",
        "1 when the stapled OCSP response is about the leaf and signed by its issuer or a responder the issuer authorised, else 0",
        flag(matches!(staple, OcspStaple::Verified(_))),
    ));
    let OcspStaple::Verified(facts) = staple else {
        return;
    };
    out.push(one(
        "probe_ssl_ocsp_response_status",
        "Status of the leaf in the verified stapled OCSP response: 0 good, 1 revoked, 2 unknown",
        Value::Int(facts.status.value()),
    ));
    out.push(one(
        "probe_ssl_ocsp_response_produced_at_timestamp_seconds",
        "producedAt of the verified stapled OCSP response in unix seconds",
        Value::Int(facts.produced_at),
    ));
    out.push(one(
        "probe_ssl_ocsp_response_this_update_timestamp_seconds",
        "thisUpdate of the leaf's status in the verified stapled OCSP response in unix seconds",
        Value::Int(facts.this_update),
    ));
    if let Some(next) = facts.next_update {
        out.push(one(
            "probe_ssl_ocsp_response_next_update_timestamp_seconds",
            "nextUpdate of the leaf's status in the verified stapled OCSP response in unix seconds",
            Value::Int(next),
        ));
    }
    if let Some(revoked) = facts.revoked_at {
        out.push(one(
            "probe_ssl_ocsp_response_revoked_at_timestamp_seconds",
            "revocationTime of the leaf in the verified stapled OCSP response in unix seconds",
            Value::Int(revoked),
        ));
    }
}

/// The CRL check of each presented certificate (`tls_config.crl_check`), with the names and
/// labels of blackbox_exporter's CRL check (its pull request #1583, `prober/crl.go`).
fn crl_families(tls: &crate::report::TlsFacts, out: &mut Vec<Family>) {
    if tls.crl.is_empty() {
        return;
    }
    let (mut revoked, mut available, mut stale, mut next) = (vec![], vec![], vec![], vec![]);
    let mut fetch_time = std::time::Duration::ZERO;
    for r in &tls.crl {
        let pos = r.chain_pos.to_string();
        let id = labels([
            ("fingerprint_sha256", &r.cert.fingerprint_sha256),
            ("subject", &r.cert.subject),
            ("issuer", &r.cert.issuer),
            ("subjectalternative", &r.cert.subject_alternative),
            ("serialnumber", &r.cert.serial_number),
            ("chain_pos", &pos),
            ("crl_url", &r.crl_url),
        ]);
        revoked.push((id.clone(), flag(r.revoked)));
        available.push((id.clone(), flag(r.available)));
        stale.push((id.clone(), flag(r.stale)));
        if let Some(t) = r.next_update {
            next.push((id, Value::Int(t)));
        }
        fetch_time += r.fetch_time;
    }
    out.push(Family {
        name: "probe_ssl_crl_revoked",
        help: "1 when the certificate's serial is on its CRL (0/1)",
        series: revoked,
    });
    out.push(Family {
        name: "probe_ssl_crl_available",
        help: "1 when the certificate names an http:// CRL distribution point and its CRL was fetched and its signature verified (0/1)",
        series: available,
    });
    out.push(Family {
        name: "probe_ssl_crl_stale",
        help: "1 when the certificate's CRL is past its nextUpdate (0/1)",
        series: stale,
    });
    out.push(Family {
        name: "probe_ssl_crl_next_publish",
        help: "nextUpdate of the certificate's CRL in unix seconds",
        series: next,
    });
    out.push(one(
        "probe_ssl_crl_fetch_time_seconds",
        "Total time spent fetching CRLs in seconds",
        Value::Float(fetch_time.as_secs_f64()),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{IcmpInfo, TcpInfo, TlsFacts, TlsVersion};
    use std::time::Duration;

    #[test]
    fn success_with_every_optional_fact() {
        let report = ProbeReport {
            failure: None,
            phases: vec![(Phase::Connect, Duration::from_micros(250))],
            ip_addr: Some("::1".parse().unwrap()),
            icmp: Some(IcmpInfo {
                icmp_type: 3,
                code: 1,
                reason: "host_unreachable",
                from: "127.0.0.2".parse().unwrap(),
            }),
            tcp_info: Some(TcpInfo {
                rtt: Duration::from_micros(40),
                syn_retransmits: 2,
            }),
            tls: Some(TlsFacts {
                version: Some(TlsVersion::Tls13),
                cipher: Some("TLS_AES_128_GCM_SHA256".into()),
                chain: Vec::new(),
                verified_chain_expiry: None,
                client_cert_expiry: Some(2_082_758_400),
                ocsp: None,
                ..TlsFacts::default()
            }),
            failed_due_to_regex: Some(false),
            expect_labels: vec![vec![("banner".into(), "SSH-2.0".into())]],
            ..Default::default()
        };
        let text = encode_probe(&report).unwrap();
        for line in [
            "probe_success 1",
            "probe_ip_protocol 6",
            "probe_ip_addr_hash 1751717746",
            "probe_dns_lookup_time_seconds 0.0",
            "probe_icmp_info{type=\"3\",code=\"1\",reason=\"host_unreachable\",from=\"127.0.0.2\"} 1",
            "probe_tcp_rtt_seconds 0.00004",
            "probe_tcp_syn_retransmits 2",
            "probe_tls_version_info{version=\"TLS 1.3\"} 1",
            "probe_tls_cipher_info{cipher=\"TLS_AES_128_GCM_SHA256\"} 1",
            "probe_failed_due_to_regex 0",
            "probe_ssl_client_cert_expiry 2082758400",
            "probe_expect_info{banner=\"SSH-2.0\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("probe_failure_info"), "{text}");
        assert!(!text.contains("probe_ssl_earliest_cert_expiry"), "{text}");
    }

    /// A peer sending a long chain adds at most [`MAX_DESCRIBED_CERTS`] series per family.
    #[test]
    fn certificates_described_are_bounded() {
        let cert = |n: i64| crate::report::CertInfo {
            fingerprint_sha256: format!("{n:064x}"),
            not_after: n,
            ..Default::default()
        };
        let report = ProbeReport {
            tls: Some(TlsFacts {
                chain: (0..25).map(cert).collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let text = encode_probe(&report).unwrap();
        for family in [
            "probe_ssl_cert_info{",
            "probe_ssl_cert_not_before_timestamp_seconds{",
            "probe_ssl_cert_not_after_timestamp_seconds{",
        ] {
            let series = text.lines().filter(|l| l.starts_with(family)).count();
            assert_eq!(series, MAX_DESCRIBED_CERTS, "{family}");
        }
        assert!(text.contains("chain_pos=\"9\""), "{text}");
        assert!(!text.contains("chain_pos=\"10\""), "{text}");
        assert!(
            text.lines().any(|l| l == "probe_ssl_weak_chain 0"),
            "{text}"
        );
    }

    #[test]
    fn ip_hash_matches_blackbox() {
        let localhost: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(ip_addr_hash(localhost), 3_668_918_509);
        // An IPv4-mapped IPv6 address hashes as its IPv4 form (Go's net.IP.To4).
        assert_eq!(
            ip_addr_hash("::ffff:127.0.0.1".parse().unwrap()),
            3_668_918_509
        );
        assert_eq!(ip_addr_hash("::1".parse().unwrap()), 1_751_717_746);
    }

    #[test]
    fn path_and_per_address_outcomes() {
        use crate::report::{AddressResult, Errno, Failure, FailureClass, Hop, PathReport};
        let refused = Failure::new(Phase::Connect, FailureClass::Refused, Errno::ECONNREFUSED);
        let report = ProbeReport {
            failure: Some(refused),
            path: Some(PathReport {
                hops: vec![Hop {
                    hop: 1,
                    address: "198.51.100.1".parse().unwrap(),
                }],
            }),
            addresses: vec![
                AddressResult {
                    address: "203.0.113.2".parse().unwrap(),
                    failure: None,
                },
                AddressResult {
                    address: "203.0.113.3".parse().unwrap(),
                    failure: Some(refused),
                },
            ],
            ..Default::default()
        };
        let text = encode_probe(&report).unwrap();
        for line in [
            "probe_path_last_responding_hop 1",
            "probe_path_hop_info{hop=\"1\",address=\"198.51.100.1\"} 1",
            "probe_address_success{address=\"203.0.113.2\"} 1",
            "probe_address_success{address=\"203.0.113.3\"} 0",
            "probe_address_failure_info{address=\"203.0.113.3\",phase=\"connect\",class=\"refused\",detail=\"ECONNREFUSED\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("address=\"203.0.113.2\",phase"), "{text}");
    }

    /// Several steps with `labels` of different names give one `probe_expect_info` family with
    /// one series per step (blackbox_exporter panics on this, its #1526).
    #[test]
    fn several_label_blocks_are_one_family() {
        let report = ProbeReport {
            expect_labels: vec![
                vec![("capabilities_notls".into(), "IMAP4rev1 STARTTLS".into())],
                vec![("capabilities".into(), "IMAP4rev1 AUTH=PLAIN".into())],
            ],
            ..Default::default()
        };
        let text = encode_probe(&report).unwrap();
        assert_eq!(
            text.matches("# TYPE probe_expect_info gauge").count(),
            1,
            "{text}"
        );
        for line in [
            "probe_expect_info{capabilities_notls=\"IMAP4rev1 STARTTLS\"} 1",
            "probe_expect_info{capabilities=\"IMAP4rev1 AUTH=PLAIN\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
