//! A module's OpenSSL client context: the system trust roots plus `ca_file`, the client
//! certificate, the version range and the cipher list, at security level 0 (TLS 1.0/1.1, RSA
//! key exchange, CBC suites, SHA-1 signatures and short keys are refused at any higher level,
//! SSL_CTX_set_security_level(3)). Built on the module's first probe and reused while the files
//! it was read from look unchanged (examined at most once a second), as the rustls client is.
//!
//! Any problem here is the exporter's: class `prober_error`, detail the errno name when the OS
//! refused a file.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use openssl::pkey::PKey;
use openssl::ssl::{SslContext, SslContextBuilder, SslMethod, SslOptions, SslVersion};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::X509;

use super::super::cert_info::not_after;
use super::super::settings::FileWatch;
use crate::config::{ClientCert, Pem, TlsConfig, TlsVersion};
use crate::report::{Detail, Failure, FailureClass, Phase, StepLog};

/// Every suite OpenSSL has for TLS 1.0 to 1.2 except those without authentication or
/// encryption (ciphers(1): `aNULL`, `eNULL`); `@SECLEVEL=0` lets RSA key exchange, CBC, SHA-1
/// and 3DES through. TLS 1.3 suites are OpenSSL's defaults.
const CIPHER_LIST: &str = "ALL:!aNULL:!eNULL:@SECLEVEL=0";

/// A module's OpenSSL context and what it was built from.
pub(crate) struct Context {
    /// The context every probe of the module makes its `Ssl` from.
    pub ssl: SslContext,
    /// notAfter of the client certificate, unix seconds; `None` without one.
    pub client_cert_expiry: Option<i64>,
    /// The files it was built from.
    files: FileWatch,
}

/// The OpenSSL context of one module, built on its first probe through OpenSSL and kept for
/// the next ones; clones share it. Holds at most one context.
#[derive(Clone, Default)]
pub struct ContextCache(Arc<Mutex<Option<Arc<Context>>>>);

impl fmt::Debug for ContextCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let built = self.0.lock().map(|c| c.is_some()).unwrap_or(false);
        f.debug_struct("ContextCache")
            .field("built", &built)
            .finish()
    }
}

/// A cache is not configuration: two settings that differ only in their caches are equal.
impl PartialEq for ContextCache {
    fn eq(&self, _: &ContextCache) -> bool {
        true
    }
}

impl Eq for ContextCache {}

impl ContextCache {
    /// The module's context for `cfg`: the one built before when its files look unchanged,
    /// else a new one. Errors: as [`build`]; a failed build is not kept.
    pub(crate) async fn context(
        &self,
        cfg: &TlsConfig,
        log: &mut StepLog,
    ) -> Result<Arc<Context>, Failure> {
        let cached = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(context) = cached {
            if context.files.is_current().await {
                return Ok(context);
            }
            log.note(
                "tls: a TLS file changed on disk: building the module's OpenSSL context again",
            );
        }
        let built = build(cfg, log).await.map(Arc::new);
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = built.as_ref().ok().cloned();
        built
    }
}

/// Builds the OpenSSL context for `cfg`.
///
/// Errors: `prober_error` when a TLS file cannot be read or holds nothing usable, or when
/// OpenSSL refuses the certificate, the key or the version range.
async fn build(cfg: &TlsConfig, log: &mut StepLog) -> Result<Context, Failure> {
    log.note(format!(
        "tls: building the module's OpenSSL context ({}, security level 0)",
        openssl::version::version()
    ));
    let files = FileWatch::of(cfg).await;
    let refused = |what: &str, e: openssl::error::ErrorStack, log: &mut StepLog| {
        log.note(format!("tls: OpenSSL refused {what}: {e}"));
        prober_error()
    };
    let mut b =
        SslContext::builder(SslMethod::tls_client()).map_err(|e| refused("a context", e, log))?;
    b.set_security_level(0);
    b.set_cipher_list(CIPHER_LIST)
        .map_err(|e| refused("the cipher list", e, log))?;
    // Servers without RFC 5746 renegotiation_info are the old devices this stack is for; the
    // option lets the handshake through, renegotiation stays off.
    b.set_options(SslOptions::from_bits_retain(
        openssl_sys::SSL_OP_LEGACY_SERVER_CONNECT,
    ));
    let (min, max) = cfg
        .versions
        .at_least(TlsVersion::Tls10)
        .unwrap_or((TlsVersion::Tls10, TlsVersion::Tls13));
    b.set_min_proto_version(Some(ssl_version(min)))
        .and_then(|()| b.set_max_proto_version(Some(ssl_version(max))))
        .map_err(|e| refused("the version range", e, log))?;
    log.note(format!("tls: OpenSSL offers {min} to {max}"));
    trust(&mut b, cfg, log).await?;
    let client_cert_expiry = client_cert(&mut b, cfg, log).await?;
    Ok(Context {
        ssl: b.build(),
        client_cert_expiry,
        files,
    })
}

/// The OpenSSL version for one of ours.
fn ssl_version(version: TlsVersion) -> SslVersion {
    match version {
        TlsVersion::Tls10 => SslVersion::TLS1,
        TlsVersion::Tls11 => SslVersion::TLS1_1,
        TlsVersion::Tls12 => SslVersion::TLS1_2,
        TlsVersion::Tls13 => SslVersion::TLS1_3,
    }
}

/// The system roots (OpenSSL's default paths, which honour `SSL_CERT_FILE`/`SSL_CERT_DIR` as
/// the rustls stack does) plus `ca_file`/`ca`. Any certificate of the store is a trust anchor
/// (X509_V_FLAG_PARTIAL_CHAIN), as in WebPKI, so a leaf listed in `ca_file` is pinned.
async fn trust(
    b: &mut SslContextBuilder,
    cfg: &TlsConfig,
    log: &mut StepLog,
) -> Result<(), Failure> {
    b.set_default_verify_paths().map_err(|e| {
        log.note(format!(
            "tls: OpenSSL cannot use the system trust roots: {e}"
        ));
        prober_error()
    })?;
    let ca = match (&cfg.ca_file, &cfg.ca) {
        (Some(path), _) => Some(Pem::File(path.clone())),
        (None, Some(text)) => Some(Pem::Inline(text.clone())),
        (None, None) => None,
    };
    if let Some(pem) = ca {
        let certs = pem_certs(
            &read_pem(&pem, "ca_file", log).await?,
            "CA certificates",
            log,
        )?;
        for cert in certs {
            b.cert_store_mut().add_cert(cert).map_err(|e| {
                log.note(format!("tls: OpenSSL refused a ca_file certificate: {e}"));
                prober_error()
            })?;
        }
    }
    b.verify_param_mut()
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
        .map_err(|e| {
            log.note(format!("tls: OpenSSL refused the verify flags: {e}"));
            prober_error()
        })?;
    if cfg.insecure_skip_verify {
        log.note("tls: insecure_skip_verify: any certificate chain is accepted");
    }
    Ok(())
}

/// Sets the client certificate chain and key when the module presents one; returns the
/// leaf's notAfter (unix seconds).
async fn client_cert(
    b: &mut SslContextBuilder,
    cfg: &TlsConfig,
    log: &mut StepLog,
) -> Result<Option<i64>, Failure> {
    let Some(ClientCert { cert, key }) = &cfg.client_cert else {
        return Ok(None);
    };
    let mut certs = pem_certs(
        &read_pem(cert, "cert_file", log).await?,
        "client certificate",
        log,
    )?
    .into_iter();
    let key_pem = read_pem(key, "key_file", log).await?;
    let unusable = |e: openssl::error::ErrorStack, log: &mut StepLog| {
        log.note(format!(
            "tls: the client certificate and key do not make a usable identity: {e}"
        ));
        prober_error()
    };
    let leaf = certs.next().ok_or_else(prober_error)?;
    let expiry = leaf.to_der().ok().and_then(|der| not_after(&der));
    let key = PKey::private_key_from_pem(&key_pem).map_err(|e| unusable(e, log))?;
    b.set_certificate(&leaf).map_err(|e| unusable(e, log))?;
    for extra in certs {
        b.add_extra_chain_cert(extra)
            .map_err(|e| unusable(e, log))?;
    }
    b.set_private_key(&key).map_err(|e| unusable(e, log))?;
    b.check_private_key().map_err(|e| unusable(e, log))?;
    log.note(match cert {
        Pem::File(path) => format!("tls: client certificate from {}", path.display()),
        Pem::Inline(_) => "tls: client certificate from the config (`cert`)".to_string(),
    });
    Ok(expiry)
}

/// Every certificate of PEM text; at least one (`what` names it in the log).
fn pem_certs(pem: &[u8], what: &str, log: &mut StepLog) -> Result<Vec<X509>, Failure> {
    match X509::stack_from_pem(pem) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) => {
            log.note(format!("tls: {what} holds no PEM certificate"));
            Err(prober_error())
        }
        Err(e) => {
            log.note(format!("tls: {what}: {e}"));
            Err(prober_error())
        }
    }
}

/// The bytes of `pem`: the file read (`file_key` names it in the log), or the config's text.
async fn read_pem(pem: &Pem, file_key: &str, log: &mut StepLog) -> Result<Vec<u8>, Failure> {
    match pem {
        Pem::File(path) => read_file(path, file_key, log).await,
        Pem::Inline(text) => Ok(text.as_bytes().to_vec()),
    }
}

/// The bytes of a TLS file; an OS refusal is `prober_error` with the errno name.
async fn read_file(path: &Path, what: &str, log: &mut StepLog) -> Result<Vec<u8>, Failure> {
    tokio::fs::read(path).await.map_err(|e| {
        log.note(format!("tls: cannot read {what} {}: {e}", path.display()));
        Failure::new(
            Phase::Tls,
            FailureClass::ProberError,
            Detail::errno(e.raw_os_error()),
        )
    })
}

/// A `prober_error` of phase `tls`, without detail.
fn prober_error() -> Failure {
    Failure::bare(Phase::Tls, FailureClass::ProberError)
}
