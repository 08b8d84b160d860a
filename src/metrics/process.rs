//! The standard `process_*` metrics of the Prometheus client libraries, read from procfs on
//! every scrape: CPU time and start time from `/proc/self/stat`, memory from the same file,
//! descriptors from `/proc/self/fd` and `/proc/self/limits` (proc(5)).
//!
//! A value that cannot be read is left out of that scrape rather than reported as zero.

use std::fmt;

use procfs::process::{LimitValue, Process};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads the exporter's own process facts from procfs when `/metrics` is scraped.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessCollector;

impl ProcessCollector {
    /// A collector for the current process.
    pub fn new() -> Self {
        ProcessCollector
    }
}

/// One sample read from procfs, ready to encode.
struct Sample {
    name: &'static str,
    help: &'static str,
    value: SampleValue,
}

enum SampleValue {
    /// A counter; the encoder appends `_total` to the name.
    Counter(f64),
    Gauge(f64),
    IntGauge(i64),
}

/// Everything readable right now; unreadable facts are skipped.
fn read_samples() -> Vec<Sample> {
    let mut out = Vec::new();
    let Ok(me) = Process::myself() else {
        return out;
    };
    if let Ok(stat) = me.stat() {
        // Clock ticks per second from sysconf(_SC_CLK_TCK); page size from sysconf(_SC_PAGESIZE).
        let ticks = procfs::ticks_per_second().max(1) as f64;
        out.push(Sample {
            name: "process_cpu_seconds",
            help: "Total user and system CPU time spent in seconds.",
            value: SampleValue::Counter((stat.utime + stat.stime) as f64 / ticks),
        });
        out.push(Sample {
            name: "process_resident_memory_bytes",
            help: "Resident memory size in bytes.",
            value: SampleValue::IntGauge(to_i64(stat.rss.saturating_mul(procfs::page_size()))),
        });
        out.push(Sample {
            name: "process_virtual_memory_bytes",
            help: "Virtual memory size in bytes.",
            value: SampleValue::IntGauge(to_i64(stat.vsize)),
        });
        if let Ok(boot) = procfs::boot_time_secs() {
            out.push(Sample {
                name: "process_start_time_seconds",
                help: "Start time of the process since unix epoch in seconds.",
                value: SampleValue::Gauge(boot as f64 + stat.starttime as f64 / ticks),
            });
        }
    }
    if let Ok(count) = me.fd_count() {
        out.push(Sample {
            name: "process_open_fds",
            help: "Number of open file descriptors.",
            value: SampleValue::IntGauge(to_i64(count as u64)),
        });
    }
    if let Ok(limits) = me.limits() {
        let max = match limits.max_open_files.soft_limit {
            LimitValue::Value(v) => to_i64(v),
            LimitValue::Unlimited => i64::MAX,
        };
        out.push(Sample {
            name: "process_max_fds",
            help: "Maximum number of open file descriptors.",
            value: SampleValue::IntGauge(max),
        });
    }
    out
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        for sample in read_samples() {
            match sample.value {
                SampleValue::Counter(v) => put(&mut encoder, &sample, &ConstCounter::new(v))?,
                SampleValue::Gauge(v) => put(&mut encoder, &sample, &ConstGauge::new(v))?,
                SampleValue::IntGauge(v) => put(&mut encoder, &sample, &ConstGauge::new(v))?,
            }
        }
        Ok(())
    }
}

fn put(
    encoder: &mut DescriptorEncoder<'_>,
    sample: &Sample,
    metric: &impl EncodeMetric,
) -> Result<(), fmt::Error> {
    let metric_encoder =
        encoder.encode_descriptor(sample.name, sample.help, None, metric.metric_type())?;
    metric.encode(metric_encoder)
}
