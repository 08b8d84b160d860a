//! Reading the values inside a tcp module: the `Deserialize` impls and `deserialize_with`
//! helpers of the `tcp:` block's types, with the checks blackbox_exporter (and the Prometheus
//! common library it uses for `tls_config`) run at load, plus our own.
//!
//! A YAML `null` (`key:` with nothing after it) is read as "not given", i.e. the default.

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{
    re2, AddressRule, ClientCert, ExpectLabel, IpProtocol, PathTrace, Pem, QueryResponse,
    TlsConfig, TlsStack, TlsVersion, VersionRange,
};

/// Highest `path_trace.max_hops`: 64 covers the longest Internet paths seen in practice
/// (typically 10-30 hops) with room to spare, while bounding a trace's cost.
pub const MAX_HOPS_LIMIT: u8 = 64;

/// Highest `probe_all_addresses_limit` and `probe_all_addresses_concurrency`: each address
/// probed at once holds a socket, so one probe holds at most this many.
pub const MAX_ADDRESSES_LIMIT: usize = 1024;

/// Default `probe_all_addresses_limit`: distinct addresses probed in all.
pub const DEFAULT_ADDRESS_LIMIT: usize = 16;

/// Default `probe_all_addresses_concurrency`: addresses probed at once.
pub const DEFAULT_ADDRESS_CONCURRENCY: usize = 8;

/// `T`, with `null` read as `T::default()`.
pub(super) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A bool whose default is `true` (`ip_protocol_fallback`), with `null` read as `true`.
pub(super) fn null_as_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

/// An optional string where `""` means "not given", as in Go.
pub(super) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

/// An optional file path where `""` means "not given". The file is read at probe time.
pub(super) fn opt_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    Ok(opt_string(d)?.map(PathBuf::from))
}

/// A scalar read as text and checked by `parse` inside the visitor, so that `serde_yaml` puts
/// the value's own line, column and key path on the error. Numbers arrive as their text, as
/// Go's YAML decoder gives them to a string field.
pub(super) struct StrVisitor<T, F> {
    expecting: &'static str,
    parse: F,
    out: PhantomData<T>,
}

impl<T, F: FnOnce(&str) -> Result<T, String>> StrVisitor<T, F> {
    /// A visitor described as `expecting` in type errors.
    pub(super) fn new(expecting: &'static str, parse: F) -> Self {
        StrVisitor {
            expecting,
            parse,
            out: PhantomData,
        }
    }
}

impl<T, F: FnOnce(&str) -> Result<T, String>> Visitor<'_> for StrVisitor<T, F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }
}

/// `source_ip_address`: an IPv4 or IPv6 literal, `""` meaning "not given".
pub(super) fn opt_ip<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpAddr>, D::Error> {
    struct OptIp(Option<IpAddr>);
    impl<'de> Deserialize<'de> for OptIp {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(StrVisitor::new("an IP address", |text| match text {
                "" => Ok(OptIp(None)),
                text => text
                    .parse()
                    .map(|ip| OptIp(Some(ip)))
                    .map_err(|_| format!("invalid IP address `{text}`")),
            }))
        }
    }
    Ok(Option::<OptIp>::deserialize(d)?.and_then(|ip| ip.0))
}

/// `path_trace.max_hops`: 1 to [`MAX_HOPS_LIMIT`], `null` meaning the default 16.
pub(super) fn max_hops<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    struct Hops(u8);
    impl<'de> Deserialize<'de> for Hops {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(StrVisitor::new("a hop count", |text| {
                text.parse::<u8>()
                    .ok()
                    .filter(|hops| (1..=MAX_HOPS_LIMIT).contains(hops))
                    .map(Hops)
                    .ok_or_else(|| format!("must be between 1 and {MAX_HOPS_LIMIT}, got `{text}`"))
            }))
        }
    }
    Ok(Option::<Hops>::deserialize(d)?.map_or(PathTrace::default().max_hops, |h| h.0))
}

/// A count of addresses: 1 to [`MAX_ADDRESSES_LIMIT`], `null` meaning `default`.
fn address_count<'de, D: Deserializer<'de>>(d: D, default: usize) -> Result<usize, D::Error> {
    struct Count(usize);
    impl<'de> Deserialize<'de> for Count {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(StrVisitor::new("a number of addresses", |text| {
                text.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_ADDRESSES_LIMIT).contains(n))
                    .map(Count)
                    .ok_or_else(|| {
                        format!("must be between 1 and {MAX_ADDRESSES_LIMIT}, got `{text}`")
                    })
            }))
        }
    }
    Ok(Option::<Count>::deserialize(d)?.map_or(default, |c| c.0))
}

/// `probe_all_addresses_limit`: see [`address_count`]; default [`DEFAULT_ADDRESS_LIMIT`].
pub(super) fn address_limit<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    address_count(d, DEFAULT_ADDRESS_LIMIT)
}

/// `probe_all_addresses_concurrency`: see [`address_count`]; default
/// [`DEFAULT_ADDRESS_CONCURRENCY`].
pub(super) fn address_concurrency<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    address_count(d, DEFAULT_ADDRESS_CONCURRENCY)
}

/// A `probe_expect_info` label name: Prometheus' `[a-zA-Z_][a-zA-Z0-9_]*`, and not starting
/// with `__`, which Prometheus reserves for its own use (Prometheus data model documentation).
pub(super) fn label_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_str(StrVisitor::new("a label name", |name| {
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "invalid label name `{name}`, it must match [a-zA-Z_][a-zA-Z0-9_]*"
            ));
        }
        if name.starts_with("__") {
            return Err(format!(
                "label name `{name}` is reserved: names starting with `__` are internal to Prometheus"
            ));
        }
        Ok(name.to_string())
    }))
}

/// An `expect` pattern, compiled at load (Go RE2 syntax, see [`re2`]).
struct Expect(regex::Regex);

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("a regexp", |pattern| {
            re2::compile(pattern)
                .map(Expect)
                .map_err(|err| format!("failed to compile regexp `{pattern}`: {err}"))
        }))
    }
}

// ---- IpProtocol, AddressRule, TlsVersion

impl<'de> Deserialize<'de> for IpProtocol {
    /// `ip4` or `ip6` as blackbox_exporter documents them; `ipv4`/`ipv6` are accepted too, and
    /// `""` means the default, ip6.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("`ip4` or `ip6`", |text| match text {
            "ip4" | "ipv4" => Ok(IpProtocol::Ip4),
            "ip6" | "ipv6" | "" => Ok(IpProtocol::Ip6),
            other => Err(format!(
                "unknown IP protocol `{other}`, expected `ip4` or `ip6`"
            )),
        }))
    }
}

impl<'de> Deserialize<'de> for AddressRule {
    /// `all` or `any`; `""` means the default, all.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("`all` or `any`", |text| match text {
            "all" | "" => Ok(AddressRule::All),
            "any" => Ok(AddressRule::Any),
            other => Err(format!("unknown rule `{other}`, expected `all` or `any`")),
        }))
    }
}

impl<'de> Deserialize<'de> for TlsVersion {
    /// `TLS10` to `TLS13`, the spellings of the Prometheus common library's `TLSVersion`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("a TLS version", |text| {
            TlsVersion::ALL
                .into_iter()
                .find(|v| v.config_name() == text)
                .ok_or_else(|| {
                    format!(
                        "unknown TLS version `{text}`, expected one of `TLS10`, `TLS11`, \
                         `TLS12`, `TLS13`"
                    )
                })
        }))
    }
}

impl<'de> Deserialize<'de> for TlsStack {
    /// `rustls` or `openssl`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new(
            "`rustls` or `openssl`",
            |text| match text {
                "rustls" => Ok(TlsStack::Rustls),
                "openssl" => Ok(TlsStack::OpenSsl),
                other => Err(format!(
                    "unknown TLS stack `{other}`, expected `rustls` or `openssl`"
                )),
            },
        ))
    }
}

// ---- QueryResponse

/// A `send_bytes` value, its escapes read at load (see `config/bytes.rs`).
struct SendBytes(Vec<u8>);

impl<'de> Deserialize<'de> for SendBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("bytes with \\xNN escapes", |text| {
            super::bytes::parse(text).map(SendBytes)
        }))
    }
}

/// A `query_response` step as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    expect: Option<Expect>,
    #[serde(default, deserialize_with = "null_as_default")]
    expect_bytes: String,
    #[serde(default, deserialize_with = "null_as_default")]
    send: String,
    #[serde(default)]
    send_bytes: Option<SendBytes>,
    #[serde(default, deserialize_with = "null_as_default")]
    starttls: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    labels: Vec<ExpectLabel>,
}

impl<'de> Deserialize<'de> for QueryResponse {
    /// Reads a step; `labels` need an `expect` in the same step (as blackbox_exporter checks),
    /// `expect` and `expect_bytes` exclude each other (blackbox_exporter 0.28), and label names
    /// are distinct (one metric cannot carry a label twice).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = QueryResponse;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a query_response step: a map of expect, expect_bytes, send, send_bytes, starttls, labels",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<QueryResponse, A::Error> {
        let raw = RawStep::deserialize(MapAccessDeserializer::new(map))?;
        if raw.expect.is_some() && !raw.expect_bytes.is_empty() {
            return Err(de::Error::custom(
                "`expect` and `expect_bytes` are mutually exclusive",
            ));
        }
        let send_bytes = raw.send_bytes.map(|b| b.0).unwrap_or_default();
        if !raw.send.is_empty() && !send_bytes.is_empty() {
            return Err(de::Error::custom(
                "`send` and `send_bytes` are mutually exclusive",
            ));
        }
        if !raw.labels.is_empty() && raw.expect.is_none() {
            return Err(de::Error::custom(
                "`labels` need an `expect` regexp in the same step",
            ));
        }
        let mut names = BTreeSet::new();
        if let Some(dup) = raw.labels.iter().find(|l| !names.insert(l.name.as_str())) {
            return Err(de::Error::custom(format!(
                "duplicate label name `{}`",
                dup.name
            )));
        }
        Ok(QueryResponse {
            expect: raw.expect.map(|e| e.0),
            expect_bytes: raw.expect_bytes,
            send: raw.send,
            send_bytes,
            starttls: raw.starttls,
            labels: raw.labels,
        })
    }
}

// ---- TlsConfig

/// A `tls_config` block as written: the keys of the Prometheus common library's `TLSConfig`
/// (v0.67, the one blackbox_exporter 0.28 uses).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default, deserialize_with = "opt_string")]
    ca: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    cert: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "opt_path")]
    ca_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "opt_path")]
    cert_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "opt_path")]
    key_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "opt_string")]
    ca_ref: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    cert_ref: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    key_ref: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    server_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    insecure_skip_verify: bool,
    #[serde(default)]
    min_version: Option<TlsVersion>,
    #[serde(default)]
    max_version: Option<TlsVersion>,
    #[serde(default)]
    stack: Option<TlsStack>,
    #[serde(default, deserialize_with = "null_as_default")]
    crl_check: super::CrlCheck,
}

impl<'de> Deserialize<'de> for TlsConfig {
    /// Reads `tls_config`. As the Prometheus common library checks: at most one of `ca` and
    /// `ca_file` (likewise `cert`/`cert_file`, `key`/`key_file`), a client certificate needs its
    /// key and the reverse; and `min_version` may not exceed `max_version`. The secret manager
    /// references (`ca_ref`, `cert_ref`, `key_ref`) are rejected: there is no secret manager
    /// here to resolve them.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TlsVisitor)
    }
}

struct TlsVisitor;

/// The one PEM source given of the inline key `inline` and the file key `file`, with the name
/// of the key it came from.
fn one_of<E: de::Error>(
    inline: &'static str,
    text: Option<String>,
    file: &'static str,
    path: Option<PathBuf>,
) -> Result<Option<(&'static str, Pem)>, E> {
    match (text, path) {
        (Some(_), Some(_)) => Err(E::custom(format!(
            "at most one of `{inline}` and `{file}` may be set"
        ))),
        (Some(text), None) => Ok(Some((inline, Pem::Inline(text)))),
        (None, Some(path)) => Ok(Some((file, Pem::File(path)))),
        (None, None) => Ok(None),
    }
}

impl<'de> Visitor<'de> for TlsVisitor {
    type Value = TlsConfig;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tls_config map")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TlsConfig, A::Error> {
        let raw = RawTls::deserialize(MapAccessDeserializer::new(map))?;
        for (key, set, instead) in [
            ("ca_ref", &raw.ca_ref, "`ca_file` or `ca`"),
            ("cert_ref", &raw.cert_ref, "`cert_file` or `cert`"),
            ("key_ref", &raw.key_ref, "`key_file` or `key`"),
        ] {
            if set.is_some() {
                return Err(de::Error::custom(format!(
                    "`{key}` is not supported: it names a secret manager entry and this exporter has no secret manager; use {instead}"
                )));
            }
        }
        let ca = one_of("ca", raw.ca, "ca_file", raw.ca_file.clone())?;
        let cert = one_of("cert", raw.cert, "cert_file", raw.cert_file)?;
        let key = one_of("key", raw.key, "key_file", raw.key_file)?;
        let client_cert = match (cert, key) {
            (Some((name, _)), None) => {
                return Err(de::Error::custom(format!(
                    "`{name}` is set but `key_file` is not: a client certificate needs its key"
                )))
            }
            (None, Some((name, _))) => {
                return Err(de::Error::custom(format!(
                    "`{name}` is set but `cert_file` is not: a client key needs its certificate"
                )))
            }
            (Some((_, cert)), Some((_, key))) => Some(ClientCert { cert, key }),
            (None, None) => None,
        };
        let versions =
            VersionRange::new(raw.min_version, raw.max_version).map_err(de::Error::custom)?;
        if let (Some(TlsStack::Rustls), Some(max)) = (raw.stack, raw.max_version) {
            if max < TlsVersion::Tls12 {
                return Err(de::Error::custom(format!(
                    "`max_version` {} needs `stack: openssl`: rustls speaks TLS 1.2 and 1.3 only",
                    max.config_name()
                )));
            }
        }
        Ok(TlsConfig {
            ca_file: raw.ca_file,
            ca: ca.and_then(|(_, pem)| match pem {
                Pem::Inline(text) => Some(text),
                Pem::File(_) => None,
            }),
            client_cert,
            server_name: raw.server_name,
            insecure_skip_verify: raw.insecure_skip_verify,
            versions,
            stack: raw.stack,
            crl_check: raw.crl_check,
        })
    }
}
