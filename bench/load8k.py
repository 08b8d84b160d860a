#!/usr/bin/env python3
"""Holds N /probe requests in flight at once against one exporter and checks every answer.

Each request is plain HTTP/1.1 on its own socket (Connection: close), driven by one epoll loop.
Connects are paced (--pace at a time) so the exporter's accept queue never overflows: a dropped
handshake would add a SYN retransmit second that is the load program's fault, not the exporter's.

Requests start at --rate per second (8,000 at the default 4,000/s take 2 s, so all are in flight
together for the last 3 s of a 5 s deadline): the row measures how precisely probes end while
8,000 run, not how fast an exporter can answer thousands of deadlines in the same millisecond.

A request's latency runs from the moment send(2) returned to the kernel's receive timestamp of
the answer's first segment (SO_TIMESTAMPNS, socket(7)), so a busy load program does not stretch
the figure: only the exporter's own lateness counts.

Prints one line: LOAD key=value ... with
  sent            requests written
  peak            requests outstanding at once (N when the last was sent before the first answer)
  send_span_ms    time from the first request written to the last
  http_ok         answers with status 200
  http_error      other statuses, resets, or no answer
  on_time         answers within --deadline +/- --slack seconds
  success         answers with probe_success 1 (a silent target should give none)
  class_timeout   answers naming class="timeout" (handshake_exporter's probe_failure_info)
  prober_error    answers naming class="prober_error"
  good            answers on time, status 200, probe_success 0, no prober_error, and naming
                  class="--expect-class" when given
  min_ms p50_ms max_ms   latency spread; worst_ms the largest distance from --deadline
"""

import argparse
import errno
import resource
import selectors
import socket
import statistics
import struct
import time

TIMESPEC = struct.Struct("@ll")
# SO_TIMESTAMPNS (= SCM_TIMESTAMPNS) from linux asm-generic/socket.h; Python names it only on
# some builds. 35 is the 64-bit value whose control message holds a struct timespec.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


class Req:
    """One request's socket, send time, answer bytes and first-byte arrival time."""

    __slots__ = ("sock", "t0", "t1", "data")

    def __init__(self, sock):
        self.sock = sock
        self.t0 = None
        self.t1 = None
        self.data = bytearray()


def new_request(addr):
    """A non-blocking socket with receive timestamps, connecting to addr."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    rc = s.connect_ex(addr)
    if rc not in (0, errno.EINPROGRESS):
        s.close()
        raise OSError(rc, "connect")
    return Req(s)


def read_some(req):
    """Reads what is there; returns False at EOF or error."""
    try:
        data, anc, _, _ = req.sock.recvmsg(65536, socket.CMSG_SPACE(TIMESPEC.size))
    except BlockingIOError:
        return True
    except OSError:
        return False
    if req.t1 is None:
        for level, kind, raw in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = TIMESPEC.unpack(raw[: TIMESPEC.size])
                req.t1 = sec + nsec / 1e9
        if req.t1 is None and data:
            req.t1 = time.time()
    req.data += data
    return bool(data)


def run(args, request):
    """Drives every request to its end; returns the finished Req objects and the peak."""
    sel = selectors.EpollSelector()
    addr = (args.host, args.port)
    todo, connecting, outstanding, peak, done = args.count, 0, 0, 0, []
    start = time.monotonic()
    while todo or connecting or outstanding:
        allowed = args.count if not args.rate else (time.monotonic() - start) * args.rate
        while todo and connecting < args.pace and args.count - todo < allowed:
            try:
                req = new_request(addr)
            except OSError:
                todo -= 1
                done.append(Req(None))
                continue
            sel.register(req.sock, selectors.EVENT_WRITE, req)
            todo, connecting = todo - 1, connecting + 1
        for key, _ in sel.select(timeout=0.001 if todo else 1.0):
            req = key.data
            if req.t0 is None:
                connecting -= 1
                err = req.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err or req.sock.send(request) != len(request):
                    sel.unregister(req.sock)
                    req.sock.close()
                    done.append(req)
                    continue
                req.t0 = time.time()
                outstanding += 1
                peak = max(peak, outstanding)
                sel.modify(req.sock, selectors.EVENT_READ, req)
            elif not read_some(req):
                outstanding -= 1
                sel.unregister(req.sock)
                req.sock.close()
                done.append(req)
    return done, peak


def is_good(args, req):
    """True for an answer on time, status 200, probe_success 0, and the expected class."""
    if req.t0 is None or req.t1 is None or abs(req.t1 - req.t0 - args.deadline) > args.slack:
        return False
    head, _, body = bytes(req.data).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") or b"\nprobe_success 0" not in body:
        return False
    if b'class="prober_error"' in body:
        return False
    return not args.expect_class or f'class="{args.expect_class}"'.encode() in body


def summarize(args, done, peak):
    """The LOAD line's fields."""
    sent = [r for r in done if r.t0 is not None]
    lat = sorted(r.t1 - r.t0 for r in sent if r.t1 is not None) or [0.0]
    ok = [r for r in sent if r.data.startswith(b"HTTP/1.1 200")]
    bodies = [bytes(r.data).partition(b"\r\n\r\n")[2] for r in ok]
    span = max(r.t0 for r in sent) - min(r.t0 for r in sent) if sent else 0.0
    return {
        "sent": len(sent),
        "peak": peak,
        "send_span_ms": f"{span * 1000:.0f}",
        "http_ok": len(ok),
        "http_error": len(done) - len(ok),
        "on_time": sum(1 for x in lat if abs(x - args.deadline) <= args.slack) if ok else 0,
        "success": sum(1 for b in bodies if b"\nprobe_success 1" in b),
        "class_timeout": sum(1 for b in bodies if b'class="timeout"' in b),
        "prober_error": sum(1 for b in bodies if b'class="prober_error"' in b),
        "good": sum(1 for r in done if is_good(args, r)),
        "min_ms": f"{lat[0] * 1000:.1f}",
        "p50_ms": f"{statistics.median(lat) * 1000:.1f}",
        "max_ms": f"{lat[-1] * 1000:.1f}",
        "worst_ms": f"{max(abs(x - args.deadline) for x in lat) * 1000:.1f}",
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--module", default="tcp_connect")
    p.add_argument("--target", required=True, help="HOST:PORT the exporter probes")
    p.add_argument("--count", type=int, default=8000)
    p.add_argument("--pace", type=int, default=256, help="connects in progress at most")
    p.add_argument("--rate", type=float, default=4000, help="new requests per second; 0: no limit")
    p.add_argument("--deadline", type=float, default=5.0, help="expected answer time, s")
    p.add_argument("--slack", type=float, default=0.05, help="allowed deviation, s")
    p.add_argument("--expect-class", default="", help="class label every answer must name")
    args = p.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    request = (
        f"GET /probe?module={args.module}&target={args.target} HTTP/1.1\r\n"
        f"Host: {args.host}:{args.port}\r\nConnection: close\r\n\r\n"
    ).encode()
    done, peak = run(args, request)
    fields = summarize(args, done, peak)
    print("LOAD " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)


if __name__ == "__main__":
    main()
