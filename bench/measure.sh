#!/usr/bin/env bash
# The measurements, run by bench/run.sh inside the bench's client network namespace: loopback
# there is private to the bench, and 203.0.113.2 is the silent target behind a DROP rule in the
# target namespace. Appends `metric<TAB>who<TAB>value` lines to $OUT/results.tsv.
#
# Inputs (environment): OUT, HELPERS (compiled peer, tls_peer and connect_limit), OURS and BB (exporter
# binaries; OURS empty when it cannot serve), CFG (modules for both), CERT and KEY (the TLS
# peer's), ROUNDS, SECONDS_PER_ROUND, CONNS, STARTUP_RUNS, SCALE_N, HOSTILE_N, ROWS (the row
# groups to run, in order: loopback startup scale hostile).
set -euo pipefail
cd "$(dirname "$0")"

TCP_PEER=127.0.0.1:19001 TLS_PEER=127.0.0.1:19003 SILENT=203.0.113.2:9 ENDLESS=127.0.0.1:19005
declare -A PORT=([ours]=19100 [blackbox]=19115)
EXPORTERS=(blackbox)
[ -n "$OURS" ] && EXPORTERS=(ours blackbox)
PIDS=()

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

say() { printf '  %s\n' "$*" >&2; }
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$OUT/results.tsv"; }
# The served count of a peer (its stats port answers with it); a few tries, then an error, so a
# missed answer can never turn into a count.
served() {
  local n
  for _ in 1 2 3; do
    n=$(curl -sf "http://127.0.0.1:$1/" | tail -n1) || true
    if [[ $n =~ ^[0-9]+$ ]]; then
      echo "$n"
      return
    fi
    sleep 0.1
  done
  echo "the peer's stats port $1 gave no count" >&2
  return 1
}
probe_url() { echo "http://127.0.0.1:${PORT[$1]}/probe?module=$2&target=$3"; }
# The rounds' order alternates, so drift of the machine's load hits both sides alike.
order() { if (($1 % 2)); then printf '%s\n' "${EXPORTERS[@]}" | tac; else printf '%s\n' "${EXPORTERS[@]}"; fi; }

# Starts exporter $1 with extra flags; sets STARTED_PID; fails when no /probe answers in 5 s.
start_exporter() {
  local who=$1 cmd
  shift
  if [ "$who" = ours ]; then
    cmd=("$OURS" --web.listen-address "127.0.0.1:${PORT[ours]}" --config.file "$CFG" "$@")
  else
    cmd=("$BB" --config.file "$CFG" --web.listen-address "127.0.0.1:${PORT[blackbox]}")
  fi
  "${cmd[@]}" >>"$OUT/$who.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for _ in $(seq 100); do
    if curl -sf -o /dev/null "$(probe_url "$who" tcp_connect "$TCP_PEER")"; then return 0; fi
    sleep 0.05
  done
  say "$who did not answer /probe within 5 s; see $OUT/$who.log"
  return 1
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
rss_mb() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# One wrk run; prints its WRK line (requests, duration_us, errors, status_errors, p50_us...).
wrk_run() { wrk -t1 -c"$1" -d"$2"s -s "$PWD/wrk_report.lua" "$3" | grep '^WRK'; }
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# CPU time (user + system, microseconds) process $1 has used so far (proc(5): utime and stime,
# fields 14 and 15 of /proc/PID/stat, in clock ticks).
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1e6 / hz }' "/proc/$1/stat"; }

# One round: successful probes/s (the peer's served count over the round, capped by wrk's
# answered requests, so a probe that failed counts nowhere), then the exporter's CPU time per
# successful probe in microseconds. Prints both, space-separated. Fails when a count is missing;
# callers assign its output (`out=$(throughput_round ...)`) so that the failure stops the run
# (errexit does not reach into a command substitution, nor through `read <<<"$(...)"`).
throughput_round() {
  local who=$1 module=$2 peer=$3 stats=$4 before after line cpu0 cpu1
  before=$(served "$stats") || return 1
  cpu0=$(cpu_us "${EXPORTER_PID[$who]}")
  line=$(wrk_run "$CONNS" "$SECONDS_PER_ROUND" "$(probe_url "$who" "$module" "$peer")")
  cpu1=$(cpu_us "${EXPORTER_PID[$who]}")
  after=$(served "$stats") || return 1
  awk -v s=$((after - before)) -v r="$(field "$line" requests)" -v e="$(field "$line" status_errors)" \
    -v d="$(field "$line" duration_us)" -v cpu=$((cpu1 - cpu0)) \
    'BEGIN { ok = r - e; if (s < ok) ok = s; printf "%.0f %.0f", ok / (d / 1e6), (ok > 0 ? cpu / ok : 0) }'
}

# The raw connect limit of one round: the better of one thread and one thread per core, each
# keeping 16 connects in flight, each for half a round.
raw_limit() {
  local half a b
  half=$(awk -v s="$SECONDS_PER_ROUND" 'BEGIN { print s / 2 }')
  a=$("$HELPERS/connect_limit" 127.0.0.1 19001 1 16 "$half" | cut -d' ' -f1)
  b=$("$HELPERS/connect_limit" 127.0.0.1 19001 "$(nproc)" 16 "$half" | cut -d' ' -f1)
  echo $((a > b ? a : b))
}

peers() {
  "$HELPERS/peer" 127.0.0.1 19001 19002 &
  PIDS+=($!)
  # Only the loopback rows probe the TLS target.
  if [[ " $ROWS " == *" loopback "* ]]; then
    "$HELPERS/tls_peer" 127.0.0.1 19003 19004 "$CERT" "$KEY" 2 &
    PIDS+=($!)
  fi
  sleep 0.2
}

declare -A EXPORTER_PID
loopback_rows() {
  local who r v cpu out
  for who in "${EXPORTERS[@]}"; do
    start_exporter "$who"
    EXPORTER_PID[$who]=$STARTED_PID
    sleep 0.3
    v=$(rss_mb "$STARTED_PID" VmRSS)
    record idle_rss_mb "$who" "$v"
    say "idle RSS $who: $v MB"
    wrk_run "$CONNS" 1 "$(probe_url "$who" tcp_connect "$TCP_PEER")" >/dev/null
    wrk_run "$CONNS" 1 "$(probe_url "$who" tls_connect "$TLS_PEER")" >/dev/null
    wrk_run "$CONNS" 1 "$(probe_url "$who" tls_verify "$TLS_PEER")" >/dev/null
  done
  for r in $(seq "$ROUNDS"); do
    v=$(raw_limit)
    record raw_cps raw "$v"
    say "round $r raw connect limit: $v/s"
    for who in $(order "$r"); do
      out=$(throughput_round "$who" tcp_connect "$TCP_PEER" 19002)
      read -r v cpu <<<"$out"
      record tcp_rps "$who" "$v"
      record tcp_rps_cpu_us "$who" "$cpu"
      say "round $r tcp_connect $who: $v probes/s, $cpu us CPU per probe"
    done
  done
  # module:metric, the insecure_skip_verify row first, then the one verifying through ca_file
  for row in tls_connect:tls_rps tls_verify:tls_verify_rps; do
    for r in $(seq "$ROUNDS"); do
      for who in $(order "$r"); do
        out=$(throughput_round "$who" "${row%%:*}" "$TLS_PEER" 19004)
        read -r v cpu <<<"$out"
        record "${row#*:}" "$who" "$v"
        record "${row#*:}_cpu_us" "$who" "$cpu"
        say "round $r ${row%%:*} $who: $v probes/s, $cpu us CPU per probe"
      done
    done
  done
  for r in $(seq "$ROUNDS"); do
    for who in $(order "$r"); do
      v=$(field "$(wrk_run 1 3 "$(probe_url "$who" tcp_connect "$TCP_PEER")")" p50_us)
      record lat_ms "$who" "$(awk -v u="$v" 'BEGIN { printf "%.3f", u / 1000 }')"
      say "round $r latency p50 $who: $v us"
    done
  done
  for who in "${EXPORTERS[@]}"; do stop "${EXPORTER_PID[$who]}"; done
}

startup_rows() {
  local args=() who ms port=19200
  [ -n "$OURS" ] && args+=("ours=$OURS --web.listen-address 127.0.0.1:$port --config.file $CFG")
  args+=("blackbox=$BB --config.file $CFG --web.listen-address 127.0.0.1:$port")
  python3 startup.py --runs "$STARTUP_RUNS" --port $port --path "/probe?module=tcp_connect&target=$TCP_PEER" \
    "${args[@]}" >"$OUT/startup.txt" || true
  while read -r _ who ms; do
    record startup_ms "${who#name=}" "${ms#ms=}"
  done <"$OUT/startup.txt"
  say "startup: $(tr '\n' ' ' <"$OUT/startup.txt")"
}

scale_rows() {
  local who line extra=() expect
  for who in "${EXPORTERS[@]}"; do
    extra=() expect=""
    if [ "$who" = ours ]; then
      expect=timeout
      "$OURS" --help 2>&1 | grep -q -- --probe.max-concurrency && extra=(--probe.max-concurrency $((SCALE_N + 1000)))
    fi
    start_exporter "$who" "${extra[@]}" || continue
    line=$(python3 load8k.py --port "${PORT[$who]}" --target "$SILENT" --count "$SCALE_N" \
      --expect-class "$expect" | grep '^LOAD')
    record scale_rss_mb "$who" "$(rss_mb "$STARTED_PID" VmHWM)"
    for k in sent peak good worst_ms prober_error http_error; do record "scale_$k" "$who" "$(field "$line" "$k")"; done
    say "scale $who: $line peak_rss=$(rss_mb "$STARTED_PID" VmHWM) MB"
    stop "$STARTED_PID"
  done
}

# Endless-line probes (module expect_ok, `expect: "^OK"`, against bench/endless_peer.c): one
# probe, then HOSTILE_N at once, each on a fresh exporter; the peak RSS (VmHWM) of each, and how
# many answers came within 5 s with probe_success 0 (and, for ours, class expect_mismatch).
hostile_rows() {
  local who n line expect
  "$HELPERS/endless_peer" 127.0.0.1 19005 &
  PIDS+=($!)
  sleep 0.2
  for who in "${EXPORTERS[@]}"; do
    expect=""
    [ "$who" = ours ] && expect=expect_mismatch
    for n in 1 "$HOSTILE_N"; do
      start_exporter "$who" || continue
      line=$(python3 load8k.py --port "${PORT[$who]}" --module expect_ok --target "$ENDLESS" \
        --count "$n" --rate 0 --deadline 0 --slack 5 --expect-class "$expect" | grep '^LOAD')
      if [ "$n" = 1 ]; then
        record hostile1_rss_mb "$who" "$(rss_mb "$STARTED_PID" VmHWM)"
      else
        record hostile_rss_mb "$who" "$(rss_mb "$STARTED_PID" VmHWM)"
        for k in sent good http_error; do record "hostile_$k" "$who" "$(field "$line" "$k")"; done
      fi
      say "endless lines x$n $who: $line peak_rss=$(rss_mb "$STARTED_PID" VmHWM) MB"
      stop "$STARTED_PID"
    done
  done
}

ulimit -n "$(ulimit -Hn)"
peers
for group in $ROWS; do
  case $group in
    loopback | startup | scale | hostile) "${group}_rows" ;;
    *) echo "unknown row group $group (BENCH_ROWS takes loopback startup scale hostile)" >&2; exit 2 ;;
  esac
done
