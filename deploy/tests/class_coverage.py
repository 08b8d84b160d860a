#!/usr/bin/env python3
"""Cross-checks the failure classes across the exporter and its operations files.

The classes are read from the exporter's source (src/report.rs, `FailureClass::X => "name"`).
Checked:
  - every class has a row in the class table (deploy/prometheus/rules/handshake_classes.yml),
    and every row names a known class and phase;
  - every class, and every class that a rule sets itself, has a runbook docs/runbooks/<class>.md;
  - every (class, phase) row has a case in deploy/alertmanager/tests/routes.txt on its family's
    alert and severity with its family's receiver, and each family alert selects that family;
  - every route case names a severity, and goes to a "-warnings" receiver exactly for warnings;
  - every alert carries severity, class and phase (static, or from the class table), the
    annotations summary, description and runbook_url, and links to an existing runbook;
  - every alert has a promtool unit test where it fires and one where it stays quiet, and a
    route case.
Prints one line per check and "N passed, M failed"; exits 1 on any failure.
"""
import glob
import os
import re
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RULES = os.path.join(ROOT, "deploy", "prometheus", "rules")
RUNBOOKS = os.path.join(ROOT, "docs", "runbooks")
ROUTES = os.path.join(ROOT, "deploy", "alertmanager", "tests", "routes.txt")
# any base (https://runbooks.example as shipped, or where you publish them) + the runbooks path
RUNBOOK_URL = re.compile(r"^https?://\S+?/docs/runbooks/(.+)$")
PHASES = {"resolve", "connect", "proxy", "tls", "query"}

# family -> (alert that raises it, Alertmanager receiver)
FAMILIES = {
    "dns": ("ProbeDNSFailing", "dns"),
    "network": ("ProbeNetworkPathFailing", "network"),
    "service_down": ("ProbeServiceDown", "service-owners"),
    "service_error": ("ProbeServiceError", "service-owners"),
    "certificate": ("ProbeCertificateRejected", "pki"),
    "tls": ("ProbeTLSNegotiationFailing", "pki"),
    "prober": ("ProbeProberError", "exporter-operators"),
    "other": ("ProbeFailing", "service-owners"),
}

results = []


def check(name, ok, why=""):
    results.append(ok)
    print(("ok   " if ok else "FAIL ") + name + ("" if ok or not why else ": " + why))


def contract_classes():
    text = open(os.path.join(ROOT, "src", "report.rs")).read()
    return set(re.findall(r'FailureClass::\w+\s*=>\s*"([a-z_]+)"', text))


def class_rows():
    doc = yaml.safe_load(open(os.path.join(RULES, "handshake_classes.yml")))
    return [r["labels"] for g in doc["groups"] for r in g["rules"]]


def all_rules():
    out = []
    for path in sorted(glob.glob(os.path.join(RULES, "*.yml"))):
        for g in yaml.safe_load(open(path))["groups"]:
            out += g["rules"]
    return out


def alerts():
    return [r for r in all_rules() if "alert" in r]


def route_cases():
    cases = []
    for line in open(ROUTES):
        words = line.split()
        if words and not words[0].startswith("#"):
            cases.append((words[0], dict(w.split("=", 1) for w in words[1:])))
    return cases


def tested(alertname):
    """(fires somewhere, stays quiet somewhere) over all promtool test files."""
    fires = quiet = False
    for path in glob.glob(os.path.join(RULES, "tests", "*.yml")):
        for t in yaml.safe_load(open(path))["tests"]:
            for a in t.get("alert_rule_test", []):
                if a["alertname"] == alertname:
                    if a.get("exp_alerts"):
                        fires = True
                    else:
                        quiet = True
    return fires, quiet


def main():
    classes = contract_classes()
    check("classes read from src/report.rs", len(classes) > 0, "no FailureClass names found")
    rows = class_rows()
    row_classes = {r["class"] for r in rows}
    for c in sorted(classes):
        check("class table has %s" % c, c in row_classes)
    for r in rows:
        check("class table row %s/%s is a known class and phase" % (r["class"], r["phase"]),
              r["class"] in classes and r["phase"] in PHASES and r["family"] in FAMILIES)
    cases = route_cases()
    rules = alerts()
    severity = {a["alert"]: a["labels"]["severity"] for a in rules if "severity" in a.get("labels", {})}
    for r in rows:
        alert, receiver = FAMILIES[r["family"]]
        sev = severity.get(alert, "")
        if sev == "warning":
            receiver += "-warnings"
        want = (receiver, {"alertname": alert, "class": r["class"], "phase": r["phase"], "severity": sev})
        check("route case for %s/%s" % (r["class"], r["phase"]), want in cases,
              "routes.txt lacks: %s alertname=%s class=%s phase=%s severity=%s"
              % (receiver, alert, r["class"], r["phase"], sev))
    # warnings file a ticket, criticals page: every case names its severity and goes to the
    # responder's "-warnings" receiver exactly when it is a warning
    for receiver, labels in cases:
        check("route case %s -> %s: severity %s" % (" ".join("%s=%s" % kv for kv in labels.items()),
                                                     receiver, labels.get("severity")),
              labels.get("severity") in ("warning", "critical")
              and receiver.endswith("-warnings") == (labels.get("severity") == "warning"))

    by_name = {}
    for a in rules:
        by_name.setdefault(a["alert"], []).append(a)
    for family, (alert, _) in FAMILIES.items():
        exprs = [a["expr"] for a in by_name.get(alert, [])]
        check("%s selects family %s" % (alert, family),
              any('family="%s"' % family in e for e in exprs))

    alert_classes = set()
    for a in rules:
        name = a["alert"]
        labels = a.get("labels", {})
        ann = a.get("annotations", {})
        from_table = "handshake:probe_failure:cause" in a["expr"] or "handshake:failure_class:info" in a["expr"]
        check("%s carries severity, class and phase" % name,
              "severity" in labels and (from_table or ("class" in labels and "phase" in labels)))
        check("%s has summary, description, runbook_url" % name,
              all(k in ann for k in ("summary", "description", "runbook_url")))
        url = ann.get("runbook_url", "")
        m = RUNBOOK_URL.match(url)
        target = m.group(1) if m else ""
        if target == "{{ $labels.class }}.md":
            ok = from_table
        else:
            ok = bool(target) and os.path.exists(os.path.join(RUNBOOKS, target))
            if "class" in labels:
                alert_classes.add(labels["class"])
                ok = ok and target == labels["class"] + ".md"
        check("%s links to its runbook" % name, ok, url)
    # classes that recording rules set themselves (not the class table's rows)
    for r in all_rules():
        c = r.get("labels", {}).get("class")
        if "record" in r and r["record"] != "handshake:failure_class:info" and c:
            alert_classes.add(c)
    for c in sorted(classes | alert_classes):
        check("runbook docs/runbooks/%s.md" % c, os.path.exists(os.path.join(RUNBOOKS, c + ".md")))

    routed = {labels.get("alertname") for _, labels in cases}
    for name in sorted(by_name):
        fires, quiet = tested(name)
        check("%s has a unit test where it fires" % name, fires)
        check("%s has a unit test where it stays quiet" % name, quiet)
        check("%s has a route case" % name, name in routed)

    failed = results.count(False)
    print("%d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
