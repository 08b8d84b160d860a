//! The `resolve` phase: target host to one IP address with hickory-resolver, from the system
//! configuration (resolv.conf(5), hosts(5)), honouring blackbox_exporter's IP protocol preference
//! and fallback, and telling NXDOMAIN, NODATA, SERVFAIL, REFUSED and silence apart.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;

use crate::config::IpProtocol;
use crate::report::{Detail, Failure, FailureClass, Phase, Rcode, StepLog};

/// The process-wide resolver, built once from the system configuration.
///
/// `Err` holds the reason the system configuration could not be read (no nameserver, unreadable
/// resolv.conf): every probe of a name then fails with `dns_error`.
fn resolver() -> &'static Result<Arc<TokioResolver>, String> {
    static RESOLVER: OnceLock<Result<Arc<TokioResolver>, String>> = OnceLock::new();
    RESOLVER.get_or_init(|| {
        let mut builder = TokioResolver::builder_tokio().map_err(|e| e.to_string())?;
        let opts = builder.options_mut();
        // A probe must see the DNS as it is now, not as it was at the last scrape.
        opts.cache_size = 0;
        opts.attempts = 2;
        builder.build().map(Arc::new).map_err(|e| e.to_string())
    })
}

/// Resolves `host` to its addresses, the preferred family first.
///
/// An IP literal is returned as is (no DNS). With `fallback` both A and AAAA are asked at once and
/// the other family is used when the preferred one has none; without it only the preferred family
/// is asked (as blackbox_exporter's `chooseProtocol`). Returns a non-empty list of addresses
/// (preferred family first, then with `fallback` the other family's), or a `resolve`-phase
/// [`Failure`]: `dns_nxdomain`, `dns_no_records`, `dns_servfail`, `dns_refused`, `timeout` (no
/// answer within the resolver's own timeout) or `dns_error`. The caller bounds the call with the
/// probe deadline.
pub async fn resolve(
    host: &str,
    preferred: IpProtocol,
    fallback: bool,
    log: &mut StepLog,
) -> Result<Vec<IpAddr>, Failure> {
    let (want, other) = match preferred {
        IpProtocol::Ip4 => (RecordType::A, RecordType::AAAA),
        IpProtocol::Ip6 => (RecordType::AAAA, RecordType::A),
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        let family_ok = matches!((ip, want), (IpAddr::V4(_), RecordType::A))
            || matches!((ip, want), (IpAddr::V6(_), RecordType::AAAA));
        if family_ok || fallback {
            log.note(format!("target is an IP literal: {ip}"));
            return Ok(vec![ip]);
        }
        log.note(format!(
            "IP literal {ip} is not of the preferred protocol and fallback is off"
        ));
        return Err(Failure::bare(Phase::Resolve, FailureClass::DnsNoRecords));
    }
    let resolver = match resolver() {
        Ok(r) => r,
        Err(reason) => {
            log.note(format!("no usable resolver configuration: {reason}"));
            return Err(Failure::bare(Phase::Resolve, FailureClass::DnsError));
        }
    };
    // A fully qualified query skips the search list, as the name was given whole.
    let name = if host.ends_with('.') {
        host.to_string()
    } else {
        format!("{host}.")
    };
    log.note(format!(
        "resolving {host} ({want} preferred, fallback {fallback})"
    ));
    if !fallback {
        let found = lookup(resolver, &name, want).await;
        return pick(found, log);
    }
    let (first, second) = tokio::join!(
        lookup(resolver, &name, want),
        lookup(resolver, &name, other)
    );
    match (first, second) {
        (Ok(mut a), Ok(b)) => {
            a.extend(b);
            pick(Ok(a), log)
        }
        (Ok(ips), _) | (Err(_), Ok(ips)) => pick(Ok(ips), log),
        // The preferred family's failure explains best, unless it only lacked records.
        (Err(a), Err(b)) if a.class == FailureClass::DnsNoRecords => pick(Err(b), log),
        (Err(a), Err(_)) => pick(Err(a), log),
    }
}

fn pick(found: Result<Vec<IpAddr>, Failure>, log: &mut StepLog) -> Result<Vec<IpAddr>, Failure> {
    match &found {
        Ok(ips) => log.note(format!("resolved to {ips:?}")),
        Err(f) => log.note(format!("resolution failed: {f}")),
    }
    found
}

/// One query of `record_type`; the addresses of the answer in its order (never empty), or the
/// classified failure.
async fn lookup(
    resolver: &TokioResolver,
    name: &str,
    record_type: RecordType,
) -> Result<Vec<IpAddr>, Failure> {
    let answer = resolver
        .lookup(name, record_type)
        .await
        .map_err(|e| classify(&e))?;
    let ips: Vec<IpAddr> = answer
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    if ips.is_empty() {
        return Err(Failure::new(
            Phase::Resolve,
            FailureClass::DnsNoRecords,
            Rcode::NoError,
        ));
    }
    Ok(ips)
}

/// Maps a hickory error to the contract's resolve classes, from the response code it carries.
fn classify(err: &NetError) -> Failure {
    let (class, detail) = match err {
        // NXDOMAIN and NODATA both arrive as "no records"; the rcode tells them apart (RFC 2308).
        NetError::Dns(DnsError::NoRecordsFound(no)) => match no.response_code {
            ResponseCode::NXDomain => (FailureClass::DnsNxdomain, Rcode::NxDomain.into()),
            _ => (FailureClass::DnsNoRecords, Rcode::NoError.into()),
        },
        NetError::Dns(DnsError::ResponseCode(code)) => match code {
            ResponseCode::NXDomain => (FailureClass::DnsNxdomain, Rcode::NxDomain.into()),
            ResponseCode::ServFail => (FailureClass::DnsServfail, Rcode::ServFail.into()),
            ResponseCode::Refused => (FailureClass::DnsRefused, Rcode::Refused.into()),
            other => (
                FailureClass::DnsError,
                rcode(*other).map_or(Detail::None, Detail::Rcode),
            ),
        },
        // Every nameserver stayed silent for the resolver's whole timeout.
        NetError::Timeout => (FailureClass::Timeout, Detail::None),
        NetError::Io(e) => (FailureClass::DnsError, Detail::errno(e.raw_os_error())),
        // Malformed answers, no nameserver, and whatever hickory adds later.
        _ => (FailureClass::DnsError, Detail::None),
    };
    Failure::new(Phase::Resolve, class, detail)
}

/// The RFC 1035 / RFC 6895 response code behind hickory's, `None` for an unassigned one.
fn rcode(code: ResponseCode) -> Option<Rcode> {
    Some(match code {
        ResponseCode::NoError => Rcode::NoError,
        ResponseCode::FormErr => Rcode::FormErr,
        ResponseCode::ServFail => Rcode::ServFail,
        ResponseCode::NXDomain => Rcode::NxDomain,
        ResponseCode::NotImp => Rcode::NotImp,
        ResponseCode::Refused => Rcode::Refused,
        ResponseCode::YXDomain => Rcode::YxDomain,
        ResponseCode::YXRRSet => Rcode::YxRrSet,
        ResponseCode::NXRRSet => Rcode::NxRrSet,
        ResponseCode::NotAuth => Rcode::NotAuth,
        ResponseCode::NotZone => Rcode::NotZone,
        ResponseCode::BADVERS => Rcode::BadVers,
        ResponseCode::BADSIG => Rcode::BadSig,
        ResponseCode::BADKEY => Rcode::BadKey,
        ResponseCode::BADTIME => Rcode::BadTime,
        ResponseCode::BADMODE => Rcode::BadMode,
        ResponseCode::BADNAME => Rcode::BadName,
        ResponseCode::BADALG => Rcode::BadAlg,
        ResponseCode::BADTRUNC => Rcode::BadTrunc,
        ResponseCode::BADCOOKIE => Rcode::BadCookie,
        _ => return None,
    })
}
