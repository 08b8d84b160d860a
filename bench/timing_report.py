#!/usr/bin/env python3
"""The table of the timing benchmark (bench/timing.sh): per load level, how far each phase the
exporter reports lies above its reference measured in the same run, at p50 and p99.

Input: the run directory, holding timing.tsv (`level<TAB>series<TAB>microseconds` from
bench/timing_probe.rs), wrk-c<N>.txt (wrk_report.lua's WRK line), metrics-c<N>-{before,after}.txt
(the exporter's /metrics around each level) and machine.txt.

The excess of a phase at a quantile is the phase's quantile minus the reference's quantile:
connect and TCP_INFO rtt against the bare connect, tls against the bare handshake. The scheduling
lag quantiles come from the increase of handshake_exporter_scheduling_lag_seconds over the level.

  timing_report.py RUN_DIR [--doc docs/performance.md]
"""

import argparse
import os
import re
import sys
from collections import defaultdict

BEGIN, END = "<!-- timing-table:begin -->", "<!-- timing-table:end -->"
LAG = "handshake_exporter_scheduling_lag_seconds_bucket"
# Goals of the issue at 32 connections and above: connect excess p50, p99; tls excess p50 (ms).
GOAL = {("connect", 50): 1.0, ("connect", 99): 5.0, ("tls", 50): 2.0}


def quantile(values, q):
    """Nearest-rank quantile of a list, or None when empty."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q / 100 * len(v) + 0.5)) - 1))
    return v[k]


def load_samples(path):
    data = defaultdict(lambda: defaultdict(list))
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                data[parts[0]][parts[1]].append(float(parts[2]) / 1000.0)
    return data


def buckets(path):
    """{le: cumulative count} of the lag histogram in one /metrics answer."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            m = re.match(LAG + r'\{le="([^"]+)"\} (\S+)', line)
            if m:
                out[float(m.group(1))] = float(m.group(2))
    return out


def lag_quantile(before, after, q):
    """The upper bound (ms) of the bucket holding quantile q of the observations in between."""
    delta = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    if not delta or delta[-1][1] <= 0:
        return None
    want = delta[-1][1] * q / 100
    for le, count in delta:
        if count >= want:
            return le * 1000
    return None


def wrk_rate(path):
    if not os.path.exists(path):
        return 0.0
    with open(path) as f:
        m = re.search(r"requests=(\d+) duration_us=(\d+)", f.read())
    return int(m.group(1)) / (int(m.group(2)) / 1e6) if m else 0.0


def ms(v):
    return "n/a" if v is None else f"{v:.2f}"


def table(run):
    data = load_samples(os.path.join(run, "timing.tsv"))
    levels = sorted(data, key=lambda l: int(l[1:]))
    rows = [
        "| wrk connections | load probes/s | samples (connect / tls) | bare connect p50 / p99 ms "
        "| connect excess p50 / p99 ms | TCP_INFO rtt excess p50 / p99 ms | bare TLS handshake "
        "p50 / p99 ms | tls excess p50 / p99 ms | scheduling lag p50 / p99 ms | failed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for level in levels:
        d = data[level]
        c = int(level[1:])
        ref_c, ref_t = d["ref_connect"], d["ref_tls"]

        def excess(series, ref, q):
            a, b = quantile(d[series], q), quantile(ref, q)
            return None if a is None or b is None else a - b

        ex = {(s, q): excess(s, r, q) for s, r in (("connect", ref_c), ("rtt", ref_c),
                                                     ("tls", ref_t)) for q in (50, 99)}
        before = buckets(os.path.join(run, f"metrics-{level}-before.txt"))
        after = buckets(os.path.join(run, f"metrics-{level}-after.txt"))
        rows.append(
            f"| {c} | {wrk_rate(os.path.join(run, f'wrk-{level}.txt')):,.0f} "
            f"| {len(d['connect'])} / {len(d['tls'])} "
            f"| {ms(quantile(ref_c, 50))} / {ms(quantile(ref_c, 99))} "
            f"| {ms(ex['connect', 50])} / {ms(ex['connect', 99])} "
            f"| {ms(ex['rtt', 50])} / {ms(ex['rtt', 99])} "
            f"| {ms(quantile(ref_t, 50))} / {ms(quantile(ref_t, 99))} "
            f"| {ms(ex['tls', 50])} / {ms(ex['tls', 99])} "
            f"| {ms(lag_quantile(before, after, 50))} / {ms(lag_quantile(before, after, 99))} "
            f"| {len(d['failed'])} |"
        )
        if c >= 32:
            for key, limit in GOAL.items():
                v = ex[key]
                ok = v is not None and v <= limit
                verdicts.append(
                    f"c{c} {key[0]} excess p{key[1]} {ms(v)} ms (goal <= {limit} ms): "
                    f"{'PASS' if ok else 'MISS'}"
                )
    return rows, verdicts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--doc")
    args = ap.parse_args()
    rows, verdicts = table(args.run)
    with open(os.path.join(args.run, "machine.txt")) as f:
        machine = f.read().strip()
    text = "\n".join([f"Machine: {machine}", "", *rows, "", *[f"- {v}" for v in verdicts]])
    print(text)
    if args.doc:
        with open(args.doc) as f:
            doc = f.read()
        if BEGIN not in doc or END not in doc:
            sys.exit(f"{args.doc} has no {BEGIN} ... {END} markers")
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        with open(args.doc, "w") as f:
            f.write(f"{head}{BEGIN}\n{text}\n{END}{tail}")


if __name__ == "__main__":
    main()
