//! Metric encoders: the per-probe answer of `/probe` (a fresh registry built from one
//! [`ProbeReport`](crate::report::ProbeReport)), the exporter's own counters served on `/metrics`,
//! and the standard `process_*` metrics read from procfs.
//!
//! Names and labels follow the metric contract (`docs/metrics.md`).

mod crl_cache;
mod exporter;
mod guard;
mod probe;
mod process;
mod sockets;

pub use crl_cache::CrlCacheCollector;
pub use exporter::{ExporterMetrics, BUILD_REVISION, BUILD_VERSION};
pub use guard::{AuthFailure, DropReason, GuardMetrics, RejectReason};
pub use probe::{encode_probe, ip_addr_hash, probe_registry};
pub use process::ProcessCollector;
pub use sockets::ProbeSocketsCollector;

/// Content type of prometheus-client's text encoder output (OpenMetrics 1.0.0 text format).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
