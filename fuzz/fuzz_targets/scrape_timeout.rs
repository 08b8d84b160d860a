//! The `X-Prometheus-Scrape-Timeout-Seconds` header with any module timeout and offset: a
//! deadline or a one-line error, and a shorter module timeout always wins.

#![no_main]

use std::time::Duration;

use handshake_exporter::server::probe_timeout;
use handshake_exporter_fuzz::assert_one_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, Option<u64>, f64)| {
    let (header, module_ms, offset) = input;
    let module = module_ms.map(Duration::from_millis);
    match probe_timeout(Some(header), module, offset) {
        Ok(timeout) => {
            if let (Some(module), Ok(scrape)) = (module, header.trim().parse::<f64>()) {
                let scrape = if scrape == 0.0 { 120.0 } else { scrape };
                if !module.is_zero() && module.as_secs_f64() < scrape - offset {
                    assert_eq!(timeout, module);
                }
            }
        }
        Err(err) => assert_one_line(&err),
    }
});
