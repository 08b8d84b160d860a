#!/usr/bin/env bash
# Capacity at a 15 s scrape interval: CPU and memory of one exporter carrying N targets
# (bench/capacity.py is the scraper), with the tcp module and with a verified-TLS module, all
# targets healthy and all silent at once (SYNs dropped: the mass outage, every probe waiting for
# its whole timeout), and the scrape side over HTTPS with connections kept between scrapes and
# with a new connection (and TLS handshake) per scrape. Everything runs on the loopback of a
# network namespace made for the run (root needed), removed on exit.
#
#   cargo build --release && sudo bash bench/capacity.sh
#
# Knobs (environment): CAPACITY_TARGETS (1000), CAPACITY_SECONDS (45, measured per row after one
# interval of warm-up), CAPACITY_BIN (default target/release/handshake_exporter). The silent rows
# hold a third of the targets in flight (5 s timeout in a 15 s interval); their KB per probe
# counts for the memory rule from 1,000 probes in flight up (CAPACITY_TARGETS=3000), below which
# the exporter's fixed growth dominates it.
# Writes the rows to bench/capacity.last (one CAPACITY line each, key=value, which
# scripts/ops-check.sh reads to check the memory rule of docs/scaling.md), and prints them as a
# Markdown table for docs/performance.md, with the machine's conditions (CPU model, cores, load
# average before the run): on a shared machine the CPU figures are contended.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
. bench/common.sh
require_root "it creates a network namespace and an iptables rule"

targets=${CAPACITY_TARGETS:-1000}
seconds=${CAPACITY_SECONDS:-45}
bin=${CAPACITY_BIN:-target/release/handshake_exporter}
[ -x "$bin" ] || { echo "no exporter binary at $bin: cargo build --release" >&2; exit 1; }
ns=hxcap-$$
tmp=$(mktemp -d /tmp/hxcap.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns delete "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
nsx() { ip netns exec "$ns" "$@"; }

ip netns add "$ns"
nsx ip link set lo up
# silent targets: every SYN to these ports is dropped
nsx iptables -A INPUT -i lo -p tcp --dport 10002 -j DROP
nsx iptables -A INPUT -i lo -p tcp --dport 10444 -j DROP
write_bench_pki "$tmp" "handshake capacity CA"
cat >"$tmp/exporter.yml" <<YML
modules:
  tcp_connect:
    prober: tcp
    timeout: 5s
  tls_verified:
    prober: tcp
    timeout: 5s
    tcp:
      tls: true
      tls_config:
        ca_file: $tmp/ca.pem
        server_name: localhost
YML
printf 'tls_server_config:\n  cert_file: %s\n  key_file: %s\n' "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/web.yml"

# healthy targets: a TCP listener that accepts and closes, a TLS listener that completes the
# handshake and closes
nsx python3 - "$tmp" <<'PY' >"$tmp/peers.log" 2>&1 &
import asyncio, ssl, sys
tmp = sys.argv[1]
async def plain(r, w):
    w.close()
async def tls(r, w):
    try:
        await r.read(1)
    except Exception:
        pass
    w.close()
async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(f"{tmp}/cert.pem", f"{tmp}/key.pem")
    a = await asyncio.start_server(plain, "127.0.0.1", 10001, backlog=1024)
    b = await asyncio.start_server(tls, "127.0.0.1", 10443, ssl=ctx, backlog=1024)
    await asyncio.gather(a.serve_forever(), b.serve_forever())
asyncio.run(main())
PY
pids+=("$!")
sleep 1

: >"$tmp/rows"
# row MODULE TARGET CASE [https] [close]
row() {
  local module=$1 target=$2 case=$3 https=${4:-} close=${5:-} args=() pid
  args=(--web.listen-address 127.0.0.1:19115 --config.file "$tmp/exporter.yml")
  [ -n "$https" ] && args+=(--web.config.file "$tmp/web.yml")
  step "$targets targets, $module, $case${https:+, scrape over HTTPS}${close:+, new connection per scrape}"
  # ip netns exec execs the exporter: $! is the exporter's own pid
  ip netns exec "$ns" "$bin" "${args[@]}" >"$tmp/exporter.log" 2>&1 &
  pid=$!
  sleep 1.5
  kill -0 "$pid" 2>/dev/null || { echo "the exporter did not start:" >&2; cat "$tmp/exporter.log" >&2; exit 1; }
  local extra=()
  [ -n "$https" ] && extra+=(--https --ca "$tmp/ca.pem")
  [ -n "$close" ] && extra+=(--close)
  nsx python3 bench/capacity.py --pid "$pid" --targets "$targets" --seconds "$seconds" \
    --module "$module" --target "$target" --case "$case" "${extra[@]}" | tee -a "$tmp/rows"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
load=$(cut -d' ' -f1-3 /proc/loadavg)
row tcp_connect 127.0.0.1:10001 healthy
row tcp_connect 127.0.0.1:10002 silent
row tls_verified 127.0.0.1:10443 healthy
row tls_verified 127.0.0.1:10444 silent
row tcp_connect 127.0.0.1:10001 healthy https
row tcp_connect 127.0.0.1:10001 healthy https close

{
  echo "# bench/capacity.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average before the run $load"
  cat "$tmp/rows"
} >bench/capacity.last
python3 - bench/capacity.last <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
print(lines[0].lstrip("# "))
print()
print("| targets | module | targets' state | scrape | connections | scrapes ok | exporter CPU (% of a core) | CPU per scrape | RSS idle -> peak | probes in flight (peak) | KB per probe in flight |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for l in lines[1:]:
    r = dict(kv.split("=", 1) for kv in l.split()[1:])
    print(f"| {r['targets']} | {r['module']} | {r['case']} | {r['scrape']} | {r['connections']} | "
          f"{r['ok']}/{r['scrapes']} | {r['cpu_pct']} | {r['cpu_us_per_scrape']} µs | "
          f"{r['rss_idle_mb']} -> {r['rss_peak_mb']} MB | {r['in_flight_peak']} | "
          f"{r['kb_per_probe'] if r['case'] == 'silent' else ''} |")
PY
