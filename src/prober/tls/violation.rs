//! Tells a peer that speaks TLS but broke one of its rules or limits apart from one that does
//! not speak TLS at all, and names the broken rule by the RFC 8446 section 6.2 alert that
//! answers it.
//!
//! Not TLS: the first record header already fails (its content type or version is not one of
//! TLS's, RFC 8446 section 5.1), as when an HTTP or SSH server answers a ClientHello. Everything
//! else rustls rejects as malformed, oversized or out of order comes from a peer whose records
//! parse: `tls_protocol_violation`, with the alert as `detail`.

use rustls::{Error, InvalidMessage, PeerMisbehaved};

use crate::report::TlsAlert;

/// What a protocol error of rustls says about the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Breach {
    /// The bytes are not TLS records (`protocol_mismatch`).
    NotTls,
    /// TLS records, but a rule or limit broken; the alert RFC 8446 names for it.
    Violation(TlsAlert),
}

/// The breach behind a protocol error; `None` for errors that are not about the peer's
/// messages (certificates, alerts, our own failures).
pub(crate) fn breach(err: &Error) -> Option<Breach> {
    use TlsAlert as A;
    let alert = match err {
        // The record header is not TLS: content type outside 20..=24, or a version TLS never
        // used (RFC 8446 section 5.1).
        Error::InvalidMessage(
            InvalidMessage::InvalidContentType | InvalidMessage::UnknownProtocolVersion,
        ) => return Some(Breach::NotTls),
        // A record longer than 2^14 + 256 bytes, ciphertext or plaintext (RFC 8446 section 5.2).
        Error::InvalidMessage(InvalidMessage::MessageTooLarge) | Error::PeerSentOversizedRecord => {
            A::RecordOverflow
        }
        // A message that does not parse or breaks a size limit; rustls keeps handshake messages,
        // a Certificate message among them, to 64 KiB (rustls `MAX_HANDSHAKE_SIZE`), so a chain
        // above that ends here as `HandshakePayloadTooLarge`.
        Error::InvalidMessage(_) => A::DecodeError,
        // A record that fails authentication (RFC 8446 section 5.2).
        Error::DecryptError => A::BadRecordMac,
        // The wrong message for the state, or too many of one: alerts, empty fragments, key
        // updates, renegotiation requests (rustls' limits against a peer spinning the client).
        Error::InappropriateMessage { .. }
        | Error::InappropriateHandshakeMessage { .. }
        | Error::PeerMisbehaved(
            PeerMisbehaved::TooManyWarningAlertsReceived
            | PeerMisbehaved::TooManyEmptyFragments
            | PeerMisbehaved::TooManyKeyUpdateRequests
            | PeerMisbehaved::TooManyRenegotiationRequests
            | PeerMisbehaved::IllegalMiddleboxChangeCipherSpec
            | PeerMisbehaved::MessageInterleavedWithHandshakeMessage
            | PeerMisbehaved::KeyEpochWithPendingFragment,
        ) => A::UnexpectedMessage,
        // An extension we did not offer (RFC 8446 section 4.2).
        Error::PeerMisbehaved(
            PeerMisbehaved::UnsolicitedServerHelloExtension
            | PeerMisbehaved::UnsolicitedEncryptedExtension
            | PeerMisbehaved::UnsolicitedCertExtension
            | PeerMisbehaved::UnsolicitedSctList
            | PeerMisbehaved::UnsolicitedEchExtension,
        ) => A::UnsupportedExtension,
        // Every other rule: a choice we did not offer, a bad key share, a retry that changed
        // what it must not (RFC 8446 sections 4.1 and 4.2, `illegal_parameter`).
        Error::PeerMisbehaved(_) => A::IllegalParameter,
        _ => return None,
    };
    Some(Breach::Violation(alert))
}

#[cfg(test)]
mod tests {
    use super::*;
    use TlsAlert as A;

    #[test]
    fn only_a_foreign_record_header_is_not_tls() {
        for kind in [
            InvalidMessage::InvalidContentType,
            InvalidMessage::UnknownProtocolVersion,
        ] {
            assert_eq!(breach(&Error::InvalidMessage(kind)), Some(Breach::NotTls));
        }
        let cases = [
            (
                Error::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge),
                A::DecodeError,
            ),
            (Error::PeerSentOversizedRecord, A::RecordOverflow),
            (
                Error::InvalidMessage(InvalidMessage::MessageTooLarge),
                A::RecordOverflow,
            ),
            (
                PeerMisbehaved::TooManyWarningAlertsReceived.into(),
                A::UnexpectedMessage,
            ),
            (
                PeerMisbehaved::SelectedUnofferedCipherSuite.into(),
                A::IllegalParameter,
            ),
            (Error::DecryptError, A::BadRecordMac),
        ];
        for (err, alert) in cases {
            assert_eq!(breach(&err), Some(Breach::Violation(alert)), "{err:?}");
        }
        assert_eq!(breach(&Error::NoCertificatesPresented), None);
    }
}
