//! A server certificate verifier that writes down the presented chain before deciding, so an
//! expired or untrusted certificate still yields its facts (`probe_ssl_earliest_cert_expiry` is
//! emitted also when verification fails).

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

use super::cert_info::cert_info;
use super::pinned::Pinned;
use crate::report::CertInfo;

/// How the chain is judged.
#[derive(Debug)]
pub(crate) enum Trust {
    /// rustls' WebPKI path building and name check against these roots, except for a leaf
    /// that is one of the pinned certificates (see [`Pinned`]).
    WebPki(Arc<WebPkiServerVerifier>, Pinned),
    /// No trust anchor at all (no system roots, no `ca_file`): every chain is `UnknownIssuer`.
    NoAnchors,
    /// `insecure_skip_verify`: every chain is accepted. Handshake signatures are still checked,
    /// so the peer must hold the key of the certificate it presented.
    SkipVerify,
}

/// Wraps the WebPKI verifier of one probe and keeps the chain it was shown.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    trust: Trust,
    algorithms: WebPkiSupportedAlgorithms,
    chain: Mutex<Vec<CertInfo>>,
}

impl RecordingVerifier {
    /// A verifier judging with `trust`, checking handshake signatures with `algorithms` (the
    /// crypto provider's `signature_verification_algorithms`).
    pub(crate) fn new(trust: Trust, algorithms: WebPkiSupportedAlgorithms) -> Self {
        RecordingVerifier {
            trust,
            algorithms,
            chain: Mutex::new(Vec::new()),
        }
    }

    /// The chain the server presented (leaf first, certificates that do not parse left out);
    /// empty when no Certificate message arrived. Leaves the verifier's copy empty.
    pub(crate) fn take_chain(&self) -> Vec<CertInfo> {
        let mut chain = self.chain.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *chain)
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let presented: Vec<CertInfo> = std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(|der| cert_info(der))
            .collect();
        *self.chain.lock().unwrap_or_else(|p| p.into_inner()) = presented;
        match &self.trust {
            Trust::WebPki(inner, pinned) => pinned
                .verify(end_entity, server_name, now)
                .unwrap_or_else(|| {
                    inner.verify_server_cert(
                        end_entity,
                        intermediates,
                        server_name,
                        ocsp_response,
                        now,
                    )
                }),
            Trust::NoAnchors => Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            Trust::SkipVerify => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
