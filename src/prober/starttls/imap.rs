//! IMAP `STARTTLS` (RFC 9051 section 6.2.1, RFC 3501 section 6.2.1): greeting `* OK`,
//! `CAPABILITY` listing `STARTTLS`, `STARTTLS`, tagged `OK`.

use super::{mismatch, refused, Wire, MAX_REPLY_LINES};
use crate::report::{Detail, Failure, StepLog, UpgradeAnswer};

/// Upgrades an IMAP session: a `BYE` greeting, or `NO`/`BAD` to a command, is
/// `starttls_refused` with that token; a capability list without `STARTTLS` is
/// `starttls_refused` / `starttls_not_offered`; a greeting that is not `* OK`, `* PREAUTH` or
/// `* BYE` is `protocol_mismatch`.
pub async fn upgrade(wire: &mut Wire, log: &mut StepLog) -> Result<(), Failure> {
    let greeting = wire.line(log).await?;
    match first_words(&greeting) {
        ("*", "OK") => {}
        // PREAUTH: already authenticated, STARTTLS is no longer allowed (RFC 9051 7.1.4).
        ("*", "PREAUTH") => return Err(refused(UpgradeAnswer::NotOffered)),
        ("*", "BYE") => return Err(refused(UpgradeAnswer::Bye)),
        _ => return Err(mismatch(Detail::None)),
    }
    wire.send(b"a1 CAPABILITY\r\n", log).await?;
    let untagged = tagged(wire, "a1", log).await?;
    let offered = untagged.iter().any(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some("*")
            && words
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("CAPABILITY"))
            && words.any(|w| w.eq_ignore_ascii_case("STARTTLS"))
    });
    if !offered {
        return Err(refused(UpgradeAnswer::NotOffered));
    }
    wire.send(b"a2 STARTTLS\r\n", log).await?;
    tagged(wire, "a2", log).await?;
    Ok(())
}

/// The first two words of a line.
fn first_words(line: &str) -> (&str, &str) {
    let mut words = line.split_whitespace();
    (words.next().unwrap_or(""), words.next().unwrap_or(""))
}

/// Reads up to the tagged response of `tag` and returns the untagged lines before it;
/// `NO`/`BAD` (or an untagged `BYE`) is `starttls_refused` with that token.
async fn tagged(wire: &mut Wire, tag: &str, log: &mut StepLog) -> Result<Vec<String>, Failure> {
    let mut untagged = Vec::new();
    for _ in 0..MAX_REPLY_LINES {
        let line = wire.line(log).await?;
        let (first, status) = first_words(&line);
        if first == tag {
            return match status.to_ascii_uppercase().as_str() {
                "OK" => Ok(untagged),
                "NO" => Err(refused(UpgradeAnswer::No)),
                "BAD" => Err(refused(UpgradeAnswer::Bad)),
                _ => Err(mismatch(Detail::None)),
            };
        }
        if first == "*" && status.eq_ignore_ascii_case("BYE") {
            return Err(refused(UpgradeAnswer::Bye));
        }
        untagged.push(line);
    }
    Err(mismatch(Detail::None))
}
