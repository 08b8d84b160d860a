//! The CRL cache on `/metrics`, read when scraped: how many verified CRLs are kept and the bytes
//! counted against its bound ([`crate::prober::tls::crl`]).

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

use crate::prober::tls::crl;

/// Encodes `handshake_exporter_crl_cache_entries` and `handshake_exporter_crl_cache_bytes`.
#[derive(Debug, Default, Clone, Copy)]
pub struct CrlCacheCollector;

impl Collector for CrlCacheCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let to_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let (entries, bytes) = crl::cache_usage();
        for (name, help, value) in [
            (
                "handshake_exporter_crl_cache_entries",
                "Verified CRLs kept until their nextUpdate (at most 256)",
                entries,
            ),
            (
                "handshake_exporter_crl_cache_bytes",
                "Bytes the kept CRLs count against the cache's 64 MiB bound (DER plus 8 per revoked entry)",
                bytes,
            ),
        ] {
            let gauge = ConstGauge::new(to_i64(value));
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}
