#!/usr/bin/env python3
"""Checks that the dashboard's "Targets up" and "Targets failing" count targets, not series.

Evaluates both panel expressions with promtool (a unit test of PromQL expressions, no rules) over
series where one target is probed with two modules from two regions, all succeeding, and another
fails from two regions. Two targets: one up, one failing; counting series would say 4 up and 2
failing. Prints one line per panel and "N passed, M failed"; exits 1 on a failure.
Needs promtool and scripts/dashboard-queries.py.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
spec = importlib.util.spec_from_file_location(
    "dashboard_queries", os.path.join(ROOT, "scripts", "dashboard-queries.py"))
dq = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dq)

SERIES = [
    ('probe_success{job="handshake", instance="a.example.com:443", module="tcp_connect", region="eu"}', "1x5"),
    ('probe_success{job="handshake", instance="a.example.com:443", module="tls_connect", region="eu"}', "1x5"),
    ('probe_success{job="handshake", instance="a.example.com:443", module="tcp_connect", region="us"}', "1x5"),
    ('probe_success{job="handshake", instance="a.example.com:443", module="tls_connect", region="us"}', "1x5"),
    ('probe_success{job="handshake", instance="b.example.com:25", module="tcp_connect", region="eu"}', "0x5"),
    ('probe_success{job="handshake", instance="b.example.com:25", module="tcp_connect", region="us"}', "0x5"),
]
WANT = {"Targets up": 1, "Targets failing": 1}


def main():
    dashboard = json.load(open(os.path.join(ROOT, "grafana", "handshake_exporter.json")))
    exprs = {}
    for p in dq.panels(dashboard.get("panels", [])):
        if p.get("title") in WANT:
            exprs[p["title"]] = dq.substitute(p["targets"][0]["expr"])
    passed = failed = 0
    for title, want in WANT.items():
        if title not in exprs:
            print("FAIL dashboard panel %r not found" % title)
            failed += 1
            continue
        test = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in SERIES],
            "promql_expr_test": [{"expr": exprs[title], "eval_time": "4m",
                                  "exp_samples": [{"labels": "{}", "value": want}]}],
        }]}
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
            json.dump(test, f)
            f.flush()
            out = subprocess.run(["promtool", "test", "rules", f.name], capture_output=True, text=True)
        if out.returncode == 0:
            passed += 1
            print("ok   dashboard %r counts targets (%d), not series" % (title, want))
        else:
            failed += 1
            print("FAIL dashboard %r counts targets (%d), not series: %s"
                  % (title, want, " ".join((out.stdout + out.stderr).split())[-400:]))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
