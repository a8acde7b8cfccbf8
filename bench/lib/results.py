#!/usr/bin/env python3
"""Turns one bench/run's measurements into its JSON result and markdown tables.

    bench/lib/results.py RESULTS_ENV OUT_JSON

RESULTS_ENV holds `name=value` lines written by bench/run (some values are
JSON objects printed by the tools). Every ratio is computed from figures of
this one bench/run (medians of its runs). Prints the markdown tables for docs/benchmarks.md on stdout.
"""

import json
import re
import statistics
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


def run_figures(v, tag, events):
    """One catch-up run: times from process start to its last Redis data
    write and to its exit, CPU, memory, outputs."""
    start = int(v[f"run_{tag}_start_ms"])
    exit_ms = int(v[f"run_{tag}_exit_ms"]) - start
    lw = v[f"run_{tag}_last_write_json"] or {}
    last_ms = lw["last_write_ms"] - start if lw.get("last_write_ms") else None
    cpu = num(v[f"run_{tag}_cpu_s"])
    run = {
        "run": tag,
        "round": int(v[f"run_{tag}_round"]),
        "to_last_write_s": last_ms / 1000.0 if last_ms is not None else None,
        "to_exit_s": exit_ms / 1000.0,
        "events_per_s": rate(events, last_ms),
        "events_per_s_to_exit": rate(events, exit_ms),
        "cpu_s": cpu,
        "cpu_us_per_event": round(cpu * 1e6 / events, 2) if events else None,
        "cpu_to_last_write_s": lw.get("cpu_to_last_write_s"),
        "peak_rss_mib": int(v[f"run_{tag}_rss_mib"]),
        "redis_server_cpu_s": num(v.get(f"run_{tag}_redis_cpu_s")),
        "redis_rewrites_started": int(v.get(f"run_{tag}_redis_forks") or 0),
        "redis_data_writes": lw.get("data_writes"),
        "interest_tag_messages": int(v.get(f"run_{tag}_interest_tag_messages") or 0),
        "dead_letters": int(v.get(f"run_{tag}_dead_letters") or 0),
    }
    if v.get(f"run_{tag}_checkpoints"):
        run["completed_checkpoints"] = int(v[f"run_{tag}_checkpoints"])
    if v.get(f"run_{tag}_job_json"):
        run["job_report"] = v[f"run_{tag}_job_json"]
    if v.get(f"run_{tag}_compare_json"):
        run["compare_with_reference"] = v[f"run_{tag}_compare_json"]
    return run


def summary(values):
    """Median, min and max of the figures that are there."""
    values = sorted(x for x in values if x is not None)
    if not values:
        return None
    return {"median": statistics.median(values), "min": values[0], "max": values[-1]}


def catchup(v, events):
    """Every run, and per system the median, min and max of each figure."""
    tags = [k[len("run_"):-len("_system")] for k in v if k.startswith("run_") and k.endswith("_system")]
    systems = {}
    for tag in tags:
        systems.setdefault(v[f"run_{tag}_system"], []).append(run_figures(v, tag, events))
    out = {"reference_run": v.get("reference_run"), "order": v.get("systems", "").split(","),
           "dead_letters_distinct": int(v["dead_letters_distinct"]) if v.get("dead_letters_distinct") else None,
           "dead_letters_not_in_every_run": int(v["dead_letters_mismatched"])
           if v.get("dead_letters_mismatched") else None,
           "systems": {}}
    for name, runs in systems.items():
        runs.sort(key=lambda r: r["round"])
        figures = ("events_per_s", "events_per_s_to_exit", "to_last_write_s", "to_exit_s",
                   "cpu_us_per_event", "cpu_s", "peak_rss_mib", "redis_server_cpu_s")
        out["systems"][name] = {
            "runs": runs,
            **{f: summary(r[f] for r in runs) for f in figures},
        }
    ours = out["systems"].get("ours")
    for name, s in out["systems"].items():
        if ours and name != "ours" and s["events_per_s"] and ours["events_per_s"]:
            # For ours-boards (ours with the leaderboards on) the same
            # ratios are the leaderboards' cost.
            s["ours_over_this_events_per_s"] = round(
                ours["events_per_s"]["median"] / s["events_per_s"]["median"], 2)
            s["this_over_ours_cpu_per_event"] = round(
                s["cpu_us_per_event"]["median"] / ours["cpu_us_per_event"]["median"], 2)
    return out


def spread(s, fmt="{:,.0f}"):
    if not s:
        return "n/a"
    return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}–{fmt.format(s['max'])})"


def print_table(out):
    """The table at the top of docs/benchmarks.md."""
    c = out.get("catchup")
    if not c:
        return
    lat = {r["target_events_per_s"]: r for r in out.get("latency", {}).get("rates", [])}
    p99 = (lat.get(50000, {}).get("probe") or {}).get("p99_ms")
    runs = max(len(s["runs"]) for s in c["systems"].values())
    print(f"Catch-up of {out['backlog']['events']:,} events, median (min–max) of {runs} runs each:\n")
    print("| system | events/s to last Redis write | events/s to exit | CPU µs/event | peak RSS (MiB) | "
          "p99 latency at 50k events/s (ms) | ours ÷ this, events/s | this ÷ ours, CPU/event |")
    print("|---|---|---|---|---|---|---|---|")
    for name, key in (("raw consume ceiling (bench/ceiling)", "io_ceiling"),
                      ("parse ceiling (bench/ceiling --parse)", "parse_ceiling")):
        if key in out:
            print(f"| {name} | {out[key]['events_per_s']:,} | | | | | | |")
    for name, s in c["systems"].items():
        latency = (f"{p99:,}" if p99 is not None else "n/a") if name == "ours" else "not measured"
        print(f"| {name} | {spread(s['events_per_s'])} | {spread(s['events_per_s_to_exit'])} | "
              f"{spread(s['cpu_us_per_event'], '{:,.1f}')} | {spread(s['peak_rss_mib'])} | {latency} | "
              f"{s.get('ours_over_this_events_per_s', '')} | {s.get('this_over_ours_cpu_per_event', '')} |")
    print_targets(c["systems"])
    compared = [r["compare_with_reference"] for s in c["systems"].values() for r in s["runs"]
                if "compare_with_reference" in r]
    if compared:
        print(f"\ncross-check: {len(compared)} runs compared with the reference run "
              f"{c['reference_run']}, {compared[0]['keys_compared']:,} keys each, "
              f"{sum(x['differences'] for x in compared)} differences")


def print_targets(systems):
    """Issue #17's targets: ours at least 5x the best Flink variant and Kafka
    Streams in median events/s, and at least 5x less CPU per event than the
    best of them."""
    def best(names, key, pick):
        found = [(systems[n][key]["median"], n) for n in names if n in systems and systems[n][key]]
        return pick(found) if found else None
    ours = systems.get("ours")
    if not ours or not ours["events_per_s"]:
        return
    lines = []
    flink = best([n for n in systems if n.startswith("flink")], "events_per_s", max)
    for label, peer in (("the best Flink variant", flink),
                        ("Kafka Streams", best(["kstreams"], "events_per_s", max))):
        if peer:
            r = ours["events_per_s"]["median"] / peer[0]
            lines.append(f"ours ÷ {label} ({peer[1]}) = {r:.2f} events/s: target 5, "
                         f"{'met' if r >= 5 else 'MISSED'}")
    peers = [n for n in systems if not n.startswith("ours")]
    cpu = best(peers, "cpu_us_per_event", min)
    if cpu:
        r = cpu[0] / ours["cpu_us_per_event"]["median"]
        lines.append(f"best peer's CPU per event ({cpu[1]}) ÷ ours = {r:.2f}: target 5, "
                     f"{'met' if r >= 5 else 'MISSED'}")
    boards = systems.get("ours-boards")
    if boards and boards["events_per_s"] and boards["cpu_us_per_event"]:
        cpu = boards["cpu_us_per_event"]["median"] - ours["cpu_us_per_event"]["median"]
        rss = boards["peak_rss_mib"]["median"] - ours["peak_rss_mib"]["median"]
        speed = boards["events_per_s"]["median"] / ours["events_per_s"]["median"]
        lines.append(f"the leaderboards (ours-boards ÷ ours) cost {cpu:+.2f} µs CPU per event, "
                     f"{rss:+,.0f} MiB peak RSS, and run at {speed:.2f}× the events/s")
    print("\n" + "; ".join(lines))


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
            "kafka_streams": v.get("kafka_streams"),
            "kafka_topics_at_start": int(v["kafka_topics_at_start"])
            if v.get("kafka_topics_at_start") else None,
            "loadavg_at_start": v.get("loadavg_at_start"),
            "jvm_heap": v.get("jvm_heap"),
            "workers": int(v.get("workers") or 3),
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
    for what in ("io", "parse"):
        c = v.get(f"{what}_ceiling_json")
        if c:
            out[f"{what}_ceiling"] = {
                "events_per_s": round(c["events_per_sec"]),
                "seconds": c["seconds"],
                "messages": c["messages"],
                "invalid": c.get("invalid"),
                "bytes": c["bytes"],
            }
    if any(k.startswith("run_") for k in v):
        out["catchup"] = catchup(v, events)
    rates = sorted(int(m.group(1)) for m in map(re.compile(r"latency_(\d+)_json$").match, v) if m)
    if rates:
        out["latency"] = latency(v, rates)
    if "ckpt_count" in v:
        out["checkpoints"] = checkpoints(v)
    with open(sys.argv[2], "w") as fh:
        json.dump(out, fh, indent=2)
        fh.write("\n")

    m = out["machine"]
    print(f"\nrun {out['run']}: {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, "
          f"{m['rustc']}, {m['java']}, Kafka {m['kafka']}, Flink {m['flink']} "
          f"(flink-connector-kafka {m['flink_connector_kafka']}), Kafka Streams {m['kafka_streams']}; "
          f"load average at start "
          f"{m['loadavg_at_start']}")
    print(f"backlog: {events:,} events; command: {out['command']}\n")
    print_table(out)
    if "latency" in out:
        print_latency(out["latency"])
    if "checkpoints" in out:
        print_checkpoints(out["checkpoints"])
    print(f"\nresults: {sys.argv[2]}")


if __name__ == "__main__":
    main()
