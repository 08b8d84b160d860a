//! Which of a name's addresses `tcp.probe_all_addresses` probes: each distinct address once, in
//! the resolver's order, at most `probe_all_addresses_limit` of them; the rest are counted and
//! named in the step log, never connected to.

use std::collections::HashSet;
use std::net::IpAddr;

use crate::report::StepLog;

/// How many of the addresses left out the step log names; the rest are only counted.
pub const NAMED_LEFT_OUT: usize = 32;

/// The addresses to probe and how many distinct ones were left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Distinct addresses to probe, in the resolver's order; never more than the limit.
    pub probed: Vec<IpAddr>,
    /// Distinct addresses beyond the limit (`probe_addresses_not_probed`).
    pub not_probed: usize,
}

/// Splits `ips` (the resolver's answer, possibly with repeats) into the first `limit` distinct
/// addresses and the count of the other distinct ones. Notes in `log` how many repeats were
/// dropped and which addresses were left out (the first [`NAMED_LEFT_OUT`], then a count).
pub fn plan(ips: &[IpAddr], limit: usize, log: &mut StepLog) -> Plan {
    let mut seen = HashSet::with_capacity(ips.len().min(4 * limit));
    let mut probed = Vec::with_capacity(ips.len().min(limit));
    let mut left_out = Vec::new();
    let mut not_probed = 0;
    for ip in ips {
        if !seen.insert(*ip) {
            continue;
        }
        if probed.len() < limit {
            probed.push(*ip);
        } else {
            not_probed += 1;
            if left_out.len() < NAMED_LEFT_OUT {
                left_out.push(ip.to_string());
            }
        }
    }
    let repeats = ips.len() - seen.len();
    if repeats > 0 {
        log.note(format!(
            "{repeats} repeated addresses dropped: each distinct address is probed once"
        ));
    }
    if not_probed > 0 {
        let more = not_probed - left_out.len();
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        log.note(format!(
            "{not_probed} addresses not probed (probe_all_addresses_limit {limit}): {}{tail}",
            left_out.join(", ")
        ));
    }
    Plan { probed, not_probed }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn log() -> StepLog {
        StepLog::new(std::time::Instant::now())
    }

    #[test]
    fn repeats_collapse_in_order() {
        let all = ips(&["192.0.2.2", "192.0.2.1", "192.0.2.2", "192.0.2.1"]);
        let plan = plan(&all, 16, &mut log());
        assert_eq!(plan.probed, ips(&["192.0.2.2", "192.0.2.1"]));
        assert_eq!(plan.not_probed, 0);
    }

    #[test]
    fn beyond_the_limit_is_counted_and_named() {
        let all: Vec<IpAddr> = (1..=100u8)
            .map(|i| IpAddr::from([192, 0, 2, i]))
            .chain([IpAddr::from([192, 0, 2, 1])])
            .collect();
        let mut log = log();
        let plan = plan(&all, 4, &mut log);
        assert_eq!(
            plan.probed,
            ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"])
        );
        assert_eq!(plan.not_probed, 96);
        let lines: Vec<String> = log.into_lines().into_iter().map(|l| l.message).collect();
        assert_eq!(
            lines[0],
            "1 repeated addresses dropped: each distinct address is probed once"
        );
        assert!(lines[1].starts_with(
            "96 addresses not probed (probe_all_addresses_limit 4): 192.0.2.5, 192.0.2.6"
        ));
        assert!(lines[1].ends_with("192.0.2.36 and 64 more"), "{}", lines[1]);
    }
}
