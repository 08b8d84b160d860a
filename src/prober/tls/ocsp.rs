//! The OCSP response a server staples to its certificate, judged the same way for both TLS
//! stacks: parsed (RFC 6960 section 4.2.1, with RustCrypto's `x509-ocsp`), matched to the leaf
//! by its CertID (section 4.1.1), and believed only when its signature verifies with the key of
//! the leaf's issuer or of a responder certificate the issuer signed for OCSP signing (section
//! 4.2.2.2). Signatures are checked with the algorithms the handshake verifier accepts.
//!
//! Work and memory are bounded: a staple over [`MAX_STAPLE_BYTES`] is not parsed (rustls reads
//! no handshake message over 64 KiB, so on that stack the bound is the record layer's), at most
//! [`MAX_RESPONDER_CERTS`] included certificates are tried as responders, and what is kept is a
//! few integers ([`OcspStaple`]). Nothing runs when no staple arrived.

use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::TrustAnchor;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::oid::AssociatedOid;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::Certificate;
use x509_ocsp::{BasicOcspResponse, CertStatus, OcspResponse, OcspResponseStatus, SingleResponse};

use super::cert_info::utc_string;
use super::path::{self, expect, SEQUENCE};
use crate::report::{OcspFacts, OcspProblem, OcspStaple, OcspStatus, StepLog};

/// Largest staple parsed, in bytes: rustls' limit on one handshake message (0xffff), applied
/// to the OpenSSL stack too. A larger staple is [`OcspProblem::TooLarge`].
pub(crate) const MAX_STAPLE_BYTES: usize = 0xffff;

/// Certificates of a response tried as its delegated responder; the rest are ignored.
pub(crate) const MAX_RESPONDER_CERTS: usize = 4;

/// id-sha1, RFC 3279 section 2.2.1 (the CertID hash of most responders, `openssl ocsp`'s
/// default).
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// id-sha256, id-sha384, id-sha512 (RFC 5754 section 2).
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// id-ce-extKeyUsage, RFC 5280 section 4.2.1.12.
const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// id-kp-OCSPSigning, RFC 6960 section 4.2.2.2.
const OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");

/// A certificate that may have issued the leaf: its subject and SubjectPublicKeyInfo as the
/// contents of their SEQUENCE (the form of a webpki [`TrustAnchor`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate<'a> {
    subject: &'a [u8],
    spki: &'a [u8],
}

impl<'a> Candidate<'a> {
    /// A presented (or otherwise known) DER certificate; `None` when it does not parse.
    pub(crate) fn from_der(der: &'a [u8]) -> Option<Self> {
        let cert = path::parse(der)?;
        Some(Candidate {
            subject: cert.subject,
            spki: cert.spki,
        })
    }

    /// A trust anchor.
    pub(crate) fn from_anchor(anchor: &'a TrustAnchor<'_>) -> Self {
        Candidate {
            subject: anchor.subject.as_ref(),
            spki: anchor.subject_public_key_info.as_ref(),
        }
    }
}

/// The parts of a signed DER structure (a Certificate, a BasicOCSPResponse): the signed TLV,
/// the signature algorithm's contents, and the signature's bits.
struct Signed<'a> {
    tbs: &'a [u8],
    algorithm: &'a [u8],
    signature: &'a [u8],
}

/// Judges `staple`, stapled with the DER certificate `leaf`; `candidates` are the certificates
/// that may have issued it (the presented ones, the trust anchors), `now` is unix seconds.
pub(crate) fn judge<'a>(
    staple: &[u8],
    leaf: &[u8],
    candidates: impl IntoIterator<Item = Candidate<'a>>,
    algorithms: &WebPkiSupportedAlgorithms,
    now: i64,
) -> OcspStaple {
    match verify(staple, leaf, candidates, algorithms, now) {
        Ok(facts) => OcspStaple::Verified(facts),
        Err(problem) => OcspStaple::Rejected(problem),
    }
}

fn verify<'a>(
    staple: &[u8],
    leaf: &[u8],
    candidates: impl IntoIterator<Item = Candidate<'a>>,
    algorithms: &WebPkiSupportedAlgorithms,
    now: i64,
) -> Result<OcspFacts, OcspProblem> {
    if staple.len() > MAX_STAPLE_BYTES {
        return Err(OcspProblem::TooLarge);
    }
    let response = OcspResponse::from_der(staple).map_err(|_| OcspProblem::Malformed)?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(OcspProblem::Unsuccessful);
    }
    let bytes = response.response_bytes.ok_or(OcspProblem::Malformed)?;
    if bytes.response_type != BasicOcspResponse::OID {
        return Err(OcspProblem::Malformed);
    }
    let basic_der = bytes.response.as_bytes();
    let basic = BasicOcspResponse::from_der(basic_der).map_err(|_| OcspProblem::Malformed)?;
    let basic_signed = signed_parts(basic_der).ok_or(OcspProblem::Malformed)?;
    let leaf_cert = Certificate::from_der(leaf).map_err(|_| OcspProblem::IssuerUnknown)?;
    let issuer = issuer_of(leaf, candidates, algorithms).ok_or(OcspProblem::IssuerUnknown)?;
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|single| names_leaf(single, &leaf_cert, issuer))
        .ok_or(OcspProblem::NotForLeaf)?;
    let by_issuer = signed_by(algorithms, issuer.spki, &basic_signed);
    let by_responder = || {
        basic
            .certs
            .iter()
            .flatten()
            .take(MAX_RESPONDER_CERTS)
            .any(|cert| {
                authorised_responder(cert, issuer, algorithms, now)
                    .is_some_and(|spki| signed_by(algorithms, &spki, &basic_signed))
            })
    };
    if !(by_issuer || by_responder()) {
        return Err(OcspProblem::BadSignature);
    }
    Ok(facts(&basic, single))
}

/// The candidate whose subject is the leaf's issuer name and whose key verifies the leaf's
/// signature.
fn issuer_of<'a>(
    leaf: &[u8],
    candidates: impl IntoIterator<Item = Candidate<'a>>,
    algorithms: &WebPkiSupportedAlgorithms,
) -> Option<Candidate<'a>> {
    let parsed = path::parse(leaf)?;
    let signed = signed_parts(leaf)?;
    candidates
        .into_iter()
        .find(|c| c.subject == parsed.issuer && signed_by(algorithms, c.spki, &signed))
}

/// Whether `single`'s CertID names `leaf` as issued by `issuer`: the serial number, the hash of
/// the issuer's name and the hash of its key's bits (RFC 6960 section 4.1.1).
fn names_leaf(single: &SingleResponse, leaf: &Certificate, issuer: Candidate<'_>) -> bool {
    let id = &single.cert_id;
    if id.serial_number != leaf.tbs_certificate.serial_number {
        return false;
    }
    let Ok(name) = leaf.tbs_certificate.issuer.to_der() else {
        return false;
    };
    let Some((_, key)) = path::spki_parts(issuer.spki) else {
        return false;
    };
    let algorithm = &id.hash_algorithm.oid;
    digest(algorithm, &name).is_some_and(|h| h == id.issuer_name_hash.as_bytes())
        && digest(algorithm, key).is_some_and(|h| h == id.issuer_key_hash.as_bytes())
}

/// `data` hashed with the CertID hash algorithm `algorithm`; `None` for one not supported.
fn digest(algorithm: &ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    Some(match *algorithm {
        SHA1 => sha1::Sha1::digest(data).to_vec(),
        SHA256 => Sha256::digest(data).to_vec(),
        SHA384 => Sha384::digest(data).to_vec(),
        SHA512 => Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

/// The SubjectPublicKeyInfo contents of `cert` when it may sign responses for `issuer`'s
/// certificates: issued and signed by `issuer`, with the id-kp-OCSPSigning usage, valid at
/// `now` (RFC 6960 section 4.2.2.2).
fn authorised_responder(
    cert: &Certificate,
    issuer: Candidate<'_>,
    algorithms: &WebPkiSupportedAlgorithms,
    now: i64,
) -> Option<Vec<u8>> {
    let tbs = &cert.tbs_certificate;
    let ocsp_signing = tbs.extensions.iter().flatten().any(|ext| {
        ext.extn_id == EXT_KEY_USAGE
            && ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
                .is_ok_and(|usage| usage.0.contains(&OCSP_SIGNING))
    });
    let seconds = |t: x509_cert::time::Time| t.to_unix_duration().as_secs();
    let now = u64::try_from(now).ok()?;
    let valid = seconds(tbs.validity.not_before) <= now && now <= seconds(tbs.validity.not_after);
    if !(ocsp_signing && valid) {
        return None;
    }
    let der = cert.to_der().ok()?;
    let parsed = path::parse(&der)?;
    let signed = signed_parts(&der)?;
    (parsed.issuer == issuer.subject && signed_by(algorithms, issuer.spki, &signed))
        .then(|| parsed.spki.to_vec())
}

/// Whether the key `spki` (SubjectPublicKeyInfo contents) made `signed`'s signature, with one
/// of `algorithms` (webpki's rule: the key's and the signature's algorithm identifiers match).
fn signed_by(algorithms: &WebPkiSupportedAlgorithms, spki: &[u8], signed: &Signed<'_>) -> bool {
    let Some((key_algorithm, key)) = path::spki_parts(spki) else {
        return false;
    };
    algorithms.all.iter().any(|alg| {
        alg.signature_alg_id().as_ref() == signed.algorithm
            && alg.public_key_alg_id().as_ref() == key_algorithm
            && alg
                .verify_signature(key, signed.tbs, signed.signature)
                .is_ok()
    })
}

/// `SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING, ... }` split into its signed parts.
fn signed_parts(der: &[u8]) -> Option<Signed<'_>> {
    const BIT_STRING: u8 = 0x03;
    let (outer, _) = expect(der, SEQUENCE)?;
    let (_, rest) = expect(outer, SEQUENCE)?;
    let tbs = &outer[..outer.len() - rest.len()];
    let (algorithm, rest) = expect(rest, SEQUENCE)?;
    let (bits, _) = expect(rest, BIT_STRING)?;
    // Unused-bits octet first: always 0 for a signature.
    let (0, signature) = bits.split_first()? else {
        return None;
    };
    Some(Signed {
        tbs,
        algorithm,
        signature,
    })
}

/// What the verified response says about the leaf.
fn facts(basic: &BasicOcspResponse, single: &SingleResponse) -> OcspFacts {
    let seconds = |t: &x509_ocsp::OcspGeneralizedTime| {
        i64::try_from(t.0.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
    };
    let (status, revoked_at) = match &single.cert_status {
        CertStatus::Good(_) => (OcspStatus::Good, None),
        CertStatus::Revoked(info) => (OcspStatus::Revoked, Some(seconds(&info.revocation_time))),
        CertStatus::Unknown(_) => (OcspStatus::Unknown, None),
    };
    OcspFacts {
        status,
        produced_at: seconds(&basic.tbs_response_data.produced_at),
        this_update: seconds(&single.this_update),
        next_update: single.next_update.as_ref().map(seconds),
        revoked_at,
    }
}

/// Logs what the staple said, or why it is not believed; nothing when none arrived.
pub(crate) fn note(staple: Option<&OcspStaple>, log: &mut StepLog) {
    match staple {
        None => {}
        Some(OcspStaple::Rejected(problem)) => log.note(format!(
            "tls: stapled OCSP response not believed ({problem}): its status is not reported"
        )),
        Some(OcspStaple::Verified(facts)) => {
            let next = facts
                .next_update
                .map_or_else(|| "none".to_string(), utc_string);
            let revoked = facts
                .revoked_at
                .map_or_else(String::new, |t| format!(", revoked {}", utc_string(t)));
            log.note(format!(
                "tls: stapled OCSP response verified: {}{revoked}, produced {}, this update {}, next update {next}",
                facts.status,
                utc_string(facts.produced_at),
                utc_string(facts.this_update),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn algorithms() -> WebPkiSupportedAlgorithms {
        rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms
    }

    /// A staple over the bound is refused before any parsing; garbage under it is malformed.
    #[test]
    fn size_bound_and_garbage() {
        let leaf = [0u8; 4];
        let big = vec![0x30; MAX_STAPLE_BYTES + 1];
        assert_eq!(
            judge(&big, &leaf, [], &algorithms(), 0),
            OcspStaple::Rejected(OcspProblem::TooLarge)
        );
        let garbage = vec![0x30; MAX_STAPLE_BYTES];
        assert_eq!(
            judge(&garbage, &leaf, [], &algorithms(), 0),
            OcspStaple::Rejected(OcspProblem::Malformed)
        );
    }

    /// `OCSPResponse { responseStatus tryLater (3) }`: no status to believe.
    #[test]
    fn try_later_is_unsuccessful() {
        let try_later = [0x30, 0x03, 0x0a, 0x01, 0x03];
        assert_eq!(
            judge(&try_later, &[], [], &algorithms(), 0),
            OcspStaple::Rejected(OcspProblem::Unsuccessful)
        );
    }
}
