//! NNTP `STARTTLS` (RFC 4642): greeting 200 or 201, `CAPABILITIES` (RFC 3977 section 5.2)
//! listing `STARTTLS`, `STARTTLS`, 382.

use super::{refused, Wire};
use crate::report::{Failure, StepLog, UpgradeAnswer};

/// Upgrades an NNTP session; a reply code other than the one expected is `starttls_refused`
/// with that code (`580`: TLS temporarily unavailable, `502`: not permitted), a capability
/// list without `STARTTLS` is `starttls_refused` / `starttls_not_offered`.
pub async fn upgrade(wire: &mut Wire, log: &mut StepLog) -> Result<(), Failure> {
    let (code, _) = wire.reply(log).await?;
    if !matches!(code.code(), 200 | 201) {
        return Err(refused(code));
    }
    wire.send(b"CAPABILITIES\r\n", log).await?;
    let (code, _) = wire.reply(log).await?;
    // A server older than RFC 3977 has no CAPABILITIES (5xx): STARTTLS is then simply tried.
    if code.code() == 101 {
        let caps = wire.dot_block(log).await?;
        let offered = caps.iter().any(|c| {
            c.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
        });
        if !offered {
            return Err(refused(UpgradeAnswer::NotOffered));
        }
    }
    wire.send(b"STARTTLS\r\n", log).await?;
    wire.expect_code(382, log).await?;
    Ok(())
}
