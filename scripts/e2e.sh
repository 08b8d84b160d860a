#!/usr/bin/env bash
# End-to-end test of the shipped deployment: the exporter, Prometheus with the shipped
# configuration and rules (intervals shortened by deploy/tests/shorten-intervals.sh), Alertmanager
# with the shipped routing tree, and lab targets that fail in known ways, all on the loopback
# interface of a network namespace created for the run.
#
#   cargo build && bash scripts/e2e.sh
#   cargo build && bash scripts/e2e.sh --https
#
# With --https the exporter serves HTTPS with basic auth (--web.config.file: the shipped
# deploy/handshake_exporter/web/web.yml with a certificate from the run's CA beside it and its
# placeholder hash replaced by one htpasswd makes), and Prometheus scrapes it with the scheme,
# tls_config and basic_auth lines that deploy/prometheus/prometheus.yml ships commented,
# uncommented by deploy/tests/enable-https.sh. That run has the refused target and the exporter
# only, and asserts: the refused target's alert is delivered; both jobs are up over HTTPS; a
# scrape job without the credentials is down (401); curl gets 401 without a password and with a
# wrong one, 200 with it, and no HTTP answer over plain HTTP. It takes about a minute.
#
# Lab targets (loopback of the namespace):
#   127.0.0.1:10001  closed port                                   -> class refused
#   127.0.0.1:10002  listening, SYNs dropped by iptables           -> class timeout, phase connect
#   127.0.0.1:10443  TLS, certificate expired in 2020              -> class tls_cert_expired
#   127.0.0.1:10444  TLS, valid certificate expiring in 10 days    -> success, expiry warning
#   127.0.0.1:19115  the exporter itself                           -> success
# Both TLS certificates are issued by a CA made for the run, which the exporter module trusts
# (ca_file), so the expired one fails as expired and not as untrusted.
#
# Asserts: each failure's alert reaches the webhook receiver of the responder the shipped routes
# name (service-owners, network, pki) with the right class; the expiry warning of the expiring
# certificate reaches pki-warnings (warnings apart from pages); the expiry alert fires for the
# expired certificate too and Alertmanager holds it back behind the "has expired" alert (shipped
# inhibition); nothing else is delivered, the shipped example targets included; an exporter-down
# alert for the region holds back the region's probe alerts but not alerts of other systems
# beside it, with or without a region label; every dashboard expression
# (scripts/dashboard-queries.py) evaluates with status success and a non-empty result against the
# same Prometheus.
#
# Needs root (ip netns, iptables), prometheus, Alertmanager (prometheus-alertmanager or
# alertmanager), promtool, openssl, python3, with --https curl and htpasswd (apache2-utils), and a
# built exporter (target/debug, or the path in
# $HANDSHAKE_EXPORTER). Without root it prints a skip line and exits 0, except with CI=true,
# where it fails. Runs in about two minutes. Prints one line per check and ends with
# "N passed, M failed"; exits 1 on any failure.
# shellcheck disable=SC2317  # cleanup, wait_port and make_certs run through trap and check()
set -u
cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)
secure=0
case "${1:-}" in
    --https) secure=1 ;;
    "") ;;
    *) echo "usage: scripts/e2e.sh [--https]" >&2; exit 2 ;;
esac

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     /'
    return 0
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}

if [ "$(id -u)" -ne 0 ]; then
    if [ "${CI:-}" = true ]; then
        bad "e2e needs root (network namespace, iptables) and CI=true forbids skipping"
        finish
    fi
    echo "SKIP e2e: needs root for its network namespace and iptables; run it as root (sudo bash scripts/e2e.sh)"
    exit 0
fi

# ---- tools
exporter_bin=${HANDSHAKE_EXPORTER:-$repo/target/debug/handshake_exporter}
am_bin=$(command -v prometheus-alertmanager || command -v alertmanager || true)
tools=(ip iptables ss prometheus openssl python3)
[ "$secure" = 1 ] && tools+=(curl htpasswd)
for t in "${tools[@]}"; do
    command -v "$t" >/dev/null 2>&1 || bad "tool $t not found"
done
[ -n "$am_bin" ] || bad "tool alertmanager not found (Debian package prometheus-alertmanager)"
[ -x "$exporter_bin" ] || bad "exporter binary $exporter_bin not found: run cargo build first"
[ "$fail" -eq 0 ] || finish

# ---- addresses, all on the loopback interface of the namespace
ns=hxe2e-$$
EXPORTER=127.0.0.1:19115
PROMETHEUS=127.0.0.1:9090
ALERTMANAGER=127.0.0.1:9093
WEBHOOK=127.0.0.1:5001
REFUSED=127.0.0.1:10001
DROPPED=127.0.0.1:10002
EXPIRED=127.0.0.1:10443
EXPIRING=127.0.0.1:10444
helper=$repo/deploy/tests/e2e/e2e.py
# Alerts must be delivered within this many seconds of Prometheus' start. The shortened rules need
# about 20s of probes before a failure counts as sustained and 40s for the expiry alert's `for`;
# Alertmanager's shipped group_wait adds 30s.
alert_budget=${E2E_ALERT_TIMEOUT:-150}

tmp=$(mktemp -d /tmp/hxe2e.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.5
    # Anything still running in the namespace was started by this script.
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    ip netns delete "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsx() { ip netns exec "$ns" "$@"; }
# spawn NAME CMD...: runs CMD inside the namespace in the background, output to logs/NAME.log.
spawn() {
    local name=$1
    shift
    nsx "$@" >"$tmp/logs/$name.log" 2>&1 </dev/null &
    pids+=("$!")
}
# check NAME CMD...: one assertion, passing when CMD exits 0; its output is shown on failure.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$out"; fi
}
# wait_port HOST:PORT: until a socket listens there (10s at most). Asks the kernel (ss) rather
# than connecting, since the "timeout" port drops every SYN.
wait_port() {
    for _ in $(seq 50); do
        [ -n "$(nsx ss -Hltn "src = $1" 2>/dev/null)" ] && return 0
        sleep 0.2
    done
    echo "nothing listens on $1"
    return 1
}
remaining() { local r=$((deadline - SECONDS)); [ "$r" -gt 1 ] && echo "$r" || echo 1; }
show_logs() {
    local f
    for f in "$tmp"/logs/*.log; do
        echo "---- last lines of $(basename "$f")"
        tail -n 15 "$f"
    done
}

mkdir -p "$tmp/logs" "$tmp/pki/new" "$tmp/prom-data" "$tmp/am-data"

# ---- namespace
if ! ip netns add "$ns"; then bad "create network namespace $ns"; finish; fi
nsx ip link set lo up
# Only this namespace's loopback: SYNs to the "timeout" port are dropped, never answered.
check "iptables DROP for ${DROPPED##*:} inside the namespace" \
    nsx iptables -A INPUT -i lo -p tcp --dport "${DROPPED##*:}" -j DROP

# ---- certificates: a CA, a leaf that expired in 2020, a leaf valid for 10 more days, and the
# exporter's own certificate (served with --https)
make_certs() {
    local d=$tmp/pki
    : >"$d/index.txt"
    echo 1000 >"$d/serial"
    cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = lab
[lab]
database = $d/index.txt
serial = $d/serial
new_certs_dir = $d/new
default_md = sha256
policy = any
unique_subject = no
x509_extensions = leaf
[any]
commonName = supplied
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
EOF
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 60 \
        -keyout "$d/ca.key" -out "$d/ca.pem" -subj "/CN=handshake e2e CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" ||
        return 1
    local name
    for name in expired expiring exporter; do
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/$name.key" -out "$d/$name.csr" -subj "/CN=$name.e2e" || return 1
    done
    openssl ca -batch -notext -config "$d/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" \
        -days 30 -in "$d/exporter.csr" -out "$d/exporter.pem" || return 1
    openssl ca -batch -notext -config "$d/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" \
        -startdate 20200101000000Z -enddate 20200201000000Z \
        -in "$d/expired.csr" -out "$d/expired.pem" || return 1
    openssl ca -batch -notext -config "$d/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" \
        -days 10 -in "$d/expiring.csr" -out "$d/expiring.pem" || return 1
}
check "certificates made (CA, expired leaf, leaf expiring in 10 days, exporter)" make_certs

# ---- lab targets
spawn tls-expired openssl s_server -accept "$EXPIRED" -www \
    -cert "$tmp/pki/expired.pem" -key "$tmp/pki/expired.key"
spawn tls-expiring openssl s_server -accept "$EXPIRING" -www \
    -cert "$tmp/pki/expiring.pem" -key "$tmp/pki/expiring.key"
spawn dropped python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen()
time.sleep(86400)' "${DROPPED%:*}" "${DROPPED##*:}"
spawn webhook python3 "$helper" webhook "$WEBHOOK" "$tmp/webhook.jsonl"

# ---- exporter, with a TLS module trusting the run's CA
cat >"$tmp/exporter.yml" <<EOF
modules:
  tcp_connect:
    prober: tcp
    timeout: 5s
  tls_lab:
    prober: tcp
    timeout: 5s
    tcp:
      tls: true
      tls_config:
        ca_file: $tmp/pki/ca.pem
EOF
exporter_args=(--web.listen-address "$EXPORTER" --config.file "$tmp/exporter.yml")
if [ "$secure" = 1 ]; then
    # The password Prometheus sends, and its bcrypt hash (htpasswd -nBC 10, as exporter-toolkit's
    # docs make it) in the exporter's web config.
    password=$(openssl rand -hex 16)
    hash=$(htpasswd -nbBC 10 prometheus "$password" | cut -d: -f2-)
    # The shipped web config, its placeholder hash replaced, the certificate and key beside it.
    mkdir -p "$tmp/web"
    sed -E "s|^(  prometheus: ).*|\1$hash|" deploy/handshake_exporter/web/web.yml >"$tmp/web/web.yml"
    cp "$tmp/pki/exporter.pem" "$tmp/web/tls.crt"
    cp "$tmp/pki/exporter.key" "$tmp/web/tls.key"
    check "the shipped web.yml takes the run's hash" grep -qF "  prometheus: $hash" "$tmp/web/web.yml"
    exporter_args+=(--web.config.file "$tmp/web/web.yml")
fi
spawn exporter "$exporter_bin" "${exporter_args[@]}"
# curl_exporter ARGS...: curl to the exporter over HTTPS, trusting the run's CA.
curl_exporter() { nsx curl -sS --max-time 5 --cacert "$tmp/pki/ca.pem" "$@"; }

# ---- Alertmanager: the shipped file, receivers' URLs moved to the test's webhook receiver
sed -E "s#url: http://127\.0\.0\.1:5001/#url: http://$WEBHOOK/#" \
    deploy/alertmanager/alertmanager.yml >"$tmp/alertmanager.yml"
spawn alertmanager "$am_bin" --config.file "$tmp/alertmanager.yml" --storage.path "$tmp/am-data" \
    --web.listen-address "$ALERTMANAGER" --cluster.listen-address=

# ---- Prometheus: the shipped configuration and rules, shortened, with the lab targets
EXPORTER=$EXPORTER PROMETHEUS=$PROMETHEUS ALERTMANAGER=$ALERTMANAGER \
    bash deploy/tests/shorten-intervals.sh "$tmp/prom" >/dev/null
# The shipped targets stay: a fresh copy must start quiet, which "no other alert delivered" checks.
if [ "$secure" = 1 ]; then
    cat >"$tmp/prom/targets/e2e.yml" <<EOF
- targets: ["$REFUSED", "$EXPORTER"]
  labels: {module: tcp_connect}
EOF
    check "the shipped HTTPS and basic_auth lines uncommented in every scrape job" \
        bash deploy/tests/enable-https.sh "$tmp/prom/prometheus.yml"
    mkdir -p "$tmp/prom/secrets"
    cp "$tmp/pki/ca.pem" "$tmp/prom/secrets/handshake_exporter_ca.pem"
    printf '%s\n' "$password" >"$tmp/prom/secrets/handshake_exporter_password"
    # One more job: the same exporter over HTTPS without credentials, which must stay down.
    cat >>"$tmp/prom/prometheus.yml" <<EOF
  - job_name: e2e_without_credentials
    scheme: https
    tls_config: {ca_file: secrets/handshake_exporter_ca.pem}
    static_configs: [{targets: ["$EXPORTER"]}]
EOF
else
    cat >"$tmp/prom/targets/e2e.yml" <<EOF
- targets: ["$REFUSED", "$DROPPED", "$EXPORTER"]
  labels: {module: tcp_connect}
- targets: ["$EXPIRED", "$EXPIRING"]
  labels: {module: tls_lab}
EOF
fi
if command -v promtool >/dev/null 2>&1; then
    check "promtool accepts the shortened configuration" promtool check config "$tmp/prom/prometheus.yml"
fi

for p in "$EXPIRED" "$EXPIRING" "$DROPPED"; do
    check "lab target $p listening" wait_port "$p"
done
check "webhook receiver listening" wait_port "$WEBHOOK"
if [ "$secure" = 1 ]; then
    check "exporter ready over HTTPS with the password" curl_exporter -f -o /dev/null \
        --retry 20 --retry-connrefused --retry-delay 1 -u "prometheus:$password" \
        "https://$EXPORTER/-/ready"
else
    check "exporter ready" nsx python3 "$helper" ready "http://$EXPORTER/-/ready"
fi
check "alertmanager ready" nsx python3 "$helper" ready "http://$ALERTMANAGER/-/ready"
[ "$fail" -eq 0 ] || { show_logs; finish; }

spawn prometheus prometheus --config.file "$tmp/prom/prometheus.yml" \
    --storage.tsdb.path "$tmp/prom-data" --web.listen-address "$PROMETHEUS"
deadline=$((SECONDS + alert_budget))
check "prometheus ready" nsx python3 "$helper" ready "http://$PROMETHEUS/-/ready"
[ "$fail" -eq 0 ] || { show_logs; finish; }

# ---- alerts delivered by Alertmanager, each to the receiver the shipped routes name
delivered() {
    local what=$1 receiver=$2
    shift 2
    local args=() l
    for l in "$@"; do args+=(--label "$l"); done
    check "$what -> $receiver" nsx python3 "$helper" delivered "$tmp/webhook.jsonl" \
        --receiver "$receiver" --timeout "$(remaining)" "${args[@]}"
}
delivered "refused: ProbeServiceDown class=refused" service-owners \
    alertname=ProbeServiceDown instance="$REFUSED" class=refused phase=connect

if [ "$secure" = 1 ]; then
    # status WANT CURL_ARGS...: the exporter answers with HTTP status WANT (000: no HTTP answer).
    status() {
        local want=$1 got
        shift
        got=$(curl_exporter -o /dev/null -w '%{http_code}' "$@" 2>/dev/null)
        [ "$got" = "$want" ] || { echo "HTTP status $got, wanted $want"; return 1; }
    }
    check "curl over HTTPS without a password: 401" status 401 "https://$EXPORTER/metrics"
    check "curl over HTTPS with a wrong password: 401" status 401 -u prometheus:wrong \
        "https://$EXPORTER/metrics"
    check "curl over HTTPS with the password: 200" status 200 -u "prometheus:$password" \
        "https://$EXPORTER/metrics"
    check "curl over plain HTTP to the HTTPS port: no HTTP answer" status 000 \
        -u "prometheus:$password" "http://$EXPORTER/metrics"
    query() { nsx python3 "$helper" query "http://$PROMETHEUS" "$1"; }
    check "Prometheus scrapes /metrics over HTTPS with basic auth (up == 1)" \
        query 'up{job="handshake_exporter"} == 1'
    check "Prometheus runs every probe over HTTPS with basic auth (all targets up)" \
        query 'count(up{job="handshake"} == 1) == count(up{job="handshake"}) > 0'
    check "a scrape job without the credentials is down (up == 0)" \
        query 'up{job="e2e_without_credentials"} == 0'
    check "Prometheus saw HTTP 401 on the job without credentials" \
        sh -c "ip netns exec $ns curl -sS 'http://$PROMETHEUS/api/v1/targets?scrapePool=e2e_without_credentials' | grep -o 'server returned HTTP status 401[^\"]*'"
    check "the exporter counted the scrapes without credentials" \
        query 'handshake_exporter_web_auth_failures_total{reason="no_credentials"} > 0'
    check "no other alert delivered" nsx python3 "$helper" only "$tmp/webhook.jsonl" \
        --expect "alertname=ProbeServiceDown,instance=$REFUSED"
    [ "$fail" -eq 0 ] || show_logs
    echo "e2e --https took ${SECONDS}s"
    finish
fi

delivered "timeout: ProbeNetworkPathFailing class=timeout phase=connect" network \
    alertname=ProbeNetworkPathFailing instance="$DROPPED" class=timeout phase=connect
delivered "expired certificate: ProbeCertificateRejected class=tls_cert_expired" pki \
    alertname=ProbeCertificateRejected instance="$EXPIRED" class=tls_cert_expired phase=tls
delivered "certificate expiring in 10 days: ProbeCertificateExpiringSoon warning" pki-warnings \
    alertname=ProbeCertificateExpiringSoon instance="$EXPIRING" class=tls_cert_expiring \
    severity=warning

# The expiry alert fires for the expired certificate as well, and Alertmanager holds it back
# behind "has expired" (the shipped inhibition), so it is never delivered.
check "expired certificate: ProbeCertificateExpiringSoon firing in Prometheus" \
    nsx python3 "$helper" prom-alert "http://$PROMETHEUS" --timeout "$(remaining)" \
    --label alertname=ProbeCertificateExpiringSoon --label instance="$EXPIRED" \
    --label severity=critical
check "expired certificate: ProbeCertificateExpiringSoon inhibited by ProbeCertificateRejected" \
    nsx python3 "$helper" am-inhibited "http://$ALERTMANAGER" --timeout "$(remaining)" \
    --label alertname=ProbeCertificateExpiringSoon --label instance="$EXPIRED" \
    --by alertname=ProbeCertificateRejected --by class=tls_cert_expired
check "expired certificate: ProbeCertificateExpiringSoon not delivered" \
    nsx python3 "$helper" not-delivered "$tmp/webhook.jsonl" \
    --label alertname=ProbeCertificateExpiringSoon --label instance="$EXPIRED"
check "no other alert delivered (successful targets, exporter alerts)" \
    nsx python3 "$helper" only "$tmp/webhook.jsonl" \
    --expect "alertname=ProbeServiceDown,instance=$REFUSED" \
    --expect "alertname=ProbeNetworkPathFailing,instance=$DROPPED" \
    --expect "alertname=ProbeCertificateRejected,instance=$EXPIRED" \
    --expect "alertname=ProbeCertificateExpiringSoon,instance=$EXPIRING"

# ---- inhibitions reach this exporter's alerts only. An exporter-down alert for the whole region
# (as Prometheus would send it), and alerts of other systems beside it, with and without the
# region label: the region's real probe alert is held back, the others are not.
am_post() { nsx python3 "$helper" post "http://$ALERTMANAGER" "$@"; }
am_post_all() {
    am_post --label alertname=HandshakeExporterDown --label job=handshake_exporter \
        --label instance=127.0.0.1:29115 --label region=local --label severity=critical \
        --label class=exporter_down --label phase=exporter &&
        am_post --label alertname=HandshakeExporterDown --label job=handshake_exporter \
            --label instance=10.9.9.9:19115 --label severity=critical \
            --label class=exporter_down --label phase=exporter &&
        am_post --label alertname=NodeFilesystemAlmostFull --label job=node \
            --label instance=db1:9100 --label region=local --label severity=critical &&
        am_post --label alertname=KubePodCrashLooping --label job=kube-state-metrics \
            --label namespace=shop --label pod=cart-7d9f --label severity=warning
}
check "post HandshakeExporterDown for region local, and alerts of other systems" am_post_all
check "exporter down: the region's ProbeServiceDown is inhibited by HandshakeExporterDown" \
    nsx python3 "$helper" am-inhibited "http://$ALERTMANAGER" --timeout 20 \
    --label alertname=ProbeServiceDown --label instance="$REFUSED" \
    --by alertname=HandshakeExporterDown --by region=local
check "exporter down: another system's alert of the same region stays active" \
    nsx python3 "$helper" am-active "http://$ALERTMANAGER" --label alertname=NodeFilesystemAlmostFull
check "exporter down without a region: an alert without a region stays active" \
    nsx python3 "$helper" am-active "http://$ALERTMANAGER" --label alertname=KubePodCrashLooping

# ---- dashboard: every expression evaluates and has data
# Expressions that cannot have data in this setup, with the reason. Keep it short.
declare -A no_data_allowed=(
    ['(min by (module, region) (probe_ssl_client_cert_expiry{job=~"handshake", instance=~".*", module=~".*", region=~".*"}) - time()) / 86400']="no module presents a client certificate here"
    ['max by (instance, module, region) (probe_failure_expected{job=~"handshake", instance=~".*", module=~".*", region=~".*"})']="no module here has expect_failure"
    ['max by (instance, module, region, chain_pos, subject, issuer, key_type, key_bits, signature_algorithm) (probe_ssl_cert_info{job=~"handshake", instance=~".*", module=~".*", region=~".*"}) and on (instance, module, region) (max by (instance, module, region) (probe_ssl_weak_chain{job=~"handshake", instance=~".*", module=~".*", region=~".*"}) == 1)']="no weak chain is served here"
    ['max by (instance, module, region) (probe_ssl_ocsp_response_verified{job=~"handshake", instance=~".*", module=~".*", region=~".*"})']="no target here staples an OCSP response"
    ['max by (instance, module, region) (probe_ssl_ocsp_response_status{job=~"handshake", instance=~".*", module=~".*", region=~".*"})']="no target here staples an OCSP response"
    ['(min by (instance, module, region) (probe_ssl_ocsp_response_next_update_timestamp_seconds{job=~"handshake", instance=~".*", module=~".*", region=~".*"}) - time()) / 3600']="no target here staples an OCSP response"
    ['max by (instance, module, region, chain_pos, subject, serialnumber, crl_url) (probe_ssl_crl_revoked{job=~"handshake", instance=~".*", module=~".*", region=~".*"})']="no module checks CRLs here"
    ['max by (instance, module, region, chain_pos, subject, serialnumber, crl_url) (probe_ssl_crl_available{job=~"handshake", instance=~".*", module=~".*", region=~".*"})']="no module checks CRLs here"
    ['max by (instance, module, region, chain_pos, subject, serialnumber, crl_url) (probe_ssl_crl_stale{job=~"handshake", instance=~".*", module=~".*", region=~".*"})']="no module checks CRLs here"
    ['max by (instance, module, region, chain_pos, subject, serialnumber, crl_url) (probe_ssl_crl_next_publish{job=~"handshake", instance=~".*", module=~".*", region=~".*"}) * 1000']="no module checks CRLs here"
)
queries=$(python3 scripts/dashboard-queries.py)
if [ -z "$queries" ]; then
    bad "scripts/dashboard-queries.py printed no expression"
fi
while IFS= read -r expr; do
    [ -n "$expr" ] || continue
    out=$(nsx python3 "$helper" query "http://$PROMETHEUS" "$expr" 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ]; then
        ok "dashboard: $expr"
    elif [ "$rc" -eq 2 ] && [ -n "${no_data_allowed[$expr]:-}" ]; then
        ok "dashboard: $expr (no data allowed: ${no_data_allowed[$expr]})"
    else
        bad "dashboard: $expr" "$out"
    fi
done <<<"$queries"

[ "$fail" -eq 0 ] || show_logs
echo "e2e took ${SECONDS}s"
finish
