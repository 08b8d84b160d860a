#!/usr/bin/env python3
"""Prints every PromQL expression of a Grafana dashboard, one per line, ready to run.

Usage: scripts/dashboard-queries.py [DASHBOARD.json]   (default: grafana/handshake_exporter.json)

Walks all panels (rows included) and prints each target's `expr`, then the series selector of
each `label_values(SELECTOR, label)` variable query. Dashboard variables are replaced so the text
is plain PromQL: $target, $module and $region (any spelling: $x, ${x}, ${x:regex}) become `.*`,
$job and $exporter_job their defaults `handshake` and `handshake_exporter`,
$__rate_interval and $__interval become 1m, $__range becomes 1h. Line breaks inside an
expression become spaces. Exits 1 when the file holds no expression.
"""
import json
import os
import re
import sys

SUBSTITUTIONS = {
    "target": ".*",
    "module": ".*",
    "region": ".*",
    "job": "handshake",
    "exporter_job": "handshake_exporter",
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
}

VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def substitute(expr):
    """The expression with dashboard variables replaced and whitespace runs collapsed."""
    def repl(m):
        name = m.group(1) or m.group(2)
        return SUBSTITUTIONS.get(name, m.group(0))
    return " ".join(VARIABLE.sub(repl, expr).split())


def panels(items):
    """Every panel, descending into rows (collapsed rows keep theirs in `panels`)."""
    for p in items:
        yield p
        yield from panels(p.get("panels", []))


def expressions(dashboard):
    """Panel expressions first, then the selectors of label_values() variable queries."""
    for p in panels(dashboard.get("panels", [])):
        for t in p.get("targets", []):
            if t.get("expr"):
                yield t["expr"]
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q, re.S)
        if m:
            yield m.group(1)
        elif q.strip() and not q.strip().startswith(("label_names", "metrics", "query_result")):
            yield q


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "grafana", "handshake_exporter.json")
    with open(path) as f:
        dashboard = json.load(f)
    found = [substitute(e) for e in expressions(dashboard)]
    for e in found:
        print(e)
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
