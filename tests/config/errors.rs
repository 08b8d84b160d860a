//! One test per `testdata/invalid-*.yml`: each asserts the exact one-line error a user reads,
//! with file, line, column and key path.

use std::path::Path;

use handshake_exporter::config::{Config, ConfigError};

/// The error text of loading `testdata/<file>`.
fn load_error(file: &str) -> String {
    let path = Path::new("testdata").join(file);
    match Config::load_file(&path) {
        Ok(config) => panic!("{file} loaded: {:?}", config.modules.keys()),
        Err(err) => err.to_string(),
    }
}

macro_rules! invalid {
    ($($test:ident: $file:literal => $text:literal;)*) => {$(
        #[test]
        fn $test() {
            assert_eq!(load_error($file), concat!("testdata/", $file, ":", $text));
        }
    )*};
}

invalid! {
    unknown_tcp_key: "invalid-unknown-field.yml" =>
        "7:7: modules.tcp_connect.tcp: unknown field `tsl`, expected one of \
         `preferred_ip_protocol`, `ip_protocol_fallback`, `source_ip_address`, `query_response`, \
         `tls`, `starttls`, `tls_config`, `path_trace`, `probe_all_addresses`, \
         `probe_all_addresses_rule`, `probe_all_addresses_limit`, `probe_all_addresses_concurrency`, \
         `proxy_url`, `proxy_username`, `proxy_password`, `fail_if_revoked`";
    unknown_module_key: "invalid-unknown-module-key.yml" =>
        "4:5: modules.tcp_connect: unknown field `timout`, expected one of `prober`, `timeout`, \
         `tcp`, `restrictions`, `http`, `icmp`, `dns`, `grpc`, `unix`, `expect_failure`";
    unknown_top_level_key: "invalid-unknown-top-level-key.yml" =>
        "4:1: unknown field `modules_extra`, expected `modules` or `restrictions`";
    unknown_step_key: "invalid-step-key.yml" =>
        "8:11: modules.imap_starttls.tcp.query_response[2]: unknown field `start_tls`, expected \
         one of `expect`, `expect_bytes`, `send`, `send_bytes`, `starttls`, `labels`";
    secret_manager_reference: "invalid-tls-secret-ref.yml" =>
        "7:9: modules.mtls.tcp.tls_config: `cert_ref` is not supported: it names a secret \
         manager entry and this exporter has no secret manager; use `cert_file` or `cert`";
    inline_and_file_ca: "invalid-tls-ca-twice.yml" =>
        "7:9: modules.tls.tcp.tls_config: at most one of `ca` and `ca_file` may be set";
    unknown_tls_config_key: "invalid-tls-config-key.yml" =>
        "7:9: modules.tls_connect.tcp.tls_config: unknown field `insecure_skip_verfy`, expected \
         one of `ca`, `cert`, `key`, `ca_file`, `cert_file`, `key_file`, `ca_ref`, `cert_ref`, \
         `key_ref`, `server_name`, `insecure_skip_verify`, `min_version`, `max_version`, `stack`, \
         `crl_check`";
    unknown_crl_check_key: "invalid-crl-check-key.yml" =>
        "9:11: modules.tls_crl.tcp.tls_config.crl_check: unknown field `timeout`, expected \
         `enabled` or `fetch_timeout`";
    crl_fetch_timeout_not_a_duration: "invalid-crl-fetch-timeout.yml" =>
        "9:26: modules.tls_crl.tcp.tls_config.crl_check.fetch_timeout: not a valid duration \
         string: \"soon\"";
    missing_prober: "invalid-missing-prober.yml" =>
        "5:5: modules.ssh_banner: missing field `prober`";
    module_not_a_map: "invalid-module-not-map.yml" =>
        "2:16: modules.tcp_connect: invalid type: string \"tcp\", expected a module: a map with \
         a `prober` key";
    module_name_empty: "invalid-module-name-empty.yml" =>
        "2:3: modules: module name must not be empty";
    module_name_duplicate: "invalid-module-duplicate.yml" =>
        "4:3: modules: duplicate module `tcp_connect`";
    regex_does_not_compile: "invalid-regex.yml" =>
        "6:19: modules.smtp_banner.tcp.query_response[0].expect: failed to compile regexp \
         `^220 ([^ ]+ ESMTP`: unclosed group";
    labels_without_expect: "invalid-labels-without-expect.yml" =>
        "7:11: modules.ssh_banner.tcp.query_response[1]: `labels` need an `expect` regexp in \
         the same step";
    label_name_invalid: "invalid-label-name.yml" =>
        "8:21: modules.ssh_banner.tcp.query_response[0].labels[0].name: invalid label name \
         `ssh-version`, it must match [a-zA-Z_][a-zA-Z0-9_]*";
    label_name_reserved: "invalid-label-reserved.yml" =>
        "8:21: modules.ssh_banner.tcp.query_response[0].labels[0].name: label name `__name__` \
         is reserved: names starting with `__` are internal to Prometheus";
    label_name_duplicate: "invalid-label-duplicate.yml" =>
        "6:11: modules.ssh_banner.tcp.query_response[0]: duplicate label name `ssh_version`";
    cert_without_key: "invalid-cert-without-key.yml" =>
        "7:9: modules.tls_client_auth.tcp.tls_config: `cert_file` is set but `key_file` is not: \
         a client certificate needs its key";
    key_without_cert: "invalid-key-without-cert.yml" =>
        "7:9: modules.tls_client_auth.tcp.tls_config: `key_file` is set but `cert_file` is not: \
         a client key needs its certificate";
    tls_min_above_max: "invalid-tls-version-order.yml" =>
        "7:9: modules.tls_modern.tcp.tls_config: `min_version` TLS13 is above `max_version` TLS12";
    tls_stack_unknown: "invalid-tls-stack.yml" =>
        "7:16: modules.idrac.tcp.tls_config.stack: unknown TLS stack `gnutls`, expected \
         `rustls` or `openssl`";
    tls_stack_rustls_below_tls12: "invalid-tls-stack-version.yml" =>
        "7:9: modules.idrac.tcp.tls_config: `max_version` TLS11 needs `stack: openssl`: rustls \
         speaks TLS 1.2 and 1.3 only";
    tls_version_unknown: "invalid-tls-version.yml" =>
        "7:22: modules.tls_modern.tcp.tls_config.min_version: unknown TLS version `TLS1.2`, \
         expected one of `TLS10`, `TLS11`, `TLS12`, `TLS13`";
    max_hops_out_of_range: "invalid-max-hops.yml" =>
        "7:19: modules.tcp_traced.tcp.path_trace.max_hops: must be between 1 and 64, got `65`";
    timeout_zero: "invalid-timeout-zero.yml" =>
        "4:14: modules.tcp_connect.timeout: must be greater than zero, got `0s`";
    timeout_negative: "invalid-timeout-negative.yml" =>
        "4:14: modules.tcp_connect.timeout: must be greater than zero, got `-5s`";
    timeout_units_out_of_order: "invalid-timeout-syntax.yml" =>
        "4:14: modules.tcp_connect.timeout: not a valid duration string: \"30s1m\"";
    timeout_unknown_unit: "invalid-timeout-unit.yml" =>
        "4:14: modules.tcp_connect.timeout: unknown unit \"sec\" in duration \"5sec\"";
    ip_protocol_unknown: "invalid-ip-protocol.yml" =>
        "5:30: modules.tcp_connect.tcp.preferred_ip_protocol: unknown IP protocol `ip5`, \
         expected `ip4` or `ip6`";
    address_rule_unknown: "invalid-address-rule.yml" =>
        "6:33: modules.tcp_every_address.tcp.probe_all_addresses_rule: unknown rule `most`, \
         expected `all` or `any`";
    address_limit_zero: "invalid-address-limit.yml" =>
        "6:34: modules.tcp_every_address.tcp.probe_all_addresses_limit: must be between 1 and \
         1024, got `0`";
    address_concurrency_too_high: "invalid-address-concurrency.yml" =>
        "6:40: modules.tcp_every_address.tcp.probe_all_addresses_concurrency: must be between 1 \
         and 1024, got `1025`";
    source_ip_invalid: "invalid-source-ip.yml" =>
        "5:26: modules.tcp_connect.tcp.source_ip_address: invalid IP address `192.0.2.300`";
    wrong_type: "invalid-type.yml" =>
        "5:12: modules.tcp_connect.tcp.tls: invalid type: string \"maybe\", expected a boolean";
    yaml_syntax: "invalid-yaml-syntax.yml" =>
        "4:4: did not find expected key, while parsing a block mapping at line 2 column 3";
    two_documents: "invalid-two-documents.yml" =>
        "4:1: deserializing from YAML containing more than one document is not supported";
    empty_file: "invalid-empty.yml" =>
        "1:1: the file is empty or holds only comments, expected a map with a `modules` key";
    comments_only: "invalid-comments-only.yml" =>
        "4:1: the file is empty or holds only comments, expected a map with a `modules` key";
    starttls_protocol_unknown: "invalid-starttls-protocol.yml" =>
        "5:17: modules.smtp.tcp.starttls: unknown STARTTLS protocol `smtps`, expected one of \
         smtp, lmtp, imap, pop3, ftp, xmpp, xmpp-server, ldap, postgres, mysql, nntp, sieve";
    starttls_and_tls: "invalid-starttls-and-tls.yml" =>
        "3:5: modules.smtp: `starttls: smtp` and `tls: true` are mutually exclusive: the \
         upgrade starts TLS";
    starttls_and_starttls_step: "invalid-starttls-twice.yml" =>
        "3:5: modules.smtp: `starttls: smtp` already starts TLS: remove `starttls: true` from \
         query_response";
    send_bytes_beyond_ascii: "invalid-send-bytes-utf8.yml" =>
        "6:23: modules.postgres.tcp.query_response[0].send_bytes: character 'Ò' at 0 is not \
         printable ASCII: write bytes as \\xNN (in single quotes, so YAML keeps the backslash)";
    send_bytes_bad_escape: "invalid-send-bytes-escape.yml" =>
        "6:23: modules.postgres.tcp.query_response[0].send_bytes: `\\x` at 0 needs two hex \
         digits";
    send_and_send_bytes: "invalid-send-and-send-bytes.yml" =>
        "6:11: modules.postgres.tcp.query_response[0]: `send` and `send_bytes` are mutually \
         exclusive";
    expect_failure_without_phases_or_classes: "invalid-expect-failure-empty.yml" =>
        "6:7: modules.port_closed.expect_failure: `expect_failure` needs `phases` or `classes`: \
         which failures pass the probe";
    expect_failure_unknown_class: "invalid-expect-failure-class.yml" =>
        "7:26: modules.port_closed.expect_failure.classes[1]: unknown failure class \
         `connection_refused`, expected a class of docs/metrics.md such as `refused`, `timeout` \
         or `tls_alert`";
    unix_tls: "invalid-unix-tls.yml" =>
        "5:7: modules.unix_tls.unix: tls_config: the OpenSSL stack (stack: openssl, or a TLS \
         version below TLS12) is not supported over a Unix socket by this exporter";
    prober_unknown: "invalid-prober.yml" =>
        "5:13: modules.ssh_banner.prober: unknown prober `tpc`, expected one of `http`, `tcp`, \
         `icmp`, `dns`, `grpc`, `unix`, `websocket`";
}

#[test]
fn every_invalid_file_has_a_test() {
    let source = include_str!("errors.rs");
    let mut files: Vec<String> = std::fs::read_dir("testdata")
        .expect("testdata")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("invalid-"))
        .collect();
    files.sort();
    for file in files {
        assert!(
            source.contains(&format!("\"{file}\"")),
            "no test for {file}"
        );
    }
}

#[test]
fn missing_file_names_the_path() {
    let err = Config::load_file(Path::new("testdata/does-not-exist.yml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with("failed to read testdata/does-not-exist.yml: "),
        "{err}"
    );
}

#[test]
fn error_carries_position_fields() {
    let text = "modules:\n  m:\n    prober: tcp\n    tcp:\n      tls: 3\n";
    match Config::from_yaml_str(text, "inline.yml") {
        Err(ConfigError::Invalid {
            origin,
            line,
            column,
            message,
        }) => {
            assert_eq!((origin.as_str(), line, column), ("inline.yml", 5, 12));
            assert!(message.starts_with("modules.m.tcp.tls: "), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}
