"""Summarises the job's "checkpoint completed" log lines (bench/lib/checkpoints.sh).

Each line carries key=value fields (see dataflow/src/checkpointing/sealer.rs):
bytes, duration_ms, longest_pause_us, longest_working_pause_us and the
slowest worker's phases (snapshot_ms, queued_ms, commit_ms, files_ms,
outputs_ms). The summary is one line of shell words, for `read`:

    count median_ms max_ms pause_ms working_pause_ms max_bytes phases

where pause_ms and working_pause_ms are the longest of all (ms, one
decimal) and phases is the median of each phase, as
snapshot/queued/commit/files/outputs (ms). "n/a" where no line has a field.

usage: checkpoint_log.py LOG [SKIP [COUNT]]
(the checkpoints after the first SKIP, at most COUNT of them)
"""

import re
import statistics
import sys

FIELD = re.compile(r"\b([a-z_]+)=([0-9]+)\b")
PHASES = ("snapshot_ms", "queued_ms", "commit_ms", "files_ms", "outputs_ms")


def completed(lines):
    """The fields of each "checkpoint completed" line, in order."""
    return [
        {k: int(v) for k, v in FIELD.findall(line)}
        for line in lines
        if "checkpoint completed" in line
    ]


def summary(checkpoints):
    """The summary words (see the module docs)."""
    if not checkpoints:
        return "0 n/a n/a n/a n/a n/a n/a"

    def longest_ms(key):
        values = [c[key] for c in checkpoints if key in c]
        return f"{max(values) / 1000:.1f}" if values else "n/a"

    durations = [c["duration_ms"] for c in checkpoints]
    if all(p in c for p in PHASES for c in checkpoints):
        phases = "/".join(
            str(int(statistics.median_low([c[p] for c in checkpoints]))) for p in PHASES
        )
    else:
        phases = "n/a"
    return " ".join([
        str(len(checkpoints)),
        str(statistics.median_low(durations)),
        str(max(durations)),
        longest_ms("longest_pause_us"),
        longest_ms("longest_working_pause_us"),
        str(max(c.get("bytes", 0) for c in checkpoints)),
        phases,
    ])


def main(argv):
    skip = int(argv[2]) if len(argv) > 2 and argv[2] else 0
    count = int(argv[3]) if len(argv) > 3 and argv[3] else None
    with open(argv[1], encoding="utf-8", errors="replace") as log:
        checkpoints = completed(log)[skip:]
    print(summary(checkpoints[:count] if count is not None else checkpoints))


if __name__ == "__main__":
    main(sys.argv)
