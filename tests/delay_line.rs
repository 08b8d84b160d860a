//! Phase timing you can trust: the probe engine's connect time and the kernel's TCP_INFO RTT,
//! measured across a link whose round trip the test itself makes.
//!
//! Two network namespaces (client 198.51.100.2, server 203.0.113.2, documentation prefixes) are
//! joined by a delay line of two TUN devices that holds every packet a fixed time each way (the
//! kernel here has no netem). A TCP connect is one round trip (SYN out, SYN-ACK back), so the
//! connect phase must last 2·D, give or take the line's own few microseconds. Needs root; skips
//! with a message otherwise, except under CI=true, where it fails.

mod lab;

use std::net::TcpListener;
use std::time::Duration;

use handshake_exporter::config::Config;
use handshake_exporter::prober::{probe, ProbeRequest, Target};
use handshake_exporter::report::{Phase, ProbeReport};
use lab::delay::{open_tun, DelayLine};
use lab::netns::Netns;

/// Probes measured; the median of them is compared, so one late wake-up does not fail the test.
const PROBES: usize = 7;
/// How far the median may be from the true round trip.
const TOLERANCE: Duration = Duration::from_millis(2);

/// Client and server namespaces joined by a delay line of `one_way` each way, and a listener on
/// 203.0.113.2:8000. Fields drop in order: line threads, listener, then the namespaces.
struct Lab {
    line: DelayLine,
    _listener: TcpListener,
    client: Netns,
    _server: Netns,
}

impl Lab {
    fn new(one_way: Duration) -> Lab {
        let client = Netns::new("c");
        let server = Netns::new("s");
        let tun_c = client
            .run(|| open_tun("dl0"))
            .expect("TUN in client namespace");
        let tun_s = server
            .run(|| open_tun("dl0"))
            .expect("TUN in server namespace");
        for (ns, addr, peer) in [
            (&client, "198.51.100.2/32", "203.0.113.0/24"),
            (&server, "203.0.113.2/32", "198.51.100.0/24"),
        ] {
            ns.ip(&format!("addr add {addr} dev dl0"));
            ns.ip("link set dl0 up");
            ns.ip(&format!("route add {peer} dev dl0"));
        }
        let line = DelayLine::start(tun_c, tun_s, one_way).expect("start the delay line");
        // The kernel completes handshakes into the backlog: nobody needs to accept.
        let listener = server
            .run(|| TcpListener::bind("203.0.113.2:8000"))
            .expect("listen in server namespace");
        Lab {
            line,
            _listener: listener,
            client,
            _server: server,
        }
    }

    /// Runs `PROBES` tcp_connect probes one after the other from the client namespace.
    fn probes(&self) -> Vec<ProbeReport> {
        let module = Config::builtin().modules["tcp_connect"].clone();
        self.client.run(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            (0..PROBES)
                .map(|_| {
                    rt.block_on(probe(ProbeRequest {
                        target: Target {
                            host: "203.0.113.2".into(),
                            port: 8000,
                        },
                        module_name: "tcp_connect".into(),
                        module: module.clone(),
                        timeout: Duration::from_secs(5),
                    }))
                })
                .collect()
        })
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn assert_near(what: &str, values: Vec<Duration>, truth: Duration) {
    let m = median(values.clone());
    let off = if m > truth { m - truth } else { truth - m };
    eprintln!("{what}: median {m:?} (true round trip {truth:?}), all {values:?}");
    assert!(
        off <= TOLERANCE,
        "{what}: median {m:?} is {off:?} from the true round trip {truth:?} (allowed {TOLERANCE:?}); all {values:?}"
    );
}

/// Builds a lab with `one_way` delay, runs the probes, and checks both timings against 2·D.
fn check(one_way: Duration) {
    let lab = Lab::new(one_way);
    let reports = lab.probes();
    for r in &reports {
        assert!(r.success(), "probe failed: {:?} {:?}", r.failure, r.log);
    }
    let connect = reports
        .iter()
        .map(|r| {
            r.phase_duration(Phase::Connect)
                .expect("connect phase timed")
        })
        .collect();
    let rtt = reports
        .iter()
        .map(|r| r.tcp_info.expect("TCP_INFO after connect").rtt)
        .collect();
    assert!(
        lab.line.packets() >= 2 * PROBES as u64,
        "line carried the handshakes"
    );
    eprintln!(
        "delay line {one_way:?} each way: {} packets, worst lateness {:?}",
        lab.line.packets(),
        lab.line.worst_lateness()
    );
    assert_near("connect phase", connect, 2 * one_way);
    assert_near("TCP_INFO rtt", rtt, 2 * one_way);
}

/// Whether the delay line can run here (see [`lab::available`]).
fn available() -> bool {
    lab::available(&["ip"], &["/dev/net/tun"])
}

#[test]
fn connect_phase_and_tcp_rtt_match_a_40ms_round_trip() {
    if available() {
        check(Duration::from_millis(20));
    }
}

#[test]
fn connect_phase_and_tcp_rtt_match_a_6ms_round_trip() {
    if available() {
        check(Duration::from_millis(3));
    }
}
