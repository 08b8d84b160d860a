//! The exporter's defences, counted: refused probes by reason, failed basic authentication and
//! HTTP connections closed before they could send a request.
//!
//! Every label value is a closed enum whose `as_str` is the documented value
//! (`docs/metrics.md`); each series exists at 0 from the start so an increase shows at once.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

/// Why `/probe` refused to run a probe (`handshake_exporter_probes_rejected_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// `--probe.max-concurrency` probes were running (503).
    ConcurrencyLimit,
    /// The target name matches a denied name pattern (403).
    DeniedName,
    /// Allowed name patterns are set and the target name matches none (403).
    NameNotAllowed,
    /// The target address, or one its name resolved to, is in a denied network (403).
    DeniedNetwork,
    /// Allowed networks are set and the address is in none of them (403).
    NetworkNotAllowed,
    /// The request came from one of the exporter's own probe connections: a module whose
    /// target is the exporter itself asked it for a probe (508).
    SelfProbe,
}

impl RejectReason {
    /// Every reason, in documentation order.
    pub const ALL: [RejectReason; 6] = [
        RejectReason::ConcurrencyLimit,
        RejectReason::DeniedName,
        RejectReason::NameNotAllowed,
        RejectReason::DeniedNetwork,
        RejectReason::NetworkNotAllowed,
        RejectReason::SelfProbe,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::ConcurrencyLimit => "concurrency_limit",
            RejectReason::DeniedName => "denied_name",
            RejectReason::NameNotAllowed => "name_not_allowed",
            RejectReason::DeniedNetwork => "denied_network",
            RejectReason::NetworkNotAllowed => "network_not_allowed",
            RejectReason::SelfProbe => "self_probe",
        }
    }
}

/// Why an HTTP connection was closed before a request was answered
/// (`handshake_exporter_http_connections_dropped_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// At `--web.max-connections`, the oldest idle connection made room for a new one.
    Evicted,
    /// At `--web.max-connections` with every connection answering a request: the new one.
    Full,
    /// The request head (or TLS handshake) did not arrive within `--web.header-read-timeout`.
    HeaderTimeout,
    /// The TLS handshake failed (no or untrusted client certificate, plain HTTP, bad version).
    TlsHandshake,
}

impl DropReason {
    /// Every reason.
    pub const ALL: [DropReason; 4] = [
        DropReason::Evicted,
        DropReason::Full,
        DropReason::HeaderTimeout,
        DropReason::TlsHandshake,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Evicted => "evicted",
            DropReason::Full => "full",
            DropReason::HeaderTimeout => "header_timeout",
            DropReason::TlsHandshake => "tls_handshake",
        }
    }
}

/// Why basic authentication failed (`handshake_exporter_web_auth_failures_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Basic` header, or one that does not decode.
    NoCredentials,
    /// Unknown user or wrong password.
    BadCredentials,
}

impl AuthFailure {
    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::NoCredentials => "no_credentials",
            AuthFailure::BadCredentials => "bad_credentials",
        }
    }
}

/// The counters; cheap to clone (shared atomics).
#[derive(Debug, Clone, Default)]
pub struct GuardMetrics {
    rejected: Family<Labels, Counter>,
    dropped: Family<Labels, Counter>,
    auth: Family<Labels, Counter>,
}

impl GuardMetrics {
    /// Registers the three families in `registry`, every series at 0.
    pub fn register(registry: &mut Registry) -> GuardMetrics {
        let metrics = GuardMetrics::default();
        for reason in RejectReason::ALL {
            metrics
                .rejected
                .get_or_create(&vec![("reason", reason.as_str())])
                .inc_by(0);
        }
        for reason in DropReason::ALL {
            metrics
                .dropped
                .get_or_create(&vec![("reason", reason.as_str())])
                .inc_by(0);
        }
        for reason in [AuthFailure::NoCredentials, AuthFailure::BadCredentials] {
            metrics
                .auth
                .get_or_create(&vec![("reason", reason.as_str())])
                .inc_by(0);
        }
        registry.register(
            "handshake_exporter_probes_rejected",
            "Probe requests refused before a probe ran, by reason",
            metrics.rejected.clone(),
        );
        registry.register(
            "handshake_exporter_http_connections_dropped",
            "HTTP connections closed by the exporter before a request was answered, by reason",
            metrics.dropped.clone(),
        );
        registry.register(
            "handshake_exporter_web_auth_failures",
            "Requests answered 401 by basic authentication, by reason",
            metrics.auth.clone(),
        );
        metrics
    }

    /// Counts one refused probe request.
    pub fn rejected(&self, reason: RejectReason) {
        self.rejected
            .get_or_create(&vec![("reason", reason.as_str())])
            .inc();
    }

    /// Counts one connection closed early.
    pub fn dropped(&self, reason: DropReason) {
        self.dropped
            .get_or_create(&vec![("reason", reason.as_str())])
            .inc();
    }

    /// Counts one 401.
    pub fn auth_failed(&self, reason: AuthFailure) {
        self.auth
            .get_or_create(&vec![("reason", reason.as_str())])
            .inc();
    }
}
