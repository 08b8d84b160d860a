#!/usr/bin/env python3
"""Turns the raw figures of one bench run into the one table, and keeps docs/performance.md's copy.

Input: a TSV file of `metric<TAB>who<TAB>value` lines written by bench/measure.sh, one per round
(who is `ours`, `blackbox` or `raw`), and a machine description. Every row quotes the median of
its rounds for each exporter, the ratio ours/blackbox, the target and PASS or MISS.

  report.py RESULTS.tsv MACHINE.txt [--doc docs/performance.md]
"""

import argparse
import re
import statistics
import sys
from collections import defaultdict

BEGIN, END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"


def load(path):
    """{metric: {who: [values]}} from the TSV file; non-numeric values are skipped."""
    data = defaultdict(lambda: defaultdict(list))
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            try:
                data[parts[0]][parts[1]].append(float(parts[2]))
            except ValueError:
                pass
    return data


def med(data, metric, who):
    """The median of a metric's rounds for one side, or None when it never ran."""
    values = data.get(metric, {}).get(who)
    return statistics.median(values) if values else None


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}{unit}"
    if abs(v) >= 100:
        return f"{v:.0f}{unit}"
    if abs(v) < 1:
        return f"{v:.2g}{unit}"
    return f"{v:.1f}{unit}"


def count(v):
    """A count as an integer with thousands separators, or "?" when it was not recorded."""
    return "?" if v is None else f"{v:,.0f}"


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def ratio(a, b):
    return a / b if a is not None and b else None


def rows(d):
    """The table rows: (measure, ours, blackbox, ratio, target, result)."""
    out = []

    def both(metric):
        return med(d, metric, "ours"), med(d, metric, "blackbox")

    def ratio_row(name, metric, target_text, test, unit=""):
        ours, bb = both(metric)
        r = ratio(ours, bb)
        out.append((name, fmt(ours, unit), fmt(bb, unit), fmt(r, "x"), target_text,
                    verdict(None if r is None else test(r))))

    ratio_row("tcp_connect probes/s", "tcp_rps", "≥ 3x blackbox", lambda r: r >= 3)
    raw = med(d, "raw_cps", "raw")
    ours, bb = both("tcp_rps")
    share = [None if v is None or not raw else 100 * v / raw for v in (ours, bb)]
    out.append((f"tcp_connect share of raw connect limit ({fmt(raw)} connects/s)",
                fmt(share[0], "%"), fmt(share[1], "%"), fmt(ratio(share[0], share[1]), "x"),
                "≥ 40%", verdict(None if share[0] is None else share[0] >= 40)))
    ratio_row("tls_connect probes/s, insecure_skip_verify", "tls_rps", "≥ 2x blackbox",
              lambda r: r >= 2)
    ratio_row("tls_connect probes/s, verified through ca_file", "tls_verify_rps",
              "≥ 3x blackbox", lambda r: r >= 3)
    ratio_row("median /probe latency, 1 connection", "lat_ms", "≤ 0.5x blackbox",
              lambda r: r <= 0.5, " ms")
    # What each exporter spends on one probe, apart from the peer, wrk and the kernel's work for
    # them, which share the same cores: no target, the figure behind the throughput rows.
    for name, metric in (("tcp_connect", "tcp_rps"), ("tls_connect, insecure_skip_verify", "tls_rps"),
                         ("tls_connect, verified through ca_file", "tls_verify_rps")):
        ours, bb = both(metric + "_cpu_us")
        out.append((f"exporter CPU per successful probe, {name}", fmt(ours, " µs"), fmt(bb, " µs"),
                    fmt(ratio(ours, bb), "x"), "", ""))

    def limit_row(name, metric, limit, unit):
        ours, bb = both(metric)
        out.append((name, fmt(ours, unit), fmt(bb, unit), fmt(ratio(ours, bb), "x"),
                    f"≤ {limit}{unit}", verdict(None if ours is None else ours <= limit)))

    limit_row("idle RSS after one probe", "idle_rss_mb", 10, " MB")
    limit_row("8,000 silent probes in flight: peak RSS", "scale_rss_mb", 80, " MB")
    cells = []
    for who in ("ours", "blackbox"):
        good = med(d, "scale_good", who)
        if good is None:
            cells.append("n/a")
            continue
        extra = [f"peak {count(med(d, 'scale_peak', who))} in flight",
                 f"worst {fmt(med(d, 'scale_worst_ms', who), ' ms')} off"]
        for key, label in (("scale_prober_error", "prober_error"), ("scale_http_error", "HTTP errors")):
            if med(d, key, who):
                extra.append(f"{count(med(d, key, who))} {label}")
        cells.append(f"{count(good)}/{count(med(d, 'scale_sent', who))} good ({', '.join(extra)})")
    want = med(d, "scale_sent", "ours")
    good, peak = med(d, "scale_good", "ours"), med(d, "scale_peak", "ours")
    out.append(("8,000 silent probes: answered at deadline ± 50 ms, class timeout, "
                "no prober_error, no HTTP error", cells[0], cells[1], "",
                "all 8,000, all in flight at once",
                verdict(None if good is None else good == want == peak == 8000)))
    ours, bb = both("hostile1_rss_mb")
    out.append(("one endless-line probe: peak RSS", fmt(ours, " MB"), fmt(bb, " MB"),
                fmt(ratio(ours, bb), "x"), "", ""))
    # The hostile row's target is relative to this run's silent-probe figure.
    ours, bb = both("hostile_rss_mb")
    silent = med(d, "scale_rss_mb", "ours")
    within = None if ours is None or silent is None else ours <= 2 * silent
    out.append((f"{count(med(d, 'hostile_sent', 'ours'))} endless-line probes at once: peak RSS",
                fmt(ours, " MB"), fmt(bb, " MB"), fmt(ratio(ours, bb), "x"),
                f"≤ 2x the 8,000 silent probes' ({fmt(silent, ' MB')})", verdict(within)))
    limit_row("start to first answered /probe", "startup_ms", 50, " ms")
    return out


def table(d, machine):
    lines = [f"Machine: {machine}", "",
             "| measure | handshake_exporter | blackbox_exporter | ratio | target | result |",
             "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows(d)]
    return "\n".join(lines) + "\n"


def update_doc(path, text):
    """Replaces the table between the markers in the doc; False when the markers are missing."""
    with open(path) as f:
        doc = f.read()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(doc):
        return False
    with open(path, "w") as f:
        f.write(pattern.sub(lambda _: f"{BEGIN}\n{text}{END}", doc))
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("machine")
    p.add_argument("--doc")
    args = p.parse_args()
    with open(args.machine) as f:
        machine = f.read().strip()
    text = table(load(args.results), machine)
    print(text, end="")
    if args.doc and not update_doc(args.doc, text):
        print(f"note: {args.doc} has no {BEGIN} marker; not updated", file=sys.stderr)


if __name__ == "__main__":
    main()
