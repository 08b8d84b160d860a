//! `tcp.starttls`: a protocol's own TLS upgrade, spoken right after connect and before the TLS
//! handshake. One small file per protocol, each with the same signature: it talks over a
//! [`Wire`] until the server gives the go-ahead, or returns the [`Failure`] saying what the
//! server answered. The whole upgrade is phase `query`; the handshake after it is phase `tls`.
//!
//! Failures (all phase `query`): `starttls_refused` when the server refuses the upgrade or does
//! not offer it (`detail`: the reply code, the answer token, or the LDAP result),
//! `protocol_mismatch` when it greets in another protocol or sends a unit longer than
//! [`MAX_UNIT_BYTES`], `eof`/`reset` when it closes, `timeout` at the deadline.

mod ftp;
mod imap;
mod ldap;
mod mysql;
mod nntp;
mod pop3;
mod postgres;
mod sieve;
mod smtp;
mod wire;
mod xmpp;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::within;
use crate::config::StarttlsProtocol;
use crate::report::{Detail, Failure, FailureClass, Phase, StepLog};

pub use wire::{Wire, MAX_REPLY_LINES, MAX_UNIT_BYTES};

/// Speaks `protocol`'s upgrade over `stream` until `deadline`; returns the stream ready for
/// the TLS handshake, nothing of the server's left unread.
///
/// Errors: see the module documentation; every one is phase `query`.
pub async fn upgrade(
    protocol: StarttlsProtocol,
    stream: TcpStream,
    host: &str,
    deadline: Instant,
    log: &mut StepLog,
) -> Result<TcpStream, Failure> {
    log.note(format!(
        "STARTTLS: speaking the {protocol} upgrade ({})",
        protocol.spec()
    ));
    let mut wire = Wire::new(stream);
    let dialogue = async {
        match protocol {
            StarttlsProtocol::Smtp => smtp::upgrade(&mut wire, smtp::Hello::Ehlo, log).await,
            StarttlsProtocol::Lmtp => smtp::upgrade(&mut wire, smtp::Hello::Lhlo, log).await,
            StarttlsProtocol::Imap => imap::upgrade(&mut wire, log).await,
            StarttlsProtocol::Pop3 => pop3::upgrade(&mut wire, log).await,
            StarttlsProtocol::Ftp => ftp::upgrade(&mut wire, log).await,
            StarttlsProtocol::Xmpp => {
                xmpp::upgrade(&mut wire, xmpp::Stream::Client, host, log).await
            }
            StarttlsProtocol::XmppServer => {
                xmpp::upgrade(&mut wire, xmpp::Stream::Server, host, log).await
            }
            StarttlsProtocol::Ldap => ldap::upgrade(&mut wire, log).await,
            StarttlsProtocol::Postgres => postgres::upgrade(&mut wire, log).await,
            StarttlsProtocol::Mysql => mysql::upgrade(&mut wire, log).await,
            StarttlsProtocol::Nntp => nntp::upgrade(&mut wire, log).await,
            StarttlsProtocol::Sieve => sieve::upgrade(&mut wire, log).await,
        }
    };
    within(deadline, Phase::Query, dialogue).await?;
    log.note("STARTTLS: the server gave the go-ahead");
    Ok(wire.into_stream(log))
}

/// The server refused the upgrade or does not offer it; `detail` says what it answered.
fn refused(detail: impl Into<Detail>) -> Failure {
    Failure::new(Phase::Query, FailureClass::StarttlsRefused, detail)
}

/// The server greets in another protocol.
fn mismatch(detail: impl Into<Detail>) -> Failure {
    Failure::new(Phase::Query, FailureClass::ProtocolMismatch, detail)
}
