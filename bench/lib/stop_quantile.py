"""The p99 of the job's checkpoint stops, from its Prometheus histogram.

`tagflow_checkpoint_stop_working_seconds` counts the CPU time of every
stop an operator made for a snapshot (a slice of it), in buckets a
millisecond apart up to 10 ms. Given a scrape of /metrics (and optionally
an earlier one, whose counts are subtracted: the stops in between), prints

    count p99_ms

where p99_ms is the upper bound of the bucket that holds the 99th
percentile ("inf" past the last bound, "-" without stops).

usage: stop_quantile.py METRICS [EARLIER_METRICS]
"""

import math
import sys

METRIC = "tagflow_checkpoint_stop_working_seconds_bucket"


def buckets(text):
    """{upper bound (s): cumulative count} of the histogram in a scrape."""
    found = {}
    for line in text.splitlines():
        if not line.startswith(METRIC + "{"):
            continue
        labels, value = line.rsplit(" ", 1)
        le = labels.split('le="', 1)[1].split('"', 1)[0]
        found[math.inf if le == "+Inf" else float(le)] = float(value)
    return found


def quantile(after, before=None, q=0.99):
    """(stops, upper bound in ms of the bucket of quantile q, or None)."""
    before = before or {}
    counts = sorted((le, n - before.get(le, 0.0)) for le, n in after.items())
    if not counts or counts[-1][1] <= 0:
        return 0, None
    total = counts[-1][1]
    for le, n in counts:
        if n >= q * total:
            return int(total), le * 1000
    return int(total), math.inf


def main(argv):
    with open(argv[1]) as f:
        after = buckets(f.read())
    before = None
    if len(argv) > 2:
        with open(argv[2]) as f:
            before = buckets(f.read())
    count, p99 = quantile(after, before)
    shown = "-" if p99 is None else ("inf" if math.isinf(p99) else f"{p99:g}")
    print(count, shown)


if __name__ == "__main__":
    main(sys.argv)
