//! The one certificate builder of the tests: rcgen CAs (root or intermediate), leaves and
//! self-signed certificates made inside the test, identities read from PEM (including one made
//! by `openssl req -x509`), and rustls server configs presenting them. The lab
//! (`tests/lab/tlsgen.rs`) and the in-process TLS tests (`tests/tls_phase_support`) add their
//! presets on top.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256,
};
use rustls::crypto::aws_lc_rs::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

/// A certificate chain (leaf first) and the leaf's key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The leaf alone, PEM.
    pub cert_pem: String,
    /// The key, PEM.
    pub key_pem: String,
}

impl Identity {
    /// Signs `params` with a fresh `alg` key: by `issuer`, self-signed when `None`. `rest`
    /// follows the leaf in the chain.
    fn make(
        params: CertificateParams,
        issuer: Option<&Issuer<'_, KeyPair>>,
        rest: &[CertificateDer<'static>],
        alg: &'static SignatureAlgorithm,
    ) -> Identity {
        let key = KeyPair::generate_for(alg).expect("key");
        let cert = match issuer {
            Some(issuer) => params.signed_by(&key, issuer),
            None => params.self_signed(&key),
        }
        .expect("certificate");
        let mut chain = vec![cert.der().clone()];
        chain.extend_from_slice(rest);
        Identity {
            chain,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// An identity from PEM text made elsewhere: every certificate of `cert_pem` (leaf first)
    /// and the key of `key_pem` (PKCS#8, SEC1 or PKCS#1).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Identity {
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

/// A test CA (`CN=<cn>,O=Handshake Test`), its certificate also in a temporary file (for
/// `tls_config.ca_file`).
pub struct Pki {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, DER.
    pub ca_der: CertificateDer<'static>,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The CA certificate in a file.
    pub ca_file: TempPem,
    /// The certificates between this CA and the root, for chains of the leaves it issues.
    above: Vec<CertificateDer<'static>>,
    /// The key type of this CA and of the leaves it issues.
    alg: &'static SignatureAlgorithm,
}

/// The parameters of a CA named `cn` (ECDSA P-256, rcgen's default validity).
fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Handshake Test");
    params
}

impl Pki {
    /// A fresh root CA named `cn` (ECDSA P-256 keys).
    pub fn named(cn: &str) -> Pki {
        Pki::named_with(cn, &PKCS_ECDSA_P256_SHA256)
    }

    /// A fresh root CA named `cn` whose key, and the keys of the leaves and intermediates it
    /// issues, are of type `alg`.
    pub fn named_with(cn: &str, alg: &'static SignatureAlgorithm) -> Pki {
        let key = KeyPair::generate_for(alg).expect("CA key");
        let params = ca_params(cn);
        let cert = params.self_signed(&key).expect("CA certificate");
        Pki::from_parts(params, key, cert.der().clone(), cert.pem(), Vec::new(), alg)
    }

    fn from_parts(
        params: CertificateParams,
        key: KeyPair,
        der: CertificateDer<'static>,
        pem: String,
        above: Vec<CertificateDer<'static>>,
        alg: &'static SignatureAlgorithm,
    ) -> Pki {
        Pki {
            ca_file: TempPem::new(&pem),
            ca_der: der,
            ca_pem: pem,
            issuer: Issuer::new(params, key),
            above,
            alg,
        }
    }

    /// An intermediate CA named `cn`, signed by this one; the leaves it issues carry it.
    pub fn intermediate(&self, cn: &str) -> Pki {
        let key = KeyPair::generate_for(self.alg).expect("intermediate key");
        let params = ca_params(cn);
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("intermediate certificate");
        let mut above = vec![cert.der().clone()];
        above.extend_from_slice(&self.above);
        Pki::from_parts(params, key, cert.der().clone(), cert.pem(), above, self.alg)
    }

    /// A leaf for `names`, subject `CN=<first name>` (`CN=leaf.test` without names), signed
    /// by this CA after `edit` adjusted its parameters.
    pub fn issue(&self, names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Identity {
        let params = leaf_params(names, "leaf.test", edit);
        Identity::make(params, Some(&self.issuer), &self.above, self.alg)
    }

    /// A DER CRL (RFC 5280 section 5) signed by this CA, listing `revoked` serials (DER
    /// INTEGER content octets), issued at `this_update` and due again at `next_update` (year,
    /// month, day).
    pub fn crl(
        &self,
        revoked: &[&[u8]],
        this_update: (i32, u8, u8),
        next_update: (i32, u8, u8),
    ) -> Vec<u8> {
        let day = |(y, m, d): (i32, u8, u8)| rcgen::date_time_ymd(y, m, d);
        let params = rcgen::CertificateRevocationListParams {
            this_update: day(this_update),
            next_update: day(next_update),
            crl_number: rcgen::SerialNumber::from_slice(&[1]),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from_slice(serial),
                    revocation_time: day(this_update),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer).expect("CRL").der().to_vec()
    }

    /// Writes the CA certificate to `path`; returns it.
    pub fn write_ca_to(&self, path: PathBuf) -> PathBuf {
        std::fs::write(&path, &self.ca_pem)
            .unwrap_or_else(|e| panic!("failed to write {}: {e}", path.display()));
        path
    }
}

/// A leaf for `names` (subject `CN=<first name>`) signed by a CA made elsewhere, after `edit`
/// adjusted its parameters; its chain is the leaf followed by `rest`.
pub fn sign(
    names: &[&str],
    edit: impl FnOnce(&mut CertificateParams),
    issuer: &Issuer<'_, KeyPair>,
    rest: &[CertificateDer<'static>],
) -> Identity {
    Identity::make(
        leaf_params(names, "leaf.test", edit),
        Some(issuer),
        rest,
        &PKCS_ECDSA_P256_SHA256,
    )
}

/// Leaf parameters for `names`, subject CN the first name (or `default_cn`), then `edit`.
fn leaf_params(
    names: &[&str],
    default_cn: &str,
    edit: impl FnOnce(&mut CertificateParams),
) -> CertificateParams {
    let owned: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(owned).expect("leaf params");
    params.distinguished_name = DistinguishedName::new();
    let cn = names.first().copied().unwrap_or(default_cn);
    params.distinguished_name.push(DnType::CommonName, cn);
    edit(&mut params);
    params
}

/// A self-signed certificate for `names` (subject `CN=<first name>`, `CN=selfsigned.test`
/// without names), after `edit` adjusted its parameters.
pub fn self_signed(names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Identity {
    Identity::make(
        leaf_params(names, "selfsigned.test", edit),
        None,
        &[],
        &PKCS_ECDSA_P256_SHA256,
    )
}

/// A self-signed certificate from `params` as they are.
pub fn self_signed_from(params: CertificateParams) -> Identity {
    Identity::make(params, None, &[], &PKCS_ECDSA_P256_SHA256)
}

/// `openssl req -x509 -nodes -subj /CN=localhost -addext subjectAltName=DNS:localhost`, the
/// self-signed `CA:TRUE` certificate users make, with files in `dir`. `None` after printing
/// "skipping" when openssl is not installed; under `CI=true` that is a failure.
pub fn openssl_req_x509(dir: &Path) -> Option<Identity> {
    let (cert, key) = (dir.join("openssl-cert.pem"), dir.join("openssl-key.pem"));
    let run = std::process::Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost", "-days", "30"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    let out = match run {
        Ok(out) => out,
        Err(e) => return skip_without("openssl", &e),
    };
    assert!(out.status.success(), "openssl req failed: {out:?}");
    let read = |p: &Path| std::fs::read_to_string(p).expect("openssl output");
    let id = Identity::from_pem(&read(&cert), &read(&key));
    let _ = std::fs::remove_file(&cert);
    let _ = std::fs::remove_file(&key);
    Some(id)
}

/// Prints "skipping: cannot run `tool`" and returns `None`, or panics under `CI=true`, where
/// every tool a test needs is installed.
pub fn skip_without<T>(tool: &str, err: &std::io::Error) -> Option<T> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("cannot run {tool} ({err}), and CI=true forbids skipping");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipping: cannot run {tool}: {err}");
    None
}

/// A rustls server config presenting `id`, speaking `versions` (every version rustls has when
/// empty), only `suites` when given, and asking for a client certificate from `client_ca` when
/// given.
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
    let versions = if versions.is_empty() {
        rustls::ALL_VERSIONS
    } else {
        versions
    };
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
