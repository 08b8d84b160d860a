//! The `--web.config.file` format of Prometheus' exporter-toolkit (its
//! `docs/web-configuration.md`), read strictly: unknown keys are errors, every error names file,
//! line, column and key, and a file written for blackbox_exporter loads unchanged.
//!
//! This file only reads and checks the YAML; [`super::tls`] turns the TLS block into a rustls
//! server configuration and [`super::Web`] keeps the result current.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::config::{one_line, parse_duration, ConfigError};

/// The file as written: the toolkit's four top-level blocks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// HTTPS settings; absent (or with no certificate key set) means plain HTTP.
    #[serde(deserialize_with = "null_as_default")]
    pub tls_server_config: TlsServerConfig,
    /// Response headers and HTTP/2.
    #[serde(deserialize_with = "null_as_default")]
    pub http_server_config: HttpServerConfig,
    /// User name to bcrypt hash; empty means no basic authentication.
    #[serde(deserialize_with = "users")]
    pub basic_auth_users: BTreeMap<String, String>,
    /// The toolkit's token bucket in front of every route (429 beyond it).
    #[serde(deserialize_with = "null_as_default")]
    pub rate_limit: RateLimit,
}

/// `tls_server_config`. Go's defaults: TLS 1.2 to 1.3, no client certificate, server order.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsServerConfig {
    /// Inline PEM certificate chain (instead of `cert_file`).
    #[serde(deserialize_with = "opt_string")]
    pub cert: Option<String>,
    /// Inline PEM private key (instead of `key_file`).
    #[serde(deserialize_with = "opt_string")]
    pub key: Option<String>,
    /// Inline PEM client CA bundle (instead of `client_ca_file`).
    #[serde(deserialize_with = "opt_string")]
    pub client_ca: Option<String>,
    /// Server certificate chain, PEM; relative to the web config file's directory.
    #[serde(deserialize_with = "opt_path")]
    pub cert_file: Option<PathBuf>,
    /// Server private key, PEM (PKCS#8, PKCS#1 or SEC1).
    #[serde(deserialize_with = "opt_path")]
    pub key_file: Option<PathBuf>,
    /// Client certificate policy, named as Go's `tls.ClientAuthType`.
    #[serde(deserialize_with = "client_auth")]
    pub client_auth_type: ClientAuth,
    /// CAs that sign acceptable client certificates, PEM.
    #[serde(deserialize_with = "opt_path")]
    pub client_ca_file: Option<PathBuf>,
    /// When set, a client certificate must carry one of these SANs (DNS, IP, e-mail or URI,
    /// exact match) or the handshake fails.
    pub client_allowed_sans: Option<Vec<String>>,
    /// Lowest protocol version; `TLS10` and `TLS11` are read as TLS 1.2, rustls' oldest.
    #[serde(deserialize_with = "version")]
    pub min_version: Version,
    /// Highest protocol version.
    #[serde(deserialize_with = "version")]
    pub max_version: Version,
    /// TLS 1.2 suites by Go name, in preference order; TLS 1.3 names are accepted and, as in
    /// Go, have no effect. Empty means rustls' defaults.
    #[serde(deserialize_with = "cipher_suites")]
    pub cipher_suites: Vec<String>,
    /// Key-exchange groups by Go name (`X25519`, `CurveP256`, `CurveP384`), in preference order.
    #[serde(deserialize_with = "curves")]
    pub curve_preferences: Vec<String>,
    /// Choose the first suite of `cipher_suites` the client supports, not the client's first.
    pub prefer_server_cipher_suites: bool,
}

impl Default for TlsServerConfig {
    fn default() -> Self {
        TlsServerConfig {
            cert: None,
            key: None,
            client_ca: None,
            cert_file: None,
            key_file: None,
            client_auth_type: ClientAuth::NoClientCert,
            client_ca_file: None,
            client_allowed_sans: None,
            min_version: Version::Tls12,
            max_version: Version::Tls13,
            cipher_suites: Vec::new(),
            curve_preferences: Vec::new(),
            prefer_server_cipher_suites: true,
        }
    }
}

/// `http_server_config`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpServerConfig {
    /// Offer HTTP/2 by ALPN on TLS listeners (plain listeners speak HTTP/1.1 only, as in Go).
    pub http2: bool,
    /// Security headers added to every answer; only the toolkit's five names are allowed.
    #[serde(deserialize_with = "headers")]
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

/// `rate_limit`: a token bucket refilled one token per `interval`, holding `burst` tokens.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Time between two tokens; 0 (the default) turns the limiter off.
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// Tokens the bucket holds.
    pub burst: u32,
}

/// Go's `tls.ClientAuthType` values as the toolkit names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is asked for (the default).
    NoClientCert,
    /// Asked for, not required, not verified.
    RequestClientCert,
    /// Required, not verified (also spelled `RequireClientCert`).
    RequireAnyClientCert,
    /// Verified against the client CAs when one is sent.
    VerifyClientCertIfGiven,
    /// Required and verified against the client CAs: the only secure choice.
    RequireAndVerifyClientCert,
}

/// `min_version` / `max_version` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// `TLS10`.
    Tls10,
    /// `TLS11`.
    Tls11,
    /// `TLS12`.
    Tls12,
    /// `TLS13`.
    Tls13,
}

/// Headers the toolkit lets a user set, with the values allowed (empty: any value).
pub const ALLOWED_HEADERS: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// Go's `tls.CipherSuites()` names for TLS 1.3: accepted, no effect (Go fixes the 1.3 suites).
pub const TLS13_SUITES: [&str; 3] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Go's TLS 1.0-1.2 suite names that rustls has (ECDHE with AEAD only).
pub const TLS12_SUITES: [&str; 6] = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// Go names that Go accepts but rustls cannot serve (RSA key exchange, CBC modes).
const GO_ONLY_SUITES: [&str; 8] = [
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
];

/// Go's curve names (`tls.CurveID`) that rustls' aws-lc-rs provider has.
pub const CURVES: [&str; 3] = ["X25519", "CurveP256", "CurveP384"];

impl WebConfig {
    /// Reads and checks the web config at `path` (YAML only; certificate files are read by
    /// [`super::tls::server_config`]). Relative file paths are made relative to the file's
    /// directory, as the toolkit does.
    ///
    /// Errors: [`ConfigError::Read`] when the file cannot be read, [`ConfigError::Invalid`]
    /// (`file:line:column: key: what`) for the first problem in it.
    pub fn load_file(path: &Path) -> Result<WebConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = WebConfig::from_yaml_str(&text, &path.display().to_string())?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let tls = &mut config.tls_server_config;
        for file in [
            &mut tls.cert_file,
            &mut tls.key_file,
            &mut tls.client_ca_file,
        ]
        .into_iter()
        .flatten()
        {
            if file.is_relative() {
                *file = dir.join(&*file);
            }
        }
        Ok(config)
    }

    /// Parses and checks a web config; `origin` names the text in errors.
    ///
    /// Errors: [`ConfigError::Invalid`] for unknown keys, malformed values, unknown cipher
    /// suites, curves, versions or client auth types, bad headers or bcrypt hashes, and the
    /// toolkit's cross-key rules (cert and key together, client CAs only with a client auth
    /// type, versions in order).
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<WebConfig, ConfigError> {
        let config: WebConfig = match serde_yaml::from_str::<Option<WebConfig>>(text) {
            Ok(config) => config.unwrap_or_default(),
            Err(err) => return Err(crate::config::yaml_error(origin, text, &err)),
        };
        if let Err((key, message)) = config.tls_server_config.check() {
            return Err(invalid_at(text, origin, key, &message));
        }
        Ok(config)
    }

    /// Whether the file asks for HTTPS (any certificate, key or client-auth key is set, as the
    /// toolkit's `IsEnabled`).
    pub fn tls_enabled(&self) -> bool {
        self.tls_server_config.enabled()
    }
}

impl TlsServerConfig {
    /// Whether any key that turns TLS on is set.
    fn enabled(&self) -> bool {
        let t = self;
        t.cert.is_some()
            || t.key.is_some()
            || t.cert_file.is_some()
            || t.key_file.is_some()
            || t.client_ca.is_some()
            || t.client_ca_file.is_some()
            || t.client_auth_type != ClientAuth::NoClientCert
    }
}

impl TlsServerConfig {
    /// The toolkit's cross-key rules; the error names the key to point at.
    fn check(&self) -> Result<(), (&'static str, String)> {
        if !self.enabled() {
            return Ok(());
        }
        if self.cert.is_some() && self.cert_file.is_some() {
            return Err(("cert", "cert and cert_file are mutually exclusive".into()));
        }
        if self.key.is_some() && self.key_file.is_some() {
            return Err(("key", "key and key_file are mutually exclusive".into()));
        }
        if self.cert.is_none() && self.cert_file.is_none() {
            return Err(("cert_file", "missing one of cert or cert_file".into()));
        }
        if self.key.is_none() && self.key_file.is_none() {
            return Err(("key_file", "missing one of key or key_file".into()));
        }
        let has_ca = self.client_ca.is_some() || self.client_ca_file.is_some();
        if has_ca && self.client_auth_type == ClientAuth::NoClientCert {
            return Err((
                "client_ca_file",
                "client CAs are configured without a client_auth_type".into(),
            ));
        }
        if self.max_version < Version::Tls12 {
            return Err((
                "max_version",
                "TLS 1.0 and 1.1 are not served: the highest version must be TLS12 or TLS13".into(),
            ));
        }
        if self.min_version > self.max_version {
            return Err(("min_version", "min_version is above max_version".into()));
        }
        Ok(())
    }
}

/// 1-based line and column of the first `key:` in `text`; of `tls_server_config:` when the key
/// is absent (the error is about a missing key), else (1, 1).
fn key_position(text: &str, key: &str) -> (usize, usize) {
    for wanted in [format!("{key}:"), "tls_server_config:".to_string()] {
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with(&wanted) {
                return (index + 1, line.len() - trimmed.len() + 1);
            }
        }
    }
    (1, 1)
}

// ---- Field readers: each checks its value inside serde's visitor so the error carries the
// value's own line, column and key path.

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

fn opt_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    Ok(opt_string(d)?.map(PathBuf::from))
}

/// A scalar checked by `parse` while serde still points at it; `""` and null give `default`.
struct Checked<T> {
    default: T,
    parse: fn(&str) -> Result<T, String>,
}

impl<'de, T> de::Visitor<'de> for Checked<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        if v.is_empty() {
            return Ok(self.default);
        }
        (self.parse)(v).map_err(E::custom)
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(self.default)
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(self.default)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_str(self)
    }
}

fn checked<'de, D, T>(d: D, default: T, parse: fn(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    d.deserialize_option(Checked { default, parse })
}

/// A list of names each checked by `check` at its own position.
struct CheckedList(fn(&str) -> Result<(), String>);

impl<'de> de::Visitor<'de> for CheckedList {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of names")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let check = self.0;
        let mut out = Vec::new();
        while let Some(name) = seq.next_element_seed(NameSeed(check))? {
            out.push(name);
        }
        Ok(out)
    }
}

/// One list element, checked inside its own deserializer.
struct NameSeed(fn(&str) -> Result<(), String>);

impl<'de> de::DeserializeSeed<'de> for NameSeed {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        fn keep(s: &str) -> Result<String, String> {
            Ok(s.to_string())
        }
        let check = self.0;
        let name = d.deserialize_str(Checked {
            default: String::new(),
            parse: keep,
        })?;
        check(&name).map_err(de::Error::custom)?;
        Ok(name)
    }
}

fn client_auth<'de, D: Deserializer<'de>>(d: D) -> Result<ClientAuth, D::Error> {
    checked(d, ClientAuth::NoClientCert, |s| match s {
        "NoClientCert" => Ok(ClientAuth::NoClientCert),
        "RequestClientCert" => Ok(ClientAuth::RequestClientCert),
        "RequireAnyClientCert" | "RequireClientCert" => Ok(ClientAuth::RequireAnyClientCert),
        "VerifyClientCertIfGiven" => Ok(ClientAuth::VerifyClientCertIfGiven),
        "RequireAndVerifyClientCert" => Ok(ClientAuth::RequireAndVerifyClientCert),
        other => Err(format!(
            "invalid client_auth_type {other:?}: use NoClientCert, RequestClientCert, \
             RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
        )),
    })
}

/// Parses a toolkit version name (`TLS10` ... `TLS13`).
///
/// Errors: the one-line reason naming the value.
pub fn parse_version(s: &str) -> Result<Version, String> {
    match s {
        "TLS10" => Ok(Version::Tls10),
        "TLS11" => Ok(Version::Tls11),
        "TLS12" => Ok(Version::Tls12),
        "TLS13" => Ok(Version::Tls13),
        other => Err(format!(
            "unknown TLS version {other:?}: use TLS10, TLS11, TLS12 or TLS13"
        )),
    }
}

fn version<'de, D: Deserializer<'de>>(d: D) -> Result<Version, D::Error> {
    // An empty value reads as the oldest version; as a maximum it is then refused at load.
    checked(d, Version::Tls10, parse_version)
}

/// Checks one Go cipher suite name.
///
/// Errors: an unknown name, or a Go name rustls cannot serve (RSA key exchange, CBC).
pub fn check_cipher_suite(name: &str) -> Result<(), String> {
    if TLS12_SUITES.contains(&name) || TLS13_SUITES.contains(&name) {
        Ok(())
    } else if GO_ONLY_SUITES.contains(&name) {
        Err(format!(
            "cipher suite {name} is not available: rustls serves only ECDHE suites with \
             AES-GCM or ChaCha20-Poly1305"
        ))
    } else {
        Err(format!("unknown cipher suite {name:?}"))
    }
}

fn cipher_suites<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(CheckedList(check_cipher_suite))
}

/// Checks one Go curve name.
///
/// Errors: an unknown name, or `CurveP521`, which rustls does not offer.
pub fn check_curve(name: &str) -> Result<(), String> {
    match name {
        n if CURVES.contains(&n) => Ok(()),
        "CurveP521" => {
            Err("curve CurveP521 is not available: use X25519, CurveP256 or CurveP384".to_string())
        }
        other => Err(format!("unknown curve {other:?}")),
    }
}

fn curves<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(CheckedList(check_curve))
}

/// Checks one `headers` entry against the toolkit's allowed names and values.
///
/// Errors: a name the toolkit does not allow, a value outside the allowed ones, or a value
/// that is not visible ASCII.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| *n == name) else {
        return Err(format!("HTTP header {name:?} can not be configured"));
    };
    if !allowed.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
        return Err(format!(
            "invalid value {value:?} for HTTP header {name}: use {}",
            allowed.join(" or ")
        ));
    }
    if hyper::header::HeaderValue::from_str(value).is_err() {
        return Err(format!("HTTP header {name}: value is not visible ASCII"));
    }
    Ok(())
}

/// Checks one `basic_auth_users` entry: the password must be a bcrypt hash.
///
/// Errors: the user name and what is wrong.
pub fn check_user(user: &str, hash: &str) -> Result<(), String> {
    match hash.parse::<bcrypt::HashParts>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "user {user:?}: the password is not a bcrypt hash (make one with htpasswd -nBC 10)"
        )),
    }
}

/// A string-to-string map whose entries are checked by `check` at the value's position.
struct CheckedMap(fn(&str, &str) -> Result<(), String>);

impl<'de> de::Visitor<'de> for CheckedMap {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of strings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(EntrySeed {
                key: &key,
                check: self.0,
            })?;
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// One map value, checked with its key inside the value's deserializer.
struct EntrySeed<'a> {
    key: &'a str,
    check: fn(&str, &str) -> Result<(), String>,
}

impl<'de> de::DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        struct Text<'a>(EntrySeed<'a>);
        impl<'de> de::Visitor<'de> for Text<'_> {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                (self.0.check)(self.0.key, v).map_err(E::custom)?;
                Ok(v.to_string())
            }
        }
        d.deserialize_str(Text(self))
    }
}

fn headers<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    d.deserialize_any(CheckedMap(check_header))
}

fn users<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    d.deserialize_any(CheckedMap(check_user))
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    checked(d, Duration::ZERO, |s: &str| {
        if s == "0" {
            return Ok(Duration::ZERO);
        }
        parse_duration(s).map_err(|e| e.to_string())
    })
}

/// A [`ConfigError::Invalid`] pointing at the first `key:` under `tls_server_config` in `text`.
/// The message may quote a file name from the config, so its control characters are escaped
/// (`\n`) to keep the error on one line.
pub(super) fn invalid_at(text: &str, origin: &str, key: &str, message: &str) -> ConfigError {
    let (line, column) = key_position(text, key);
    ConfigError::Invalid {
        origin: origin.to_string(),
        line,
        column,
        message: format!("tls_server_config.{key}: {}", one_line(message)),
    }
}
