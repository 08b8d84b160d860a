//! The one parser of the text exposition format in the tests (Prometheus text and OpenMetrics
//! as the exporters answer), and assertions on a parsed answer. Every assertion's message
//! carries the whole answer, so a failing test shows what the exporter really said.

#![allow(dead_code)]

use std::collections::BTreeMap;

/// One sample of the text exposition format.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Metric name.
    pub name: String,
    /// Labels by name.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

/// A parsed `/probe` answer.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The raw text, for failure messages.
    pub body: String,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

/// The labels of `probe_failure_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `phase` label.
    pub phase: String,
    /// `class` label.
    pub class: String,
    /// `detail` label.
    pub detail: String,
}

/// Parses `name{a="b",c="d"} value [timestamp]` lines, skipping comments; malformed lines are
/// skipped too (the assertions then fail naming the whole body).
fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, labels, rest) = match line.find('{') {
        Some(open) => {
            let (labels, rest) = parse_labels(&line[open + 1..])?;
            (&line[..open], labels, rest)
        }
        None => {
            let (name, rest) = line.split_once(' ')?;
            (name, BTreeMap::new(), rest)
        }
    };
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Parses `a="b",c="d"}` (after the opening brace); returns the labels and what follows `}`.
fn parse_labels(mut s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start_matches([',', ' ']);
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let (key, rest) = s.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim().to_string(), value);
        s = &rest[end + 1..];
    }
}

impl Metrics {
    /// Parses a text-format answer.
    pub fn parse(body: &str) -> Metrics {
        Metrics {
            body: body.to_string(),
            samples: body.lines().filter_map(parse_line).collect(),
        }
    }

    /// Samples named `name` whose labels include every `(key, value)` of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the first sample named `name` with these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.find(name, labels).first().map(|s| s.value)
    }

    /// The value of the first sample named `name`.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.get(name, &[])
    }

    /// The labels of the `probe_failure_info` series, if exactly one exists; panics when there
    /// are several (the contract allows one).
    pub fn failure(&self) -> Option<Failure> {
        let found = self.find("probe_failure_info", &[]);
        assert!(
            found.len() <= 1,
            "several probe_failure_info series:\n{}",
            self.body
        );
        let labels = &found.first()?.labels;
        let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
        Some(Failure {
            phase: get("phase"),
            class: get("class"),
            detail: get("detail"),
        })
    }
}

// ---- assertions

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

    /// Asserts success over IP version `ip` (`probe_ip_protocol`).
    pub fn assert_success_over(&self, ip: u8) {
        self.assert_success();
        self.assert_value("probe_ip_protocol", &[], f64::from(ip));
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

    /// Asserts a connect failure of `class` with `errno`, exactly one `probe_icmp_info` with
    /// `icmp` = (type, code, reason, from), and a connect phase of at most `max_seconds`.
    pub fn assert_icmp_failure(
        &self,
        class: &str,
        errno: &str,
        icmp: (&str, &str, &str, &str),
        max_seconds: f64,
    ) {
        self.assert_failure("connect", class, errno);
        self.assert_icmp(icmp.0, icmp.1, icmp.2, icmp.3);
        self.assert_phase_between("connect", 0.0, max_seconds);
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
