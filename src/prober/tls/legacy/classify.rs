//! OpenSSL's evidence mapped to the contract's classes of phase `tls`, the same classes the
//! rustls stack gives: certificate verify codes (x509_vfy.h, `X509_V_ERR_*`) in one match,
//! received alerts through the one alert table of the rustls stack, handshake reasons
//! (sslerr.h, `SSL_R_*`) and socket errors by errno. No message text is looked at.

use std::os::raw::c_int;

use openssl::ssl::{Error, ErrorCode};
use openssl_sys as ffi;

use crate::prober::errno::classify_stream;
use crate::report::{Detail, Failure, FailureClass, Phase, TlsAlert};

/// `ERR_LIB_SSL` (err.h): errors raised by libssl itself.
const ERR_LIB_SSL: c_int = 20;

// Reason codes of libssl, sslerr.h (OpenSSL 1.1.1 and 3.x keep these numbers).
const SSL_R_BAD_PACKET_LENGTH: c_int = 115;
const SSL_R_CERTIFICATE_VERIFY_FAILED: c_int = 134;
const SSL_R_HTTP_REQUEST: c_int = 156;
const SSL_R_LENGTH_MISMATCH: c_int = 159;
const SSL_R_VERSION_TOO_HIGH: c_int = 166;
const SSL_R_NO_CIPHERS_AVAILABLE: c_int = 181;
const SSL_R_NO_PROTOCOLS_AVAILABLE: c_int = 191;
const SSL_R_PACKET_LENGTH_TOO_LONG: c_int = 198;
const SSL_R_RECORD_LENGTH_MISMATCH: c_int = 213;
const SSL_R_UNEXPECTED_MESSAGE: c_int = 244;
const SSL_R_UNEXPECTED_RECORD: c_int = 245;
const SSL_R_UNSUPPORTED_PROTOCOL: c_int = 258;
const SSL_R_WRONG_CIPHER_RETURNED: c_int = 261;
const SSL_R_WRONG_SSL_VERSION: c_int = 266;
const SSL_R_WRONG_VERSION_NUMBER: c_int = 267;
const SSL_R_UNEXPECTED_EOF_WHILE_READING: c_int = 294;
const SSL_R_UNSAFE_LEGACY_RENEGOTIATION_DISABLED: c_int = 338;
const SSL_R_WRONG_CURVE: c_int = 378;
const SSL_R_DH_KEY_TOO_SMALL: c_int = 394;
const SSL_R_VERSION_TOO_LOW: c_int = 396;
const SSL_R_NO_SHARED_GROUPS: c_int = 410;

/// Classifies a failed OpenSSL handshake. `verdict` is the class our verify callback chose
/// when it rejected the chain (OpenSSL then reports `CERTIFICATE_VERIFY_FAILED`).
pub(super) fn classify(err: &Error, verdict: Option<FailureClass>) -> Failure {
    let tls = |class| Failure::bare(Phase::Tls, class);
    match err.code() {
        // close_notify in the middle of the handshake, as rustls reports it.
        ErrorCode::ZERO_RETURN => Failure::new(
            Phase::Tls,
            FailureClass::TlsAlert,
            Detail::TlsAlert(TlsAlert::CloseNotify),
        ),
        ErrorCode::SYSCALL => match err.io_error() {
            Some(io) => classify_stream(Phase::Tls, io),
            // EOF that OpenSSL reports without an errno.
            None => tls(FailureClass::Eof),
        },
        ErrorCode::SSL => {
            let reason = err.ssl_error().and_then(|stack| {
                stack
                    .errors()
                    .iter()
                    .find(|e| e.library_code() == ERR_LIB_SSL)
                    .map(|e| e.reason_code())
            });
            match (reason, err.io_error()) {
                (Some(reason), _) => classify_reason(reason, verdict),
                (None, Some(io)) => classify_stream(Phase::Tls, io),
                // An error of another library (EVP, ASN.1) while reading the peer's messages:
                // a bad signature or key in what the server sent.
                (None, None) => tls(FailureClass::ProtocolMismatch),
            }
        }
        // WANT_READ/WANT_WRITE never end a tokio-openssl handshake; anything else is ours.
        _ => tls(FailureClass::ProberError),
    }
}

/// Classifies a libssl reason code (sslerr.h).
fn classify_reason(reason: c_int, verdict: Option<FailureClass>) -> Failure {
    use FailureClass as F;
    let class = match reason {
        // A fatal alert received: reason is SSL_AD_REASON_OFFSET plus its code (ssl.h).
        r if (ffi::SSL_AD_REASON_OFFSET..=ffi::SSL_AD_REASON_OFFSET + 255).contains(&r) => {
            let code = (r - ffi::SSL_AD_REASON_OFFSET) as u8;
            let alert = super::super::classify::alert(rustls::AlertDescription::from(code));
            return Failure::new(Phase::Tls, F::TlsAlert, Detail::TlsAlert(alert));
        }
        // Our verify callback rejected the chain and chose the class.
        SSL_R_CERTIFICATE_VERIFY_FAILED => verdict.unwrap_or(F::TlsCertInvalid),
        // We refused what the server chose: a version outside the range, a suite or group we
        // did not offer, a DH group too small, no secure renegotiation where it is required.
        SSL_R_UNSUPPORTED_PROTOCOL
        | SSL_R_VERSION_TOO_LOW
        | SSL_R_VERSION_TOO_HIGH
        | SSL_R_WRONG_SSL_VERSION
        | SSL_R_WRONG_CIPHER_RETURNED
        | SSL_R_WRONG_CURVE
        | SSL_R_NO_SHARED_GROUPS
        | SSL_R_DH_KEY_TOO_SMALL
        | SSL_R_UNSAFE_LEGACY_RENEGOTIATION_DISABLED => F::TlsIncompatible,
        // The peer's FIN before the handshake completed.
        SSL_R_UNEXPECTED_EOF_WHILE_READING => F::Eof,
        // Our own context offers nothing.
        SSL_R_NO_PROTOCOLS_AVAILABLE | SSL_R_NO_CIPHERS_AVAILABLE => F::ProberError,
        // The bytes are not TLS (an HTTP or SSH banner has no valid record header) or break
        // its rules.
        SSL_R_WRONG_VERSION_NUMBER
        | SSL_R_PACKET_LENGTH_TOO_LONG
        | SSL_R_RECORD_LENGTH_MISMATCH
        | SSL_R_BAD_PACKET_LENGTH
        | SSL_R_LENGTH_MISMATCH
        | SSL_R_UNEXPECTED_MESSAGE
        | SSL_R_UNEXPECTED_RECORD
        | SSL_R_HTTP_REQUEST => F::ProtocolMismatch,
        // Every other libssl reason is raised while reading the server's messages: the peer
        // broke the protocol.
        _ => F::ProtocolMismatch,
    };
    Failure::bare(Phase::Tls, class)
}

/// The class of one certificate verify code (x509_vfy.h), as the rustls stack classes the
/// matching WebPKI error.
pub(super) fn verify_class(code: c_int) -> FailureClass {
    use FailureClass as F;
    match code {
        // Now is past a certificate's notAfter.
        ffi::X509_V_ERR_CERT_HAS_EXPIRED => F::TlsCertExpired,
        // Now is before a certificate's notBefore.
        ffi::X509_V_ERR_CERT_NOT_YET_VALID => F::TlsCertNotYetValid,
        // No path to a trusted root: unknown issuer, self-signed, a signature that does not
        // verify or uses a digest too weak to trust.
        ffi::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
        | ffi::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | ffi::X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
        | ffi::X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        | ffi::X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
        | ffi::X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE
        | ffi::X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY
        | ffi::X509_V_ERR_CERT_SIGNATURE_FAILURE
        | ffi::X509_V_ERR_CERT_UNTRUSTED
        | ffi::X509_V_ERR_CERT_REJECTED
        | ffi::X509_V_ERR_SUBJECT_ISSUER_MISMATCH
        | ffi::X509_V_ERR_AKID_SKID_MISMATCH
        | ffi::X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH
        | ffi::X509_V_ERR_CA_MD_TOO_WEAK
        | ffi::X509_V_ERR_CA_KEY_TOO_SMALL => F::TlsCertUntrusted,
        // The leaf is not valid for the server name or address (RFC 6125).
        ffi::X509_V_ERR_HOSTNAME_MISMATCH
        | ffi::X509_V_ERR_IP_ADDRESS_MISMATCH
        | ffi::X509_V_ERR_EMAIL_MISMATCH => F::TlsCertHostnameMismatch,
        // Every other rejection: revoked, wrong purpose (extendedKeyUsage), bad encoding of a
        // date, CA used as leaf or leaf as CA, path length, unhandled critical extension,
        // name constraints, policy.
        _ => F::TlsCertInvalid,
    }
}

/// Which class stands for a chain with several verify errors, lowest first: validity in time
/// (WebPKI checks it on each certificate before looking for its issuer), then no path to a
/// trusted root, then any other rejection, then the name (checked once a path exists).
pub(super) fn rank(class: FailureClass) -> u8 {
    match class {
        FailureClass::TlsCertExpired | FailureClass::TlsCertNotYetValid => 0,
        FailureClass::TlsCertUntrusted => 1,
        FailureClass::TlsCertHostnameMismatch => 3,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_codes() {
        assert_eq!(
            verify_class(ffi::X509_V_ERR_CERT_HAS_EXPIRED),
            FailureClass::TlsCertExpired
        );
        assert_eq!(
            verify_class(ffi::X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT),
            FailureClass::TlsCertUntrusted
        );
        assert_eq!(
            verify_class(ffi::X509_V_ERR_IP_ADDRESS_MISMATCH),
            FailureClass::TlsCertHostnameMismatch
        );
        assert_eq!(
            verify_class(ffi::X509_V_ERR_INVALID_PURPOSE),
            FailureClass::TlsCertInvalid
        );
    }

    #[test]
    fn alerts_by_their_rfc_names() {
        let f = classify_reason(ffi::SSL_AD_REASON_OFFSET + 70, None);
        assert_eq!(f.detail, Detail::TlsAlert(TlsAlert::ProtocolVersion));
        assert_eq!(f.class, FailureClass::TlsAlert);
        let f = classify_reason(ffi::SSL_AD_REASON_OFFSET + 40, None);
        assert_eq!(f.detail, Detail::TlsAlert(TlsAlert::HandshakeFailure));
    }

    #[test]
    fn untrusted_before_invalid_and_time_first() {
        let mut classes = [
            FailureClass::TlsCertHostnameMismatch,
            FailureClass::TlsCertInvalid,
            FailureClass::TlsCertUntrusted,
            FailureClass::TlsCertExpired,
        ];
        classes.sort_by_key(|c| rank(*c));
        assert_eq!(classes[0], FailureClass::TlsCertExpired);
        assert_eq!(classes[1], FailureClass::TlsCertUntrusted);
        assert_eq!(classes[2], FailureClass::TlsCertInvalid);
    }
}
