//! Records the git revision the binary is built from as `HANDSHAKE_EXPORTER_REVISION`, the
//! `revision` label of `handshake_exporter_build_info`: the variable of that name in the build's
//! environment when set and not empty (a container build, whose context holds no `.git`; see the
//! Dockerfile's `REVISION` argument), else `git rev-parse --short HEAD`, else `unknown` (a crate
//! tarball, no git installed). Also lists `docs/runbooks/*.md` in
//! `$OUT_DIR/runbooks.rs` as `include_str!` entries, so the binary serves the runbooks and a new
//! page needs no code change.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
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

/// Writes `$OUT_DIR/runbooks.rs`: `RUNBOOKS: &[(&str, &str)]`, (file stem, Markdown text) of
/// every `docs/runbooks/*.md`, sorted by name.
fn embed_runbooks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runbooks");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "md"))
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    let mut out =
        String::from("/// (name, Markdown) of every docs/runbooks/*.md, sorted by name.\n");
    out.push_str("pub static RUNBOOKS: &[(&str, &str)] = &[\n");
    for page in &pages {
        println!("cargo:rerun-if-changed={}", page.display());
        let stem = page
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    ({stem:?}, include_str!({:?})),",
            page.display().to_string()
        );
    }
    out.push_str("];\n");
    let target =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("runbooks.rs");
    std::fs::write(&target, out).expect("failed to write runbooks.rs");
}

fn main() {
    embed_runbooks();
    println!("cargo:rerun-if-env-changed=HANDSHAKE_EXPORTER_REVISION");
    let revision = std::env::var("HANDSHAKE_EXPORTER_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty() && r != "unknown")
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
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
