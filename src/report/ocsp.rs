//! The OCSP response a server stapled to its certificate (RFC 6066 section 8 in TLS 1.2, the
//! leaf's `status_request` extension in TLS 1.3, RFC 8446 section 4.4.2.1), as the prober
//! judged it: the same value from either TLS stack.

use std::fmt;

/// A stapled OCSP response (RFC 6960 section 4.2), checked before anything in it is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspStaple {
    /// Signed by the leaf's issuer, or by a responder certificate the issuer signed with the
    /// id-kp-OCSPSigning extended key usage (RFC 6960 section 4.2.2.2), and about the leaf
    /// (its CertID, section 4.1.1).
    Verified(OcspFacts),
    /// Not to be trusted, for this reason: none of its content is reported.
    Rejected(OcspProblem),
}

impl OcspStaple {
    /// True when the staple verified and says the leaf is revoked.
    pub fn revoked(&self) -> bool {
        matches!(self, OcspStaple::Verified(facts) if facts.revoked())
    }
}

/// What a verified staple says about the leaf; times are unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcspFacts {
    /// The certStatus of the leaf's SingleResponse.
    pub status: OcspStatus,
    /// producedAt: when the responder signed the response.
    pub produced_at: i64,
    /// thisUpdate: the time at which the status was known to be correct.
    pub this_update: i64,
    /// nextUpdate: when newer information will be available; `None` when the responder gave
    /// none (RFC 6960 section 4.2.2.1: newer information is always available).
    pub next_update: Option<i64>,
    /// revocationTime, for a revoked leaf.
    pub revoked_at: Option<i64>,
}

impl OcspFacts {
    /// True when the responder says the leaf is revoked.
    pub fn revoked(&self) -> bool {
        self.status == OcspStatus::Revoked
    }
}

/// A certStatus (RFC 6960 section 4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspStatus {
    /// The certificate is not revoked.
    Good,
    /// The certificate is revoked, permanently or on hold.
    Revoked,
    /// The responder does not know the certificate.
    Unknown,
}

impl OcspStatus {
    /// `good`, `revoked` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            OcspStatus::Good => "good",
            OcspStatus::Revoked => "revoked",
            OcspStatus::Unknown => "unknown",
        }
    }

    /// The value of `probe_ssl_ocsp_response_status`: 0 good, 1 revoked, 2 unknown, the
    /// numbers of ssl_exporter's `ssl_ocsp_response_status` (Go's `ocsp.Good`, `ocsp.Revoked`,
    /// `ocsp.Unknown`).
    pub fn value(self) -> i64 {
        match self {
            OcspStatus::Good => 0,
            OcspStatus::Revoked => 1,
            OcspStatus::Unknown => 2,
        }
    }
}

impl fmt::Display for OcspStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a stapled response is not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspProblem {
    /// Larger than the bound the prober reads (`MAX_STAPLE_BYTES`).
    TooLarge,
    /// Not a DER OCSPResponse holding a BasicOCSPResponse (RFC 6960 section 4.2.1).
    Malformed,
    /// Its responseStatus is not `successful` (malformedRequest, internalError, tryLater,
    /// sigRequired or unauthorized): it carries no status.
    Unsuccessful,
    /// The leaf's issuer is neither among the presented certificates nor a trust anchor, so
    /// neither the CertID nor the signature can be checked.
    IssuerUnknown,
    /// No SingleResponse names the leaf (serial number, issuer name and key hashes).
    NotForLeaf,
    /// Neither the issuer's key nor that of an authorised responder verifies the signature
    /// (a wrong key, a responder without the OCSP-signing usage or outside its validity, or a
    /// signature algorithm the verifier does not accept).
    BadSignature,
}

impl OcspProblem {
    /// The reason in snake case, for the probe log.
    pub fn as_str(self) -> &'static str {
        match self {
            OcspProblem::TooLarge => "too_large",
            OcspProblem::Malformed => "malformed",
            OcspProblem::Unsuccessful => "unsuccessful",
            OcspProblem::IssuerUnknown => "issuer_unknown",
            OcspProblem::NotForLeaf => "not_for_leaf",
            OcspProblem::BadSignature => "bad_signature",
        }
    }
}

impl fmt::Display for OcspProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
