//! Property tests of every parser that reads outside input: the `/probe` query string and
//! target, the scrape-timeout header, the module config loader, the web config loader and the
//! duration parser.
//!
//! The property everywhere: no panic, and every input gets either a value or an error that is
//! one non-empty line (what a 400 body or a log line shows). Case counts are bounded so the
//! file runs in seconds; `fuzz/` holds the open-ended libFuzzer targets for the same parsers.

mod support;
#[allow(dead_code)]
mod web;

use std::fmt::Display;
use std::time::Duration;

use handshake_exporter::config::{format_duration, parse_duration, Config};
use handshake_exporter::prober::Target;
use handshake_exporter::server::{
    encode_component, parse_query, probe_timeout, SCRAPE_TIMEOUT_HEADER,
};
use handshake_exporter::webconfig::{self, WebConfig};
use proptest::prelude::*;
use serde_yaml::{Mapping, Value};

/// Cases per property: enough to cover the strategies' shapes, few enough for CI.
const CASES: u32 = 512;

/// The seed of the config mutations: every key of a tcp module once, and a module of another
/// prober. Small, so a case costs little (each `expect` is a regex compiled at load).
const SEED: &str = r#"
modules:
  all_keys:
    prober: tcp
    timeout: 10s
    tcp:
      preferred_ip_protocol: ip6
      ip_protocol_fallback: true
      source_ip_address: 127.0.0.1
      query_response:
        - expect: "^SSH-2.0-([^ -]+)"
          labels:
            - name: ssh_version
              value: "${1}"
        - send: "STARTTLS\r"
        - starttls: true
      tls: false
      tls_config:
        ca_file: /etc/handshake_exporter/ca.pem
        cert_file: /etc/handshake_exporter/client.pem
        key_file: /etc/handshake_exporter/client-key.pem
        server_name: internal.example.com
        insecure_skip_verify: false
        min_version: TLS12
        max_version: TLS13
      path_trace:
        enabled: false
        max_hops: 16
      probe_all_addresses: false
      probe_all_addresses_rule: all
  http_2xx:
    prober: http
    http:
      method: GET
"#;

/// Largest duration Prometheus accepts (Go's `time.Duration`), in milliseconds.
const MAX_MILLIS: u64 = (i64::MAX as u64) / 1_000_000;

/// Fails the case unless `err` displays as one non-empty line.
fn one_line(err: &impl Display) -> Result<(), TestCaseError> {
    let text = err.to_string();
    prop_assert!(!text.is_empty(), "empty error message");
    prop_assert!(
        !text.contains(['\n', '\r']),
        "error message spans lines: {text:?}"
    );
    Ok(())
}

/// Text of up to `max` characters from `alphabet`.
fn chars_of(alphabet: &'static str, max: usize) -> impl Strategy<Value = String> {
    let chars: Vec<char> = alphabet.chars().collect();
    proptest::collection::vec(proptest::sample::select(chars), 0..max)
        .prop_map(|chars| chars.into_iter().collect())
}

/// Text biased towards what a parser splits on, mixed with any Unicode.
fn texty(alphabet: &'static str, max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        chars_of(alphabet, max),
        proptest::string::string_regex(&format!("\\PC{{0,{max}}}")).expect("valid regex"),
        any::<String>(),
    ]
}

// ---- Durations

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn duration_parser_answers_every_input(text in texty("0123456789ymwdhs .-+µ", 16)) {
        if let Err(err) = parse_duration(&text) {
            one_line(&err)?;
        }
    }

    #[test]
    fn duration_prints_and_parses_back(ms in 0..=MAX_MILLIS) {
        let duration = Duration::from_millis(ms);
        let printed = format_duration(duration);
        prop_assert_eq!(parse_duration(&printed), Ok(duration), "printed as {}", printed);
    }

    #[test]
    fn duration_sums_its_parts(h in 0u64..10_000, m in 0u64..10_000, s in 0u64..10_000, ms in 0u64..10_000) {
        let text = format!("{h}h{m}m{s}s{ms}ms");
        let expected = Duration::from_millis(((h * 60 + m) * 60 + s) * 1000 + ms);
        prop_assert_eq!(parse_duration(&text), Ok(expected));
    }
}

// ---- Query string and target

/// Host-like text: names, IPv4 and IPv6 literals, brackets, and stray separators.
fn target_text() -> impl Strategy<Value = String> {
    prop_oneof![
        texty("ab.1:[]%/ -", 24),
        (texty("abc.-1:", 12), any::<i32>()).prop_map(|(host, port)| format!("{host}:{port}")),
        (any::<std::net::Ipv6Addr>(), any::<u16>()).prop_map(|(ip, port)| format!("[{ip}]:{port}")),
        (any::<std::net::Ipv4Addr>(), any::<u16>()).prop_map(|(ip, port)| format!("{ip}:{port}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn query_parser_answers_every_input(query in texty("ab=&%+25fZ;?#", 40)) {
        match parse_query(&query) {
            Ok(pairs) => prop_assert!(pairs.len() <= query.split('&').count()),
            Err(err) => one_line(&err)?,
        }
    }

    #[test]
    fn query_decodes_what_was_encoded(pairs in proptest::collection::vec((any::<String>(), any::<String>()), 0..6)) {
        let query = pairs
            .iter()
            .map(|(n, v)| format!("{}={}", encode_component(n), encode_component(v)))
            .collect::<Vec<_>>()
            .join("&");
        prop_assert_eq!(parse_query(&query), Ok(pairs));
    }

    #[test]
    fn target_parser_answers_every_input(text in target_text()) {
        match Target::parse(&text) {
            Ok(target) => {
                prop_assert!(target.port != 0);
                prop_assert!(!target.host.is_empty());
                // What was accepted prints back to an equal target.
                let shown = if target.host.contains(':') {
                    format!("[{}]:{}", target.host, target.port)
                } else {
                    format!("{}:{}", target.host, target.port)
                };
                let again = Target::parse(&shown).expect("reparse");
                prop_assert_eq!((again.host, again.port), (target.host, target.port));
            }
            Err(err) => one_line(&err)?,
        }
    }
}

// ---- Scrape-timeout header

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn scrape_timeout_answers_every_header(
        header in prop_oneof![
            texty("0123456789.eE+-infINFa ", 24),
            any::<f64>().prop_map(|f| f.to_string()),
            any::<f64>().prop_map(|f| format!("{f:e}")),
        ],
        module_ms in proptest::option::of(0u64..=MAX_MILLIS),
        offset in prop_oneof![Just(0.5), -1e3f64..1e3],
    ) {
        let module = module_ms.map(Duration::from_millis);
        match probe_timeout(Some(&header), module, offset) {
            Ok(timeout) => {
                // A module timeout below the scrape budget always wins.
                if let (Some(module), Ok(scrape)) = (module, header.trim().parse::<f64>()) {
                    let scrape = if scrape == 0.0 { 120.0 } else { scrape };
                    if !module.is_zero() && module.as_secs_f64() < scrape - offset {
                        prop_assert_eq!(timeout, module);
                    }
                }
            }
            Err(err) => one_line(&err)?,
        }
    }
}

// ---- Module config

/// Scalars a config might hold, including ones each field rejects.
fn scalar() -> impl Strategy<Value = Value> {
    let words = proptest::sample::select(vec![
        "",
        "tcp",
        "http",
        "5s",
        "0s",
        "-1s",
        "1.5s",
        "1y",
        "TLS12",
        "TLS13",
        "TLS10",
        "ip4",
        "ip6",
        "ip9",
        "all",
        "first",
        "^SSH-2.0-",
        "^(",
        "${1}",
        "\\Q(\\E",
        "[[:alpha:]",
        "a{2,1}",
        "ssh_version",
        "__reserved",
        "0.0.0.0",
        "::1",
        "999.1.1.1",
        "/nonexistent/ca.pem",
        "EHLO prober\r",
        "a\nb",
        "modules",
        "prober",
        "tcp_connect",
    ]);
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        words.prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ]
}

/// Any YAML value of the module config, a few levels deep.
fn value() -> BoxedStrategy<Value> {
    tree(key().boxed(), scalar().boxed())
}

/// Any YAML value a few levels deep, its maps keyed by `key` and its leaves from `scalar`.
fn tree(key: BoxedStrategy<Value>, scalar: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    scalar
        .prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Sequence),
                proptest::collection::vec((key.clone(), inner), 0..4)
                    .prop_map(|entries| Value::Mapping(entries.into_iter().collect())),
            ]
        })
        .boxed()
}

/// Map keys: the schema's own names (so mutations reach deep checks) and anything else.
fn key() -> impl Strategy<Value = Value> {
    let names = proptest::sample::select(vec![
        "modules",
        "prober",
        "timeout",
        "tcp",
        "http",
        "icmp",
        "dns",
        "grpc",
        "unix",
        "preferred_ip_protocol",
        "ip_protocol_fallback",
        "source_ip_address",
        "query_response",
        "expect",
        "send",
        "starttls",
        "labels",
        "name",
        "value",
        "tls",
        "tls_config",
        "ca_file",
        "cert_file",
        "key_file",
        "server_name",
        "insecure_skip_verify",
        "min_version",
        "max_version",
        "path_trace",
        "enabled",
        "max_hops",
        "probe_all_addresses",
        "probe_all_addresses_rule",
        "probe_all_addresses_limit",
        "probe_all_addresses_concurrency",
        "tsl",
        "",
        "a\nb",
        "\u{1b}[31m\r",
    ]);
    prop_oneof![
        4 => names.prop_map(Value::from),
        1 => scalar(),
    ]
}

/// One edit of a parsed config, applied to the `at`-th node in pre-order.
#[derive(Debug, Clone)]
enum Edit {
    /// The node becomes `Value`.
    Replace(Value),
    /// A map gains (or overwrites) a key; a list gains an item.
    Insert(Value, Value),
    /// A map or list loses its `n`-th entry.
    Remove(usize),
}

fn edit() -> impl Strategy<Value = (usize, Edit)> {
    edit_with(key().boxed(), value())
}

/// An edit whose inserted keys come from `key` and whose new values from `value`.
fn edit_with(
    key: BoxedStrategy<Value>,
    value: BoxedStrategy<Value>,
) -> impl Strategy<Value = (usize, Edit)> {
    let kind = prop_oneof![
        value.clone().prop_map(Edit::Replace),
        (key, value).prop_map(|(k, v)| Edit::Insert(k, v)),
        any::<usize>().prop_map(Edit::Remove),
    ];
    (any::<usize>(), kind)
}

/// `seed` parsed, with `edits` applied in turn, printed back as YAML.
fn mutated(seed: &str, edits: &[(usize, Edit)]) -> String {
    let mut config: Value = serde_yaml::from_str(seed).expect("seed parses");
    for (at, edit) in edits {
        let mut at = at % count(&config);
        apply(&mut config, &mut at, edit);
    }
    serde_yaml::to_string(&config).expect("encode")
}

/// Number of nodes under and including `node`.
fn count(node: &Value) -> usize {
    1 + match node {
        Value::Sequence(items) => items.iter().map(count).sum(),
        Value::Mapping(map) => map.values().map(count).sum(),
        Value::Tagged(tagged) => count(&tagged.value),
        _ => 0,
    }
}

/// Applies `edit` to the `at`-th node of `node` in pre-order; returns true once applied.
fn apply(node: &mut Value, at: &mut usize, edit: &Edit) -> bool {
    if *at == 0 {
        match (edit, &mut *node) {
            (Edit::Replace(v), _) => *node = v.clone(),
            (Edit::Insert(k, v), Value::Mapping(map)) => {
                map.insert(k.clone(), v.clone());
            }
            (Edit::Insert(_, v), Value::Sequence(items)) => items.push(v.clone()),
            (Edit::Remove(n), Value::Mapping(map)) if !map.is_empty() => {
                let key = map.keys().nth(n % map.len()).cloned().expect("in range");
                map.remove(&key);
            }
            (Edit::Remove(n), Value::Sequence(items)) if !items.is_empty() => {
                items.remove(n % items.len());
            }
            _ => {}
        }
        return true;
    }
    *at -= 1;
    match node {
        Value::Sequence(items) => items.iter_mut().any(|item| apply(item, at, edit)),
        Value::Mapping(map) => map.values_mut().any(|v| apply(v, at, edit)),
        Value::Tagged(tagged) => apply(&mut tagged.value, at, edit),
        _ => false,
    }
}

/// YAML-looking lines: indentation, schema keys, `- ` items, flow collections, quotes.
fn yamlish() -> impl Strategy<Value = String> {
    let line = (
        0usize..8,
        proptest::option::of(Just("- ")),
        key(),
        proptest::sample::select(vec![
            ": ", ":", " ", ": [", ": {", ": '", ": \"", ": &a ", ": *a", ": !!str ",
        ]),
        scalar(),
    )
        .prop_map(|(indent, dash, key, sep, value)| {
            let scalar = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim_end()
                    .to_string(),
            };
            format!(
                "{}{}{}{}{}",
                "  ".repeat(indent),
                dash.unwrap_or(""),
                scalar(&key),
                sep,
                scalar(&value)
            )
        });
    proptest::collection::vec(line, 0..16).prop_map(|lines| lines.join("\n"))
}

/// Loads `text` and checks the outcome: a config whose modules are all tcp or unix, each
/// printing as YAML that loads back the same, or a one-line error naming the origin.
fn check_config(text: &str) -> Result<(), TestCaseError> {
    match Config::from_yaml_str(text, "fuzz.yml") {
        Ok(config) => {
            for warning in &config.warnings {
                one_line(warning)?;
            }
            for module in config.modules.values() {
                prop_assert!(
                    module.prober == "tcp" || module.prober == "unix",
                    "prober {}",
                    module.prober
                );
            }
            // Every module, printed as `debug=true` shows it, loads back the same.
            let mut shown = Mapping::new();
            for (name, module) in &config.modules {
                let yaml: Value =
                    serde_yaml::from_str(&module.to_yaml()).expect("module YAML parses");
                shown.insert(Value::from(name.as_str()), yaml);
            }
            let mut top = Mapping::new();
            top.insert(Value::from("modules"), Value::Mapping(shown));
            let again = serde_yaml::to_string(&Value::Mapping(top)).expect("encode");
            let reloaded = Config::from_yaml_str(&again, "shown.yml").map_err(|err| {
                TestCaseError::fail(format!("modules as shown do not load: {err}\n{again}"))
            })?;
            for (name, module) in &config.modules {
                prop_assert_eq!(reloaded.modules[name].to_yaml(), module.to_yaml());
            }
        }
        Err(err) => {
            one_line(&err)?;
            prop_assert!(
                err.to_string().starts_with("fuzz.yml:"),
                "error without origin: {}",
                err
            );
        }
    }
    Ok(())
}

#[test]
fn config_errors_quote_keys_with_line_breaks() {
    for text in [
        "modules:\n  m:\n    prober: tcp\n    tcp:\n      \"a\\nb\": 1\n",
        "modules:\n  \"a\\nb\":\n    prober: tcp\n    timeout: \"1\\ns\"\n",
        "modules:\n  \"a\\nb\":\n    prober: \"x\\ny\"\n",
    ] {
        check_config(text).unwrap_or_else(|err| panic!("{text:?}: {err}"));
    }
}

#[test]
fn seeds_load_and_print_back() {
    for (origin, text) in [
        ("seed", SEED),
        ("config.example.yml", include_str!("../config.example.yml")),
    ] {
        let config = Config::from_yaml_str(text, origin).expect("loads");
        assert!(!config.modules.is_empty(), "{origin} has tcp modules");
        check_config(text).expect(origin);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn config_loader_answers_any_text(text in prop_oneof![any::<String>(), yamlish()]) {
        check_config(&text)?;
    }

}

proptest! {
    // Each case loads the seed's regex and prints every module back: the dearest property.
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn config_loader_answers_mutated_configs(edits in proptest::collection::vec(edit(), 1..4)) {
        check_config(&mutated(SEED, &edits))?;
    }

    #[test]
    fn config_loader_answers_spliced_text(at in any::<usize>(), len in 0usize..40, insert in texty(" :-\n#'\"[]{}&*!|>", 12)) {
        let mut text = SEED.to_string();
        let mut start = at % text.len();
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.replace_range(start..end, &insert);
        check_config(&text)?;
    }
}

// ---- Web config (`--web.config.file`)

/// exporter-toolkit's example file (its docs/web-config.yml), unchanged: the seed of the web
/// config mutations here and of the `web_config` fuzz target.
const WEB_SEED: &str = include_str!("../fuzz/seeds/web-config.yml");

/// Keys of the web config (so mutations reach the deep checks) and a few it does not have.
fn web_key() -> BoxedStrategy<Value> {
    let names = proptest::sample::select(vec![
        "tls_server_config",
        "cert",
        "key",
        "cert_file",
        "key_file",
        "client_auth_type",
        "client_ca",
        "client_ca_file",
        "client_allowed_sans",
        "min_version",
        "max_version",
        "cipher_suites",
        "curve_preferences",
        "prefer_server_cipher_suites",
        "http_server_config",
        "http2",
        "headers",
        "basic_auth_users",
        "rate_limit",
        "interval",
        "burst",
        "alice",
        "Strict-Transport-Security",
        "X-Frame-Options",
        "Server",
        "",
        "a\nb",
        "\u{1b}[31m\r",
    ]);
    prop_oneof![
        4 => names.prop_map(Value::from),
        1 => web_scalar(),
    ]
    .boxed()
}

/// Values of the web config: each field's good and bad spellings, file names that exist in
/// the property's directory and ones that do not (one with a line break), and anything.
fn web_scalar() -> BoxedStrategy<Value> {
    let words = proptest::sample::select(vec![
        "",
        "server.crt",
        "server.key",
        "/nonexistent/ca.pem",
        "ca\nfile.pem",
        "NoClientCert",
        "RequestClientCert",
        "RequireAnyClientCert",
        "VerifyClientCertIfGiven",
        "RequireAndVerifyClientCert",
        "Sometimes",
        "TLS10",
        "TLS12",
        "TLS13",
        "TLS14",
        "TLS_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "X25519",
        "CurveP521",
        "deny",
        "nosniff",
        "max-age=31536000",
        "$2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze",
        "$2y$10$short",
        "1s",
        "0",
        "soon",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "-----BEGIN PRIVATE KEY-----\n\n-----END PRIVATE KEY-----\n",
    ]);
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        6 => words.prop_map(Value::from),
        1 => "\\PC{0,12}".prop_map(Value::String),
        1 => any::<String>().prop_map(Value::String),
    ]
    .boxed()
}

/// A directory holding the seed's certificate and key (`server.crt`, `server.key`), where
/// `check_web` writes the text under test.
fn web_dir(tag: &str) -> web::Scratch {
    let scratch = web::Scratch::new(tag);
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    scratch.file("server.crt", &cert.cert.pem());
    scratch.file("server.key", &cert.signing_key.serialize_pem());
    scratch
}

/// Loads `text` as the parser sees it and as the exporter loads a file (every certificate,
/// key and CA it names read, the TLS configuration built): a config, or a one-line error that
/// starts with the file name; both ways agree on whether the text is valid YAML for us.
fn check_web(text: &str, dir: &web::Scratch) -> Result<(), TestCaseError> {
    let parsed = WebConfig::from_yaml_str(text, "fuzz.yml");
    if let Err(err) = &parsed {
        one_line(err)?;
        prop_assert!(
            err.to_string().starts_with("fuzz.yml:"),
            "error without origin: {}",
            err
        );
    }
    let path = dir.file("web.yml", text);
    match webconfig::load(&path) {
        Ok(settings) => {
            let parsed = parsed.map_err(|err| {
                TestCaseError::fail(format!("parser refused what load took: {err}"))
            })?;
            prop_assert_eq!(settings.tls.is_some(), parsed.tls_enabled());
        }
        Err(err) => {
            one_line(&err)?;
            let origin = format!("{}:", path.display());
            prop_assert!(
                err.to_string().starts_with(&origin),
                "error without origin: {}",
                err
            );
        }
    }
    Ok(())
}

#[test]
fn web_config_seed_loads() {
    let dir = web_dir("prop-web-seed");
    let path = dir.file("web.yml", WEB_SEED);
    let settings = webconfig::load(&path).expect("the toolkit's example loads");
    assert!(settings.tls.is_some());
    assert_eq!(settings.users.len(), 2);
    assert_eq!(settings.rate_limit, Some((Duration::from_secs(1), 20)));
}

#[test]
fn web_config_errors_quote_file_names_with_line_breaks() {
    let dir = web_dir("prop-web-newline");
    for (text, wanted) in [
        (
            "tls_server_config:\n  cert_file: \"server\\n.crt\"\n  key_file: server.key\n",
            "tls_server_config.cert_file: failed to read ",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: \"ca\\nfile.pem\"\n",
            "tls_server_config.client_ca_file: failed to read ",
        ),
    ] {
        let path = dir.file("web.yml", text);
        let err = webconfig::load(&path).expect_err(text).to_string();
        assert!(err.contains(wanted) && err.contains("\\n"), "{text:?}: {err}");
        check_web(text, &dir).unwrap_or_else(|fail| panic!("{text:?}: {fail}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn web_config_loader_answers_any_text(text in prop_oneof![any::<String>(), yamlish()]) {
        thread_local!(static DIR: web::Scratch = web_dir("prop-web-text"));
        DIR.with(|dir| check_web(&text, dir))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// A file name goes into the error when the file cannot be read.
    #[test]
    fn web_config_loader_answers_any_file_name(
        key in proptest::sample::select(vec!["cert_file", "key_file", "client_ca_file"]),
        name in texty("ab.\n\r\t\u{1b} ", 12),
    ) {
        let mut config: Value = serde_yaml::from_str(WEB_SEED).expect("seed parses");
        let tls = &mut config["tls_server_config"];
        tls[key] = Value::from(name);
        if key == "client_ca_file" {
            tls["client_auth_type"] = Value::from("RequireAndVerifyClientCert");
        }
        let text = serde_yaml::to_string(&config).expect("encode");
        thread_local!(static DIR: web::Scratch = web_dir("prop-web-names"));
        DIR.with(|dir| check_web(&text, dir))?;
    }
}

proptest! {
    // Each case may build a TLS configuration (system roots read for a client CA).
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn web_config_loader_answers_mutated_toolkit_example(
        edits in proptest::collection::vec(edit_with(web_key(), tree(web_key(), web_scalar())), 1..4)
    ) {
        thread_local!(static DIR: web::Scratch = web_dir("prop-web-mutated"));
        let text = mutated(WEB_SEED, &edits);
        DIR.with(|dir| check_web(&text, dir))?;
    }
}

// ---- The handler, end to end

/// Query parameters as Prometheus would send them plus junk that a URI may carry (broken
/// escapes, stray separators; hyper itself answers a bare 400 to what a URI may not hold), with the target
/// replaced by a closed loopback port whenever it would parse: the property runs real probes,
/// and those may only reach loopback.
fn probe_query() -> impl Strategy<Value = String> {
    let module = proptest::sample::select(vec!["tcp_connect", "tls_connect", "", "nope"]);
    (
        module,
        target_text(),
        chars_of("%+&=zZ9/?", 6),
        any::<bool>(),
    )
        .prop_map(|(module, target, junk, debug)| {
            let target = if Target::parse(&target).is_ok() {
                "127.0.0.1:9".to_string()
            } else {
                target
            };
            let mut query = format!(
                "module={}&target={}",
                encode_component(module),
                encode_component(&target)
            );
            query.push_str(&junk);
            if debug {
                query.push_str("&debug=true");
            }
            query
        })
}

/// Header values a client might send: numbers in every notation and stray visible ASCII.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}".prop_map(|s| s.trim().to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        (0.0f64..10.0).prop_map(|f| f.to_string()),
    ]
}

proptest! {
    // Each case is a real HTTP exchange (and sometimes a real refused connect on loopback).
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn probe_endpoint_answers_every_request(query in probe_query(), header in header_value()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let response = runtime.block_on(async {
            let server = support::Server::builtin().await;
            let response = server
                .request("GET", &format!("/probe?{query}"), &[(SCRAPE_TIMEOUT_HEADER, &header)])
                .await;
            server.stop().await.expect("server stops");
            response
        });
        match response.status {
            200 => {}
            400 => {
                let reason = response.body.strip_suffix('\n').unwrap_or(&response.body);
                prop_assert!(!reason.is_empty(), "400 without a reason for {query:?}: {response:?}");
                one_line(&reason)?;
            }
            other => prop_assert!(false, "status {other} for {query:?}: {}", response.body),
        }
    }
}
