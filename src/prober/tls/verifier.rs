//! A server certificate verifier that writes down the presented chain before deciding, so an
//! expired or untrusted certificate still yields its facts (`probe_ssl_earliest_cert_expiry` is
//! emitted also when verification fails), and that keeps the expiry of the chains it verified
//! (`probe_ssl_last_chain_expiry_timestamp_seconds`).
//!
//! One verifier serves every handshake of a module (it sits in the module's shared rustls
//! configuration), so what one handshake reveals goes to that handshake's [`HandshakeRecord`],
//! reached through a tokio task-local set around the handshake ([`with_record`]): rustls calls
//! the verifier synchronously while the handshake future is polled, inside that scope.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

use super::classify::classify_rustls;
use super::evidence::{certificate_class, handshake_signature_class};
use super::ocsp::{self, Candidate};
use super::path::{self, Reach};
use super::pinned::Pinned;
use super::verdicts::Verdicts;
use crate::report::{CertInfo, Detail, FailureClass, OcspStaple};

/// How the chain is judged.
#[derive(Debug)]
pub(crate) enum Trust {
    /// WebPKI path building and name check against a root store, except for a leaf that is one
    /// of the pinned certificates (see [`Pinned`]).
    WebPki(WebPkiTrust),
    /// No trust anchor at all (no system roots, no `ca_file`): every chain is `UnknownIssuer`.
    NoAnchors,
    /// `insecure_skip_verify`: every chain is accepted. Handshake signatures are still checked,
    /// so the peer must hold the key of the certificate it presented.
    SkipVerify,
}

/// What [`Trust::WebPki`] judges with.
#[derive(Debug)]
pub(crate) struct WebPkiTrust {
    /// rustls' verifier over `anchors.roots`: its error says why a chain failed.
    pub verifier: Arc<WebPkiServerVerifier>,
    /// Leaves trusted as they stand.
    pub pinned: Pinned,
    /// The roots, with the notAfter of their certificates.
    pub anchors: Anchors,
}

/// Trust anchors and the notAfter of the certificate each came from (a WebPKI trust anchor
/// keeps only subject, key and name constraints).
#[derive(Debug, Clone)]
pub(crate) struct Anchors {
    /// The root store.
    pub roots: Arc<RootCertStore>,
    /// notAfter (unix seconds) of the root certificate, by the subjectPublicKeyInfo its trust
    /// anchor keeps.
    pub expiries: Arc<HashMap<Vec<u8>, i64>>,
}

/// What one handshake revealed to the shared verifier and client certificate resolver.
#[derive(Debug, Default)]
pub(crate) struct HandshakeRecord {
    chain: Mutex<Vec<CertInfo>>,
    verified_chain_expiry: Mutex<Option<i64>>,
    /// The class of a rejected certificate, when the verifier judged it from more evidence
    /// than the rustls error carries (see [`super::evidence`]).
    certificate_class: Mutex<Option<(FailureClass, Detail)>>,
    certificate_requested: AtomicBool,
    ticket_received: AtomicBool,
    /// The stapled OCSP response, judged; `None` when none arrived.
    ocsp: Mutex<Option<OcspStaple>>,
}

impl HandshakeRecord {
    /// The chain the server presented (leaf first, certificates that do not parse left out);
    /// empty when no Certificate message arrived. Leaves the record's copy empty.
    pub(crate) fn take_chain(&self) -> Vec<CertInfo> {
        std::mem::take(&mut *self.chain.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// See [`crate::report::TlsFacts::verified_chain_expiry`]; `None` until a chain verified.
    pub(crate) fn verified_chain_expiry(&self) -> Option<i64> {
        *self
            .verified_chain_expiry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The class and detail of the certificate rejection that ended the handshake, when the
    /// verifier judged it; `None` when the rustls error tells it all.
    pub(crate) fn certificate_class(&self) -> Option<(FailureClass, Detail)> {
        *self
            .certificate_class
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn note_certificate_class(&self, class: (FailureClass, Detail)) {
        *self
            .certificate_class
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(class);
    }

    /// True once the server sent a CertificateRequest (RFC 8446 section 4.3.2).
    pub(crate) fn certificate_requested(&self) -> bool {
        self.certificate_requested.load(Ordering::Relaxed)
    }

    /// True once the server sent a NewSessionTicket (RFC 8446 section 4.6.1): servers send it
    /// after accepting the client's Finished, so it means the client certificate passed.
    pub(crate) fn ticket_received(&self) -> bool {
        self.ticket_received.load(Ordering::Relaxed)
    }

    /// The stapled OCSP response as judged (see [`super::ocsp`]); `None` when the server
    /// stapled none. Leaves the record's copy empty.
    pub(crate) fn take_ocsp(&self) -> Option<OcspStaple> {
        self.ocsp.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    pub(crate) fn note_certificate_requested(&self) {
        self.certificate_requested.store(true, Ordering::Relaxed);
    }

    pub(crate) fn note_ticket_received(&self) {
        self.ticket_received.store(true, Ordering::Relaxed);
    }
}

tokio::task_local! {
    static RECORD: Arc<HandshakeRecord>;
}

/// Runs `handshake` with `record` as the record that the verifier and resolver of any rustls
/// configuration write to while it is polled.
pub(crate) async fn with_record<F: Future>(
    record: Arc<HandshakeRecord>,
    handshake: F,
) -> F::Output {
    RECORD.scope(record, handshake).await
}

/// Applies `note` to the running handshake's record; outside [`with_record`] (never the case
/// for a probe) there is nothing to note into.
pub(crate) fn record(note: impl FnOnce(&HandshakeRecord)) {
    let _ = RECORD.try_with(|r| note(r));
}

/// The module's verifier: judges with its [`Trust`] and notes what it saw in the running
/// handshake's record.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    trust: Trust,
    algorithms: WebPkiSupportedAlgorithms,
    /// Chains seen before: described once, verdicts reused while they hold.
    verdicts: Verdicts,
}

impl RecordingVerifier {
    /// A verifier judging with `trust`, checking handshake signatures with `algorithms` (the
    /// crypto provider's `signature_verification_algorithms`).
    pub(crate) fn new(trust: Trust, algorithms: WebPkiSupportedAlgorithms) -> Self {
        RecordingVerifier {
            trust,
            algorithms,
            verdicts: Verdicts::default(),
        }
    }
}

impl RecordingVerifier {
    /// Judges the OCSP response stapled to `end_entity`, with the presented intermediates and
    /// the module's trust anchors as the possible issuers.
    fn judge_staple(
        &self,
        staple: &[u8],
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> OcspStaple {
        let presented = intermediates.iter().filter_map(|c| Candidate::from_der(c));
        let anchors = match &self.trust {
            Trust::WebPki(trust) => &trust.anchors.roots.roots[..],
            Trust::NoAnchors | Trust::SkipVerify => &[],
        };
        let candidates = presented.chain(anchors.iter().map(Candidate::from_anchor));
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        ocsp::judge(staple, end_entity, candidates, &self.algorithms, now)
    }
}

/// The certificates the server presented: the leaf, the others, and the notAfter (unix seconds)
/// of the leaf and then of each of the others (`None` where one does not parse).
struct Presented<'a, 'c> {
    end_entity: &'a CertificateDer<'c>,
    intermediates: &'a [CertificateDer<'c>],
    expiries: &'a [Option<i64>],
}

impl WebPkiTrust {
    /// How `chain`, rejected, stands to the trust anchors: a pinned leaf is an anchor itself.
    fn reach(&self, algorithms: &WebPkiSupportedAlgorithms, chain: &Presented<'_, '_>) -> Reach {
        if self.pinned.contains(chain.end_entity) {
            return Reach::Anchor;
        }
        path::reach(
            algorithms,
            chain.end_entity,
            chain.intermediates,
            &self.anchors.roots.roots,
        )
    }

    /// Judges `chain` for `server_name`; on success also returns the verified chains' expiry.
    fn verify(
        &self,
        algorithms: &WebPkiSupportedAlgorithms,
        chain: &Presented<'_, '_>,
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<Option<i64>, Error> {
        if let Some(verdict) = self.pinned.verify(chain.end_entity, server_name, now) {
            // Go's verified chain for a pinned leaf is the leaf alone.
            return verdict.map(|_| chain.expiries.first().copied().flatten());
        }
        if let Some(expiry) = self.verified_chains_expiry(algorithms, chain, server_name, now) {
            return Ok(Some(expiry));
        }
        // No verified path: rustls' verifier names the reason (the same WebPKI checks).
        self.verifier
            .verify_server_cert(
                chain.end_entity,
                chain.intermediates,
                server_name,
                ocsp_response,
                now,
            )
            .map(|_| None)
    }

    /// Over every path WebPKI can build from the leaf through the presented intermediates to a
    /// trust anchor, for a leaf valid for `server_name`: the latest of each path's earliest
    /// notAfter, the anchor's certificate included (blackbox_exporter's `getLastChainExpiry`
    /// over Go's `VerifiedChains`). `None` when no path verifies or the name does not match;
    /// the caller then asks rustls for the error.
    ///
    /// The same checks as rustls' `WebPkiServerVerifier` (webpki `verify_for_usage` with the
    /// serverAuth usage, no revocation, and the name), run once: each path found is noted and
    /// refused to webpki so it goes on to the next.
    fn verified_chains_expiry(
        &self,
        algorithms: &WebPkiSupportedAlgorithms,
        chain: &Presented<'_, '_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Option<i64> {
        let cert = webpki::EndEntityCert::try_from(chain.end_entity).ok()?;
        cert.verify_is_valid_for_subject_name(server_name).ok()?;
        let leaf_expiry = chain.expiries.first().copied().flatten();
        let latest: Cell<Option<i64>> = Cell::new(None);
        let found = Cell::new(false);
        let note_path = |path: &webpki::VerifiedPath<'_>| {
            let in_path = path.intermediate_certificates().map(|c| {
                let der = c.der();
                chain
                    .intermediates
                    .iter()
                    .position(|i| i.as_ref() == der.as_ref())
                    .and_then(|i| chain.expiries.get(i + 1).copied().flatten())
            });
            let anchor = self
                .anchors
                .expiries
                .get(path.anchor().subject_public_key_info.as_ref())
                .copied();
            let earliest = std::iter::once(leaf_expiry)
                .chain(in_path)
                .chain(std::iter::once(anchor))
                .flatten()
                .min();
            found.set(true);
            latest.set(latest.get().max(earliest));
            // Refused so that webpki tries the remaining paths too.
            Err(webpki::Error::UnknownIssuer)
        };
        let _ = cert.verify_for_usage(
            algorithms.all,
            &self.anchors.roots.roots,
            chain.intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            Some(&note_path),
        );
        if !found.get() {
            return None;
        }
        latest.get()
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
        let (key, seen) = self
            .verdicts
            .look_up(end_entity, intermediates, server_name);
        let presented: Vec<CertInfo> = seen
            .certs
            .iter()
            .flatten()
            .map(|c| c.info.clone())
            .collect();
        record(|r| *r.chain.lock().unwrap_or_else(|p| p.into_inner()) = presented);
        if !ocsp_response.is_empty() {
            let staple = self.judge_staple(ocsp_response, end_entity, intermediates, now);
            record(|r| *r.ocsp.lock().unwrap_or_else(|p| p.into_inner()) = Some(staple));
        }
        let verified = match &self.trust {
            Trust::WebPki(trust) => match seen.verdict_at(now) {
                Some(verdict) => verdict,
                None => {
                    let expiries: Vec<Option<i64>> = seen
                        .certs
                        .iter()
                        .map(|c| c.as_ref().map(|c| c.info.not_after))
                        .collect();
                    let chain = Presented {
                        end_entity,
                        intermediates,
                        expiries: &expiries,
                    };
                    let verdict = trust
                        .verify(&self.algorithms, &chain, server_name, ocsp_response, now)
                        .inspect_err(|e| {
                            let stack = classify_rustls(e).class;
                            let reach = trust.reach(&self.algorithms, &chain);
                            record(|r| r.note_certificate_class(certificate_class(stack, reach)));
                        })?;
                    self.verdicts.verified(key, seen, verdict, now);
                    verdict
                }
            },
            Trust::NoAnchors => {
                return Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
            }
            Trust::SkipVerify => None,
        };
        if verified.is_some() {
            record(|r| {
                *r.verified_chain_expiry
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = verified
            });
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
            .inspect_err(|_| note_weak_handshake_key(cert))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
            .inspect_err(|_| note_weak_handshake_key(cert))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// After a handshake signature failed to verify with `cert`'s key: notes `tls_cert_invalid`
/// when that key is an RSA key too weak for the verifier.
fn note_weak_handshake_key(cert: &CertificateDer<'_>) {
    if let Some(class) = handshake_signature_class(path::weak_rsa_key(cert)) {
        record(|r| r.note_certificate_class(class));
    }
}
