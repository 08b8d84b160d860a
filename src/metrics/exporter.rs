//! The exporter's own metrics, served on `/metrics`: probe counters per module, the probe
//! duration histogram, config reload state, build info, rejected requests and `process_*`.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{GuardMetrics, ProcessCollector, RejectReason};
use crate::report::ProbeReport;

/// The crate version (`CARGO_PKG_VERSION`), the `version` label of `build_info`.
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short git commit the binary was built from (`git rev-parse --short HEAD` in `build.rs`),
/// `unknown` when git was not available; the `revision` label of `build_info`.
pub const BUILD_REVISION: &str = match option_env!("HANDSHAKE_EXPORTER_REVISION") {
    Some(rev) => rev,
    None => "unknown",
};

/// Upper bounds of `handshake_exporter_probe_duration_seconds`, seconds: from a loopback connect
/// to the longest module timeouts people configure.
const DURATION_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
];

/// Upper bounds of `handshake_exporter_scheduling_lag_seconds`, seconds: from a wake-up that
/// costs nothing against a 50 ms round trip to one that swamps any phase.
const LAG_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

type Labels = Vec<(&'static str, String)>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Counters and gauges about the exporter itself, shared by every request.
///
/// Cheap to update from many tasks at once (atomics inside); [`ExporterMetrics::encode`] renders
/// the `/metrics` answer.
#[derive(Debug)]
pub struct ExporterMetrics {
    registry: Registry,
    probes: Family<Labels, Counter>,
    failures: Family<Labels, Counter>,
    durations: Family<Labels, Histogram, fn() -> Histogram>,
    reload_successful: Gauge,
    reload_timestamp: Gauge<f64, AtomicU64>,
    guard: GuardMetrics,
    scheduling_lag: Histogram,
}

impl Default for ExporterMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ExporterMetrics {
    /// A fresh set with every counter at zero, `config_last_reload_successful` 0 and the
    /// `process_*` collector registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let probes = Family::<Labels, Counter>::default();
        let failures = Family::<Labels, Counter>::default();
        let durations: Family<Labels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        let reload_successful = Gauge::default();
        let reload_timestamp = Gauge::<f64, AtomicU64>::default();
        let scheduling_lag = Histogram::new(LAG_BUCKETS);
        let build_info = Family::<Labels, Gauge>::default();
        build_info
            .get_or_create(&vec![
                ("version", BUILD_VERSION.to_string()),
                ("revision", BUILD_REVISION.to_string()),
            ])
            .set(1);

        registry.register(
            "handshake_exporter_probes",
            "Probes run, by module and result (success or failure)",
            probes.clone(),
        );
        registry.register(
            "handshake_exporter_probe_failures",
            "Failed probes, by module, failing phase and failure class",
            failures.clone(),
        );
        registry.register(
            "handshake_exporter_probe_duration_seconds",
            "Wall time of probes in seconds, by module",
            durations.clone(),
        );
        registry.register(
            "handshake_exporter_config_last_reload_successful",
            "1 when the last configuration load succeeded, else 0",
            reload_successful.clone(),
        );
        registry.register(
            "handshake_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load",
            reload_timestamp.clone(),
        );
        registry.register(
            "handshake_exporter_build_info",
            "Version and git revision the exporter was built from, value 1",
            build_info,
        );
        let guard = GuardMetrics::register(&mut registry);
        registry.register(
            "handshake_exporter_scheduling_lag_seconds",
            "Time a task handed to the probe thread waited for its first poll, sampled every 50 ms: \
             how late a probe sees a ready socket, and so how much a phase latency may be too long",
            scheduling_lag.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector::new()));
        registry.register_collector(Box::new(super::ProbeSocketsCollector));
        registry.register_collector(Box::new(super::CrlCacheCollector));

        ExporterMetrics {
            registry,
            probes,
            failures,
            durations,
            reload_successful,
            reload_timestamp,
            guard,
            scheduling_lag,
        }
    }

    /// Creates the zero-valued `probes_total` (both results) and duration series of each module
    /// in `modules`, so the first probe of a module shows as an increase rather than a new series.
    pub fn init_modules<'a>(&self, modules: impl IntoIterator<Item = &'a str>) {
        for module in modules {
            for result in ["success", "failure"] {
                self.probes
                    .get_or_create(&vec![
                        ("module", module.to_string()),
                        ("result", result.to_string()),
                    ])
                    .inc_by(0);
            }
            // Creating the series is the point; the guard is not needed.
            let _ = self
                .durations
                .get_or_create(&vec![("module", module.to_string())]);
        }
    }

    /// Counts one finished probe of `module`: result, failure (phase, class) and duration.
    pub fn observe_probe(&self, module: &str, report: &ProbeReport) {
        let result = if report.success() {
            "success"
        } else {
            "failure"
        };
        self.probes
            .get_or_create(&vec![
                ("module", module.to_string()),
                ("result", result.to_string()),
            ])
            .inc();
        if let Some(failure) = &report.failure {
            self.failures
                .get_or_create(&vec![
                    ("module", module.to_string()),
                    ("phase", failure.phase.as_str().to_string()),
                    ("class", failure.class.as_str().to_string()),
                ])
                .inc();
        }
        self.durations
            .get_or_create(&vec![("module", module.to_string())])
            .observe(report.duration.as_secs_f64());
    }

    /// Counts one request refused by the concurrency limit.
    pub fn observe_rejected(&self) {
        self.guard.rejected(RejectReason::ConcurrencyLimit);
    }

    /// The counters of refused probes, dropped connections and failed authentication.
    pub fn guard(&self) -> &GuardMetrics {
        &self.guard
    }

    /// The scheduling lag histogram, for the probe runtime's sampler to observe into (seconds).
    pub fn scheduling_lag(&self) -> Histogram {
        self.scheduling_lag.clone()
    }

    /// Records a successful configuration load at `at`: the gauge goes to 1 and the timestamp
    /// to `at` in unix seconds.
    pub fn reload_succeeded(&self, at: SystemTime) {
        self.reload_successful.set(1);
        let secs = at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.reload_timestamp.set(secs);
    }

    /// Records a failed configuration load: the gauge goes to 0, the timestamp stays.
    pub fn reload_failed(&self) {
        self.reload_successful.set(0);
    }

    /// The `/metrics` answer in the OpenMetrics text format, ending with `# EOF`.
    ///
    /// Errors: only a formatter error, which writing into a `String` does not produce.
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
