//! CRL checking after a completed handshake (RFC 5280 section 5), on either TLS stack: it works
//! from the presented chain's DER. For each certificate (the first [`MAX_CHECKED_CERTS`]), the
//! `http://` URLs of its CRL distribution points are tried in order (at most
//! [`MAX_URLS_PER_CERT`]; other schemes are skipped and logged) until one yields a CRL whose
//! signature verifies with the issuer's key: the next certificate of the chain whose subject is
//! the certificate's issuer and whose key verifies the certificate's signature, else such a
//! certificate of the module's `ca_file`/`ca`, else the certificate itself when it is
//! self-issued. The serial is then looked up on it.
//!
//! As in blackbox_exporter (its pull request #1583, `prober/crl.go`), a CRL that does not
//! verify counts as not available, and revocation alone does not fail the probe
//! ([`crate::report::revocation_failure`] does, with `tcp.fail_if_revoked`).
//!
//! Submodules: `fetch` downloads one CRL (restrictions, deadline, size bound), `cache` keeps
//! verified CRLs until their nextUpdate.

mod cache;
mod fetch;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::Uri;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::time::Instant;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::settings::FileWatch;
use crate::config::{Restrictions, TcpProbe, TlsConfig};
use crate::report::{
    revocation_failure, CrlCertResult, CrlUnavailable, Failure, StepLog, TlsFacts,
};

pub(crate) use cache::forget;
pub use cache::{usage as cache_usage, MAX_CACHED_BYTES, MAX_ENTRIES};
pub use fetch::MAX_CRL_BYTES;

/// Certificates of a chain checked, leaf first (as many as the per-certificate metrics
/// describe); a peer sending a longer chain cannot make one probe fetch more.
pub const MAX_CHECKED_CERTS: usize = 10;
/// Distribution point URLs tried per certificate.
pub const MAX_URLS_PER_CERT: usize = 4;
/// Time kept back from the probe's deadline, so a CRL fetch that runs out leaves the probe
/// time to report.
const DEADLINE_MARGIN: Duration = Duration::from_millis(100);

/// After a completed handshake of a module with `tls_config.crl_check` on or with
/// `tcp.fail_if_revoked`: checks the CRLs when `crl_check` is on ([`check`]), then returns the
/// failure `tcp.fail_if_revoked` asks for when a CRL entry or the verified OCSP staple says a
/// certificate is revoked ([`TlsFacts::revocation_evidence`]). Errors: that failure, phase
/// `tls`, class `tls_cert_revoked`.
pub async fn after_handshake(
    tcp: &TcpProbe,
    restrictions: Option<&Restrictions>,
    deadline: Instant,
    facts: &mut TlsFacts,
    log: &mut StepLog,
) -> Result<(), Failure> {
    if tcp.tls_config.crl_check.enabled && !facts.chain_der.is_empty() {
        check(&tcp.tls_config, restrictions, deadline, facts, log).await;
    }
    match revocation_failure(tcp.fail_if_revoked, facts.revocation_evidence()) {
        Some(failure) => {
            log.note(format!(
                "tls: a presented certificate is revoked ({failure})"
            ));
            Err(failure)
        }
        None => Ok(()),
    }
}

/// Checks the CRLs of `facts.chain_der` and writes one [`CrlCertResult`] per certificate to
/// `facts.crl`. Fetches end by `cfg.crl_check`'s timeout and before `deadline`, and go only to
/// addresses `restrictions` allow.
pub async fn check(
    cfg: &TlsConfig,
    restrictions: Option<&Restrictions>,
    deadline: Instant,
    facts: &mut TlsFacts,
    log: &mut StepLog,
) {
    let until = (Instant::now() + cfg.crl_check.timeout())
        .min(deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(deadline));
    let ders = std::mem::take(&mut facts.chain_der);
    let certs: Vec<X509Certificate<'_>> = ders
        .iter()
        .take(MAX_CHECKED_CERTS)
        .map_while(|d| x509_parser::parse_x509_certificate(d).ok().map(|(_, c)| c))
        .collect();
    let cas = if certs.is_empty() {
        Arc::default()
    } else {
        super::clients::crl_cas_for(cfg).certs(cfg).await
    };
    for (pos, cert) in certs.iter().enumerate() {
        let Some((info, _)) = super::cert_info::cert_facts(cert.as_ref()) else {
            continue;
        };
        let issuer_spki = issuer_key(cert, &certs[pos + 1..], &cas);
        let mut result = CrlCertResult {
            chain_pos: pos,
            cert: info,
            crl_url: String::new(),
            available: false,
            revoked: false,
            stale: false,
            next_update: None,
            fetch_time: Duration::ZERO,
            unavailable: Some(CrlUnavailable::NoDistributionPoint),
        };
        for url in http_urls(cert, pos, log) {
            result.crl_url = url.to_string();
            let began = Instant::now();
            let got = crl_for(cfg, &url, issuer_spki.as_deref(), restrictions, until, log).await;
            result.fetch_time += began.elapsed();
            match got {
                Ok((crl, cached)) => {
                    note_available(&mut result, &crl, cert.raw_serial(), cached, log);
                    break;
                }
                Err(why) => result.unavailable = Some(why),
            }
        }
        facts.crl.push(result);
    }
}

/// Fills `result` from a verified CRL.
fn note_available(
    result: &mut CrlCertResult,
    crl: &cache::Verified,
    serial: &[u8],
    cached: bool,
    log: &mut StepLog,
) {
    result.available = true;
    result.unavailable = None;
    result.next_update = crl.next_update;
    result.stale = crl.next_update.is_some_and(|t| t <= now_unix());
    result.revoked = crl.lists(serial);
    log.note(format!(
        "tls: certificate {}: CRL {}{}: {}{}",
        result.chain_pos,
        result.crl_url,
        if cached { " (cached)" } else { "" },
        if result.revoked {
            "revoked"
        } else {
            "not revoked"
        },
        if result.stale {
            ", stale (nextUpdate passed)"
        } else {
            ""
        },
    ));
}

/// The `http://` URLs of `cert`'s CRL distribution points (RFC 5280 section 4.2.1.13), at most
/// [`MAX_URLS_PER_CERT`]; other names are logged and skipped.
fn http_urls(cert: &X509Certificate<'_>, pos: usize, log: &mut StepLog) -> Vec<Uri> {
    let mut urls = Vec::new();
    for ext in cert.extensions() {
        let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() else {
            continue;
        };
        for point in points.iter() {
            let Some(DistributionPointName::FullName(names)) = &point.distribution_point else {
                continue;
            };
            for name in names {
                let GeneralName::URI(text) = name else {
                    continue;
                };
                match text.parse::<Uri>() {
                    Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => {
                        urls.push(uri)
                    }
                    _ => {
                        let shown: String = text.chars().take(200).collect();
                        let why = "is not an http:// URL: skipped";
                        log.note(format!(
                            "tls: certificate {pos}: CRL distribution point {shown:?} {why}"
                        ));
                        tracing::debug!(url = %shown, "CRL distribution point {why}");
                    }
                }
            }
        }
    }
    urls.truncate(MAX_URLS_PER_CERT);
    urls
}

/// The subjectPublicKeyInfo of `cert`'s issuer: the first of `rest`, then of `cas`, whose
/// subject is `cert`'s issuer and whose key verifies `cert`'s signature (RFC 5280 section
/// 6.1.3); `cert`'s own when it is self-issued and self-signed. `None` when no such certificate
/// is at hand (the CRL is then not available: `NoIssuer`).
fn issuer_key(
    cert: &X509Certificate<'_>,
    rest: &[X509Certificate<'_>],
    cas: &[CertificateDer<'static>],
) -> Option<Vec<u8>> {
    let issuer = cert.issuer().as_raw();
    // A candidate is the issuer only when its key verifies the certificate's signature: a
    // certificate the server adds with the issuer's name and a key of its own must not make a
    // revoked certificate's CRL fail to verify (and so hide the revocation).
    let issued_by = |c: &X509Certificate<'_>| {
        c.subject().as_raw() == issuer && cert.verify_signature(Some(c.public_key())).is_ok()
    };
    let spki = |c: &X509Certificate<'_>| c.public_key().raw.to_vec();
    if let Some(c) = rest.iter().find(|c| issued_by(c)) {
        return Some(spki(c));
    }
    for der in cas {
        if let Ok((_, c)) = x509_parser::parse_x509_certificate(der) {
            if issued_by(&c) {
                return Some(spki(&c));
            }
        }
    }
    issued_by(cert).then(|| spki(cert))
}

/// The certificates of one `tls_config`'s `ca_file` or `ca`, the CRL issuers it offers: read on
/// the first CRL check and kept, like the TLS client, while the file looks unchanged (see
/// `settings::FileWatch`); kept and forgotten with the module's TLS client (`clients`).
#[derive(Clone, Default)]
pub(crate) struct CaCache(Arc<Mutex<Option<Arc<ModuleCas>>>>);

/// The certificates read, and the files they were read from.
struct ModuleCas {
    certs: Arc<[CertificateDer<'static>]>,
    files: FileWatch,
}

impl CaCache {
    /// The certificates of `cfg`'s `ca_file` or `ca`; none when unset or unreadable (the
    /// handshake already read them, so an error here is a file changed meanwhile).
    async fn certs(&self, cfg: &TlsConfig) -> Arc<[CertificateDer<'static>]> {
        let cached = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(kept) = cached {
            if kept.files.is_current().await {
                return kept.certs.clone();
            }
        }
        let files = FileWatch::of(cfg).await;
        let pem = match (&cfg.ca_file, &cfg.ca) {
            (Some(path), _) => tokio::fs::read(path).await.unwrap_or_default(),
            (None, Some(text)) => text.as_bytes().to_vec(),
            (None, None) => Vec::new(),
        };
        let certs: Arc<[CertificateDer<'static>]> = CertificateDer::pem_slice_iter(&pem)
            .filter_map(Result::ok)
            .collect();
        let kept = Arc::new(ModuleCas {
            certs: certs.clone(),
            files,
        });
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(kept);
        certs
    }
}

/// The verified CRL at `url`: from the cache when kept for this issuer key, else fetched,
/// parsed, verified and kept. The flag says it came from the cache.
async fn crl_for(
    cfg: &TlsConfig,
    url: &Uri,
    issuer_spki: Option<&[u8]>,
    restrictions: Option<&Restrictions>,
    until: Instant,
    log: &mut StepLog,
) -> Result<(Arc<cache::Verified>, bool), CrlUnavailable> {
    let text = url.to_string();
    let now = now_unix();
    if let Some(kept) = cache::get(cfg, &text, now) {
        if Some(kept.issuer_spki.as_slice()) == issuer_spki {
            return Ok((kept, true));
        }
    }
    let der = fetch::fetch(url, restrictions, until, log).await?;
    let Some(spki) = issuer_spki else {
        log.note(format!(
            "tls: CRL {text}: {}",
            CrlUnavailable::NoIssuer.as_str()
        ));
        return Err(CrlUnavailable::NoIssuer);
    };
    let verified = Arc::new(verify(der, spki).inspect_err(|why| {
        log.note(format!("tls: CRL {text}: {}", why.as_str()));
    })?);
    cache::put(cfg, &text, verified.clone(), now);
    Ok((verified, false))
}

/// Parses a DER CRL and verifies its signature with `spki` (an issuer's subjectPublicKeyInfo).
fn verify(der: Vec<u8>, spki: &[u8]) -> Result<cache::Verified, CrlUnavailable> {
    let (_, key) = SubjectPublicKeyInfo::from_der(spki).map_err(|_| CrlUnavailable::NoIssuer)?;
    let (serials, next_update) = {
        let (rest, crl) =
            x509_parser::parse_x509_crl(&der).map_err(|_| CrlUnavailable::Unparsable)?;
        if !rest.is_empty() {
            return Err(CrlUnavailable::Unparsable);
        }
        crl.verify_signature(&key)
            .map_err(|_| CrlUnavailable::BadSignature)?;
        let base = der.as_ptr() as usize;
        let serials = crl
            .iter_revoked_certificates()
            .filter_map(|r| {
                // The parser borrows from `der`: the serial's offset within it.
                let start = (r.raw_serial().as_ptr() as usize).checked_sub(base)?;
                let end = start + r.raw_serial().len();
                (end <= der.len()).then_some(start as u32..end as u32)
            })
            .collect();
        (serials, crl.next_update().map(|t| t.timestamp()))
    };
    Ok(cache::Verified::new(
        der,
        serials,
        spki.to_vec(),
        next_update,
    ))
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
