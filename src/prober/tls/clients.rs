//! The TLS clients the prober built, kept by the `tls_config` settings they were built from, so
//! that the configuration stays plain data: a module's settings find the client its earlier
//! probes built, and modules with identical settings share one. A reload forgets them all
//! ([`forget_clients`]): the first probe after it reads the TLS files again, as after a start.
//!
//! Bounded: at most [`CAPACITY`] settings are kept; a new one beyond that starts the map over
//! (a configuration holds a handful of `tls_config` blocks, so only a config that keeps changing
//! between reloads gets there).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::crl::CaCache;
use super::settings::ClientCache;
use super::OpensslCache;
use crate::config::TlsConfig;

/// What the prober keeps for one `tls_config`: its rustls client, on the OpenSSL stack its
/// OpenSSL context, and with `crl_check` the CA certificates CRL issuers are looked up in (each
/// built on the first probe that needs it).
#[derive(Clone, Default)]
struct Kept {
    rustls: ClientCache,
    #[cfg_attr(not(feature = "legacy-tls"), allow(dead_code))]
    openssl: OpensslCache,
    crl_cas: CaCache,
}

/// Most distinct settings kept.
pub(crate) const CAPACITY: usize = 256;

fn clients() -> MutexGuard<'static, HashMap<TlsConfig, Kept>> {
    static CLIENTS: OnceLock<Mutex<HashMap<TlsConfig, Kept>>> = OnceLock::new();
    CLIENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// What is kept for `cfg`: the entry of equal settings, or a new, empty one.
fn kept_for(cfg: &TlsConfig) -> Kept {
    let mut map = clients();
    if let Some(kept) = map.get(cfg) {
        return kept.clone();
    }
    if map.len() >= CAPACITY {
        map.clear();
    }
    let kept = Kept::default();
    map.insert(cfg.clone(), kept.clone());
    kept
}

/// The rustls client cache for `cfg`: the one kept for equal settings, or a new, empty one.
pub(crate) fn cache_for(cfg: &TlsConfig) -> ClientCache {
    kept_for(cfg).rustls
}

/// The OpenSSL context cache for `cfg`, kept and forgotten like the rustls client.
#[cfg(feature = "legacy-tls")]
pub(crate) fn openssl_cache_for(cfg: &TlsConfig) -> OpensslCache {
    kept_for(cfg).openssl
}

/// The CA certificates of `cfg` for CRL issuers, kept and forgotten like the rustls client.
pub(crate) fn crl_cas_for(cfg: &TlsConfig) -> CaCache {
    kept_for(cfg).crl_cas
}

/// Forgets every TLS client and kept CRL, as a configuration reload must: the next probe of
/// each module builds its client from the files as they are now.
pub fn forget_clients() {
    clients().clear();
    super::crl::forget();
}

/// How many settings have a client cache (for tests of the bound).
#[cfg(test)]
fn kept() -> usize {
    clients().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_settings_share_a_cache_until_a_reload_and_the_map_stays_bounded() {
        let named = |n: usize| TlsConfig {
            server_name: Some(format!("bound-{n}.test")),
            ..TlsConfig::default()
        };
        let a = cache_for(&named(0));
        assert!(cache_for(&named(0)).is_same(&a), "one cache");
        forget_clients();
        assert!(!cache_for(&named(0)).is_same(&a), "a reload builds anew");
        for n in 1..CAPACITY * 2 {
            cache_for(&named(n));
            assert!(kept() <= CAPACITY);
        }
    }
}
