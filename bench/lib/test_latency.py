#!/usr/bin/env python3
"""Tests of bench/lib/latency.py against two real scrapes of the job's
/metrics (bench/lib/fixtures, taken 4 s apart while latency-probe ran) and
small hand-made histograms.

    python3 bench/lib/test_latency.py
"""

import math
import os
import unittest

import latency

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def read(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def exposition(counts, total_sum=0.0):
    """Histogram text with cumulative `counts` over 1, 2, 4 ms and +Inf."""
    lines = [f"{latency.HISTOGRAM}_sum {total_sum}", f"{latency.HISTOGRAM}_count {counts[-1]}"]
    for le, c in zip(("0.001", "0.002", "0.004", "+Inf"), counts):
        lines.append(f'{latency.HISTOGRAM}_bucket{{le="{le}"}} {c}')
    return "\n".join(lines) + "\n# EOF\n"


class EstimateTest(unittest.TestCase):
    def test_quantiles_are_bucket_upper_bounds(self):
        before = latency.buckets(exposition([0, 0, 0, 0]))
        after = latency.buckets(exposition([50, 99, 100, 100]))
        est = latency.estimate(before, after)
        self.assertEqual(est["samples"], 100)
        self.assertEqual(est["p50_ms"], 1.0)
        self.assertEqual(est["p99_ms"], 2.0)
        self.assertEqual(est["max_ms"], 4.0)
        self.assertEqual(est["over_largest_bucket"], 0)

    def test_only_the_window_counts(self):
        before = latency.buckets(exposition([1000, 1000, 1000, 1000]))
        after = latency.buckets(exposition([1000, 1010, 1020, 1020]))
        est = latency.estimate(before, after)
        self.assertEqual((est["samples"], est["p50_ms"], est["max_ms"]), (20, 2.0, 4.0))

    def test_overflow_has_no_bound(self):
        before = latency.buckets(exposition([0, 0, 0, 0]))
        after = latency.buckets(exposition([0, 0, 1, 100]))
        est = latency.estimate(before, after)
        self.assertIsNone(est["p50_ms"])
        self.assertIsNone(est["max_ms"])
        self.assertEqual(est["over_largest_bucket"], 99)
        self.assertEqual(est["largest_bucket_ms"], 4.0)

    def test_empty_window(self):
        text = exposition([3, 3, 3, 3])
        est = latency.estimate(latency.buckets(text), latency.buckets(text))
        self.assertEqual(est["samples"], 0)
        self.assertIsNone(est["p50_ms"])
        self.assertIsNone(est["max_ms"])


class RealScrapeTest(unittest.TestCase):
    def test_job_metrics(self):
        before, after = read("metrics-before.txt"), read("metrics-after.txt")
        b = latency.buckets(before)
        self.assertEqual(len(b), 44)
        self.assertIn(math.inf, b)
        out = latency.window(before, after, 4.0)
        job = out["job_histogram"]
        self.assertEqual(job["samples"], 13)
        self.assertEqual(out["consumed_events"], 200)
        self.assertEqual((out["lag_start"], out["lag_end"]), (0, 2))
        # Bucket bounds grow by 1.25 from 1 ms; the estimates are bounds.
        self.assertTrue(job["p50_ms"] <= job["p99_ms"] <= job["max_ms"] <= 100)
        self.assertAlmostEqual(job["mean_ms"], (0.5422995605468751 - 0.42056005859374998) / 13 * 1e3,
                               delta=0.1)


class SimulatorLineTest(unittest.TestCase):
    def test_parses_the_final_line(self):
        line = "sent 500000 events: 500000 acknowledged, 0 failed, in 10.02 s (49900 events/s)"
        self.assertEqual(latency.simulator(line)["events_per_s"], 49900)
        self.assertEqual(latency.simulator("odd")["raw"], "odd")
        self.assertIsNone(latency.simulator(""))


if __name__ == "__main__":
    unittest.main()
