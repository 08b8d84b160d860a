//! FTP `AUTH TLS` (RFC 4217 section 4): greeting 220 (after any 120 "wait"), `AUTH TLS`, 234.

use super::Wire;
use crate::report::{Failure, StepLog};

/// Upgrades an FTP control connection; a reply code other than the one expected is
/// `starttls_refused` with that code (vsftpd without TLS answers `530` to `AUTH TLS`).
pub async fn upgrade(wire: &mut Wire, log: &mut StepLog) -> Result<(), Failure> {
    let (mut code, _) = wire.reply(log).await?;
    // 120: "service ready in nnn minutes", then the real greeting (RFC 959 section 4.2).
    if code.code() == 120 {
        (code, _) = wire.reply(log).await?;
    }
    if code.code() != 220 {
        return Err(super::refused(code));
    }
    wire.send(b"AUTH TLS\r\n", log).await?;
    wire.expect_code(234, log).await?;
    Ok(())
}
