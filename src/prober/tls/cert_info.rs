//! Facts about one presented certificate, in the shape blackbox_exporter labels
//! `probe_ssl_last_chain_info` with (prober/tls.go: SHA-256 fingerprint, `Subject.String()`,
//! `Issuer.String()`, DNS SANs joined with ",", serial as `%x` of its bytes).

use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;

use super::dn::go_name_string;
use crate::report::CertInfo;

/// Parses one DER certificate (RFC 5280) into a [`CertInfo`] and its notBefore (unix seconds).
///
/// Returns `None` when the DER does not parse as a certificate; such a certificate cannot be
/// described, and rustls will reject it on its own (`BadEncoding`).
pub(crate) fn cert_facts(der: &[u8]) -> Option<(CertInfo, i64)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let (key, signature_algorithm, self_issued) = super::algorithms::describe(der)?;
    let subject_alternative = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(*dns),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    let info = CertInfo {
        fingerprint_sha256: hex::encode(Sha256::digest(der)),
        subject: go_name_string(cert.subject()),
        issuer: go_name_string(cert.issuer()),
        subject_alternative,
        serial_number: serial_hex(cert.raw_serial()),
        not_after: cert.validity().not_after.timestamp(),
        not_before: cert.validity().not_before.timestamp(),
        key,
        signature_algorithm,
        self_issued,
    };
    Some((info, cert.validity().not_before.timestamp()))
}

/// The notAfter of one DER certificate (RFC 5280 section 4.1.2.5), unix seconds; `None` when
/// it does not parse.
pub(crate) fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// A DER INTEGER's content (RFC 5280 section 4.1.2.2) as blackbox_exporter prints the serial
/// since 0.26 (prober/tls.go: `fmt.Sprintf("%x", SerialNumber.Bytes())`): the magnitude's
/// big-endian bytes, two lowercase hex digits each, so serial 1 is `01` and 0x0bffbc is
/// `0bffbc`. DER's sign octet (a leading 0x00) is not part of the magnitude; serial 0 has no
/// byte and prints as the empty string. A negative serial (RFC 5280 forbids them, old CAs made
/// some) prints its absolute value, as `big.Int.Bytes` does.
fn serial_hex(raw: &[u8]) -> String {
    if raw.first().is_some_and(|b| b & 0x80 != 0) {
        return hex::encode(trim_zero_octets(&twos_complement_negation(raw)));
    }
    hex::encode(trim_zero_octets(raw))
}

/// `bytes` without its leading zero octets.
fn trim_zero_octets(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// The big-endian two's complement negation of `bytes` (invert, add one).
fn twos_complement_negation(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for b in out.iter_mut().rev() {
        let (sum, carry) = b.overflowing_add(1);
        *b = sum;
        if !carry {
            break;
        }
    }
    out
}

/// A unix time as `YYYY-MM-DD HH:MM:SS UTC`, for log lines (proleptic Gregorian calendar,
/// H. Hinnant's `civil_from_days`).
pub(crate) fn utc_string(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::{serial_hex, utc_string};

    /// Expected values are what Go prints for `fmt.Sprintf("%x", n.Bytes())`.
    #[test]
    fn serial_like_blackbox() {
        assert_eq!(serial_hex(&[0x01]), "01", "serial 1");
        assert_eq!(
            serial_hex(&[0x0b, 0xff, 0xbc]),
            "0bffbc",
            "first byte below 0x10"
        );
        assert_eq!(
            serial_hex(&[0x00, 0x0a, 0xbc]),
            "0abc",
            "DER sign octet dropped"
        );
        assert_eq!(
            serial_hex(&[0x00, 0x80, 0x01]),
            "8001",
            "sign octet before 0x80"
        );
        assert_eq!(serial_hex(&[0x7f, 0x01]), "7f01");
        assert_eq!(serial_hex(&[0x00]), "", "zero has no byte");
        assert_eq!(serial_hex(&[0xff]), "01", "-1");
        assert_eq!(serial_hex(&[0xff, 0x00]), "0100", "-256");
        assert_eq!(serial_hex(&[0x80]), "80", "-128");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_string(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_string(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_string(3_786_912_000), "2090-01-01 00:00:00 UTC");
    }
}
