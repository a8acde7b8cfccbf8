#!/usr/bin/env python3
"""The job's own end-to-end latency, from two scrapes of its /metrics.

    bench/lib/latency.py window BEFORE AFTER SECONDS [PROBE_JSON [SIMULATOR_LINE]]

BEFORE and AFTER are the Prometheus text of the job's /metrics at the start
and the end of a measurement window of SECONDS seconds. Prints one JSON
object: from the difference of the cumulative buckets of
`tagflow_event_latency_seconds`, the sample count and estimates of p50, p99
and the max (each the upper bound of the bucket where it falls, so at most
one bucket width, 25 %, above the true value; None when it falls in the +Inf
bucket); the events the job consumed per second in the window and its
consumer lag at both ends; and, when given, the external probe's JSON and the
simulator's final line (with the rate it achieved), and the machine's
load average at the end of the window.
"""

import json
import math
import re
import sys

HISTOGRAM = "tagflow_event_latency_seconds"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')
LE = re.compile(r'le="([^"]+)"')


def samples(text, name):
    """(labels, value) of every sample of metric `name` in exposition text."""
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and m.group(1) == name:
            yield m.group(2) or "", float(m.group(3))


def total(text, name):
    """Sum of every sample of `name` (over all its label sets)."""
    return sum(v for _, v in samples(text, name))


def buckets(text, name=HISTOGRAM):
    """Cumulative bucket counts {upper bound: count}, +Inf as math.inf."""
    out = {}
    for labels, value in samples(text, name + "_bucket"):
        le = LE.search(labels).group(1)
        out[math.inf if le == "+Inf" else float(le)] = value
    return out


def quantile_bound(cumulative, q):
    """Upper bound (s) of the bucket holding the q-quantile, or None."""
    count = cumulative[-1][1] if cumulative else 0
    if count == 0:
        return None
    rank = max(1, math.ceil(q * count))
    for le, c in cumulative:
        if c >= rank:
            return le
    return math.inf


def estimate(before, after):
    """p50, p99 and max estimates (ms) from two cumulative bucket maps."""
    bounds = sorted(after)
    cumulative = [(le, after[le] - before.get(le, 0)) for le in bounds]
    count = int(cumulative[-1][1]) if cumulative else 0
    highest = None
    previous = 0
    for le, c in cumulative:
        if c > previous:
            highest = le
        previous = c

    def ms(seconds):
        return None if seconds is None or seconds == math.inf else round(seconds * 1e3, 1)

    return {
        "samples": count,
        "p50_ms": ms(quantile_bound(cumulative, 0.50)),
        "p99_ms": ms(quantile_bound(cumulative, 0.99)),
        "max_ms": ms(highest),
        "over_largest_bucket": int(cumulative[-1][1] - cumulative[-2][1]) if len(cumulative) > 1 else 0,
        "largest_bucket_ms": ms(bounds[-2]) if len(bounds) > 1 else None,
    }


def window(before_text, after_text, seconds):
    """The job's side of one measurement window."""
    consumed = total(after_text, "tagflow_events_consumed_total") - \
        total(before_text, "tagflow_events_consumed_total")
    latency_sum = total(after_text, HISTOGRAM + "_sum") - total(before_text, HISTOGRAM + "_sum")
    job = estimate(buckets(before_text), buckets(after_text))
    job["mean_ms"] = round(latency_sum / job["samples"] * 1e3, 1) if job["samples"] else None
    return {
        "seconds": seconds,
        "consumed_events": int(consumed),
        "consumed_events_per_s": round(consumed / seconds) if seconds else None,
        "lag_start": int(total(before_text, "tagflow_consumer_lag")),
        "lag_end": int(total(after_text, "tagflow_consumer_lag")),
        "job_histogram": job,
    }


SIMULATOR = re.compile(r"sent (\d+) events: (\d+) acknowledged, (\d+) failed, in ([\d.]+) s \(([\d.]+) events/s\)")


def simulator(line):
    """The simulator's final line, parsed (None if it is not there)."""
    m = SIMULATOR.search(line or "")
    if not m:
        return {"raw": line} if line else None
    sent, acked, failed, secs, rate = m.groups()
    return {"sent": int(sent), "acknowledged": int(acked), "failed": int(failed),
            "seconds": float(secs), "events_per_s": round(float(rate))}


def main(argv):
    if len(argv) < 5 or argv[1] != "window":
        sys.exit(__doc__)
    with open(argv[2]) as f:
        before = f.read()
    with open(argv[3]) as f:
        after = f.read()
    out = window(before, after, float(argv[4]))
    if len(argv) > 5 and argv[5]:
        out["probe"] = json.loads(argv[5])
    if len(argv) > 6:
        out["simulator"] = simulator(argv[6])
    with open("/proc/loadavg") as f:
        out["loadavg_1m_at_end"] = float(f.read().split()[0])
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
