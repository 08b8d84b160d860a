#!/usr/bin/env python3
"""Helpers of scripts/e2e.sh and scripts/e2e-locations.sh: a webhook receiver and the checks against the running stack.

Python 3 standard library only. Every command talks to loopback addresses given on the command
line (inside the test's network namespace). Subcommands:

  webhook ADDR LOG            receive Alertmanager webhooks on ADDR (HOST:PORT); append one JSON
                              line {"path", "payload"} per POST to LOG
  ready URL [--timeout S]     wait until URL answers 200
  delivered LOG --receiver R --label K=V... [--timeout S]
                              wait until a webhook to path /R with receiver R carries a firing
                              alert with all these labels
  only LOG --expect K=V,K=V... (repeatable)
                              every firing alert delivered so far matches one --expect set
  not-delivered LOG --label K=V...
                              no webhook so far carries an alert with all these labels
  prom-alert URL --label K=V... [--timeout S]
                              wait until Prometheus (/api/v1/alerts) has such an alert firing
  am-inhibited URL --label K=V... --by K=V... [--timeout S]
                              wait until Alertmanager (/api/v2/alerts) holds such an alert as
                              suppressed, inhibited by an alert with the --by labels
  post URL --label K=V... [--minutes M]
                              post one alert with these labels to Alertmanager (/api/v2/alerts),
                              starting now and ending in M minutes (default 10)
  am-active URL --label K=V... [--timeout S]
                              Alertmanager holds such an alert, and it is active (not inhibited,
                              not silenced) now and still after S seconds (default 3)
  query URL EXPR              evaluate EXPR with /api/v1/query: exit 0 when the status is
                              success and the result is not empty, 2 when it is empty, 1 else
  am-wait URL --label K=V... [--state S] [--receiver R] [--timeout S]
                              wait until Alertmanager holds such an alert in state S (active by
                              default), routed to receiver R when given
  am-quiet URL [--label K=V...] [--receiver R] [--state S] [--ignore K=V,K=V...] --seconds N
                              for N seconds, Alertmanager holds no such alert (every alert when
                              no --label, any receiver when no --receiver, active by default),
                              apart from alerts matching an --ignore set
  am-count URL [--label K=V...] [--receiver R] [--state S] --expect N [--seconds N]
                              Alertmanager holds exactly N such alerts, now and for the seconds
                              given (default 3); prints them otherwise
  query-at URL EXPR --time T --min V
                              evaluate EXPR at Unix time T: every value of the (non-empty)
                              result is at least V

Exit status 0 means the check passed; the reason of a failure is printed on stdout.
"""
import argparse
import http.server
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def labels_arg(pairs):
    """K=V strings as a dict; exits 2 on a malformed pair."""
    out = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep:
            sys.exit(f"malformed label {p!r}, want K=V")
        out[k] = v
    return out


def matches(labels, want):
    """True when every wanted label has the wanted value."""
    return all(labels.get(k) == v for k, v in want.items())


def get_json(url):
    """The decoded JSON answer of a GET, or raises OSError/ValueError."""
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def poll(timeout, attempt):
    """Calls attempt() once a second until it returns a true value or timeout seconds passed.

    Returns that value, or None on timeout. Network errors count as a failed attempt.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = attempt()
        except (OSError, ValueError):
            got = None
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(1)


def read_log(path):
    """Every (path, payload) written by the webhook receiver so far."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rec = json.loads(line)
                    out.append((rec["path"], rec["payload"]))
    except FileNotFoundError:
        pass
    return out


def summary(path):
    """One line per delivered alert: receiver, status and labels, for failure messages."""
    lines = []
    for p, payload in read_log(path):
        for a in payload.get("alerts", []):
            lines.append(f"  {p} receiver={payload.get('receiver')} {a.get('status')} {a.get('labels')}")
    return "\n".join(lines) or "  (nothing delivered)"


class Hook(http.server.BaseHTTPRequestHandler):
    """Appends each POSTed JSON body, with its path, to the log file of the server."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"undecodable": body.decode("utf-8", "replace")}
        with open(self.server.log, "a") as f:
            f.write(json.dumps({"path": self.path, "payload": payload}) + "\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


def cmd_webhook(a):
    host, _, port = a.addr.rpartition(":")
    srv = http.server.ThreadingHTTPServer((host, int(port)), Hook)
    srv.log = a.log
    srv.serve_forever()


def cmd_ready(a):
    def attempt():
        with urllib.request.urlopen(a.url, timeout=2) as r:
            return r.status == 200
    if poll(a.timeout, attempt):
        return 0
    print(f"{a.url} not ready after {a.timeout}s")
    return 1


def cmd_delivered(a):
    want = labels_arg(a.label)

    def attempt():
        for p, payload in read_log(a.log):
            if p != "/" + a.receiver or payload.get("receiver") != a.receiver:
                continue
            for al in payload.get("alerts", []):
                if al.get("status") == "firing" and matches(al.get("labels", {}), want):
                    return al
        return None
    found = poll(a.timeout, attempt)
    if found:
        return 0
    print(f"no firing alert {want} delivered to {a.receiver} within {a.timeout}s; delivered:")
    print(summary(a.log))
    return 1


def cmd_only(a):
    expected = [labels_arg(e.split(",")) for e in a.expect]
    bad = []
    for p, payload in read_log(a.log):
        for al in payload.get("alerts", []):
            labels = al.get("labels", {})
            if al.get("status") == "firing" and not any(matches(labels, e) for e in expected):
                bad.append(f"  {p} receiver={payload.get('receiver')} {labels}")
    if not bad:
        return 0
    print("unexpected alerts delivered:")
    print("\n".join(bad))
    return 1


def cmd_not_delivered(a):
    want = labels_arg(a.label)
    for p, payload in read_log(a.log):
        for al in payload.get("alerts", []):
            if matches(al.get("labels", {}), want):
                print(f"alert {want} was delivered to {p}: {al.get('labels')}")
                return 1
    return 0


def cmd_prom_alert(a):
    want = labels_arg(a.label)

    def attempt():
        alerts = get_json(a.url.rstrip("/") + "/api/v1/alerts")["data"]["alerts"]
        return any(x.get("state") == "firing" and matches(x.get("labels", {}), want) for x in alerts)
    if poll(a.timeout, attempt):
        return 0
    print(f"Prometheus has no firing alert {want} after {a.timeout}s")
    return 1


def cmd_am_inhibited(a):
    want = labels_arg(a.label)
    by = labels_arg(a.by)
    last = ["not seen"]

    def attempt():
        alerts = get_json(a.url.rstrip("/") + "/api/v2/alerts")
        by_fp = {x.get("fingerprint"): x for x in alerts}
        for x in alerts:
            if not matches(x.get("labels", {}), want):
                continue
            st = x.get("status", {})
            sources = [by_fp.get(fp, {}).get("labels", {}) for fp in st.get("inhibitedBy") or []]
            last[0] = f"state {st.get('state')}, inhibited by {sources}"
            if st.get("state") == "suppressed" and any(matches(s, by) for s in sources):
                return True
        return False
    if poll(a.timeout, attempt):
        return 0
    print(f"Alertmanager alert {want} not inhibited by {by} after {a.timeout}s ({last[0]})")
    return 1


def cmd_post(a):
    now = time.time()
    stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
    body = json.dumps([{"labels": labels_arg(a.label), "startsAt": stamp(now),
                        "endsAt": stamp(now + 60 * a.minutes)}]).encode()
    req = urllib.request.Request(a.url.rstrip("/") + "/api/v2/alerts", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()
    except OSError as e:
        print(f"failed to post the alert: {e}")
        return 1
    return 0


def cmd_am_active(a):
    want = labels_arg(a.label)
    deadline = time.monotonic() + a.timeout
    while True:
        try:
            alerts = get_json(a.url.rstrip("/") + "/api/v2/alerts")
        except (OSError, ValueError) as e:
            print(f"failed to read the alerts: {e}")
            return 1
        found = [x for x in alerts if matches(x.get("labels", {}), want)]
        if not found:
            print(f"Alertmanager has no alert {want}")
            return 1
        for x in found:
            st = x.get("status", {})
            if st.get("state") != "active":
                print(f"alert {x.get('labels')} is {st.get('state')}, inhibited by "
                      f"{st.get('inhibitedBy')}, silenced by {st.get('silencedBy')}")
                return 1
        if time.monotonic() >= deadline:
            return 0
        time.sleep(0.5)


def cmd_query(a):
    url = a.url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": a.expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            ans = json.load(r)
    except urllib.error.HTTPError as e:
        print(f"HTTP {e.code}: {e.read().decode('utf-8', 'replace')}")
        return 1
    except (OSError, ValueError) as e:
        print(f"failed to query: {e}")
        return 1
    if ans.get("status") != "success":
        print(f"status {ans.get('status')}: {ans.get('error')}")
        return 1
    result = ans.get("data", {}).get("result")
    if not result:
        print("empty result")
        return 2
    return 0


def am_matching(url, want, receiver, state, ignore=()):
    """Alertmanager's alerts with these labels, receiver (any when None) and state, except those
    matching one of the ignore label sets."""
    out = []
    for x in get_json(url.rstrip("/") + "/api/v2/alerts"):
        names = [r.get("name") for r in x.get("receivers", [])]
        if not matches(x.get("labels", {}), want):
            continue
        if any(matches(x.get("labels", {}), i) for i in ignore):
            continue
        if receiver and receiver not in names:
            continue
        if state and x.get("status", {}).get("state") != state:
            continue
        out.append(x)
    return out


def describe(alerts):
    return "\n".join("  %s %s -> %s" % (x.get("status", {}).get("state"), x.get("labels"),
                                        [r.get("name") for r in x.get("receivers", [])])
                     for x in alerts) or "  (none)"


def cmd_am_wait(a):
    want = labels_arg(a.label)
    if poll(a.timeout, lambda: am_matching(a.url, want, a.receiver, a.state)):
        return 0
    print(f"Alertmanager has no {a.state} alert {want} for receiver {a.receiver} after "
          f"{a.timeout}s; it holds:")
    print(describe(am_matching(a.url, {}, None, None)))
    return 1


def cmd_am_quiet(a):
    want = labels_arg(a.label)
    ignore = [labels_arg(i.split(",")) for i in a.ignore]
    deadline = time.monotonic() + a.seconds
    while True:
        try:
            found = am_matching(a.url, want, a.receiver, a.state, ignore)
        except (OSError, ValueError) as e:
            print(f"failed to read the alerts: {e}")
            return 1
        if found:
            print(f"Alertmanager holds alerts it should not ({want}, receiver {a.receiver}):")
            print(describe(found))
            return 1
        if time.monotonic() >= deadline:
            return 0
        time.sleep(1)


def cmd_am_count(a):
    want = labels_arg(a.label)
    deadline = time.monotonic() + a.seconds
    while True:
        try:
            found = am_matching(a.url, want, a.receiver, a.state)
        except (OSError, ValueError) as e:
            print(f"failed to read the alerts: {e}")
            return 1
        if len(found) != a.expect:
            print(f"{len(found)} {a.state} alerts {want} for receiver {a.receiver}, wanted "
                  f"{a.expect}:")
            print(describe(found))
            return 1
        if time.monotonic() >= deadline:
            return 0
        time.sleep(0.5)


def cmd_query_at(a):
    url = a.url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode(
        {"query": a.expr, "time": a.time})
    try:
        ans = get_json(url)
    except (OSError, ValueError) as e:
        print(f"failed to query: {e}")
        return 1
    result = ans.get("data", {}).get("result") or []
    values = [float(r["value"][1]) for r in result]
    if values and min(values) >= a.min:
        return 0
    print(f"{a.expr} at {a.time}: {values}, wanted every value >= {a.min}")
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("webhook")
    s.add_argument("addr")
    s.add_argument("log")
    s = sub.add_parser("ready")
    s.add_argument("url")
    s.add_argument("--timeout", type=float, default=30)
    s = sub.add_parser("delivered")
    s.add_argument("log")
    s.add_argument("--receiver", required=True)
    s.add_argument("--label", action="append", default=[])
    s.add_argument("--timeout", type=float, default=0)
    s = sub.add_parser("only")
    s.add_argument("log")
    s.add_argument("--expect", action="append", default=[])
    s = sub.add_parser("not-delivered")
    s.add_argument("log")
    s.add_argument("--label", action="append", default=[])
    s = sub.add_parser("prom-alert")
    s.add_argument("url")
    s.add_argument("--label", action="append", default=[])
    s.add_argument("--timeout", type=float, default=0)
    s = sub.add_parser("am-inhibited")
    s.add_argument("url")
    s.add_argument("--label", action="append", default=[])
    s.add_argument("--by", action="append", default=[])
    s.add_argument("--timeout", type=float, default=0)
    s = sub.add_parser("post")
    s.add_argument("url")
    s.add_argument("--label", action="append", default=[])
    s.add_argument("--minutes", type=float, default=10)
    s = sub.add_parser("am-active")
    s.add_argument("url")
    s.add_argument("--label", action="append", default=[])
    s.add_argument("--timeout", type=float, default=3)
    s = sub.add_parser("query")
    s.add_argument("url")
    s.add_argument("expr")
    for name in ("am-wait", "am-quiet", "am-count"):
        s = sub.add_parser(name)
        s.add_argument("url")
        s.add_argument("--label", action="append", default=[])
        s.add_argument("--receiver")
        s.add_argument("--state", default="active")
        s.add_argument("--timeout", type=float, default=0)
        s.add_argument("--seconds", type=float, default=3)
        s.add_argument("--expect", type=int, default=0)
        s.add_argument("--ignore", action="append", default=[])
    s = sub.add_parser("query-at")
    s.add_argument("url")
    s.add_argument("expr")
    s.add_argument("--time", required=True)
    s.add_argument("--min", type=float, required=True)
    a = ap.parse_args()
    return {
        "webhook": cmd_webhook, "ready": cmd_ready, "delivered": cmd_delivered, "only": cmd_only,
        "not-delivered": cmd_not_delivered, "prom-alert": cmd_prom_alert,
        "am-inhibited": cmd_am_inhibited, "post": cmd_post, "am-active": cmd_am_active,
        "query": cmd_query, "am-wait": cmd_am_wait, "am-quiet": cmd_am_quiet,
        "am-count": cmd_am_count, "query-at": cmd_query_at,
    }[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
