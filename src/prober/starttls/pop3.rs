//! POP3 `STLS` (RFC 2595 section 4): greeting `+OK`, `CAPA` (RFC 2449) listing `STLS`, `STLS`,
//! `+OK`.

use super::{mismatch, refused, Wire};
use crate::report::{Detail, Failure, StepLog, UpgradeAnswer};

/// Upgrades a POP3 session: `-ERR` to the greeting or to `STLS` is `starttls_refused` / `-ERR`,
/// a CAPA list without `STLS` is `starttls_refused` / `starttls_not_offered`, a greeting that
/// is neither `+OK` nor `-ERR` is `protocol_mismatch`.
pub async fn upgrade(wire: &mut Wire, log: &mut StepLog) -> Result<(), Failure> {
    status(&wire.line(log).await?)?;
    wire.send(b"CAPA\r\n", log).await?;
    // A server without CAPA answers -ERR: STLS is then simply tried.
    if status(&wire.line(log).await?).is_ok() {
        let caps = wire.dot_block(log).await?;
        if !caps.iter().any(|c| c.eq_ignore_ascii_case("STLS")) {
            return Err(refused(UpgradeAnswer::NotOffered));
        }
    }
    wire.send(b"STLS\r\n", log).await?;
    status(&wire.line(log).await?)
}

/// A POP3 status line: `+OK` passes, `-ERR` is refused, anything else is another protocol.
fn status(line: &str) -> Result<(), Failure> {
    if line.starts_with("+OK") {
        Ok(())
    } else if line.starts_with("-ERR") {
        Err(refused(UpgradeAnswer::Err))
    } else {
        Err(mismatch(Detail::None))
    }
}
