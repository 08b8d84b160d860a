//! `GET /probe?target=HOST:PORT&module=NAME[&hostname=NAME][&debug=true]`: checks the request,
//! decides the deadline as blackbox_exporter does, runs one probe and answers with a fresh
//! registry.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::{HeaderMap, StatusCode};

use super::query::{decode_target, first, parse_query};
use super::{reply, text, Reply, State};
use crate::config::{Config, Module};
use crate::logging::clip;
use crate::metrics::{encode_probe, OPENMETRICS_CONTENT_TYPE};
use crate::prober::{ProbeRequest, Target};
use crate::report::ProbeReport;

/// The header Prometheus sends with its scrape timeout in seconds.
pub const SCRAPE_TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";

/// Scrape timeout assumed when the header is absent or 0, seconds (blackbox_exporter's value).
const DEFAULT_SCRAPE_TIMEOUT: f64 = 120.0;

/// Why the scrape-timeout header was rejected; the text is the one-line 400 reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimeoutError {
    /// Not a finite decimal number of seconds.
    #[error("failed to parse {SCRAPE_TIMEOUT_HEADER} header {0:?}: not a number of seconds")]
    NotANumber(String),
    /// The resulting deadline does not fit a duration.
    #[error(
        "failed to use {SCRAPE_TIMEOUT_HEADER} header: timeout of {0} seconds is out of range"
    )]
    OutOfRange(f64),
}

/// The probe deadline, exactly as blackbox_exporter's `getTimeout` (`main.go`) decides it.
///
/// `header` is the scrape timeout in seconds (absent, empty or 0 means 120); the most a probe may
/// take is that minus `offset_seconds`. The module timeout wins when it is set and shorter, or
/// when the header minus offset is negative; a module without timeout counts as 0.
///
/// Errors: [`TimeoutError`] when the header is not a finite number, or the result does not fit a
/// [`Duration`].
pub fn probe_timeout(
    header: Option<&str>,
    module_timeout: Option<Duration>,
    offset_seconds: f64,
) -> Result<Duration, TimeoutError> {
    let mut scrape = match header.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite())
            .ok_or_else(|| TimeoutError::NotANumber(v.to_string()))?,
        None => 0.0,
    };
    if scrape == 0.0 {
        scrape = DEFAULT_SCRAPE_TIMEOUT;
    }
    let max = scrape - offset_seconds;
    let module = module_timeout.map_or(0.0, |d| d.as_secs_f64());
    if (module > 0.0 && module < max) || max < 0.0 {
        // The module's own value, not its round trip through f64 seconds.
        return Ok(module_timeout.unwrap_or(Duration::ZERO));
    }
    Duration::try_from_secs_f64(max).map_err(|_| TimeoutError::OutOfRange(max))
}

/// The module's configuration as shown by `debug=true`.
pub fn module_yaml(module: &Module) -> String {
    module.to_yaml()
}

/// The client and local addresses of the connection a request came on.
pub(super) type Ends = (SocketAddr, Option<SocketAddr>);

/// Answers one `/probe` request that came on a connection with `ends`.
pub(super) async fn handle(
    query: Option<&str>,
    headers: &HeaderMap,
    ends: Ends,
    state: &State,
) -> Reply {
    if let Some(refused) = super::self_probe::refuse(ends, state) {
        return refused;
    }
    let pairs = match parse_query(query.unwrap_or("")) {
        Ok(pairs) => pairs,
        Err(err) => return text(StatusCode::BAD_REQUEST, &err.to_string()),
    };
    let module_name = match first(&pairs, "module") {
        Some(name) if !name.is_empty() => name,
        _ => return text(StatusCode::BAD_REQUEST, "module parameter is missing"),
    };
    let config = state.config();
    let mut module = match config.modules.get(module_name) {
        Some(module) => module.clone(),
        None => {
            return text(
                StatusCode::BAD_REQUEST,
                &unknown_module(module_name, &config),
            )
        }
    };
    if let Some(hostname) = first(&pairs, "hostname").filter(|h| !h.is_empty()) {
        if let Err(reason) = apply_hostname(std::sync::Arc::make_mut(&mut module), hostname) {
            return text(StatusCode::BAD_REQUEST, &reason);
        }
    }
    let header = match headers.get(SCRAPE_TIMEOUT_HEADER).map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            let reason = TimeoutError::NotANumber("<not visible ASCII>".to_string());
            return text(StatusCode::BAD_REQUEST, &reason.to_string());
        }
    };
    let timeout = match probe_timeout(header, module.timeout, state.timeout_offset()) {
        Ok(timeout) => timeout,
        Err(err) => return text(StatusCode::BAD_REQUEST, &err.to_string()),
    };
    let raw = first(&pairs, "target").map(decode_target);
    let parse = match module.prober.as_str() {
        crate::config::UNIX_PROBER => Target::unix_path,
        _ => Target::parse,
    };
    let target = match raw.as_deref().map(parse) {
        None => return text(StatusCode::BAD_REQUEST, "target parameter is missing"),
        Some(Err(err)) => return text(StatusCode::BAD_REQUEST, &err.to_string()),
        Some(Ok(target)) => target,
    };
    let debug = first(&pairs, "debug") == Some("true");

    let Some(slot) = state.try_probe_slot() else {
        state.metrics().observe_rejected();
        tracing::warn!(
            module = module_name,
            "probe rejected: concurrency limit reached"
        );
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many probes running: --probe.max-concurrency reached, retry later",
        );
    };
    let report = state
        .run_probe(ProbeRequest {
            target: target.clone(),
            module_name: module_name.to_string(),
            module: module.clone(),
            timeout,
        })
        .await;
    drop(slot);
    if let Some(rejection) = &report.rejected {
        state.metrics().guard().rejected(rejection.reason);
        tracing::warn!(module = module_name, "{}", clip(&rejection.message));
        return text(StatusCode::FORBIDDEN, &rejection.message);
    }
    state.metrics().observe_probe(module_name, &report);
    log_probe(state.prober_log_level(), module_name, &target, &report);
    let answer = match encode_probe(&report) {
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed to encode metrics",
        ),
        Ok(metrics) if debug => reply(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            debug_output(&report, &metrics, &module),
        ),
        Ok(metrics) => reply(StatusCode::OK, OPENMETRICS_CONTENT_TYPE, metrics),
    };
    // Last, so the history takes the report itself rather than a copy.
    let raw_target = first(&pairs, "target").unwrap_or_default();
    state
        .history()
        .push(module_name, raw_target, module, report);
    answer
}

/// Applies the `hostname` URL parameter as blackbox_exporter does for tcp modules (its
/// `prober/handler.go`): it becomes the TLS server name (SNI and the name the certificate must
/// match) unless the module sets `tls_config.server_name`, which wins.
///
/// Errors: the one-line 400 reason when `hostname` is neither a DNS name nor an IP address.
fn apply_hostname(module: &mut Module, hostname: &str) -> Result<(), String> {
    let valid = hostname.parse::<std::net::IpAddr>().is_ok()
        || rustls::pki_types::DnsName::try_from(hostname).is_ok();
    if !valid {
        return Err(format!(
            "hostname parameter {hostname:?} is neither a DNS name nor an IP address"
        ));
    }
    let tls = &mut module.tcp.tls_config;
    if tls.server_name.is_none() {
        tls.server_name = Some(hostname.to_string());
    }
    Ok(())
}

/// The 400 reason for a module that is not runnable: skipped at load, or not configured.
fn unknown_module(name: &str, config: &Config) -> String {
    match config.skipped.get(name) {
        Some(prober) => format!(
            "module {name:?} uses prober {prober:?}; handshake_exporter runs only tcp and unix modules"
        ),
        None => format!("unknown module {name:?}"),
    }
}

/// Logs one probe's outcome at `level` (`--log.prober`).
fn log_probe(level: tracing::Level, module: &str, target: &Target, report: &ProbeReport) {
    let seconds = report.duration.as_secs_f64();
    let (host, port) = (clip(&target.host), target.port);
    // tracing's macros take the level as a constant, hence one call per level.
    macro_rules! emit {
        ($level:expr) => {
            match &report.failure {
                None => tracing::event!($level, module, %host, port, seconds, "probe succeeded"),
                Some(failure) => tracing::event!(
                    $level,
                    module,
                    %host,
                    port,
                    seconds,
                    phase = failure.phase.as_str(),
                    class = failure.class.as_str(),
                    detail = %failure.detail,
                    "probe failed"
                ),
            }
        };
    }
    use tracing::Level;
    if level == Level::ERROR {
        emit!(Level::ERROR)
    } else if level == Level::WARN {
        emit!(Level::WARN)
    } else if level == Level::INFO {
        emit!(Level::INFO)
    } else if level == Level::DEBUG {
        emit!(Level::DEBUG)
    } else {
        emit!(Level::TRACE)
    }
}

/// The `debug=true` answer: the step log, the metrics, the module configuration.
fn debug_output(report: &ProbeReport, metrics: &str, module: &Module) -> String {
    let mut out = String::from("Logs for the probe:\n");
    for line in &report.log {
        // Writing into a String cannot fail.
        let _ = writeln!(out, "{:.6}s {}", line.offset.as_secs_f64(), line.message);
    }
    out.push_str("\n\nMetrics that would have been returned:\n");
    out.push_str(metrics);
    out.push_str("\n\nModule configuration:\n");
    out.push_str(&module_yaml(module));
    out
}
