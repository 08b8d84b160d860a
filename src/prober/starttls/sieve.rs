//! ManageSieve `STARTTLS` (RFC 5804 section 2.2): the greeting is the capability list, one
//! quoted capability per line ending with `OK`; `"STARTTLS"` among them; `STARTTLS`, `OK`.

use super::{mismatch, refused, Wire, MAX_REPLY_LINES};
use crate::report::{Detail, Failure, StepLog, UpgradeAnswer};

/// Upgrades a ManageSieve session: `NO`/`BYE` is `starttls_refused` with that token, a
/// capability list without `"STARTTLS"` is `starttls_refused` / `starttls_not_offered`, a line
/// that is neither a quoted capability nor a response is `protocol_mismatch`.
pub async fn upgrade(wire: &mut Wire, log: &mut StepLog) -> Result<(), Failure> {
    let caps = response(wire, log).await?;
    let offered = caps.iter().any(|c| {
        c.split_whitespace()
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case("\"STARTTLS\""))
    });
    if !offered {
        return Err(refused(UpgradeAnswer::NotOffered));
    }
    wire.send(b"STARTTLS\r\n", log).await?;
    response(wire, log).await?;
    Ok(())
}

/// Reads the lines of one response up to its `OK`, `NO` or `BYE` (RFC 5804 section 1.3) and
/// returns the lines before it.
async fn response(wire: &mut Wire, log: &mut StepLog) -> Result<Vec<String>, Failure> {
    let mut lines = Vec::new();
    for _ in 0..MAX_REPLY_LINES {
        let line = wire.line(log).await?;
        let word = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match word.as_str() {
            "OK" => return Ok(lines),
            "NO" => return Err(refused(UpgradeAnswer::No)),
            "BYE" => return Err(refused(UpgradeAnswer::Bye)),
            _ if line.starts_with('"') => lines.push(line),
            _ => return Err(mismatch(Detail::None)),
        }
    }
    Err(mismatch(Detail::None))
}
