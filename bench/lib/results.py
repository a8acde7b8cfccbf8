#!/usr/bin/env python3
"""Turns one bench/run's measurements into its JSON result and markdown tables.

    bench/lib/results.py RESULTS_ENV OUT_JSON

RESULTS_ENV holds `name=value` lines written by bench/run (some values are
JSON objects printed by the tools). Every ratio is computed from figures of
this one run. Prints the markdown tables for docs/benchmarks.md on stdout.
"""

import json
import re
import sys

from results_steps import checkpoints, latency, print_checkpoints, print_latency


def load(path):
    values = {}
    with open(path) as f:
        for line in f:
            name, _, value = line.rstrip("\n").partition("=")
            if name.endswith("_json"):
                value = json.loads(value) if value else None
            values[name] = value
    return values


def num(v):
    return None if v in (None, "") else float(v)


def rate(events, ms):
    return round(events / (ms / 1000.0)) if ms else None


def ratio(a, b):
    return round(a / b, 2) if a and b else None


def main():
    v = load(sys.argv[1])
    events = int(v["events"])
    out = {
        "run": v["run"],
        "command": v["command"],
        "git_commit": v["git_commit"],
        "dataflow_sha256_prefix": v.get("dataflow_sha256"),
        "machine": {
            "cores": int(v["machine_cores"]),
            "memory_gib": int(v["machine_mem_gib"]),
            "kernel": v["machine_kernel"],
            "os": v["machine_os"],
            "rustc": v["rustc"],
            "java": v["java"],
            "kafka": v["kafka"],
            "flink": v["flink"],
            "flink_connector_kafka": v["flink_kafka"],
            "kafka_topics_at_start": int(v["kafka_topics_at_start"])
            if v.get("kafka_topics_at_start") else None,
        },
        "backlog": {
            "events": events,
            "topic_prefix": v.get("prefix"),
            "seed": int(v["seed"]),
            "users": int(v["users"]),
            "products": int(v["products"]),
            "produce_s": num(v.get("produce_s")),
        },
        "steps": v["steps"].split(","),
    }
    c = v.get("ceiling_json")
    if c:
        out["ceiling"] = {
            "events_per_s": round(c["events_per_sec"]),
            "seconds": c["seconds"],
            "messages": c["messages"],
            "bytes": c["bytes"],
        }
    if "ours_ms" in v:
        ms = int(v["ours_ms"])
        out["ours"] = {
            "events_per_s": rate(events, ms),
            "catch_up_s": ms / 1000.0,
            "peak_rss_mib": int(v["ours_rss_mib"]),
            "cpu_s": num(v["ours_cpu_s"]),
            "completed_checkpoints": int(v.get("ours_checkpoints") or 0),
            "redis_server_cpu_s": num(v.get("ours_redis_cpu_s")),
            "redis_rewrites_started": int(v["ours_redis_forks"]) if v.get("ours_redis_forks") else None,
            "binary_sha256_prefix": v.get("dataflow_sha256"),
        }
    f = v.get("flink_json")
    if f:
        start = int(v["flink_start_ms"])
        catch_up = f["last_redis_write_ms"] - start
        out["flink"] = {
            "events_per_s": rate(events, catch_up),
            "catch_up_s": catch_up / 1000.0,
            "process_wall_s": int(v["flink_wall_ms"]) / 1000.0,
            "startup_s": (f["submit_ms"] - start) / 1000.0,
            "job_net_runtime_s": f["net_runtime_ms"] / 1000.0,
            "events_processed": f["events"],
            "completed_checkpoints": int(v.get("flink_checkpoints") or 0),
            "redis_server_cpu_s": num(v.get("flink_redis_cpu_s")),
            "redis_rewrites_started": int(v["flink_redis_forks"]) if v.get("flink_redis_forks") else None,
            "peak_rss_mib": int(v["flink_rss_mib"]),
            "cpu_s": num(v["flink_cpu_s"]),
        }
    if v.get("compare_json"):
        out["compare"] = v["compare_json"]
    rates = sorted(int(m.group(1)) for m in map(re.compile(r"latency_(\d+)_json$").match, v) if m)
    if rates:
        out["latency"] = latency(v, rates)
    if "ckpt_count" in v:
        out["checkpoints"] = checkpoints(v)
    ours = out.get("ours", {}).get("events_per_s")
    out["ratios"] = {
        "ours_over_flink": ratio(ours, out.get("flink", {}).get("events_per_s")),
        "ours_over_ceiling": ratio(ours, out.get("ceiling", {}).get("events_per_s")),
        "flink_over_ceiling": ratio(out.get("flink", {}).get("events_per_s"),
                                    out.get("ceiling", {}).get("events_per_s")),
    }
    with open(sys.argv[2], "w") as fh:
        json.dump(out, fh, indent=2)
        fh.write("\n")

    def cell(section, key, fmt="{:,}"):
        value = out.get(section, {}).get(key)
        return "n/a" if value is None else fmt.format(value)

    m = out["machine"]
    print(f"\nrun {out['run']}: {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, "
          f"{m['rustc']}, {m['java']}, Kafka {m['kafka']}, Flink {m['flink']} "
          f"(flink-connector-kafka {m['flink_connector_kafka']})")
    print(f"backlog: {events:,} events; command: {out['command']}\n")
    if "latency" in out:
        print_latency(out["latency"])
    if "checkpoints" in out:
        print_checkpoints(out["checkpoints"])
    if events == 0:
        print(f"\nresults: {sys.argv[2]}")
        return
    print("| | events/s | catch-up (s) | peak RSS (MiB) | CPU (s) | Redis server CPU (s) | "
          "Redis AOF rewrites started |")
    print("|---|---|---|---|---|---|---|")
    print(f"| raw consume ceiling | {cell('ceiling', 'events_per_s')} | {cell('ceiling', 'seconds')} | | | | |")
    for name, key in (("tagflow (ours)", "ours"), ("Flink", "flink")):
        print(f"| {name} | {cell(key, 'events_per_s')} | {cell(key, 'catch_up_s')} | "
              f"{cell(key, 'peak_rss_mib')} | {cell(key, 'cpu_s')} | {cell(key, 'redis_server_cpu_s')} | "
              f"{cell(key, 'redis_rewrites_started')} |")
    r = out["ratios"]
    print(f"\nours / Flink = {r['ours_over_flink']}, ours / ceiling = {r['ours_over_ceiling']}, "
          f"Flink / ceiling = {r['flink_over_ceiling']}")
    if "compare" in out:
        cmp = out["compare"]
        print(f"cross-check: {cmp['keys_compared']:,} keys compared, "
              f"{cmp['shared_hash_fields_compared']:,} shared-hash fields, "
              f"{cmp['differences']} differences, equal = {cmp['equal']}")
    print(f"\nresults: {sys.argv[2]}")


if __name__ == "__main__":
    main()
