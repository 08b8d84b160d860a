//! A target name of 50,000 bytes, probed in the lab: the exporter's log line about the probe
//! carries 256 bytes of it and its real length, whatever the client sent.

#[macro_use]
mod lab;

use lab::modules::{config, module, IP4};
use lab::Exporter;

#[test]
fn a_50_kb_target_name_gives_a_bounded_probe_log_line() {
    const PROBES: usize = 5;
    let lab = lab_or_skip!();
    let exporter = Exporter::start(&lab, &config(&[module("tcp", "1s", &[IP4])]));
    let host = format!("{}.lab.test", "a".repeat(49_991));
    let target = format!("{host}:80");
    let before = exporter.log().len();
    for _ in 0..PROBES {
        let m = exporter.probe("tcp", &target);
        assert_eq!(m.value("probe_success"), Some(0.0));
    }
    let log = exporter.log();
    let added = &log[before..];
    let lines: Vec<&str> = added
        .lines()
        .filter(|l| l.contains("probe failed"))
        .collect();
    assert_eq!(lines.len(), PROBES, "{added}");
    let shown = format!("{}…[{} bytes]", "a".repeat(256), host.len());
    for line in &lines {
        assert!(line.contains(&shown), "{line}");
        assert!(line.len() < 1024, "a probe line of {} bytes", line.len());
    }
    let per_probe = added.len() / PROBES;
    println!(
        "{per_probe} log bytes per probe of a {}-byte name",
        host.len()
    );
    assert!(
        per_probe < 4096,
        "{per_probe} log bytes per probe:\n{added}"
    );
}
