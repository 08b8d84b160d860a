//! What a presented certificate is made of, beyond its names and dates: its key and the
//! algorithm it was signed with, as Go's crypto/x509 names them (`PublicKeyAlgorithm.String()`,
//! `SignatureAlgorithm.String()`), so the `probe_ssl_cert_info` labels read as in Go tools.

use std::fmt;

/// The algorithm of a certificate's subject public key (RFC 5280 section 4.1.2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyAlgorithm {
    /// An algorithm this exporter does not name.
    #[default]
    Unknown,
    /// rsaEncryption, RFC 8017.
    Rsa,
    /// id-ecPublicKey, RFC 5480.
    Ecdsa,
    /// id-Ed25519, RFC 8410.
    Ed25519,
    /// id-dsa, RFC 3279.
    Dsa,
}

impl KeyAlgorithm {
    /// The `key_type` label value: `RSA`, `ECDSA`, `Ed25519`, `DSA` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Unknown => "unknown",
            KeyAlgorithm::Rsa => "RSA",
            KeyAlgorithm::Ecdsa => "ECDSA",
            KeyAlgorithm::Ed25519 => "Ed25519",
            KeyAlgorithm::Dsa => "DSA",
        }
    }
}

/// The algorithm a certificate's issuer signed it with (RFC 5280 section 4.1.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SignatureAlgorithm {
    /// An algorithm this exporter does not name.
    #[default]
    Unknown,
    /// md5WithRSAEncryption (RFC 3279): broken (RFC 6151).
    Md5Rsa,
    /// sha1WithRSAEncryption (RFC 3279): deprecated (RFC 9155).
    Sha1Rsa,
    /// sha256WithRSAEncryption (RFC 4055).
    Sha256Rsa,
    /// sha384WithRSAEncryption.
    Sha384Rsa,
    /// sha512WithRSAEncryption.
    Sha512Rsa,
    /// RSASSA-PSS with SHA-256 (RFC 4055).
    Sha256RsaPss,
    /// RSASSA-PSS with SHA-384.
    Sha384RsaPss,
    /// RSASSA-PSS with SHA-512.
    Sha512RsaPss,
    /// ecdsa-with-SHA1 (RFC 3279): deprecated.
    EcdsaSha1,
    /// ecdsa-with-SHA256 (RFC 5758).
    EcdsaSha256,
    /// ecdsa-with-SHA384.
    EcdsaSha384,
    /// ecdsa-with-SHA512.
    EcdsaSha512,
    /// Ed25519 (RFC 8410).
    Ed25519,
}

impl SignatureAlgorithm {
    /// The `signature_algorithm` label value, Go's name (`SHA256-RSA`, `ECDSA-SHA256`, ...),
    /// or `unknown`.
    pub fn as_str(self) -> &'static str {
        use SignatureAlgorithm as S;
        match self {
            S::Unknown => "unknown",
            S::Md5Rsa => "MD5-RSA",
            S::Sha1Rsa => "SHA1-RSA",
            S::Sha256Rsa => "SHA256-RSA",
            S::Sha384Rsa => "SHA384-RSA",
            S::Sha512Rsa => "SHA512-RSA",
            S::Sha256RsaPss => "SHA256-RSAPSS",
            S::Sha384RsaPss => "SHA384-RSAPSS",
            S::Sha512RsaPss => "SHA512-RSAPSS",
            S::EcdsaSha1 => "ECDSA-SHA1",
            S::EcdsaSha256 => "ECDSA-SHA256",
            S::EcdsaSha384 => "ECDSA-SHA384",
            S::EcdsaSha512 => "ECDSA-SHA512",
            S::Ed25519 => "Ed25519",
        }
    }

    /// True for MD5 and SHA-1 signatures, which collisions make forgeable (RFC 6151, RFC 9155).
    pub fn is_weak(self) -> bool {
        matches!(
            self,
            SignatureAlgorithm::Md5Rsa
                | SignatureAlgorithm::Sha1Rsa
                | SignatureAlgorithm::EcdsaSha1
        )
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RSA keys under this many bits are weak (NIST SP 800-131A rev. 2).
pub const MIN_RSA_BITS: u32 = 2048;

/// A certificate's subject public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PublicKey {
    /// Its algorithm.
    pub algorithm: KeyAlgorithm,
    /// Its size in bits: the RSA modulus length, the curve's size for ECDSA (256, 384, 521),
    /// 256 for Ed25519; 0 when unknown.
    pub bits: u32,
}

impl PublicKey {
    /// True for an RSA key under [`MIN_RSA_BITS`].
    pub fn is_weak(self) -> bool {
        self.algorithm == KeyAlgorithm::Rsa && self.bits < MIN_RSA_BITS
    }
}
