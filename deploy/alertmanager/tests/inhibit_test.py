#!/usr/bin/env python3
"""Checks the inhibit_rules of ../alertmanager.yml against a real Alertmanager.

Starts Alertmanager (Debian's prometheus-alertmanager, or `alertmanager`) on a free loopback
port with clustering off and a temporary storage directory, posts alerts through its v2 API and
reads back which ones it reports as inhibited. Receivers are never reached: the test ends before
the first group_wait. Prints one line per case and a final "N passed, M failed"; exits 1 on any
failure or when no Alertmanager binary is found.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "..", "alertmanager.yml")

PROBE = {"job": "handshake", "module": "tcp_connect"}

# (name, the alerts that should inhibit, the alert checked, whether it should be inhibited)
EXPORTER_DOWN = dict(alertname="HandshakeExporterDown", job="handshake_exporter",
                     instance="127.0.0.1:19115", class_="exporter_down", phase="exporter",
                     severity="critical")

CASES = [
    ("exporter down hides its region's probe alerts",
     [dict(EXPORTER_DOWN, region="r1")],
     dict(PROBE, alertname="ProbeServiceDown", instance="a.example.com:443", region="r1",
          class_="refused", phase="connect"), True),
    ("exporter down hides its region's probe scrape failures",
     [],
     dict(PROBE, alertname="HandshakeProbeScrapeFailing", instance="a.example.com:443",
          region="r1", class_="exporter_scrape_failed", phase="exporter"), True),
    # Alerts of other systems, in the same region as the exporter that is down: never held back.
    ("exporter down leaves another system's alert of its region alone (node filesystem)",
     [],
     dict(alertname="NodeFilesystemAlmostFull", job="node", instance="db1:9100", region="r1",
          mountpoint="/var", severity="critical"), False),
    ("exporter down leaves another system's alert of its region alone (pod crash loop)",
     [],
     dict(alertname="KubePodCrashLooping", job="kube-state-metrics", namespace="shop",
          pod="cart-7d9f", region="r1", severity="warning"), False),
    # An exporter-down alert without a region (a setup that sets none) must not hold back the
    # alerts that have none either: empty equals empty in Alertmanager.
    ("exporter down without a region leaves alerts without a region alone",
     [dict(EXPORTER_DOWN, instance="10.9.9.9:19115")],
     dict(alertname="KubePodCrashLooping", job="kube-state-metrics", namespace="shop",
          pod="cart-7d9f", severity="warning"), False),
    ("exporter down without a region leaves probe alerts without a region alone",
     [],
     dict(PROBE, alertname="ProbeServiceDown", instance="g.example.com:443", class_="refused",
          phase="connect"), False),
    ("one of several exporters down (warning) holds nothing back",
     [dict(EXPORTER_DOWN, instance="10.0.0.2:19115", region="r9", severity="warning")],
     dict(PROBE, alertname="ProbeServiceDown", instance="a.example.com:443", region="r9",
          class_="refused", phase="connect"), False),
    ("region network unreachable leaves another system's alert of the region alone",
     [],
     dict(alertname="ProbeHTTPFailing", job="blackbox", instance="https://x.example.com",
          region="r3", severity="critical"), False),
    ("exporter down leaves other regions alone",
     [],
     dict(PROBE, alertname="ProbeServiceDown", instance="a.example.com:443", region="r2",
          class_="refused", phase="connect"), False),
    ("exporter down does not hide itself",
     [],
     dict(EXPORTER_DOWN, region="r1"), False),
    ("region network unreachable hides that region's target alerts",
     [dict(alertname="ProbeRegionNetworkUnreachable", job="handshake", region="r3",
           class_="network_unreachable", phase="connect")],
     dict(PROBE, alertname="ProbeNetworkPathFailing", instance="b.example.com:443", region="r3",
          class_="network_unreachable", phase="connect"), True),
    ("region network unreachable does not hide itself",
     [],
     dict(alertname="ProbeRegionNetworkUnreachable", job="handshake", region="r3",
          class_="network_unreachable", phase="connect"), False),
    ("several regions hide the per-region alert of the same cause",
     [dict(PROBE, alertname="ProbeFailingFromSeveralRegions", instance="c.example.com:443",
           class_="refused", phase="connect")],
     dict(PROBE, alertname="ProbeServiceDown", instance="c.example.com:443", region="r4",
          class_="refused", phase="connect"), True),
    ("several regions leave another cause of the same target alone",
     [],
     dict(PROBE, alertname="ProbeNetworkPathFailing", instance="c.example.com:443", region="r4",
          class_="timeout", phase="connect"), False),
    ("one region hides the family alert of that region",
     [dict(PROBE, alertname="ProbeFailingFromOneRegion", instance="d.example.com:443", region="r5",
           class_="timeout", phase="connect")],
     dict(PROBE, alertname="ProbeNetworkPathFailing", instance="d.example.com:443", region="r5",
          class_="timeout", phase="connect"), True),
    ("one region leaves the other regions' alerts alone",
     [],
     dict(PROBE, alertname="ProbeNetworkPathFailing", instance="d.example.com:443", region="r6",
          class_="timeout", phase="connect"), False),
    ("critical certificate expiry hides the warning",
     [dict(PROBE, alertname="ProbeCertificateExpiringSoon", instance="e.example.com:443",
           region="r7", class_="tls_cert_expiring", phase="tls", severity="critical")],
     dict(PROBE, alertname="ProbeCertificateExpiringSoon", instance="e.example.com:443",
          region="r7", class_="tls_cert_expiring", phase="tls", severity="warning"), True),
    ("an expired certificate hides the expiry warning",
     [dict(PROBE, alertname="ProbeCertificateRejected", instance="f.example.com:443",
           region="r8", class_="tls_cert_expired", phase="tls", severity="critical")],
     dict(PROBE, alertname="ProbeCertificateExpiringSoon", instance="f.example.com:443",
          region="r8", class_="tls_cert_expiring", phase="tls", severity="warning"), True),
]


def labels(alert):
    """Alert labels with `class_` spelled `class` (a Python keyword)."""
    return {("class" if k == "class_" else k): v for k, v in alert.items()}


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, body=None):
    """GET (or POST a JSON body) and decode the JSON answer; None when nothing answers."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        text = resp.read()
    return json.loads(text) if text.strip() else None


def main():
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        print("FAIL alertmanager not found: install the prometheus-alertmanager package")
        print("0 passed, 1 failed")
        return 1
    port = free_port()
    base = "http://127.0.0.1:%d/api/v2" % port
    with tempfile.TemporaryDirectory() as storage:
        proc = subprocess.Popen(
            [binary, "--config.file=" + CONFIG, "--storage.path=" + storage,
             "--web.listen-address=127.0.0.1:%d" % port, "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            return run_cases(base, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def run_cases(base, proc):
    deadline = time.time() + 15
    while True:
        try:
            request(base + "/status")
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                print("FAIL alertmanager did not start: " + proc.stderr.read().decode()[-500:])
                print("0 passed, 1 failed")
                return 1
            time.sleep(0.2)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    alerts = [a for _, sources, target, _ in CASES for a in sources + [target]]
    request(base + "/alerts", [{"labels": labels(a), "startsAt": now} for a in alerts])
    # The inhibitor takes in new source alerts asynchronously: poll until every case holds (or
    # 5 s pass), so a "not inhibited" case is judged only once all sources are known.
    results = []
    for _ in range(50):
        results = [inhibited(base, labels(target)) for _, _, target, _ in CASES]
        if all(got == want for got, (_, _, _, want) in zip(results, CASES)):
            break
        time.sleep(0.1)
    passed = failed = 0
    for got, (name, _, _, want) in zip(results, CASES):
        if got == want:
            passed += 1
            print("ok   inhibit: " + name)
        else:
            failed += 1
            print("FAIL inhibit: %s (inhibited=%s, want %s)" % (name, got, want))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


def inhibited(base, target):
    """Whether Alertmanager reports the alert with exactly these labels as inhibited."""
    for alert in request(base + "/alerts?inhibited=true&silenced=true&active=true") or []:
        if alert["labels"] == target:
            return bool(alert["status"]["inhibitedBy"])
    return None


if __name__ == "__main__":
    sys.exit(main())
