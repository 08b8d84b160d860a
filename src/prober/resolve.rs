//! The `resolve` phase: target host to IP addresses with hickory-resolver, by the host's rules
//! (hosts(5) first, then resolv.conf(5) search list and `ndots`, re-read when they change),
//! honouring blackbox_exporter's IP protocol preference and fallback, and telling NXDOMAIN,
//! NODATA, SERVFAIL, REFUSED and silence apart for every candidate name.

use std::net::IpAddr;

use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::{Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{Hosts, TokioResolver};

use crate::config::IpProtocol;
use crate::report::{Detail, Failure, FailureClass, Phase, Rcode, StepLog};

pub mod conf;
pub mod search;

/// Resolves `host` to its addresses, the preferred family first, with the host's rules.
///
/// An IP literal is returned as is (no DNS). A name is looked up in hosts(5) (as given) and in
/// DNS in the order of nsswitch.conf(5)'s `hosts:` line (hosts first by default). In DNS it is
/// queried under each candidate name of [`search::candidates`] (resolv.conf(5)
/// `search`, `ndots`), in order, until one has addresses. With `fallback` both A and AAAA are
/// asked at once for each candidate and the other family is used when the preferred one has
/// none; without it only the preferred family is asked (as blackbox_exporter's
/// `chooseProtocol`). The step log gets every candidate with its answer.
///
/// Returns a non-empty list of addresses (preferred family first, then with `fallback` the
/// other family's), or a `resolve`-phase [`Failure`] decided across candidates by
/// [`search::across_candidates`]: `dns_nxdomain`, `dns_no_records`, `dns_servfail`,
/// `dns_refused`, `timeout` (no answer within the resolver's own timeout) or `dns_error`. The
/// caller bounds the call with the probe deadline.
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
    // Held for the whole lookup: a configuration re-read meanwhile is for the next probe.
    let conf = conf::system().current();
    let wanted: &[RecordType] = if fallback { &[want, other] } else { &[want] };
    let mut dns_failure = None;
    // nsswitch.conf(5): each source in turn until one has the name.
    for source in conf.order.iter() {
        match source {
            conf::Source::Files => match from_hosts(&conf.hosts, host, wanted) {
                Some(ips) => {
                    log.note(format!("{host} found in the hosts file: {ips:?}"));
                    return Ok(ips);
                }
                None if dns_failure.is_some() => log.note(format!("{host} not in the hosts file")),
                None => {}
            },
            conf::Source::Dns => {
                match by_dns(&conf.dns, host, (want, other), fallback, log).await {
                    Ok(ips) => return Ok(ips),
                    Err(f) => dns_failure = Some(f),
                }
            }
        }
    }
    Err(dns_failure.unwrap_or_else(|| {
        log.note(format!(
            "{host} not in the hosts file, and nsswitch.conf names no DNS source"
        ));
        Failure::bare(Phase::Resolve, FailureClass::DnsNxdomain)
    }))
}

/// Queries the candidate names of `host` under `dns` in order until one has addresses, asking
/// the preferred record type `want` (and with `fallback` also `other`); notes every candidate's
/// answer in `log`.
async fn by_dns(
    dns: &conf::DnsConf,
    host: &str,
    (want, other): (RecordType, RecordType),
    fallback: bool,
    log: &mut StepLog,
) -> Result<Vec<IpAddr>, Failure> {
    let resolver = match &dns.resolver {
        Ok(r) => r,
        Err(reason) => {
            log.note(format!("no usable resolver configuration: {reason}"));
            return Err(Failure::bare(Phase::Resolve, FailureClass::DnsError));
        }
    };
    let names = search::candidates(host, &dns.search, dns.ndots, dns.no_tld_query);
    if names.is_empty() {
        log.note(format!("{host} is not a valid domain name"));
        return Err(Failure::bare(Phase::Resolve, FailureClass::DnsError));
    }
    let list: Vec<String> = names.iter().map(ToString::to_string).collect();
    log.note(format!(
        "resolving {host} ({want} preferred, fallback {fallback}) as {}",
        list.join(", ")
    ));
    let mut failures = Vec::new();
    for name in names {
        let (found, answers) = lookup_name(resolver, &name, want, other, fallback).await;
        log.note(format!("{name}: {answers}"));
        match found {
            Ok(ips) => {
                log.note(format!("resolved to {ips:?}"));
                return Ok(ips);
            }
            Err(f) => {
                let stop = !search::goes_on(&f);
                failures.push(f);
                if stop {
                    break;
                }
            }
        }
    }
    let failure = search::across_candidates(failures);
    log.note(format!("resolution failed: {failure}"));
    Err(failure)
}

/// The addresses hosts(5) gives `host` (as given, never searched) for `types`, in that order;
/// `None` when it has none.
fn from_hosts(hosts: &Hosts, host: &str, types: &[RecordType]) -> Option<Vec<IpAddr>> {
    let mut name = Name::from_str_relaxed(host).ok()?;
    name.set_fqdn(true);
    let ips: Vec<IpAddr> = types
        .iter()
        .filter_map(|t| hosts.lookup_static_host(&Query::query(name.clone(), *t)))
        .flat_map(|found| addresses(found.answers()))
        .collect();
    (!ips.is_empty()).then_some(ips)
}

/// The addresses of one candidate `name`: the preferred type `want`, and with `fallback` also
/// `other` (asked at the same time). Also returns the answers as one log line
/// (`AAAA NXDOMAIN; A [203.0.113.2]`).
async fn lookup_name(
    resolver: &TokioResolver,
    name: &Name,
    want: RecordType,
    other: RecordType,
    fallback: bool,
) -> (Result<Vec<IpAddr>, Failure>, String) {
    if !fallback {
        let found = lookup(resolver, name, want).await;
        let line = format!("{want} {}", brief(&found));
        return (found, line);
    }
    let (first, second) = tokio::join!(lookup(resolver, name, want), lookup(resolver, name, other));
    let line = format!("{want} {}; {other} {}", brief(&first), brief(&second));
    let found = match (first, second) {
        (Ok(mut a), Ok(b)) => {
            a.extend(b);
            Ok(a)
        }
        (Ok(ips), _) | (Err(_), Ok(ips)) => Ok(ips),
        // The preferred family's failure explains best, unless it only lacked records.
        (Err(a), Err(b)) if a.class == FailureClass::DnsNoRecords => Err(b),
        (Err(a), Err(_)) => Err(a),
    };
    (found, line)
}

/// One answer as the step log shows it: the addresses, the rcode name, or the class.
fn brief(found: &Result<Vec<IpAddr>, Failure>) -> String {
    match found {
        Ok(ips) => format!("{ips:?}"),
        // NODATA's rcode is NOERROR, which would read as success: the class says it better.
        Err(f) => match f.detail {
            Detail::None | Detail::Rcode(Rcode::NoError) => f.class.to_string(),
            detail => detail.to_string(),
        },
    }
}

/// The A and AAAA addresses among `records`, in their order.
fn addresses(records: &[hickory_resolver::proto::rr::Record]) -> Vec<IpAddr> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

/// One query of `record_type` for the fully qualified `name`; the addresses of the answer in
/// its order (never empty), or the classified failure.
async fn lookup(
    resolver: &TokioResolver,
    name: &Name,
    record_type: RecordType,
) -> Result<Vec<IpAddr>, Failure> {
    let answer = resolver
        .lookup(name.clone(), record_type)
        .await
        .map_err(|e| classify(&e))?;
    let ips = addresses(answer.answers());
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
