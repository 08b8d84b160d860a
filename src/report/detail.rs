//! The `detail` label of `probe_failure_info`: one closed set of machine tokens. Each token is an
//! errno name (errno(3)), a TLS alert name (RFC 8446 section 6, IANA "TLS Alerts" registry) or a
//! DNS response code mnemonic (RFC 1035 section 4.1.1, RFC 6895), and `Display` prints exactly
//! the label value. docs/metrics.md lists every value; a unit test holds the two together.

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
    /// The proxy's answer (phase `proxy`).
    ProxyReply(ProxyReply),
}

impl Detail {
    /// The detail of raw OS error `code`: its errno, or none outside [`Errno`]'s set.
    pub fn errno(code: Option<i32>) -> Detail {
        code.and_then(Errno::from_raw)
            .map_or(Detail::None, Detail::Errno)
    }

    /// The label value: an errno name, an alert name, an rcode mnemonic, or `""`.
    pub fn as_str(self) -> &'static str {
        match self {
            Detail::None => "",
            Detail::Errno(e) => e.as_str(),
            Detail::TlsAlert(a) => a.as_str(),
            Detail::Rcode(r) => r.as_str(),
            Detail::ProxyReply(p) => p.as_str(),
        }
    }

    /// True for [`Detail::None`].
    pub fn is_empty(self) -> bool {
        self == Detail::None
    }

    /// Every label value but the empty one: errno names, then alert names, then rcodes.
    pub fn all_values() -> impl Iterator<Item = &'static str> {
        let errnos = Errno::ALL.iter().map(|e| e.as_str());
        let alerts = TlsAlert::ALL.iter().map(|a| a.as_str());
        let rcodes = Rcode::ALL.iter().map(|r| r.as_str());
        let replies = ProxyReply::ALL.iter().map(|p| p.as_str());
        errnos.chain(alerts).chain(rcodes).chain(replies)
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
