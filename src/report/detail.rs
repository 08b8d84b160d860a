//! The `detail` label of `probe_failure_info`: one closed set of machine tokens. Each token is an
//! errno name (errno(3)), a TLS alert name (RFC 8446 section 6, IANA "TLS Alerts" registry), a
//! DNS response code mnemonic (RFC 1035 section 4.1.1, RFC 6895), the name of an exporter bound
//! the peer broke (`line_too_long`), a certificate weakness, or what a server answered a STARTTLS
//! upgrade (a three-digit reply code, an answer token, an LDAP result name of RFC 4511 appendix
//! A), and `Display` prints exactly the label value. docs/metrics.md lists every value; a unit
//! test holds the two together.

use std::fmt;

/// Declares a fieldless label enum whose `as_str()` is the label value, with `ALL` in order and
/// a `Display` that prints `as_str()`.
macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $value:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("`", $value, "`")] $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $value,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Declares [`Errno`] from the libc constant names, so each name is spelled once.
macro_rules! errno_enum {
    ($($name:ident,)*) => {
        /// An OS error a probe can meet, named as errno(3) names it. Numbers outside this set
        /// (none of which connect(2), read(2), write(2), open(2) or socket(2) document) give an
        /// empty `detail`.
        #[allow(clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Errno {
            $(#[doc = concat!("`", stringify!($name), "`")] $name,)*
        }

        impl Errno {
            /// Every value, in declaration order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name),*];

            /// The errno of raw OS error number `code`, `None` outside the set.
            pub fn from_raw(code: i32) -> Option<Errno> {
                match code {
                    $(libc::$name => Some(Errno::$name),)*
                    _ => None,
                }
            }

            /// The number, as libc defines it on this platform.
            pub fn raw(self) -> i32 {
                match self {
                    $(Errno::$name => libc::$name,)*
                }
            }

            /// The symbolic name, e.g. `ECONNREFUSED`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Errno::$name => stringify!($name),)*
                }
            }
        }

        impl fmt::Display for Errno {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

errno_enum! {
    // What the peer or the path did (connect(2), tcp(7)).
    ECONNREFUSED, ECONNRESET, ECONNABORTED, EPIPE, ETIMEDOUT, EHOSTUNREACH, EHOSTDOWN,
    ENETUNREACH, ENETDOWN, ENONET, EACCES, EPERM, EPROTO,
    // What this host ran out of or refused (socket(2), bind(2), connect(2)).
    EADDRNOTAVAIL, EADDRINUSE, EAFNOSUPPORT, EPROTONOSUPPORT, EMFILE, ENFILE, ENOBUFS, ENOMEM,
    EAGAIN, EINTR, EINVAL, EBADF, ENOTCONN, EISCONN, EALREADY, EINPROGRESS, ENOPROTOOPT,
    EOPNOTSUPP, ENODEV,
    // Reading TLS files (open(2), read(2)).
    ENOENT, ENOTDIR, EISDIR, ELOOP, ENAMETOOLONG, EIO, ENXIO,
}

label_enum! {
    /// A TLS alert description, RFC 8446 section 6 and the IANA "TLS Alerts" registry, snake_case.
    TlsAlert {
        CloseNotify => "close_notify",
        UnexpectedMessage => "unexpected_message",
        BadRecordMac => "bad_record_mac",
        DecryptionFailed => "decryption_failed",
        RecordOverflow => "record_overflow",
        DecompressionFailure => "decompression_failure",
        HandshakeFailure => "handshake_failure",
        NoCertificate => "no_certificate",
        BadCertificate => "bad_certificate",
        UnsupportedCertificate => "unsupported_certificate",
        CertificateRevoked => "certificate_revoked",
        CertificateExpired => "certificate_expired",
        CertificateUnknown => "certificate_unknown",
        IllegalParameter => "illegal_parameter",
        UnknownCa => "unknown_ca",
        AccessDenied => "access_denied",
        DecodeError => "decode_error",
        DecryptError => "decrypt_error",
        ExportRestriction => "export_restriction",
        ProtocolVersion => "protocol_version",
        InsufficientSecurity => "insufficient_security",
        InternalError => "internal_error",
        InappropriateFallback => "inappropriate_fallback",
        UserCanceled => "user_canceled",
        NoRenegotiation => "no_renegotiation",
        MissingExtension => "missing_extension",
        UnsupportedExtension => "unsupported_extension",
        CertificateUnobtainable => "certificate_unobtainable",
        UnrecognizedName => "unrecognized_name",
        BadCertificateStatusResponse => "bad_certificate_status_response",
        BadCertificateHashValue => "bad_certificate_hash_value",
        UnknownPskIdentity => "unknown_psk_identity",
        CertificateRequired => "certificate_required",
        NoApplicationProtocol => "no_application_protocol",
        EncryptedClientHelloRequired => "encrypted_client_hello_required",
        /// An alert code the registry did not hold when this was written.
        Unknown => "unknown_alert",
    }
}

label_enum! {
    /// A DNS response code, as dig(1) prints it (RFC 1035 section 4.1.1, RFC 6895).
    Rcode {
        /// With class `dns_no_records`: the name exists but holds no address (NODATA, RFC 2308).
        NoError => "NOERROR",
        FormErr => "FORMERR",
        ServFail => "SERVFAIL",
        NxDomain => "NXDOMAIN",
        NotImp => "NOTIMP",
        Refused => "REFUSED",
        YxDomain => "YXDOMAIN",
        YxRrSet => "YXRRSET",
        NxRrSet => "NXRRSET",
        NotAuth => "NOTAUTH",
        NotZone => "NOTZONE",
        BadVers => "BADVERS",
        BadSig => "BADSIG",
        BadKey => "BADKEY",
        BadTime => "BADTIME",
        BadMode => "BADMODE",
        BadName => "BADNAME",
        BadAlg => "BADALG",
        BadTrunc => "BADTRUNC",
        BadCookie => "BADCOOKIE",
    }
}

label_enum! {
    /// A bound of the exporter's own that the peer's data broke; the exporter stops there
    /// rather than hold more.
    Limit {
        /// With class `expect_mismatch`: an `expect` step read a line longer than the line
        /// limit (64 KiB with its newline, Go's `bufio.MaxScanTokenSize`, where
        /// blackbox_exporter's scanner stops too). It is never matched in pieces.
        LineTooLong => "line_too_long",
    }
}

label_enum! {
    /// What a server answered a STARTTLS upgrade, when no reply code says it: the answer's own
    /// token as the protocol spells it, or `starttls_not_offered` when the server's capability
    /// list lacks the upgrade.
    UpgradeAnswer {
        /// SMTP/LMTP EHLO/LHLO keywords, IMAP/ManageSieve/NNTP capabilities, POP3 CAPA, XMPP
        /// stream features or the MySQL greeting's capability flags do not list the upgrade.
        NotOffered => "starttls_not_offered",
        /// IMAP (RFC 9051 section 7.1.2) or ManageSieve (RFC 5804 section 1.3) `NO`.
        No => "NO",
        /// IMAP `BAD` (RFC 9051 section 7.1.3).
        Bad => "BAD",
        /// IMAP or ManageSieve `BYE`: the server closes the session.
        Bye => "BYE",
        /// POP3 `-ERR` (RFC 1939 section 3).
        Err => "-ERR",
        /// PostgreSQL's `N` answer to SSLRequest: SSL is not enabled on the server.
        PostgresNo => "N",
        /// PostgreSQL's ErrorResponse (`E`) to SSLRequest.
        PostgresError => "E",
        /// XMPP `<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>` (RFC 6120 section 5.4.2.2).
        XmppFailure => "failure",
        /// An XMPP `<stream:error>` (RFC 6120 section 4.9).
        XmppStreamError => "stream_error",
        /// A MySQL ERR_Packet instead of the server greeting (e.g. host not allowed).
        MysqlErr => "ERR_Packet",
    }
}

label_enum! {
    /// What makes a certificate of a chain that reaches a trusted root unusable, with class
    /// `tls_cert_invalid`: a key or a signature algorithm the verifier refuses as too weak
    /// (NIST SP 800-131A: RSA keys under 2048 bits, SHA-1 and MD5 signatures).
    CertWeakness {
        /// An RSA key under 2048 bits signs the chain or the handshake.
        RsaKey => "weak_rsa_key",
        /// A certificate below the root is signed with SHA-1 or MD5 (RFC 6151, RFC 9155).
        SignatureAlgorithm => "weak_signature_algorithm",
    }
}

label_enum! {
    /// An LDAP resultCode other than success, named as RFC 4511 appendix A names it.
    LdapResult {
        OperationsError => "operationsError",
        ProtocolError => "protocolError",
        TimeLimitExceeded => "timeLimitExceeded",
        SizeLimitExceeded => "sizeLimitExceeded",
        AuthMethodNotSupported => "authMethodNotSupported",
        StrongerAuthRequired => "strongerAuthRequired",
        Referral => "referral",
        AdminLimitExceeded => "adminLimitExceeded",
        UnavailableCriticalExtension => "unavailableCriticalExtension",
        ConfidentialityRequired => "confidentialityRequired",
        Busy => "busy",
        Unavailable => "unavailable",
        UnwillingToPerform => "unwillingToPerform",
        Other => "other",
        /// A resultCode this list does not name.
        Unknown => "unknown_result",
    }
}

impl LdapResult {
    /// The result of resultCode `code` (RFC 4511 appendix A.1); `None` for success (0).
    pub fn from_code(code: u32) -> Option<LdapResult> {
        Some(match code {
            0 => return None,
            1 => LdapResult::OperationsError,
            2 => LdapResult::ProtocolError,
            3 => LdapResult::TimeLimitExceeded,
            4 => LdapResult::SizeLimitExceeded,
            7 => LdapResult::AuthMethodNotSupported,
            8 => LdapResult::StrongerAuthRequired,
            10 => LdapResult::Referral,
            11 => LdapResult::AdminLimitExceeded,
            12 => LdapResult::UnavailableCriticalExtension,
            13 => LdapResult::ConfidentialityRequired,
            51 => LdapResult::Busy,
            52 => LdapResult::Unavailable,
            53 => LdapResult::UnwillingToPerform,
            80 => LdapResult::Other,
            _ => LdapResult::Unknown,
        })
    }
}

/// Lowest and highest three-digit reply code (RFC 5321 section 4.2, RFC 959 section 4.2,
/// RFC 3977 section 3.2: first digit 1 to 5).
const REPLY_RANGE: std::ops::RangeInclusive<u16> = 100..=599;

/// Every reply code's digits, so that a code is a `&'static str` like every other token.
static REPLY_DIGITS: [[u8; 3]; 500] = {
    let mut all = [[0u8; 3]; 500];
    let mut i = 0;
    while i < 500 {
        let code = i + 100;
        all[i] = [
            b'0' + (code / 100) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
        ];
        i += 1;
    }
    all
};

/// A three-digit reply code of a line-based protocol (SMTP, LMTP, FTP, NNTP), 100 to 599.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// The code of the reply line `line` (its first three characters), `None` when they are not
    /// a code of 100 to 599.
    pub fn parse(line: &str) -> Option<ReplyCode> {
        let digits = line.get(..3)?;
        let code: u16 = digits.parse().ok()?;
        (digits.bytes().all(|b| b.is_ascii_digit()) && REPLY_RANGE.contains(&code))
            .then_some(ReplyCode(code))
    }

    /// The number.
    pub fn code(self) -> u16 {
        self.0
    }

    /// The digits, e.g. `454`.
    pub fn as_str(self) -> &'static str {
        let digits = &REPLY_DIGITS[usize::from(self.0 - REPLY_RANGE.start())];
        std::str::from_utf8(digits).unwrap_or("")
    }
}

label_enum! {
    /// A proxy's answer (phase `proxy`): a SOCKS5 reply field (RFC 1928 section 6) or an RFC 1929
    /// authentication status, or an HTTP CONNECT status code (RFC 9110 section 15).
    ProxyReply {
        SocksGeneralFailure => "socks_general_failure",
        SocksNotAllowed => "socks_not_allowed",
        SocksNetworkUnreachable => "socks_network_unreachable",
        SocksHostUnreachable => "socks_host_unreachable",
        SocksConnectionRefused => "socks_connection_refused",
        SocksTtlExpired => "socks_ttl_expired",
        SocksCommandNotSupported => "socks_command_not_supported",
        SocksAddressTypeNotSupported => "socks_address_type_not_supported",
        SocksNoAcceptableMethods => "socks_no_acceptable_methods",
        SocksAuthFailed => "socks_auth_failed",
        Http403 => "http_403",
        Http407 => "http_407",
        Http502 => "http_502",
        Http503 => "http_503",
        Http504 => "http_504",
        HttpOther => "http_other",
    }
}

/// The evidence behind a failure: the `detail` label. `Display` prints the label value, empty
/// for [`Detail::None`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Detail {
    /// No token: the class says all there is.
    #[default]
    None,
    /// The OS error behind the failure.
    Errno(Errno),
    /// The fatal alert the peer sent (class `tls_alert`).
    TlsAlert(TlsAlert),
    /// The resolver's response code.
    Rcode(Rcode),
    /// The exporter's own bound the peer broke.
    Limit(Limit),
    /// Why a certificate under a trusted root is unusable (class `tls_cert_invalid`).
    CertWeakness(CertWeakness),
    /// The reply code a server answered a STARTTLS upgrade with (class `starttls_refused`).
    Reply(ReplyCode),
    /// A server's answer to a STARTTLS upgrade, as a token (class `starttls_refused`).
    Upgrade(UpgradeAnswer),
    /// The LDAP resultCode of a refused StartTLS extended operation (class `starttls_refused`).
    Ldap(LdapResult),
    /// The proxy's answer (phase `proxy`).
    ProxyReply(ProxyReply),
}

impl Detail {
    /// The detail of raw OS error `code`: its errno, or none outside [`Errno`]'s set.
    pub fn errno(code: Option<i32>) -> Detail {
        code.and_then(Errno::from_raw)
            .map_or(Detail::None, Detail::Errno)
    }

    /// The label value: an errno name, an alert name, an rcode mnemonic, a limit, or `""`.
    pub fn as_str(self) -> &'static str {
        match self {
            Detail::None => "",
            Detail::Errno(e) => e.as_str(),
            Detail::TlsAlert(a) => a.as_str(),
            Detail::Rcode(r) => r.as_str(),
            Detail::Limit(l) => l.as_str(),
            Detail::CertWeakness(w) => w.as_str(),
            Detail::Reply(c) => c.as_str(),
            Detail::Upgrade(a) => a.as_str(),
            Detail::Ldap(l) => l.as_str(),
            Detail::ProxyReply(p) => p.as_str(),
        }
    }

    /// True for [`Detail::None`].
    pub fn is_empty(self) -> bool {
        self == Detail::None
    }

    /// Every label value but the empty one and the reply codes (documented as a range): errno
    /// names, alert names, rcodes, limits, certificate weaknesses, upgrade answers and LDAP
    /// results.
    pub fn all_values() -> impl Iterator<Item = &'static str> {
        let errnos = Errno::ALL.iter().map(|e| e.as_str());
        let alerts = TlsAlert::ALL.iter().map(|a| a.as_str());
        let rcodes = Rcode::ALL.iter().map(|r| r.as_str());
        let limits = Limit::ALL.iter().map(|l| l.as_str());
        let weaknesses = CertWeakness::ALL.iter().map(|w| w.as_str());
        let answers = UpgradeAnswer::ALL.iter().map(|a| a.as_str());
        let ldap = LdapResult::ALL.iter().map(|l| l.as_str());
        let replies = ProxyReply::ALL.iter().map(|p| p.as_str());
        errnos
            .chain(alerts)
            .chain(rcodes)
            .chain(limits)
            .chain(weaknesses)
            .chain(answers)
            .chain(ldap)
            .chain(replies)
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Errno> for Detail {
    fn from(e: Errno) -> Detail {
        Detail::Errno(e)
    }
}

impl From<TlsAlert> for Detail {
    fn from(a: TlsAlert) -> Detail {
        Detail::TlsAlert(a)
    }
}

impl From<ProxyReply> for Detail {
    fn from(p: ProxyReply) -> Detail {
        Detail::ProxyReply(p)
    }
}

impl From<Rcode> for Detail {
    fn from(r: Rcode) -> Detail {
        Detail::Rcode(r)
    }
}

impl From<Limit> for Detail {
    fn from(l: Limit) -> Detail {
        Detail::Limit(l)
    }
}

impl From<ReplyCode> for Detail {
    fn from(c: ReplyCode) -> Detail {
        Detail::Reply(c)
    }
}

impl From<UpgradeAnswer> for Detail {
    fn from(a: UpgradeAnswer) -> Detail {
        Detail::Upgrade(a)
    }
}

impl From<LdapResult> for Detail {
    fn from(l: LdapResult) -> Detail {
        Detail::Ldap(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_are_the_libc_constants() {
        assert_eq!(
            Detail::errno(Some(libc::ECONNREFUSED)).as_str(),
            "ECONNREFUSED"
        );
        assert_eq!(Detail::errno(Some(libc::EWOULDBLOCK)).as_str(), "EAGAIN");
        assert_eq!(Detail::errno(None), Detail::None);
        assert_eq!(Detail::errno(Some(100_000)), Detail::None);
        for e in Errno::ALL {
            assert_eq!(Errno::from_raw(e.raw()), Some(*e), "{e} is no alias");
        }
    }

    #[test]
    fn reply_codes_are_three_digits_of_100_to_599() {
        assert_eq!(
            ReplyCode::parse("454 4.7.0 TLS not available").map(ReplyCode::as_str),
            Some("454")
        );
        assert_eq!(ReplyCode::parse("100").map(ReplyCode::as_str), Some("100"));
        assert_eq!(
            ReplyCode::parse("599-x").map(ReplyCode::as_str),
            Some("599")
        );
        for bad in ["099 x", "600 x", "+45 x", "45", "", "4 5", "é12"] {
            assert_eq!(ReplyCode::parse(bad), None, "{bad:?}");
        }
        for code in REPLY_RANGE {
            let c = ReplyCode::parse(&code.to_string()).unwrap();
            assert_eq!(c.as_str(), code.to_string());
            assert_eq!(c.code(), code);
        }
    }

    /// docs/metrics.md lists every `detail` value, so the documented set is the enum's set.
    #[test]
    fn every_detail_value_is_documented() {
        let docs = include_str!("../../docs/metrics.md");
        let section = docs
            .split("### `detail` values")
            .nth(1)
            .expect("docs/metrics.md has a `detail` values section");
        let section = section.split("\n### ").next().unwrap_or(section);
        let documented: std::collections::BTreeSet<&str> =
            section.split('`').skip(1).step_by(2).collect();
        let generated: std::collections::BTreeSet<&str> = Detail::all_values().collect();
        assert_eq!(documented, generated);
    }
}
