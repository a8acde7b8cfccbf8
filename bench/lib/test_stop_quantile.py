"""Tests of stop_quantile.py, on scrapes in the job's text format."""

import math
import unittest

from stop_quantile import buckets, quantile


def scrape(counts):
    lines = ["# TYPE tagflow_checkpoint_stop_working_seconds histogram"]
    for le, n in counts:
        lines.append(f'tagflow_checkpoint_stop_working_seconds_bucket{{le="{le}"}} {n}')
    lines.append("tagflow_checkpoint_pause_seconds_bucket{le=\"0.01\"} 7")
    return "\n".join(lines)


class StopQuantileTest(unittest.TestCase):
    def test_the_bucket_holding_the_99th_percentile(self):
        text = scrape([("0.005", 900), ("0.009", 989), ("0.01", 995), ("0.0125", 1000),
                       ("+Inf", 1000)])
        self.assertEqual(quantile(buckets(text)), (1000, 10.0))

    def test_an_earlier_scrape_is_subtracted(self):
        before = buckets(scrape([("0.005", 0), ("0.01", 0), ("0.02", 50), ("+Inf", 50)]))
        after = buckets(scrape([("0.005", 100), ("0.01", 100), ("0.02", 150), ("+Inf", 150)]))
        self.assertEqual(quantile(after, before), (100, 5.0))

    def test_past_the_last_bound_and_without_stops(self):
        self.assertEqual(quantile(buckets(scrape([("1", 0), ("+Inf", 3)]))), (3, math.inf))
        self.assertEqual(quantile(buckets(scrape([("1", 0), ("+Inf", 0)]))), (0, None))
        self.assertEqual(quantile({}), (0, None))


if __name__ == "__main__":
    unittest.main()
