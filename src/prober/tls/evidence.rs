//! The class of a rejected certificate chain, from evidence any TLS stack can give: the class
//! its own verdict maps to, and whether the chain reaches a trust anchor at all
//! ([`super::path::Reach`]).
//!
//! The order follows what the operator has to fix. A chain that leads to no trusted root is
//! `tls_cert_untrusted` whatever else is wrong with its leaf (a `CA:TRUE` leaf, a key usage),
//! because the fix is a CA; this is what Go's verifier reports for the self-signed certificate
//! `openssl req -x509` makes. Only a chain that does reach a trusted root and still has an
//! unusable certificate is `tls_cert_invalid`, with the weakness in `detail` when a weak key or
//! signature algorithm is the reason. Dates and the server name keep their own classes, as the
//! verifiers report them first.

use super::path::Reach;
use crate::report::{CertWeakness, Detail, FailureClass};

/// The class and detail of a chain the stack rejected with `stack` (its own verdict mapped to a
/// class, e.g. by [`super::classify::classify_rustls`]), given how the chain stands to the
/// trust anchors.
pub(crate) fn certificate_class(stack: FailureClass, reach: Reach) -> (FailureClass, Detail) {
    use FailureClass as F;
    match (stack, reach) {
        // Reaching a trusted root only through a weak key or signature: the weakness is the
        // reason (rustls reports it as a bad signature, OpenSSL as "key too small").
        (F::TlsCertUntrusted | F::TlsCertInvalid, Reach::Weak(w)) => {
            (F::TlsCertInvalid, Detail::CertWeakness(w))
        }
        // No path to a trusted root, whatever else the leaf gets wrong.
        (F::TlsCertUntrusted | F::TlsCertInvalid, Reach::None) => {
            (F::TlsCertUntrusted, Detail::None)
        }
        // A path exists, yet the stack refused it: path length, CA flags, key usage.
        (F::TlsCertUntrusted | F::TlsCertInvalid, Reach::Anchor) => {
            (F::TlsCertInvalid, Detail::None)
        }
        // Dates and names, and anything that is no certificate class.
        (class, _) => (class, Detail::None),
    }
}

/// The class of a handshake whose signature (CertificateVerify, RFC 8446 section 4.4.3, or
/// ServerKeyExchange, RFC 5246 section 7.4.3) did not verify: when the leaf's key is an RSA key
/// under 2048 bits the verifier refused the key itself, which is `tls_cert_invalid`; `None`
/// otherwise (the stack's own class stands).
pub(crate) fn handshake_signature_class(weak_leaf_key: bool) -> Option<(FailureClass, Detail)> {
    weak_leaf_key.then_some((
        FailureClass::TlsCertInvalid,
        Detail::CertWeakness(CertWeakness::RsaKey),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureClass as F;

    #[test]
    fn no_path_is_untrusted_whatever_the_leaf() {
        for stack in [F::TlsCertInvalid, F::TlsCertUntrusted] {
            assert_eq!(
                certificate_class(stack, Reach::None),
                (F::TlsCertUntrusted, Detail::None)
            );
            assert_eq!(
                certificate_class(stack, Reach::Anchor),
                (F::TlsCertInvalid, Detail::None)
            );
            let weak = Detail::CertWeakness(CertWeakness::SignatureAlgorithm);
            assert_eq!(
                certificate_class(stack, Reach::Weak(CertWeakness::SignatureAlgorithm)),
                (F::TlsCertInvalid, weak)
            );
        }
    }

    #[test]
    fn dates_and_names_keep_their_class() {
        for stack in [
            F::TlsCertExpired,
            F::TlsCertNotYetValid,
            F::TlsCertHostnameMismatch,
        ] {
            for reach in [
                Reach::None,
                Reach::Anchor,
                Reach::Weak(CertWeakness::RsaKey),
            ] {
                assert_eq!(certificate_class(stack, reach), (stack, Detail::None));
            }
        }
    }
}
