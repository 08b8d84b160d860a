#!/usr/bin/env bash
# The benchmark, in one command: handshake_exporter against blackbox_exporter, side by side, on the
# same targets with the same load generator, in alternating rounds. Prints one table and keeps a
# copy in docs/performance.md. Needs root: it builds two network namespaces of its own (client and
# silent target, documentation prefixes only, no default route) and removes them on exit.
#
# Knobs (environment): BENCH_ROUNDS (5), BENCH_SECONDS (5, per throughput round),
# BENCH_CONNECTIONS (4, wrk connections), BENCH_STARTUP_RUNS (7),
# BENCH_SCALE_N (8000), BENCH_OURS_BIN (the binary to measure, default the release build),
# BENCH_UPDATE_DOC (1; 0 leaves docs/performance.md alone), BENCH_TIMING (1; 0 skips
# bench/timing.sh, the phase latencies under load, whose own knobs it documents),
# BENCH_HOSTILE_N (200, endless-line probes at once), BENCH_ROWS (the row groups to run:
# "loopback startup scale hostile"), BENCH_SKIP_BUILD (set: use what bench/build.sh built before).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export ROUNDS=${BENCH_ROUNDS:-5} SECONDS_PER_ROUND=${BENCH_SECONDS:-5} CONNS=${BENCH_CONNECTIONS:-4}
export STARTUP_RUNS=${BENCH_STARTUP_RUNS:-7} SCALE_N=${BENCH_SCALE_N:-8000}
export HOSTILE_N=${BENCH_HOSTILE_N:-200} ROWS=${BENCH_ROWS:-loopback startup scale hostile}

# shellcheck source=bench/common.sh
. bench/common.sh
require_root "it creates network namespaces and an iptables rule"

install_tools() {
  local need=() pkg
  declare -A bin=([prometheus-blackbox-exporter]=prometheus-blackbox-exporter [wrk]=wrk
    [iproute2]=ip [iptables]=iptables [gcc]=gcc [curl]=curl [openssl]=openssl [python3]=python3)
  # Only the loopback rows drive load with wrk.
  [[ " $ROWS " == *" loopback "* ]] || unset 'bin[wrk]'
  for pkg in "${!bin[@]}"; do command -v "${bin[$pkg]}" >/dev/null || need+=("$pkg"); done
  if [ ${#need[@]} -gt 0 ]; then
    step "installing ${need[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  fi
}

build() {
  step "building the release binary and the bench helpers"
  bash bench/build.sh
}

# Writes a private CA, the TLS peer's certificate signed by it (P-256, for localhost and
# 127.0.0.1), and the modules both exporters load.
write_inputs() {
  write_bench_pki "$OUT" "handshake bench CA"
  cat >"$OUT/modules.yml" <<EOF
modules:
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
  tls_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config:
        insecure_skip_verify: true
  tls_verify:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config:
        ca_file: $OUT/ca.pem
  expect_ok:
    prober: tcp
    timeout: 4s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - expect: "^OK"
EOF
}

# Client namespace (loopback for every loopback row, 198.51.100.2 towards the target) and target
# namespace (203.0.113.2, every TCP segment to it dropped). Routes exist only to those prefixes.
CLI=hxbench-$$-cli TGT=hxbench-$$-tgt VC=hxb$$c VT=hxb$$t
make_namespaces() {
  ip netns add "$CLI"
  ip netns add "$TGT"
  ip -n "$CLI" link set lo up
  ip -n "$TGT" link set lo up
  ip link add "$VC" netns "$CLI" type veth peer name "$VT" netns "$TGT"
  ip -n "$CLI" addr add 198.51.100.2/24 dev "$VC"
  ip -n "$TGT" addr add 198.51.100.1/24 dev "$VT"
  ip -n "$TGT" addr add 203.0.113.2/32 dev lo
  ip -n "$CLI" link set "$VC" up
  ip -n "$TGT" link set "$VT" up
  ip -n "$CLI" route add 203.0.113.0/24 via 198.51.100.1
  ip netns exec "$TGT" iptables -A INPUT -d 203.0.113.2 -p tcp -j DROP
}

teardown() {
  local ns pid
  for ns in "$CLI" "$TGT"; do
    [ -e "/run/netns/$ns" ] || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}

describe_machine() {
  local cpu rev
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  printf '%s; nproc %s; %s; kernel %s; load average %s at start; open-file hard limit %s; blackbox_exporter %s; handshake_exporter %s; %s rounds of %s s, wrk -c%s\n' \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$cpu" "$(uname -r)" "$(cut -d' ' -f1 /proc/loadavg)" "$(ulimit -Hn)" \
    "$("$BB" --version 2>&1 | awk 'NR == 1 { print $3 }')" "$rev" "$ROUNDS" "$SECONDS_PER_ROUND" "$CONNS"
}

install_tools
[ -n "${BENCH_SKIP_BUILD:-}" ] || build
OUT=$(mktemp -d /tmp/hxbench.XXXXXX)
trap 'teardown' EXIT
trap 'exit 130' INT TERM
export OUT HELPERS=$ROOT/target/bench BB=/usr/bin/prometheus-blackbox-exporter
export CFG=$OUT/modules.yml CERT=$OUT/cert.pem KEY=$OUT/key.pem
OURS=${BENCH_OURS_BIN:-$ROOT/target/release/handshake_exporter}
if ! "$OURS" --help 2>&1 | grep -q -- --web.listen-address; then
  step "$OURS has no HTTP server yet: measuring blackbox_exporter alone"
  OURS=""
fi
export OURS
write_inputs
make_namespaces
describe_machine >"$OUT/machine.txt"
step "measuring (raw figures and logs in $OUT)"
ip netns exec "$CLI" bash bench/measure.sh
doc=()
[ "${BENCH_UPDATE_DOC:-1}" = 1 ] && [ -n "$OURS" ] && doc=(--doc docs/performance.md)
python3 bench/report.py "$OUT/results.tsv" "$OUT/machine.txt" "${doc[@]}"
# Phase latencies under load, against a far target behind a 50 ms delay line (its own namespaces).
if [ "${BENCH_TIMING:-1}" = 1 ]; then
  teardown
  step "phase latencies under load (bench/timing.sh)"
  BENCH_SKIP_BUILD=1 bash bench/timing.sh
fi
