//! The `query` phase: blackbox_exporter's `query_response` dialogue. Lines are read until one
//! matches `expect`, `send` is written with captures expanded, `starttls` upgrades the connection
//! (a STARTTLS handshake is phase `tls`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf,
};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::errno::classify_stream;
use crate::config::{QueryResponse, TlsConfig};
use crate::report::{Failure, FailureClass, Phase, StepLog, TlsFacts};

/// Longest line read while waiting for a match, as Go's bufio.Scanner default (64 KiB).
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// An open connection, plain or TLS.
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (direct or after STARTTLS).
    Tls(Box<TlsStream<TcpStream>>),
}

/// What the dialogue produced besides success or failure.
#[derive(Debug, Default)]
pub struct QueryOutcome {
    /// True when an `expect` step ended unmatched at EOF, whether lines came or not.
    pub failed_due_to_regex: bool,
    /// `probe_expect_info` label sets of the steps that matched and carry `labels`.
    pub expect_labels: Vec<Vec<(String, String)>>,
    /// TLS facts of a STARTTLS handshake.
    pub tls: Option<TlsFacts>,
    /// When the STARTTLS handshake began, and how long it took once it ended.
    pub starttls: Option<(tokio::time::Instant, Option<std::time::Duration>)>,
}

/// Runs `steps` over `conn`.
///
/// Returns `Ok(())` when every step passed. Errors, all phase `query` except a failed STARTTLS
/// handshake (phase `tls`): `expect_mismatch` when the peer sent lines but none matched before
/// EOF, `eof` when it closed without a line (both set `outcome.failed_due_to_regex`), `reset` on RST, `prober_error` for a `starttls` step
/// on a connection that is already TLS. The caller bounds the call with the probe deadline;
/// `outcome` keeps what was learnt even when the deadline cuts the dialogue short.
pub async fn run(
    conn: Conn,
    steps: &[QueryResponse],
    tls_cfg: &TlsConfig,
    host: &str,
    outcome: &mut QueryOutcome,
    log: &mut StepLog,
) -> Result<(), Failure> {
    let mut reader = BufReader::new(conn);
    for (i, step) in steps.iter().enumerate() {
        let mut send = step.send.clone();
        if let Some(re) = &step.expect {
            let line = read_until_match(&mut reader, re, outcome, log, i).await?;
            let caps = re.captures(&line).ok_or_else(|| mismatch(outcome))?;
            send.clear();
            caps.expand(&step.send, &mut send);
            if !step.labels.is_empty() {
                let labels = step
                    .labels
                    .iter()
                    .map(|l| {
                        let mut value = String::new();
                        caps.expand(&l.value, &mut value);
                        (l.name.clone(), value)
                    })
                    .collect();
                outcome.expect_labels.push(labels);
            }
        }
        if !send.is_empty() {
            log.note(format!("step {i}: sending {send:?}"));
            let mut bytes = send.into_bytes();
            bytes.push(b'\n');
            let w = reader.get_mut();
            w.write_all(&bytes)
                .await
                .map_err(|e| classify_stream(Phase::Query, &e))?;
            w.flush()
                .await
                .map_err(|e| classify_stream(Phase::Query, &e))?;
        }
        if step.starttls {
            reader = starttls(reader, tls_cfg, host, outcome, log).await?;
        }
    }
    Ok(())
}

/// Reads lines (without `\n` / `\r\n`, as Go's ScanLines) until one matches `re`.
async fn read_until_match(
    reader: &mut BufReader<Conn>,
    re: &regex::Regex,
    outcome: &mut QueryOutcome,
    log: &mut StepLog,
    step: usize,
) -> Result<String, Failure> {
    let mut lines_seen = 0usize;
    loop {
        let mut buf = Vec::new();
        let n = (&mut *reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| classify_stream(Phase::Query, &e))?;
        if n == 0 {
            if lines_seen == 0 {
                // The expectation was never met: blackbox_exporter sets the gauge here too.
                outcome.failed_due_to_regex = true;
                log.note(format!("step {step}: peer closed before sending a line"));
                return Err(Failure::new(Phase::Query, FailureClass::Eof, ""));
            }
            log.note(format!(
                "step {step}: no line matched {:?} before EOF",
                re.as_str()
            ));
            return Err(mismatch(outcome));
        }
        lines_seen += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let line = String::from_utf8_lossy(&buf).into_owned();
        if re.is_match(&line) {
            log.note(format!("step {step}: {line:?} matched {:?}", re.as_str()));
            return Ok(line);
        }
        log.note(format!("step {step}: read {line:?}"));
    }
}

fn mismatch(outcome: &mut QueryOutcome) -> Failure {
    outcome.failed_due_to_regex = true;
    Failure::new(Phase::Query, FailureClass::ExpectMismatch, "")
}

/// Upgrades a plain connection to TLS in the middle of the dialogue.
async fn starttls(
    reader: BufReader<Conn>,
    tls_cfg: &TlsConfig,
    host: &str,
    outcome: &mut QueryOutcome,
    log: &mut StepLog,
) -> Result<BufReader<Conn>, Failure> {
    if !reader.buffer().is_empty() {
        log.note("peer sent data ahead of the TLS handshake; it is discarded");
    }
    let Conn::Plain(tcp) = reader.into_inner() else {
        log.note("starttls on a connection that is already TLS");
        return Err(Failure::new(Phase::Tls, FailureClass::ProberError, ""));
    };
    log.note("starting TLS (STARTTLS)");
    let began = tokio::time::Instant::now();
    outcome.starttls = Some((began, None));
    let facts = outcome.tls.get_or_insert_with(TlsFacts::default);
    let shaken = super::tls::handshake(tcp, tls_cfg, host, facts, log).await;
    outcome.starttls = Some((began, Some(began.elapsed())));
    Ok(BufReader::new(Conn::Tls(Box::new(shaken?))))
}

// ---- Conn: AsyncRead / AsyncWrite by delegation ----

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
