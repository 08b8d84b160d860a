//! The exporter's own limits are never blamed on a target: when every ephemeral port toward a
//! target is taken (ip(7) `ip_local_port_range`, connect(2) EADDRNOTAVAIL), the probe fails as
//! `prober_error`, and succeeds again once ports are free.

#[macro_use]
mod lab;

use lab::modules::{module, IP4};
use std::net::TcpStream;

use lab::{Exporter, Peer};

fn config() -> String {
    lab::modules::config(&[module("tcp4", "2s", &[IP4])])
}

#[test]
fn out_of_ephemeral_ports_is_prober_error() {
    let lab = lab_or_skip!();
    // Two local ports in all; the exporter's HTTP connections may share them, since a port is
    // only taken per destination.
    lab::netns::sysctl(
        &lab.client,
        &[("net/ipv4/ip_local_port_range", "40000 40001")],
    );
    lab.serve("203.0.113.2:22", Peer::Silent);
    let exporter = Exporter::start(&lab, &config());

    let held: Vec<TcpStream> = lab.in_client(|| {
        (0..2)
            .map(|_| TcpStream::connect("203.0.113.2:22").expect("connect from the client"))
            .collect()
    });
    let m = exporter.probe("tcp4", "203.0.113.2:22");
    m.assert_failure("connect", "prober_error", "EADDRNOTAVAIL");

    drop(held);
    // Closed ports wait in TIME_WAIT toward that target; a wider range is the port supply
    // coming back, and the same target is probed fine again.
    lab::netns::sysctl(
        &lab.client,
        &[("net/ipv4/ip_local_port_range", "40000 40009")],
    );
    exporter.probe("tcp4", "203.0.113.2:22").assert_success();
}
