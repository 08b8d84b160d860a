//! The `query` phase: blackbox_exporter's `query_response` dialogue. Lines are read until one
//! matches `expect`, `send` is written with captures expanded, `starttls` upgrades the connection
//! (a STARTTLS handshake is phase `tls`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf,
};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::errno::classify_stream;
use super::tls;
use super::within;
use crate::config::{QueryResponse, TlsConfig};
use crate::report::{Failure, FailureClass, Limit, Phase, QueryStep, StepKind, StepLog, TlsFacts};

/// Longest line an `expect` step reads, its newline included: Go's `bufio.MaxScanTokenSize`
/// (64 KiB), where blackbox_exporter's line scanner stops with "token too long". A longer line
/// fails the step (`expect_mismatch`, detail `line_too_long`); it is never matched in pieces.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Bytes of a line the step log shows (the log cuts every entry anyway; this spares escaping
/// a whole 64 KiB line to throw most of it away).
const SHOWN_LINE_BYTES: usize = 256;

/// An open connection, plain or TLS.
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (direct or after STARTTLS); dropping it sends close_notify.
    Tls(tls::Session),
    /// TLS through OpenSSL (`tls_config.stack: openssl`); dropping it sends close_notify.
    #[cfg(feature = "legacy-tls")]
    Legacy(tls::legacy::Session),
    /// A Unix stream socket (`prober: unix`).
    Unix(tokio::net::UnixStream),
    /// TLS over a Unix stream socket (`unix.tls: true`).
    UnixTls(Box<tokio_rustls::client::TlsStream<tokio::net::UnixStream>>),
}

impl Conn {
    /// The TLS handshake over `stream` on the module's stack ([`TlsConfig::stack`]): rustls
    /// ([`tls::handshake`]) or OpenSSL (`tls::legacy::handshake`), same facts and classes.
    /// The step log names the stack.
    pub async fn handshake(
        stream: TcpStream,
        cfg: &TlsConfig,
        host: &str,
        facts: &mut TlsFacts,
        log: &mut StepLog,
    ) -> Result<Conn, Failure> {
        #[cfg(feature = "legacy-tls")]
        if cfg.stack() == crate::config::TlsStack::OpenSsl {
            log.note("tls: stack openssl");
            let session = tls::legacy::handshake(stream, cfg, host, facts, log).await?;
            if cfg.crl_check.enabled {
                facts.chain_der = session.peer_chain_der();
            }
            return Ok(Conn::Legacy(session));
        }
        log.note("tls: stack rustls");
        let shaken = tls::handshake(stream, cfg, host, facts, log).await?;
        if cfg.crl_check.enabled {
            let presented = shaken.get_ref().1.peer_certificates().unwrap_or_default();
            facts.chain_der = presented.iter().map(|c| c.to_vec()).collect();
        }
        Ok(Conn::Tls(tls::Session::new(shaken)))
    }
}

/// What the dialogue produced besides success or failure.
#[derive(Debug, Default)]
pub struct QueryOutcome {
    /// True when an `expect` step ended unmatched at EOF, whether lines came or not.
    pub failed_due_to_regex: bool,
    /// True when an `expect_bytes` step read other bytes than expected.
    pub failed_due_to_bytes: bool,
    /// `probe_expect_info` label sets of the steps that matched and carry `labels`.
    pub expect_labels: Vec<Vec<(String, String)>>,
    /// TLS facts of a STARTTLS handshake.
    pub tls: Option<TlsFacts>,
    /// Time spent in the phases this step ran: `query` (the whole dialogue), then `tls` when a
    /// STARTTLS handshake began.
    pub phases: Vec<(Phase, Duration)>,
    /// The step the dialogue failed at; `None` when every step passed.
    pub failed_step: Option<QueryStep>,
}

/// Runs `steps` over `conn` until `deadline`, and records the time of phase `query` (and of a
/// STARTTLS handshake, phase `tls`) in `outcome.phases`.
///
/// Returns `Ok(())` when every step passed. Errors, all phase `query` except a failed STARTTLS
/// handshake (phase `tls`): `expect_mismatch` when the peer sent lines but none matched before
/// EOF or sent other bytes than `expect_bytes`, `expect_mismatch` with detail `line_too_long`
/// when a line is longer than [`MAX_LINE_BYTES`] (as blackbox_exporter, without setting
/// `failed_due_to_regex`), `eof` when it closed without a line (both set
/// `outcome.failed_due_to_regex` for an `expect` step) or before the expected bytes were all
/// there, `reset` on RST, `timeout` at the deadline (phase `tls` when it falls during STARTTLS),
/// `prober_error` for a `starttls` step on a connection that is already TLS. `outcome` keeps
/// what was learnt even when the dialogue failed.
pub async fn run(
    conn: Conn,
    steps: &[QueryResponse],
    tls_cfg: &TlsConfig,
    host: &str,
    deadline: Instant,
    outcome: &mut QueryOutcome,
    log: &mut StepLog,
) -> Result<(), Failure> {
    let began = Instant::now();
    let dialogue = Dialogue {
        tls_cfg,
        host,
        deadline,
    };
    let result = dialogue.run(conn, steps, outcome, log).await;
    outcome.phases.insert(0, (Phase::Query, began.elapsed()));
    match (&result, outcome.failed_step) {
        (Ok(()), _) => outcome.failed_step = None,
        (Err(failure), Some(step)) => log.note(format!("{step} failed: {failure}")),
        (Err(_), None) => {}
    }
    result
}

/// What every step of one dialogue shares.
struct Dialogue<'a> {
    tls_cfg: &'a TlsConfig,
    host: &'a str,
    deadline: Instant,
}

impl Dialogue<'_> {
    async fn run(
        &self,
        conn: Conn,
        steps: &[QueryResponse],
        outcome: &mut QueryOutcome,
        log: &mut StepLog,
    ) -> Result<(), Failure> {
        let mut reader = BufReader::new(conn);
        for (i, step) in steps.iter().enumerate() {
            let mut send = step.send.clone();
            let at = |kind| QueryStep { index: i, kind };
            if let Some(re) = &step.expect {
                outcome.failed_step = Some(at(StepKind::Expect));
                let read = read_until_match(&mut reader, re, outcome, log, i);
                let line = within(self.deadline, Phase::Query, read).await?;
                let caps = re.captures(&line).ok_or_else(|| mismatch(outcome))?;
                send.clear();
                caps.expand(&step.send, &mut send);
                if !step.labels.is_empty() {
                    outcome.expect_labels.push(expand_labels(step, &caps));
                }
            }
            if !step.expect_bytes.is_empty() {
                outcome.failed_step = Some(at(StepKind::ExpectBytes));
                let expected = step.expect_bytes.as_bytes();
                let read = read_expected_bytes(&mut reader, expected, outcome, log, i);
                within(self.deadline, Phase::Query, read).await?;
            }
            if !send.is_empty() {
                outcome.failed_step = Some(at(StepKind::Send));
                log.note(format!("step {i}: sending {send:?}"));
                let written = write_line(reader.get_mut(), send);
                within(self.deadline, Phase::Query, written).await?;
            }
            if !step.send_bytes.is_empty() {
                log.note(format!(
                    "step {i}: sending {} bytes {:?}",
                    step.send_bytes.len(),
                    crate::config::format_send_bytes(&step.send_bytes)
                ));
                let written = write_bytes(reader.get_mut(), &step.send_bytes);
                within(self.deadline, Phase::Query, written).await?;
            }
            if step.starttls {
                outcome.failed_step = Some(at(StepKind::Starttls));
                // Boxed: only STARTTLS dialogues need the handshake's state.
                reader = Box::pin(self.starttls(reader, outcome, log)).await?;
            }
        }
        Ok(())
    }

    /// Upgrades a plain connection to TLS in the middle of the dialogue; the handshake is
    /// phase `tls`, timed into `outcome.phases`.
    async fn starttls(
        &self,
        reader: BufReader<Conn>,
        outcome: &mut QueryOutcome,
        log: &mut StepLog,
    ) -> Result<BufReader<Conn>, Failure> {
        if !reader.buffer().is_empty() {
            log.note("peer sent data ahead of the TLS handshake; it is discarded");
        }
        let Conn::Plain(tcp) = reader.into_inner() else {
            log.note("starttls on a connection that is already TLS");
            return Err(Failure::bare(Phase::Tls, FailureClass::ProberError));
        };
        log.note("starting TLS (STARTTLS)");
        let began = Instant::now();
        let facts = outcome.tls.insert(TlsFacts::default());
        let handshake = Conn::handshake(tcp, self.tls_cfg, self.host, facts, log);
        let shaken = within(self.deadline, Phase::Tls, handshake).await;
        outcome.phases.push((Phase::Tls, began.elapsed()));
        Ok(BufReader::new(shaken?))
    }
}

/// The `probe_expect_info` labels of `step`, captures of its `expect` expanded.
fn expand_labels(step: &QueryResponse, caps: &regex::Captures<'_>) -> Vec<(String, String)> {
    step.labels
        .iter()
        .map(|l| {
            let mut value = String::new();
            caps.expand(&l.value, &mut value);
            (l.name.clone(), value)
        })
        .collect()
}

/// Writes `line` and `\n`, and flushes.
async fn write_line(conn: &mut Conn, line: String) -> Result<(), Failure> {
    let mut bytes = line.into_bytes();
    bytes.push(b'\n');
    write_bytes(conn, &bytes).await
}

/// Writes `bytes` as they are, and flushes.
async fn write_bytes(conn: &mut Conn, bytes: &[u8]) -> Result<(), Failure> {
    conn.write_all(bytes)
        .await
        .map_err(|e| classify_stream(Phase::Query, &e))?;
    conn.flush()
        .await
        .map_err(|e| classify_stream(Phase::Query, &e))
}

/// Reads lines (without `\n` / `\r\n`, as Go's ScanLines) until one matches `re`. It holds
/// one line at a time, at most [`MAX_LINE_BYTES`].
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
            .take(MAX_LINE_BYTES as u64)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| classify_stream(Phase::Query, &e))?;
        if n == 0 {
            if lines_seen == 0 {
                // The expectation was never met: blackbox_exporter sets the gauge here too.
                outcome.failed_due_to_regex = true;
                log.note(format!("step {step}: peer closed before sending a line"));
                return Err(Failure::bare(Phase::Query, FailureClass::Eof));
            }
            log.note(format!(
                "step {step}: no line matched {:?} before EOF",
                re.as_str()
            ));
            return Err(mismatch(outcome));
        }
        lines_seen += 1;
        if n == MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
            log.note(format!(
                "step {step}: line {lines_seen} is longer than {MAX_LINE_BYTES} bytes, the line limit; it begins {}",
                shown(&buf)
            ));
            return Err(Failure::new(
                Phase::Query,
                FailureClass::ExpectMismatch,
                Limit::LineTooLong,
            ));
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let line = String::from_utf8_lossy(&buf).into_owned();
        if re.is_match(&line) {
            let shown = shown(line.as_bytes());
            log.note(format!("step {step}: {shown} matched {:?}", re.as_str()));
            return Ok(line);
        }
        log.note(format!("step {step}: read {}", shown(&buf)));
    }
}

/// `line` quoted and escaped for the step log: whole up to [`SHOWN_LINE_BYTES`], else its
/// beginning and its length.
fn shown(line: &[u8]) -> String {
    if line.len() <= SHOWN_LINE_BYTES {
        return format!("{:?}", String::from_utf8_lossy(line));
    }
    let head = String::from_utf8_lossy(&line[..SHOWN_LINE_BYTES]);
    format!("{head:?}… ({} bytes)", line.len())
}

/// Reads `expected.len()` bytes and compares them with `expected` (blackbox_exporter 0.28's
/// `expect_bytes`). It waits for all of them, where blackbox_exporter takes what one read
/// returns, so a reply split across TCP segments still matches.
async fn read_expected_bytes(
    reader: &mut BufReader<Conn>,
    expected: &[u8],
    outcome: &mut QueryOutcome,
    log: &mut StepLog,
    step: usize,
) -> Result<(), Failure> {
    let mut got = Vec::with_capacity(expected.len());
    let n = (&mut *reader)
        .take(expected.len() as u64)
        .read_to_end(&mut got)
        .await
        .map_err(|e| classify_stream(Phase::Query, &e))?;
    if n < expected.len() {
        log.note(format!(
            "step {step}: peer closed after {n} of the {} expected bytes {:?}",
            expected.len(),
            got
        ));
        return Err(Failure::bare(Phase::Query, FailureClass::Eof));
    }
    if got != expected {
        log.note(format!(
            "step {step}: read bytes {got:?}, expected {expected:?}"
        ));
        outcome.failed_due_to_bytes = true;
        return Err(Failure::bare(Phase::Query, FailureClass::ExpectMismatch));
    }
    log.note(format!("step {step}: bytes {got:?} matched"));
    Ok(())
}

fn mismatch(outcome: &mut QueryOutcome) -> Failure {
    outcome.failed_due_to_regex = true;
    Failure::bare(Phase::Query, FailureClass::ExpectMismatch)
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
            Conn::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
            #[cfg(feature = "legacy-tls")]
            Conn::Legacy(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Conn::UnixTls(s) => Pin::new(&mut **s).poll_read(cx, buf),
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
            Conn::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
            #[cfg(feature = "legacy-tls")]
            Conn::Legacy(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Conn::UnixTls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
            #[cfg(feature = "legacy-tls")]
            Conn::Legacy(s) => Pin::new(s).poll_flush(cx),
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
            Conn::UnixTls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
            #[cfg(feature = "legacy-tls")]
            Conn::Legacy(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Conn::UnixTls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Choosing the stack costs a rustls probe no memory while it waits in the tls phase: the
    /// dispatching future is the rustls handshake's size plus a few words (3,528 B against
    /// 3,440 B when this was written).
    #[tokio::test]
    async fn stack_dispatch_keeps_the_rustls_future_size() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let (cfg, host) = (TlsConfig::default(), "localhost");
        let (mut facts, mut log) = (TlsFacts::default(), StepLog::new(std::time::Instant::now()));
        let rustls = {
            let stream = TcpStream::connect(addr).await.expect("connect");
            std::mem::size_of_val(&tls::handshake(stream, &cfg, host, &mut facts, &mut log))
        };
        let stream = TcpStream::connect(addr).await.expect("connect");
        let dispatch = Conn::handshake(stream, &cfg, host, &mut facts, &mut log);
        let dispatch = std::mem::size_of_val(&dispatch);
        assert!(
            dispatch <= rustls + 128,
            "dispatch {dispatch} B, rustls {rustls} B"
        );
    }
}
