#!/usr/bin/env bash
# Builds what the benchmarks run: the release binary, and into target/bench the helper programs,
# the C ones with gcc and the Rust ones as cargo examples of the crate (Cargo.toml `[[example]]`),
# so they link the same rustls as the exporter.
# Used by bench/run.sh and bench/timing.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin handshake_exporter --example tls_peer --example timing_probe
mkdir -p target/bench
for helper in peer connect_limit delay_line endless_peer; do
  gcc -O2 -Wall -pthread "bench/$helper.c" -o "target/bench/$helper"
done
for helper in tls_peer timing_probe; do
  cp "target/release/examples/$helper" "target/bench/$helper"
done
