//! Records the git revision the binary is built from as `HANDSHAKE_EXPORTER_REVISION`, the
//! `revision` label of `handshake_exporter_build_info`; `unknown` when git or the repository
//! is not available (a crate tarball, no git installed).

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    let revision = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HANDSHAKE_EXPORTER_REVISION={revision}");
    println!("cargo:rerun-if-changed=build.rs");
    // Rerun when HEAD moves: a commit or checkout rewrites these files. Only name files that
    // exist, or cargo would rerun the script on every build.
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]) {
        for file in ["HEAD", "logs/HEAD"] {
            let path = Path::new(&git_dir).join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}
