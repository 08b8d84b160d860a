//! The probe descriptor budget on `/metrics`, read when scraped: how many descriptors probe
//! sockets (connections, path-trace hops, DNS lookups) hold now, and the budget they are taken
//! from ([`crate::prober::sockets`]).

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

use crate::prober::sockets;

/// Encodes `handshake_exporter_probe_sockets` and `handshake_exporter_probe_sockets_limit`.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProbeSocketsCollector;

impl Collector for ProbeSocketsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let to_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        for (name, help, value) in [
            (
                "handshake_exporter_probe_sockets",
                "Descriptors probe sockets hold now (connections, path-trace hops, DNS lookups)",
                sockets::in_use(),
            ),
            (
                "handshake_exporter_probe_sockets_limit",
                "Descriptors probe sockets may hold at once: the open-file limit less a reserve \
                 and the HTTP connections' share",
                sockets::limit(),
            ),
        ] {
            let gauge = ConstGauge::new(to_i64(value));
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}
