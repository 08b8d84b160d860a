//! The rustls server configuration for a web config's `tls_server_config`: certificate and key,
//! client certificate policy (Go's `tls.ClientAuthType` on top of rustls'
//! `WebPkiClientVerifier`), allowed client SANs, version range, TLS 1.2 suites and key-exchange
//! groups by their Go names, and ALPN for HTTP/2.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::{aws_lc_rs, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, OtherError, RootCertStore,
    ServerConfig, SignatureScheme, SupportedProtocolVersion,
};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::config::{ClientAuth, TlsServerConfig, Version};

/// A failed build: the `tls_server_config` key at fault and the one-line reason.
pub type BuildError = (&'static str, String);

/// Builds the server configuration, reading the certificate, key and client CA files now.
/// `http2` adds `h2` to ALPN ahead of `http/1.1`.
///
/// Errors: the key at fault and why: a file that cannot be read or holds no PEM certificate or
/// key, a key that does not match the certificate, no usable client CA, or a version range
/// rustls cannot serve.
pub fn server_config(cfg: &TlsServerConfig, http2: bool) -> Result<ServerConfig, BuildError> {
    let provider = Arc::new(provider(cfg));
    let certs = certificates(cfg)?;
    let key = private_key(cfg)?;
    let verifier = client_verifier(cfg, &provider)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(cfg))
        .map_err(|e| ("min_version", format!("no usable protocol version: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| {
            (
                "key_file",
                format!("failed to use the certificate and key: {e}"),
            )
        })?;
    config.ignore_client_order = cfg.prefer_server_cipher_suites;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// aws-lc-rs with the configured TLS 1.2 suites and groups, in the configured order; TLS 1.3 suites
/// stay as they are (Go does not let them be configured either). Without `curve_preferences`
/// the provider's groups: X25519, P-256, P-384, then the post-quantum hybrid X25519MLKEM768.
fn provider(cfg: &TlsServerConfig) -> CryptoProvider {
    let mut provider = aws_lc_rs::default_provider();
    if !cfg.cipher_suites.is_empty() {
        let all = provider.cipher_suites.clone();
        let mut suites: Vec<_> = all
            .iter()
            .filter(|s| s.tls13().is_some())
            .copied()
            .collect();
        for name in &cfg.cipher_suites {
            suites.extend(
                all.iter()
                    .filter(|s| s.tls13().is_none() && format!("{:?}", s.suite()) == *name)
                    .copied(),
            );
        }
        provider.cipher_suites = suites;
    }
    if !cfg.curve_preferences.is_empty() {
        provider.kx_groups = cfg
            .curve_preferences
            .iter()
            .filter_map(|name| match name.as_str() {
                "X25519" => Some(aws_lc_rs::kx_group::X25519),
                "CurveP256" => Some(aws_lc_rs::kx_group::SECP256R1),
                "CurveP384" => Some(aws_lc_rs::kx_group::SECP384R1),
                _ => None,
            })
            .collect();
    }
    provider
}

/// The versions between `min_version` and `max_version`; TLS 1.0/1.1 count as 1.2 (checked at
/// load: the maximum is at least TLS 1.2).
fn versions(cfg: &TlsServerConfig) -> Vec<&'static SupportedProtocolVersion> {
    let mut out = Vec::new();
    if cfg.min_version <= Version::Tls12 && cfg.max_version >= Version::Tls12 {
        out.push(&rustls::version::TLS12);
    }
    if cfg.max_version >= Version::Tls13 {
        out.push(&rustls::version::TLS13);
    }
    out
}

/// Reads `file` (or takes the inline text), naming `key` on failure.
fn pem_source(
    inline: Option<&str>,
    file: Option<&Path>,
    key: &'static str,
) -> Result<Vec<u8>, BuildError> {
    match (inline, file) {
        (Some(text), _) => Ok(text.as_bytes().to_vec()),
        (None, Some(path)) => std::fs::read(path)
            .map_err(|e| (key, format!("failed to read {}: {e}", path.display()))),
        (None, None) => Err((key, "not set".to_string())),
    }
}

fn certificates(cfg: &TlsServerConfig) -> Result<Vec<CertificateDer<'static>>, BuildError> {
    let key = if cfg.cert.is_some() {
        "cert"
    } else {
        "cert_file"
    };
    let pem = pem_source(cfg.cert.as_deref(), cfg.cert_file.as_deref(), key)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| (key, format!("failed to parse PEM: {e}")))?;
    if certs.is_empty() {
        return Err((key, "no PEM certificate found".to_string()));
    }
    Ok(certs)
}

fn private_key(cfg: &TlsServerConfig) -> Result<PrivateKeyDer<'static>, BuildError> {
    let key = if cfg.key.is_some() { "key" } else { "key_file" };
    let pem = pem_source(cfg.key.as_deref(), cfg.key_file.as_deref(), key)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| (key, format!("no usable PEM private key: {e}")))
}

/// The client CAs: the configured file or inline bundle, else the system roots (Go verifies
/// against the system pool when `ClientCAs` is unset).
fn client_roots(cfg: &TlsServerConfig) -> Result<Arc<RootCertStore>, BuildError> {
    let key = if cfg.client_ca.is_some() {
        "client_ca"
    } else {
        "client_ca_file"
    };
    if cfg.client_ca.is_none() && cfg.client_ca_file.is_none() {
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        return Ok(Arc::new(store));
    }
    let pem = pem_source(cfg.client_ca.as_deref(), cfg.client_ca_file.as_deref(), key)?;
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| (key, format!("failed to parse PEM: {e}")))?;
        store
            .add(cert)
            .map_err(|e| (key, format!("unusable CA certificate: {e}")))?;
    }
    if store.is_empty() {
        return Err((key, "no PEM certificate found".to_string()));
    }
    Ok(Arc::new(store))
}

fn client_verifier(
    cfg: &TlsServerConfig,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, BuildError> {
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ClientCertVerifier> = match cfg.client_auth_type {
        ClientAuth::NoClientCert => return Ok(Arc::new(rustls::server::NoClientAuth)),
        ClientAuth::RequestClientCert => Arc::new(AnyClientCert {
            mandatory: false,
            algorithms,
        }),
        ClientAuth::RequireAnyClientCert => Arc::new(AnyClientCert {
            mandatory: true,
            algorithms,
        }),
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            let mut builder =
                WebPkiClientVerifier::builder_with_provider(client_roots(cfg)?, provider.clone());
            if cfg.client_auth_type == ClientAuth::VerifyClientCertIfGiven {
                builder = builder.allow_unauthenticated();
            }
            builder
                .build()
                .map_err(|e| ("client_ca_file", format!("no usable client CA: {e}")))?
        }
    };
    Ok(match &cfg.client_allowed_sans {
        Some(allowed) => Arc::new(SanCheck {
            inner: verifier,
            allowed: allowed.clone(),
        }),
        None => verifier,
    })
}

// ---- AnyClientCert: RequestClientCert and RequireAnyClientCert

/// Takes any client certificate without checking its chain (Go's `RequestClientCert` and
/// `RequireAnyClientCert`); the handshake signature is still verified, so the client holds the key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

// ---- SanCheck: client_allowed_sans

/// Runs `inner`, then requires one of the certificate's SANs to equal an `allowed` entry, as
/// the toolkit's `VerifyPeerCertificate` does.
#[derive(Debug)]
struct SanCheck {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

/// The SAN values of `der` as strings: DNS names, e-mail addresses, IP addresses, URIs.
///
/// Errors: `BadEncoding` when the certificate or its SAN extension does not parse.
pub fn subject_alt_names(der: &[u8]) -> Result<Vec<String>, Error> {
    let bad = || Error::InvalidCertificate(CertificateError::BadEncoding);
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| bad())?;
    let Some(san) = cert.subject_alternative_name().map_err(|_| bad())? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for name in &san.value.general_names {
        match name {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                out.push(s.to_string())
            }
            GeneralName::IPAddress(bytes) => {
                let ip = match bytes.len() {
                    4 => <[u8; 4]>::try_from(*bytes).map(IpAddr::from).ok(),
                    16 => <[u8; 16]>::try_from(*bytes).map(IpAddr::from).ok(),
                    _ => None,
                };
                out.extend(ip.map(|ip| ip.to_string()));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The error a client certificate without an allowed SAN gets.
#[derive(Debug, thiserror::Error)]
#[error("client certificate has none of the allowed SANs {0:?}")]
struct SanNotAllowed(Vec<String>);

impl ClientCertVerifier for SanCheck {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let sans = subject_alt_names(end_entity)?;
        if sans.iter().any(|san| self.allowed.contains(san)) {
            return Ok(verified);
        }
        Err(Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(SanNotAllowed(self.allowed.clone()))),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
