//! Pinned server certificates: a presented leaf that is byte for byte one of the `ca_file`
//! certificates is trusted as it stands, whatever its basicConstraints, as Go's verifier (and so
//! blackbox_exporter) does when the root pool contains the leaf itself (crypto/x509
//! `Certificate.Verify`). Certificates made by `openssl req -x509` carry `CA:TRUE`, which WebPKI
//! path building refuses as an end entity (`CaUsedAsEndEntity`); users pin them this way.
//!
//! Only the chain of trust is skipped: validity dates, the server name and the extended key
//! usage are still checked, each failing with the error WebPKI would give for it.

use rustls::client::danger::ServerCertVerified;
use rustls::client::verify_server_name;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, Error};

/// The `ca_file` certificates, compared whole (DER bytes) with the presented leaf.
#[derive(Debug, Default)]
pub(crate) struct Pinned(Vec<CertificateDer<'static>>);

impl Pinned {
    /// Pins every certificate of `certs` (all of a `ca_file`, CA or not).
    pub(crate) fn new(certs: Vec<CertificateDer<'static>>) -> Pinned {
        Pinned(certs)
    }

    /// True when `end_entity` is one of the pinned certificates.
    pub(crate) fn contains(&self, end_entity: &CertificateDer<'_>) -> bool {
        self.0.iter().any(|pin| pin.as_ref() == end_entity.as_ref())
    }

    /// Judges `end_entity` when it is pinned; `None` when it is not (the caller then builds a
    /// path as usual).
    ///
    /// Errors, in Go's order: `ExpiredContext` / `NotValidYetContext` when `now` is outside the
    /// certificate's validity (RFC 5280 section 4.1.2.5), `NotValidForName...` when its SANs do
    /// not cover `server_name` (RFC 6125, checked by webpki), `InvalidPurpose` when it has an
    /// extendedKeyUsage without serverAuth or anyExtendedKeyUsage (RFC 5280 section 4.2.1.12),
    /// `BadEncoding` when it does not parse.
    pub(crate) fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Option<Result<ServerCertVerified, Error>> {
        if !self.contains(end_entity) {
            return None;
        }
        Some(check_pinned(end_entity, server_name, now))
    }
}

/// The checks a pinned leaf still passes: dates, name, extended key usage.
fn check_pinned(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<ServerCertVerified, Error> {
    let bad_encoding = || Error::InvalidCertificate(CertificateError::BadEncoding);
    let (_, cert) = x509_parser::parse_x509_certificate(end_entity).map_err(|_| bad_encoding())?;
    let at = |t: i64| UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.max(0) as u64));
    let time = now.as_secs() as i64;
    let validity = cert.validity();
    if time < validity.not_before.timestamp() {
        return Err(Error::InvalidCertificate(
            CertificateError::NotValidYetContext {
                time: now,
                not_before: at(validity.not_before.timestamp()),
            },
        ));
    }
    if time > validity.not_after.timestamp() {
        return Err(Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: now,
                not_after: at(validity.not_after.timestamp()),
            },
        ));
    }
    let parsed = ParsedCertificate::try_from(end_entity)?;
    verify_server_name(&parsed, server_name)?;
    match cert.extended_key_usage() {
        Ok(Some(eku)) if !(eku.value.server_auth || eku.value.any) => {
            Err(Error::InvalidCertificate(CertificateError::InvalidPurpose))
        }
        Ok(_) => Ok(ServerCertVerified::assertion()),
        Err(_) => Err(bad_encoding()),
    }
}
