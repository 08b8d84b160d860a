#!/usr/bin/env bash
# What revocation checking costs: exporter CPU per verified TLS probe with CRL checking off (the
# default), on with a warm cache (the CRL kept until its nextUpdate) and on with a cold one (a CRL
# already past its nextUpdate is never kept, so every probe fetches, parses and verifies it).
# blackbox_exporter has no CRL check in its Debian release, so this is ours against ours; with
# BENCH_BASELINE_BIN (an earlier build) the CRL-off row runs for both builds in alternating
# rounds, which is how "no worse than before" is read.
#
# Everything runs on the loopback of a network namespace of its own (removed on exit): two
# TLS peers (bench/tls_peer), a CRL server (python3 -m http.server) and the exporter(s).
# Needs root and what bench/build.sh builds (BENCH_SKIP_BUILD=1 uses what it built before).
#
# Knobs (environment): BENCH_ROUNDS (5), BENCH_SECONDS (5, per round), BENCH_CONNECTIONS (4, wrk
# connections), BENCH_OURS_BIN (default the release build), BENCH_BASELINE_BIN (unset: no
# baseline rows). Prints one table of medians; raw figures stay in the printed directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/common.sh
. bench/common.sh
require_root "it creates a network namespace"

ROUNDS=${BENCH_ROUNDS:-5} SECONDS_PER_ROUND=${BENCH_SECONDS:-5} CONNS=${BENCH_CONNECTIONS:-4}
OURS=${BENCH_OURS_BIN:-$ROOT/target/release/handshake_exporter}
BASELINE=${BENCH_BASELINE_BIN:-}
HELPERS=$ROOT/target/bench

if [ -z "${BENCH_IN_NS:-}" ]; then
  for cmd in wrk openssl python3 curl; do
    command -v "$cmd" >/dev/null || { echo "revocation bench: $cmd is missing" >&2; exit 1; }
  done
  [ -n "${BENCH_SKIP_BUILD:-}" ] || { step "building"; bash bench/build.sh; }
  NS=hxrev-$$
  ip netns add "$NS"
  # shellcheck disable=SC2317 # called by the trap
  teardown() {
    local pid
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
  }
  trap teardown EXIT
  ip -n "$NS" link set lo up
  BENCH_IN_NS=1 ip netns exec "$NS" "$0"
  exit
fi

OUT=$(mktemp -d /tmp/hxrev.XXXXXX)
PIDS=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
say() { printf '  %s\n' "$*" >&2; }

# A CA (P-256) and two leaves for 127.0.0.1, each naming its CRL's URL: warm.crl valid for two
# days, cold.crl whose nextUpdate passes one second after it is made. Neither lists the leaves.
write_pki() {
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes) which
  cd "$OUT"
  openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=revocation bench CA" \
    -keyout ca-key.pem -out ca.pem 2>/dev/null
  : >index.txt
  echo 01 >crlnumber
  printf '%s\n' '[ca]' 'default_ca = lab' '[lab]' "database = $OUT/index.txt" \
    "crlnumber = $OUT/crlnumber" 'default_md = sha256' >ca.cnf
  for which in warm cold; do
    openssl req -new "${ec[@]}" -subj "/CN=$which" -keyout "$which-key.pem" \
      -out "$which.csr" 2>/dev/null
    printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature' \
      'extendedKeyUsage=serverAuth' 'subjectAltName=IP:127.0.0.1' \
      "crlDistributionPoints=URI:http://127.0.0.1:19200/$which.crl" >"$which.ext"
    openssl x509 -req -in "$which.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
      -extfile "$which.ext" -out "$which.pem" 2>/dev/null
  done
  openssl ca -batch -config ca.cnf -gencrl -keyfile ca-key.pem -cert ca.pem -crldays 2 \
    -out warm-crl.pem 2>/dev/null
  openssl ca -batch -config ca.cnf -gencrl -keyfile ca-key.pem -cert ca.pem -crlsec 1 \
    -out cold-crl.pem 2>/dev/null
  for which in warm cold; do
    openssl crl -in "$which-crl.pem" -outform DER -out "$which.crl"
  done
  cd "$ROOT"
}

write_modules() {
  local name crl
  {
    echo "modules:"
    for name in tls_verify tls_crl; do
      crl=false
      [ "$name" = tls_crl ] && crl=true
      printf '  %s:\n    prober: tcp\n    timeout: 5s\n    tcp:\n      tls: true\n' "$name"
      printf '      tls_config:\n        ca_file: %s\n' "$OUT/ca.pem"
      printf '        crl_check:\n          enabled: %s\n' "$crl"
    done
  } >"$OUT/modules.yml"
  # The baseline build may predate crl_check: its own file, without the key.
  grep -v -e crl_check -e 'enabled:' "$OUT/modules.yml" | sed '/^  tls_crl:/,$d' >"$OUT/baseline.yml"
}

cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e6 / hz }' "/proc/$1/stat"; }
served() { curl -sf "http://127.0.0.1:$1/" | tail -n1; }
# True when the /probe answer at URL $1 says probe_success 1.
succeeds() {
  local body
  body=$(curl -sf "$1") || return 1
  [[ $body == *$'\n'"probe_success 1"$'\n'* ]]
}
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# start NAME BIN CONFIG PORT: sets PID_OF[NAME]; fails when no probe succeeds within 5 s.
declare -A PID_OF PORT_OF
start() {
  "$2" --web.listen-address "127.0.0.1:$4" --config.file "$3" >>"$OUT/$1.log" 2>&1 &
  PIDS+=($!)
  PID_OF[$1]=$!
  PORT_OF[$1]=$4
  for _ in $(seq 100); do
    if succeeds "http://127.0.0.1:$4/probe?module=tls_verify&target=127.0.0.1:19203"; then
      return 0
    fi
    sleep 0.05
  done
  echo "revocation bench: $1 gave no successful probe within 5 s; see $OUT/$1.log" >&2
  return 1
}

# round WHO MODULE PEER_PORT STATS_PORT ROW: one wrk run; records the CPU per successful probe
# (the peer's served count, capped by wrk's answers without a status error).
round() {
  local who=$1 module=$2 peer=$3 stats=$4 row=$5 before after cpu0 cpu1 line url ok
  url="http://127.0.0.1:${PORT_OF[$who]}/probe?module=$module&target=127.0.0.1:$peer"
  succeeds "$url" || {
    echo "revocation bench: $who $module does not succeed: $url" >&2
    return 1
  }
  before=$(served "$stats")
  cpu0=$(cpu_us "${PID_OF[$who]}")
  line=$(wrk -t1 -c"$CONNS" -d"$SECONDS_PER_ROUND"s -s "$ROOT/bench/wrk_report.lua" "$url" | grep '^WRK')
  cpu1=$(cpu_us "${PID_OF[$who]}")
  after=$(served "$stats")
  ok=$(awk -v s=$((after - before)) -v r="$(field "$line" requests)" -v e="$(field "$line" status_errors)" \
    'BEGIN { ok = r - e; if (s < ok) ok = s; print ok }')
  awk -v c=$((cpu1 - cpu0)) -v ok="$ok" -v d="$(field "$line" duration_us)" -v row="$row" \
    'BEGIN { printf "%s\t%.0f\t%.0f\n", row, (ok > 0 ? c / ok : 0), ok / (d / 1e6) }' >>"$OUT/results.tsv"
  tail -n1 "$OUT/results.tsv" | awk -F'\t' '{ printf "  %s: %s us CPU per probe, %s probes/s\n", $1, $2, $3 }' >&2
}

write_pki
write_modules
python3 -m http.server 19200 --bind 127.0.0.1 --directory "$OUT" >"$OUT/crl-server.log" 2>&1 &
PIDS+=($!)
"$HELPERS/tls_peer" 127.0.0.1 19203 19204 "$OUT/warm.pem" "$OUT/warm-key.pem" 2 &
PIDS+=($!)
"$HELPERS/tls_peer" 127.0.0.1 19205 19206 "$OUT/cold.pem" "$OUT/cold-key.pem" 2 &
PIDS+=($!)
sleep 1.2 # the cold CRL's nextUpdate passes
start ours "$OURS" "$OUT/modules.yml" 19210
rows=("ours tls_verify 19203 19204 crl_off" "ours tls_crl 19203 19204 crl_warm"
  "ours tls_crl 19205 19206 crl_cold")
if [ -n "$BASELINE" ]; then
  start baseline "$BASELINE" "$OUT/baseline.yml" 19211
  rows+=("baseline tls_verify 19203 19204 crl_off_baseline")
fi
for r in $(seq "$ROUNDS"); do
  say "round $r"
  # Alternating order, so drift of the machine's load hits every row alike.
  if ((r % 2)); then order=("${rows[@]}"); else mapfile -t order < <(printf '%s\n' "${rows[@]}" | tac); fi
  for row in "${order[@]}"; do
    # shellcheck disable=SC2086 # the row's words are round's arguments
    round $row
  done
done
fetches=$(grep -c 'GET /cold.crl' "$OUT/crl-server.log" || true)
warm_fetches=$(grep -c 'GET /warm.crl' "$OUT/crl-server.log" || true)
printf '\nMachine: %s; nproc %s; load average %s at the end; %s rounds of %s s, wrk -c%s\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$ROUNDS" \
  "$SECONDS_PER_ROUND" "$CONNS"
printf 'CRL fetches seen by the CRL server: warm.crl %s, cold.crl %s\n\n' "$warm_fetches" "$fetches"
printf '| row | exporter CPU per successful probe (median) | probes/s (median) |\n|---|---|---|\n'
for row in crl_off_baseline crl_off crl_warm crl_cold; do
  awk -F'\t' -v row="$row" '$1 == row { cpu[++n] = $2; rps[n] = $3 }
    function median(a, n,   i, j, t) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END { if (n) printf "| %s | %.0f µs | %.0f |\n", row, median(cpu, n), median(rps, n) }' "$OUT/results.tsv"
done
echo "raw figures: $OUT/results.tsv"
