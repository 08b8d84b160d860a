//! Peers that send what an `expect` step must not hold on to, against the real exporter: an
//! endless line (alone and 200 at once), a 64 KiB line with `OK` after it, lines at the line
//! limit and one byte past it (next to blackbox_exporter), and an endless stream of short lines
//! that never match. Each test asserts the bound: the class and detail, the step log's size and
//! its cut marker in `debug=true` and on `/logs`, and the exporter's peak RSS.

#[macro_use]
mod lab;

use std::time::{Duration, Instant};

use lab::exporter::{encode, get};
use lab::modules::{module, IP4};
use lab::{Exporter, Lab, Metrics, Peer};

/// The line limit: 64 KiB with the newline (Go's `bufio.MaxScanTokenSize`).
const LINE_LIMIT: usize = 64 * 1024;
/// What a probe's step log keeps before it is cut, plus the marker and the last entry.
const LOG_BOUND: usize = 64 * 1024 + 4 * 1024;

/// `expect: "^OK"` with a 4 s timeout, as the endless-line report had it; `ends_ok` looks for
/// `OK` at the end of a line, to tell a whole long line from its pieces.
fn config() -> String {
    let starts_ok = "      query_response:\n        - expect: \"^OK\"\n";
    let ends_ok = "      query_response:\n        - expect: \"OK$\"\n";
    lab::modules::config(&[
        module("expect_ok", "4s", &[IP4, starts_ok]),
        module("ends_ok", "4s", &[IP4, ends_ok]),
        module("expect_ok_2s", "2s", &[IP4, starts_ok]),
    ])
}

/// A peer on `addr` that writes `first` once, then `repeat` until the client goes away.
fn serve(lab: &Lab, addr: &str, first: Vec<u8>, repeat: Vec<u8>) {
    lab.serve(addr, Peer::Stream { first, repeat });
}

/// An endless line: `X` without a newline, 64 KiB per write.
fn endless_line(lab: &Lab, addr: &str) {
    serve(lab, addr, Vec::new(), vec![b'X'; 64 * 1024]);
}

/// The exporter's peak resident set (`VmHWM`, proc(5)), in bytes.
fn peak_rss(exporter: &Exporter) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", exporter.pid()))
        .expect("the exporter's /proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line");
    kb * 1024
}

/// `GET path` answered 200; its body.
fn get_ok(lab: &Lab, path: &str) -> String {
    let (status, body) = get(lab, path, Duration::from_secs(30)).expect("GET");
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The step log of a `debug=true` answer (between its header and the metrics).
fn debug_log(body: &str) -> &str {
    let log = body
        .strip_prefix("Logs for the probe:\n")
        .expect("a debug answer");
    log.split("\n\nMetrics that would have been returned:")
        .next()
        .unwrap()
}

/// The step log of a `/logs` page (the `pre.log` block).
fn page_log(page: &str) -> &str {
    let start = page
        .find("<pre class=\"log\">")
        .expect("a step log on the page");
    let rest = &page[start..];
    &rest[..rest.find("</pre>").expect("the end of the step log")]
}

#[test]
fn endless_line_fails_at_the_line_limit() {
    let lab = lab_or_skip!();
    endless_line(&lab, "203.0.113.2:7000");
    let exporter = Exporter::start(&lab, &config());
    let before = peak_rss(&exporter);
    let began = Instant::now();
    let m = exporter.probe("expect_ok", "203.0.113.2:7000");
    let took = began.elapsed();
    m.assert_failure("query", "expect_mismatch", "line_too_long");
    // As blackbox_exporter: a read error, not a regex that failed.
    m.assert_value("probe_failed_due_to_regex", &[], 0.0);
    assert!(
        took < Duration::from_secs(2),
        "it stops at 64 KiB, not at the deadline: {took:?}"
    );

    let path = "/probe?module=expect_ok&target=203.0.113.2:7000&debug=true";
    let debug = get_ok(&lab, path);
    let log = debug_log(&debug);
    assert!(
        log.contains("longer than 65536 bytes, the line limit"),
        "{log}"
    );
    assert!(
        log.len() < 4096,
        "one short entry per step, {} bytes:\n{log}",
        log.len()
    );

    let target = encode("203.0.113.2:7000");
    let page = get_ok(&lab, &format!("/logs?target={target}&module=expect_ok"));
    assert!(page.contains("line_too_long"), "the page names the detail");
    assert!(page_log(&page).len() < 4096, "{}", page_log(&page));
    assert!(
        page.len() < 64 * 1024,
        "the record page is {} bytes",
        page.len()
    );

    let grown = peak_rss(&exporter).saturating_sub(before);
    println!("peak RSS {before} -> {} bytes", before + grown);
    assert!(
        grown < 16 << 20,
        "two endless-line probes grew the peak RSS by {grown} bytes"
    );
}

#[test]
fn two_hundred_endless_lines_at_once_stay_bounded() {
    let lab = lab_or_skip!();
    endless_line(&lab, "203.0.113.2:7001");
    let exporter = Exporter::start(&lab, &config());
    let before = peak_rss(&exporter);
    let path = "/probe?module=expect_ok&target=203.0.113.2:7001";
    let answers: Vec<String> = std::thread::scope(|s| {
        let lab = &lab;
        let threads: Vec<_> = (0..200)
            .map(|_| s.spawn(move || get_ok(lab, path)))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for body in &answers {
        Metrics::parse(body).assert_failure("query", "expect_mismatch", "line_too_long");
    }
    let grown = peak_rss(&exporter).saturating_sub(before);
    println!("peak RSS {before} -> {} bytes", before + grown);
    // 200 lines of at most 64 KiB, their read buffers, step logs and HTTP connections: about
    // 30 MB at most. Before the bound, such probes held 1.5 GB.
    assert!(
        grown < 64 << 20,
        "200 endless-line probes grew the peak RSS by {grown} bytes"
    );
    let landing = get_ok(&lab, "/");
    assert!(
        landing.len() < 2 << 20,
        "the status page is {} bytes",
        landing.len()
    );
}

#[test]
fn a_64_kib_line_then_ok_is_no_match() {
    let lab = lab_or_skip!();
    let mut line = vec![b'X'; 65_536];
    line.extend_from_slice(b"OK\n");
    serve(&lab, "203.0.113.2:7002", line, Vec::new());
    let exporter = Exporter::start(&lab, &config());
    let m = exporter.probe("expect_ok", "203.0.113.2:7002");
    m.assert_failure("query", "expect_mismatch", "line_too_long");
    m.assert_value("probe_failed_due_to_regex", &[], 0.0);
}

/// A line of exactly the limit with its newline matches whole; one byte more fails, for us and
/// for blackbox_exporter alike.
#[test]
fn the_line_limit_is_blackbox_exporters() {
    let lab = lab_or_skip!();
    let line = |len: usize| {
        let mut l = vec![b'X'; len - 3];
        l.extend_from_slice(b"OK\n");
        l
    };
    serve(&lab, "203.0.113.2:7003", line(LINE_LIMIT), Vec::new());
    serve(&lab, "203.0.113.2:7004", line(LINE_LIMIT + 1), Vec::new());
    let ours = Exporter::start(&lab, &config());
    ours.probe("ends_ok", "203.0.113.2:7003").assert_success();
    ours.probe("ends_ok", "203.0.113.2:7004").assert_failure(
        "query",
        "expect_mismatch",
        "line_too_long",
    );
    drop(ours);
    let Some(blackbox) = Exporter::blackbox(&lab, &config()) else {
        return;
    };
    let success = |target| blackbox.probe("ends_ok", target).value("probe_success");
    assert_eq!(success("203.0.113.2:7003"), Some(1.0));
    assert_eq!(success("203.0.113.2:7004"), Some(0.0));
}

/// Short lines that never match, as fast as the peer can send them: the step log keeps its
/// first 64 KiB, a marker where it was cut, and the verdict.
#[test]
fn endless_short_lines_cut_the_step_log() {
    let lab = lab_or_skip!();
    serve(&lab, "203.0.113.2:7005", Vec::new(), b"nope\n".repeat(4096));
    let exporter = Exporter::start(&lab, &config());
    let before = peak_rss(&exporter);
    let path = "/probe?module=expect_ok_2s&target=203.0.113.2:7005&debug=true";
    let debug = get_ok(&lab, path);
    let log = debug_log(&debug);
    assert!(
        log.len() <= LOG_BOUND,
        "the step log is {} bytes",
        log.len()
    );
    let marker = log
        .lines()
        .find(|l| l.contains("[step log cut here: "))
        .unwrap_or_else(|| panic!("no cut marker in:\n{log}"));
    let left_out: u64 = marker
        .split("[step log cut here: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the marker counts what it left out");
    assert!(left_out > 10_000, "{marker}");
    let last = log.lines().last().unwrap();
    assert!(
        last.ends_with("probe failed: phase=query class=timeout"),
        "{last}"
    );

    let target = encode("203.0.113.2:7005");
    let page = get_ok(&lab, &format!("/logs?target={target}&module=expect_ok_2s"));
    let shown = page_log(&page);
    // HTML escaping lengthens the quotes of each entry (`&quot;`).
    assert!(
        shown.len() <= 2 * LOG_BOUND,
        "the page's step log is {} bytes",
        shown.len()
    );
    assert!(shown.contains("[step log cut here: "));
    let grown = peak_rss(&exporter).saturating_sub(before);
    assert!(grown < 16 << 20, "grew the peak RSS by {grown} bytes");
}
