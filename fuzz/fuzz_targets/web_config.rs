//! The web config loader on any text: a config, or a one-line error that starts with the file
//! name. When every file the text names stays inside the target's own directory (a relative
//! path without `..`), the text is also loaded as the exporter loads `--web.config.file`: the
//! certificate, key and CA files read and the TLS configuration built, with the same rule for
//! its errors. That directory holds a certificate and key made at start (`server.crt`,
//! `server.key`, as in exporter-toolkit's example file), so a mutated example reaches the TLS
//! build.

#![no_main]

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use handshake_exporter::webconfig::{self, WebConfig};
use handshake_exporter_fuzz::assert_one_line;
use libfuzzer_sys::fuzz_target;

/// The target's directory, made once per process.
fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("web-config-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fuzz directory");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .expect("rcgen");
        std::fs::write(dir.join("server.crt"), cert.cert.pem()).expect("write cert");
        std::fs::write(dir.join("server.key"), cert.signing_key.serialize_pem()).expect("write key");
        dir
    })
}

/// Whether `path` resolves inside the target's directory.
fn stays_inside(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

fuzz_target!(|text: &str| {
    let config = match WebConfig::from_yaml_str(text, "fuzz.yml") {
        Ok(config) => config,
        Err(err) => {
            assert_one_line(&err);
            assert!(err.to_string().starts_with("fuzz.yml:"), "{err}");
            return;
        }
    };
    let tls = &config.tls_server_config;
    let files = [&tls.cert_file, &tls.key_file, &tls.client_ca_file];
    if !files.into_iter().flatten().all(|f| stays_inside(f)) {
        return;
    }
    let path = dir().join("web.yml");
    std::fs::write(&path, text).expect("write web.yml");
    match webconfig::load(&path) {
        Ok(settings) => assert_eq!(settings.tls.is_some(), config.tls_enabled()),
        Err(err) => {
            assert_one_line(&err);
            let origin = format!("{}:", path.display());
            assert!(err.to_string().starts_with(&origin), "{err}");
        }
    }
});
