//! Everything a TLS probe needs before its first byte: the ring crypto provider and the system
//! trust roots (both loaded once per process), then per probe the module's `ca_file`, client
//! certificate and version range, assembled into a rustls `ClientConfig`.
//!
//! Any problem here is the exporter's, never the target's: class `prober_error`, detail the
//! errno name when the OS refused a file (ENOENT, EACCES), else empty.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use rustls::client::{
    ClientSessionStore, ResolvesClientCert, Resumption, Tls12ClientSessionValue,
    Tls13ClientSessionValue, WebPkiServerVerifier,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::version::{TLS12, TLS13};
use rustls::{
    CipherSuite, ClientConfig, NamedGroup, RootCertStore, SignatureScheme, SupportedProtocolVersion,
};

use super::pinned::Pinned;
use super::verifier::{RecordingVerifier, Trust};
use crate::config::{ClientCert, TlsConfig, TlsVersion};
use crate::report::{Detail, Failure, FailureClass, Phase, StepLog};

/// The process-wide ring provider, offering the AES-128-GCM suites first (as Go's crypto/tls
/// does): the server picks what it prefers anyway, and a probe gains nothing from AES-256/SHA-384
/// but its cost.
fn provider() -> &'static Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites.sort_by_key(|s| {
            !matches!(
                s.suite(),
                CipherSuite::TLS13_AES_128_GCM_SHA256
                    | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                    | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
            )
        });
        Arc::new(provider)
    })
}

/// The system trust roots and a verifier over them, built on first use.
struct SystemRoots {
    store: Arc<RootCertStore>,
    /// `None` when the system has no usable root (rustls refuses an empty store).
    verifier: Option<Arc<WebPkiServerVerifier>>,
}

/// The system roots (rustls-native-certs: `SSL_CERT_FILE`/`SSL_CERT_DIR`, else the OS store),
/// read from disk once per process.
fn system_roots() -> &'static SystemRoots {
    static SYSTEM: OnceLock<SystemRoots> = OnceLock::new();
    SYSTEM.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(loaded.certs);
        tracing::info!(
            added,
            ignored,
            errors = loaded.errors.len(),
            "loaded system trust roots"
        );
        let store = Arc::new(store);
        let verifier =
            WebPkiServerVerifier::builder_with_provider(store.clone(), provider().clone())
                .build()
                .ok();
        SystemRoots { store, verifier }
    })
}

/// Loads the system trust roots now rather than on the first probe; returns how many roots
/// are usable. Later calls return at once.
pub fn preload_system_roots() -> usize {
    system_roots().store.len()
}

/// One probe's rustls setup, and the handles that report what happened during the handshake.
pub(crate) struct Setup {
    /// The client configuration to connect with.
    pub config: Arc<ClientConfig>,
    /// Holds the presented chain once the server's Certificate arrived.
    pub verifier: Arc<RecordingVerifier>,
    /// Says whether the server asked for a client certificate or sent a session ticket.
    pub signals: Arc<PeerSignals>,
}

/// Builds the rustls client configuration for `cfg`; files are read on every call.
///
/// Errors: `prober_error` when a TLS file cannot be read or holds nothing usable, when
/// cert_file and key_file do not match, or when the version range holds neither TLS 1.2 nor 1.3
/// (all rustls speaks).
pub(crate) async fn build(cfg: &TlsConfig, log: &mut StepLog) -> Result<Setup, Failure> {
    let versions = versions(cfg, log)?;
    let provider = provider();
    let trust = trust(cfg, log).await?;
    let signals = Arc::new(PeerSignals {
        client_key: client_key(cfg, log).await?,
        ..PeerSignals::default()
    });
    let verifier = Arc::new(RecordingVerifier::new(
        trust,
        provider.signature_verification_algorithms,
    ));
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| {
            log.note(format!(
                "tls: crypto provider refused the version range: {e}"
            ));
            prober_error()
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_client_cert_resolver(signals.clone());
    // Every probe starts fresh, as blackbox_exporter's do; the store only watches for tickets.
    config.resumption = Resumption::store(signals.clone());
    Ok(Setup {
        config: Arc::new(config),
        verifier,
        signals,
    })
}

/// The rustls versions to offer for the module's version range.
///
/// TLS 1.0 and 1.1 as a minimum mean TLS 1.2 (rustls has nothing older); a maximum below 1.2
/// leaves nothing to offer.
fn versions(
    cfg: &TlsConfig,
    log: &mut StepLog,
) -> Result<&'static [&'static SupportedProtocolVersion], Failure> {
    static ONLY_12: [&SupportedProtocolVersion; 1] = [&TLS12];
    static ONLY_13: [&SupportedProtocolVersion; 1] = [&TLS13];
    static BOTH: [&SupportedProtocolVersion; 2] = [&TLS13, &TLS12];
    let Some(offered) = cfg.versions.at_least(TlsVersion::Tls12) else {
        log.note(
            "tls: max_version is below TLS 1.2, the oldest version this prober speaks: nothing to offer",
        );
        return Err(prober_error());
    };
    Ok(match offered {
        (TlsVersion::Tls13, _) => &ONLY_13,
        (_, TlsVersion::Tls13) => &BOTH,
        _ => &ONLY_12,
    })
}

/// The trust decision: skip, system roots alone, or system roots plus `ca_file` (whose
/// certificates are also pinned: a leaf equal to one of them needs no path).
async fn trust(cfg: &TlsConfig, log: &mut StepLog) -> Result<Trust, Failure> {
    let system = system_roots();
    // ca_file is read even when verification is skipped, so a broken file always shows.
    let extra = match &cfg.ca_file {
        Some(path) => Some(read_certs(path, "ca_file", log).await?),
        None => None,
    };
    if cfg.insecure_skip_verify {
        log.note("tls: insecure_skip_verify: any certificate chain is accepted");
        return Ok(Trust::SkipVerify);
    }
    let Some(extra) = extra else {
        return Ok(match &system.verifier {
            Some(verifier) => Trust::WebPki(verifier.clone(), Pinned::default()),
            None => Trust::NoAnchors,
        });
    };
    let mut store = (*system.store).clone();
    let pinned = Pinned::new(extra.clone());
    let (added, _) = store.add_parsable_certificates(extra);
    if added == 0 {
        log.note("tls: ca_file holds no usable CA certificate");
        return Err(prober_error());
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider().clone())
        .build()
        .map(|verifier| Trust::WebPki(verifier, pinned))
        .map_err(|e| {
            log.note(format!("tls: cannot build a verifier from ca_file: {e}"));
            prober_error()
        })
}

/// The client certificate and key, when the module presents one.
async fn client_key(
    cfg: &TlsConfig,
    log: &mut StepLog,
) -> Result<Option<Arc<CertifiedKey>>, Failure> {
    let Some(ClientCert {
        cert_file,
        key_file,
    }) = &cfg.client_cert
    else {
        return Ok(None);
    };
    let certs = read_certs(cert_file, "cert_file", log).await?;
    let pem = read_file(key_file, "key_file", log).await?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        log.note(format!("tls: key_file {}: {e}", key_file.display()));
        prober_error()
    })?;
    let certified = CertifiedKey::from_der(certs, key, provider()).map_err(|e| {
        log.note(format!(
            "tls: cert_file and key_file do not make a usable identity: {e}"
        ));
        prober_error()
    })?;
    log.note(format!(
        "tls: client certificate from {}",
        cert_file.display()
    ));
    Ok(Some(Arc::new(certified)))
}

/// Every certificate of a PEM file; at least one, else an error.
async fn read_certs(
    path: &Path,
    what: &str,
    log: &mut StepLog,
) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let pem = read_file(path, what, log).await?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            log.note(format!("tls: {what} {}: {e}", path.display()));
            prober_error()
        })?;
    if certs.is_empty() {
        log.note(format!(
            "tls: {what} {} holds no PEM certificate",
            path.display()
        ));
        return Err(prober_error());
    }
    Ok(certs)
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

/// Watches the server's requests during one handshake: plays the client certificate resolver
/// (called when a CertificateRequest arrives) and the session store (called for each TLS 1.3
/// NewSessionTicket). It remembers no session, so probes never resume.
#[derive(Debug, Default)]
pub(crate) struct PeerSignals {
    client_key: Option<Arc<CertifiedKey>>,
    certificate_requested: AtomicBool,
    ticket_received: AtomicBool,
}

impl PeerSignals {
    /// True once the server sent a CertificateRequest (RFC 8446 section 4.3.2).
    pub(crate) fn certificate_requested(&self) -> bool {
        self.certificate_requested.load(Ordering::Relaxed)
    }

    /// True once the server sent a NewSessionTicket (RFC 8446 section 4.6.1): servers send it
    /// after accepting the client's Finished, so it means the client certificate passed.
    pub(crate) fn ticket_received(&self) -> bool {
        self.ticket_received.load(Ordering::Relaxed)
    }
}

impl ResolvesClientCert for PeerSignals {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.certificate_requested.store(true, Ordering::Relaxed);
        self.client_key.clone()
    }

    fn has_certs(&self) -> bool {
        self.client_key.is_some()
    }
}

// --- session store: forgets everything, notes tickets ---

impl ClientSessionStore for PeerSignals {
    fn set_kx_hint(&self, _: ServerName<'static>, _: NamedGroup) {}

    fn kx_hint(&self, _: &ServerName<'_>) -> Option<NamedGroup> {
        None
    }

    fn set_tls12_session(&self, _: ServerName<'static>, _: Tls12ClientSessionValue) {}

    fn tls12_session(&self, _: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        None
    }

    fn remove_tls12_session(&self, _: &ServerName<'static>) {}

    fn insert_tls13_ticket(&self, _: ServerName<'static>, _: Tls13ClientSessionValue) {
        self.ticket_received.store(true, Ordering::Relaxed);
    }

    fn take_tls13_ticket(&self, _: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        None
    }
}
