//! Module configuration in blackbox_exporter's schema (`prober: tcp` modules), so an existing
//! `blackbox.yml` loads unchanged. Modules of other probers are skipped at load and remembered so
//! `/probe` can say why it will not run them.
//!
//! Loading ([`Config::load_file`], [`Config::from_yaml_str`]) follows blackbox_exporter's
//! `config/config.go`: unknown keys are errors, defaults are filled in, regexes are compiled
//! and cross-key rules are checked at load, and every error names file, line, column and key.

mod bytes;
mod crl;
mod de;
mod duration;
mod error;
mod expect;
mod fields;
mod proxy;
mod re2;
mod restrict;
mod ser;
mod starttls;
mod unix;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use bytes::{format as format_send_bytes, MAX_SEND_BYTES};
pub use crl::{CrlCheck, DEFAULT_CRL_FETCH_TIMEOUT};
pub use duration::{format_duration, parse_duration, DurationError};
pub(crate) use error::invalid as yaml_error;
pub(crate) use error::one_line;
pub use error::ConfigError;
pub use expect::{ClassName, DetailName, ExpectFailure, PhaseName};
pub use fields::MAX_HOPS_LIMIT;
pub use fields::{DEFAULT_ADDRESS_CONCURRENCY, DEFAULT_ADDRESS_LIMIT, MAX_ADDRESSES_LIMIT};
pub use proxy::{ProxyKind, ProxyUrl, Secret};
pub use re2::{compile as compile_go_regex, translate as translate_go_regex};
pub use restrict::{parse_network, Rejection, Restrictions};
pub use starttls::StarttlsProtocol;

/// `min_version`/`max_version` values; the type is shared with the facts a handshake reports.
pub use crate::report::TlsVersion;

/// The `prober` of modules that connect to a Unix socket (blackbox_exporter 0.28).
pub const UNIX_PROBER: &str = "unix";

/// A loaded configuration: the runnable tcp modules and the names of skipped ones.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Runnable modules by name, shared with the probes running them.
    pub modules: BTreeMap<String, Arc<Module>>,
    /// Modules of other probers (http, icmp, dns, grpc...), by name, with their prober.
    pub skipped: BTreeMap<String, String>,
    /// What the file does that is allowed but probably not meant; the loader's caller logs them.
    pub warnings: Vec<ConfigWarning>,
}

/// Something a configuration does that loads, but that its author should hear about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigWarning {
    /// A module of another prober, kept out of `/probe`.
    #[error(
        "skipping module {}: prober {} is not supported, only tcp and unix",
        error::one_line(.name),
        error::one_line(.prober)
    )]
    SkippedModule {
        /// The module name.
        name: String,
        /// Its `prober`.
        prober: String,
    },
    /// A tcp module carries a block of another prober (`http:`, `icmp:`...), which is ignored.
    #[error(
        "ignoring the `{}` block of tcp module {}",
        error::one_line(.block),
        error::one_line(.module)
    )]
    IgnoredBlock {
        /// The module name.
        module: String,
        /// The ignored key.
        block: String,
    },
    /// The file defines no runnable module.
    #[error("{} defines no tcp module", error::one_line(.origin))]
    NoTcpModule {
        /// The file name.
        origin: String,
    },
    /// A module asks for the OpenSSL stack (`stack: openssl`, or TLS 1.0/1.1 as a version
    /// bound) in a build without the `legacy-tls` cargo feature: it is probed with rustls.
    #[error(
        "tcp module {} needs the OpenSSL TLS stack (TLS 1.0/1.1, RSA key exchange, CBC suites), \
         which this build lacks (cargo feature `legacy-tls`): it is probed with rustls, TLS 1.2 \
         and 1.3 only",
        error::one_line(.module)
    )]
    TlsStackMissing {
        /// The module name.
        module: String,
    },
}

/// One `prober: tcp` module.
#[derive(Debug, Clone, Serialize)]
pub struct Module {
    /// Always `tcp` for a runnable module.
    pub prober: String,
    /// Upper bound of a probe; `None` means the scrape timeout decides alone.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::timeout"
    )]
    pub timeout: Option<Duration>,
    /// The tcp prober's settings.
    pub tcp: TcpProbe,
    /// Which targets it may probe (global and module `restrictions`); `None`: any.
    #[serde(skip)]
    pub restrictions: Option<Restrictions>,
    /// The failures that pass the probe (`expect_failure`, ours): a policy check such as "this
    /// port must not answer". `None`: an ordinary probe, which passes when every phase does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_failure: Option<ExpectFailure>,
}

/// Which IP protocol a name resolves to first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpProtocol {
    /// IPv4 (`ip4`).
    Ip4,
    /// IPv6 (`ip6`), blackbox_exporter's default.
    #[default]
    Ip6,
}

/// The `tcp:` block of a module. Read strictly: unknown keys are errors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcpProbe {
    /// Address family tried first (default ip6).
    #[serde(deserialize_with = "fields::null_as_default")]
    pub preferred_ip_protocol: IpProtocol,
    /// Whether the other family may be used when the preferred one has no address (default true).
    #[serde(deserialize_with = "fields::null_as_true")]
    pub ip_protocol_fallback: bool,
    /// Local address to connect from.
    #[serde(
        deserialize_with = "fields::opt_ip",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_ip_address: Option<IpAddr>,
    /// The dialogue after connect.
    #[serde(deserialize_with = "fields::null_as_default")]
    pub query_response: Vec<QueryResponse>,
    /// Start TLS right after connect.
    #[serde(deserialize_with = "fields::null_as_default")]
    pub tls: bool,
    /// Speak this protocol's own TLS upgrade right after connect, then the TLS handshake;
    /// `query_response` steps then run over TLS. Excludes `tls: true` and `starttls` steps.
    #[serde(
        deserialize_with = "fields::null_as_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub starttls: Option<StarttlsProtocol>,
    /// TLS settings for `tls: true` and for `starttls` steps.
    #[serde(deserialize_with = "fields::null_as_default")]
    pub tls_config: TlsConfig,
    /// Hop-by-hop localization when connect times out.
    #[serde(deserialize_with = "fields::null_as_default")]
    pub path_trace: PathTrace,
    /// Probe every resolved address instead of the first.
    #[serde(deserialize_with = "fields::null_as_default")]
    pub probe_all_addresses: bool,
    /// With `probe_all_addresses`, whether every address must pass or one is enough.
    #[serde(deserialize_with = "fields::null_as_default")]
    pub probe_all_addresses_rule: AddressRule,
    /// With `probe_all_addresses`, how many distinct addresses are probed in all (1 to
    /// [`MAX_ADDRESSES_LIMIT`], default 16): a name with thousands of addresses cannot
    /// make one probe open thousands of sockets. The rest are counted, never connected to.
    #[serde(deserialize_with = "fields::address_limit")]
    pub probe_all_addresses_limit: usize,
    /// With `probe_all_addresses`, how many addresses are probed at once (1 to
    /// [`MAX_ADDRESSES_LIMIT`], default 8); the others wait for a turn.
    #[serde(deserialize_with = "fields::address_concurrency")]
    pub probe_all_addresses_concurrency: usize,
    /// The SOCKS5 or HTTP CONNECT proxy to reach the target through (blackbox_exporter PR
    /// #1564's key); `None`: connect directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<ProxyUrl>,
    /// User name for the proxy: SOCKS5 username/password (RFC 1929) or HTTP Basic
    /// `Proxy-Authorization` (RFC 9110 section 11.7.2).
    #[serde(
        deserialize_with = "fields::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub proxy_username: Option<String>,
    /// Password for the proxy, never printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_password: Option<Secret>,
    /// Fail the probe in phase `tls` with class `tls_cert_revoked` when a presented certificate
    /// is revoked: on its CRL (`tls_config.crl_check`) or in the verified stapled OCSP response
    /// (RFC 6960). Ours; without it a revoked certificate is only reported, as in
    /// blackbox_exporter.
    #[serde(
        deserialize_with = "fields::null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub fail_if_revoked: bool,
}

/// How per-address outcomes make `probe_success` when every resolved address is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressRule {
    /// Every address must pass (`all`, the default).
    #[default]
    All,
    /// One passing address is enough (`any`).
    Any,
}

impl AddressRule {
    /// The config spelling: `all` or `any`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressRule::All => "all",
            AddressRule::Any => "any",
        }
    }
}

/// One `query_response` step. `labels` need `expect`; `expect` and `expect_bytes` exclude each
/// other.
#[derive(Debug, Clone, Serialize)]
pub struct QueryResponse {
    /// Lines are read until one matches.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser::regex")]
    pub expect: Option<regex::Regex>,
    /// Bytes read and compared as they are (blackbox_exporter 0.28): exactly this many bytes are
    /// read and must equal these. Never set together with `expect`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expect_bytes: String,
    /// Written with a trailing `\n` after `expect` matched; `${1}` expands captures.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub send: String,
    /// Written exactly as given, no newline added, after `expect` matched: printable ASCII with
    /// `\xNN`, `\\`, `\r`, `\n`, `\t`, `\0` escapes, at most [`MAX_SEND_BYTES`]. Never set
    /// together with `send`.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "ser::send_bytes"
    )]
    pub send_bytes: Vec<u8>,
    /// Upgrade the connection to TLS at this step.
    #[serde(skip_serializing_if = "ser::is_false")]
    pub starttls: bool,
    /// `probe_expect_info` labels; values expand captures of `expect`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<ExpectLabel>,
}

/// One `probe_expect_info` label.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectLabel {
    /// Label name: a valid Prometheus label name not starting with `__`.
    #[serde(deserialize_with = "fields::label_name")]
    pub name: String,
    /// Label value template (`${1}` expands a capture).
    #[serde(default, deserialize_with = "fields::null_as_default")]
    pub value: String,
}

impl IpProtocol {
    /// The config spelling: `ip4` or `ip6`.
    pub fn as_str(self) -> &'static str {
        match self {
            IpProtocol::Ip4 => "ip4",
            IpProtocol::Ip6 => "ip6",
        }
    }
}

/// The `tls_config:` block, validated at load: a client certificate comes with its key, and
/// the version range is not empty. Files are read on the module's first TLS probe, not at load
/// (as blackbox_exporter reads them at probe time), and again when they change. Plain data: the
/// prober keeps the TLS client it builds from these settings (`prober::tls`), keyed by them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsConfig {
    /// Extra trusted roots, PEM file.
    pub ca_file: Option<PathBuf>,
    /// Extra trusted roots, PEM text written in the config (`ca`); never set with `ca_file`.
    pub ca: Option<String>,
    /// The client certificate and its key, when the module presents one.
    pub client_cert: Option<ClientCert>,
    /// SNI and the name the certificate must match; default the target host.
    pub server_name: Option<String>,
    /// Accept any certificate (facts are still recorded).
    pub insecure_skip_verify: bool,
    /// The versions the module allows.
    pub versions: VersionRange,
    /// The TLS library asked for with our own key `stack`; `None` when unset (see
    /// [`TlsConfig::stack`] for the one that is used).
    pub stack: Option<TlsStack>,
    /// Revocation through each presented certificate's CRL (`crl_check`, blackbox_exporter's
    /// key); off by default.
    pub crl_check: CrlCheck,
}

/// The TLS library a module's handshakes go through (`tls_config.stack`, a key of ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsStack {
    /// rustls (`rustls`): TLS 1.2 with ECDHE and AEAD suites, and TLS 1.3. The default.
    Rustls,
    /// The system's OpenSSL (`openssl`), at security level 0: also TLS 1.0 and 1.1, RSA key
    /// exchange and CBC suites, for devices that speak nothing newer.
    OpenSsl,
}

impl TlsStack {
    /// The config spelling: `rustls` or `openssl`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsStack::Rustls => "rustls",
            TlsStack::OpenSsl => "openssl",
        }
    }
}

impl std::fmt::Display for TlsStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TlsConfig {
    /// The stack the module's handshakes use: `stack` when set, else OpenSSL when
    /// `min_version` or `max_version` is `TLS10` or `TLS11` (versions rustls does not speak),
    /// else rustls.
    pub fn stack(&self) -> TlsStack {
        let legacy = |v: Option<TlsVersion>| v.is_some_and(|v| v < TlsVersion::Tls12);
        match self.stack {
            Some(stack) => stack,
            None if legacy(self.versions.min()) || legacy(self.versions.max()) => TlsStack::OpenSsl,
            None => TlsStack::Rustls,
        }
    }
}

/// The client certificate of a `tls_config` and its key (`cert_file` or `cert`, with `key_file`
/// or `key`): set together or not at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientCert {
    /// Client certificate chain, PEM, leaf first.
    pub cert: Pem,
    /// The leaf's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: Pem,
}

/// Where PEM data comes from.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Pem {
    /// A file, read on the module's first TLS probe and again when it changes.
    File(PathBuf),
    /// Text written in the configuration itself.
    Inline(String),
}

/// Inline PEM may hold a private key: it is never printed.
impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pem::File(path) => f.debug_tuple("File").field(path).finish(),
            Pem::Inline(_) => f.write_str("Inline(<secret>)"),
        }
    }
}

/// `min_version`..=`max_version` of a `tls_config`, each bound optional; never empty (a minimum
/// above the maximum is rejected at load).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct VersionRange {
    min: Option<TlsVersion>,
    max: Option<TlsVersion>,
}

/// A `min_version` above `max_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("`min_version` {} is above `max_version` {}", min.config_name(), max.config_name())]
pub struct EmptyVersionRange {
    /// The configured minimum.
    pub min: TlsVersion,
    /// The configured maximum, below `min`.
    pub max: TlsVersion,
}

impl VersionRange {
    /// The range between optional bounds.
    ///
    /// # Errors
    /// [`EmptyVersionRange`] when both are set and `min` is above `max`.
    pub fn new(
        min: Option<TlsVersion>,
        max: Option<TlsVersion>,
    ) -> Result<VersionRange, EmptyVersionRange> {
        match (min, max) {
            (Some(min), Some(max)) if min > max => Err(EmptyVersionRange { min, max }),
            _ => Ok(VersionRange { min, max }),
        }
    }

    /// The configured `min_version`, if any.
    pub fn min(self) -> Option<TlsVersion> {
        self.min
    }

    /// The configured `max_version`, if any.
    pub fn max(self) -> Option<TlsVersion> {
        self.max
    }

    /// The lowest and highest version of the range that are at least `floor` (the oldest
    /// version a client speaks); `None` when the maximum is below `floor`. An unset minimum is
    /// `floor`, an unset maximum TLS 1.3.
    pub fn at_least(self, floor: TlsVersion) -> Option<(TlsVersion, TlsVersion)> {
        let max = self.max.unwrap_or(TlsVersion::Tls13);
        let min = self.min.unwrap_or(floor).max(floor);
        (max >= floor).then_some((min, max))
    }
}

/// The `path_trace:` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathTrace {
    /// Trace when connect has been silent long enough.
    #[serde(deserialize_with = "fields::null_as_default")]
    pub enabled: bool,
    /// Highest TTL / hop limit tried: 1 to [`MAX_HOPS_LIMIT`], default 16.
    #[serde(deserialize_with = "fields::max_hops")]
    pub max_hops: u8,
}

impl Default for PathTrace {
    fn default() -> Self {
        PathTrace {
            enabled: false,
            max_hops: 16,
        }
    }
}

impl Default for TcpProbe {
    fn default() -> Self {
        TcpProbe {
            preferred_ip_protocol: IpProtocol::Ip6,
            ip_protocol_fallback: true,
            source_ip_address: None,
            query_response: Vec::new(),
            tls: false,
            starttls: None,
            tls_config: TlsConfig::default(),
            path_trace: PathTrace::default(),
            probe_all_addresses: false,
            probe_all_addresses_rule: AddressRule::All,
            probe_all_addresses_limit: fields::DEFAULT_ADDRESS_LIMIT,
            probe_all_addresses_concurrency: fields::DEFAULT_ADDRESS_CONCURRENCY,
            proxy_url: None,
            proxy_username: None,
            proxy_password: None,
            fail_if_revoked: false,
        }
    }
}

impl Config {
    /// The modules served without `--config.file`: `tcp_connect` and `tls_connect`, 5 s each.
    pub fn builtin() -> Config {
        let mut modules = BTreeMap::new();
        let plain = Module {
            prober: "tcp".into(),
            timeout: Some(Duration::from_secs(5)),
            tcp: TcpProbe::default(),
            restrictions: None,
            expect_failure: None,
        };
        let mut tls = plain.clone();
        tls.tcp.tls = true;
        modules.insert("tcp_connect".to_string(), Arc::new(plain));
        modules.insert("tls_connect".to_string(), Arc::new(tls));
        Config {
            modules,
            ..Config::default()
        }
    }

    /// Reads and checks a configuration file; messages name the file as `path` displays.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the file cannot be read, [`ConfigError::Invalid`] as for
    /// [`Config::from_yaml_str`].
    pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_yaml_str(&text, &path.display().to_string())
    }

    /// Parses and checks a configuration in blackbox_exporter's schema. `prober: tcp` modules
    /// are read strictly; modules of other probers are only required to be maps, are listed in
    /// [`Config::skipped`] and each gives a [`ConfigWarning`] in [`Config::warnings`].
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for the first problem found, as
    /// `origin:line:column: key.path: what is wrong`.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let invalid = |err: serde_yaml::Error| error::invalid(origin, text, &err);
        let probers = de::outline(text).map_err(invalid)?;
        let (runnable, skipped): (BTreeMap<String, String>, BTreeMap<String, String>) = probers
            .into_iter()
            .partition(|(_, prober)| prober == "tcp" || prober == UNIX_PROBER);
        let tcp_names: BTreeSet<String> = runnable.keys().cloned().collect();
        let unix_names: BTreeSet<String> = runnable
            .into_iter()
            .filter(|(_, prober)| prober == UNIX_PROBER)
            .map(|(name, _)| name)
            .collect();
        let mut warnings: Vec<ConfigWarning> = skipped
            .iter()
            .map(|(name, prober)| ConfigWarning::SkippedModule {
                name: name.clone(),
                prober: prober.clone(),
            })
            .collect();
        let mut modules =
            de::tcp_modules(text, &tcp_names, &unix_names, &mut warnings).map_err(invalid)?;
        for (name, restrictions) in restrict::read(text).map_err(invalid)? {
            if let Some(module) = modules.get_mut(&name) {
                module.restrictions = Some(restrictions);
            }
        }
        if !cfg!(feature = "legacy-tls") {
            let legacy = modules
                .iter()
                .filter(|(_, m)| m.tcp.tls_config.stack() == TlsStack::OpenSsl)
                .map(|(name, _)| ConfigWarning::TlsStackMissing {
                    module: name.clone(),
                });
            warnings.extend(legacy);
        }
        if modules.is_empty() {
            warnings.push(ConfigWarning::NoTcpModule {
                origin: origin.to_string(),
            });
        }
        let modules = modules
            .into_iter()
            .map(|(name, module)| (name, Arc::new(module)))
            .collect();
        Ok(Config {
            modules,
            skipped,
            warnings,
        })
    }
}

// ---- Module

impl Module {
    /// The effective module, defaults filled in, as YAML in the schema it is read from (what
    /// `/probe?debug=true` shows). `expect` shows the pattern as compiled.
    pub fn to_yaml(&self) -> String {
        let encoded = serde_yaml::to_value(self).and_then(|mut value| {
            if self.prober == UNIX_PROBER {
                as_unix(&mut value);
            }
            serde_yaml::to_string(&value)
        });
        encoded.unwrap_or_else(|err| format!("# failed to encode module: {err}\n"))
    }
}

/// Rewrites an encoded `prober: unix` module to its own schema: its settings under `unix:`,
/// which holds only `query_response` (the one `unix` key this exporter runs).
fn as_unix(module: &mut serde_yaml::Value) {
    let Some(map) = module.as_mapping_mut() else {
        return;
    };
    let steps = map
        .remove("tcp")
        .and_then(|mut tcp| tcp.as_mapping_mut()?.remove("query_response"))
        .unwrap_or_default();
    let mut unix = serde_yaml::Mapping::new();
    unix.insert("query_response".into(), steps);
    map.insert("unix".into(), unix.into());
}
