#!/usr/bin/env bash
# Checks the operations files against the real tools: Prometheus configuration and rules
# (promtool check, promtool unit tests), Alertmanager configuration, routes (amtool) and
# inhibitions (a real Alertmanager on loopback), the dashboard's queries, YAML/JSON syntax of
# everything under deploy/ and grafana/, and the class coverage across exporter, rules, routes
# and runbooks.
#
#   bash scripts/ops-check.sh
#
# Needs promtool and amtool and Alertmanager (Debian packages prometheus and
# prometheus-alertmanager) and python3 with PyYAML; installs nothing (scripts/setup does) and
# fails when one is missing. Used when present, skipped otherwise: a built exporter (target/release or
# target/debug), kubectl, systemd-analyze, shellcheck.
# Prints one line per check and ends with "N passed, M failed, K skipped"; exits 1 on any failure.
set -u
cd "$(dirname "$0")/.." || exit 1

pass=0
fail=0
skip=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     /'
    return 0
}
skipped() { skip=$((skip + 1)); echo "skip $1"; }

# run NAME CMD...: one check, passing when CMD exits 0; its output is shown on failure.
run() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$name"; else bad "$name" "$out"; fi
}

# run_counted NAME CMD...: CMD prints its own "ok"/"FAIL" lines and "N passed, M failed";
# those counts are added to ours.
run_counted() {
    local name=$1 out p f
    shift
    out=$("$@" 2>&1)
    local rc=$?
    printf '%s\n' "$out" | grep -E '^(ok|FAIL|skip) ' | sed "s/^\(ok  \|FAIL\|skip\) /\1 $name: /"
    p=$(printf '%s\n' "$out" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/p' | tail -1)
    if [ -z "$p" ]; then
        bad "$name (no result line)" "$out"
        return
    fi
    pass=$((pass + p))
    fail=$((fail + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then bad "$name exited $rc" "$out"; fi
}

need() {
    if command -v "$1" >/dev/null 2>&1; then ok "tool $1 found"; return 0; fi
    bad "tool $1 not found: install the Debian package $2 (scripts/setup does)"
    return 1
}

# ---- tools
have_promtool=0; have_amtool=0; have_am=0; have_py=0
need promtool prometheus && have_promtool=1
need amtool prometheus-alertmanager && have_amtool=1
if command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1; then
    ok "tool alertmanager found"; have_am=1
else
    bad "tool alertmanager not found: install the Debian package prometheus-alertmanager"
fi
if python3 -c 'import yaml' >/dev/null 2>&1; then
    ok "tool python3 with PyYAML found"; have_py=1
else
    bad "tool python3 with PyYAML not found: install python3 and PyYAML (python3-yaml)"
fi

# ---- Prometheus
if [ "$have_promtool" = 1 ]; then
    run "promtool check config deploy/prometheus/prometheus.yml" \
        promtool check config deploy/prometheus/prometheus.yml
    run "promtool check rules deploy/prometheus/rules/*.yml" \
        promtool check rules deploy/prometheus/rules/*.yml
    for t in deploy/prometheus/rules/tests/*.yml; do
        run "promtool test rules $t" promtool test rules "$t"
    done
    if deploy/tests/shorten-intervals.sh "$tmp/fast" >"$tmp/fast.log" 2>&1; then
        run "shortened intervals: promtool check config" promtool check config "$tmp/fast/prometheus.yml"
        if grep -nE '\[[0-9]+[mh]\]|offset [0-9]+[mh]|for: [0-9]+[mh]' "$tmp"/fast/rules/*.yml >"$tmp/long" 2>&1; then
            bad "shortened intervals: no minute-long window left" "$(cat "$tmp/long")"
        else
            ok "shortened intervals: no minute-long window left"
        fi
    else
        bad "deploy/tests/shorten-intervals.sh" "$(cat "$tmp/fast.log")"
    fi
fi

# ---- Alertmanager
if [ "$have_amtool" = 1 ]; then
    run "amtool check-config deploy/alertmanager/alertmanager.yml" \
        amtool check-config deploy/alertmanager/alertmanager.yml
    run_counted "routes" bash deploy/alertmanager/tests/routes.sh
fi
if [ "$have_am" = 1 ] && [ "$have_py" = 1 ]; then
    run_counted "inhibitions" python3 deploy/alertmanager/tests/inhibit_test.py
fi

# ---- syntax of every YAML and JSON file
if [ "$have_py" = 1 ]; then
    while IFS= read -r f; do
        run "yaml syntax $f" python3 -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$f"
    done < <(find deploy grafana -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
    while IFS= read -r f; do
        run "json syntax $f" python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$f"
    done < <(find deploy grafana -type f -name '*.json' | sort)

    run "ConfigMap holds deploy/handshake_exporter/config.yml" python3 -c '
import sys, yaml
cm = yaml.safe_load(open("deploy/kubernetes/configmap.yaml"))
want = open("deploy/handshake_exporter/config.yml").read()
sys.exit(0 if cm["data"]["config.yml"] == want else "configmap.yaml differs from config.yml")'

    run_counted "classes" python3 deploy/tests/class_coverage.py
    run "PrometheusRule in sync with deploy/prometheus/rules (deploy/tests/prometheusrule.py)" \
        python3 deploy/tests/prometheusrule.py --check
    run_counted "kubernetes" python3 deploy/tests/kubernetes_check.py
    run "Secret handshake-exporter-web holds deploy/handshake_exporter/web/web.yml" python3 -c '
import sys, yaml
secret = yaml.safe_load(open("deploy/kubernetes/https/secret-web-config.yaml"))
want = open("deploy/handshake_exporter/web/web.yml").read()
sys.exit(0 if secret["stringData"]["web.yml"] == want else "secret-web-config.yaml differs from web.yml")'
    run "docker-compose.yml: the commented web config flag and volume match" python3 -c '
import os, re, sys
text = open("deploy/docker-compose.yml").read()
flag = re.findall(r"^ *# - --web\.config\.file=(\S+)$", text, re.M)
vols = re.findall(r"^ *# - (\./handshake_exporter/web):(\S+):ro$", text, re.M)
if len(flag) != 1 or len(vols) != 1:
    sys.exit("want one commented --web.config.file and one web volume: %s %s" % (flag, vols))
src, dst = vols[0]
if os.path.dirname(flag[0]) != dst:
    sys.exit("--web.config.file=%s is not in the mounted %s" % (flag[0], dst))
if not os.path.isfile(os.path.join("deploy", src, os.path.basename(flag[0]))):
    sys.exit("deploy/%s has no %s" % (src, os.path.basename(flag[0])))'

    run "docker-compose.yml: its top-level name: comes with the Compose v2 note" python3 -c '
import sys, yaml
text = open("deploy/docker-compose.yml").read()
if "name" in yaml.safe_load(text) and "Compose v2" not in text:
    sys.exit("top-level name: breaks Compose v1; say v2 is required or drop it")'
fi

# ---- container image: the revision comes in as a build argument (the context has no .git) and
# is passed to the build and to the OCI label
run "Dockerfile passes REVISION to the build and the OCI revision label" python3 -c '
import re, sys
d = open("Dockerfile").read()
missing = [what for what, pattern in [
    ("ARG REVISION", r"^ARG REVISION"),
    ("HANDSHAKE_EXPORTER_REVISION from it in the build", r"HANDSHAKE_EXPORTER_REVISION=\"?\$\{?REVISION"),
    ("org.opencontainers.image.revision label", r"org\.opencontainers\.image\.revision=\"?\$\{?REVISION"),
] if not re.search(pattern, d, re.M)]
sys.exit("missing: %s" % missing if missing else 0)'
run "build.rs takes the revision from HANDSHAKE_EXPORTER_REVISION" \
    grep -q 'env::var("HANDSHAKE_EXPORTER_REVISION")' build.rs
# The image has no shell: the runbooks show how to get one next to the exporter.
run "runbooks: diagnostics from a shell-less exporter pod through kubectl debug" \
    grep -q 'kubectl -n monitoring debug' docs/runbooks/README.md

# ---- the dashboard's queries are valid PromQL (each becomes a recording rule for promtool)
if [ "$have_py" = 1 ] && [ "$have_promtool" = 1 ]; then
    if python3 scripts/dashboard-queries.py >"$tmp/queries" 2>&1; then
        python3 - "$tmp/queries" >"$tmp/queries.yml" <<'PY'
import json, sys
rules = [{"record": "dashboard_query_%d" % i, "expr": q.strip()}
         for i, q in enumerate(open(sys.argv[1])) if q.strip()]
print(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
PY
        run "dashboard: $(wc -l <"$tmp/queries") queries are valid PromQL" \
            promtool check rules --lint=none "$tmp/queries.yml"
        run_counted "dashboard" python3 deploy/tests/dashboard_counts.py
        run "dashboard: probe and exporter jobs are variables, not fixed names" python3 -c '
import re, sys
t = open("grafana/handshake_exporter.json").read()
sys.exit("fixed job names: %s" % sorted(set(re.findall(r"job=\\\"handshake\w*", t))) if re.search(r"job=\\\"handshake", t) else 0)' 
    else
        bad "scripts/dashboard-queries.py" "$(cat "$tmp/queries")"
    fi

    # the memory rule of docs/scaling.md against the measurement: the latest benchmark table of
    # docs/performance.md (idle RSS, and peak RSS with N silent probes in flight) and, when
    # bench/capacity.sh has been run, its silent rows of 1,000 probes in flight or more
    run "docs/scaling.md memory rule covers the measured idle RSS and KB per probe in flight" python3 -c '
import re, sys
rule = re.search(r"memory limit = (\d+(?:\.\d+)?) × \((\d+(?:\.\d+)?) MB \+ --probe\.max-concurrency × (\d+(?:\.\d+)?) KB\)", open("docs/scaling.md").read())
if not rule:
    sys.exit("docs/scaling.md states no memory rule")
_, idle_mb, per_kb = (float(x) for x in rule.groups())
perf = open("docs/performance.md").read()
idle = re.search(r"^\| idle RSS after one probe \| (\d+(?:\.\d+)?) MB \|", perf, re.M)
peak = re.search(r"^\| ([\d,]+) silent probes in flight: peak RSS \| (\d+(?:\.\d+)?) MB \|", perf, re.M)
if not idle or not peak:
    sys.exit("docs/performance.md has no idle RSS or silent peak RSS row")
measured_idle = float(idle.group(1))
n = int(peak.group(1).replace(",", ""))
measured_kb = (float(peak.group(2)) - measured_idle) * 1000 / n
source = "docs/performance.md"
try:
    for line in open("bench/capacity.last"):
        row = dict(kv.split("=", 1) for kv in line.split()[1:]) if line.startswith("CAPACITY ") else {}
        if (row.get("case") == "silent" and int(row["in_flight_peak"]) >= 1000
                and float(row["kb_per_probe"]) > measured_kb):
            measured_kb, source = float(row["kb_per_probe"]), "bench/capacity.last"
except FileNotFoundError:
    pass
problems = []
if idle_mb < measured_idle:
    problems.append("idle %g MB < measured %g MB" % (idle_mb, measured_idle))
if per_kb < measured_kb:
    problems.append("%g KB per probe < measured %.1f KB (%s)" % (per_kb, measured_kb, source))
sys.exit("; ".join(problems) or 0)'

    # every YAML block of docs/scaling.md is a complete Prometheus configuration
    python3 - "$tmp" <<'PY'
import re, sys
text = open("docs/scaling.md").read()
for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, re.S)):
    open("%s/scaling-%d.yml" % (sys.argv[1], i), "w").write(block)
PY
    for f in "$tmp"/scaling-*.yml; do
        [ -e "$f" ] || { bad "docs/scaling.md has configuration examples"; break; }
        run "docs/scaling.md example $(basename "$f" .yml): promtool check config" \
            promtool check config --syntax-only "$f"
    done
fi

# ---- the example exporter configuration loads in the exporter itself (when one is built)
exporter=""
for b in target/release/handshake_exporter target/debug/handshake_exporter; do
    if [ -x "$b" ]; then exporter=$b; break; fi
done
if [ -n "$exporter" ]; then
    run "$exporter --config.check deploy/handshake_exporter/config.yml" \
        "$exporter" --config.check --config.file=deploy/handshake_exporter/config.yml
    # The shipped web config, with a certificate and key made here where it expects them.
    mkdir -p "$tmp/web"
    cp deploy/handshake_exporter/web/web.yml "$tmp/web/"
    if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj /CN=127.0.0.1 -keyout "$tmp/web/tls.key" -out "$tmp/web/tls.crt" >/dev/null 2>&1; then
        run "$exporter --config.check --web.config.file deploy/handshake_exporter/web/web.yml" \
            "$exporter" --config.check --config.file=deploy/handshake_exporter/config.yml \
            --web.config.file="$tmp/web/web.yml"
    else
        bad "openssl: a certificate for the web config check"
    fi
else
    skipped "exporter --config.check (no built binary in target/)"
fi

# ---- optional tools
if command -v kubectl >/dev/null 2>&1; then
    run "kubectl kustomize deploy/kubernetes" kubectl kustomize deploy/kubernetes
    run "kubectl kustomize deploy/kubernetes/prometheus-operator" kubectl kustomize deploy/kubernetes/prometheus-operator
    # with the https component turned on, as kustomization.yaml offers it
    cp -r deploy/kubernetes "$tmp/k8s-https"
    sed -i 's/^# components:$/components:/; s/^#   - https$/  - https/' "$tmp/k8s-https/kustomization.yaml"
    run "kubectl kustomize deploy/kubernetes with components: https" \
        sh -c "kubectl kustomize '$tmp/k8s-https' | grep -q -- '--web.config.file='"
    # one overlay per location: it renders, and names this location's Service in its Probe
    for d in deploy/kubernetes-locations/*/; do
        r=$(basename "$d")
        run "kubectl kustomize deploy/kubernetes-locations/$r" \
            sh -c "kubectl kustomize '$d' | grep -q 'url: handshake-exporter-$r.monitoring.svc:19115'"
    done
else
    skipped "kubectl kustomize (kubectl not installed)"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
    # verify wants the binary to exist: check copies that run /bin/true instead
    mkdir -p "$tmp/units/plain" "$tmp/units/socket/handshake_exporter.service.d"
    to_true() { sed 's#^ExecStart=/[^ ]*#ExecStart=/bin/true#' "deploy/systemd/$1" >"$tmp/units/$2/$1"; }
    to_true handshake_exporter.service plain
    run "systemd-analyze verify deploy/systemd/handshake_exporter.service" \
        systemd-analyze verify "$tmp/units/plain/handshake_exporter.service"
    to_true handshake_exporter.service socket
    to_true handshake_exporter.service.d/socket-activation.conf socket
    cp deploy/systemd/handshake_exporter.socket "$tmp/units/socket/"
    run "systemd-analyze verify handshake_exporter.socket with the service and its socket drop-in" \
        systemd-analyze verify "$tmp/units/socket/handshake_exporter.socket" \
        "$tmp/units/socket/handshake_exporter.service"
    run "socket drop-in passes --web.systemd-socket" \
        grep -q '^ExecStart=/.* --web.systemd-socket' \
        deploy/systemd/handshake_exporter.service.d/socket-activation.conf
else
    skipped "systemd-analyze verify (systemd not installed)"
fi
if command -v shellcheck >/dev/null 2>&1; then
    run "shellcheck" shellcheck scripts/setup scripts/test .ci/run scripts/ops-check.sh scripts/e2e.sh \
        deploy/alertmanager/tests/routes.sh deploy/tests/shorten-intervals.sh \
        deploy/tests/enable-https.sh
else
    skipped "shellcheck (not installed)"
fi

# ---- container build inputs exist and are not excluded from the build context
run "Dockerfile inputs" python3 -c '
import fnmatch, os, re, sys
copies = re.findall(r"^COPY\s+(?!--from)(\S+)\s", open("Dockerfile").read(), re.M)
ignore = [l.strip() for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
def excluded(path):
    out = False
    for pat in ignore:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        if fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.rstrip("/") + "/*"):
            out = not neg
    return out
missing = [c for c in copies if c != "." and (not os.path.exists(c) or excluded(c))]
sys.exit("missing or ignored: %s" % missing if missing else 0)'

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
