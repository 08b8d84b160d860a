//! Parsed CRLs kept until their nextUpdate, shared by the probes of one module (the key holds
//! the module's `tls_config`, as the TLS clients are kept) and forgotten on reload with them.
//!
//! Bounded: at most [`MAX_ENTRIES`] CRLs and [`MAX_CACHED_BYTES`] in all, counted as each CRL's
//! DER plus 8 bytes per revoked entry (the index into it). A CRL larger than the byte bound
//! alone is not kept; to make room, the entries that expire first go first. A CRL without
//! nextUpdate, or already stale, is not kept: it is fetched again on the next probe.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::config::TlsConfig;

/// Most CRLs kept, over all modules.
pub const MAX_ENTRIES: usize = 256;
/// Most bytes kept, over all modules (see the module header for how they are counted).
pub const MAX_CACHED_BYTES: usize = 64 << 20;

/// A CRL whose signature verified: what a revocation check needs of it.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The CRL's DER.
    der: Vec<u8>,
    /// Each revoked serial's content octets within `der`, sorted by the serial's value.
    serials: Vec<Range<u32>>,
    /// The subjectPublicKeyInfo (DER) that verified the signature.
    pub issuer_spki: Vec<u8>,
    /// nextUpdate, unix seconds.
    pub next_update: Option<i64>,
}

/// A serial's content octets without DER's sign octets, for comparing values.
fn magnitude(raw: &[u8]) -> &[u8] {
    let first = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
    &raw[first..]
}

impl Verified {
    /// Keeps `der` with the ranges of its revoked serials (found by the parser within `der`).
    pub(crate) fn new(
        der: Vec<u8>,
        mut serials: Vec<Range<u32>>,
        issuer_spki: Vec<u8>,
        next_update: Option<i64>,
    ) -> Verified {
        let key = |r: &Range<u32>| r.start as usize..r.end as usize;
        serials.sort_by(|a, b| {
            let (a, b) = (magnitude(&der[key(a)]), magnitude(&der[key(b)]));
            a.len().cmp(&b.len()).then(a.cmp(b))
        });
        Verified {
            der,
            serials,
            issuer_spki,
            next_update,
        }
    }

    /// True when `serial` (a certificate's DER INTEGER content) is on the list.
    pub(crate) fn lists(&self, serial: &[u8]) -> bool {
        let want = magnitude(serial);
        self.serials
            .binary_search_by(|r| {
                let have = magnitude(&self.der[r.start as usize..r.end as usize]);
                have.len().cmp(&want.len()).then(have.cmp(want))
            })
            .is_ok()
    }

    /// Bytes counted against [`MAX_CACHED_BYTES`].
    pub(crate) fn size(&self) -> usize {
        self.der.len() + 8 * self.serials.len()
    }
}

/// The cache key: the module's settings (hashed) and the URL.
type Key = (u64, String);

#[derive(Default)]
struct Cache {
    entries: HashMap<Key, Arc<Verified>>,
    bytes: usize,
}

fn cache() -> MutexGuard<'static, Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn key(cfg: &TlsConfig, url: &str) -> Key {
    let mut h = DefaultHasher::new();
    cfg.hash(&mut h);
    (h.finish(), url.to_string())
}

/// The CRL kept for `url` under `cfg` while `now` (unix seconds) is before its nextUpdate;
/// an expired entry is dropped.
pub(crate) fn get(cfg: &TlsConfig, url: &str, now: i64) -> Option<Arc<Verified>> {
    cache().get(key(cfg, url), now)
}

/// Keeps `crl` for `url` under `cfg` when it has a nextUpdate after `now` and fits the bounds,
/// dropping the entries that expire first to make room.
pub(crate) fn put(cfg: &TlsConfig, url: &str, crl: Arc<Verified>, now: i64) {
    cache().put(key(cfg, url), crl, now);
}

/// Forgets every CRL (a configuration reload).
pub(crate) fn forget() {
    *cache() = Cache::default();
}

impl Cache {
    fn get(&mut self, k: Key, now: i64) -> Option<Arc<Verified>> {
        let entry = self.entries.get(&k)?.clone();
        if entry.next_update.is_some_and(|t| t > now) {
            return Some(entry);
        }
        self.bytes -= entry.size();
        self.entries.remove(&k);
        None
    }

    fn put(&mut self, k: Key, crl: Arc<Verified>, now: i64) {
        if !crl.next_update.is_some_and(|t| t > now) || crl.size() > MAX_CACHED_BYTES {
            return;
        }
        if let Some(old) = self.entries.remove(&k) {
            self.bytes -= old.size();
        }
        while self.entries.len() >= MAX_ENTRIES || self.bytes + crl.size() > MAX_CACHED_BYTES {
            let first = self
                .entries
                .iter()
                .min_by_key(|(_, v)| v.next_update)
                .map(|(k, _)| k.clone());
            let Some(first) = first else { break };
            if let Some(gone) = self.entries.remove(&first) {
                self.bytes -= gone.size();
            }
        }
        self.bytes += crl.size();
        self.entries.insert(k, crl);
    }
}

/// CRLs kept and their counted bytes.
pub fn usage() -> (usize, usize) {
    let cache = cache();
    (cache.entries.len(), cache.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crl(bytes: usize, next_update: i64) -> Arc<Verified> {
        Arc::new(Verified::new(
            vec![0; bytes],
            Vec::new(),
            Vec::new(),
            Some(next_update),
        ))
    }

    #[test]
    fn entries_and_bytes_stay_bounded_and_expired_ones_are_not_served() {
        // A cache of its own: other tests forget the shared one at any time.
        let mut cache = Cache::default();
        let k = |url: &str| key(&TlsConfig::default(), url);
        let usage = |c: &Cache| (c.entries.len(), c.bytes);
        cache.put(k("http://stale.test/"), crl(10, 99), 100);
        assert!(
            cache.get(k("http://stale.test/"), 100).is_none(),
            "stale: not kept"
        );
        cache.put(k("http://a.test/"), crl(10, 200), 100);
        assert!(cache.get(k("http://a.test/"), 150).is_some());
        assert!(
            cache.get(k("http://a.test/"), 200).is_none(),
            "gone at nextUpdate"
        );
        for n in 0..MAX_ENTRIES * 2 {
            cache.put(
                k(&format!("http://{n}.test/")),
                crl(1000, 1000 + n as i64),
                100,
            );
            assert!(usage(&cache).0 <= MAX_ENTRIES);
        }
        for n in 0..8 {
            cache.put(
                k(&format!("http://big{n}.test/")),
                crl(MAX_CACHED_BYTES / 3, 5000),
                100,
            );
            assert!(usage(&cache).1 <= MAX_CACHED_BYTES);
        }
        cache.put(k("http://huge.test/"), crl(MAX_CACHED_BYTES + 1, 5000), 100);
        assert!(
            cache.get(k("http://huge.test/"), 100).is_none(),
            "larger than the bound"
        );
        let counted: usize = cache.entries.values().map(|v| v.size()).sum();
        assert_eq!(counted, cache.bytes, "the byte count follows the entries");
    }

    #[test]
    fn a_reload_forgets_the_kept_crls() {
        let cfg = TlsConfig {
            server_name: Some("reload.crl.test".into()),
            ..TlsConfig::default()
        };
        // Other tests forget the shared cache too: put again until the entry is seen.
        let kept = (0..10).any(|_| {
            put(&cfg, "http://reload.test/", crl(10, i64::MAX), 100);
            get(&cfg, "http://reload.test/", 100).is_some()
        });
        assert!(kept);
        crate::prober::tls::forget_clients();
        assert!(get(&cfg, "http://reload.test/", 100).is_none());
    }

    #[test]
    fn serials_compare_by_value() {
        // Serials 0x05 and 0x00 0x90 (DER sign octet) at offsets 0 and 1..3.
        let v = Verified::new(vec![0x05, 0x00, 0x90], vec![0..1, 1..3], Vec::new(), None);
        assert!(v.lists(&[0x05]));
        assert!(v.lists(&[0x90]));
        assert!(v.lists(&[0x00, 0x05]));
        assert!(!v.lists(&[0x06]));
    }
}
