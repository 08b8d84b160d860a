//! Revocation facts and the revoked verdict, independent of the TLS stack and of the source
//! of the evidence: a CRL entry (RFC 5280 section 5) here, a stapled OCSP response (RFC 6960)
//! fed through the same [`revocation_failure`].

use std::time::Duration;

use super::{CertInfo, Failure, FailureClass, Phase, TlsFacts};

/// Why a certificate's CRL could not be used (`probe_ssl_crl_available` 0); the step log says
/// it in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrlUnavailable {
    /// The certificate names no CRL distribution point with an `http://` URL.
    NoDistributionPoint,
    /// The URL's host is refused by the module's `restrictions`: nothing was fetched.
    Denied,
    /// The fetch did not complete: no connection, a reset, a bad HTTP answer, or the fetch
    /// deadline passed.
    FetchFailed,
    /// The body exceeded the size bound (`prober::tls::crl::MAX_CRL_BYTES`).
    TooLarge,
    /// The body is not a DER CRL (RFC 5280 section 5.1).
    Unparsable,
    /// No issuer certificate to check the signature with: not in the chain, nor in the
    /// module's `ca_file`/`ca`.
    NoIssuer,
    /// The signature does not verify with the issuer's key: the CRL is not trusted.
    BadSignature,
}

impl CrlUnavailable {
    /// A short phrase for the step log.
    pub fn as_str(self) -> &'static str {
        match self {
            CrlUnavailable::NoDistributionPoint => "no http:// CRL distribution point",
            CrlUnavailable::Denied => "CRL address refused by the restrictions",
            CrlUnavailable::FetchFailed => "CRL fetch failed",
            CrlUnavailable::TooLarge => "CRL larger than the size bound",
            CrlUnavailable::Unparsable => "CRL does not parse",
            CrlUnavailable::NoIssuer => "no issuer certificate to verify the CRL with",
            CrlUnavailable::BadSignature => "CRL signature does not verify with the issuer's key",
        }
    }
}

/// The CRL check of one presented certificate, as blackbox_exporter's `CRLCertResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlCertResult {
    /// Position in the presented chain, 0 is the leaf.
    pub chain_pos: usize,
    /// The certificate's label values (fingerprint, subject, issuer, SANs, serial).
    pub cert: CertInfo,
    /// The distribution point used: the one that answered, else the last one tried; empty
    /// when the certificate names none.
    pub crl_url: String,
    /// A CRL was fetched (or cached), parsed and its signature verified.
    pub available: bool,
    /// The certificate's serial is on that CRL.
    pub revoked: bool,
    /// The CRL's nextUpdate is in the past.
    pub stale: bool,
    /// The CRL's nextUpdate, unix seconds; `None` without an available CRL or nextUpdate.
    pub next_update: Option<i64>,
    /// Time spent fetching for this certificate (zero when answered from the cache).
    pub fetch_time: Duration,
    /// Why no CRL was available; `None` when one was.
    pub unavailable: Option<CrlUnavailable>,
}

/// Where a revoked verdict came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationSource {
    /// An entry of a CRL whose signature verified.
    Crl,
    /// A stapled OCSP response with status revoked whose signature verified.
    Ocsp,
}

/// One piece of evidence that a presented certificate is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revoked {
    /// Position in the presented chain, 0 is the leaf.
    pub chain_pos: usize,
    /// The evidence's source.
    pub source: RevocationSource,
}

impl CrlCertResult {
    /// This result as revocation evidence, when its certificate is revoked.
    pub fn revoked(&self) -> Option<Revoked> {
        self.revoked.then_some(Revoked {
            chain_pos: self.chain_pos,
            source: RevocationSource::Crl,
        })
    }
}

impl TlsFacts {
    /// Every piece of evidence that a presented certificate is revoked: the CRL entries found
    /// (`tls_config.crl_check`), then a verified stapled OCSP response saying the leaf is
    /// revoked (RFC 6960 section 4.2.1). Empty when neither says so.
    pub fn revocation_evidence(&self) -> impl Iterator<Item = Revoked> + '_ {
        let staple = self.ocsp_revoked().then_some(Revoked {
            chain_pos: 0,
            source: RevocationSource::Ocsp,
        });
        self.crl
            .iter()
            .filter_map(CrlCertResult::revoked)
            .chain(staple)
    }
}

/// The probe's failure for revocation evidence: phase `tls`, class `tls_cert_revoked`, when
/// the module fails on revocation (`tcp.fail_if_revoked`) and some certificate is revoked;
/// `None` otherwise (revocation alone is only reported, as blackbox_exporter does).
pub fn revocation_failure(
    fail_if_revoked: bool,
    evidence: impl IntoIterator<Item = Revoked>,
) -> Option<Failure> {
    let mut evidence = evidence.into_iter();
    (fail_if_revoked && evidence.next().is_some())
        .then(|| Failure::bare(Phase::Tls, FailureClass::TlsCertRevoked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_fails_only_with_the_key() {
        let leaf = Revoked {
            chain_pos: 0,
            source: RevocationSource::Crl,
        };
        assert_eq!(revocation_failure(false, [leaf]), None);
        assert_eq!(revocation_failure(true, []), None);
        let failure = revocation_failure(true, [leaf]).unwrap();
        assert_eq!(
            (failure.phase, failure.class),
            (Phase::Tls, FailureClass::TlsCertRevoked)
        );
    }
}
