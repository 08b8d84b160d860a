//! MySQL / MariaDB SSLRequest (MySQL client/server protocol, "Protocol::HandshakeV10" and
//! "Protocol::SSLRequest"): read the server's greeting packet, check its CLIENT_SSL capability
//! flag, answer with the 32-byte SSLRequest packet; the TLS handshake follows at once.

use super::{mismatch, refused, Wire, MAX_UNIT_BYTES};
use crate::report::{Detail, Failure, StepLog, UpgradeAnswer};

/// CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION.
const CLIENT_FLAGS: u32 = 0x0001 | 0x0200 | CLIENT_SSL | 0x8000;
/// The capability flag of TLS support.
const CLIENT_SSL: u32 = 0x0800;
/// Largest packet announced: 16 MiB, as the mysql client does.
const MAX_PACKET: u32 = 1 << 24;
/// utf8mb4_general_ci.
const CHARSET: u8 = 45;

/// Upgrades a MySQL connection: an ERR_Packet instead of the greeting is `starttls_refused` /
/// `ERR_Packet`, a greeting without CLIENT_SSL `starttls_refused` / `starttls_not_offered`,
/// anything but protocol version 10 `protocol_mismatch`.
pub async fn upgrade(wire: &mut Wire, log: &mut StepLog) -> Result<(), Failure> {
    let header = wire.exact(4, log).await?;
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    if len == 0 || len > MAX_UNIT_BYTES {
        return Err(mismatch(Detail::None));
    }
    let greeting = wire.exact(len, log).await?;
    let flags = capabilities(&greeting)?;
    log.note(format!("STARTTLS: MySQL server capabilities {flags:#010x}"));
    if flags & CLIENT_SSL == 0 {
        return Err(refused(UpgradeAnswer::NotOffered));
    }
    let mut request = vec![32, 0, 0, header[3].wrapping_add(1)];
    request.extend_from_slice(&CLIENT_FLAGS.to_le_bytes());
    request.extend_from_slice(&MAX_PACKET.to_le_bytes());
    request.push(CHARSET);
    request.extend_from_slice(&[0; 23]);
    wire.send(&request, log).await
}

/// The capability flags of a HandshakeV10 payload: protocol version 10, the NUL-terminated
/// server version, connection id (4), auth data (8), filler (1), the flags' lower 2 bytes,
/// then, when present, charset (1), status (2) and the upper 2 bytes.
fn capabilities(greeting: &[u8]) -> Result<u32, Failure> {
    match greeting.first() {
        Some(10) => {}
        Some(0xff) => return Err(refused(UpgradeAnswer::MysqlErr)),
        _ => return Err(mismatch(Detail::None)),
    }
    let version_end = greeting
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| mismatch(Detail::None))?;
    let at = version_end + 1 + 4 + 8 + 1;
    let lower = greeting
        .get(at..at + 2)
        .ok_or_else(|| mismatch(Detail::None))?;
    let upper = greeting.get(at + 5..at + 7).unwrap_or(&[0, 0]);
    Ok(u32::from_le_bytes([lower[0], lower[1], upper[0], upper[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_flags_are_read_from_the_greeting() {
        let mut greeting = vec![10];
        greeting.extend_from_slice(b"10.11.6-MariaDB\0");
        greeting.extend_from_slice(&[1, 0, 0, 0]);
        greeting.extend_from_slice(b"abcdefgh\0");
        greeting.extend_from_slice(&[0xfe, 0xff, 0x2d, 0x02, 0x00, 0xff, 0x81]);
        assert_eq!(capabilities(&greeting).unwrap(), 0x81ff_fffe);
        let without_ssl = {
            let mut g = greeting.clone();
            let at = version_flags_at(&g);
            g[at + 1] &= !0x08;
            g
        };
        assert_eq!(capabilities(&without_ssl).unwrap() & CLIENT_SSL, 0);
        assert_eq!(
            capabilities(&[0xff, 0x6a, 0x04])
                .unwrap_err()
                .detail
                .as_str(),
            "ERR_Packet"
        );
        assert_eq!(
            capabilities(b"SSH-2.0").unwrap_err().class.as_str(),
            "protocol_mismatch"
        );
        assert_eq!(
            capabilities(&[10, b'x', 0, 1]).unwrap_err().class.as_str(),
            "protocol_mismatch"
        );
    }

    fn version_flags_at(greeting: &[u8]) -> usize {
        greeting.iter().position(|&b| b == 0).unwrap() + 14
    }
}
