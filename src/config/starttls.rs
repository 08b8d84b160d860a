//! `tcp.starttls`: the protocols whose own TLS upgrade the prober speaks before the handshake.
//! [`StarttlsProtocol::ALL`] is the one table naming them, for the config, the docs and the
//! `probe --starttls` flag; `prober::starttls` holds one dialogue per protocol.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fields::StrVisitor;

/// A protocol with a TLS upgrade inside its plain-text session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StarttlsProtocol {
    /// SMTP `STARTTLS`, RFC 3207 (ports 25, 587).
    Smtp,
    /// LMTP `STARTTLS` after `LHLO`, RFC 2033 with RFC 3207 (port 24).
    Lmtp,
    /// IMAP `STARTTLS`, RFC 9051 section 6.2.1 (RFC 3501; port 143).
    Imap,
    /// POP3 `STLS`, RFC 2595 section 4 (port 110).
    Pop3,
    /// FTP `AUTH TLS`, RFC 4217 section 4 (port 21).
    Ftp,
    /// XMPP client-to-server stream `<starttls/>`, RFC 6120 section 5 (port 5222).
    Xmpp,
    /// XMPP server-to-server stream `<starttls/>`, RFC 6120 section 5 (port 5269).
    XmppServer,
    /// LDAP StartTLS extended operation, RFC 4511 section 4.14 (port 389).
    Ldap,
    /// PostgreSQL SSLRequest, PostgreSQL protocol "SSL Session Encryption" (port 5432).
    Postgres,
    /// MySQL / MariaDB SSLRequest packet after the server greeting, MySQL client/server
    /// protocol "Protocol::SSLRequest" (port 3306).
    Mysql,
    /// NNTP `STARTTLS`, RFC 4642 (port 119).
    Nntp,
    /// ManageSieve `STARTTLS`, RFC 5804 section 2.2 (port 4190).
    Sieve,
}

impl StarttlsProtocol {
    /// Every protocol, in the order the docs list them.
    pub const ALL: [StarttlsProtocol; 12] = [
        StarttlsProtocol::Smtp,
        StarttlsProtocol::Lmtp,
        StarttlsProtocol::Imap,
        StarttlsProtocol::Pop3,
        StarttlsProtocol::Ftp,
        StarttlsProtocol::Xmpp,
        StarttlsProtocol::XmppServer,
        StarttlsProtocol::Ldap,
        StarttlsProtocol::Postgres,
        StarttlsProtocol::Mysql,
        StarttlsProtocol::Nntp,
        StarttlsProtocol::Sieve,
    ];

    /// The config and CLI spelling: `smtp`, `xmpp-server`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            StarttlsProtocol::Smtp => "smtp",
            StarttlsProtocol::Lmtp => "lmtp",
            StarttlsProtocol::Imap => "imap",
            StarttlsProtocol::Pop3 => "pop3",
            StarttlsProtocol::Ftp => "ftp",
            StarttlsProtocol::Xmpp => "xmpp",
            StarttlsProtocol::XmppServer => "xmpp-server",
            StarttlsProtocol::Ldap => "ldap",
            StarttlsProtocol::Postgres => "postgres",
            StarttlsProtocol::Mysql => "mysql",
            StarttlsProtocol::Nntp => "nntp",
            StarttlsProtocol::Sieve => "sieve",
        }
    }

    /// The specification the dialogue follows.
    pub fn spec(self) -> &'static str {
        match self {
            StarttlsProtocol::Smtp => "RFC 3207",
            StarttlsProtocol::Lmtp => "RFC 2033, RFC 3207",
            StarttlsProtocol::Imap => "RFC 9051 section 6.2.1",
            StarttlsProtocol::Pop3 => "RFC 2595 section 4",
            StarttlsProtocol::Ftp => "RFC 4217 section 4",
            StarttlsProtocol::Xmpp | StarttlsProtocol::XmppServer => "RFC 6120 section 5",
            StarttlsProtocol::Ldap => "RFC 4511 section 4.14",
            StarttlsProtocol::Postgres => "PostgreSQL protocol, SSL Session Encryption",
            StarttlsProtocol::Mysql => "MySQL protocol, Protocol::SSLRequest",
            StarttlsProtocol::Nntp => "RFC 4642",
            StarttlsProtocol::Sieve => "RFC 5804 section 2.2",
        }
    }

    /// The protocol named `name` (its [`as_str`](Self::as_str) spelling).
    ///
    /// Errors: a one-line reason listing the known names.
    pub fn parse(name: &str) -> Result<StarttlsProtocol, String> {
        StarttlsProtocol::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = StarttlsProtocol::ALL.iter().map(|p| p.as_str()).collect();
                format!(
                    "unknown STARTTLS protocol `{name}`, expected one of {}",
                    known.join(", ")
                )
            })
    }
}

impl fmt::Display for StarttlsProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StarttlsProtocol {
    /// One of the names of [`StarttlsProtocol::ALL`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new(
            "a STARTTLS protocol name",
            StarttlsProtocol::parse,
        ))
    }
}

impl Serialize for StarttlsProtocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back() {
        for p in StarttlsProtocol::ALL {
            assert_eq!(StarttlsProtocol::parse(p.as_str()), Ok(p));
        }
        let err = StarttlsProtocol::parse("smtps").unwrap_err();
        assert!(err.starts_with("unknown STARTTLS protocol `smtps`, expected one of smtp, lmtp"));
    }
}
