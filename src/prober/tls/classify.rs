//! Turns every way a TLS handshake can fail into exactly one contract class of phase `tls`.
//!
//! The class comes from evidence only: the variant of rustls' `Error` (certificate error, alert
//! received, peer incompatibility), the `io::ErrorKind`, or the raw errno of the socket. No error
//! message text is ever looked at.

use std::io;

use rustls::{AlertDescription, CertificateError, Error};

use super::violation::{self, Breach};
use crate::prober::errno::classify_stream;
use crate::report::{Detail, Failure, FailureClass, Phase, TlsAlert};

/// Classifies an error returned by the tokio-rustls handshake or by a socket read after it.
///
/// tokio-rustls hands rustls errors back as `io::Error` of kind `InvalidData` wrapping a
/// `rustls::Error`; those go to [`classify_rustls`]. An `UnexpectedEof` (the peer's FIN arrived
/// while the handshake was incomplete) is `eof`; an OS error is classified by its errno
/// ([`classify_stream`]).
pub(crate) fn classify_io(err: &io::Error) -> Failure {
    if let Some(tls) = err.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
        return classify_rustls(tls);
    }
    classify_stream(Phase::Tls, err)
}

/// Classifies a rustls error (rustls 0.23 `Error`, `CertificateError`), in one match.
///
/// Certificate classes carry an empty `detail`; `tls_alert` carries the alert's RFC name.
#[allow(deprecated)] // CertificateError::UnsupportedSignatureAlgorithm still arrives from webpki
pub(crate) fn classify_rustls(err: &Error) -> Failure {
    use CertificateError as C;
    use FailureClass as F;
    let (class, detail) = match err {
        // Now is past a certificate's notAfter (RFC 5280 section 4.1.2.5).
        Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            (F::TlsCertExpired, Detail::None)
        }
        // Now is before a certificate's notBefore.
        Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            (F::TlsCertNotYetValid, Detail::None)
        }
        // No path to a trusted root: unknown issuer (which includes a self-signed leaf), a
        // signature that does not verify, or one made with an algorithm we cannot check.
        Error::InvalidCertificate(
            C::UnknownIssuer
            | C::BadSignature
            | C::UnsupportedSignatureAlgorithm
            | C::UnsupportedSignatureAlgorithmContext { .. }
            | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. },
        ) => (F::TlsCertUntrusted, Detail::None),
        // The leaf's SANs do not cover the server name (RFC 6125).
        Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            (F::TlsCertHostnameMismatch, Detail::None)
        }
        // Every other rejection of the presented chain: revoked, bad DER, wrong extended key
        // usage (InvalidPurpose), unhandled critical extension, CA used as leaf, CRL problems,
        // or no certificate at all.
        Error::InvalidCertificate(_)
        | Error::InvalidCertRevocationList(_)
        | Error::NoCertificatesPresented => (F::TlsCertInvalid, Detail::None),
        // The peer gave up with a fatal alert (RFC 8446 section 6.2).
        Error::AlertReceived(a) => (F::TlsAlert, Detail::TlsAlert(alert(*a))),
        // We refused what the server chose: a TLS 1.0/1.1 ServerHello, no common suite, group
        // or signature scheme.
        Error::PeerIncompatible(_) => (F::TlsIncompatible, Detail::None),
        // The bytes are not TLS (an HTTP or SSH banner fails the record header check as
        // InvalidContentType), or the peer speaks TLS but broke one of its rules or limits
        // (an oversized record or certificate message, a flood of warning alerts, a message
        // out of order): `violation` tells which, and names the alert.
        Error::InvalidMessage(_)
        | Error::InappropriateMessage { .. }
        | Error::InappropriateHandshakeMessage { .. }
        | Error::PeerMisbehaved(_)
        | Error::PeerSentOversizedRecord
        | Error::DecryptError => match violation::breach(err) {
            Some(Breach::Violation(alert)) => (F::TlsProtocolViolation, Detail::TlsAlert(alert)),
            _ => (F::ProtocolMismatch, Detail::None),
        },
        // Failures of this process: clock, randomness, our own key, our configuration.
        Error::FailedToGetCurrentTime
        | Error::FailedToGetRandomBytes
        | Error::EncryptError
        | Error::InconsistentKeys(_)
        | Error::BadMaxFragmentSize
        | Error::HandshakeNotComplete
        | Error::General(_)
        | Error::Other(_) => (F::ProberError, Detail::None),
        // Variants added after rustls 0.23 (the enum is #[non_exhaustive]), ECH and ALPN errors
        // we cannot trigger: nothing proves the target at fault.
        _ => (F::ProberError, Detail::None),
    };
    Failure::new(Phase::Tls, class, detail)
}

/// The RFC 8446 section 6 / IANA "TLS Alerts" registry entry of `alert`.
///
/// [`TlsAlert::Unknown`] for a code rustls does not know (the detail token stays bounded).
pub(crate) fn alert(alert: AlertDescription) -> TlsAlert {
    use AlertDescription as A;
    use TlsAlert as T;
    match alert {
        A::CloseNotify => T::CloseNotify,
        A::UnexpectedMessage => T::UnexpectedMessage,
        A::BadRecordMac => T::BadRecordMac,
        A::DecryptionFailed => T::DecryptionFailed,
        A::RecordOverflow => T::RecordOverflow,
        A::DecompressionFailure => T::DecompressionFailure,
        A::HandshakeFailure => T::HandshakeFailure,
        A::NoCertificate => T::NoCertificate,
        A::BadCertificate => T::BadCertificate,
        A::UnsupportedCertificate => T::UnsupportedCertificate,
        A::CertificateRevoked => T::CertificateRevoked,
        A::CertificateExpired => T::CertificateExpired,
        A::CertificateUnknown => T::CertificateUnknown,
        A::IllegalParameter => T::IllegalParameter,
        A::UnknownCA => T::UnknownCa,
        A::AccessDenied => T::AccessDenied,
        A::DecodeError => T::DecodeError,
        A::DecryptError => T::DecryptError,
        A::ExportRestriction => T::ExportRestriction,
        A::ProtocolVersion => T::ProtocolVersion,
        A::InsufficientSecurity => T::InsufficientSecurity,
        A::InternalError => T::InternalError,
        A::InappropriateFallback => T::InappropriateFallback,
        A::UserCanceled => T::UserCanceled,
        A::NoRenegotiation => T::NoRenegotiation,
        A::MissingExtension => T::MissingExtension,
        A::UnsupportedExtension => T::UnsupportedExtension,
        A::CertificateUnobtainable => T::CertificateUnobtainable,
        A::UnrecognisedName => T::UnrecognizedName,
        A::BadCertificateStatusResponse => T::BadCertificateStatusResponse,
        A::BadCertificateHashValue => T::BadCertificateHashValue,
        A::UnknownPSKIdentity => T::UnknownPskIdentity,
        A::CertificateRequired => T::CertificateRequired,
        A::NoApplicationProtocol => T::NoApplicationProtocol,
        A::EncryptedClientHelloRequired => T::EncryptedClientHelloRequired,
        // Unknown(code) and variants added later.
        _ => T::Unknown,
    }
}
