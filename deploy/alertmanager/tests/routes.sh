#!/usr/bin/env bash
# Checks every case of routes.txt against alertmanager.yml with `amtool config routes test`.
# Prints one line per case ("ok" or "FAIL") and a final "N passed, M failed"; exits 1 on any
# failure. Needs amtool (Debian package prometheus-alertmanager).
set -u
here=$(cd "$(dirname "$0")" && pwd)
config="$here/../alertmanager.yml"
cases="$here/routes.txt"
if ! command -v amtool >/dev/null 2>&1; then
    echo "FAIL amtool not found: install the prometheus-alertmanager package"
    echo "0 passed, 1 failed"
    exit 1
fi
pass=0
fail=0
while read -r want labels; do
    case "$want" in ''|'#'*) continue ;; esac
    # shellcheck disable=SC2086 # labels are separate words on purpose
    if got=$(amtool config routes test --config.file="$config" --verify.receivers="$want" $labels 2>&1); then
        pass=$((pass + 1))
        echo "ok   route $labels -> $want"
    else
        fail=$((fail + 1))
        echo "FAIL route $labels -> want $want, got: $got"
    fi
done <"$cases"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
