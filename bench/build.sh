#!/usr/bin/env bash
# Builds what the benchmarks run: the release binary, and into target/bench the helper programs,
# the C ones with gcc and the Rust ones with rustc directly against the rustls rlib the release
# build linked (found in cargo's own report), so the workspace gains no crate.
# Used by bench/run.sh and bench/timing.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
rustls=$(cargo build --release --bin handshake_exporter --message-format=json-render-diagnostics |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "rustls":
        print(next(f for f in m["filenames"] if f.endswith(".rlib")))')
mkdir -p target/bench
for helper in peer connect_limit delay_line; do
  gcc -O2 -Wall -pthread "bench/$helper.c" -o "target/bench/$helper"
done
for helper in tls_peer timing_probe; do
  rustc --edition 2021 -O "bench/$helper.rs" -o "target/bench/$helper" \
    -L dependency=target/release/deps --extern rustls="$rustls"
done
