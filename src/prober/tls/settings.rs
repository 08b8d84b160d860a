//! Everything a TLS probe needs before its first byte: the aws-lc-rs crypto provider and the system
//! trust roots (both loaded once per process), then per module the `ca_file`, client
//! certificate and version range, assembled into a rustls `ClientConfig` that every probe of the
//! module reuses ([`ClientCache`], kept by `clients`). The files it was built from are checked
//! (modification time, size, inode) at most once a second; a change rebuilds it. A reload
//! forgets every client, so the first probe after it builds anew.
//!
//! Any problem here is the exporter's, never the target's: class `prober_error`, detail the
//! errno name when the OS refused a file (ENOENT, EACCES), else empty.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use rustls::client::{
    ClientSessionStore, ResolvesClientCert, Resumption, Tls12ClientSessionValue,
    Tls13ClientSessionValue, WebPkiServerVerifier,
};
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::version::{TLS12, TLS13};
use rustls::{
    CipherSuite, ClientConfig, NamedGroup, RootCertStore, SignatureScheme, SupportedProtocolVersion,
};

use super::cert_info::not_after;
use super::pinned::Pinned;
use super::verifier::{record, Anchors, RecordingVerifier, Trust, WebPkiTrust};
use crate::config::{ClientCert, Pem, TlsConfig, TlsVersion};
use crate::report::{Detail, Failure, FailureClass, Phase, StepLog};

/// The process-wide aws-lc-rs provider, offering the AES-128-GCM suites first (as Go's
/// crypto/tls does): the server picks what it prefers anyway, and a probe gains nothing from
/// AES-256/SHA-384 but its cost. Key exchange: X25519, then P-256 and P-384 (RFC 8446 section
/// 4.2.7), the groups blackbox_exporter built with Go before 1.24 offers; the post-quantum hybrid
/// X25519MLKEM768 is not offered, so a probe costs one X25519 exchange and no ML-KEM key pair.
fn provider() -> &'static Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let mut provider = aws_lc_rs::default_provider();
        provider.kx_groups = vec![
            aws_lc_rs::kx_group::X25519,
            aws_lc_rs::kx_group::SECP256R1,
            aws_lc_rs::kx_group::SECP384R1,
        ];
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
    /// notAfter of each root certificate, by its subjectPublicKeyInfo (DER).
    expiries: HashMap<Vec<u8>, i64>,
    /// `None` when the system has no usable root (rustls refuses an empty store).
    verifier: Option<Arc<WebPkiServerVerifier>>,
}

/// The system roots (rustls-native-certs: `SSL_CERT_FILE`/`SSL_CERT_DIR`, else the OS store),
/// read from disk once per process.
fn system_roots() -> &'static SystemRoots {
    static SYSTEM: OnceLock<SystemRoots> = OnceLock::new();
    SYSTEM.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        let mut expiries = HashMap::new();
        add_expiries(&mut expiries, &loaded.certs);
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
        SystemRoots {
            store,
            expiries,
            verifier,
        }
    })
}

/// Adds the notAfter of each certificate of `certs` under the subjectPublicKeyInfo its WebPKI
/// trust anchor keeps (the content of the SEQUENCE, as webpki stores it). Certificates that do
/// not parse are left out. Of several roots with one key (a renewed root: same subject and key,
/// later notAfter) the latest notAfter is kept: their trust anchors are identical, so a path
/// through that key is a path through each of them, and Go's `VerifiedChains` holds one chain
/// per root, of which blackbox_exporter takes the latest.
fn add_expiries(expiries: &mut HashMap<Vec<u8>, i64>, certs: &[CertificateDer<'_>]) {
    for der in certs {
        if let (Ok(anchor), Some(expiry)) = (webpki::anchor_from_trusted_cert(der), not_after(der))
        {
            let kept = expiries
                .entry(anchor.subject_public_key_info.as_ref().to_vec())
                .or_insert(expiry);
            *kept = (*kept).max(expiry);
        }
    }
}

/// Loads the system trust roots now rather than on the first probe; returns how many roots
/// are usable. Later calls return at once.
pub fn preload_system_roots() -> usize {
    system_roots().store.len()
}

/// A module's TLS client: the rustls configuration every probe of the module connects with,
/// and what it was built from.
pub(crate) struct Client {
    /// The client configuration (roots, client certificate, verifier, versions).
    pub config: Arc<ClientConfig>,
    /// notAfter of the client certificate, unix seconds; `None` without one.
    pub client_cert_expiry: Option<i64>,
    /// The files it was built from.
    files: FileWatch,
}

/// The TLS files a client was built from (`ca_file`, the client certificate's files), each
/// with its stamp from before it was read (`None`: it could not be examined), and when they
/// are next examined.
pub(super) struct FileWatch {
    files: Vec<(PathBuf, Option<FileStamp>)>,
    next_check: Mutex<Instant>,
}

impl FileWatch {
    /// Stamps the files `cfg` names. Call it before reading them: a change while reading then
    /// shows at the next check.
    pub(super) async fn of(cfg: &TlsConfig) -> FileWatch {
        let client_files = cfg.client_cert.iter().flat_map(|c| [&c.cert, &c.key]);
        let client_files = client_files.filter_map(|pem| match pem {
            Pem::File(path) => Some(path),
            Pem::Inline(_) => None,
        });
        let mut files = Vec::new();
        for path in cfg.ca_file.iter().chain(client_files) {
            files.push((path.clone(), FileStamp::of(path).await));
        }
        FileWatch {
            files,
            next_check: Mutex::new(Instant::now() + FILE_CHECK_INTERVAL),
        }
    }

    /// True when the files look unchanged: examined at most once a second (stat(2) of each),
    /// in between assumed unchanged.
    pub(super) async fn is_current(&self) -> bool {
        {
            let mut next = self.next_check.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if now < *next {
                return true;
            }
            *next = now + FILE_CHECK_INTERVAL;
        }
        for (path, stamp) in &self.files {
            if FileStamp::of(path).await != *stamp {
                return false;
            }
        }
        true
    }
}

/// What tells a file changed without reading it: modification time, size and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// How often at most a module's TLS files are examined for changes.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

impl FileStamp {
    /// The stamp of `path` (stat(2), following symlinks); `None` when it cannot be examined.
    async fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = tokio::fs::metadata(path).await.ok()?;
        Some(FileStamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode: meta.ino(),
        })
    }
}

/// The TLS client of one module's settings, built on its first TLS probe and kept for the next
/// ones. Clones share the client.
#[derive(Clone, Default)]
pub(crate) struct ClientCache(Arc<Mutex<Option<Arc<Client>>>>);

impl fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let built = self.0.lock().map(|c| c.is_some()).unwrap_or(false);
        f.debug_struct("ClientCache")
            .field("built", &built)
            .finish()
    }
}

impl ClientCache {
    /// True when both share one client.
    #[cfg(test)]
    pub(crate) fn is_same(&self, other: &ClientCache) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The module's client for `cfg`: the one built before when its files look unchanged,
    /// else a new one (which replaces it).
    ///
    /// Errors: as [`build`]; the failed client is forgotten, so every probe tries again (and
    /// fails as `prober_error`) until the files are usable.
    pub(crate) async fn client(
        &self,
        cfg: &TlsConfig,
        log: &mut StepLog,
    ) -> Result<Arc<Client>, Failure> {
        let cached = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(client) = cached {
            if client.files.is_current().await {
                return Ok(client);
            }
            log.note("tls: a TLS file changed on disk: building the module's TLS client again");
        }
        let built = build(cfg, log).await.map(Arc::new);
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = built.as_ref().ok().cloned();
        built
    }
}

/// Builds the rustls client configuration for `cfg`, reading its files.
///
/// Errors: `prober_error` when a TLS file cannot be read or holds nothing usable, when
/// cert_file and key_file do not match, or when the version range holds neither TLS 1.2 nor 1.3
/// (all rustls speaks).
async fn build(cfg: &TlsConfig, log: &mut StepLog) -> Result<Client, Failure> {
    log.note("tls: building the module's TLS client");
    let files = FileWatch::of(cfg).await;
    let versions = versions(cfg, log)?;
    let provider = provider();
    let trust = trust(cfg, log).await?;
    let (client_key, client_cert_expiry) = match client_key(cfg, log).await? {
        Some((key, expiry)) => (Some(key), expiry),
        None => (None, None),
    };
    let signals = Arc::new(PeerSignals { client_key });
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
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(signals.clone());
    // Every probe starts fresh, as blackbox_exporter's do; the store only watches for tickets.
    config.resumption = Resumption::store(signals);
    Ok(Client {
        config: Arc::new(config),
        client_cert_expiry,
        files,
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
    let ca = match (&cfg.ca_file, &cfg.ca) {
        (Some(path), _) => Some(Pem::File(path.clone())),
        (None, Some(text)) => Some(Pem::Inline(text.clone())),
        (None, None) => None,
    };
    let extra = match &ca {
        Some(pem) => Some(pem_certs(
            &read_pem(pem, "ca_file", "ca", log).await?,
            "CA certificates",
            log,
        )?),
        None => None,
    };
    if cfg.insecure_skip_verify {
        log.note("tls: insecure_skip_verify: any certificate chain is accepted");
        return Ok(Trust::SkipVerify);
    }
    let Some(extra) = extra else {
        return Ok(match &system.verifier {
            Some(verifier) => Trust::WebPki(WebPkiTrust {
                verifier: verifier.clone(),
                pinned: Pinned::default(),
                anchors: Anchors {
                    roots: system.store.clone(),
                    expiries: Arc::new(system.expiries.clone()),
                },
            }),
            None => Trust::NoAnchors,
        });
    };
    let mut store = (*system.store).clone();
    let mut expiries = system.expiries.clone();
    add_expiries(&mut expiries, &extra);
    let pinned = Pinned::new(extra.clone());
    let (added, _) = store.add_parsable_certificates(extra);
    if added == 0 {
        log.note("tls: ca_file holds no usable CA certificate");
        return Err(prober_error());
    }
    let store = Arc::new(store);
    WebPkiServerVerifier::builder_with_provider(store.clone(), provider().clone())
        .build()
        .map(|verifier| {
            Trust::WebPki(WebPkiTrust {
                verifier,
                pinned,
                anchors: Anchors {
                    roots: store,
                    expiries: Arc::new(expiries),
                },
            })
        })
        .map_err(|e| {
            log.note(format!("tls: cannot build a verifier from ca_file: {e}"));
            prober_error()
        })
}

/// The client certificate and key, when the module presents one, with the notAfter (unix
/// seconds) of the certificate, the first of `cert_file`.
async fn client_key(
    cfg: &TlsConfig,
    log: &mut StepLog,
) -> Result<Option<(Arc<CertifiedKey>, Option<i64>)>, Failure> {
    let Some(ClientCert { cert, key }) = &cfg.client_cert else {
        return Ok(None);
    };
    let certs = pem_certs(
        &read_pem(cert, "cert_file", "cert", log).await?,
        "client certificate",
        log,
    )?;
    let expiry = certs.first().and_then(|der| not_after(der));
    let pem = read_pem(key, "key_file", "key", log).await?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        log.note(format!("tls: client key: {e}"));
        prober_error()
    })?;
    let certified = CertifiedKey::from_der(certs, key, provider()).map_err(|e| {
        log.note(format!(
            "tls: the client certificate and key do not make a usable identity: {e}"
        ));
        prober_error()
    })?;
    log.note(match cert {
        Pem::File(path) => format!("tls: client certificate from {}", path.display()),
        Pem::Inline(_) => "tls: client certificate from the config (`cert`)".to_string(),
    });
    Ok(Some((Arc::new(certified), expiry)))
}

/// The bytes of `pem`: the file read (`file_key` names it in the log), or the config's text.
async fn read_pem(
    pem: &Pem,
    file_key: &str,
    inline_key: &str,
    log: &mut StepLog,
) -> Result<Vec<u8>, Failure> {
    match pem {
        Pem::File(path) => read_file(path, file_key, log).await,
        Pem::Inline(text) => {
            log.note(format!("tls: {inline_key} from the config"));
            Ok(text.as_bytes().to_vec())
        }
    }
}

/// Every certificate of PEM text; at least one, else an error (`what` names it in the log).
fn pem_certs(
    pem: &[u8],
    what: &str,
    log: &mut StepLog,
) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            log.note(format!("tls: {what}: {e}"));
            prober_error()
        })?;
    if certs.is_empty() {
        log.note(format!("tls: {what} holds no PEM certificate"));
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

/// Answers the server's requests of every handshake of a module: plays the client certificate
/// resolver (called when a CertificateRequest arrives) and the session store (called for each
/// TLS 1.3 NewSessionTicket). It remembers no session, so probes never resume; what it sees is
/// noted in the running handshake's record (see [`record`]).
#[derive(Debug)]
pub(crate) struct PeerSignals {
    client_key: Option<Arc<CertifiedKey>>,
}

impl ResolvesClientCert for PeerSignals {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        record(|r| r.note_certificate_requested());
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
        record(|r| r.note_ticket_received());
    }

    fn take_tls13_ticket(&self, _: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        None
    }
}
