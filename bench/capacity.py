#!/usr/bin/env python3
"""Targets one exporter carries at a 15 s scrape interval: CPU and memory of the exporter while a
scraper shaped like Prometheus asks for every target once per interval.

Run by bench/capacity.sh inside a network namespace of its own (loopback only). Each of
--targets scrape "targets" keeps one HTTP connection, as Prometheus does, and sends
GET /probe?module=M&target=T every --interval seconds, the targets' first scrapes spread evenly
over the first interval; with --close every scrape opens a new connection instead (and, over
HTTPS, pays a new TLS handshake), which is what a scraper had to do while the exporter closed
connections idle for longer than its header-read timeout.

The exporter (--exporter, started here with --config.file and, with --https, --web.config.file)
is measured over --seconds after one interval of warm-up: CPU from utime + stime of
/proc/PID/stat (proc(5)), as a share of one core; resident memory from VmRSS (sampled every
0.2 s, the peak kept) and VmHWM of /proc/PID/status.

Prints one line, CAPACITY key=value ...:
  targets interval module case(healthy|silent) scrape(http|https) connections(kept|new)
  scrapes        answers received in the measured window
  ok             answers with status 200 and the probe outcome the case wants (probe_success 1
                 healthy, 0 silent)
  late           answers later than the scrape timeout (10 s)
  cpu_pct        exporter CPU over the window, percent of one core
  cpu_us_per_scrape  exporter CPU per answered scrape, microseconds
  rss_idle_mb    VmRSS before the first scrape
  rss_peak_mb    the largest VmRSS sampled in the window
  in_flight_peak requests outstanding at once (the scraper's count)
  kb_per_probe   (rss_peak - rss_idle) / in_flight_peak, in KB (1000 bytes): the memory each probe
                 in flight costs
"""

import argparse
import asyncio
import os
import ssl
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of pid, in seconds (proc(5), fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def status_kb(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Scraper:
    """The scrape targets and what their answers said."""

    def __init__(self, a):
        self.a = a
        self.in_flight = 0
        self.in_flight_peak = 0
        self.measuring = False
        self.scrapes = self.ok = self.late = self.errors = 0
        self.want = b"probe_success 1" if a.case == "healthy" else b"probe_success 0"
        self.tls = None
        if a.https:
            self.tls = ssl.create_default_context(cafile=a.ca)
            self.tls.check_hostname = False
        path = f"/probe?module={a.module}&target={a.target}"
        self.request = (f"GET {path} HTTP/1.1\r\nHost: exporter\r\n"
                        "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"
                        + ("Connection: close\r\n" if a.close else "") + "\r\n").encode()

    async def connect(self):
        return await asyncio.open_connection("127.0.0.1", self.a.port, ssl=self.tls,
                                             server_hostname="localhost" if self.tls else None)

    async def one(self, reader, writer):
        """One scrape on an open connection: True when the connection can be used again."""
        start = time.monotonic()
        self.in_flight += 1
        self.in_flight_peak = max(self.in_flight_peak, self.in_flight) if self.measuring else 0
        try:
            writer.write(self.request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
        finally:
            self.in_flight -= 1
        if self.measuring:
            self.scrapes += 1
            took = time.monotonic() - start
            if took > 10:
                self.late += 1
            if head.startswith(b"HTTP/1.1 200") and self.want in body:
                self.ok += 1
        return not self.a.close

    async def target(self, index):
        await asyncio.sleep(self.a.interval * index / self.a.targets)
        conn = None
        next_at = time.monotonic()
        while True:
            try:
                if conn is None:
                    conn = await self.connect()
                if not await self.one(*conn):
                    conn[1].close()
                    conn = None
            except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
                if self.measuring:
                    self.errors += 1
                conn = None
            next_at += self.a.interval
            await asyncio.sleep(max(0, next_at - time.monotonic()))


async def main(a):
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    scraper = Scraper(a)
    rss_idle = status_kb(a.pid, "VmRSS")
    tasks = [asyncio.ensure_future(scraper.target(i)) for i in range(a.targets)]
    await asyncio.sleep(a.interval)
    scraper.measuring = True
    cpu0, t0, rss_peak = cpu_seconds(a.pid), time.monotonic(), 0
    while time.monotonic() - t0 < a.seconds:
        rss_peak = max(rss_peak, status_kb(a.pid, "VmRSS"))
        await asyncio.sleep(0.2)
    cpu = cpu_seconds(a.pid) - cpu0
    elapsed = time.monotonic() - t0
    scraper.measuring = False
    for t in tasks:
        t.cancel()
    growth = max(0, rss_peak - rss_idle) * 1.024  # kB (KiB) to KB
    row = {
        "targets": a.targets, "interval": a.interval, "module": a.module, "case": a.case,
        "scrape": "https" if a.https else "http", "connections": "new" if a.close else "kept",
        "scrapes": scraper.scrapes, "ok": scraper.ok, "late": scraper.late,
        "errors": scraper.errors,
        "cpu_pct": round(100 * cpu / elapsed, 1),
        "cpu_us_per_scrape": round(1e6 * cpu / max(1, scraper.scrapes)),
        "rss_idle_mb": round(rss_idle / 1024, 1), "rss_peak_mb": round(rss_peak / 1024, 1),
        "in_flight_peak": scraper.in_flight_peak,
        "kb_per_probe": round(growth / max(1, scraper.in_flight_peak), 1),
    }
    print("CAPACITY " + " ".join(f"{k}={v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pid", type=int, required=True, help="the exporter's process id")
    ap.add_argument("--port", type=int, default=19115)
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=15)
    ap.add_argument("--seconds", type=float, default=45)
    ap.add_argument("--module", default="tcp_connect")
    ap.add_argument("--target", required=True)
    ap.add_argument("--case", choices=["healthy", "silent"], required=True)
    ap.add_argument("--https", action="store_true")
    ap.add_argument("--ca", help="the CA the exporter's HTTPS certificate chains to")
    ap.add_argument("--close", action="store_true", help="a new connection for every scrape")
    args = ap.parse_args()
    sys.exit(asyncio.run(main(args)))
