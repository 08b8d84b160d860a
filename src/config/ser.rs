//! Writing a module back as YAML in the schema it was read from, for `/probe?debug=true`:
//! the `Serialize` impls and `serialize_with` helpers of the config types.

use std::path::Path;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::{duration, AddressRule, IpProtocol, Pem, TlsConfig, TlsStack, TlsVersion};

/// A timeout as a Prometheus duration string (`5s`, `1m30s`).
pub(super) fn timeout<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => s.serialize_str(&duration::format_duration(*value)),
        None => s.serialize_none(),
    }
}

/// An `expect` regex as the pattern it was compiled from.
pub(super) fn regex<S: Serializer>(value: &Option<regex::Regex>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(re) => s.serialize_str(re.as_str()),
        None => s.serialize_none(),
    }
}

/// `send_bytes` in the escapes it is written with.
pub(super) fn send_bytes<S: Serializer>(value: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::bytes::format(value))
}

/// Whether a bool is `false`, to leave unset flags out of a step.
pub(super) fn is_false(value: &bool) -> bool {
    !*value
}

impl Serialize for IpProtocol {
    /// `ip4` or `ip6`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for TlsVersion {
    /// `TLS10` to `TLS13`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.config_name())
    }
}

/// A `tls_config` block with the keys it is written with, unset ones left out.
#[derive(Serialize)]
struct TlsKeys<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ca: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_file: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_file: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_name: Option<&'a str>,
    insecure_skip_verify: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_version: Option<TlsVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_version: Option<TlsVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack: Option<TlsStack>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crl_check: Option<&'a super::CrlCheck>,
}

impl Serialize for TlsConfig {
    /// The keys of blackbox_exporter's `tls_config`, as they were read; an inline `key` shows
    /// as `<secret>`, as the Prometheus common library prints a secret.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let cert = self.client_cert.as_ref();
        TlsKeys {
            ca: self.ca.as_deref(),
            cert: cert.and_then(|c| match &c.cert {
                Pem::Inline(text) => Some(text.as_str()),
                Pem::File(_) => None,
            }),
            key: cert.and_then(|c| match c.key {
                Pem::Inline(_) => Some("<secret>"),
                Pem::File(_) => None,
            }),
            ca_file: self.ca_file.as_deref(),
            cert_file: cert.and_then(|c| pem_file(&c.cert)),
            key_file: cert.and_then(|c| pem_file(&c.key)),
            server_name: self.server_name.as_deref(),
            insecure_skip_verify: self.insecure_skip_verify,
            min_version: self.versions.min(),
            max_version: self.versions.max(),
            stack: self.stack,
            crl_check: Some(&self.crl_check).filter(|c| **c != super::CrlCheck::default()),
        }
        .serialize(s)
    }
}

/// The path of a PEM file, `None` for inline PEM.
fn pem_file(pem: &Pem) -> Option<&Path> {
    match pem {
        Pem::File(path) => Some(path),
        Pem::Inline(_) => None,
    }
}

impl Serialize for TlsStack {
    /// `rustls` or `openssl`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for AddressRule {
    /// `all` or `any`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
