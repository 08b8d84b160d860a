#!/usr/bin/env bash
# Copies deploy/prometheus/ (configuration, targets, rules; not the rule unit tests) to DEST with
# every interval, window and `for` divided by 15, for tests that cannot wait minutes:
#   probes and rule evaluation 15s -> 1s, scrape timeout 10s -> 1s,
#   windows [5m] -> [20s], offset 5m -> offset 20s, [15m] -> [60s], [30m] -> [120s], [1h] -> [240s],
#   for: 2m -> 8s, 5m -> 20s, 10m -> 40s.
# Thresholds (counts, shares, days) stay as they are. Optional environment variables move the
# addresses a test runs its own programs on, in the configuration and in the targets (shipped and
# examples):
# EXPORTER (default 127.0.0.1:19115), PROMETHEUS (127.0.0.1:9090) and ALERTMANAGER
# (127.0.0.1:9093), each HOST:PORT.
#
#   EXPORTER=127.0.0.1:29115 deploy/tests/shorten-intervals.sh /tmp/fast-prometheus
#   prometheus --config.file=/tmp/fast-prometheus/prometheus.yml ...
#
# Further arguments are other Prometheus configuration files (e.g. the ones of docs/scaling.md),
# whose intervals are shortened in place the same way:
#   deploy/tests/shorten-intervals.sh /tmp/fast-prometheus /tmp/location-eu.yml
set -euo pipefail
dest=${1:?usage: shorten-intervals.sh DEST_DIR [CONFIG_FILE...]}
shift
src=$(cd "$(dirname "$0")/../prometheus" && pwd)
mkdir -p "$dest"
cp -r "$src"/. "$dest"/
rm -rf "$dest/rules/tests"
sed -i -E \
    -e 's/(scrape_interval|evaluation_interval): 15s/\1: 1s/' \
    -e 's/scrape_timeout: 10s/scrape_timeout: 1s/' \
    "$dest/prometheus.yml" "$@"
sed -i -E \
    -e "s/127\.0\.0\.1:19115/${EXPORTER:-127.0.0.1:19115}/g" \
    -e "s/127\.0\.0\.1:9090/${PROMETHEUS:-127.0.0.1:9090}/g" \
    -e "s/127\.0\.0\.1:9093/${ALERTMANAGER:-127.0.0.1:9093}/g" \
    "$dest/prometheus.yml" "$dest"/targets/*.yml "$dest"/examples/*.yml
sed -i -E \
    -e 's/\[5m\]/[20s]/g' -e 's/offset 5m/offset 20s/g' \
    -e 's/\[15m\]/[60s]/g' -e 's/\[30m\]/[120s]/g' -e 's/\[1h\]/[240s]/g' \
    -e 's/for: 2m$/for: 8s/' -e 's/for: 5m$/for: 20s/' -e 's/for: 10m$/for: 40s/' \
    "$dest"/rules/*.yml
