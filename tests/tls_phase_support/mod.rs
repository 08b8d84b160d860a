//! Helpers for tests/tls_phase.rs and tests/tls_pinned.rs: certificate presets over the tests'
//! PKI builder (a test CA in a temporary ca_file), rustls and raw TCP peers on 127.0.0.1, and
//! one probe run through the `tls` phase.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use handshake_exporter::config::TlsConfig;
use handshake_exporter::prober::tls::handshake;
use handshake_exporter::report::{Failure, FailureClass, Phase, StepLog, TlsFacts};
use rcgen::{CertificateParams, DistinguishedName, DnType};
use rustls::ServerConfig;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

// --- certificates: presets over the tests' PKI builder ---

#[path = "../support/pki.rs"]
mod pki;

#[allow(unused_imports)]
pub use pki::{server_config, skip_without, Identity, Pki, TempPem};

/// Sets the subject to `CN=<cn>` alone.
fn subject(params: &mut CertificateParams, cn: &str) {
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
}

impl Pki {
    /// A root CA named `Test Root CA`.
    pub fn new() -> Pki {
        Pki::named("Test Root CA")
    }

    /// A leaf for `names` (subject `CN=leaf.test`) signed by the root, after `edit` adjusted
    /// its parameters.
    pub fn leaf(&self, names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Identity {
        self.issue(names, |p| {
            subject(p, "leaf.test");
            edit(p)
        })
    }

    /// A leaf signed by an intermediate CA (`Test Intermediate`) that the root signed; the
    /// chain carries both.
    pub fn leaf_via_intermediate(
        &self,
        names: &[&str],
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Identity {
        self.intermediate("Test Intermediate").leaf(names, edit)
    }

    /// A TLS config trusting this CA through `ca_file`.
    pub fn tls_config(&self) -> TlsConfig {
        TlsConfig {
            ca_file: Some(self.ca_file.0.clone()),
            ..TlsConfig::default()
        }
    }
}

/// A leaf for `names` (subject `CN=leaf.test`) signed by `issuer`, after `edit` adjusted its
/// parameters; its chain is the leaf followed by `rest`.
#[allow(dead_code)]
pub fn sign(
    names: &[&str],
    edit: impl FnOnce(&mut CertificateParams),
    issuer: &rcgen::Issuer<'_, rcgen::KeyPair>,
    rest: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Identity {
    pki::sign(
        names,
        |p| {
            subject(p, "leaf.test");
            edit(p)
        },
        issuer,
        &rest,
    )
}

pub fn self_signed(names: &[&str]) -> Identity {
    self_signed_with(names, |_| {})
}

/// A self-signed certificate for `names` (subject `CN=selfsigned.test`), after `edit` adjusted
/// its parameters.
pub fn self_signed_with(names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Identity {
    pki::self_signed(names, |p| {
        subject(p, "selfsigned.test");
        edit(p)
    })
}

/// `openssl req -x509` as users run it; see [`pki::openssl_req_x509`].
#[allow(dead_code)]
pub fn openssl_req_x509() -> Option<Identity> {
    pki::openssl_req_x509(&std::env::temp_dir())
}

#[allow(dead_code)]
impl Identity {
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
