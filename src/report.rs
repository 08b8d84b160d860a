//! The plain data a probe produces: where it failed (`Phase`), why (`FailureClass`), and the facts
//! it gathered on the way. Encoders read a [`ProbeReport`]; nothing here touches a socket.
//!
//! The label values are binding: they are the `phase` and `class` values of the metric contract
//! (`docs/metrics.md`), so dashboards, alert rules and Alertmanager routes match on them.

mod cert;
mod detail;
mod ocsp;
mod revocation;
mod step;
mod steplog;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

pub use cert::{KeyAlgorithm, PublicKey, SignatureAlgorithm, MIN_RSA_BITS};
pub use detail::{
    CertWeakness, Detail, Errno, LdapResult, Limit, ProxyReply, Rcode, ReplyCode, TlsAlert,
    UpgradeAnswer,
};
pub use ocsp::{OcspFacts, OcspProblem, OcspStaple, OcspStatus};
pub use revocation::{
    revocation_failure, CrlCertResult, CrlUnavailable, RevocationSource, Revoked,
};
pub use step::{QueryStep, StepKind};
pub use steplog::{StepLog, ENTRY_LIMIT_BYTES, LOG_LIMIT_BYTES, PART_LIMIT_BYTES};

/// One step of a probe, in the order the orchestrator walks them.
///
/// `as_str()` is the `phase` label value. A STARTTLS upgrade inside the query is phase `Tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Name to address, with the system resolver configuration.
    Resolve,
    /// The TCP three-way handshake.
    Connect,
    /// With `tcp.proxy_url`: the proxy's own handshake and its answer to the request for the
    /// target (SOCKS5 RFC 1928, HTTP CONNECT RFC 9110 section 9.3.6).
    Proxy,
    /// The TLS handshake and certificate verification.
    Tls,
    /// The `query_response` dialogue after the connection is open.
    Query,
}

impl Phase {
    /// Every phase, in probe order.
    pub const ALL: [Phase; 5] = [
        Phase::Resolve,
        Phase::Connect,
        Phase::Proxy,
        Phase::Tls,
        Phase::Query,
    ];

    /// The `phase` label value: `resolve`, `connect`, `tls` or `query`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::Proxy => "proxy",
            Phase::Tls => "tls",
            Phase::Query => "query",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a probe failed: a closed set whose `as_str()` is the `class` label value.
///
/// Each class is decided from evidence (errno, ICMP type/code, DNS rcode, TLS alert or rustls
/// certificate error), never from an error message's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureClass {
    /// The name does not exist (DNS rcode NXDOMAIN, RFC 1035 section 4.1.1).
    DnsNxdomain,
    /// The name exists but has no address of the wanted IP protocol (NODATA, RFC 2308).
    DnsNoRecords,
    /// The resolver answered SERVFAIL.
    DnsServfail,
    /// The resolver answered REFUSED.
    DnsRefused,
    /// Any other resolver failure: malformed answer, other rcode, no nameserver configured.
    DnsError,
    /// RST in answer to the SYN (ECONNREFUSED, connect(2)).
    Refused,
    /// EHOSTUNREACH or ICMP host unreachable (RFC 792 type 3 code 1), no ARP/ND answer.
    HostUnreachable,
    /// ENETUNREACH: no route here, or ICMP net unreachable (type 3 code 0) from a router.
    NetworkUnreachable,
    /// ICMP communication administratively prohibited (type 3 code 9, 10, 13; ICMPv6 type 1
    /// code 1), or a local `prohibit` route (EACCES).
    AdminProhibited,
    /// Silence until the deadline.
    Timeout,
    /// RST after the connection existed (ECONNRESET).
    Reset,
    /// The peer closed cleanly (FIN) before the phase completed.
    Eof,
    /// The peer does not speak TLS; in phase `query` (`tcp.starttls`), it greets in another
    /// protocol than the module's.
    ProtocolMismatch,
    /// The peer speaks TLS but broke one of its rules or limits (an oversized record or
    /// certificate message, too many warning alerts, a message out of order); `detail` names
    /// the RFC 8446 section 6.2 alert for the breach.
    TlsProtocolViolation,
    /// The peer sent a fatal TLS alert (RFC 8446 section 6); `detail` names it.
    TlsAlert,
    /// No common protocol version or cipher suite, decided on our side.
    TlsIncompatible,
    /// A certificate of the chain is past its notAfter.
    TlsCertExpired,
    /// A certificate of the chain is before its notBefore.
    TlsCertNotYetValid,
    /// The chain does not lead to a trusted root.
    TlsCertUntrusted,
    /// The certificate is not valid for the server name.
    TlsCertHostnameMismatch,
    /// Any other certificate rejection.
    TlsCertInvalid,
    /// The peer answered, but an `expect` step never matched before EOF.
    ExpectMismatch,
    /// The exporter itself could not try (descriptors, ephemeral ports, source address, TLS files).
    ProberError,
    /// The server refused the protocol's TLS upgrade or does not offer it (`tcp.starttls`);
    /// `detail` holds what it answered: a reply code, an answer token or an LDAP result.
    StarttlsRefused,
    /// Every phase passed, but the module's `expect_failure` says the probe must fail: the
    /// policy it checks (a closed port, an enforced client certificate) no longer holds.
    UnexpectedSuccess,
    /// `prober: unix`: no socket at the target path (ENOENT, or ENOTDIR for a path through a
    /// file; connect(2), unix(7)).
    SocketMissing,
    /// `prober: unix`: the exporter's user may not connect to the socket (EACCES: no write
    /// permission on the socket or no search permission on a directory of its path; EPERM;
    /// unix(7)).
    PermissionDenied,
    /// A presented certificate is revoked (its serial is on its issuer's CRL, RFC 5280
    /// section 5), and the module fails on that (`tcp.fail_if_revoked`).
    TlsCertRevoked,
}

impl FailureClass {
    /// Every class, in contract order.
    pub const ALL: [FailureClass; 28] = [
        FailureClass::DnsNxdomain,
        FailureClass::DnsNoRecords,
        FailureClass::DnsServfail,
        FailureClass::DnsRefused,
        FailureClass::DnsError,
        FailureClass::Refused,
        FailureClass::HostUnreachable,
        FailureClass::NetworkUnreachable,
        FailureClass::AdminProhibited,
        FailureClass::Timeout,
        FailureClass::Reset,
        FailureClass::Eof,
        FailureClass::ProtocolMismatch,
        FailureClass::TlsProtocolViolation,
        FailureClass::TlsAlert,
        FailureClass::TlsIncompatible,
        FailureClass::TlsCertExpired,
        FailureClass::TlsCertNotYetValid,
        FailureClass::TlsCertUntrusted,
        FailureClass::TlsCertHostnameMismatch,
        FailureClass::TlsCertInvalid,
        FailureClass::ExpectMismatch,
        FailureClass::ProberError,
        FailureClass::StarttlsRefused,
        FailureClass::UnexpectedSuccess,
        FailureClass::SocketMissing,
        FailureClass::PermissionDenied,
        FailureClass::TlsCertRevoked,
    ];

    /// The `class` label value, snake_case and stable.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::DnsNxdomain => "dns_nxdomain",
            FailureClass::DnsNoRecords => "dns_no_records",
            FailureClass::DnsServfail => "dns_servfail",
            FailureClass::DnsRefused => "dns_refused",
            FailureClass::DnsError => "dns_error",
            FailureClass::Refused => "refused",
            FailureClass::HostUnreachable => "host_unreachable",
            FailureClass::NetworkUnreachable => "network_unreachable",
            FailureClass::AdminProhibited => "admin_prohibited",
            FailureClass::Timeout => "timeout",
            FailureClass::Reset => "reset",
            FailureClass::Eof => "eof",
            FailureClass::ProtocolMismatch => "protocol_mismatch",
            FailureClass::TlsProtocolViolation => "tls_protocol_violation",
            FailureClass::TlsAlert => "tls_alert",
            FailureClass::TlsIncompatible => "tls_incompatible",
            FailureClass::TlsCertExpired => "tls_cert_expired",
            FailureClass::TlsCertNotYetValid => "tls_cert_not_yet_valid",
            FailureClass::TlsCertUntrusted => "tls_cert_untrusted",
            FailureClass::TlsCertHostnameMismatch => "tls_cert_hostname_mismatch",
            FailureClass::TlsCertInvalid => "tls_cert_invalid",
            FailureClass::ExpectMismatch => "expect_mismatch",
            FailureClass::ProberError => "prober_error",
            FailureClass::StarttlsRefused => "starttls_refused",
            FailureClass::UnexpectedSuccess => "unexpected_success",
            FailureClass::SocketMissing => "socket_missing",
            FailureClass::PermissionDenied => "permission_denied",
            FailureClass::TlsCertRevoked => "tls_cert_revoked",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where and why one probe failed: the labels of `probe_failure_info`.
///
/// `detail` is a bounded machine token: an errno name (`ECONNREFUSED`), a TLS alert name
/// (`handshake_failure`), a DNS rcode name (`SERVFAIL`), or empty. Never free text, never an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The phase that failed.
    pub phase: Phase,
    /// Why it failed.
    pub class: FailureClass,
    /// The evidence token, or none.
    pub detail: Detail,
}

impl Failure {
    /// A failure with evidence `detail`.
    pub fn new(phase: Phase, class: FailureClass, detail: impl Into<Detail>) -> Self {
        Failure {
            phase,
            class,
            detail: detail.into(),
        }
    }

    /// A failure whose class says all there is (`detail` empty).
    pub fn bare(phase: Phase, class: FailureClass) -> Self {
        Failure::new(phase, class, Detail::None)
    }

    /// Silence until the deadline in `phase`.
    pub fn timeout(phase: Phase) -> Self {
        Failure::bare(phase, FailureClass::Timeout)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "phase={} class={}", self.phase, self.class)?;
        if !self.detail.is_empty() {
            write!(f, " detail={}", self.detail)?;
        }
        Ok(())
    }
}

/// The ICMP error behind an unreachable or prohibited connect, read from the socket's error
/// queue (`IP_RECVERR`, ip(7); `IPV6_RECVERR`, ipv6(7)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpInfo {
    /// ICMP type (RFC 792) or ICMPv6 type (RFC 4443).
    pub icmp_type: u8,
    /// ICMP or ICMPv6 code.
    pub code: u8,
    /// snake_case name of the type/code: `host_unreachable`, `admin_prohibited`, ...
    pub reason: &'static str,
    /// The host or router that sent the error (`SO_EE_OFFENDER`).
    pub from: IpAddr,
}

/// One certificate of the presented chain, as `probe_ssl_last_chain_info` labels it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertInfo {
    /// Lowercase hex SHA-256 of the DER certificate.
    pub fingerprint_sha256: String,
    /// Subject distinguished name, RFC 4514 string form.
    pub subject: String,
    /// Issuer distinguished name, RFC 4514 string form.
    pub issuer: String,
    /// DNS subject alternative names joined with `,` (as blackbox_exporter prints them).
    pub subject_alternative: String,
    /// Serial number, lowercase hex.
    pub serial_number: String,
    /// notAfter, unix seconds.
    pub not_after: i64,
    /// notBefore, unix seconds.
    pub not_before: i64,
    /// The subject public key: algorithm and size.
    pub key: PublicKey,
    /// The algorithm the issuer signed it with.
    pub signature_algorithm: SignatureAlgorithm,
    /// Subject and issuer are the same name (self-issued, RFC 5280 section 3.2): a root when
    /// it is also self-signed, whose own signature no verifier relies on.
    pub self_issued: bool,
}

impl CertInfo {
    /// True when the certificate weakens its chain: an RSA key under 2048 bits, or, below the
    /// root (not self-issued), an MD5 or SHA-1 signature.
    pub fn is_weak(&self) -> bool {
        self.key.is_weak() || (!self.self_issued && self.signature_algorithm.is_weak())
    }
}

/// A TLS protocol version. `Display` is the `probe_tls_version_info{version}` label value
/// (`TLS 1.2`, as blackbox_exporter prints it); [`TlsVersion::config_name`] is the spelling of
/// `min_version`/`max_version` in a module (`TLS12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.0, RFC 2246 (accepted in config; this prober cannot speak it).
    Tls10,
    /// TLS 1.1, RFC 4346 (accepted in config; this prober cannot speak it).
    Tls11,
    /// TLS 1.2, RFC 5246.
    Tls12,
    /// TLS 1.3, RFC 8446.
    Tls13,
}

impl TlsVersion {
    /// Every version, oldest first.
    pub const ALL: [TlsVersion; 4] = [
        TlsVersion::Tls10,
        TlsVersion::Tls11,
        TlsVersion::Tls12,
        TlsVersion::Tls13,
    ];

    /// The label value: `TLS 1.0` to `TLS 1.3`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLS 1.0",
            TlsVersion::Tls11 => "TLS 1.1",
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        }
    }

    /// The config spelling: `TLS10`, `TLS11`, `TLS12` or `TLS13`.
    pub fn config_name(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLS10",
            TlsVersion::Tls11 => "TLS11",
            TlsVersion::Tls12 => "TLS12",
            TlsVersion::Tls13 => "TLS13",
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the TLS handshake revealed, kept also when verification failed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFacts {
    /// The negotiated version; `None` when the handshake did not complete.
    pub version: Option<TlsVersion>,
    /// IANA name of the negotiated cipher suite, e.g. `TLS_AES_128_GCM_SHA256`.
    pub cipher: Option<String>,
    /// The chain the server presented, leaf first; empty when none arrived.
    pub chain: Vec<CertInfo>,
    /// When the presented chain verified: over every verified path from the leaf to a trust
    /// anchor (root certificate included), the earliest notAfter of the path; then the latest
    /// of those, unix seconds (blackbox_exporter's `getLastChainExpiry` over Go's
    /// `VerifiedChains`). `None` when nothing was verified.
    pub verified_chain_expiry: Option<i64>,
    /// notAfter of the client certificate the module presents (the first of `cert_file`),
    /// unix seconds; `None` when the module has none.
    pub client_cert_expiry: Option<i64>,
    /// The OCSP response the server stapled, as judged; `None` when it stapled none.
    pub ocsp: Option<OcspStaple>,
    /// The presented chain as DER, leaf first, set only when the module checks revocation
    /// (`tls_config.crl_check`) and the handshake completed; the CRL check empties it.
    pub chain_der: Vec<Vec<u8>>,
    /// The CRL check of each presented certificate, leaf first; empty when the module does not
    /// check CRLs.
    pub crl: Vec<CrlCertResult>,
}

impl TlsFacts {
    /// True when a presented certificate is weak ([`CertInfo::is_weak`]); `None` when no
    /// certificate arrived (`probe_ssl_weak_chain`).
    pub fn weak_chain(&self) -> Option<bool> {
        (!self.chain.is_empty()).then(|| self.chain.iter().any(CertInfo::is_weak))
    }

    /// The earliest notAfter of the presented chain, unix seconds (`probe_ssl_earliest_cert_expiry`).
    pub fn earliest_expiry(&self) -> Option<i64> {
        self.chain.iter().map(|c| c.not_after).min()
    }

    /// `probe_ssl_last_chain_expiry_timestamp_seconds`, unix seconds: [`Self::verified_chain_expiry`]
    /// when the chain verified; else (verification failed or skipped) the earliest notAfter of
    /// the chain as presented, where blackbox_exporter would report Go's zero time
    /// (-62135596800), a value that trips every expiry alert. `None` when no certificate arrived.
    pub fn last_chain_expiry(&self) -> Option<i64> {
        self.verified_chain_expiry
            .or_else(|| self.earliest_expiry())
    }

    /// True when the server stapled a verified OCSP response saying its leaf is revoked.
    pub fn ocsp_revoked(&self) -> bool {
        self.ocsp.as_ref().is_some_and(OcspStaple::revoked)
    }
}

/// Kernel TCP facts read with `TCP_INFO` (tcp(7)) right after connect.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TcpInfo {
    /// Smoothed round-trip time.
    pub rtt: Duration,
    /// SYNs resent before the connection opened.
    pub syn_retransmits: u32,
}

/// One hop that answered a path trace: a router's ICMP time exceeded, or the target itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The IP TTL / IPv6 hop limit the answered SYN carried (1 = first router).
    pub hop: u8,
    /// The address that answered.
    pub address: IpAddr,
}

/// Where silence begins on the path to a target whose connect timed out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathReport {
    /// Hops that answered, ordered by hop number.
    pub hops: Vec<Hop>,
}

impl PathReport {
    /// The highest hop number that answered, 0 when none did (`probe_path_last_responding_hop`).
    pub fn last_responding_hop(&self) -> u8 {
        self.hops.iter().map(|h| h.hop).max().unwrap_or(0)
    }
}

/// The outcome of one address when a module probes every resolved address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressResult {
    /// The address probed.
    pub address: IpAddr,
    /// Its failure, `None` when every phase passed for it.
    pub failure: Option<Failure>,
}

/// One line of the `/probe?debug=true` step log; [`StepLog`] bounds its length and their number.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Time since the probe started.
    pub offset: Duration,
    /// What happened, for a human.
    pub message: String,
}

/// Everything one probe found out. Plain data: encoders read it, they never call back.
#[derive(Debug, Clone, Default)]
pub struct ProbeReport {
    /// The failure, `None` when every phase passed.
    pub failure: Option<Failure>,
    /// Wall time of the whole probe.
    pub duration: Duration,
    /// The deadline the probe ran under.
    pub timeout: Duration,
    /// Time spent in each phase that started, in order.
    pub phases: Vec<(Phase, Duration)>,
    /// The address connected to (or tried), once resolution succeeded.
    pub ip_addr: Option<IpAddr>,
    /// The ICMP error behind a failed connect, when one arrived.
    pub icmp: Option<IcmpInfo>,
    /// TCP_INFO facts after a successful connect.
    pub tcp_info: Option<TcpInfo>,
    /// The path trace, when the module enables it and connect stayed silent long enough.
    pub path: Option<PathReport>,
    /// Per-address outcomes, when the module probes every resolved address.
    pub addresses: Vec<AddressResult>,
    /// Distinct resolved addresses left out beyond `tcp.probe_all_addresses_limit` (never
    /// connected to); 0 when every address was probed.
    pub addresses_not_probed: usize,
    /// TLS facts, when a TLS handshake (direct or STARTTLS) began and a server hello arrived.
    pub tls: Option<TlsFacts>,
    /// `Some(true)` when an `expect` step did not match, `Some(false)` when all matched,
    /// `None` when no `expect` step ran.
    pub failed_due_to_regex: Option<bool>,
    /// `Some(true)` when an `expect_bytes` step read other bytes, `Some(false)` otherwise, `None`
    /// exactly when `failed_due_to_regex` is `None`.
    pub failed_due_to_bytes: Option<bool>,
    /// One label set per `query_response` step with `labels` that matched.
    pub expect_labels: Vec<Vec<(String, String)>>,
    /// The step log for `debug=true`.
    pub log: Vec<LogLine>,
    /// Set when the module's `restrictions` refused the target: no connection was made.
    pub rejected: Option<crate::config::Rejection>,
    /// What the probe of a module with `expect_failure` found, `None` for other modules.
    pub expectation: Option<Expectation>,
    /// The `query_response` step a failed dialogue stopped at; `None` when none failed.
    pub failed_step: Option<QueryStep>,
}

/// The verdict on a probe whose module expects it to fail (`expect_failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// It failed as expected: `probe_success` is 1 and this failure is its `probe_failure_info`.
    Met(Failure),
    /// It passed every phase: [`ProbeReport::failure`] is `unexpected_success`.
    UnexpectedSuccess,
    /// It failed another way: [`ProbeReport::failure`] keeps the real class.
    OtherFailure,
}

impl ProbeReport {
    /// True when every phase passed, or, for a module with `expect_failure`, when the probe
    /// failed as expected.
    pub fn success(&self) -> bool {
        self.failure.is_none()
    }

    /// What `probe_failure_info` shows: the failure, or the expected failure of a passing
    /// policy probe.
    pub fn shown_failure(&self) -> Option<Failure> {
        match self.expectation {
            Some(Expectation::Met(failure)) => Some(failure),
            _ => self.failure,
        }
    }

    /// The `probe_ip_protocol` value: 4 or 6, 0 when resolution failed.
    pub fn ip_protocol(&self) -> u8 {
        match self.ip_addr {
            Some(IpAddr::V4(_)) => 4,
            Some(IpAddr::V6(_)) => 6,
            None => 0,
        }
    }

    /// Time spent in `phase`, if it started.
    pub fn phase_duration(&self, phase: Phase) -> Option<Duration> {
        self.phases
            .iter()
            .find(|(p, _)| *p == phase)
            .map(|(_, d)| *d)
    }
}
