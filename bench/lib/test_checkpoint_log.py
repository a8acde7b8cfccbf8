#!/usr/bin/env python3
"""Tests of bench/lib/checkpoint_log.py on log lines in the job's format
(tracing's fmt output, NO_COLOR=1), before and after the phases were logged.

    python3 bench/lib/test_checkpoint_log.py
"""

import unittest

import checkpoint_log

OLD = ("2026-12-01T17:42:11.123456Z  INFO dataflow::checkpointing::sealer: checkpoint completed "
       "id={id} epoch=50 bytes={bytes} partitions=9 duration_ms={ms} longest_pause_us={pause}")
NEW = OLD + (" longest_working_pause_us={working} snapshot_ms={snap} queued_ms=0 commit_ms={commit}"
             " files_ms=40 outputs_ms=7")


class SummaryTest(unittest.TestCase):
    def test_old_lines_leave_the_new_fields_unknown(self):
        lines = [OLD.format(id=i, bytes=100 * i, ms=ms, pause=p)
                 for i, (ms, p) in enumerate([(900, 1500), (300, 614600), (500, 2000)], 1)]
        lines.insert(1, "2026-12-01T17:42:12Z  WARN dataflow::epochs: long snapshot slice")
        got = checkpoint_log.summary(checkpoint_log.completed(lines))
        self.assertEqual(got, "3 500 900 614.6 n/a 300 n/a")

    def test_new_lines_give_the_longest_pauses_and_median_phases(self):
        rows = [(1, 800, 9000, 2100, 700, 30), (2, 1200, 3000, 2900, 1100, 60),
                (3, 1000, 4000, 1800, 900, 20), (4, 2000, 5000, 5100, 1900, 80)]
        lines = [NEW.format(id=i, bytes=10, ms=ms, pause=p, working=w, snap=s, commit=c)
                 for i, ms, p, w, s, c in rows]
        got = checkpoint_log.summary(checkpoint_log.completed(lines))
        # Medians of an even count are the lower middle value: a real one.
        self.assertEqual(got, "4 1000 2000 9.0 5.1 10 900/0/30/40/7")

    def test_skipping_and_no_lines(self):
        lines = [NEW.format(id=i, bytes=10, ms=ms, pause=10, working=5, snap=1, commit=2)
                 for i, ms in enumerate([50_000, 700, 600])]
        got = checkpoint_log.summary(checkpoint_log.completed(lines)[1:])
        self.assertEqual(got, "2 600 700 0.0 0.0 10 1/0/2/40/7")
        self.assertEqual(checkpoint_log.summary([]), "0 n/a n/a n/a n/a n/a n/a")


if __name__ == "__main__":
    unittest.main()
