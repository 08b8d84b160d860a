//! The `tls` phase: a rustls handshake that records the presented chain even when it rejects it,
//! and maps every rustls failure to a contract class.
//!
//! Submodules: `settings` builds the rustls configuration once per module (system roots loaded
//! once per process), `verifier` records the chain before judging it, `cert_info` and `dn` turn a
//! certificate into blackbox_exporter's label values, `classify` picks the failure class,
//! `path` and `evidence` put a rejected chain's class in the order the fix takes (untrusted
//! before invalid), `pinned` trusts a leaf that is itself one of the `ca_file` certificates,
//! `violation` tells a peer that broke TLS from one that does not speak it.

mod algorithms;
mod cert_info;
mod classify;
mod clients;
pub mod crl;
mod dn;
mod evidence;
#[cfg(feature = "legacy-tls")]
pub mod legacy;
mod ocsp;
pub mod over_unix;
mod path;
mod pinned;
mod settings;
mod verdicts;
mod verifier;
mod violation;

use std::io;
use std::net::IpAddr;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{CipherSuite, ProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::config::TlsConfig;
use crate::report::{Failure, FailureClass, Phase, StepLog, TlsFacts, TlsVersion};

pub use clients::forget_clients;
pub use settings::preload_system_roots;

/// A module's OpenSSL context, built on its first probe through OpenSSL (nothing in a build
/// without the `legacy-tls` feature).
#[cfg(feature = "legacy-tls")]
pub type OpensslCache = legacy::ContextCache;
/// A module's OpenSSL context: nothing in a build without the `legacy-tls` feature.
#[cfg(not(feature = "legacy-tls"))]
pub type OpensslCache = ();

use verifier::{with_record, HandshakeRecord};

/// Shortest wait for the server's verdict on our client certificate (TLS 1.3).
const VERDICT_MIN_WAIT: Duration = Duration::from_millis(200);
/// Longest wait for that verdict.
const VERDICT_MAX_WAIT: Duration = Duration::from_secs(2);

/// Runs a TLS handshake over `stream`.
///
/// `host` is the target host (SNI and name check unless `cfg.server_name` is set; an IP literal
/// is checked against IP SANs and sends no SNI, RFC 6066 section 3). `facts` is filled also
/// when the handshake fails: the chain as soon as it arrived, so an expired certificate still
/// yields its expiry; version and cipher once the handshake completed; the client
/// certificate's expiry as soon as the module's TLS client is ready. Returns the TLS stream, or
/// the failure (phase `tls`; `prober_error` when the TLS files cannot be read or no TLS version
/// is left to offer). The TLS client is the one the prober keeps for `cfg` (see `clients`):
/// built on the first probe with these settings, reused after.
///
/// In TLS 1.3 the server judges a client certificate after our Finished, when the handshake is
/// already complete for us (RFC 8446 section 4.4.2). So when the server asked for one, this
/// waits for its verdict (an alert, a session ticket, data, or silence for twice the handshake
/// time, 200 ms to 2 s) before returning, and a rejection is this phase's failure.
pub async fn handshake(
    stream: TcpStream,
    cfg: &TlsConfig,
    host: &str,
    facts: &mut TlsFacts,
    log: &mut StepLog,
) -> Result<TlsStream<TcpStream>, Failure> {
    let name = cfg.server_name.as_deref().unwrap_or(host);
    let server_name = server_name(name, log)?;
    let client = clients::cache_for(cfg).client(cfg, log).await?;
    facts.client_cert_expiry = client.client_cert_expiry;
    let record = Arc::new(HandshakeRecord::default());
    let shaken = with_record(
        record.clone(),
        connect(client.config.clone(), server_name, stream, &record, log),
    )
    .await;
    facts.chain = record.take_chain();
    facts.verified_chain_expiry = record.verified_chain_expiry();
    facts.ocsp = record.take_ocsp();
    note_chain(facts, log);
    let tls = shaken?;
    note_negotiated(facts, tls.get_ref().1, log);
    log.note("tls: handshake complete");
    Ok(tls)
}

/// Records the negotiated version and cipher suite of `conn` in `facts`, and logs them.
fn note_negotiated(facts: &mut TlsFacts, conn: &rustls::ClientConnection, log: &mut StepLog) {
    facts.version = conn.protocol_version().and_then(version);
    facts.cipher = conn
        .negotiated_cipher_suite()
        .map(|s| cipher_name(s.suite()));
    log.note(format!(
        "tls: negotiated {} with {}",
        facts
            .version
            .map_or("an unknown version", TlsVersion::as_str),
        facts.cipher.as_deref().unwrap_or("an unknown cipher suite")
    ));
}

/// Logs each certificate of the presented chain, and the stapled OCSP response.
fn note_chain(facts: &TlsFacts, log: &mut StepLog) {
    for (i, cert) in facts.chain.iter().enumerate() {
        log.note(format!(
            "tls: certificate {i}: subject {:?}, issuer {:?}, expires {}",
            cert.subject,
            cert.issuer,
            cert_info::utc_string(cert.not_after)
        ));
    }
    ocsp::note(facts.ocsp.as_ref(), log);
}

/// The handshake proper, and in TLS 1.3 the wait for the server's verdict on our client
/// certificate; `record` is the one the shared verifier and resolver write to meanwhile.
async fn connect(
    config: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
    stream: TcpStream,
    record: &HandshakeRecord,
    log: &mut StepLog,
) -> Result<TlsStream<TcpStream>, Failure> {
    log.note("tls: starting handshake");
    let started = Instant::now();
    let result = TlsConnector::from(config)
        .connect(server_name, stream)
        .await;
    let mut tls = result.map_err(|e| fail(&e, record, log))?;
    let tls13 = tls.get_ref().1.protocol_version() == Some(ProtocolVersion::TLSv1_3);
    if tls13 && record.certificate_requested() {
        let wait = (started.elapsed() * 2).clamp(VERDICT_MIN_WAIT, VERDICT_MAX_WAIT);
        log.note(format!(
            "tls: server asked for a client certificate: waiting up to {} ms for its verdict",
            wait.as_millis()
        ));
        await_verdict(&mut tls, record, wait)
            .await
            .inspect_err(|failure| {
                log.note(format!("tls: server rejected the handshake: {failure}"));
            })?;
    }
    Ok(tls)
}

/// The rustls server name for `name`: an IP literal is `IpAddress` (no SNI, IP SAN check),
/// anything else a DNS name. A name rustls rejects is `prober_error`.
fn server_name(name: &str, log: &mut StepLog) -> Result<ServerName<'static>, Failure> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        log.note(format!(
            "tls: server name {ip} is an IP address: no SNI, IP SAN check"
        ));
        return Ok(ServerName::IpAddress(ip.into()));
    }
    match ServerName::try_from(name.to_string()) {
        Ok(server_name) => {
            log.note(format!(
                "tls: server name {name:?} (SNI and certificate name check)"
            ));
            Ok(server_name)
        }
        Err(_) => {
            log.note(format!("tls: {name:?} is not a valid DNS name for SNI"));
            Err(Failure::bare(Phase::Tls, FailureClass::ProberError))
        }
    }
}

/// Classifies a handshake error and logs it: as the verifier judged the certificate when it
/// did (see `evidence`), else from the error.
fn fail(err: &io::Error, record: &HandshakeRecord, log: &mut StepLog) -> Failure {
    let failure = match record.certificate_class() {
        Some((class, detail)) => Failure::new(Phase::Tls, class, detail),
        None => classify::classify_io(err),
    };
    log.note(format!("tls: handshake failed: {err} ({failure})"));
    failure
}

/// Reads what the server sends after our Finished until its verdict is known: a fatal alert
/// or a close is the failure; a NewSessionTicket, application data or silence for `wait` is
/// acceptance. Received data stays buffered in the connection for the next phase.
async fn await_verdict(
    tls: &mut TlsStream<TcpStream>,
    record: &HandshakeRecord,
    wait: Duration,
) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::now() + wait;
    let eof = || Failure::bare(Phase::Tls, FailureClass::Eof);
    loop {
        let (tcp, conn) = tls.get_mut();
        let state = conn
            .process_new_packets()
            .map_err(|e| classify::classify_rustls(&e))?;
        if state.plaintext_bytes_to_read() > 0 || record.ticket_received() {
            return Ok(());
        }
        if state.peer_has_closed() {
            return Err(eof());
        }
        match tokio::time::timeout_at(deadline, tcp.readable()).await {
            Err(_) => return Ok(()),
            Ok(Err(e)) => return Err(classify::classify_io(&e)),
            Ok(Ok(())) => {}
        }
        match conn.read_tls(&mut TryRead(tcp)) {
            Ok(0) => return Err(eof()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(classify::classify_io(&e)),
        }
    }
}

/// The TLS connection of a probe whose handshake completed. Dropping it ends the session the way
/// Go's crypto/tls `Conn.Close` does for blackbox_exporter's probes: a close_notify alert
/// (RFC 8446 section 6.1), then the socket closes, so the target reads an orderly end of the
/// session instead of a stream cut short (which TLS servers may log as a truncation). The alert
/// is written without waiting: after a probe the socket's send buffer is empty or nearly so, and
/// when the socket cannot take it, or the peer has already gone, it is left out.
#[derive(Debug)]
pub struct Session(Box<TlsStream<TcpStream>>);

impl Session {
    /// Wraps a connection whose handshake completed.
    pub fn new(tls: TlsStream<TcpStream>) -> Session {
        Session(Box::new(tls))
    }
}

impl Deref for Session {
    type Target = TlsStream<TcpStream>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let (tcp, conn) = self.0.get_mut();
        conn.send_close_notify();
        while conn.wants_write() {
            match conn.write_tls(&mut TryWrite(tcp)) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
    }
}

/// Non-blocking `io::Write` over a tokio socket, for rustls' `write_tls`.
struct TryWrite<'a>(&'a TcpStream);

impl io::Write for TryWrite<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Non-blocking `io::Read` over a tokio socket, for rustls' `read_tls`.
struct TryRead<'a>(&'a TcpStream);

impl io::Read for TryRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

/// The version rustls negotiated; `None` for one it cannot (anything but TLS 1.2 and 1.3).
fn version(version: ProtocolVersion) -> Option<TlsVersion> {
    match version {
        ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
        ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
        _ => None,
    }
}

/// The IANA registry name of a cipher suite (RFC 8446 appendix B.4, RFC 5289, RFC 7905).
///
/// rustls prefixes TLS 1.3 suites with `TLS13_`; IANA does not. A suite rustls cannot name is
/// printed as Go's `tls.CipherSuiteName` does: `0x` and four uppercase hex digits.
fn cipher_name(suite: CipherSuite) -> String {
    match suite {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256".to_string(),
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384".to_string(),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256".to_string(),
        other => match other.as_str() {
            Some(name) => name.to_string(),
            None => format!("0x{:04X}", u16::from(other)),
        },
    }
}
