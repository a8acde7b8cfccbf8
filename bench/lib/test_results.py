#!/usr/bin/env python3
"""Tests of bench/lib/results.py's catch-up summary against the measurements
of a real (small, busy-machine) bench/run: bench/lib/fixtures/results-catchup.env,
2 rounds of the four systems over 30,015 events.

    python3 bench/lib/test_results.py
"""

import io
import os
import unittest
from contextlib import redirect_stdout

import results

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "results-catchup.env")


class CatchupTest(unittest.TestCase):
    def setUp(self):
        self.v = results.load(FIXTURE)
        self.c = results.catchup(self.v, int(self.v["events"]))

    def test_every_system_has_its_runs_in_round_order(self):
        self.assertEqual(sorted(self.c["systems"]), ["flink-heap", "flink-rocksdb", "kstreams", "ours"])
        for s in self.c["systems"].values():
            self.assertEqual([r["round"] for r in s["runs"]], [0, 1])

    def test_a_run_is_timed_from_its_start_to_its_last_write_and_to_its_exit(self):
        run = self.c["systems"]["flink-heap"]["runs"][1]
        self.assertAlmostEqual(run["to_last_write_s"], (1796109541946 - 1796109531056) / 1000)
        self.assertEqual(run["events_per_s"], round(30015 / ((1796109541946 - 1796109531056) / 1000)))
        self.assertGreater(run["to_exit_s"], run["to_last_write_s"])
        self.assertAlmostEqual(run["cpu_us_per_event"], round(11.65e6 / 30015, 2))

    def test_medians_min_and_max_come_from_the_runs(self):
        s = self.c["systems"]["flink-heap"]
        rates = sorted(r["events_per_s"] for r in s["runs"])
        self.assertEqual(s["events_per_s"], {"median": sum(rates) / 2, "min": rates[0], "max": rates[1]})

    def test_ratios_are_of_medians(self):
        ours, heap = self.c["systems"]["ours"], self.c["systems"]["flink-heap"]
        self.assertEqual(heap["ours_over_this_events_per_s"],
                         round(ours["events_per_s"]["median"] / heap["events_per_s"]["median"], 2))
        self.assertNotIn("ours_over_this_events_per_s", ours)

    def test_the_table_says_whether_each_target_is_met(self):
        out = io.StringIO()
        with redirect_stdout(out):
            results.print_targets(self.c["systems"])
        text = out.getvalue()
        self.assertIn("ours ÷ the best Flink variant (flink-heap)", text)
        self.assertIn("ours ÷ Kafka Streams (kstreams)", text)
        self.assertEqual(text.count("target 5,"), 3)


if __name__ == "__main__":
    unittest.main()
