-- wrk hook: prints one machine-readable line with the round's totals and latency percentiles
-- (microseconds), read by bench/measure.sh. No per-response hook, so wrk stays at full speed.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d errors=%d status_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
