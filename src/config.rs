//! Module configuration in blackbox_exporter's schema (`prober: tcp` modules), so an existing
//! `blackbox.yml` loads unchanged. Modules of other probers are skipped at load and remembered so
//! `/probe` can say why it will not run them.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A loaded configuration: the runnable tcp modules and the names of skipped ones.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Runnable modules by name.
    pub modules: BTreeMap<String, Module>,
    /// Modules of other probers (http, icmp, dns, grpc...), by name, with their prober.
    pub skipped: BTreeMap<String, String>,
}

/// One `prober: tcp` module.
#[derive(Debug, Clone)]
pub struct Module {
    /// Always `tcp` for a runnable module.
    pub prober: String,
    /// Upper bound of a probe; `None` means the scrape timeout decides alone.
    pub timeout: Option<Duration>,
    /// The tcp prober's settings.
    pub tcp: TcpProbe,
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

/// The `tcp:` block of a module.
#[derive(Debug, Clone)]
pub struct TcpProbe {
    /// Address family tried first (default ip6).
    pub preferred_ip_protocol: IpProtocol,
    /// Whether the other family may be used when the preferred one has no address (default true).
    pub ip_protocol_fallback: bool,
    /// Local address to connect from.
    pub source_ip_address: Option<IpAddr>,
    /// The dialogue after connect.
    pub query_response: Vec<QueryResponse>,
    /// Start TLS right after connect.
    pub tls: bool,
    /// TLS settings for `tls: true` and for `starttls` steps.
    pub tls_config: TlsConfig,
    /// Hop-by-hop localization when connect times out.
    pub path_trace: PathTrace,
    /// Probe every resolved address instead of the first.
    pub probe_all_addresses: bool,
    /// With `probe_all_addresses`, whether every address must pass or one is enough.
    pub probe_all_addresses_rule: AddressRule,
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

/// One `query_response` step.
#[derive(Debug, Clone)]
pub struct QueryResponse {
    /// Lines are read until one matches.
    pub expect: Option<regex::Regex>,
    /// Written with a trailing `\n` after `expect` matched; `${1}` expands captures.
    pub send: String,
    /// Upgrade the connection to TLS at this step.
    pub starttls: bool,
    /// `probe_expect_info` labels; values expand captures of `expect`.
    pub labels: Vec<ExpectLabel>,
}

/// One `probe_expect_info` label.
#[derive(Debug, Clone)]
pub struct ExpectLabel {
    /// Label name.
    pub name: String,
    /// Label value template (`${1}` expands a capture).
    pub value: String,
}

/// A TLS protocol version as blackbox_exporter spells it (`TLS10` ... `TLS13`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.0 (accepted in config; rustls cannot speak it).
    Tls10,
    /// TLS 1.1 (accepted in config; rustls cannot speak it).
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// The `tls_config:` block.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// Extra trusted roots, PEM.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain, PEM.
    pub cert_file: Option<PathBuf>,
    /// Client private key, PEM.
    pub key_file: Option<PathBuf>,
    /// SNI and the name the certificate must match; default the target host.
    pub server_name: Option<String>,
    /// Accept any certificate (facts are still recorded).
    pub insecure_skip_verify: bool,
    /// Lowest version offered.
    pub min_version: Option<TlsVersion>,
    /// Highest version offered.
    pub max_version: Option<TlsVersion>,
}

/// The `path_trace:` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathTrace {
    /// Trace when connect has been silent long enough.
    pub enabled: bool,
    /// Highest TTL / hop limit tried.
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
            tls_config: TlsConfig::default(),
            path_trace: PathTrace::default(),
            probe_all_addresses: false,
            probe_all_addresses_rule: AddressRule::All,
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
        };
        let mut tls = plain.clone();
        tls.tcp.tls = true;
        modules.insert("tcp_connect".to_string(), plain);
        modules.insert("tls_connect".to_string(), tls);
        Config {
            modules,
            skipped: BTreeMap::new(),
        }
    }
}
