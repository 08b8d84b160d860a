//! Helpers for tests/tls_phase.rs: certificates made by rcgen (a test CA in a temporary
//! ca_file), rustls and raw TCP peers on 127.0.0.1, and one probe run through the `tls` phase.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use handshake_exporter::config::TlsConfig;
use handshake_exporter::prober::tls::handshake;
use handshake_exporter::report::{Failure, FailureClass, Phase, StepLog, TlsFacts};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::crypto::ring::default_provider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

// --- certificates ---

/// A certificate chain (leaf first) and its key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The leaf alone, PEM.
    pub cert_pem: String,
    /// The key, PKCS#8 PEM.
    pub key_pem: String,
}

/// A PEM file in the temp dir, removed on drop.
pub struct TempPem(pub PathBuf);

impl TempPem {
    pub fn new(pem: &str) -> TempPem {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "handshake_exporter-tls-{}-{}.pem",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, pem).expect("write temp pem");
        TempPem(path)
    }
}

impl Drop for TempPem {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A test root CA, its PEM in a temporary ca_file.
pub struct Pki {
    pub issuer: Issuer<'static, KeyPair>,
    pub ca_der: CertificateDer<'static>,
    pub ca_file: TempPem,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Handshake Test");
    params.distinguished_name.push(DnType::CommonName, cn);
    params
}

impl Pki {
    pub fn new() -> Pki {
        Pki::named("Test Root CA")
    }

    /// A root CA whose subject is `CN=<cn>,O=Handshake Test`.
    pub fn named(cn: &str) -> Pki {
        let key = KeyPair::generate().expect("ca key");
        let params = ca_params(cn);
        let cert = params.self_signed(&key).expect("ca cert");
        Pki {
            ca_der: cert.der().clone(),
            ca_file: TempPem::new(&cert.pem()),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` signed by the root, after `edit` adjusted its parameters.
    pub fn leaf(&self, names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Identity {
        sign(names, edit, &self.issuer, Vec::new())
    }

    /// A leaf signed by an intermediate CA that the root signed; the chain carries both.
    pub fn leaf_via_intermediate(
        &self,
        names: &[&str],
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Identity {
        let key = KeyPair::generate().expect("intermediate key");
        let params = ca_params("Test Intermediate");
        let cert = params.signed_by(&key, &self.issuer).expect("intermediate");
        let intermediate = Issuer::new(params, key);
        sign(names, edit, &intermediate, vec![cert.der().clone()])
    }

    pub fn tls_config(&self) -> TlsConfig {
        TlsConfig {
            ca_file: Some(self.ca_file.0.clone()),
            ..TlsConfig::default()
        }
    }
}

/// A leaf for `names` (subject `CN=leaf.test`) signed by `issuer`, after `edit` adjusted its
/// parameters; its chain is the leaf followed by `rest`.
pub fn sign(
    names: &[&str],
    edit: impl FnOnce(&mut CertificateParams),
    issuer: &Issuer<'_, KeyPair>,
    rest: Vec<CertificateDer<'static>>,
) -> Identity {
    let key = KeyPair::generate().expect("leaf key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("leaf params");
    params
        .distinguished_name
        .push(DnType::CommonName, "leaf.test");
    edit(&mut params);
    let cert = params.signed_by(&key, issuer).expect("leaf cert");
    let mut chain = vec![cert.der().clone()];
    chain.extend(rest);
    Identity {
        chain,
        key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

pub fn self_signed(names: &[&str]) -> Identity {
    self_signed_with(names, |_| {})
}

/// A self-signed certificate for `names` (subject `CN=selfsigned.test`), after `edit` adjusted
/// its parameters.
pub fn self_signed_with(names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Identity {
    let key = KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "selfsigned.test");
    edit(&mut params);
    let cert = params.self_signed(&key).expect("self-signed");
    Identity {
        chain: vec![cert.der().clone()],
        key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

// Used by tests/tls_pinned.rs only.
#[allow(dead_code)]
impl Identity {
    /// An identity from PEM text: every certificate of `cert_pem` (leaf first) and the key of
    /// `key_pem` (PKCS#8, SEC1 or PKCS#1).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Identity {
        use rustls::pki_types::pem::PemObject;
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("certificates in PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key in PEM");
        Identity {
            chain,
            key,
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
        }
    }

    /// A TLS config that pins this identity's leaf: `ca_file` holds the leaf alone.
    pub fn pinned(&self) -> (TempPem, TlsConfig) {
        let file = TempPem::new(&self.cert_pem);
        let cfg = TlsConfig {
            ca_file: Some(file.0.clone()),
            ..TlsConfig::default()
        };
        (file, cfg)
    }
}

// --- peers ---

pub fn server_config(
    id: &Identity,
    versions: &[&'static SupportedProtocolVersion],
    suites: Option<Vec<SupportedCipherSuite>>,
    client_ca: Option<&CertificateDer<'static>>,
) -> ServerConfig {
    let mut provider = default_provider();
    if let Some(suites) = suites {
        provider.cipher_suites = suites;
    }
    let provider = Arc::new(provider);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .expect("versions");
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.clone()).expect("client ca");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(id.chain.clone(), id.key.clone_key())
        .expect("server cert")
}

/// A rustls server for one connection; it keeps an accepted connection open until the client
/// closes it.
pub async fn tls_server(config: ServerConfig) -> SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    raw_server(move |tcp| async move {
        if let Ok(mut tls) = acceptor.accept(tcp).await {
            let mut buf = [0u8; 1024];
            while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
        }
    })
    .await
}

/// A TCP server on 127.0.0.1 that hands its one connection to `peer`.
pub async fn raw_server<F, Fut>(peer: F) -> SocketAddr
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        if let Ok((tcp, _)) = listener.accept().await {
            peer(tcp).await;
        }
    });
    addr
}

/// Reads one whole TLS record (the ClientHello), so closing later leaves no unread data.
pub async fn read_record(tcp: &mut TcpStream) {
    let mut header = [0u8; 5];
    tcp.read_exact(&mut header).await.expect("record header");
    let mut body = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
    tcp.read_exact(&mut body).await.expect("record body");
}

pub async fn drain(tcp: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
}

// --- the probe ---

pub struct Outcome {
    pub result: Result<(), Failure>,
    pub facts: TlsFacts,
    pub log: Vec<String>,
}

pub async fn probe(addr: SocketAddr, host: &str, cfg: &TlsConfig) -> Outcome {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut facts = TlsFacts::default();
    let mut log = StepLog::new(Instant::now());
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        handshake(tcp, cfg, host, &mut facts, &mut log),
    )
    .await
    .expect("handshake hung");
    Outcome {
        result: result.map(drop),
        facts,
        log: log.into_lines().into_iter().map(|l| l.message).collect(),
    }
}

pub fn failure(outcome: &Outcome) -> (FailureClass, String) {
    match &outcome.result {
        Ok(()) => panic!("expected a failure, got success; log: {:#?}", outcome.log),
        Err(f) => {
            assert_eq!(f.phase, Phase::Tls);
            (f.class, f.detail.to_string())
        }
    }
}

pub fn assert_success(outcome: &Outcome) {
    if let Err(f) = &outcome.result {
        panic!("expected success, got {f}; log: {:#?}", outcome.log);
    }
}
