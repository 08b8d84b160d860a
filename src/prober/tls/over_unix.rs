//! The rustls handshake over a Unix stream socket (`prober: unix` with `unix.tls: true`, as
//! blackbox_exporter 0.28's unix prober allows): the module's TLS client, the same recording
//! verifier and classes as over TCP. The name sent and checked is `tls_config.server_name`, else
//! `localhost` (a socket has no host name; blackbox would check the socket path, which no
//! certificate names).

use tokio::net::UnixStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::HandshakeRecord;
use super::{clients, fail, note_chain, note_negotiated, server_name, with_record};
use crate::config::TlsConfig;
use crate::report::{Failure, StepLog, TlsFacts};

/// The name a TLS handshake over a Unix socket uses without `tls_config.server_name`.
pub const UNIX_SERVER_NAME: &str = "localhost";

/// Runs the handshake over `stream`; `facts` as [`super::handshake`] fills them. The wait for a
/// TLS 1.3 server's verdict on a client certificate is TCP's only: over a socket, such a
/// refusal shows in the first read of the dialogue.
///
/// # Errors
/// Phase `tls` failures, classified as over TCP.
pub async fn handshake(
    stream: UnixStream,
    cfg: &TlsConfig,
    facts: &mut TlsFacts,
    log: &mut StepLog,
) -> Result<TlsStream<UnixStream>, Failure> {
    let name = cfg.server_name.as_deref().unwrap_or(UNIX_SERVER_NAME);
    let server_name = server_name(name, log)?;
    let client = clients::cache_for(cfg).client(cfg, log).await?;
    facts.client_cert_expiry = client.client_cert_expiry;
    let record = std::sync::Arc::new(HandshakeRecord::default());
    log.note("tls: starting handshake over the unix socket");
    let connecting = TlsConnector::from(client.config.clone()).connect(server_name, stream);
    let shaken = with_record(record.clone(), connecting).await;
    facts.chain = record.take_chain();
    facts.verified_chain_expiry = record.verified_chain_expiry();
    facts.ocsp = record.take_ocsp();
    note_chain(facts, log);
    let tls = shaken.map_err(|e| fail(&e, &record, log))?;
    note_negotiated(facts, tls.get_ref().1, log);
    Ok(tls)
}
