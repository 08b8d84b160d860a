//! The connection cap that keeps a flood of idle connections from blinding the exporter.
//!
//! Every accepted connection takes a [`Slot`]. At the cap, a new connection evicts the oldest
//! connection that is not serving a request (idle keep-alive, TLS handshake or request head
//! still arriving): a hostile client holding thousands of half-sent requests loses them one
//! by one to newcomers, while a connection whose request is being answered is never touched.
//! When every connection is busy the newcomer is closed at once. With the cap below the
//! open-file limit, accept(2) never fails with EMFILE on the HTTP side.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// Descriptors kept out of the HTTP connections' share: listeners, log, config and
/// certificate reads, DNS sockets.
const RESERVED_FDS: u64 = 64;

/// The connection-handling limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// HTTP connections open at once.
    pub max_connections: usize,
    /// Time a client has to send a whole request head (HTTP/1.1) or finish the TLS handshake.
    pub header_read_timeout: Duration,
}

impl ConnLimits {
    /// Defaults for an open-file limit of `nofile`: half of what is left after a reserve goes
    /// to HTTP connections, the other half to probe sockets (each request runs at most one
    /// probe at a time), at least 8; requests heads within 5 seconds.
    pub fn for_nofile(nofile: u64) -> ConnLimits {
        let share = nofile.saturating_sub(RESERVED_FDS) / 2;
        ConnLimits {
            max_connections: usize::try_from(share.max(8)).unwrap_or(usize::MAX),
            header_read_timeout: Duration::from_secs(5),
        }
    }

    /// [`ConnLimits::for_nofile`] with the process' current soft `RLIMIT_NOFILE`
    /// (getrlimit(2)); 1024 when it cannot be read.
    pub fn from_rlimit() -> ConnLimits {
        let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024);
        ConnLimits::for_nofile(soft)
    }
}

/// One tracked connection as the tracker sees it.
#[derive(Debug)]
struct Entry {
    /// Requests being answered on it now (HTTP/2 may have several).
    busy: Arc<AtomicUsize>,
    /// Woken to make the connection close.
    evict: Arc<Notify>,
}

/// The open connections, oldest first.
#[derive(Debug)]
pub struct Tracker {
    cap: usize,
    inner: Mutex<(u64, BTreeMap<u64, Entry>)>,
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
            inner: Mutex::new((0, BTreeMap::new())),
        })
    }

    /// Admits a new connection, evicting the oldest idle one at the cap.
    pub fn admit(self: &Arc<Self>) -> Admission {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut evicted = false;
        if inner.1.len() >= self.cap {
            let oldest_idle = inner
                .1
                .iter()
                .find(|(_, e)| e.busy.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id);
            match oldest_idle.and_then(|id| inner.1.remove(&id)) {
                Some(entry) => {
                    entry.evict.notify_one();
                    evicted = true;
                }
                None => return Admission::Full,
            }
        }
        inner.0 += 1;
        let id = inner.0;
        let busy = Arc::new(AtomicUsize::new(0));
        let evict = Arc::new(Notify::new());
        inner.1.insert(
            id,
            Entry {
                busy: busy.clone(),
                evict: evict.clone(),
            },
        );
        Admission::Admitted {
            slot: Slot {
                id,
                tracker: self.clone(),
                busy,
                evict,
            },
            evicted,
        }
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).1.len()
    }
}

/// A connection's place in the [`Tracker`]; released on drop.
#[derive(Debug)]
pub struct Slot {
    id: u64,
    tracker: Arc<Tracker>,
    busy: Arc<AtomicUsize>,
    evict: Arc<Notify>,
}

impl Slot {
    /// Completes when the tracker evicts this connection.
    pub async fn evicted(&self) {
        self.evict.notified().await
    }

    /// Marks a request as being answered until the returned guard drops.
    pub fn busy(&self) -> BusyGuard {
        self.busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard(self.busy.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.tracker.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.1.remove(&self.id);
    }
}

/// A request in progress on a connection; see [`Slot::busy`].
#[derive(Debug)]
pub struct BusyGuard(Arc<AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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

    #[tokio::test]
    async fn evicts_the_oldest_idle_and_spares_busy_ones() {
        let tracker = Tracker::new(2);
        let (first, _) = slot(tracker.admit());
        let (second, _) = slot(tracker.admit());
        let _working = first.busy();
        let (_third, evicted) = slot(tracker.admit());
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
        let (only, _) = slot(tracker.admit());
        let _working = only.busy();
        assert!(matches!(tracker.admit(), Admission::Full));
    }

    #[test]
    fn defaults_follow_the_descriptor_limit() {
        assert_eq!(ConnLimits::for_nofile(1024).max_connections, 480);
        assert_eq!(ConnLimits::for_nofile(100).max_connections, 18);
        assert_eq!(ConnLimits::for_nofile(10).max_connections, 8);
    }
}
