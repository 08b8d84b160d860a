//! Probe sockets as a whole: the descriptor budget every probe socket is taken from, so probes
//! never take the descriptors the HTTP side needs, and the addresses of the live connected
//! ones, so a request that arrives on one of them (a probe of the exporter itself) is told
//! apart.
//!
//! The budget is process-wide, as the open-file limit is (getrlimit(2), `RLIMIT_NOFILE`): a
//! socket a probe cannot take from it is that probe's `prober_error` with detail `EMFILE`, the
//! errno socket(2) would have given, while accept(2) on the HTTP side keeps its share.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};

/// Descriptors left out of both the probes' and the HTTP connections' shares: listeners, log,
/// config and certificate reads.
pub const RESERVED_FDS: u64 = 64;

/// The smallest budget: a few probes can always run.
pub const MIN_BUDGET: usize = 8;

/// Marks a budget not set yet; [`limit`] then derives it from the open-file limit.
const UNSET: usize = usize::MAX;

static LIMIT: AtomicUsize = AtomicUsize::new(UNSET);
static IN_USE: AtomicUsize = AtomicUsize::new(0);
/// (local, peer) of each live probe connection.
static LIVE: LazyLock<Mutex<HashSet<(SocketAddr, SocketAddr)>>> = LazyLock::new(Mutex::default);

/// The budget for an open-file limit of `nofile` when `http` descriptors go to HTTP
/// connections: what is left after the reserve and `http`, at least [`MIN_BUDGET`].
pub fn budget_for(nofile: u64, http: usize) -> usize {
    let http = u64::try_from(http).unwrap_or(u64::MAX);
    let left = nofile.saturating_sub(RESERVED_FDS).saturating_sub(http);
    usize::try_from(left).unwrap_or(usize::MAX).max(MIN_BUDGET)
}

/// Sets the budget: at most `limit` probe descriptors open at once, process-wide. Descriptors
/// already taken stay taken; the new limit applies to the next ones.
pub fn set_limit(limit: usize) {
    LIMIT.store(limit.clamp(MIN_BUDGET, UNSET - 1), Ordering::Relaxed);
}

/// The budget now in force. Unless [`set_limit`] was called, half of the soft `RLIMIT_NOFILE`
/// left after the reserve (the other half being the HTTP side's default share); 1024 is
/// assumed when the limit cannot be read.
pub fn limit() -> usize {
    let limit = LIMIT.load(Ordering::Relaxed);
    if limit != UNSET {
        return limit;
    }
    let nofile = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft);
    let half = usize::try_from(nofile.saturating_sub(RESERVED_FDS) / 2).unwrap_or(usize::MAX);
    let derived = budget_for(nofile, half);
    // A concurrent set_limit wins over the derived default.
    match LIMIT.compare_exchange(UNSET, derived, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => derived,
        Err(set) => set,
    }
}

/// Probe descriptors open now.
pub fn in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

/// Descriptors taken from the budget; they go back when this is dropped.
#[derive(Debug)]
pub struct Descriptors(usize);

/// The budget had fewer free descriptors than asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the probe descriptor budget is spent: {in_use} of {limit} in use")]
pub struct Exhausted {
    /// Descriptors in use when asked.
    pub in_use: usize,
    /// The budget.
    pub limit: usize,
}

/// Takes `n` descriptors from the budget, or none when fewer than `n` are free.
///
/// Errors: [`Exhausted`] with the budget and its use at that moment.
pub fn take(n: usize) -> Result<Descriptors, Exhausted> {
    let limit = limit();
    IN_USE
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(n).filter(|total| *total <= limit)
        })
        .map(|_| Descriptors(n))
        .map_err(|in_use| Exhausted { in_use, limit })
}

impl Drop for Descriptors {
    fn drop(&mut self) {
        IN_USE.fetch_sub(self.0, Ordering::AcqRel);
    }
}

// Live probe connections.

/// A connected probe socket's local and peer addresses, known as a probe's while this lives.
#[derive(Debug)]
pub struct Live(Option<(SocketAddr, SocketAddr)>);

/// `addr` with an IPv4-mapped IPv6 address as IPv4, as an IPv4 peer shows on a dual-stack
/// listener.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

fn live_set() -> std::sync::MutexGuard<'static, HashSet<(SocketAddr, SocketAddr)>> {
    // The set holds plain addresses: one a panicking holder left behind is still valid.
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

impl Live {
    /// Records the `local` and `peer` addresses of a connected probe socket (getsockname(2),
    /// getpeername(2); `None` when the kernel did not tell) as a probe's own connection until
    /// the returned value is dropped.
    pub fn register(local: Option<SocketAddr>, peer: Option<SocketAddr>) -> Live {
        let ends = local.zip(peer).map(|(l, p)| (canonical(l), canonical(p)));
        if let Some(ends) = ends {
            live_set().insert(ends);
        }
        Live(ends)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(ends) = self.0 {
            live_set().remove(&ends);
        }
    }
}

/// Whether an accepted HTTP connection with client address `peer` and local address `local` is
/// one of this process's live probe connections seen from the other end (the same TCP
/// 4-tuple): the request comes from a probe of the exporter itself.
pub fn is_own_probe(peer: SocketAddr, local: SocketAddr) -> bool {
    live_set().contains(&(canonical(peer), canonical(local)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_the_reserve_and_the_http_share() {
        assert_eq!(budget_for(1024, 480), 480);
        assert_eq!(budget_for(160, 48), 48);
        assert_eq!(budget_for(100, 1000), MIN_BUDGET);
    }

    #[test]
    fn a_live_connection_is_known_until_dropped() {
        let addr: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let server: SocketAddr = "127.0.0.1:19115".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:40001".parse().unwrap();
        let live = Live::register(Some(addr), Some(server));
        assert!(is_own_probe(addr, server));
        assert!(is_own_probe(mapped, server));
        assert!(!is_own_probe("127.0.0.1:40002".parse().unwrap(), server));
        // The same local port towards another destination is another connection.
        assert!(!is_own_probe(addr, "127.0.0.1:9100".parse().unwrap()));
        drop(live);
        assert!(!is_own_probe(addr, server));
    }
}
