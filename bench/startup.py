#!/usr/bin/env python3
"""Time from exec to the first answered /probe, for several exporters, alternating.

Each run starts one exporter, then polls its port every half millisecond: connect, send the
/probe request, and stop at the first "200" answer. The clock starts right before the fork, so
the figure covers exec, config load, bind and the first probe. The exporter is then stopped
(SIGTERM) and the next one starts. Runs alternate between the exporters so a slow moment of the
machine hits both.

  startup.py --runs N --port P --path /probe?... NAME=COMMAND [NAME=COMMAND ...]

Prints one line per run: STARTUP name=NAME ms=MILLISECONDS (ms=fail when no 200 within 5 s).
"""

import argparse
import shlex
import socket
import subprocess
import time


def first_answer(port, request, limit):
    """Seconds until a 200 answer on port, or None after `limit` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=limit) as s:
                s.sendall(request)
                head = s.recv(64)
                if head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.0005)
    return False


def one_run(cmd, port, request):
    """Milliseconds from fork to the first 200, or None."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = first_answer(port, request, 5.0)
    elapsed = time.monotonic() - t0
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return elapsed * 1000 if ok else None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("exporters", nargs="+", help="NAME=COMMAND (shell words)")
    args = p.parse_args()
    request = f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    named = [e.split("=", 1) for e in args.exporters]
    for i in range(args.runs):
        order = named if i % 2 == 0 else named[::-1]
        for name, cmd in order:
            ms = one_run(shlex.split(cmd), args.port, request)
            print(f"STARTUP name={name} ms={'fail' if ms is None else f'{ms:.1f}'}", flush=True)
            time.sleep(0.2)


if __name__ == "__main__":
    main()
