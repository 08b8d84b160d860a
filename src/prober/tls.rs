//! The `tls` phase: a rustls handshake that records the presented chain even when it rejects it,
//! and maps every rustls failure to a contract class.

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::config::TlsConfig;
use crate::report::{Failure, FailureClass, Phase, StepLog, TlsFacts};

/// Runs a TLS handshake over `stream`.
///
/// `host` is the target host (SNI and name check unless `cfg.server_name` is set). `facts` is
/// filled as soon as anything is known (chain, version, cipher), also when the handshake fails,
/// so an expired certificate still yields its expiry. Returns the TLS stream, or the failure
/// (phase `tls`; `prober_error` when the TLS files cannot be read).
pub async fn handshake(
    stream: TcpStream,
    cfg: &TlsConfig,
    host: &str,
    facts: &mut TlsFacts,
    log: &mut StepLog,
) -> Result<TlsStream<TcpStream>, Failure> {
    let _ = (stream, cfg, host, facts, log);
    Err(Failure::new(Phase::Tls, FailureClass::ProberError, ""))
}
