//! The recent probes the status page lists: two bounded rings, one for successes and one for
//! failures, so a flood of successes never evicts the failures a person comes to read (the
//! scheme blackbox_exporter's `--history.limit` uses).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::config::Module;
use crate::report::ProbeReport;

/// `--history.limit` default: records kept per ring.
pub const DEFAULT_LIMIT: usize = 100;

/// Longest target a record keeps, in bytes; a longer one (no host name is: DNS names stop at
/// 253 characters, RFC 1035 section 2.3.4) is kept cut, ending with `…`.
pub const TARGET_LIMIT_BYTES: usize = 1024;

/// One probe as the status page shows it.
///
/// Bounded whatever the target sends: the module name is one of the config's, the target is
/// cut to [`TARGET_LIMIT_BYTES`], and the report's step log keeps at most
/// [`crate::report::LOG_LIMIT_BYTES`] plus two entries (see [`crate::report::StepLog`]); its
/// other facts are the metrics the probe returned.
#[derive(Debug)]
pub struct Record {
    /// Sequence number, from 1, unique for the process's life (the `id` of `/logs?id=`).
    pub id: u64,
    /// Wall-clock time the probe finished.
    pub time: SystemTime,
    /// The module name as requested.
    pub module_name: String,
    /// The target as requested (`HOST:PORT`), cut to [`TARGET_LIMIT_BYTES`].
    pub target: String,
    /// The module's settings the probe ran with (the configuration of that moment).
    pub module: Arc<Module>,
    /// Everything the probe found out.
    pub report: ProbeReport,
}

/// Recent probe records, at most `limit` successes plus `limit` failures. Cheap to share: the
/// lock is held only to push or to copy out `Arc`s.
#[derive(Debug)]
pub struct History {
    limit: usize,
    rings: Mutex<Rings>,
}

#[derive(Debug, Default)]
struct Rings {
    next_id: u64,
    successes: VecDeque<Arc<Record>>,
    failures: VecDeque<Arc<Record>>,
}

impl History {
    /// An empty history keeping `limit` records per ring; 0 keeps nothing.
    pub fn new(limit: usize) -> History {
        History {
            limit,
            rings: Mutex::new(Rings {
                next_id: 1,
                ..Default::default()
            }),
        }
    }

    /// Records per ring.
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn rings(&self) -> std::sync::MutexGuard<'_, Rings> {
        // The rings stay consistent whatever panicked while holding the lock: every change is a
        // single push or pop.
        self.rings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores one probe; the oldest record of its ring (success or failure) goes when the ring
    /// is full. Returns the record's id, 0 when the limit is 0 (nothing kept).
    pub fn push(
        &self,
        module_name: &str,
        target: &str,
        module: Arc<Module>,
        report: ProbeReport,
    ) -> u64 {
        if self.limit == 0 {
            return 0;
        }
        let mut rings = self.rings();
        let id = rings.next_id;
        rings.next_id += 1;
        let success = report.success();
        let record = Arc::new(Record {
            id,
            time: SystemTime::now(),
            module_name: module_name.to_string(),
            target: kept_target(target),
            module,
            report,
        });
        let ring = if success {
            &mut rings.successes
        } else {
            &mut rings.failures
        };
        if ring.len() == self.limit {
            ring.pop_front();
        }
        ring.push_back(record);
        id
    }

    /// Every record kept, newest first.
    pub fn recent(&self) -> Vec<Arc<Record>> {
        let rings = self.rings();
        let mut all: Vec<Arc<Record>> = rings
            .successes
            .iter()
            .chain(rings.failures.iter())
            .cloned()
            .collect();
        drop(rings);
        all.sort_unstable_by_key(|r| std::cmp::Reverse(r.id));
        all
    }

    /// The record `id`, if still kept.
    pub fn get(&self, id: u64) -> Option<Arc<Record>> {
        let rings = self.rings();
        find(&rings.failures, |r| r.id == id).or_else(|| find(&rings.successes, |r| r.id == id))
    }

    /// The newest record of `module_name` probing `target`, if any is kept.
    pub fn latest(&self, target: &str, module_name: &str) -> Option<Arc<Record>> {
        let rings = self.rings();
        let matches = |r: &Record| r.target == target && r.module_name == module_name;
        let failure = find(&rings.failures, matches);
        let success = find(&rings.successes, matches);
        drop(rings);
        match (failure, success) {
            (Some(f), Some(s)) => Some(if f.id > s.id { f } else { s }),
            (f, s) => f.or(s),
        }
    }
}

/// `target` as a record keeps it: whole up to [`TARGET_LIMIT_BYTES`], else its beginning (at a
/// character boundary) and `…`.
fn kept_target(target: &str) -> String {
    if target.len() <= TARGET_LIMIT_BYTES {
        return target.to_string();
    }
    let mut end = TARGET_LIMIT_BYTES;
    while !target.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &target[..end])
}

/// The newest record of `ring` matching `pred`.
fn find(ring: &VecDeque<Arc<Record>>, pred: impl Fn(&Record) -> bool) -> Option<Arc<Record>> {
    ring.iter().rev().find(|r| pred(r)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::report::{Detail, Failure, FailureClass, Phase};

    fn module() -> Arc<Module> {
        Config::builtin().modules["tcp_connect"].clone()
    }

    fn report(failed: bool) -> ProbeReport {
        ProbeReport {
            failure: failed
                .then(|| Failure::new(Phase::Connect, FailureClass::Refused, Detail::None)),
            ..Default::default()
        }
    }

    #[test]
    fn failures_survive_a_flood_of_successes() {
        let history = History::new(3);
        let f1 = history.push("tcp_connect", "a:1", module(), report(true));
        let f2 = history.push("tcp_connect", "b:1", module(), report(true));
        for i in 0..50 {
            history.push("tcp_connect", &format!("ok{i}:1"), module(), report(false));
        }
        let recent = history.recent();
        assert_eq!(recent.len(), 5);
        assert!(history.get(f1).is_some() && history.get(f2).is_some());
        assert_eq!(recent[0].target, "ok49:1");
        assert_eq!(recent[3].id, f2);
        assert_eq!(recent[4].id, f1);
        assert!(history.get(3).is_none(), "the oldest success was evicted");
    }

    #[test]
    fn latest_picks_the_newest_of_both_rings() {
        let history = History::new(10);
        history.push("m", "t:1", module(), report(true));
        let newest = history.push("m", "t:1", module(), report(false));
        history.push("m", "other:1", module(), report(true));
        assert_eq!(history.latest("t:1", "m").unwrap().id, newest);
        assert!(history.latest("t:1", "x").is_none());
    }

    #[test]
    fn a_long_target_is_kept_cut() {
        let history = History::new(1);
        let target = format!("{}:1", "é".repeat(40_000));
        let id = history.push("m", &target, module(), report(true));
        let kept = &history.get(id).unwrap().target;
        assert!(
            kept.len() <= TARGET_LIMIT_BYTES + '…'.len_utf8(),
            "{}",
            kept.len()
        );
        assert!(kept.ends_with('…') && target.starts_with(kept.trim_end_matches('…')));
        assert!(
            history.latest(&target, "m").is_none(),
            "a cut target is not the target"
        );
    }

    #[test]
    fn zero_limit_keeps_nothing() {
        let history = History::new(0);
        assert_eq!(history.push("m", "t:1", module(), report(true)), 0);
        assert!(history.recent().is_empty());
    }
}
