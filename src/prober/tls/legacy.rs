//! The `tls` phase through OpenSSL, for the modules whose devices speak only TLS 1.0/1.1, RSA
//! key exchange or CBC suites (`tls_config.stack`, see [`crate::config::TlsConfig::stack`]).
//! Same shape and meaning as the rustls phase: it takes the connected (or STARTTLS-upgraded)
//! `TcpStream`, fills the same [`TlsFacts`] (the chain also when verification fails) and
//! returns the same classes (`classify`). `context` builds and keeps the module's OpenSSL
//! context.

mod classify;
mod context;
mod staple;

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use openssl::ssl::{Ssl, SslRef, SslVerifyMode, SslVersion, StatusType};
use openssl::stack::StackRef;
use openssl::x509::{X509StoreContextRef, X509};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::cert_info;
use crate::config::TlsConfig;
use crate::report::{Failure, FailureClass, Phase, StepLog, TlsFacts, TlsVersion};

pub use context::ContextCache;

/// Most verify errors kept for one handshake (a chain of a few certificates gives a few; the
/// rest are dropped, the class is chosen among those kept).
const MAX_VERIFY_ERRORS: usize = 16;

/// What the verify callback saw during one handshake.
#[derive(Debug, Default)]
struct Verdict {
    /// Each verify error: its class and the code (x509_vfy.h) and depth it came with.
    errors: Vec<(FailureClass, i32, u32)>,
    /// The class the callback rejected the chain with.
    rejected: Option<FailureClass>,
    /// Over the chain OpenSSL verified (root included), the earliest notAfter.
    verified_expiry: Option<i64>,
}

impl Verdict {
    /// Notes verify error `code` (x509_vfy.h) at `depth`, while fewer than
    /// [`MAX_VERIFY_ERRORS`] are kept.
    fn note(&mut self, code: i32, depth: u32) {
        if self.errors.len() < MAX_VERIFY_ERRORS {
            self.errors
                .push((classify::verify_class(code), code, depth));
        }
    }

    /// The class standing for the errors seen (see [`classify::rank`]); `None` without any.
    fn class(&self) -> Option<FailureClass> {
        self.errors
            .iter()
            .min_by_key(|(class, _, _)| classify::rank(*class))
            .map(|(class, _, _)| *class)
    }
}

/// Runs a TLS handshake through OpenSSL over `stream`, as [`super::handshake`] does through
/// rustls: `host` (or `cfg.server_name`) is the SNI and the name checked (an IP literal sends
/// no SNI and is checked against IP SANs); `facts` gets the presented chain even when it is
/// rejected, and version and cipher once the handshake completed. Errors: phase `tls`, the
/// contract's classes (`prober_error` when the module's TLS files are unusable).
pub async fn handshake(
    stream: TcpStream,
    cfg: &TlsConfig,
    host: &str,
    facts: &mut TlsFacts,
    log: &mut StepLog,
) -> Result<Session, Failure> {
    let context = super::clients::openssl_cache_for(cfg)
        .context(cfg, log)
        .await?;
    facts.client_cert_expiry = context.client_cert_expiry;
    let name = cfg.server_name.as_deref().unwrap_or(host);
    let verdict = Arc::new(Mutex::new(Verdict::default()));
    let ssl = new_ssl(
        &context.ssl,
        name,
        cfg.insecure_skip_verify,
        verdict.clone(),
        log,
    )?;
    let mut tls = SslStream::new(ssl, stream).map_err(|e| {
        log.note(format!("tls: OpenSSL cannot start a session: {e}"));
        Failure::bare(Phase::Tls, FailureClass::ProberError)
    })?;
    log.note("tls: starting handshake (OpenSSL)");
    let result = Pin::new(&mut tls).connect().await;
    facts.chain = presented_chain(tls.ssl());
    facts.ocsp = staple::judge(tls.ssl());
    super::note_chain(facts, log);
    let verdict = std::mem::take(&mut *verdict.lock().unwrap_or_else(|p| p.into_inner()));
    for (class, code, depth) in &verdict.errors {
        log.note(format!(
            "tls: certificate {depth}: verify error {code} ({class})"
        ));
    }
    if let Err(e) = result {
        let failure = classify::classify(&e, verdict.rejected);
        log.note(format!("tls: handshake failed: {e} ({failure})"));
        return Err(failure);
    }
    if let (Some(class), false) = (verdict.class(), cfg.insecure_skip_verify) {
        // Verification passed the callback's last call with errors left (none seen so far):
        // the chain is still rejected.
        log.note(format!("tls: the chain has verify errors: {class}"));
        return Err(Failure::bare(Phase::Tls, class));
    }
    facts.verified_chain_expiry = verdict.verified_expiry;
    facts.version = tls.ssl().version2().and_then(version);
    facts.cipher = tls
        .ssl()
        .current_cipher()
        .map(|c| c.standard_name().unwrap_or(c.name()).to_string());
    log.note(format!(
        "tls: negotiated {} with {} (OpenSSL)",
        facts
            .version
            .map_or("an unknown version", TlsVersion::as_str),
        facts.cipher.as_deref().unwrap_or("an unknown cipher suite")
    ));
    log.note("tls: handshake complete");
    Ok(Session(Box::new(tls)))
}

/// A session of the module's context for server name `name`, with the verify callback that
/// writes into `verdict`.
fn new_ssl(
    context: &openssl::ssl::SslContext,
    name: &str,
    skip_verify: bool,
    verdict: Arc<Mutex<Verdict>>,
    log: &mut StepLog,
) -> Result<Ssl, Failure> {
    let refused = |e: openssl::error::ErrorStack, log: &mut StepLog| {
        log.note(format!(
            "tls: OpenSSL refused the server name {name:?}: {e}"
        ));
        Failure::bare(Phase::Tls, FailureClass::ProberError)
    };
    let mut ssl = Ssl::new(context).map_err(|e| refused(e, log))?;
    if let Ok(ip) = name.parse::<IpAddr>() {
        log.note(format!(
            "tls: server name {ip} is an IP address: no SNI, IP SAN check"
        ));
        ssl.param_mut().set_ip(ip).map_err(|e| refused(e, log))?;
    } else {
        log.note(format!(
            "tls: server name {name:?} (SNI and certificate name check)"
        ));
        ssl.set_hostname(name).map_err(|e| refused(e, log))?;
        ssl.param_mut()
            .set_host(name)
            .map_err(|e| refused(e, log))?;
    }
    // Ask for the stapled OCSP response (RFC 6066 section 8), as rustls always does.
    ssl.set_status_type(StatusType::OCSP).map_err(|e| {
        log.note(format!(
            "tls: OpenSSL cannot ask for a stapled OCSP response: {e}"
        ));
        Failure::bare(Phase::Tls, FailureClass::ProberError)
    })?;
    ssl.set_verify_callback(SslVerifyMode::PEER, move |ok, ctx| {
        let mut v = verdict.lock().unwrap_or_else(|p| p.into_inner());
        verify_step(&mut v, ok, ctx, skip_verify)
    });
    Ok(ssl)
}

/// One call of OpenSSL's verify callback (SSL_set_verify(3)): OpenSSL calls it once per error
/// (`ok` false) and once per certificate from the root down to the leaf (`ok` true, depth 0
/// last). Every error is noted and passed over, so all are known; at the leaf's last call the
/// chain is rejected with the class that stands for them (the untrusted-before-invalid order of
/// the rustls stack), unless verification is skipped.
fn verify_step(v: &mut Verdict, ok: bool, ctx: &mut X509StoreContextRef, skip: bool) -> bool {
    let depth = ctx.error_depth();
    if !ok {
        v.note(ctx.error().as_raw(), depth);
        // An error after the leaf's last call (name constraints) is rejected at once.
        return skip || v.rejected.is_none();
    }
    if depth != 0 {
        return true;
    }
    match (v.class(), skip) {
        (Some(class), false) => {
            v.rejected = Some(class);
            false
        }
        _ => {
            v.verified_expiry = if v.errors.is_empty() {
                ctx.chain().and_then(earliest_expiry)
            } else {
                None
            };
            true
        }
    }
}

/// The earliest notAfter (unix seconds) of `chain`.
fn earliest_expiry(chain: &StackRef<X509>) -> Option<i64> {
    chain
        .iter()
        .filter_map(|c| c.to_der().ok().and_then(|der| cert_info::not_after(&der)))
        .min()
}

/// The chain the server presented, leaf first, described; empty when none arrived. Its size
/// is bounded by OpenSSL's limit on the Certificate message (SSL_CTX_set_max_cert_list(3),
/// 100 KiB by default).
fn presented_chain(ssl: &SslRef) -> Vec<crate::report::CertInfo> {
    let Some(chain) = ssl.peer_cert_chain() else {
        return Vec::new();
    };
    chain
        .iter()
        .filter_map(|c| c.to_der().ok())
        .filter_map(|der| cert_info::cert_facts(&der).map(|(info, _)| info))
        .collect()
}

/// The version OpenSSL negotiated; `None` for SSL 3.0 and anything unknown.
fn version(version: SslVersion) -> Option<TlsVersion> {
    match version {
        SslVersion::TLS1 => Some(TlsVersion::Tls10),
        SslVersion::TLS1_1 => Some(TlsVersion::Tls11),
        SslVersion::TLS1_2 => Some(TlsVersion::Tls12),
        SslVersion::TLS1_3 => Some(TlsVersion::Tls13),
        _ => None,
    }
}

impl Session {
    /// The chain the server presented, DER, leaf first (SSL_get_peer_cert_chain(3)).
    pub fn peer_chain_der(&self) -> Vec<Vec<u8>> {
        self.0
            .ssl()
            .peer_cert_chain()
            .map(|chain| chain.iter().filter_map(|c| c.to_der().ok()).collect())
            .unwrap_or_default()
    }
}

/// An OpenSSL connection whose handshake completed. Dropping it sends close_notify without
/// waiting (SSL_shutdown(3), first call), as the rustls [`super::Session`] does.
#[derive(Debug)]
pub struct Session(Box<SslStream<TcpStream>>);

impl Drop for Session {
    fn drop(&mut self) {
        let waker = Waker::from(Arc::new(NoWake));
        let mut cx = TaskContext::from_waker(&waker);
        // Ready or pending alike: the alert is queued once, a full socket leaves it out.
        let _ = Pin::new(&mut *self.0).poll_shutdown(&mut cx);
    }
}

/// A waker for the one shutdown attempt in `Drop`, which is never polled again.
struct NoWake;

impl Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

impl AsyncRead for Session {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Session {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// However many errors a chain gives, at most [`MAX_VERIFY_ERRORS`] are kept, and the class
    /// is chosen among them by rank.
    #[test]
    fn verify_errors_are_bounded_and_ranked() {
        let mut v = Verdict::default();
        for depth in 0..1000 {
            v.note(openssl_sys::X509_V_ERR_HOSTNAME_MISMATCH, depth);
        }
        assert_eq!(v.errors.len(), MAX_VERIFY_ERRORS);
        assert_eq!(v.class(), Some(FailureClass::TlsCertHostnameMismatch));
        let mut v = Verdict::default();
        v.note(openssl_sys::X509_V_ERR_INVALID_PURPOSE, 0);
        v.note(openssl_sys::X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, 0);
        assert_eq!(v.class(), Some(FailureClass::TlsCertUntrusted));
        v.note(openssl_sys::X509_V_ERR_CERT_HAS_EXPIRED, 0);
        assert_eq!(v.class(), Some(FailureClass::TlsCertExpired));
        assert_eq!(Verdict::default().class(), None);
    }
}
