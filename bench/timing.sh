#!/usr/bin/env bash
# The timing benchmark: are phase latencies still true while the exporter is busy? A far target
# sits behind a delay line of known round trip; while wrk loads the exporter with tcp_connect
# probes to a near target at several concurrencies, bench/timing_probe.rs alternates a reference
# measurement (a bare blocking connect, a bare rustls handshake) with the exporter's probe of the
# same far target, and the report prints the excess of each phase over its reference at p50 and
# p99. Run by bench/run.sh; alone: `sudo bash bench/timing.sh`. Needs root.
#
# Network: two namespaces of its own, client 198.51.100.2 and far 203.0.113.2 (documentation
# prefixes), joined only by the delay line (two TUN devices, bench/delay_line.c); the client's
# routes are its loopback and 203.0.113.0/24, no default route. The near target is on the client
# namespace's loopback. A trap removes both namespaces and their processes.
#
# Knobs (environment): BENCH_TIMING_LEVELS ("0 2 8 32 64", wrk connections; 0 is idle),
# BENCH_TIMING_SECONDS (30, sampling per level), BENCH_TIMING_RTT_MS (50),
# BENCH_OURS_BIN (default the release build), BENCH_UPDATE_DOC (1; 0 leaves docs alone),
# BENCH_SKIP_BUILD (set: use what bench/build.sh built before, as bench/run.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LEVELS=${BENCH_TIMING_LEVELS:-0 2 8 32 64}
SECONDS_PER_LEVEL=${BENCH_TIMING_SECONDS:-30}
RTT_MS=${BENCH_TIMING_RTT_MS:-50}
# shellcheck source=bench/common.sh
. bench/common.sh
require_root "it creates network namespaces and TUN devices"

build() {
  step "building the release binary and the bench helpers"
  bash bench/build.sh
}

# A CA and a leaf for `localhost` signed by it: both sides verify the chain for real.
write_inputs() {
  write_bench_pki "$OUT" "bench timing CA"
  cat >"$OUT/modules.yml" <<EOF
modules:
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
  tcp_far:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
  tls_far:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config:
        ca_file: $OUT/ca.pem
        server_name: localhost
EOF
}

CLI=hxtime-$$-cli FAR=hxtime-$$-far DEV=hxd0
PIDS=()
make_lab() {
  ip netns add "$CLI"
  ip netns add "$FAR"
  ip -n "$CLI" link set lo up
  ip -n "$FAR" link set lo up
  "$ROOT/target/bench/delay_line" "$CLI" "$FAR" "$DEV" $((RTT_MS * 500)) >"$OUT/line.out" &
  PIDS+=($!)
  for _ in $(seq 50); do grep -q ready "$OUT/line.out" && break; sleep 0.1; done
  ip -n "$CLI" addr add 198.51.100.2/32 dev "$DEV"
  ip -n "$FAR" addr add 203.0.113.2/32 dev "$DEV"
  ip -n "$CLI" link set "$DEV" up
  ip -n "$FAR" link set "$DEV" up
  ip -n "$CLI" route add 203.0.113.0/24 dev "$DEV"
  ip -n "$FAR" route add 198.51.100.0/24 dev "$DEV"
}

teardown() {
  local ns pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ns in "$CLI" "$FAR"; do
    [ -e "/run/netns/$ns" ] || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}

in_cli() { ip netns exec "$CLI" "$@"; }
in_far() { ip netns exec "$FAR" "$@"; }

start_targets_and_exporter() {
  in_far "$ROOT/target/bench/peer" 203.0.113.2 9000 9001 &
  PIDS+=($!)
  in_far "$ROOT/target/bench/tls_peer" 203.0.113.2 9443 9444 "$OUT/cert.pem" "$OUT/key.pem" 1 &
  PIDS+=($!)
  in_cli "$ROOT/target/bench/peer" 127.0.0.1 19001 19002 &
  PIDS+=($!)
  in_cli "$OURS" --web.listen-address 127.0.0.1:19100 --config.file "$OUT/modules.yml" \
    >>"$OUT/ours.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    in_cli curl -sf -o /dev/null "http://127.0.0.1:19100/-/healthy" && return 0
    sleep 0.05
  done
  step "the exporter did not start; see $OUT/ours.log"
  return 1
}

# One level: wrk with $1 connections on near tcp_connect probes (none for 0) while the sampler
# runs; the exporter's /metrics before and after, and wrk's summary, go next to the samples.
level() {
  local c=$1 wrk_pid=""
  in_cli curl -sf "http://127.0.0.1:19100/metrics" >"$OUT/metrics-c$c-before.txt" || true
  if [ "$c" -gt 0 ]; then
    in_cli wrk -t1 -c"$c" -d$((SECONDS_PER_LEVEL + 2))s -s "$ROOT/bench/wrk_report.lua" \
      "http://127.0.0.1:19100/probe?module=tcp_connect&target=127.0.0.1:19001" >"$OUT/wrk-c$c.txt" &
    wrk_pid=$!
    sleep 1
  fi
  # The reference gets the same priority as the exporter's probe thread (PROBE_NICE in
  # src/prober/runtime.rs), so the comparison isolates the exporter's own delays.
  in_cli nice -n -10 "$ROOT/target/bench/timing_probe" 127.0.0.1:19100 203.0.113.2:9000 203.0.113.2:9443 \
    "$OUT/ca.pem" "$SECONDS_PER_LEVEL" "c$c" >>"$OUT/timing.tsv"
  in_cli curl -sf "http://127.0.0.1:19100/metrics" >"$OUT/metrics-c$c-after.txt" || true
  [ -n "$wrk_pid" ] && wait "$wrk_pid"
  step "level c$c done (load $(cut -d' ' -f1 /proc/loadavg))"
}

OUT=$(mktemp -d /tmp/hxtiming.XXXXXX)
trap teardown EXIT
trap 'exit 130' INT TERM
[ -n "${BENCH_SKIP_BUILD:-}" ] || build
OURS=${BENCH_OURS_BIN:-$ROOT/target/release/handshake_exporter}
write_inputs
make_lab
start_targets_and_exporter
printf '%s; nproc %s; kernel %s; load average %s at start; handshake_exporter %s; %s ms round trip; %s s per level\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(uname -r)" "$(cut -d' ' -f1 /proc/loadavg)" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$RTT_MS" "$SECONDS_PER_LEVEL" >"$OUT/machine.txt"
step "measuring (raw samples in $OUT)"
for c in $LEVELS; do level "$c"; done
sed -i "s/\$/; load average $(cut -d' ' -f1 /proc/loadavg) at end/" "$OUT/machine.txt"
doc=()
[ "${BENCH_UPDATE_DOC:-1}" = 1 ] && doc=(--doc docs/performance.md)
python3 bench/timing_report.py "$OUT" "${doc[@]}"
