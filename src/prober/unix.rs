//! `prober: unix` (blackbox_exporter 0.28's `unix` prober): connect to a Unix stream socket at
//! the target path, with `unix.tls` a TLS handshake over it (phase `tls`, see
//! [`super::tls::over_unix`]), then the module's `query_response` dialogue. No resolve phase;
//! the connect phase's class comes from connect(2)'s errno (unix(7)).

use std::io;

use tokio::net::UnixStream;
use tokio::time::Instant;

use super::errno::classify_connect;
use super::{query, within, ProbeRequest};
use crate::report::{Detail, Failure, FailureClass, Phase, ProbeReport, StepLog};

/// Probes the socket at `req.target.host` (a path: see [`super::Target::unix_path`]). The
/// returned report has no timeout or duration yet; its log offsets count from `start`.
pub(super) async fn probe(req: &ProbeRequest, start: Instant, deadline: Instant) -> ProbeReport {
    let mut log = StepLog::new(start.into_std());
    let mut report = ProbeReport {
        failed_due_to_regex: Some(false),
        failed_due_to_bytes: Some(false),
        ..Default::default()
    };
    let result = walk(req, deadline, &mut report, &mut log).await;
    report.failure = result.err();
    report.log = log.into_lines();
    report
}

/// Connect, then the dialogue, stopping at the first failure.
async fn walk(
    req: &ProbeRequest,
    deadline: Instant,
    report: &mut ProbeReport,
    log: &mut StepLog,
) -> Result<(), Failure> {
    let path = req.target.host.as_str();
    let t = Instant::now();
    let connecting = async {
        UnixStream::connect(path)
            .await
            .map_err(|err| classify_unix_connect(&err))
    };
    let connected = within(deadline, Phase::Connect, connecting).await;
    report.phases.push((Phase::Connect, t.elapsed()));
    let stream = connected.inspect_err(|f| log.note(format!("connect to {path} failed: {f}")))?;
    log.note(format!("connected to {path}"));

    let tcp = &req.module.tcp;
    let conn = if tcp.tls {
        let t = Instant::now();
        let facts = report.tls.insert(Default::default());
        let handshake = super::tls::over_unix::handshake(stream, &tcp.tls_config, facts, log);
        let shaken = Box::pin(within(deadline, Phase::Tls, handshake)).await;
        report.phases.push((Phase::Tls, t.elapsed()));
        query::Conn::UnixTls(Box::new(shaken?))
    } else {
        query::Conn::Unix(stream)
    };
    if tcp.query_response.is_empty() {
        return Ok(());
    }
    let mut outcome = query::QueryOutcome::default();
    let ran = Box::pin(query::run(
        conn,
        &tcp.query_response,
        &tcp.tls_config,
        path,
        deadline,
        &mut outcome,
        log,
    ))
    .await;
    report.phases.append(&mut outcome.phases);
    report.failed_due_to_regex = Some(outcome.failed_due_to_regex);
    report.failed_due_to_bytes = Some(outcome.failed_due_to_bytes);
    report.expect_labels = outcome.expect_labels;
    report.failed_step = outcome.failed_step;
    ran
}

/// The class of a failed connect(2) to a Unix socket (unix(7) ERRORS): ECONNREFUSED (a socket
/// file nobody listens on, or a path that is not a socket) is `refused`; ENOENT and ENOTDIR
/// (no such path) `socket_missing`; EACCES and EPERM `permission_denied`; the rest as a TCP
/// connect's errno would be.
pub fn classify_unix_connect(err: &io::Error) -> Failure {
    let code = err.raw_os_error();
    let class = match code {
        Some(libc::ECONNREFUSED) => FailureClass::Refused,
        Some(libc::ENOENT | libc::ENOTDIR) => FailureClass::SocketMissing,
        Some(libc::EACCES | libc::EPERM) => FailureClass::PermissionDenied,
        _ => return classify_connect(err),
    };
    Failure::new(Phase::Connect, class, Detail::errno(code))
}
