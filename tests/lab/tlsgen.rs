//! Certificates generated inside the test with rcgen: a test CA (written to a file for
//! `tls_config.ca_file`) and leaves that are valid, expired, not yet valid, self-signed, issued
//! for another name, or restricted to clientAuth; plus rustls server configs serving them.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

use super::Lab;

/// notAfter of a valid leaf, 2036-01-01T00:00:00Z, in unix seconds.
pub const VALID_NOT_AFTER: i64 = 2_082_758_400;
/// notAfter of the expired leaf, 2021-01-01T00:00:00Z, in unix seconds.
pub const EXPIRED_NOT_AFTER: i64 = 1_609_459_200;
/// notAfter of the not-yet-valid leaf, 2100-01-01T00:00:00Z (notBefore 2099-01-01).
pub const FUTURE_NOT_AFTER: i64 = 4_102_444_800;

/// Which leaf to issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    /// CA-signed for `ok.lab.test` and 203.0.113.2 / 2001:db8:2::2, valid until 2036.
    Valid,
    /// CA-signed, valid 2020-01-01 .. 2021-01-01.
    Expired,
    /// CA-signed, valid 2099-01-01 .. 2100-01-01.
    NotYetValid,
    /// Self-signed for `ok.lab.test`.
    SelfSigned,
    /// Self-signed for `ok.lab.test` with basicConstraints `CA:TRUE`, as `openssl req -x509`
    /// makes them (to be pinned through `ca_file`).
    SelfSignedCa,
    /// CA-signed for `other.lab.test` only.
    WrongName,
    /// CA-signed for `ok.lab.test` but with extendedKeyUsage clientAuth only.
    ClientAuthOnly,
}

/// A certificate chain and its private key, as a TLS server presents them.
pub struct Identity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// PKCS#8 key of the leaf.
    pub key: PrivatePkcs8KeyDer<'static>,
    /// The leaf alone, PEM (a `ca_file` that pins it).
    pub leaf_pem: String,
}

/// A test CA.
pub struct Pki {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The CA certificate, DER.
    pub ca_der: CertificateDer<'static>,
}

impl Pki {
    /// Generates a fresh CA (ECDSA P-256, valid 1975..4096).
    pub fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "handshake lab CA");
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        Pki {
            ca_pem: cert.pem(),
            ca_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Writes the CA certificate as `ca.pem` in the lab's scratch directory; returns the path.
    pub fn write_ca(&self, lab: &Lab) -> PathBuf {
        lab.file("ca.pem", &self.ca_pem)
    }

    /// Issues `leaf`.
    pub fn leaf(&self, leaf: Leaf) -> Identity {
        self.leaf_with_serial(leaf, None)
    }

    /// Issues `leaf` with this serial number (DER INTEGER content bytes); rcgen picks a random
    /// one when `None`.
    pub fn leaf_with_serial(&self, leaf: Leaf, serial: Option<&[u8]>) -> Identity {
        let names: Vec<String> = match leaf {
            Leaf::WrongName => vec!["other.lab.test".into()],
            _ => vec![
                "ok.lab.test".into(),
                super::SERVER4.into(),
                super::SERVER6.into(),
            ],
        };
        let mut params = leaf_params(&names, ExtendedKeyUsagePurpose::ServerAuth);
        params.serial_number = serial.map(rcgen::SerialNumber::from_slice);
        match leaf {
            Leaf::Expired => params.not_after = date_time_ymd(2021, 1, 1),
            Leaf::NotYetValid => {
                params.not_before = date_time_ymd(2099, 1, 1);
                params.not_after = date_time_ymd(2100, 1, 1);
            }
            Leaf::ClientAuthOnly => {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth]
            }
            _ => {}
        }
        let key = KeyPair::generate().expect("leaf key");
        if leaf == Leaf::SelfSignedCa {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        let cert = if matches!(leaf, Leaf::SelfSigned | Leaf::SelfSignedCa) {
            params.use_authority_key_identifier_extension = false;
            params.self_signed(&key)
        } else {
            params.signed_by(&key, &self.issuer)
        }
        .expect("leaf certificate");
        Identity {
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
            leaf_pem: cert.pem(),
        }
    }
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}

/// A self-signed identity from `params`, for a test that sets the subject or the dates itself.
pub fn self_signed(params: CertificateParams) -> Identity {
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    Identity {
        chain: vec![cert.der().clone()],
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        leaf_pem: cert.pem(),
    }
}

/// An identity from PEM text made elsewhere (e.g. by `openssl req`): the leaf of `cert_pem`
/// and the PKCS#8 key of `key_pem`.
pub fn identity_from_pem(cert_pem: &str, key_pem: &str) -> Identity {
    use rustls::pki_types::pem::PemObject;
    Identity {
        chain: vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("a PEM certificate")],
        key: PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes()).expect("a PKCS#8 PEM key"),
        leaf_pem: cert_pem.to_string(),
    }
}

/// A rustls server config presenting `id`, speaking `versions` (both TLS 1.2 and 1.3 when
/// empty) and, when given, only `suites`.
pub fn server_config(
    id: &Identity,
    versions: &[&'static SupportedProtocolVersion],
    suites: Option<Vec<SupportedCipherSuite>>,
) -> Arc<ServerConfig> {
    let mut provider = ring::default_provider();
    if let Some(suites) = suites {
        provider.cipher_suites = suites;
    }
    let versions = if versions.is_empty() {
        rustls::ALL_VERSIONS
    } else {
        versions
    };
    let config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(id.chain.clone(), PrivateKeyDer::Pkcs8(id.key.clone_key()))
        .expect("server certificate");
    Arc::new(config)
}

/// A rustls server config choosing its certificate by the client's SNI: `by_name` maps a server
/// name to the identity served for it (whatever names that certificate holds); a ClientHello
/// without a listed name gets no certificate, so the handshake fails.
pub fn sni_server_config(by_name: &[(&str, &Identity)]) -> Arc<ServerConfig> {
    let provider = provider();
    let mut certs = Vec::new();
    for (name, id) in by_name {
        let key = provider
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(id.key.clone_key()))
            .expect("server key");
        let certified = rustls::sign::CertifiedKey::new(id.chain.clone(), key);
        certs.push((name.to_string(), Arc::new(certified)));
    }
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(BySni(certs)));
    Arc::new(config)
}

/// Picks a certificate by SNI from a fixed list.
#[derive(Debug)]
struct BySni(Vec<(String, Arc<rustls::sign::CertifiedKey>)>);

impl rustls::server::ResolvesServerCert for BySni {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let sni = hello.server_name()?;
        self.0
            .iter()
            .find(|(name, _)| name == sni)
            .map(|(_, key)| key.clone())
    }
}

/// The default crypto provider, for test-side rustls clients.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

impl Pki {
    /// Issues a leaf for `names` (DNS names or IP addresses) with one extended key usage:
    /// `client` picks clientAuth, else serverAuth.
    pub fn issue(&self, names: &[&str], client: bool) -> Identity {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let usage = if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        };
        let params = leaf_params(&names, usage);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Identity {
            leaf_pem: cert.pem(),
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }
}

impl Identity {
    /// The chain as PEM, leaf first.
    pub fn chain_pem(&self) -> String {
        self.chain
            .iter()
            .map(|der| pem("CERTIFICATE", der))
            .collect()
    }

    /// The PKCS#8 key as PEM.
    pub fn key_pem(&self) -> String {
        pem("PRIVATE KEY", self.key.secret_pkcs8_der())
    }
}

/// One PEM block (RFC 7468) of `der` labelled `label`.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A leaf's parameters: `names` as SANs, the first as CN, valid 2020..2036, one extended key
/// usage, an authority key identifier.
fn leaf_params(names: &[String], usage: ExtendedKeyUsagePurpose) -> CertificateParams {
    let mut params = CertificateParams::new(names.to_vec()).expect("leaf params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, names[0].as_str());
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2036, 1, 1);
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    params
}
