//! The connection cap that keeps a flood of idle connections from blinding the exporter.
//!
//! Every accepted connection takes a [`Slot`]. At the cap, a new connection evicts a connection
//! that is not serving a request (idle keep-alive, TLS handshake or request head still
//! arriving): the oldest such connection of the client address holding the most connections.
//! A hostile client holding thousands of half-sent requests so loses its own connections to
//! its newcomers, while Prometheus, from another address with a few connections, keeps its
//! own; a connection whose request is being answered is never touched. When every connection
//! is busy the newcomer is closed at once. With the cap below the open-file limit, accept(2)
//! never fails with EMFILE on the HTTP side.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

// Descriptors kept out of the HTTP connections' share: listeners, log, config and
// certificate reads (probe sockets, DNS lookups included, have a budget of their own).
use crate::prober::sockets::RESERVED_FDS;

/// The connection-handling limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// HTTP connections open at once.
    pub max_connections: usize,
    /// Time a client has to send a whole request head (HTTP/1.1), counted from the connection's
    /// start for the first request and from the head's first byte for later ones, or to finish
    /// the TLS handshake; also the longest a new HTTP/2 connection waits for its first request.
    pub header_read_timeout: Duration,
    /// The longest a keep-alive connection stays open between requests (from the end of one
    /// answer to the first byte of the next request on HTTP/1.1, to the next request on
    /// HTTP/2): above common scrape intervals, so a scraper reuses its connection.
    pub idle_timeout: Duration,
}

impl ConnLimits {
    /// Defaults for an open-file limit of `nofile`: half of what is left after a reserve goes
    /// to HTTP connections, the other half to probe sockets (each request runs at most one
    /// probe at a time), at least 8; requests heads within 5 seconds; idle keep-alive
    /// connections kept for 2 minutes, which covers scrape intervals up to 1 minute twice over.
    pub fn for_nofile(nofile: u64) -> ConnLimits {
        let share = nofile.saturating_sub(RESERVED_FDS) / 2;
        ConnLimits {
            max_connections: usize::try_from(share.max(8)).unwrap_or(usize::MAX),
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(120),
        }
    }

    /// The probe descriptor budget these limits leave under the current soft `RLIMIT_NOFILE`
    /// (1024 when it cannot be read): what is left after the reserve and the HTTP
    /// connections, so probes running out of descriptors never make accept(2) fail.
    pub fn probe_sockets(&self) -> usize {
        crate::prober::sockets::budget_for(soft_nofile(), self.max_connections)
    }

    /// [`ConnLimits::for_nofile`] with the process' current soft `RLIMIT_NOFILE`
    /// (getrlimit(2)); 1024 when it cannot be read.
    pub fn from_rlimit() -> ConnLimits {
        ConnLimits::for_nofile(soft_nofile())
    }
}

/// The soft `RLIMIT_NOFILE` (getrlimit(2)); 1024 when it cannot be read.
fn soft_nofile() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024)
}

/// One tracked connection as the tracker sees it.
#[derive(Debug)]
struct Entry {
    /// The client address.
    peer: IpAddr,
    /// Its requests in flight.
    activity: Arc<Activity>,
    /// Woken to make the connection close.
    evict: Arc<Notify>,
}

/// What a connection is doing, shared by its tracker entry, its slot and its busy guards.
#[derive(Debug)]
struct Activity {
    /// Requests being answered on it now (HTTP/2 may have several).
    busy: AtomicUsize,
    /// When it went quiet, and whether a request was ever answered.
    stamps: Mutex<Stamps>,
    /// Woken when a request head starts arriving, so a wait for the idle timeout switches to
    /// the header-read timeout.
    head_started: Notify,
}

/// The instants a connection's quiet-time limits count from.
#[derive(Debug, Clone, Copy)]
struct Stamps {
    /// When the last request ended (the connection's start before any).
    idle_since: Instant,
    /// When the first byte of a request head arrived on an idle connection, until the
    /// request starts being answered.
    head_since: Option<Instant>,
    /// Whether any request has started on the connection.
    served: bool,
}

impl Activity {
    fn stamps(&self) -> std::sync::MutexGuard<'_, Stamps> {
        self.stamps.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Which quiet-time limit a connection ran out of; see [`Slot::quiet_too_long`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quiet {
    /// No request head (first request) or no whole head (a later one) within the header-read
    /// timeout.
    HeadTimeout,
    /// No new request within the idle timeout after the last answer.
    Idle,
}

/// The open connections, oldest first, and each client address's connections.
#[derive(Debug)]
pub struct Tracker {
    cap: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The last id given out.
    last: u64,
    /// Every open connection by id (ids grow, so oldest first).
    entries: BTreeMap<u64, Entry>,
    /// The ids of each client address's connections.
    peers: HashMap<IpAddr, BTreeSet<u64>>,
}

impl Inner {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        if let Some(ids) = self.peers.get_mut(&entry.peer) {
            ids.remove(&id);
            if ids.is_empty() {
                self.peers.remove(&entry.peer);
            }
        }
        Some(entry)
    }

    /// The oldest idle connection of the address with the most connections, else the oldest
    /// idle connection of any address.
    fn victim(&self) -> Option<u64> {
        let idle = |id: &u64| {
            self.entries
                .get(id)
                .is_some_and(|e| e.activity.busy.load(Ordering::Acquire) == 0)
        };
        let largest = self.peers.values().max_by_key(|ids| ids.len())?;
        largest
            .iter()
            .copied()
            .find(idle)
            .or_else(|| self.entries.keys().copied().find(idle))
    }
}

/// What [`Tracker::admit`] decided.
#[derive(Debug)]
pub enum Admission {
    /// Serve the connection; `evicted` says whether an idle one was closed to make room.
    Admitted {
        /// The connection's place in the tracker.
        slot: Slot,
        /// Whether an idle connection was evicted for it.
        evicted: bool,
    },
    /// Every connection is answering a request: close this one.
    Full,
}

impl Tracker {
    /// A tracker admitting `cap` connections (at least 1).
    pub fn new(cap: usize) -> Arc<Tracker> {
        Arc::new(Tracker {
            cap: cap.max(1),
            inner: Mutex::new(Inner::default()),
        })
    }

    /// Admits a new connection from `peer`, evicting an idle one at the cap (see the module
    /// documentation for which).
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Admission {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut evicted = false;
        if inner.entries.len() >= self.cap {
            match inner.victim().and_then(|id| inner.remove(id)) {
                Some(entry) => {
                    entry.evict.notify_one();
                    evicted = true;
                }
                None => return Admission::Full,
            }
        }
        inner.last += 1;
        let id = inner.last;
        let activity = Arc::new(Activity {
            busy: AtomicUsize::new(0),
            stamps: Mutex::new(Stamps {
                idle_since: Instant::now(),
                head_since: None,
                served: false,
            }),
            head_started: Notify::new(),
        });
        let evict = Arc::new(Notify::new());
        inner.entries.insert(
            id,
            Entry {
                peer,
                activity: activity.clone(),
                evict: evict.clone(),
            },
        );
        inner.peers.entry(peer).or_default().insert(id);
        Admission::Admitted {
            slot: Slot {
                id,
                tracker: self.clone(),
                activity,
                evict,
            },
            evicted,
        }
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }
}

/// A connection's place in the [`Tracker`]; released on drop.
#[derive(Debug)]
pub struct Slot {
    id: u64,
    tracker: Arc<Tracker>,
    activity: Arc<Activity>,
    evict: Arc<Notify>,
}

impl Slot {
    /// Completes when the tracker evicts this connection.
    pub async fn evicted(&self) {
        self.evict.notified().await
    }

    /// Marks a request as being answered until the returned guard drops.
    pub fn busy(&self) -> BusyGuard {
        {
            let mut stamps = self.activity.stamps();
            stamps.head_since = None;
            stamps.served = true;
        }
        self.activity.busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard(self.activity.clone())
    }

    /// Notes that bytes of a request arrived: on an idle connection, the first of them starts
    /// the header-read timeout of the request they begin.
    pub fn head_bytes(&self) {
        if self.activity.busy.load(Ordering::Acquire) == 0 {
            let mut stamps = self.activity.stamps();
            if stamps.head_since.is_none() {
                stamps.head_since = Some(Instant::now());
                self.activity.head_started.notify_one();
            }
        }
    }

    /// Completes when the connection has been quiet for too long, with no request in flight:
    /// `limits.header_read_timeout` from its start before its first request, or from the first
    /// byte of a request head that is still incomplete (when `heads` counts them, HTTP/1.1);
    /// `limits.idle_timeout` from the end of its last request otherwise.
    pub async fn quiet_too_long(&self, limits: &ConnLimits, heads: bool) -> Quiet {
        loop {
            let wait = if self.activity.busy.load(Ordering::Acquire) == 0 {
                let stamps = *self.activity.stamps();
                let (since, limit, quiet) = match stamps.head_since {
                    _ if !stamps.served => (
                        stamps.idle_since,
                        limits.header_read_timeout,
                        Quiet::HeadTimeout,
                    ),
                    Some(head) if heads => (head, limits.header_read_timeout, Quiet::HeadTimeout),
                    _ => (stamps.idle_since, limits.idle_timeout, Quiet::Idle),
                };
                match limit.checked_sub(since.elapsed()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return quiet,
                }
            } else {
                limits.header_read_timeout.min(limits.idle_timeout)
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.activity.head_started.notified() => {}
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.tracker.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.remove(self.id);
    }
}

/// A request in progress on a connection; see [`Slot::busy`].
#[derive(Debug)]
pub struct BusyGuard(Arc<Activity>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        // Stamp before the count drops, so an idle check never sees zero with an old stamp.
        self.0.stamps().idle_since = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(admission: Admission) -> (Slot, bool) {
        match admission {
            Admission::Admitted { slot, evicted } => (slot, evicted),
            Admission::Full => panic!("expected admission"),
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[tokio::test]
    async fn evicts_the_oldest_idle_and_spares_busy_ones() {
        let tracker = Tracker::new(2);
        let (first, _) = slot(tracker.admit(A));
        let (second, _) = slot(tracker.admit(A));
        let _working = first.busy();
        let (_third, evicted) = slot(tracker.admit(A));
        assert!(evicted);
        // The second (idle) one was told to go; the busy first one stays.
        tokio::time::timeout(Duration::from_secs(1), second.evicted())
            .await
            .expect("idle connection not evicted");
        assert_eq!(tracker.open(), 2);
        drop(second);
        assert_eq!(tracker.open(), 2);
    }

    #[test]
    fn full_of_busy_connections_refuses() {
        let tracker = Tracker::new(1);
        let (only, _) = slot(tracker.admit(A));
        let _working = only.busy();
        assert!(matches!(tracker.admit(B), Admission::Full));
    }

    #[tokio::test]
    async fn the_address_holding_most_connections_loses_one() {
        let tracker = Tracker::new(3);
        let (quiet, _) = slot(tracker.admit(B));
        let (_flood1, _) = slot(tracker.admit(A));
        let (flood2, _) = slot(tracker.admit(A));
        // B's connection is the oldest idle one, but A holds more: A's oldest goes.
        let (_more, evicted) = slot(tracker.admit(A));
        assert!(evicted);
        let (_again, _) = slot(tracker.admit(A));
        tokio::time::timeout(Duration::from_secs(1), flood2.evicted())
            .await
            .expect("the flooding address did not lose a connection");
        let quiet_gone = tokio::time::timeout(Duration::from_millis(50), quiet.evicted()).await;
        assert!(quiet_gone.is_err(), "the quiet address lost its connection");
    }

    const LIMITS: ConnLimits = ConnLimits {
        max_connections: 8,
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(120),
    };

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_gets_the_header_read_timeout() {
        let tracker = Tracker::new(1);
        let (fresh, _) = slot(tracker.admit(B));
        let start = Instant::now();
        assert_eq!(
            fresh.quiet_too_long(&LIMITS, true).await,
            Quiet::HeadTimeout
        );
        assert_eq!(start.elapsed(), LIMITS.header_read_timeout);
    }

    #[tokio::test(start_paused = true)]
    async fn between_requests_the_idle_timeout_counts_from_the_last_answer() {
        let tracker = Tracker::new(1);
        let (used, _) = slot(tracker.admit(A));
        let start = Instant::now();
        // A request for 8 s, ending 8 s in: idle from then on.
        let working = used.busy();
        let finish = async {
            tokio::time::sleep(Duration::from_secs(8)).await;
            drop(working);
        };
        let (quiet, ()) = tokio::join!(used.quiet_too_long(&LIMITS, true), finish);
        assert_eq!(quiet, Quiet::Idle);
        assert_eq!(start.elapsed(), Duration::from_secs(128));
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_head_started_gets_the_header_read_timeout_from_its_first_byte() {
        let tracker = Tracker::new(2);
        let (used, _) = slot(tracker.admit(A));
        drop(used.busy());
        let start = Instant::now();
        // 60 s idle, then a head starts and never ends.
        let trickle = async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            used.head_bytes();
            tokio::time::sleep(Duration::from_secs(1)).await;
            used.head_bytes();
        };
        let (quiet, ()) = tokio::join!(used.quiet_too_long(&LIMITS, true), trickle);
        assert_eq!(quiet, Quiet::HeadTimeout);
        assert_eq!(start.elapsed(), Duration::from_secs(65));
        // Where heads are not counted (HTTP/2 frames), bytes do not shorten the idle limit.
        let (h2, _) = slot(tracker.admit(B));
        drop(h2.busy());
        h2.head_bytes();
        let start = Instant::now();
        assert_eq!(h2.quiet_too_long(&LIMITS, false).await, Quiet::Idle);
        assert_eq!(start.elapsed(), LIMITS.idle_timeout);
    }

    #[test]
    fn defaults_follow_the_descriptor_limit() {
        assert_eq!(ConnLimits::for_nofile(1024).max_connections, 480);
        assert_eq!(ConnLimits::for_nofile(100).max_connections, 18);
        assert_eq!(ConnLimits::for_nofile(10).max_connections, 8);
    }
}
