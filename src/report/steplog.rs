//! The step log of one probe (`/probe?debug=true`, `/logs`), bounded: a peer decides how much
//! it sends and how many lines, so neither one entry nor the whole log may grow with it.
//!
//! - An entry keeps at most [`ENTRY_LIMIT_BYTES`] of its message; a longer one is cut at a
//!   character boundary and ends with a marker giving its full length.
//! - A log keeps its first entries up to a budget of rendered bytes ([`LOG_LIMIT_BYTES`] for a
//!   probe, [`PART_LIMIT_BYTES`] for a part of it, such as one address of a probe of every
//!   address). Past the budget, entries are counted, not kept, except the newest, which
//!   replaces the one before it: the log ends with one marker line where it was cut (how many
//!   entries and bytes were left out) and the probe's last entry, its verdict.
//!
//! A log therefore holds at most its budget plus two entries of [`ENTRY_LIMIT_BYTES`].

use super::LogLine;

/// Longest message one entry keeps, in bytes (UTF-8), before the cut marker.
pub const ENTRY_LIMIT_BYTES: usize = 1024;

/// Rendered bytes of the entries a probe's log keeps before it is cut (64 KiB).
pub const LOG_LIMIT_BYTES: usize = 64 * 1024;

/// Rendered bytes of the entries a part of a probe keeps (48 KiB), so the probe's own entries
/// around one part still fit in [`LOG_LIMIT_BYTES`] and a one-address probe is cut only once.
pub const PART_LIMIT_BYTES: usize = 48 * 1024;

/// What an entry costs besides its message: the offset column and the newline as both pages
/// render them (`" 0.012345s  "`, `"\n"`).
const ENTRY_OVERHEAD_BYTES: usize = 13;

/// Collects [`LogLine`]s with their offset from the probe's start, within a byte budget.
#[derive(Debug, Clone)]
pub struct StepLog {
    start: std::time::Instant,
    budget: usize,
    used: usize,
    lines: Vec<LogLine>,
    cut: Option<Cut>,
}

/// What a log left out once its budget was spent.
#[derive(Debug, Clone)]
struct Cut {
    /// The offset of the first entry left out: where the marker goes.
    at: std::time::Duration,
    /// Entries counted and dropped (the newest, kept in `last`, is not among them).
    entries: usize,
    /// Their messages' bytes.
    bytes: usize,
    /// The newest entry, kept to end the log.
    last: LogLine,
}

impl StepLog {
    /// A probe's log ([`LOG_LIMIT_BYTES`]) whose offsets count from `start`.
    pub fn new(start: std::time::Instant) -> Self {
        StepLog::with_budget(start, LOG_LIMIT_BYTES)
    }

    /// The log of a part of a probe ([`PART_LIMIT_BYTES`]), whose lines the probe's log takes
    /// in with [`StepLog::append`].
    pub fn part(start: std::time::Instant) -> Self {
        StepLog::with_budget(start, PART_LIMIT_BYTES)
    }

    /// A log keeping up to `budget` rendered bytes of entries.
    pub fn with_budget(start: std::time::Instant, budget: usize) -> Self {
        StepLog {
            start,
            budget,
            used: 0,
            lines: Vec::new(),
            cut: None,
        }
    }

    /// Records `message` at the current offset.
    pub fn note(&mut self, message: impl Into<String>) {
        let offset = self.start.elapsed();
        self.push(LogLine {
            offset,
            message: message.into(),
        });
    }

    /// Records `message` at the offset of `at`, a moment already past.
    pub fn note_at(&mut self, at: std::time::Instant, message: impl Into<String>) {
        let offset = at.saturating_duration_since(self.start);
        self.push(LogLine {
            offset,
            message: message.into(),
        });
    }

    /// Takes in `lines` (another log's, in their order), each as if noted here: the entry
    /// limit and this log's budget apply to them too.
    pub fn append(&mut self, lines: Vec<LogLine>) {
        for line in lines {
            self.push(line);
        }
    }

    /// The lines kept, then (when the budget ran out) the cut marker and the newest entry.
    pub fn into_lines(self) -> Vec<LogLine> {
        let mut lines = self.lines;
        if let Some(cut) = self.cut {
            lines.push(LogLine {
                offset: cut.at,
                message: format!(
                    "[step log cut here: {} entries ({} bytes) left out, the log keeps {} KiB; its last entry follows]",
                    cut.entries,
                    cut.bytes,
                    self.budget / 1024
                ),
            });
            lines.push(cut.last);
        }
        lines
    }

    fn push(&mut self, mut line: LogLine) {
        cut_entry(&mut line.message);
        let cost = line.message.len() + ENTRY_OVERHEAD_BYTES;
        if let Some(cut) = &mut self.cut {
            let dropped = std::mem::replace(&mut cut.last, line);
            cut.entries += 1;
            cut.bytes += dropped.message.len();
        } else if self.used + cost > self.budget {
            self.cut = Some(Cut {
                at: line.offset,
                entries: 0,
                bytes: 0,
                last: line,
            });
        } else {
            self.used += cost;
            self.lines.push(line);
        }
    }
}

/// Cuts `message` to [`ENTRY_LIMIT_BYTES`] at a character boundary and marks the cut with the
/// message's full length.
fn cut_entry(message: &mut String) {
    if message.len() <= ENTRY_LIMIT_BYTES {
        return;
    }
    let total = message.len();
    let mut end = ENTRY_LIMIT_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(&format!("… [entry cut: {total} bytes in all]"));
    message.shrink_to_fit();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn rendered(lines: &[LogLine]) -> usize {
        lines
            .iter()
            .map(|l| l.message.len() + ENTRY_OVERHEAD_BYTES)
            .sum()
    }

    #[test]
    fn a_long_entry_is_cut_with_its_length() {
        let mut log = StepLog::new(Instant::now());
        log.note("é".repeat(40_000));
        let lines = log.into_lines();
        assert_eq!(lines.len(), 1);
        let message = &lines[0].message;
        assert!(message.len() <= ENTRY_LIMIT_BYTES + 64, "{}", message.len());
        assert!(
            message.ends_with("… [entry cut: 80000 bytes in all]"),
            "{message}"
        );
    }

    #[test]
    fn the_log_keeps_its_head_a_marker_and_the_last_entry() {
        let mut log = StepLog::new(Instant::now());
        for i in 0..100_000 {
            log.note(format!("step 0: read \"line {i}\""));
        }
        log.note("probe failed: phase=query class=timeout");
        let lines = log.into_lines();
        assert!(rendered(&lines) <= LOG_LIMIT_BYTES + 2 * (ENTRY_LIMIT_BYTES + 64));
        assert_eq!(lines[0].message, "step 0: read \"line 0\"");
        let marker = &lines[lines.len() - 2].message;
        assert!(marker.starts_with("[step log cut here: "), "{marker}");
        let kept = lines.len() - 2;
        // Every entry is either kept, counted in the marker, or the last one.
        let left_out: usize = marker["[step log cut here: ".len()..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert_eq!(kept + left_out + 1, 100_001);
        assert_eq!(
            lines.last().unwrap().message,
            "probe failed: phase=query class=timeout"
        );
    }

    #[test]
    fn a_part_fits_in_the_probe_log_without_a_second_cut() {
        let start = Instant::now();
        let mut part = StepLog::part(start);
        for i in 0..10_000 {
            part.note(format!("{i:>1000}"));
        }
        let mut probe = StepLog::new(start);
        for _ in 0..8 {
            probe.note("x".repeat(2000));
        }
        probe.append(part.into_lines());
        probe.note("probe failed");
        let lines = probe.into_lines();
        let markers = lines
            .iter()
            .filter(|l| l.message.starts_with("[step log cut here"))
            .count();
        assert_eq!(markers, 1, "one cut, the part's");
        assert_eq!(lines.last().unwrap().message, "probe failed");
    }
}
