#!/usr/bin/env bash
# Uncomments, in a copy of deploy/prometheus/prometheus.yml, the HTTPS and basic-auth lines that
# each scrape job ships commented (the lines announced by "uncomment the next N lines"), exactly
# as an operator would, so a test scrapes a secured exporter with the shipped text. Fails when a
# scrape job has no such block or an announced line is not a comment.
#
#   deploy/tests/enable-https.sh /tmp/fast-prometheus/prometheus.yml
set -euo pipefail
file=${1:?usage: enable-https.sh PROMETHEUS_YML}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
awk '
    left > 0 {
        if ($0 !~ /^ *# /) { printf "line %d: announced as a config line but not a comment: %s\n", NR, $0 > "/dev/stderr"; bad = 1 }
        sub(/# /, "")
        left--
        print
        next
    }
    match($0, /uncomment the next [0-9]+ lines/) {
        n = substr($0, RSTART + 19)
        left = n + 0
        blocks++
    }
    { print }
    END {
        if (left > 0) { print "file ends inside a commented block" > "/dev/stderr"; bad = 1 }
        printf "%d\n", blocks > "/dev/stderr"
        exit bad
    }
' "$file" >"$out" 2>"$out.count" || { cat "$out.count" >&2; rm -f "$out.count"; exit 1; }
blocks=$(tail -n 1 "$out.count")
rm -f "$out.count"
jobs=$(grep -c '^  - job_name:' "$file")
if [ "$blocks" -ne "$jobs" ]; then
    echo "enable-https.sh: $jobs scrape jobs but $blocks commented HTTPS blocks in $file" >&2
    exit 1
fi
cp "$out" "$file"
echo "$blocks scrape jobs switched to HTTPS with basic auth"
