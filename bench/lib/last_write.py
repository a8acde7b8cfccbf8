#!/usr/bin/env python3
"""When did a job last write its results to Redis? Observed from outside,
the same way for every job.

    bench/lib/last_write.py --port PORT --pid PID

Polls the Redis server on PORT (`INFO commandstats`, every 20 ms) until
process PID has exited, and notes the wall-clock time at which the number of
data writes (HSET, SADD, RPUSH: every result key is written by one of them;
bookkeeping such as tagflow's checkpoint marker and sentinel checks is not
counted) last grew. At that moment it also reads the CPU time of PID and its
children from /proc, so the CPU figure matches the wall-clock one. Prints
one JSON line: last_write_ms (Unix ms, or null), data_writes, and
cpu_to_last_write_s. The 20 ms poll bounds the error of the time.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_redis import Redis  # noqa: E402

DATA_COMMANDS = ("cmdstat_hset:", "cmdstat_sadd:", "cmdstat_rpush:")
TICKS = os.sysconf("SC_CLK_TCK")


def data_writes(r):
    info = r.call("INFO", "commandstats").decode()
    total = 0
    for line in info.splitlines():
        if line.startswith(DATA_COMMANDS):
            calls = line.split(":", 1)[1].split(",", 1)[0]
            total += int(calls.split("=", 1)[1])
    return total


def descendants(pid):
    """PID and every process below it (the job under /usr/bin/time)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def cpu_s(pid):
    """utime + stime (and of reaped children) of PID's tree, from /proc/<pid>/stat."""
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except OSError:
            pass
    return total / TICKS


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--interval", type=float, default=0.02)
    args = ap.parse_args()
    r = Redis("127.0.0.1", args.port, 0)
    writes = data_writes(r)
    start_writes, last_ms, cpu_at_last = writes, None, None
    running = True
    while running:
        running = alive(args.pid)  # one more poll after the exit
        n = data_writes(r)
        if n != writes:
            writes = n
            last_ms = time.time_ns() // 1_000_000
            if running:
                cpu_at_last = cpu_s(args.pid)
        if running:
            time.sleep(args.interval)
    print(json.dumps({"last_write_ms": last_ms, "data_writes": writes - start_writes,
                      "cpu_to_last_write_s": cpu_at_last}))


if __name__ == "__main__":
    main()
