//! Assertions on a parsed `/probe` answer. Every failure message carries the whole answer, so a
//! failing lab test shows what the exporter really said.

use super::exporter::{Failure, Metrics};

impl Metrics {
    /// Asserts `probe_success 0` and one `probe_failure_info{phase,class,detail} 1`.
    pub fn assert_failure(&self, phase: &str, class: &str, detail: &str) {
        self.assert_failure_in(phase, class, &[detail]);
    }

    /// Like [`Metrics::assert_failure`], accepting any detail of `details`.
    pub fn assert_failure_in(&self, phase: &str, class: &str, details: &[&str]) {
        assert_eq!(
            self.value("probe_success"),
            Some(0.0),
            "expected probe_success 0:\n{}",
            self.body
        );
        let Some(got) = self.failure() else {
            panic!("no probe_failure_info:\n{}", self.body);
        };
        let want = Failure {
            phase: phase.into(),
            class: class.into(),
            detail: got.detail.clone(),
        };
        assert_eq!(got, want, "wrong failure:\n{}", self.body);
        assert!(
            details.contains(&got.detail.as_str()),
            "detail {:?} is not one of {details:?}:\n{}",
            got.detail,
            self.body
        );
        assert_eq!(
            self.get("probe_failure_info", &[]),
            Some(1.0),
            "probe_failure_info must be 1:\n{}",
            self.body
        );
    }

    /// Asserts `probe_success 1` and no `probe_failure_info`.
    pub fn assert_success(&self) {
        assert_eq!(
            self.value("probe_success"),
            Some(1.0),
            "expected probe_success 1:\n{}",
            self.body
        );
        assert!(
            self.failure().is_none(),
            "probe_failure_info on success:\n{}",
            self.body
        );
    }

    /// Asserts the sample `name{labels}` exists with value `want`.
    pub fn assert_value(&self, name: &str, labels: &[(&str, &str)], want: f64) {
        let got = self.get(name, labels);
        assert_eq!(got, Some(want), "{name}{labels:?}:\n{}", self.body);
    }

    /// Asserts the sample `name{labels}` exists with a value in `[lo, hi]`; returns it.
    pub fn assert_between(&self, name: &str, labels: &[(&str, &str)], lo: f64, hi: f64) -> f64 {
        let Some(got) = self.get(name, labels) else {
            panic!("no {name}{labels:?}:\n{}", self.body);
        };
        assert!(
            (lo..=hi).contains(&got),
            "{name}{labels:?} = {got}, not in [{lo}, {hi}]:\n{}",
            self.body
        );
        got
    }

    /// Asserts no sample named `name` exists.
    pub fn assert_absent(&self, name: &str) {
        assert!(
            self.find(name, &[]).is_empty(),
            "{name} must be absent:\n{}",
            self.body
        );
    }

    /// Asserts exactly one `probe_icmp_info{type,code,reason,from} 1`.
    pub fn assert_icmp(&self, icmp_type: &str, code: &str, reason: &str, from: &str) {
        let all = self.find("probe_icmp_info", &[]);
        assert_eq!(all.len(), 1, "expected one probe_icmp_info:\n{}", self.body);
        let labels = [
            ("type", icmp_type),
            ("code", code),
            ("reason", reason),
            ("from", from),
        ];
        self.assert_value("probe_icmp_info", &labels, 1.0);
    }

    /// Asserts the time spent in `phase` is within `[lo, hi]` seconds; returns it.
    pub fn assert_phase_between(&self, phase: &str, lo: f64, hi: f64) -> f64 {
        self.assert_between("probe_tcp_duration_seconds", &[("phase", phase)], lo, hi)
    }

    /// Asserts the whole probe took `[lo, hi]` seconds; returns it.
    pub fn assert_duration_between(&self, lo: f64, hi: f64) -> f64 {
        self.assert_between("probe_duration_seconds", &[], lo, hi)
    }

    /// Asserts `probe_path_last_responding_hop` is `last` and the `probe_path_hop_info` series
    /// are exactly `hops` (hop number, address), each with value 1.
    pub fn assert_path(&self, last: u32, hops: &[(u32, &str)]) {
        self.assert_value("probe_path_last_responding_hop", &[], f64::from(last));
        let got: Vec<(String, String, f64)> = self
            .find("probe_path_hop_info", &[])
            .iter()
            .map(|s| {
                let label = |k: &str| s.labels.get(k).cloned().unwrap_or_default();
                (label("hop"), label("address"), s.value)
            })
            .collect();
        let want: Vec<(String, String, f64)> = hops
            .iter()
            .map(|(hop, address)| (hop.to_string(), address.to_string(), 1.0))
            .collect();
        assert_eq!(got, want, "probe_path_hop_info series:\n{}", self.body);
    }

    /// Asserts `probe_address_success{address}` is 1 and no `probe_address_failure_info` names
    /// `address`.
    pub fn assert_address_success(&self, address: &str) {
        self.assert_value("probe_address_success", &[("address", address)], 1.0);
        let failures = self.find("probe_address_failure_info", &[("address", address)]);
        assert!(
            failures.is_empty(),
            "failure info for passing {address}:\n{}",
            self.body
        );
    }

    /// Asserts `probe_address_success{address}` is 0 and exactly one
    /// `probe_address_failure_info{address,phase,class,detail} 1` names `address`.
    pub fn assert_address_failure(&self, address: &str, phase: &str, class: &str, detail: &str) {
        self.assert_value("probe_address_success", &[("address", address)], 0.0);
        let failures = self.find("probe_address_failure_info", &[("address", address)]);
        assert_eq!(
            failures.len(),
            1,
            "expected one failure info for {address}:\n{}",
            self.body
        );
        let labels = [
            ("address", address),
            ("phase", phase),
            ("class", class),
            ("detail", detail),
        ];
        self.assert_value("probe_address_failure_info", &labels, 1.0);
    }
}
