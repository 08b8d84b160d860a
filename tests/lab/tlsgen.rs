//! The lab's certificates, presets over the tests' PKI builder (`tests/support/pki.rs`): a
//! test CA (written to a file for `tls_config.ca_file`) and leaves that are valid, expired, not
//! yet valid, self-signed, issued for another name, or restricted to clientAuth; plus rustls
//! server configs serving them.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{date_time_ymd, BasicConstraints, ExtendedKeyUsagePurpose, IsCa, SerialNumber};
use rustls::crypto::{aws_lc_rs as ring, CryptoProvider};
use rustls::{ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

pub use super::pki::{Identity, Pki};
use super::{pki, Lab};

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

impl Pki {
    /// A fresh lab CA, `CN=handshake lab CA,O=Handshake Test`.
    pub fn new() -> Pki {
        Pki::named("handshake lab CA")
    }

    /// Writes the CA certificate as `ca.pem` in the lab's scratch directory; returns the path.
    pub fn write_ca(&self, lab: &Lab) -> PathBuf {
        self.write_ca_to(lab.dir.join("ca.pem"))
    }

    /// Issues `leaf`.
    pub fn leaf(&self, leaf: Leaf) -> Identity {
        self.leaf_with_serial(leaf, None)
    }

    /// Issues `leaf` with this serial number (DER INTEGER content bytes); rcgen picks a random
    /// one when `None`.
    pub fn leaf_with_serial(&self, leaf: Leaf, serial: Option<&[u8]>) -> Identity {
        let names: &[&str] = match leaf {
            Leaf::WrongName => &["other.lab.test"],
            _ => &["ok.lab.test", super::SERVER4, super::SERVER6],
        };
        let edit = |params: &mut rcgen::CertificateParams| {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2036, 1, 1);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.use_authority_key_identifier_extension = true;
            params.serial_number = serial.map(SerialNumber::from_slice);
            match leaf {
                Leaf::Expired => params.not_after = date_time_ymd(2021, 1, 1),
                Leaf::NotYetValid => {
                    params.not_before = date_time_ymd(2099, 1, 1);
                    params.not_after = date_time_ymd(2100, 1, 1);
                }
                Leaf::ClientAuthOnly => {
                    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth]
                }
                Leaf::SelfSigned | Leaf::SelfSignedCa => {
                    params.use_authority_key_identifier_extension = false;
                    if leaf == Leaf::SelfSignedCa {
                        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                    }
                }
                _ => {}
            }
        };
        match leaf {
            Leaf::SelfSigned | Leaf::SelfSignedCa => pki::self_signed(names, edit),
            _ => self.issue(names, edit),
        }
    }
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}

/// A self-signed identity from `params`, for a test that sets the subject or the dates itself.
pub fn self_signed(params: rcgen::CertificateParams) -> Identity {
    pki::self_signed_from(params)
}

/// A rustls server config presenting `id`, speaking `versions` (both TLS 1.2 and 1.3 when
/// empty) and, when given, only `suites`.
pub fn server_config(
    id: &Identity,
    versions: &[&'static SupportedProtocolVersion],
    suites: Option<Vec<SupportedCipherSuite>>,
) -> Arc<ServerConfig> {
    Arc::new(pki::server_config(id, versions, suites, None))
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
            .load_private_key(id.key.clone_key())
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
