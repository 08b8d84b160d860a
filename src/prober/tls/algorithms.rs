//! A certificate's key and signature algorithm read from its DER (RFC 5280 section 4.1), for
//! [`crate::report::CertInfo`]: object identifiers of RFC 3279, RFC 4055, RFC 5480, RFC 5758
//! and RFC 8410 compared as DER bytes.

use super::path::{self, expect, SEQUENCE};
use crate::report::{KeyAlgorithm, PublicKey, SignatureAlgorithm};

/// DER of OID 1.2.840.113549.1.1 (PKCS #1), without its last arc.
const PKCS1: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
/// 1.2.840.10045 (ANSI X9.62), followed by `2.1` (id-ecPublicKey) or `4` (signatures).
const X962: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d];
/// id-Ed25519, 1.3.101.112.
const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// id-dsa, 1.2.840.10040.4.1.
const DSA: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
/// 2.16.840.1.101.3.4.2 (NIST hash algorithms), followed by 1, 2, 3 for SHA-256, -384, -512.
const NIST_HASH: &[u8] = &[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];

/// The certificate's key, signature algorithm, and whether it is self-issued; `None` when the
/// DER does not parse.
pub(crate) fn describe(der: &[u8]) -> Option<(PublicKey, SignatureAlgorithm, bool)> {
    let cert = path::parse(der)?;
    let key = public_key(cert.spki);
    let signature = signature_algorithm(cert.signature_algorithm);
    Some((key, signature, cert.issuer == cert.subject))
}

/// SubjectPublicKeyInfo contents to a [`PublicKey`].
fn public_key(spki: &[u8]) -> PublicKey {
    let unknown = PublicKey::default();
    let Some((algorithm, key)) = path::spki_parts(spki) else {
        return unknown;
    };
    if let Some(bits) = path::rsa_bits(algorithm, key) {
        return PublicKey {
            algorithm: KeyAlgorithm::Rsa,
            bits: u32::try_from(bits).unwrap_or(u32::MAX),
        };
    }
    if algorithm.starts_with(ED25519) {
        return PublicKey {
            algorithm: KeyAlgorithm::Ed25519,
            bits: 256,
        };
    }
    if algorithm.starts_with(DSA) {
        return PublicKey {
            algorithm: KeyAlgorithm::Dsa,
            bits: 0,
        };
    }
    let ec = [&[0x06, 0x07][..], X962, &[0x02, 0x01]].concat();
    let Some(curve) = algorithm.strip_prefix(&ec[..]) else {
        return unknown;
    };
    // namedCurve: secp256r1 1.2.840.10045.3.1.7, secp384r1 1.3.132.0.34, secp521r1 1.3.132.0.35.
    let p256 = [&[0x06, 0x08][..], X962, &[0x03, 0x01, 0x07]].concat();
    let bits = match curve {
        c if c == &p256[..] => 256,
        [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22] => 384,
        [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23] => 521,
        _ => 0,
    };
    PublicKey {
        algorithm: KeyAlgorithm::Ecdsa,
        bits,
    }
}

/// signatureAlgorithm contents (an AlgorithmIdentifier's) to a [`SignatureAlgorithm`].
fn signature_algorithm(algorithm: &[u8]) -> SignatureAlgorithm {
    use SignatureAlgorithm as S;
    if let Some(rest) = algorithm.strip_prefix(PKCS1) {
        return match rest.split_first() {
            Some((0x04, _)) => S::Md5Rsa,
            Some((0x05, _)) => S::Sha1Rsa,
            Some((0x0b, _)) => S::Sha256Rsa,
            Some((0x0c, _)) => S::Sha384Rsa,
            Some((0x0d, _)) => S::Sha512Rsa,
            Some((0x0a, params)) => pss(params),
            _ => S::Unknown,
        };
    }
    if algorithm.starts_with(ED25519) {
        return S::Ed25519;
    }
    let sha1 = [&[0x06, 0x07][..], X962, &[0x04, 0x01]].concat();
    if algorithm.starts_with(&sha1) {
        return S::EcdsaSha1;
    }
    let sha2 = [&[0x06, 0x08][..], X962, &[0x04, 0x03]].concat();
    match algorithm.strip_prefix(&sha2[..]).and_then(|r| r.first()) {
        Some(0x02) => S::EcdsaSha256,
        Some(0x03) => S::EcdsaSha384,
        Some(0x04) => S::EcdsaSha512,
        _ => S::Unknown,
    }
}

/// RSASSA-PSS by the hash of its parameters (RFC 4055 section 3.1: `[0] hashAlgorithm`; the
/// default, SHA-1, is no algorithm Go names).
fn pss(params: &[u8]) -> SignatureAlgorithm {
    use SignatureAlgorithm as S;
    let hash = expect(params, SEQUENCE)
        .and_then(|(fields, _)| expect(fields, 0xa0))
        .and_then(|(hash, _)| expect(hash, SEQUENCE))
        .and_then(|(oid, _)| oid.strip_prefix(NIST_HASH).and_then(|r| r.first().copied()));
    match hash {
        Some(0x01) => S::Sha256RsaPss,
        Some(0x02) => S::Sha384RsaPss,
        Some(0x03) => S::Sha512RsaPss,
        _ => S::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_algorithms_by_oid() {
        use SignatureAlgorithm as S;
        let null = [0x05, 0x00];
        assert_eq!(
            signature_algorithm(&[PKCS1, &[0x05], &null].concat()),
            S::Sha1Rsa
        );
        assert_eq!(
            signature_algorithm(&[PKCS1, &[0x0b], &null].concat()),
            S::Sha256Rsa
        );
        let sha384 = [NIST_HASH, &[0x02, 0x05, 0x00]].concat();
        let hash = [&[0x30, sha384.len() as u8][..], &sha384].concat();
        let explicit = [&[0xa0, hash.len() as u8][..], &hash].concat();
        let params = [&[0x30, explicit.len() as u8][..], &explicit].concat();
        assert_eq!(
            signature_algorithm(&[PKCS1, &[0x0a], &params].concat()),
            S::Sha384RsaPss
        );
        let ecdsa256 = [&[0x06, 0x08][..], X962, &[0x04, 0x03, 0x02]].concat();
        assert_eq!(signature_algorithm(&ecdsa256), S::EcdsaSha256);
        assert_eq!(signature_algorithm(ED25519), S::Ed25519);
        assert_eq!(signature_algorithm(&[0x06, 0x01, 0x00]), S::Unknown);
    }
}
