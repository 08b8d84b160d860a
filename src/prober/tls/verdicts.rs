//! What a module's verifier already knows about the chains it has seen: each presented
//! certificate described once, and the verdict on a chain that verified, so that probing the
//! same server again does not parse its certificates and check the chain's signatures again.
//!
//! A verdict is a pure function of the presented certificates, the server name, the trust
//! anchors (fixed for a verifier's life: a new configuration or changed `ca_file` builds a new
//! verifier, and so a new cache) and the time. The time only matters where it crosses a
//! certificate's notBefore or notAfter (RFC 5280 section 4.1.2.5; webpki checks both for every
//! certificate of a path), so a verdict is reused only while no presented certificate's validity
//! has started or ended since it was reached, and for at most [`VERDICT_LIFETIME`] in any case.
//! The handshake's own signature (CertificateVerify, RFC 8446 section 4.4.3), which proves the
//! server holds the certificate's key, is checked in every handshake; it is not cached here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::cert_info::cert_facts;
use crate::report::CertInfo;

/// Longest time a verdict is reused, in seconds.
pub(crate) const VERDICT_LIFETIME: i64 = 60;

/// Chains remembered per verifier; when full, the cache starts over (a module probes a handful
/// of servers, so this only bounds memory against a target list that keeps changing).
const CAPACITY: usize = 256;

/// One presented certificate that parses: its description and its notBefore (unix seconds;
/// the notAfter is `info.not_after`).
#[derive(Debug, Clone)]
pub(crate) struct Described {
    pub info: CertInfo,
    pub not_before: i64,
}

/// A chain as the cache keeps it: its certificates described, leaf first, and the trust's
/// verdict when it verified.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// The presented certificates, leaf first; `None` for one that does not parse.
    pub certs: Arc<[Option<Described>]>,
    verified: Option<Verified>,
}

/// A chain that verified: what the trust returned (the verified chains' expiry, unix seconds),
/// and the unix seconds `[from, until)` it holds for.
#[derive(Debug, Clone, Copy)]
struct Verified {
    expiry: Option<i64>,
    from: i64,
    until: i64,
}

impl Seen {
    /// The verdict reached earlier for this chain, when it still holds at `now`.
    pub(crate) fn verdict_at(&self, now: UnixTime) -> Option<Option<i64>> {
        let now = unix(now);
        self.verified
            .filter(|v| v.from <= now && now < v.until)
            .map(|v| v.expiry)
    }
}

/// The cache of one verifier. Cloning is not offered: one per verifier.
#[derive(Debug, Default)]
pub(crate) struct Verdicts {
    seen: Mutex<HashMap<Vec<u8>, Seen>>,
}

impl Verdicts {
    /// The chain `end_entity` + `intermediates` presented for `server_name`: as seen before, or
    /// described now (and remembered without a verdict).
    pub(crate) fn look_up(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
    ) -> (Vec<u8>, Seen) {
        let key = key(end_entity, intermediates, server_name);
        if let Some(seen) = self.lock().get(&key) {
            return (key, seen.clone());
        }
        let certs: Arc<[Option<Described>]> = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|der| cert_facts(der).map(|(info, not_before)| Described { info, not_before }))
            .collect();
        let seen = Seen {
            certs,
            verified: None,
        };
        self.insert(key.clone(), seen.clone());
        (key, seen)
    }

    /// Remembers that the chain under `key` (from [`Verdicts::look_up`]) verified at `now` with
    /// the verified chains' expiry `expiry`. Not remembered when a certificate of it does not
    /// parse (its validity is unknown).
    pub(crate) fn verified(&self, key: Vec<u8>, seen: Seen, expiry: Option<i64>, now: UnixTime) {
        let now = unix(now);
        let Some((from, until)) = window(&seen.certs, now) else {
            return;
        };
        let verified = Some(Verified {
            expiry,
            from,
            until: until.min(now.saturating_add(VERDICT_LIFETIME)),
        });
        self.insert(key, Seen { verified, ..seen });
    }

    fn insert(&self, key: Vec<u8>, seen: Seen) {
        let mut map = self.lock();
        if map.len() >= CAPACITY && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, seen);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Seen>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The unix seconds `[from, until)` around `now` in which no certificate of `certs` becomes
/// valid or stops being valid (a certificate is valid from notBefore to notAfter, both
/// included); `None` when one does not parse, so its validity is unknown.
fn window(certs: &[Option<Described>], now: i64) -> Option<(i64, i64)> {
    let mut from = i64::MIN;
    let mut until = i64::MAX;
    for cert in certs {
        let cert = cert.as_ref()?;
        for change in [cert.not_before, cert.info.not_after.saturating_add(1)] {
            if change <= now {
                from = from.max(change);
            } else {
                until = until.min(change);
            }
        }
    }
    Some((from, until))
}

/// The key of a chain for a server name: the name, then each certificate's length and bytes.
fn key(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
) -> Vec<u8> {
    let name = server_name.to_str();
    let mut key = Vec::with_capacity(
        name.len()
            + 1
            + std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.len() + 4)
                .sum::<usize>(),
    );
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    for cert in std::iter::once(end_entity).chain(intermediates) {
        key.extend_from_slice(&(cert.len() as u32).to_be_bytes());
        key.extend_from_slice(cert);
    }
    key
}

fn unix(now: UnixTime) -> i64 {
    i64::try_from(now.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(not_before: i64, not_after: i64) -> Option<Described> {
        Some(Described {
            info: CertInfo {
                not_after,
                ..CertInfo::default()
            },
            not_before,
        })
    }

    fn at(s: u64) -> UnixTime {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(s))
    }

    #[test]
    fn the_window_ends_where_a_certificate_starts_or_stops_being_valid() {
        let certs = [cert(100, 1_000), cert(50, 500)];
        assert_eq!(window(&certs, 200), Some((100, 501)));
        assert_eq!(window(&certs, 500), Some((100, 501)));
        assert_eq!(window(&certs, 501), Some((501, 1_001)));
        assert_eq!(window(&certs, 10), Some((i64::MIN, 50)));
        assert_eq!(window(&[cert(0, 10), None], 5), None);
    }

    #[test]
    fn a_verdict_holds_inside_its_window_and_lifetime_only() {
        let verdicts = Verdicts::default();
        let leaf = CertificateDer::from(vec![1, 2, 3]);
        let name = ServerName::try_from("example.test").unwrap();
        let (key, seen) = verdicts.look_up(&leaf, &[], &name);
        assert!(seen.certs[0].is_none(), "junk DER has no description");
        // Junk never gets a verdict: its validity is unknown.
        verdicts.verified(key.clone(), seen.clone(), Some(7), at(1));
        let (_, seen) = verdicts.look_up(&leaf, &[], &name);
        assert_eq!(seen.verdict_at(at(1)), None);
        let known = Seen {
            certs: Arc::from(vec![cert(100, 1_000)]),
            verified: None,
        };
        verdicts.verified(key.clone(), known, Some(1_000), at(200));
        let (_, seen) = verdicts.look_up(&leaf, &[], &name);
        assert_eq!(seen.verdict_at(at(200)), Some(Some(1_000)));
        assert_eq!(seen.verdict_at(at(259)), Some(Some(1_000)));
        assert_eq!(seen.verdict_at(at(260)), None, "older than the lifetime");
        assert_eq!(seen.verdict_at(at(99)), None, "before notBefore");
        let other = ServerName::try_from("other.test").unwrap();
        assert_eq!(
            verdicts.look_up(&leaf, &[], &other).1.verdict_at(at(200)),
            None,
            "another name"
        );
    }
}
