//! Facts about one presented certificate, in the shape blackbox_exporter labels
//! `probe_ssl_last_chain_info` with (prober/tls.go: SHA-256 fingerprint, `Subject.String()`,
//! `Issuer.String()`, DNS SANs joined with ",", serial as `%x`).

use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;

use super::dn::go_name_string;
use crate::report::CertInfo;

/// Parses one DER certificate (RFC 5280) into a [`CertInfo`].
///
/// Returns `None` when the DER does not parse as a certificate; such a certificate cannot be
/// described, and rustls will reject it on its own (`BadEncoding`).
pub(crate) fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
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
    Some(CertInfo {
        fingerprint_sha256: hex::encode(Sha256::digest(der)),
        subject: go_name_string(cert.subject()),
        issuer: go_name_string(cert.issuer()),
        subject_alternative,
        serial_number: serial_hex(cert.raw_serial()),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// A DER INTEGER's content as Go's `fmt.Sprintf("%x", serial)` prints a positive big.Int:
/// lowercase hex without leading zeros, `0` for zero.
fn serial_hex(raw: &[u8]) -> String {
    let digits = hex::encode(raw);
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
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

    #[test]
    fn serial_like_go() {
        assert_eq!(serial_hex(&[0x00, 0x0a, 0xbc]), "abc");
        assert_eq!(serial_hex(&[0x00]), "0");
        assert_eq!(serial_hex(&[0x7f, 0x01]), "7f01");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_string(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_string(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_string(3_786_912_000), "2090-01-01 00:00:00 UTC");
    }
}
