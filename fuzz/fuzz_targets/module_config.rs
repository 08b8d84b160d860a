//! The module config loader on any text: a config (each module printable as YAML, warnings one
//! line each) or a one-line error that starts with the file name.

#![no_main]

use handshake_exporter::config::Config;
use handshake_exporter_fuzz::assert_one_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match Config::from_yaml_str(text, "fuzz.yml") {
        Ok(config) => {
            for warning in &config.warnings {
                assert_one_line(warning);
            }
            for module in config.modules.values() {
                assert!(!module.to_yaml().starts_with("# failed"));
            }
        }
        Err(err) => {
            assert_one_line(&err);
            assert!(err.to_string().starts_with("fuzz.yml:"), "{err}");
        }
    }
});
