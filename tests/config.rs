//! The configuration loader: blackbox_exporter's example loads unchanged, defaults and
//! durations follow blackbox_exporter and Prometheus, Go regexps keep their meaning, modules
//! write back as YAML that loads again, and (in `config/errors.rs`) every invalid file fails
//! with its exact message.

#[path = "config/errors.rs"]
mod errors;

use std::path::Path;
use std::time::Duration;

use handshake_exporter::config::{
    format_duration, parse_duration, translate_go_regex, AddressRule, Config, ConfigWarning,
    IpProtocol, PathTrace, Pem, TlsStack, TlsVersion, VersionRange,
};

fn load(file: &str) -> Config {
    Config::load_file(Path::new(file)).unwrap_or_else(|err| panic!("{err}"))
}

fn parse(text: &str) -> Config {
    Config::from_yaml_str(text, "inline.yml").unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn blackbox_example_loads_tcp_modules_and_skips_the_others() {
    let config = load("testdata/blackbox-example.yml");
    let runnable: Vec<&str> = config.modules.keys().map(String::as_str).collect();
    assert_eq!(
        runnable,
        [
            "imap_starttls",
            "irc_banner_example",
            "pop3s_banner",
            "smtp_starttls",
            "ssh_banner",
            "ssh_banner_extract",
            "tcp_connect_example",
            "tls_connect",
        ]
    );
    for (name, prober) in [
        ("http_2xx_example", "http"),
        ("http_post_2xx", "http"),
        ("icmp_example", "icmp"),
        ("dns_udp_example", "dns"),
        ("grpc", "grpc"),
    ] {
        assert_eq!(config.skipped.get(name).map(String::as_str), Some(prober));
    }
    assert_eq!(config.skipped.len(), 16);
    assert!(config.modules.values().all(|m| m.prober == "tcp"));

    let smtp = &config.modules["smtp_starttls"].tcp.query_response;
    assert_eq!(smtp.len(), 9);
    assert_eq!(smtp[1].send, "EHLO prober\r");
    assert!(smtp[5].starttls && smtp[5].expect.is_none());
    let banner = smtp[0].expect.as_ref().expect("expect");
    let caps = banner
        .captures("220 mx.example.com ESMTP Postfix")
        .expect("match");
    assert_eq!(&caps[1], "mx.example.com");

    let irc = &config.modules["irc_banner_example"].tcp.query_response[2];
    assert_eq!(irc.send, "PONG ${1}");
    assert!(irc.expect.as_ref().expect("expect").is_match("PING :abc"));

    let extract = &config.modules["ssh_banner_extract"].tcp.query_response[0];
    let labels: Vec<(&str, &str)> = extract
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(labels, [("ssh_version", "${1}"), ("ssh_comments", "${2}")]);

    let pop3s = &config.modules["pop3s_banner"];
    assert!(pop3s.tcp.tls && !pop3s.tcp.tls_config.insecure_skip_verify);
    assert_eq!(pop3s.timeout, None);
    assert_eq!(
        config.modules["tls_connect"].timeout,
        Some(Duration::from_secs(5))
    );
}

/// Go reads `^+OK` as the anchor repeated, i.e. `^OK`: it loads, and means what it means in Go
/// (so it does not match a `+OK` line, in blackbox_exporter either).
#[test]
fn repeated_anchor_loads_with_go_meaning() {
    let config = load("testdata/blackbox-example.yml");
    let re = config.modules["pop3s_banner"].tcp.query_response[0]
        .expect
        .clone()
        .expect("expect");
    assert!(re.is_match("OK ready"));
    assert!(!re.is_match("+OK ready"));
    assert!(!re.is_match("x OK"));
}

#[test]
fn defaults_follow_blackbox() {
    let config = parse("modules:\n  plain:\n    prober: tcp\n");
    let module = &config.modules["plain"];
    assert_eq!(module.timeout, None);
    let tcp = &module.tcp;
    assert_eq!(tcp.preferred_ip_protocol, IpProtocol::Ip6);
    assert!(tcp.ip_protocol_fallback);
    assert_eq!(tcp.source_ip_address, None);
    assert!(tcp.query_response.is_empty() && !tcp.tls);
    assert!(!tcp.tls_config.insecure_skip_verify && tcp.tls_config.ca_file.is_none());
    assert_eq!(tcp.tls_config.versions, VersionRange::default());
    assert_eq!(tcp.tls_config.client_cert, None);
    assert_eq!(
        tcp.path_trace,
        PathTrace {
            enabled: false,
            max_hops: 16
        }
    );
    assert!(!tcp.probe_all_addresses);
    assert_eq!(tcp.probe_all_addresses_rule, AddressRule::All);
    assert!(config.skipped.is_empty());
}

#[test]
fn null_values_mean_defaults() {
    let text =
        "modules:\n  a:\n    prober: tcp\n    timeout:\n    tcp:\n  b:\n    prober: tcp\n    \
                tcp:\n      ip_protocol_fallback:\n      tls_config:\n      query_response:\n      \
                path_trace:\n        max_hops:\n";
    let config = parse(text);
    for module in config.modules.values() {
        assert_eq!(module.timeout, None);
        assert!(module.tcp.ip_protocol_fallback);
        assert_eq!(module.tcp.path_trace.max_hops, 16);
    }
    assert_eq!(parse("modules:\n").modules.len(), 0);
}

#[test]
fn every_key_is_read() {
    let text = r#"
modules:
  full:
    prober: tcp
    timeout: 1m30s
    tcp:
      preferred_ip_protocol: ipv4
      ip_protocol_fallback: false
      source_ip_address: "::1"
      query_response:
        - expect: "^(\\d+) ready"
          send: "HELLO ${1}"
          starttls: true
          labels: [{name: code, value: "${1}"}]
      tls: true
      tls_config:
        ca_file: /nonexistent/ca.pem
        cert_file: /nonexistent/c.pem
        key_file: /nonexistent/k.pem
        server_name: db.example.com
        insecure_skip_verify: true
        min_version: TLS12
        max_version: TLS13
      path_trace: {enabled: true, max_hops: 64}
      probe_all_addresses: true
      probe_all_addresses_rule: any
"#;
    let module = &parse(text).modules["full"];
    assert_eq!(module.timeout, Some(Duration::from_secs(90)));
    let tcp = &module.tcp;
    assert_eq!(tcp.preferred_ip_protocol, IpProtocol::Ip4);
    assert!(!tcp.ip_protocol_fallback && tcp.tls);
    assert_eq!(tcp.source_ip_address, Some("::1".parse().expect("ip")));
    let step = &tcp.query_response[0];
    assert!(step.starttls && step.send == "HELLO ${1}" && step.labels[0].name == "code");
    let tls = &tcp.tls_config;
    assert_eq!(
        tls.ca_file.as_deref(),
        Some(Path::new("/nonexistent/ca.pem"))
    );
    assert_eq!(
        tls.client_cert.as_ref().map(|c| &c.key),
        Some(&Pem::File("/nonexistent/k.pem".into()))
    );
    assert_eq!(tls.server_name.as_deref(), Some("db.example.com"));
    assert!(tls.insecure_skip_verify);
    assert_eq!(
        (tls.versions.min(), tls.versions.max()),
        (Some(TlsVersion::Tls12), Some(TlsVersion::Tls13))
    );
    assert_eq!(
        tcp.path_trace,
        PathTrace {
            enabled: true,
            max_hops: 64
        }
    );
    assert!(tcp.probe_all_addresses);
    assert_eq!(tcp.probe_all_addresses_rule, AddressRule::Any);
}

#[test]
fn other_probers_are_not_validated() {
    let text = "modules:\n  web:\n    prober: http\n    whatever: [1, 2]\n    tcp: {tsl: 1}\n  \
                sock:\n    prober: unix\n  tcp_with_http_block:\n    prober: tcp\n    http:\n      \
                method: GET\n";
    let config = parse(text);
    assert_eq!(config.skipped["web"], "http");
    assert_eq!(config.modules["sock"].prober, "unix");
    assert!(config.modules.contains_key("tcp_with_http_block"));
}

#[test]
fn skipped_modules_are_warnings_by_name() {
    let config = load("testdata/blackbox-example.yml");
    let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    for name in ["http_2xx_example", "icmp_example", "dns_soa", "grpc_plain"] {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(&format!("skipping module {name}: prober"))),
            "{warnings:?}"
        );
    }
    assert_eq!(warnings.len(), 16, "{warnings:?}");
    assert!(matches!(
        &config.warnings[0],
        ConfigWarning::SkippedModule { name, prober } if !name.is_empty() && !prober.is_empty()
    ));
}

#[test]
fn ignored_blocks_and_empty_files_are_warnings() {
    let text = "modules:\n  t:\n    prober: tcp\n    http:\n      method: GET\n";
    assert_eq!(
        parse(text).warnings,
        [ConfigWarning::IgnoredBlock {
            module: "t".into(),
            block: "http".into()
        }]
    );
    assert_eq!(
        parse("modules: {}\n").warnings,
        [ConfigWarning::NoTcpModule {
            origin: "inline.yml".into()
        }]
    );
}

#[test]
fn config_example_loads_with_builtin_modules() {
    let config = load("config.example.yml");
    assert!(config.skipped.is_empty());
    let builtin = Config::builtin();
    for name in ["tcp_connect", "tls_connect"] {
        assert_eq!(
            config.modules[name].to_yaml(),
            builtin.modules[name].to_yaml()
        );
    }
    for name in [
        "ssh_banner",
        "smtp_starttls",
        "tls_private_ca",
        "tcp_all_keys",
    ] {
        assert!(config.modules.contains_key(name), "{name}");
    }
    let text = std::fs::read_to_string("config.example.yml").expect("read");
    for key in [
        "timeout:",
        "preferred_ip_protocol:",
        "ip_protocol_fallback:",
        "source_ip_address:",
        "query_response:",
        "expect:",
        "send:",
        "starttls:",
        "labels:",
        "tls:",
        "tls_config:",
        "ca_file:",
        "cert_file:",
        "key_file:",
        "server_name:",
        "insecure_skip_verify:",
        "min_version:",
        "max_version:",
        "path_trace:",
        "enabled:",
        "max_hops:",
        "probe_all_addresses:",
        "probe_all_addresses_rule:",
        "probe_all_addresses_limit:",
        "probe_all_addresses_concurrency:",
        "expect_failure:",
        "phases:",
        "classes:",
        "details:",
    ] {
        assert!(text.contains(key), "config.example.yml lacks {key}");
    }
}

#[test]
fn to_yaml_shows_defaults_and_loads_back() {
    let builtin = Config::builtin();
    assert_eq!(
        builtin.modules["tcp_connect"].to_yaml(),
        "prober: tcp\ntimeout: 5s\ntcp:\n  preferred_ip_protocol: ip6\n  ip_protocol_fallback: true\n  \
         query_response: []\n  tls: false\n  tls_config:\n    insecure_skip_verify: false\n  \
         path_trace:\n    enabled: false\n    max_hops: 16\n  probe_all_addresses: false\n  \
         probe_all_addresses_rule: all\n  probe_all_addresses_limit: 16\n  \
         probe_all_addresses_concurrency: 8\n"
    );
    for file in ["testdata/blackbox-example.yml", "config.example.yml"] {
        for (name, module) in load(file).modules {
            let yaml = module.to_yaml();
            let indented: String = yaml.lines().map(|l| format!("    {l}\n")).collect();
            let again = parse(&format!("modules:\n  {name}:\n{indented}"));
            assert_eq!(again.modules[&name].to_yaml(), yaml, "{file} {name}");
        }
    }
}

#[test]
fn prometheus_durations() {
    for (text, ms) in [
        ("0", 0),
        ("500ms", 500),
        ("5s", 5_000),
        ("1m30s", 90_000),
        ("1h", 3_600_000),
        ("2d", 172_800_000),
        ("1w", 604_800_000),
        ("1y", 31_536_000_000),
        ("1h30m15s10ms", 5_415_010),
    ] {
        assert_eq!(
            parse_duration(text),
            Ok(Duration::from_millis(ms)),
            "{text}"
        );
    }
    for (text, error) in [
        ("", "empty duration string"),
        ("5", "not a valid duration string: \"5\""),
        ("1.5s", "unknown unit \".\" in duration \"1.5s\""),
        ("1s1m", "not a valid duration string: \"1s1m\""),
        ("1s1s", "not a valid duration string: \"1s1s\""),
        ("s", "not a valid duration string: \"s\""),
        ("300y", "duration out of range"),
    ] {
        let got = parse_duration(text).map_err(|e| e.to_string());
        assert_eq!(got, Err(error.to_string()), "{text}");
    }
    for (ms, text) in [
        (0, "0s"),
        (500, "500ms"),
        (90_000, "1m30s"),
        (7_776_000_000, "90d"),
        (604_800_000, "1w"),
        (31_536_000_000, "1y"),
        (93_784_005, "1d2h3m4s5ms"),
    ] {
        assert_eq!(format_duration(Duration::from_millis(ms)), text);
    }
}

#[test]
fn go_regexp_meaning_is_kept() {
    let compile = |p: &str| handshake_exporter::config::compile_go_regex(p).expect(p);
    // Perl classes and word boundaries are ASCII in Go.
    assert!(!compile(r"^\d$").is_match("٣"));
    assert!(!compile(r"^\w+$").is_match("é"));
    assert!(compile(r"^\W$").is_match("é"));
    assert!(compile(r"^[\d.]+$").is_match("1.2"));
    // Go-only spellings.
    assert!(compile(r"^\Qa.b\E$").is_match("a.b") && !compile(r"^\Qa.b\E$").is_match("axb"));
    assert!(compile(r"^\101$").is_match("A"));
    assert!(compile(r"^\<tag\>$").is_match("<tag>"));
    assert!(compile(r"^x{y}$").is_match("x{y}"));
    assert!(compile(r"^[a&&b]+$").is_match("a&b"));
    assert!(compile(r"^a{2}$").is_match("aa"));
    assert_eq!(
        translate_go_regex(r"^\p{Greek}\x{41}[[:alpha:]]"),
        r"^\p{Greek}\x{41}[[:alpha:]]"
    );
    assert_eq!(translate_go_regex("^SSH-2.0-([^ -]+)"), "^SSH-2.0-([^ -]+)");
}

/// The example files Debian's prometheus-blackbox-exporter package ships load unchanged. CI
/// installs the package; elsewhere the test says it has nothing to read.
#[test]
fn debian_packaged_blackbox_examples_load() {
    let dir = Path::new("/usr/share/doc/prometheus-blackbox-exporter/examples");
    let mut loaded = 0;
    for name in ["example.yml", "blackbox.yml"] {
        let path = dir.join(name);
        if !path.exists() {
            continue;
        }
        let config = Config::load_file(&path)
            .unwrap_or_else(|e| panic!("{} must load unchanged: {e}", path.display()));
        assert!(
            config.modules.values().all(|m| m.prober == "tcp"),
            "only tcp modules are runnable"
        );
        if name == "example.yml" {
            for tcp in ["tcp_connect_example", "smtp_starttls", "irc_banner_example"] {
                assert!(config.modules.contains_key(tcp), "{tcp} must be runnable");
            }
            assert!(
                config.skipped.values().any(|p| p == "http"),
                "http modules skipped"
            );
        }
        loaded += 1;
    }
    if loaded == 0 {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI installs prometheus-blackbox-exporter, whose examples must be tested"
        );
        eprintln!("skipping: prometheus-blackbox-exporter is not installed");
    }
}

/// A blackbox_exporter 0.28 file with every key of a tcp module loads: `expect_bytes`, inline
/// PEM (`ca`, `cert`, `key`) besides the file keys, and the debug view hides an inline key.
#[test]
fn blackbox_028_keys_load() {
    let config = load("testdata/blackbox-0.28.yml");
    let steps = &config.modules["binary_hello"].tcp.query_response;
    assert_eq!(steps[1].expect_bytes.as_bytes(), b"\x00\x01OK");
    assert!(steps[1].expect.is_none());
    let inline_ca = &config.modules["tls_inline_ca"].tcp.tls_config;
    assert!(inline_ca
        .ca
        .as_deref()
        .is_some_and(|pem| pem.starts_with("-----BEGIN CERTIFICATE-----")));
    assert_eq!(inline_ca.ca_file, None);
    let mtls = &config.modules["mtls_inline"].tcp.tls_config;
    let client = mtls.client_cert.as_ref().expect("client certificate");
    assert!(matches!(&client.cert, Pem::Inline(pem) if pem.contains("BEGIN CERTIFICATE")));
    assert!(matches!(&client.key, Pem::Inline(pem) if pem.contains("PRIVATE KEY")));
    let shown = config.modules["mtls_inline"].to_yaml();
    assert!(shown.contains("key: <secret>"), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    let files = &config.modules["mtls_files"].tcp.tls_config;
    let client = files.client_cert.as_ref().expect("client certificate");
    assert_eq!(client.cert, Pem::File("/etc/ssl/client.pem".into()));
    assert_eq!(
        config.skipped.get("http_2xx").map(String::as_str),
        Some("http")
    );
}

/// The stack follows `tls_config.stack`, else the version bounds: TLS 1.0/1.1 in either is
/// OpenSSL, anything else rustls. The key is shown in the effective module when it was set.
#[test]
fn tls_stack_from_the_key_or_the_versions() {
    let text = "modules:\n\
        \x20 plain:\n    prober: tcp\n    tcp:\n      tls: true\n\
        \x20 min10:\n    prober: tcp\n    tcp:\n      tls: true\n      tls_config:\n        min_version: TLS10\n\
        \x20 max11:\n    prober: tcp\n    tcp:\n      tls: true\n      tls_config:\n        max_version: TLS11\n\
        \x20 keyed:\n    prober: tcp\n    tcp:\n      tls: true\n      tls_config:\n        stack: openssl\n\
        \x20 forced:\n    prober: tcp\n    tcp:\n      tls: true\n      tls_config:\n        min_version: TLS10\n        stack: rustls\n";
    let config = Config::from_yaml_str(text, "inline.yml").expect("loads");
    let stack = |name: &str| config.modules[name].tcp.tls_config.stack();
    assert_eq!(stack("plain"), TlsStack::Rustls);
    assert_eq!(stack("min10"), TlsStack::OpenSsl);
    assert_eq!(stack("max11"), TlsStack::OpenSsl);
    assert_eq!(stack("keyed"), TlsStack::OpenSsl);
    assert_eq!(stack("forced"), TlsStack::Rustls);
    assert!(config.modules["keyed"].to_yaml().contains("stack: openssl"));
    assert!(!config.modules["min10"].to_yaml().contains("stack:"));
    // A build with the OpenSSL stack has nothing to warn about; one without names each module.
    let warned: Vec<String> = config.warnings.iter().map(|w| w.to_string()).collect();
    let expected = if cfg!(feature = "legacy-tls") { 0 } else { 3 };
    assert_eq!(
        warned.iter().filter(|w| w.contains("legacy-tls")).count(),
        expected,
        "{warned:?}"
    );
}
