//! The orchestrator: resolve once, then walk `connect` → `tls` → `query` for one address (or for
//! every address at once), timing each phase under the probe's one deadline.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout_at, Instant};

use super::addresses::{self, Plan};
use super::{connect, proxy, query, resolve, starttls, tls, trace, within, ProbeRequest};
use crate::config::AddressRule;
use crate::report::{AddressResult, Failure, FailureClass, Phase, ProbeReport, StepLog, TlsFacts};

/// Slack kept between the end of a path trace and the probe deadline, so the answer is on time.
const TRACE_MARGIN: Duration = Duration::from_millis(20);

/// Runs one probe and returns its report; never fails, never panics on any target.
///
/// The report says where and why the probe failed, and carries every fact gathered on the way.
/// It is returned by `req.timeout` after the start whatever phase hangs: a phase still running at
/// the deadline is classed `timeout`.
pub async fn probe(req: ProbeRequest) -> ProbeReport {
    let start = Instant::now();
    let deadline = start + req.timeout;
    let mut log = StepLog::new(start.into_std());
    if req.module.prober == crate::config::UNIX_PROBER {
        log.note(format!(
            "probing unix socket {} with module {}, timeout {:.3}s",
            req.target.host,
            req.module_name,
            req.timeout.as_secs_f64()
        ));
        let report = super::unix::probe(&req, start, deadline).await;
        return finish(&req, report, start, log);
    }
    log.note(format!(
        "probing {}:{} with module {}, timeout {:.3}s",
        req.target.host,
        req.target.port,
        req.module_name,
        req.timeout.as_secs_f64()
    ));
    let tcp = &req.module.tcp;
    let restrictions = req.module.restrictions.as_ref();
    if let Some(Err(rejection)) = restrictions.map(|r| r.check_host(&req.target.host)) {
        return rejected(rejection, start);
    }
    let t = Instant::now();
    let resolved = resolve_phase(&req, deadline, &mut log).await;
    let resolve_time = t.elapsed();
    if let (Ok((ips, dest)), Some(restrictions)) = (&resolved, restrictions) {
        // The restrictions judge the target's addresses: through a proxy that resolves the
        // name itself, this exporter never learns them.
        let target_ips = match (&tcp.proxy_url, dest) {
            (None, _) => Some(&ips[..]),
            (Some(_), Some(dest)) => Some(std::slice::from_ref(dest)),
            (Some(_), None) => None,
        };
        if let Some(Err(rejection)) =
            target_ips.map(|ips| restrictions.check_addresses(&req.target.host, ips))
        {
            return rejected(rejection, start);
        }
    }

    let mut report = match resolved {
        Err(failure) => ProbeReport {
            failure: Some(failure),
            failed_due_to_regex: Some(false),
            failed_due_to_bytes: Some(false),
            ..Default::default()
        },
        Ok((ips, dest)) if tcp.probe_all_addresses => {
            let plan = addresses::plan(&ips, tcp.probe_all_addresses_limit, &mut log);
            every_address(&req, plan, dest, start, deadline).await
        }
        Ok((ips, dest)) => one_address(&req, ips[0], dest, start, deadline).await,
    };
    report.phases.insert(0, (Phase::Resolve, resolve_time));
    finish(&req, report, start, log)
}

/// Phase `resolve`: the target's addresses, or through a proxy the proxy's, and with a
/// `socks5://` proxy (which gets an address, not a name) also the target's first address as
/// the second value. Both lookups share the phase and its deadline.
async fn resolve_phase(
    req: &ProbeRequest,
    deadline: Instant,
    log: &mut StepLog,
) -> Result<(Vec<IpAddr>, Option<IpAddr>), Failure> {
    let tcp = &req.module.tcp;
    let first = tcp.proxy_url.as_ref().map_or(&req.target.host, |p| &p.host);
    let ips = lookup(first, tcp, deadline, log).await?;
    match &tcp.proxy_url {
        Some(proxy) if proxy.resolves_locally => {
            let target = lookup(&req.target.host, tcp, deadline, log).await?;
            log.note(format!(
                "{proxy} resolves locally: the proxy is asked for {}",
                target[0]
            ));
            Ok((ips, Some(target[0])))
        }
        _ => Ok((ips, None)),
    }
}

/// One name's lookup within the probe's deadline and descriptor budget.
async fn lookup(
    host: &str,
    tcp: &crate::config::TcpProbe,
    deadline: Instant,
    log: &mut StepLog,
) -> Result<Vec<IpAddr>, Failure> {
    // A lookup in DNS opens sockets too: at most two at once (A and AAAA).
    let held = dns_descriptors(host, log)?;
    let resolving = resolve::resolve(
        host,
        tcp.preferred_ip_protocol,
        tcp.ip_protocol_fallback,
        log,
    );
    // Boxed: the resolver's future is large and only lives while resolving.
    let resolved = Box::pin(within(deadline, Phase::Resolve, resolving)).await;
    drop(held);
    resolved
}

/// Completes `report`: timeout, duration, the expected-failure verdict and the step log.
fn finish(
    req: &ProbeRequest,
    mut report: ProbeReport,
    start: Instant,
    mut log: StepLog,
) -> ProbeReport {
    report.timeout = req.timeout;
    report.duration = start.elapsed();
    // Chronological before the budget applies, so the cut falls at one moment of the probe.
    report.log.sort_by_key(|l| l.offset);
    log.append(std::mem::take(&mut report.log));
    super::policy::judge(req.module.expect_failure.as_ref(), &mut report, &mut log);
    match &report.failure {
        None => log.note("probe succeeded"),
        Some(f) => log.note(format!("probe failed: {f}")),
    }
    let mut lines = log.into_lines();
    lines.sort_by_key(|l| l.offset);
    report.log = lines;
    report
}

/// The probe descriptors a lookup of `host` may use, `None` for an IP literal (no lookup); the
/// resolve phase's `prober_error` when the budget has none free.
fn dns_descriptors(
    host: &str,
    log: &mut StepLog,
) -> Result<Option<super::sockets::Descriptors>, Failure> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(None);
    }
    connect::take_descriptors(2, Phase::Resolve, log).map(Some)
}

/// The report of a target the module's restrictions refused: nothing was connected to.
fn rejected(rejection: crate::config::Rejection, start: Instant) -> ProbeReport {
    ProbeReport {
        rejected: Some(rejection),
        duration: start.elapsed(),
        ..Default::default()
    }
}

/// Probes the planned addresses, at most `probe_all_addresses_concurrency` at once; the report
/// of the first failing address (or the first passing one when the rule is met) stands for the
/// probe, and `addresses` holds each outcome. `plan.probed` is not empty (resolve never returns
/// an empty list). An address still waiting for its turn at the deadline is a connect
/// `timeout`, never connected to.
///
/// A per-address task that panics is that address's `prober_error` (phase `connect`, the first
/// after resolve), logged as an error and in the step log; no address goes missing.
async fn every_address(
    req: &ProbeRequest,
    plan: Plan,
    dest: Option<IpAddr>,
    start: Instant,
    deadline: Instant,
) -> ProbeReport {
    let ips = plan.probed;
    let at_once = req.module.tcp.probe_all_addresses_concurrency;
    let turns = Arc::new(Semaphore::new(at_once));
    let mut set = JoinSet::new();
    let mut slot = HashMap::with_capacity(ips.len());
    for (i, ip) in ips.iter().copied().enumerate() {
        let (req, turns) = (req.clone(), turns.clone());
        let task = set.spawn(async move {
            let Ok(Ok(turn)) = timeout_at(deadline, turns.acquire_owned()).await else {
                let why = format!("no turn before the deadline ({at_once} addresses at once)");
                return lost(ip, start, Failure::timeout(Phase::Connect), &why);
            };
            let report = one_address(&req, ip, dest, start, deadline).await;
            drop(turn);
            report
        });
        slot.insert(task.id(), i);
    }
    let mut reports: Vec<ProbeReport> = ips
        .iter()
        .map(|ip| lost(*ip, start, prober_error(), "no outcome"))
        .collect();
    while let Some(done) = set.join_next_with_id().await {
        match done {
            Ok((id, report)) => reports[slot[&id]] = report,
            Err(err) => {
                let ip = ips[slot[&err.id()]];
                tracing::error!(address = %ip, module = %req.module_name, "probe task failed: {err}");
                reports[slot[&err.id()]] = lost(ip, start, prober_error(), &err.to_string());
            }
        }
    }
    let passed = reports.iter().filter(|r| r.success()).count();
    let success = match req.module.tcp.probe_all_addresses_rule {
        AddressRule::All => passed == reports.len(),
        AddressRule::Any => passed > 0,
    };
    let addresses = ips
        .iter()
        .zip(&reports)
        .map(|(ip, r)| AddressResult {
            address: *ip,
            failure: r.failure,
        })
        .collect();
    let mut logs = Vec::new();
    for (ip, r) in ips.iter().zip(reports.iter_mut()) {
        for mut line in std::mem::take(&mut r.log) {
            line.message = format!("[{ip}] {}", line.message);
            logs.push(line);
        }
    }
    // With the rule met a passing address exists, else a failing one does.
    let primary = reports
        .iter()
        .position(|r| r.success() == success)
        .unwrap_or(0);
    let mut report = reports.swap_remove(primary);
    report.addresses = addresses;
    report.addresses_not_probed = plan.not_probed;
    report.log = logs;
    report
}

/// True when a completed handshake is followed by a revocation check: CRLs
/// (`tls_config.crl_check`), or `tcp.fail_if_revoked` judging the stapled OCSP response.
fn checks_revocation(tcp: &crate::config::TcpProbe) -> bool {
    tcp.tls_config.crl_check.enabled || tcp.fail_if_revoked
}

/// The failure of an address whose probe task ended without a report.
fn prober_error() -> Failure {
    Failure::bare(Phase::Connect, FailureClass::ProberError)
}

/// The report of an address probed no further than `failure`, with `why` in its step log.
fn lost(ip: IpAddr, start: Instant, failure: Failure, why: &str) -> ProbeReport {
    let mut log = StepLog::new(start.into_std());
    log.note(format!(
        "probe of this address ended without a report: {why}"
    ));
    ProbeReport {
        failure: Some(failure),
        ip_addr: Some(ip),
        failed_due_to_regex: Some(false),
        log: log.into_lines(),
        ..Default::default()
    }
}

/// Walks connect → tls → query against `ip`. The returned report has no resolve phase, timeout
/// or duration yet; its log offsets count from `start`.
async fn one_address(
    req: &ProbeRequest,
    ip: IpAddr,
    dest: Option<IpAddr>,
    start: Instant,
    deadline: Instant,
) -> ProbeReport {
    let mut log = StepLog::part(start.into_std());
    let mut report = ProbeReport {
        ip_addr: Some(ip),
        failed_due_to_regex: Some(false),
        failed_due_to_bytes: Some(false),
        ..Default::default()
    };
    let result = walk(req, ip, dest, start, deadline, &mut report, &mut log).await;
    report.failure = result.err();
    report.log = log.into_lines();
    report
}

/// The phases after resolve, stopping at the first failure.
async fn walk(
    req: &ProbeRequest,
    ip: IpAddr,
    dest: Option<IpAddr>,
    start: Instant,
    deadline: Instant,
    report: &mut ProbeReport,
    log: &mut StepLog,
) -> Result<(), Failure> {
    let tcp = &req.module.tcp;
    let host = req.target.host.as_str();

    let t = Instant::now();
    let port = tcp.proxy_url.as_ref().map_or(req.target.port, |p| p.port);
    let addr = SocketAddr::new(ip, port);
    let connected = connect_traced(req, addr, start, deadline, report, log).await;
    let took = connected.as_ref().map_or_else(|_| t.elapsed(), |c| c.took);
    report.phases.push((Phase::Connect, took));
    let connected = connected.map_err(|e| {
        report.icmp = e.icmp;
        e.failure
    })?;
    report.tcp_info = connected.tcp_info;
    // Held until the walk ends, after the stream is gone.
    let _held = connected.held;

    let mut stream = connected.stream;
    if tcp.proxy_url.is_some() {
        let t = Instant::now();
        // The address resolved here (`socks5://`), else the name for the proxy to resolve.
        let dest = dest.map(|ip| ip.to_string());
        let asked = dest.as_deref().unwrap_or(host);
        let opening = proxy::open(stream, tcp, asked, req.target.port, log);
        let opened = Box::pin(within(deadline, Phase::Proxy, opening)).await;
        report.phases.push((Phase::Proxy, t.elapsed()));
        stream = opened?;
    }
    if let Some(protocol) = tcp.starttls {
        let t = Instant::now();
        // The name the server is asked for (an XMPP stream's `to`): the TLS name if set.
        let name = tcp.tls_config.server_name.as_deref().unwrap_or(host);
        let upgrade = starttls::upgrade(protocol, stream, name, deadline, log);
        let upgraded = Box::pin(upgrade).await;
        report.phases.push((Phase::Query, t.elapsed()));
        stream = upgraded?;
    }

    let conn = if tcp.tls || tcp.starttls.is_some() {
        let t = Instant::now();
        let facts = report.tls.insert(TlsFacts::default());
        // Phase futures are boxed, here and below: a probe waiting in one phase then holds
        // only that phase's state, not the largest phase's (thousands wait at once).
        let handshake = query::Conn::handshake(stream, &tcp.tls_config, host, facts, log);
        let shaken = Box::pin(within(deadline, Phase::Tls, handshake)).await;
        let restrictions = req.module.restrictions.as_ref();
        // Only modules with `crl_check` or `fail_if_revoked` pay for the check (its future is
        // boxed like a phase's).
        let revocation = match &shaken {
            Ok(_) if checks_revocation(tcp) => {
                Box::pin(tls::crl::after_handshake(
                    tcp,
                    restrictions,
                    deadline,
                    facts,
                    log,
                ))
                .await
            }
            _ => Ok(()),
        };
        report.phases.push((Phase::Tls, t.elapsed()));
        revocation?;
        shaken?
    } else {
        query::Conn::Plain(stream)
    };

    if !tcp.query_response.is_empty() {
        let mut outcome = query::QueryOutcome::default();
        let steps = &tcp.query_response;
        let ran = Box::pin(query::run(
            conn,
            steps,
            &tcp.tls_config,
            host,
            deadline,
            &mut outcome,
            log,
        ))
        .await;
        // After a STARTTLS upgrade, the upgrade and the dialogue are one query phase.
        for (phase, took) in outcome.phases.drain(..) {
            match report.phases.iter_mut().find(|(p, _)| *p == phase) {
                Some((_, sum)) => *sum += took,
                None => report.phases.push((phase, took)),
            }
        }
        report.failed_due_to_regex = Some(outcome.failed_due_to_regex);
        report.failed_due_to_bytes = Some(outcome.failed_due_to_bytes);
        report.expect_labels = outcome.expect_labels;
        report.failed_step = outcome.failed_step;
        if let Some(mut facts) = outcome.tls {
            // A `starttls` step's handshake: its revocation check, after the dialogue.
            if checks_revocation(tcp) {
                let restrictions = req.module.restrictions.as_ref();
                let checked =
                    tls::crl::after_handshake(tcp, restrictions, deadline, &mut facts, log);
                let revocation = Box::pin(checked).await;
                report.tls = Some(facts);
                ran?;
                revocation?;
            } else {
                report.tls = Some(facts);
            }
        }
        ran?;
    }
    Ok(())
}

/// Connects, and with `tcp.path_trace` enabled, traces the path once the connect has been
/// silent for the larger of half the timeout and the timeout less one second.
async fn connect_traced(
    req: &ProbeRequest,
    addr: SocketAddr,
    start: Instant,
    deadline: Instant,
    report: &mut ProbeReport,
    log: &mut StepLog,
) -> Result<connect::Connected, connect::ConnectError> {
    let tcp = &req.module.tcp;
    let mut trace_log = Vec::new();
    let result = {
        let conn = connect::connect(addr, tcp.source_ip_address, deadline, log);
        tokio::pin!(conn);
        if !tcp.path_trace.enabled {
            conn.await
        } else {
            let silent_for =
                (req.timeout / 2).max(req.timeout.saturating_sub(Duration::from_secs(1)));
            tokio::select! {
                r = &mut conn => r,
                _ = sleep_until(start + silent_for) => {
                    trace_log.push((Instant::now(), "connect still silent: tracing the path"));
                    let until = deadline.checked_sub(TRACE_MARGIN).unwrap_or(deadline);
                    let traced = trace::trace(addr, tcp.source_ip_address, tcp.path_trace.max_hops, until);
                    tokio::pin!(traced);
                    tokio::select! {
                        r = &mut conn => r,
                        path = &mut traced => {
                            report.path = Some(path);
                            conn.await
                        }
                    }
                }
            }
        }
    };
    for (at, line) in trace_log {
        log.note_at(at.into_std(), line);
    }
    if let Some(path) = &report.path {
        for h in &path.hops {
            log.note(format!("path hop {} answered from {}", h.hop, h.address));
        }
        log.note(format!(
            "last responding hop: {}",
            path.last_responding_hop()
        ));
    }
    result
}
