//! LDAP StartTLS (RFC 4511 section 4.14): an ExtendedRequest with requestName
//! 1.3.6.1.4.1.1466.20037, answered by an ExtendedResponse whose resultCode is success (0).
//! The BER of both is small and fixed enough to be written and read here (RFC 4511 section
//! 5.1: definite lengths only).

use super::{mismatch, refused, Wire, MAX_UNIT_BYTES};
use crate::report::{Detail, Failure, LdapResult, StepLog};

/// LDAPMessage { messageID 1, extendedReq [APPLICATION 23] { requestName [0]
/// "1.3.6.1.4.1.1466.20037" } }.
const START_TLS_REQUEST: &[u8] = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x16\
1.3.6.1.4.1.1466.20037";

/// Upgrades an LDAP connection: a resultCode other than success is `starttls_refused` with its
/// RFC 4511 name (slapd without TLS answers `protocolError` or `unavailable`), a reply that is
/// not an LDAPMessage with an ExtendedResponse `protocol_mismatch`.
pub async fn upgrade(wire: &mut Wire, log: &mut StepLog) -> Result<(), Failure> {
    wire.send(START_TLS_REQUEST, log).await?;
    let header = wire.exact(2, log).await?;
    if header[0] != 0x30 {
        return Err(mismatch(Detail::None));
    }
    let len = match header[1] {
        short @ 0..=0x7f => usize::from(short),
        long => {
            let n = usize::from(long & 0x7f);
            if n == 0 || n > 3 {
                return Err(mismatch(Detail::None));
            }
            let bytes = wire.exact(n, log).await?;
            bytes.iter().fold(0, |len, &b| len << 8 | usize::from(b))
        }
    };
    if len > MAX_UNIT_BYTES {
        return Err(mismatch(Detail::None));
    }
    let message = wire.exact(len, log).await?;
    let code = result_code(&message).ok_or_else(|| mismatch(Detail::None))?;
    log.note(format!("STARTTLS: LDAP resultCode {code}"));
    match LdapResult::from_code(code) {
        None => Ok(()),
        Some(result) => Err(refused(result)),
    }
}

/// One BER element of `buf`: its tag, its content and what follows it.
fn element(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0, |len, &b| len << 8 | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The resultCode of an LDAPMessage's content: messageID INTEGER, then an ExtendedResponse
/// ([APPLICATION 24], tag 0x78) whose first element is the ENUMERATED resultCode. The
/// Notice of Disconnection a server sends before closing (RFC 4511 section 4.4.1) has the
/// same shape, with messageID 0.
fn result_code(message: &[u8]) -> Option<u32> {
    let (tag, _id, rest) = element(message)?;
    if tag != 0x02 {
        return None;
    }
    let (tag, op, _) = element(rest)?;
    if tag != 0x78 {
        return None;
    }
    let (tag, code, _) = element(op)?;
    if tag != 0x0a || code.is_empty() || code.len() > 3 {
        return None;
    }
    Some(code.iter().fold(0, |v, &b| v << 8 | u32::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_the_rfc_4511_extended_request() {
        assert_eq!(START_TLS_REQUEST.len(), 31);
        let (tag, content, rest) = element(START_TLS_REQUEST).unwrap();
        assert_eq!((tag, content.len(), rest.len()), (0x30, 29, 0));
    }

    #[test]
    fn result_codes_are_read_from_the_extended_response() {
        // slapd's answer without TLS: protocolError (2), "unsupported extended operation".
        let no_tls = b"\x02\x01\x01\x78\x07\x0a\x01\x02\x04\x00\x04\x00";
        assert_eq!(result_code(no_tls), Some(2));
        let ok = b"\x02\x01\x01\x78\x0c\x0a\x01\x00\x04\x00\x04\x00\x8a\x03abc";
        assert_eq!(result_code(ok), Some(0));
        assert_eq!(result_code(b"\x02\x01\x01\x61\x03\x0a\x01\x00"), None);
        assert_eq!(result_code(b"\x02\x05\x01"), None);
    }
}
