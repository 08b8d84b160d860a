//! The probe engine: one orchestrator walks the phases `resolve` → `connect` → `tls` → `query`
//! under one deadline and returns a [`ProbeReport`]. Each phase lives in its own module; nothing
//! else in the crate touches sockets.

pub mod connect;
pub mod errno;
pub mod icmp;
pub mod query;
pub mod resolve;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use crate::config::Module;
use crate::report::{Failure, FailureClass, Phase, ProbeReport, StepLog, TlsFacts};

/// `host:port` of a probe target. `host` is a name or an IP literal without brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// DNS name or IP literal (IPv6 without brackets).
    pub host: String,
    /// TCP port, 1..=65535.
    pub port: u16,
}

/// One probe to run: what, how, and by when.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    /// The target.
    pub target: Target,
    /// The module's name, for logs.
    pub module_name: String,
    /// The module's settings.
    pub module: Arc<Module>,
    /// The deadline, counted from the probe's start.
    pub timeout: Duration,
}

/// Why a `target` parameter was rejected; the text is the one-line reason a user reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Empty parameter.
    #[error("target is empty")]
    Empty,
    /// No `:PORT` part.
    #[error("target {0:?} has no port: use HOST:PORT, [IPv6]:PORT")]
    MissingPort(String),
    /// Port not a number in 1..=65535.
    #[error("target {0:?} has an invalid port: it must be 1..65535")]
    BadPort(String),
    /// Empty host, or an IPv6 literal without brackets or with bad brackets.
    #[error("target {0:?} has an invalid host: use HOST:PORT, [IPv6]:PORT")]
    BadHost(String),
}

impl Target {
    /// Parses `HOST:PORT`, `IPv4:PORT` or `[IPv6]:PORT`.
    ///
    /// Errors: [`TargetError`] for an empty target, a missing port, a port outside 1..=65535,
    /// an empty host, or an IPv6 literal without brackets.
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| TargetError::BadHost(s.to_string()))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(TargetError::BadHost(s.to_string()));
            }
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| TargetError::MissingPort(s.to_string()))?;
            (host, port)
        } else {
            let (host, port) = s
                .rsplit_once(':')
                .ok_or_else(|| TargetError::MissingPort(s.to_string()))?;
            if host.contains(':') {
                return Err(TargetError::BadHost(s.to_string()));
            }
            (host, port)
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(TargetError::BadHost(s.to_string()));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| TargetError::BadPort(s.to_string()))?;
        Ok(Target {
            host: host.to_string(),
            port,
        })
    }
}

/// Runs one probe and returns its report; never fails, never panics on any target.
///
/// The report says where and why the probe failed, and carries every fact gathered on the way.
/// It is returned by `req.timeout` after the start whatever phase hangs: a phase still running at
/// the deadline is classed `timeout`.
pub async fn probe(req: ProbeRequest) -> ProbeReport {
    let start = Instant::now();
    let deadline = start + req.timeout;
    let mut log = StepLog::new(start.into_std());
    let mut report = ProbeReport {
        timeout: req.timeout,
        failed_due_to_regex: Some(false),
        ..Default::default()
    };
    log.note(format!(
        "probing {}:{} with module {}, timeout {:.3}s",
        req.target.host,
        req.target.port,
        req.module_name,
        req.timeout.as_secs_f64()
    ));
    let result = walk(&req, deadline, &mut report, &mut log).await;
    report.failure = result.err();
    report.duration = start.elapsed();
    match &report.failure {
        None => log.note("probe succeeded"),
        Some(f) => log.note(format!("probe failed: {f}")),
    }
    report.log = log.into_lines();
    report
}

/// Walks the phases in order, timing each and stopping at the first failure.
async fn walk(
    req: &ProbeRequest,
    deadline: Instant,
    report: &mut ProbeReport,
    log: &mut StepLog,
) -> Result<(), Failure> {
    let tcp = &req.module.tcp;
    let host = req.target.host.as_str();

    let t = Instant::now();
    let resolved = timeout_at(
        deadline,
        resolve::resolve(
            host,
            tcp.preferred_ip_protocol,
            tcp.ip_protocol_fallback,
            log,
        ),
    )
    .await;
    report.phases.push((Phase::Resolve, t.elapsed()));
    let ip = resolved.unwrap_or_else(|_| Err(Failure::timeout(Phase::Resolve)))?;
    report.ip_addr = Some(ip);

    let t = Instant::now();
    let addr = SocketAddr::new(ip, req.target.port);
    let connected = connect::connect(addr, tcp.source_ip_address, deadline, log).await;
    report.phases.push((Phase::Connect, t.elapsed()));
    let connected = connected.map_err(|e| {
        report.icmp = e.icmp;
        e.failure
    })?;
    report.tcp_info = connected.tcp_info;

    let mut conn = query::Conn::Plain(connected.stream);
    if tcp.tls {
        let t = Instant::now();
        let facts = report.tls.get_or_insert_with(TlsFacts::default);
        let shaken = match connected_plain(conn) {
            Some(stream) => {
                timeout_at(
                    deadline,
                    tls::handshake(stream, &tcp.tls_config, host, facts, log),
                )
                .await
            }
            None => Ok(Err(Failure::new(Phase::Tls, FailureClass::ProberError, ""))),
        };
        report.phases.push((Phase::Tls, t.elapsed()));
        let stream = shaken.unwrap_or_else(|_| Err(Failure::timeout(Phase::Tls)))?;
        conn = query::Conn::Tls(Box::new(stream));
    }

    if !tcp.query_response.is_empty() {
        let t = Instant::now();
        let mut outcome = query::QueryOutcome::default();
        let ran = timeout_at(
            deadline,
            query::run(
                conn,
                &tcp.query_response,
                &tcp.tls_config,
                host,
                &mut outcome,
                log,
            ),
        )
        .await;
        report.phases.push((Phase::Query, t.elapsed()));
        report.failed_due_to_regex = Some(outcome.failed_due_to_regex);
        report.expect_labels = outcome.expect_labels;
        if let Some(facts) = outcome.tls {
            report.tls = Some(facts);
        }
        ran.unwrap_or_else(|_| Err(Failure::timeout(Phase::Query)))?;
    }
    Ok(())
}

fn connected_plain(conn: query::Conn) -> Option<tokio::net::TcpStream> {
    match conn {
        query::Conn::Plain(s) => Some(s),
        query::Conn::Tls(_) => None,
    }
}
