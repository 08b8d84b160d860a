//! Whether a presented chain reaches a trust anchor at all, looked at without the checks that
//! make a certificate unusable once a path exists (CA flag of the leaf, key usages, path length,
//! dates). A rejected chain is `tls_cert_untrusted` only when no such path exists; see
//! [`super::evidence`].
//!
//! A link from a certificate to its issuer holds when the issuer's subject is the certificate's
//! issuer name (byte for byte, as RFC 5280 section 7.1 lets verifiers compare DER names) and the
//! issuer's key verifies the certificate's signature (RFC 5280 section 6.1.3 (a)(1)), with the
//! algorithms the handshake verifier accepts. A link whose signer is an RSA key under 2048 bits,
//! or whose signature is SHA-1 or MD5, cannot be checked with those algorithms (the verifier
//! refuses them): it is taken on its names alone and marks the path weak.
//!
//! Work is bounded: each presented certificate is tried at most once as a node, and paths are at
//! most [`MAX_DEPTH`] intermediates long; the search runs only after a chain was rejected.

use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, TrustAnchor};

use crate::report::CertWeakness;

/// Longest path searched, in intermediates (webpki stops at 6 as well).
const MAX_DEPTH: usize = 6;

/// RSA keys shorter than this are weak (NIST SP 800-131A rev. 2).
const MIN_RSA_BITS: usize = 2048;

/// How a presented chain stands to the trust anchors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// No path from the leaf leads to an anchor.
    None,
    /// A path whose every signature verifies leads to an anchor.
    Anchor,
    /// The only paths to an anchor go through a weak key or signature algorithm.
    Weak(CertWeakness),
}

/// The parts of a DER certificate (RFC 5280 section 4.1) a link needs. Names and the key are
/// the contents of their SEQUENCE, as webpki keeps them in a [`TrustAnchor`].
pub(super) struct Parsed<'a> {
    tbs: &'a [u8],
    pub signature_algorithm: &'a [u8],
    signature: &'a [u8],
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    pub spki: &'a [u8],
}

/// Searches for a path from `end_entity` through `intermediates` (in any order) to one of
/// `anchors`. A pinned leaf is not looked at here: its caller knows it is trusted.
pub(crate) fn reach(
    algorithms: &WebPkiSupportedAlgorithms,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    anchors: &[TrustAnchor<'_>],
) -> Reach {
    let Some(leaf) = parse(end_entity) else {
        return Reach::None;
    };
    let parsed: Vec<Parsed<'_>> = intermediates.iter().filter_map(|c| parse(c)).collect();
    let search = Search {
        algorithms,
        intermediates: &parsed,
        anchors,
    };
    if search.finds(&leaf, false).is_some() {
        return Reach::Anchor;
    }
    match search.finds(&leaf, true) {
        Some(Some(weakness)) => Reach::Weak(weakness),
        Some(None) => Reach::Anchor,
        None => Reach::None,
    }
}

/// One search over a presented chain.
struct Search<'s, 'a> {
    algorithms: &'s WebPkiSupportedAlgorithms,
    intermediates: &'s [Parsed<'a>],
    anchors: &'s [TrustAnchor<'s>],
}

impl Search<'_, '_> {
    /// Breadth first from `leaf`: `Some` when an anchor is reached, with the first weakness met
    /// on the way (`Some(None)`: none). Weak links are followed only when `weak_links`.
    fn finds(&self, leaf: &Parsed<'_>, weak_links: bool) -> Option<Option<CertWeakness>> {
        let mut used = vec![false; self.intermediates.len()];
        let mut level: Vec<(&Parsed<'_>, Option<CertWeakness>)> = vec![(leaf, None)];
        for _ in 0..=MAX_DEPTH {
            let mut next = Vec::new();
            for (cert, weak) in level {
                for anchor in self.anchors {
                    if anchor.subject.as_ref() == cert.issuer {
                        match self.link(cert, anchor.subject_public_key_info.as_ref()) {
                            Link::Good => return Some(weak),
                            Link::Weak(w) if weak_links => return Some(weak.or(Some(w))),
                            _ => {}
                        }
                    }
                }
                for (i, issuer) in self.intermediates.iter().enumerate() {
                    if used[i] || issuer.subject != cert.issuer {
                        continue;
                    }
                    match self.link(cert, issuer.spki) {
                        Link::Good => next.push((issuer, weak)),
                        Link::Weak(w) if weak_links => next.push((issuer, weak.or(Some(w)))),
                        _ => continue,
                    }
                    used[i] = true;
                }
            }
            if next.is_empty() {
                return None;
            }
            level = next;
        }
        None
    }

    /// Whether the key `spki` (SubjectPublicKeyInfo contents) signed `cert`.
    fn link(&self, cert: &Parsed<'_>, spki: &[u8]) -> Link {
        let Some((key_algorithm, key)) = spki_parts(spki) else {
            return Link::None;
        };
        if rsa_bits(key_algorithm, key).is_some_and(|bits| bits < MIN_RSA_BITS) {
            return Link::Weak(CertWeakness::RsaKey);
        }
        if weak_signature(cert.signature_algorithm) {
            return Link::Weak(CertWeakness::SignatureAlgorithm);
        }
        let verified = self.algorithms.all.iter().any(|alg| {
            alg.signature_alg_id().as_ref() == cert.signature_algorithm
                && alg.public_key_alg_id().as_ref() == key_algorithm
                && alg.verify_signature(key, cert.tbs, cert.signature).is_ok()
        });
        if verified {
            Link::Good
        } else {
            Link::None
        }
    }
}

/// What one signature check found.
enum Link {
    None,
    Good,
    Weak(CertWeakness),
}

/// One DER element (X.690 section 8.1) at the start of some input.
struct Element<'a> {
    tag: u8,
    contents: &'a [u8],
    /// Tag, length and contents.
    whole: &'a [u8],
    /// The input after the element.
    rest: &'a [u8],
}

/// The leading DER element of `input` (definite lengths up to 4 bytes).
fn element(input: &[u8]) -> Option<Element<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x84 => {
            let n = usize::from(first - 0x80);
            let bytes = rest.get(..n)?;
            let len = bytes.iter().fold(0usize, |l, &b| (l << 8) | usize::from(b));
            (len, &rest[n..])
        }
        _ => return None,
    };
    let contents = rest.get(..len)?;
    let header = input.len() - rest.len();
    Some(Element {
        tag,
        contents,
        whole: &input[..header + len],
        rest: &rest[len..],
    })
}

/// The contents of the leading element of `input` when its tag is `tag`, and what follows.
pub(super) fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let e = element(input)?;
    (e.tag == tag).then_some((e.contents, e.rest))
}

pub(super) const SEQUENCE: u8 = 0x30;
const BIT_STRING: u8 = 0x03;
const INTEGER: u8 = 0x02;
/// `[0] EXPLICIT Version` of a TBSCertificate.
const VERSION: u8 = 0xa0;

/// The parts of a DER certificate; `None` when it does not parse.
pub(super) fn parse(der: &[u8]) -> Option<Parsed<'_>> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let tbs = element(cert).filter(|e| e.tag == SEQUENCE)?;
    let (signature_algorithm, rest) = expect(tbs.rest, SEQUENCE)?;
    let (signature, _) = expect(rest, BIT_STRING)?;
    let signature = bits(signature)?;
    let mut fields = tbs.contents;
    if let Some(version) = element(fields).filter(|e| e.tag == VERSION) {
        fields = version.rest;
    }
    let (_serial, fields) = expect(fields, INTEGER)?;
    let (_signature, fields) = expect(fields, SEQUENCE)?;
    let (issuer, fields) = expect(fields, SEQUENCE)?;
    let (_validity, fields) = expect(fields, SEQUENCE)?;
    let (subject, fields) = expect(fields, SEQUENCE)?;
    let (spki, _) = expect(fields, SEQUENCE)?;
    Some(Parsed {
        tbs: tbs.whole,
        signature_algorithm,
        signature,
        issuer,
        subject,
        spki,
    })
}

/// A BIT STRING's contents without its unused-bits octet (always 0 for keys and signatures).
fn bits(contents: &[u8]) -> Option<&[u8]> {
    match contents.split_first()? {
        (0, bits) => Some(bits),
        _ => None,
    }
}

/// SubjectPublicKeyInfo contents (RFC 5280 section 4.1.2.7): the algorithm identifier's
/// contents and the key's bits.
pub(super) fn spki_parts(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let (algorithm, rest) = expect(spki, SEQUENCE)?;
    let (key, _) = expect(rest, BIT_STRING)?;
    Some((algorithm, bits(key)?))
}

/// DER of OID 1.2.840.113549.1.1 (PKCS #1), without its last arc.
const PKCS1: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];

/// The modulus length in bits of an rsaEncryption key (RFC 8017 appendix A.1.1), `None` for any
/// other key type.
pub(crate) fn rsa_bits(algorithm: &[u8], key: &[u8]) -> Option<usize> {
    if algorithm.strip_prefix(PKCS1)?.first() != Some(&0x01) {
        return None;
    }
    let (rsa, _) = expect(key, SEQUENCE)?;
    let (modulus, _) = expect(rsa, INTEGER)?;
    let first = modulus.iter().position(|&b| b != 0)?;
    let leading = modulus[first].leading_zeros() as usize;
    Some((modulus.len() - first) * 8 - leading)
}

/// The RSA modulus length in bits of a DER certificate's key; `None` for another key type or
/// a certificate that does not parse.
pub(crate) fn cert_rsa_bits(der: &[u8]) -> Option<usize> {
    let (algorithm, key) = spki_parts(parse(der)?.spki)?;
    rsa_bits(algorithm, key)
}

/// True when a certificate's RSA key is under 2048 bits.
pub(crate) fn weak_rsa_key(der: &[u8]) -> bool {
    cert_rsa_bits(der).is_some_and(|bits| bits < MIN_RSA_BITS)
}

/// md5WithRSAEncryption (1.2.840.113549.1.1.4), sha1WithRSAEncryption (...1.5), and
/// ecdsa-with-SHA1 (1.2.840.10045.4.1), RFC 3279 section 2.2 and RFC 5758.
fn weak_signature(algorithm: &[u8]) -> bool {
    const ECDSA_SHA1: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
    let pkcs1 = algorithm
        .strip_prefix(PKCS1)
        .and_then(|rest| rest.first())
        .is_some_and(|arc| matches!(arc, 0x04 | 0x05));
    pkcs1 || algorithm.starts_with(ECDSA_SHA1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many presented certificates that all claim to issue each other: the search visits each
    /// once and ends without a path; a real chain among them is still found.
    #[test]
    fn a_tangle_of_intermediates_is_searched_once_each() {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let algorithms =
            rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
        let ca = |cn: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(DnType::CommonName, cn);
            p
        };
        let root_key = KeyPair::generate().unwrap();
        let root = ca("root").self_signed(&root_key).unwrap();
        let root_issuer = Issuer::new(ca("root"), root_key);
        let anchors = [webpki::anchor_from_trusted_cert(root.der())
            .unwrap()
            .to_owned()];
        // 40 certificates named "loop", each signed by another "loop" key.
        let keys: Vec<KeyPair> = (0..40).map(|_| KeyPair::generate().unwrap()).collect();
        let tangle: Vec<CertificateDer<'static>> = (0..40)
            .map(|i| {
                let issuer = Issuer::new(ca("loop"), &keys[(i + 1) % 40]);
                ca("loop")
                    .signed_by(&keys[i], &issuer)
                    .unwrap()
                    .der()
                    .clone()
            })
            .collect();
        let leaf_key = KeyPair::generate().unwrap();
        let loop_issuer = Issuer::new(ca("loop"), &keys[0]);
        let leaf = CertificateParams::new(vec!["leaf.test".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &loop_issuer)
            .unwrap();
        assert_eq!(
            reach(&algorithms, leaf.der(), &tangle, &anchors),
            Reach::None
        );
        let bridge_key = &keys[39];
        let bridge = ca("loop").signed_by(bridge_key, &root_issuer).unwrap();
        let mut with_bridge = tangle.clone();
        with_bridge.push(bridge.der().clone());
        // leaf <- loop0 <- loop1 <- ... would be 40 deep; the bridge from loop39's key to the
        // root is past MAX_DEPTH, so this stays unreachable too: paths are bounded.
        assert_eq!(
            reach(&algorithms, leaf.der(), &with_bridge, &anchors),
            Reach::None
        );
        let short = ca("loop").signed_by(&keys[0], &root_issuer).unwrap();
        with_bridge.push(short.der().clone());
        assert_eq!(
            reach(&algorithms, leaf.der(), &with_bridge, &anchors),
            Reach::Anchor
        );
    }

    #[test]
    fn der_lengths_short_long_and_truncated() {
        let short = [0x30, 0x02, 0x05, 0x00, 0xff];
        let e = element(&short).unwrap();
        assert_eq!(e.tag, 0x30);
        assert_eq!(
            (e.contents, e.whole, e.rest),
            (&[5, 0][..], &short[..4], &[0xff][..])
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        assert_eq!(element(&long).unwrap().contents.len(), 0x80);
        assert!(element(&long[..100]).is_none(), "truncated contents");
        assert!(
            element(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none(),
            "5-byte length"
        );
        assert!(element(&[0x30]).is_none());
    }

    #[test]
    fn rsa_modulus_bits() {
        let rsa = [PKCS1, &[0x01, 0x05, 0x00]].concat();
        // RSAPublicKey { n = 0x00 0x80 00 (16 bits, DER sign octet), e = 3 }
        let key = [0x30, 0x08, 0x02, 0x03, 0x00, 0x80, 0x00, 0x02, 0x01, 0x03];
        assert_eq!(rsa_bits(&rsa, &key), Some(16));
        let ec = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
        assert_eq!(rsa_bits(&ec, &key), None);
    }

    #[test]
    fn weak_signature_algorithms() {
        assert!(weak_signature(&[PKCS1, &[0x05, 0x05, 0x00]].concat()));
        assert!(weak_signature(&[PKCS1, &[0x04, 0x05, 0x00]].concat()));
        assert!(
            !weak_signature(&[PKCS1, &[0x0b, 0x05, 0x00]].concat()),
            "sha256"
        );
        let ecdsa_sha256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
        assert!(!weak_signature(&ecdsa_sha256));
    }
}
