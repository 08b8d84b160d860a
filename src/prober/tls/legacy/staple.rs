//! The OCSP response an OpenSSL session received stapled (requested with
//! SSL_set_tlsext_status_type(3)), judged as on the rustls stack (see [`super::super::ocsp`]).
//! The possible issuers are the certificates the server presented and those of the chain
//! OpenSSL verified (which ends with the trust anchor).

use openssl::ssl::SslRef;

use super::super::ocsp::{self, Candidate};
use crate::report::OcspStaple;

/// The judged staple of `ssl` after its handshake; `None` when the server stapled none.
pub(super) fn judge(ssl: &SslRef) -> Option<OcspStaple> {
    let staple = ssl.ocsp_status().filter(|s| !s.is_empty())?;
    let der = |chain: Option<&openssl::stack::StackRef<openssl::x509::X509>>| {
        chain
            .into_iter()
            .flatten()
            .filter_map(|c| c.to_der().ok())
            .collect::<Vec<_>>()
    };
    let presented = der(ssl.peer_cert_chain());
    let leaf = presented.first()?;
    let verified = der(ssl.verified_chain());
    let candidates = presented[1..]
        .iter()
        .chain(&verified)
        .filter_map(|c| Candidate::from_der(c));
    let algorithms =
        rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Some(ocsp::judge(staple, leaf, candidates, &algorithms, now))
}
