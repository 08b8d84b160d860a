//! SMTP `STARTTLS` (RFC 3207) and LMTP, which is SMTP with `LHLO` (RFC 2033 section 4.1):
//! greeting 220, `EHLO`/`LHLO` whose 250 reply lists the `STARTTLS` keyword, `STARTTLS`, 220.

use std::net::IpAddr;

use super::{refused, Wire};
use crate::report::{Failure, StepLog, UpgradeAnswer};

/// The hello command of the dialect.
#[derive(Debug, Clone, Copy)]
pub enum Hello {
    /// SMTP's `EHLO` (RFC 5321 section 4.1.1.1).
    Ehlo,
    /// LMTP's `LHLO` (RFC 2033 section 4.1).
    Lhlo,
}

/// Upgrades an SMTP or LMTP session; a reply code other than the one expected is
/// `starttls_refused` with that code (e.g. `554` greeting, `502` to STARTTLS), no `STARTTLS`
/// keyword in the hello reply is `starttls_refused` / `starttls_not_offered`.
pub async fn upgrade(wire: &mut Wire, hello: Hello, log: &mut StepLog) -> Result<(), Failure> {
    wire.expect_code(220, log).await?;
    let verb = match hello {
        Hello::Ehlo => "EHLO",
        Hello::Lhlo => "LHLO",
    };
    let command = format!("{verb} {}\r\n", address_literal(wire.local_ip()));
    wire.send(command.as_bytes(), log).await?;
    let keywords = wire.expect_code(250, log).await?;
    if !offers_starttls(&keywords) {
        return Err(refused(UpgradeAnswer::NotOffered));
    }
    wire.send(b"STARTTLS\r\n", log).await?;
    wire.expect_code(220, log).await?;
    Ok(())
}

/// The client's name in the hello: its address literal (RFC 5321 section 4.1.3), as a client
/// without a domain name of its own must send.
fn address_literal(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(ip)) => format!("[{ip}]"),
        Some(IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        None => "[127.0.0.1]".to_string(),
    }
}

/// Whether an EHLO reply (one text per line, the first being the server's name) lists the
/// `STARTTLS` keyword, case-insensitively (RFC 5321 section 4.1.1.1).
fn offers_starttls(texts: &[String]) -> bool {
    texts.iter().skip(1).any(|t| {
        t.split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keyword_counts_only_after_the_greeting_line() {
        let texts = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(offers_starttls(&texts(&["mx", "PIPELINING", "starttls"])));
        assert!(!offers_starttls(&texts(&["STARTTLS", "PIPELINING"])));
        assert!(!offers_starttls(&texts(&["mx", "X-STARTTLS"])));
        assert_eq!(
            address_literal("2001:db8::1".parse().ok()),
            "[IPv6:2001:db8::1]"
        );
    }
}
