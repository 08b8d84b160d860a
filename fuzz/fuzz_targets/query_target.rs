//! The `/probe` query string and its `target`: any query decodes to pairs or a one-line error,
//! any accepted target has a host and a port in 1..=65535, and an encoded value decodes back.

#![no_main]

use handshake_exporter::prober::Target;
use handshake_exporter::server::{encode_component, parse_query};
use handshake_exporter_fuzz::assert_one_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &str| {
    match parse_query(query) {
        Ok(pairs) => {
            for (_, value) in &pairs {
                match Target::parse(value) {
                    Ok(target) => assert!(target.port != 0 && !target.host.is_empty()),
                    Err(err) => assert_one_line(&err),
                }
            }
        }
        Err(err) => assert_one_line(&err),
    }
    let encoded = format!("target={}", encode_component(query));
    let pairs = parse_query(&encoded).expect("an encoded value decodes");
    assert_eq!(pairs, [("target".to_string(), query.to_string())]);
});
