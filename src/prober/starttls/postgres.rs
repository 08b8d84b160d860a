//! PostgreSQL SSLRequest (PostgreSQL documentation, "Frontend/Backend Protocol", section "SSL
//! Session Encryption"): the 8 bytes Int32(8) Int32(80877103), answered by one byte, `S` to go
//! ahead, `N` when the server has SSL off.

use super::{mismatch, refused, Wire};
use crate::report::{Detail, Failure, StepLog, UpgradeAnswer};

/// Length 8, then the SSLRequest code 1234 << 16 | 5679, both big-endian.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Upgrades a PostgreSQL connection: `N` is `starttls_refused` / `N`, an ErrorResponse
/// (servers before 7.0, or a fatal error at connect) `starttls_refused` / `E`, any other byte
/// `protocol_mismatch`.
pub async fn upgrade(wire: &mut Wire, log: &mut StepLog) -> Result<(), Failure> {
    wire.send(&SSL_REQUEST, log).await?;
    let answer = wire.exact(1, log).await?;
    log.note(format!(
        "STARTTLS: the server answered {:?}",
        char::from(answer[0])
    ));
    match answer[0] {
        b'S' => Ok(()),
        b'N' => Err(refused(UpgradeAnswer::PostgresNo)),
        b'E' => Err(refused(UpgradeAnswer::PostgresError)),
        _ => Err(mismatch(Detail::None)),
    }
}
