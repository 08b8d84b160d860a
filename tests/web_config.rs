//! Loading `--web.config.file`: exporter-toolkit's documented layout loads unchanged, and each
//! rule's error names file, line, column and key, as a user reads it.

#[allow(dead_code)]
mod web;

use handshake_exporter::webconfig::{load, WebConfig};
use web::Scratch;

fn error(text: &str) -> String {
    match WebConfig::from_yaml_str(text, "web.yml") {
        Ok(config) => panic!("accepted:\n{text}\n{config:?}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn toolkit_documented_layout_loads_unchanged() {
    let scratch = Scratch::new("web-config-doc");
    let pki = lab_free_pki();
    scratch.file("server.crt", &pki.0);
    scratch.file("server.key", &pki.1);
    // Every documented key with the toolkit's spelling and a documented value.
    let path = scratch.file(
        "web-config.yml",
        "# TLS and basic authentication configuration example.\n\
         tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: NoClientCert\n  min_version: TLS12\n  max_version: TLS13\n  \
         cipher_suites:\n    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n    - TLS_AES_128_GCM_SHA256\n  \
         prefer_server_cipher_suites: true\n  curve_preferences:\n    - X25519\n    - CurveP256\n\
         http_server_config:\n  http2: true\n  headers:\n    Content-Security-Policy: default-src 'self'\n    \
         X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: 1; mode=block\n    \
         Strict-Transport-Security: max-age=31536000\n\
         basic_auth_users:\n  alice: $2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze\n\
         rate_limit:\n  interval: 1s\n  burst: 20\n",
    );
    let settings = load(&path).expect("the documented layout must load");
    assert!(settings.tls.is_some());
    assert_eq!(settings.headers.len(), 5);
    assert_eq!(settings.rate_limit.map(|(_, burst)| burst), Some(20));
    assert!(settings.users.contains_key("alice"));
}

/// A self-signed ECDSA certificate and key made by rcgen, as PEM.
fn lab_free_pki() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

#[test]
fn errors_name_file_line_and_key() {
    let cases = [
        ("tls_server_config:\n  cert_fil: a\n", "web.yml:2:3: tls_server_config: unknown field `cert_fil`"),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
         "web.yml:4:18: tls_server_config.cipher_suites: cipher suite TLS_RSA_WITH_AES_128_CBC_SHA is not available"),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_MADE_UP]\n",
         "unknown cipher suite \"TLS_MADE_UP\""),
        ("tls_server_config:\n  curve_preferences: [CurveP521]\n", "web.yml:2:22: tls_server_config.curve_preferences: curve CurveP521 is not available"),
        ("tls_server_config:\n  client_auth_type: Sometimes\n", "web.yml:2:21: tls_server_config.client_auth_type: invalid client_auth_type \"Sometimes\""),
        ("tls_server_config:\n  min_version: TLS14\n", "unknown TLS version \"TLS14\""),
        ("tls_server_config:\n  cert_file: a\n", "web.yml:1:1: tls_server_config.key_file: missing one of key or key_file"),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  max_version: TLS11\n", "web.yml:4:3: tls_server_config.max_version: TLS 1.0 and 1.1 are not served"),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n", "web.yml:4:3: tls_server_config.client_ca_file: client CAs are configured without a client_auth_type"),
        ("http_server_config:\n  headers:\n    Server: me\n", "web.yml:3:13: http_server_config.headers.Server: HTTP header \"Server\" can not be configured"),
        ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n", "invalid value \"allow\" for HTTP header X-Frame-Options: use deny or sameorigin"),
        ("basic_auth_users:\n  bob: plain\n", "web.yml:2:8: basic_auth_users.bob: user \"bob\": the password is not a bcrypt hash"),
        ("rate_limit:\n  interval: soon\n", "web.yml:2:13: rate_limit.interval: not a valid duration string"),
        ("unknown_block: {}\n", "web.yml:1:1: unknown field `unknown_block`"),
    ];
    let mut wrong = Vec::new();
    for (text, wanted) in cases {
        let got = error(text);
        if !got.contains(wanted) {
            wrong.push(format!("for:\n{text}wanted {wanted:?}\ngot    {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn files_named_by_the_config_fail_with_their_key() {
    let scratch = Scratch::new("web-config-files");
    let path = scratch.file(
        "web.yml",
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
    );
    let err = load(&path).unwrap_err().to_string();
    assert!(
        err.contains("web.yml:2:3: tls_server_config.cert_file: failed to read")
            && err.contains("missing.crt"),
        "{err}"
    );
    scratch.file("bad.crt", "not pem\n");
    let path = scratch.file(
        "web2.yml",
        "tls_server_config:\n  cert_file: bad.crt\n  key_file: bad.crt\n",
    );
    let err = load(&path).unwrap_err().to_string();
    assert!(
        err.contains("tls_server_config.cert_file: no PEM certificate found"),
        "{err}"
    );
}

#[test]
fn empty_file_means_plain_http_without_auth() {
    for text in [
        "",
        "---\n",
        "tls_server_config:\nhttp_server_config:\nbasic_auth_users:\n",
    ] {
        let config = WebConfig::from_yaml_str(text, "web.yml").expect(text);
        assert!(!config.tls_enabled());
        assert!(config.basic_auth_users.is_empty());
    }
}
